"""Calcfunctions, one concept a module: training-set operations, baselines, the learning curve.

Each one is a node in the provenance graph, so every training set shows where it came from:
which earlier set, which labelled structures, which baseline. The ASE labeller lives with the
other labellers in :mod:`aiida_pacemaker.labellers`.
"""

from .baselines import subtract_baseline_from_training_set
from .learning_curve import (
    EXTRAPOLATING,
    LEARNING_CURVE_METRICS,
    build_learning_curve,
    learning_curve_row,
    num_extrapolating,
)
from .training_set import extend_training_set, remove_structures

__all__ = (
    'EXTRAPOLATING',
    'LEARNING_CURVE_METRICS',
    'build_learning_curve',
    'extend_training_set',
    'learning_curve_row',
    'num_extrapolating',
    'remove_structures',
    'subtract_baseline_from_training_set',
)
