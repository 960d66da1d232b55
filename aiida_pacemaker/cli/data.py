"""``verdi data pacemaker``: show and export training sets, potentials and active sets."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.utils import decorators

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData

from . import nodes
from .utils import load_node_of, one_line_errors

__all__ = ('data_pacemaker',)

_TYPES = (TrainingSetData, PacePotentialData, ActiveSetData)


@click.group('pacemaker')
def data_pacemaker() -> None:
    """Show and export pacemaker training sets, potentials and active sets."""


@data_pacemaker.command('show')
@click.argument('identifier', metavar='PK')
@decorators.with_dbenv()
@one_line_errors
def data_show(identifier: str) -> None:
    """Summarise the TrainingSetData, PacePotentialData or ActiveSetData PK."""
    node = load_node_of(identifier, *_TYPES)
    if isinstance(node, TrainingSetData):
        nodes.show_training_set(node)
    elif isinstance(node, PacePotentialData):
        nodes.show_potential(node)
    else:
        nodes.show_active_set(node)


@data_pacemaker.command('export')
@click.argument('identifier', metavar='PK')
@click.argument('path', type=click.Path(path_type=pathlib.Path))
@nodes.click_force_option
@decorators.with_dbenv()
@one_line_errors
def data_export(identifier: str, path: pathlib.Path, force: bool) -> None:
    """Write the node PK to PATH: a training set to a file (.extxyz or .pckl.gzip), a potential into a
    directory (.yaml, .yace, .asi, lammps.in), an active set to an .asi file.
    """
    node = load_node_of(identifier, *_TYPES)
    if isinstance(node, PacePotentialData):
        nodes.export_potential(node, path, force)
        return
    nodes.check_output_path(path, force)
    if isinstance(node, TrainingSetData):
        nodes.export_training_set(node, path)
    else:
        nodes.export_active_set(node, path)
