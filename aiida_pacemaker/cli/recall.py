"""``aiida-pacemaker recall``: what labels computed with a wrong input reached, and sets rebuilt without them."""

from __future__ import annotations

import click
from aiida import orm
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.training_set import TrainingSetData

from .params import ANY_NODE, TRAINING_SET
from .utils import echo_table, one_line_errors

__all__ = ('cmd_recall',)


@click.command('recall')
@click.argument('node', metavar='PK', type=ANY_NODE)
@click.option(
    '--rebuild',
    'rebuild',
    metavar='TRAINING_SET',
    type=TRAINING_SET,
    default=None,
    help='Make this training set again without the recalled structures (a new node that leads back to it).',
)
@decorators.with_dbenv()
@one_line_errors
def cmd_recall(node: orm.Node, rebuild: TrainingSetData | None) -> None:
    """Recall the labels of PK: a labelling process, or a code or input node (a calculator name, a parameter
    Dict, a pseudopotential) that labelling processes used and that turned out wrong. Lists every training
    set that holds a structure labelled with it and every potential fitted on such a set; --rebuild makes
    a training set without those structures (relabel them, e.g. as the `structures` of a new run).
    """
    from aiida_pacemaker.tools.label_recall import rebuild_without, recall_labels

    try:
        recall = recall_labels(node)
    except ValueError as exception:
        echo.echo_critical(str(exception))
    click.echo(
        f'{type(node).__name__}<{node.pk}>: {len(recall.labellers)} labelling process(es) labelled '
        f'{len(recall.structures)} structure(s)'
    )
    sets = [
        (f'TrainingSetData<{ts.pk}>', ts.num_structures, len(recall.held_by(ts)))
        for ts in recall.training_sets
    ]
    if sets:
        echo_table(sets, headers=('training set', 'structures', 'recalled'))
    potentials = [
        (f'PacePotentialData<{p.pk}>', p.ctime.strftime('%Y-%m-%d %H:%M')) for p in recall.potentials
    ]
    if potentials:
        echo_table(potentials, headers=('potential fitted on them', 'made'))
    if rebuild is not None:
        try:
            rebuilt = rebuild_without(rebuild, recall)
        except ValueError as exception:
            echo.echo_critical(str(exception))
        echo.echo_success(
            f'TrainingSetData<{rebuilt.pk}>: TrainingSetData<{rebuild.pk}> without its '
            f'{rebuild.num_structures - rebuilt.num_structures} recalled structure(s), '
            f'{rebuilt.num_structures} left'
        )
