"""``aiida-pacemaker dataset``: import, export and show training sets."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.tools import io

from . import nodes
from .params import TRAINING_SET
from .utils import one_line_errors

__all__ = ('cmd_dataset',)


@click.group('dataset', cls=VerdiCommandGroup)
def cmd_dataset() -> None:
    """Import, export and inspect training sets (TrainingSetData)."""


@cmd_dataset.command('import')
@click.argument(
    'files', nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path)
)
@click.option('-L', '--label', default=None, help='Label of the new node.')
@click.option(
    '--trust-pickle',
    is_flag=True,
    help='Read pacemaker pickles (*.pckl.gzip, *.pkl.gz). Unpickling runs code from the file: '
    'only for files you made or trust.',
)
@decorators.with_dbenv()
@one_line_errors
def dataset_import(files: tuple[pathlib.Path, ...], label: str | None, trust_pickle: bool) -> None:
    """Store the labelled structures of FILES (extxyz or any ASE format with energy and forces) as one
    TrainingSetData and print its PK.
    """
    training_set = io.training_set_from_files(files, trust_pickle=trust_pickle)
    if label:
        training_set.label = label
    training_set.store()
    echo.echo_success(
        f'stored TrainingSetData<{training_set.pk}>: {training_set.num_structures} structures, '
        f'{training_set.num_atoms} atoms, elements {" ".join(training_set.elements)}'
    )
    click.echo(training_set.pk)


@cmd_dataset.command('export')
@click.argument('training_set', metavar='PK', type=TRAINING_SET)
@click.argument('path', metavar='FILE', type=click.Path(dir_okay=False, path_type=pathlib.Path))
@nodes.click_force_option
@decorators.with_dbenv()
@one_line_errors
def dataset_export(training_set: TrainingSetData, path: pathlib.Path, force: bool) -> None:
    """Write the training set PK to FILE: extended XYZ (.extxyz, .xyz) or pacemaker's pickle (.pckl.gzip)."""
    nodes.check_output_path(path, force)
    nodes.export_training_set(training_set, path)


@cmd_dataset.command('show')
@click.argument('training_set', metavar='PK', type=TRAINING_SET)
@decorators.with_dbenv()
@one_line_errors
def dataset_show(training_set: TrainingSetData) -> None:
    """Counts, elements, energy range (eV/atom), max |force| (eV/Å) of the training set PK."""
    nodes.show_training_set(training_set)
