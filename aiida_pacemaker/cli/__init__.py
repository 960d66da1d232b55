"""The ``aiida-pacemaker`` command line (and ``verdi data pacemaker``, in :mod:`.data`)."""

import click
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.params import options, types

from .dataset import cmd_dataset
from .potential import cmd_potential
from .provenance import cmd_provenance
from .recall import cmd_recall
from .report import cmd_plot, cmd_report
from .run import cmd_run
from .setup_cmd import cmd_setup
from .utilities import cmd_utilities
from .validate import cmd_validate

__all__ = ('cmd_root',)


@click.group(
    'aiida-pacemaker', cls=VerdiCommandGroup, context_settings={'help_option_names': ['-h', '--help']}
)
@options.PROFILE(type=types.ProfileParamType(load_profile=True), expose_value=False)
def cmd_root() -> None:
    """Fit and actively learn ACE potentials with pacemaker, every step in AiiDA's provenance graph."""


for _command in (
    cmd_setup,
    cmd_run,
    cmd_dataset,
    cmd_potential,
    cmd_report,
    cmd_plot,
    cmd_provenance,
    cmd_recall,
    cmd_utilities,
    cmd_validate,
):
    cmd_root.add_command(_command)
