"""``aiida-pacemaker potential``: export and show potentials."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.utils import decorators

from aiida_pacemaker.data.potential import PacePotentialData

from . import nodes
from .params import POTENTIAL
from .utils import one_line_errors

__all__ = ('cmd_potential',)


@click.group('potential', cls=VerdiCommandGroup)
def cmd_potential() -> None:
    """Export and inspect fitted potentials (PacePotentialData)."""


@cmd_potential.command('export')
@click.argument('potential', metavar='PK', type=POTENTIAL)
@click.argument('directory', metavar='DIR', type=click.Path(file_okay=False, path_type=pathlib.Path))
@nodes.click_force_option
@decorators.with_dbenv()
@one_line_errors
def potential_export(potential: PacePotentialData, directory: pathlib.Path, force: bool) -> None:
    """Write potential.yaml, potential.yace, potential.asi (its active set, if one exists) and lammps.in
    (pair_style/pair_coeff lines) into DIR.
    """
    nodes.export_potential(potential, directory, force)


@cmd_potential.command('show')
@click.argument('potential', metavar='PK', type=POTENTIAL)
@decorators.with_dbenv()
@one_line_errors
def potential_show(potential: PacePotentialData) -> None:
    """Elements, cutoff (Å), basis size, baseline, training set, errors and active set of the potential PK."""
    nodes.show_potential(potential)
