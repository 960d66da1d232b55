"""Data types: training sets, candidate pools, potentials and active sets."""

from .active_set import ActiveSetData
from .potential import PacePotentialData
from .structure_pool import StructurePoolData
from .training_set import TrainingSetData

__all__ = ('ActiveSetData', 'PacePotentialData', 'StructurePoolData', 'TrainingSetData')
