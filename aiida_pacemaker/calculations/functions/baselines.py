"""Delta learning as a calcfunction: the residual training set of an additive baseline."""

from __future__ import annotations

from aiida import orm
from aiida.engine import calcfunction

from aiida_pacemaker.data.training_set import TrainingSetData

__all__ = ('subtract_baseline_from_training_set',)


@calcfunction
def subtract_baseline_from_training_set(training_set: TrainingSetData, baseline: orm.Dict) -> TrainingSetData:
    """Return the residual training set: labels minus the baseline (delta learning).

    :param baseline: parameters of an additive baseline (see :mod:`aiida_pacemaker.baselines`).
    """
    from aiida_pacemaker.baselines import baseline_from_parameters, subtract_baseline

    model = baseline_from_parameters(baseline.get_dict())
    return TrainingSetData(arrays=subtract_baseline(training_set.get_arrays(), model))
