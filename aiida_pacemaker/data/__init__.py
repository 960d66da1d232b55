"""Data types: training sets, potentials and active sets."""

from .active_set import ActiveSetData
from .potential import PacePotentialData
from .training_set import TrainingSetData

__all__ = ('ActiveSetData', 'PacePotentialData', 'TrainingSetData')
