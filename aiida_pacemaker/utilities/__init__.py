"""pacemaker's command-line utilities as aiida-shell ShellJobs, each with its provenance.

==================  =====================================================================
``pace_collect``    VASP outputs -> :class:`~aiida_pacemaker.data.training_set.TrainingSetData`
``pace_corerep``    potential + active set -> potential with an auto-tuned ZBL core repulsion
``pace_augment``    potential + training set -> ZBL-labelled compressed structures to merge
``pace_info``       potential -> its basis (functions per element and order, bonds), a Dict
``pace_timing``     potential -> evaluation time per atom (µs), a Dict
==================  =====================================================================

Each function runs the tool as a ShellJob on a code registered next to the plugin's other codes
(:func:`setup_utility_codes`) and returns a :class:`UtilityRun`: its ``outputs``, ``ok`` and a one-line
``message`` that says what was made or why nothing was.
"""

from .augment import augment_training_set
from .collect import collect_vasp
from .corerep import add_core_repulsion
from .info import potential_info, potential_timing, utility_summaries
from .jobs import UTILITIES, UtilityRun, setup_utility_codes

__all__ = (
    'UTILITIES',
    'UtilityRun',
    'add_core_repulsion',
    'augment_training_set',
    'collect_vasp',
    'potential_info',
    'potential_timing',
    'setup_utility_codes',
    'utility_summaries',
)
