"""``aiida-pacemaker provenance``: where a potential's data came from, and what a structure trained."""

from __future__ import annotations

import typing as t

import click
from aiida import orm
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.tools import provenance

from .params import ANY_NODE, require, require_active_learning
from .utils import echo_table, one_line_errors

__all__ = ('cmd_provenance',)


def _process(node: orm.ProcessNode | None) -> str:
    return f'{node.process_label}<{node.pk}>' if node is not None else '-'


def _echo_origins(training_set: TrainingSetData) -> None:
    origins = provenance.structure_origins(training_set)
    rows = [
        (
            origin.index,
            origin.name,
            f'StructureData<{origin.structure.pk}>' if origin.structure is not None else '-',
            _process(origin.labeller),
            origin.cycle if origin.cycle is not None else '-',
        )
        for origin in origins
    ]
    echo_table(rows, headers=('#', 'name', 'structure', 'labelled by', 'added in cycle'))


@click.command('provenance')
@click.argument('node', metavar='PK', type=ANY_NODE)
@decorators.with_dbenv()
@one_line_errors
def cmd_provenance(node: orm.Node) -> None:
    """For a potential, a training set or an active-learning run (its latest potential): each training
    structure, the process that labelled it and the cycle that added it. For a StructureData: every
    potential it helped train.
    """
    require(node, PacePotentialData, TrainingSetData, orm.StructureData, orm.WorkflowNode)
    if isinstance(node, orm.WorkflowNode):
        from .report import final_potential

        potential = final_potential(require_active_learning(node))
        if potential is None:
            echo.echo_critical(f'{node.process_label}<{node.pk}> has trained no potential yet')
        click.echo(f'{node.process_label}<{node.pk}>: its latest potential')
        node = potential
    if isinstance(node, orm.StructureData):
        potentials = provenance.potentials_trained_with(node)
        click.echo(f'StructureData<{node.pk}> ({node.get_formula()}) trained {len(potentials)} potential(s)')
        rows = []
        for potential in potentials:
            training_set = provenance.training_set_of(potential)
            calculation = potential.creator
            rows.append(
                (
                    f'PacePotentialData<{potential.pk}>',
                    f'TrainingSetData<{training_set.pk}> ({training_set.num_structures})',
                    _process(calculation),
                )
            )
        if rows:
            echo_table(rows, headers=('potential', 'training set (structures)', 'fitted by'))
        return
    if isinstance(node, PacePotentialData):
        training_set = provenance.training_set_of(node)
        click.echo(
            f'PacePotentialData<{node.pk}> was fitted by {_process(node.creator)} on '
            f'TrainingSetData<{training_set.pk}> ({training_set.num_structures} structures)'
        )
    else:
        training_set = t.cast(TrainingSetData, node)
        click.echo(f'TrainingSetData<{training_set.pk}> ({training_set.num_structures} structures)')
    _echo_origins(training_set)
