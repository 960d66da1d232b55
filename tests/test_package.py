"""The tests exercise the installed distribution, not a stray copy of the package."""

from __future__ import annotations

import importlib.metadata
import pathlib

import aiida_pacemaker

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_tests_import_the_installed_package():
    """The package the tests import is the one the installed distribution's entry points load."""
    from aiida.plugins import CalculationFactory, DataFactory, WorkflowFactory

    from aiida_pacemaker.calculations.train import PaceTrainCalculation
    from aiida_pacemaker.data.training_set import TrainingSetData
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    distribution = importlib.metadata.distribution('aiida-pacemaker')
    assert distribution.version == aiida_pacemaker.__version__
    assert CalculationFactory('pacemaker.train') is PaceTrainCalculation
    assert DataFactory('pacemaker.training_set') is TrainingSetData
    assert WorkflowFactory('pacemaker.active_learning') is PaceActiveLearningWorkChain
    # the flat layout: the package at the top of the repository is the one imported
    assert pathlib.Path(aiida_pacemaker.__file__).resolve().parent == ROOT / 'aiida_pacemaker'


def test_every_entry_point_loads():
    """Every entry point the distribution declares loads, from the package at the repository's top."""
    import sys

    entry_points = [
        entry_point
        for entry_point in importlib.metadata.distribution('aiida-pacemaker').entry_points
        if entry_point.value.startswith('aiida_pacemaker')
    ]
    assert len(entry_points) >= 15
    for entry_point in entry_points:
        assert entry_point.load() is not None, entry_point
        module = pathlib.Path(sys.modules[entry_point.module].__file__).resolve()
        assert module.is_relative_to(ROOT / 'aiida_pacemaker'), entry_point
