"""``verdi data pacemaker``: show and export training sets, potentials and active sets."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.utils import decorators

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData

from . import nodes
from .params import PACEMAKER_DATA
from .utils import one_line_errors

__all__ = ('data_pacemaker',)


@click.group('pacemaker')
def data_pacemaker() -> None:
    """Show and export pacemaker training sets, potentials and active sets."""


@data_pacemaker.command('show')
@click.argument('node', metavar='PK', type=PACEMAKER_DATA)
@decorators.with_dbenv()
@one_line_errors
def data_show(node: TrainingSetData | PacePotentialData | ActiveSetData) -> None:
    """Summarise the TrainingSetData, PacePotentialData or ActiveSetData PK."""
    if isinstance(node, TrainingSetData):
        nodes.show_training_set(node)
    elif isinstance(node, PacePotentialData):
        nodes.show_potential(node)
    else:
        nodes.show_active_set(node)


@data_pacemaker.command('export')
@click.argument('node', metavar='PK', type=PACEMAKER_DATA)
@click.argument('path', type=click.Path(path_type=pathlib.Path))
@nodes.click_force_option
@decorators.with_dbenv()
@one_line_errors
def data_export(
    node: TrainingSetData | PacePotentialData | ActiveSetData, path: pathlib.Path, force: bool
) -> None:
    """Write the node PK to PATH: a training set to a file (.extxyz or .pckl.gzip), a potential into a
    directory (.yaml, .yace, .asi, lammps.in), an active set to an .asi file.
    """
    if isinstance(node, PacePotentialData):
        nodes.export_potential(node, path, force)
        return
    nodes.check_output_path(path, force)
    if isinstance(node, TrainingSetData):
        nodes.export_training_set(node, path)
    else:
        nodes.export_active_set(node, path)
