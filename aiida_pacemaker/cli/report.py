"""``aiida-pacemaker report`` and ``plot``: the learning curve of an active-learning run, as a table
and as figures.
"""

from __future__ import annotations

import pathlib

import click
from aiida import orm
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.tools import provenance

from .utils import echo_table, format_number, load_node_of, one_line_errors

__all__ = ('LEARNING_CURVE_HEADERS', 'cmd_plot', 'cmd_report', 'echo_learning_curve', 'learning_curve_rows')

_WORKCHAIN = 'PaceActiveLearningWorkChain'

LEARNING_CURVE_HEADERS = (
    'cycle',
    'structures',
    'train E RMSE\n(meV/atom)',
    'train F RMSE\n(meV/Å)',
    'test E RMSE\n(meV/atom)',
    'test F RMSE\n(meV/Å)',
    'candidates',
    'max gamma',
    'selected',
    'labelled',
)


def learning_curve_rows(curve: list[dict]) -> list[list[str]]:
    """The table rows of a learning curve (see :func:`aiida_pacemaker.tools.provenance.learning_curve`)."""
    return [
        [
            str(row['cycle']),
            str(row['num_structures']),
            format_number(row.get('train_energy_rmse')),
            format_number(row.get('train_force_rmse'), 1),
            format_number(row.get('test_energy_rmse')),
            format_number(row.get('test_force_rmse'), 1),
            format_number(row.get('num_candidates')),
            format_number(row.get('max_gamma')),
            format_number(row.get('num_selected')),
            format_number(row.get('num_labelled')),
        ]
        for row in curve
    ]


def echo_learning_curve(workchain: orm.WorkflowNode) -> None:
    """Print the learning curve of ``workchain`` as a table."""
    curve = provenance.learning_curve(workchain)
    if not curve:
        echo.echo_report(f'{workchain.process_label}<{workchain.pk}> has finished no cycle yet')
        return
    echo_table(learning_curve_rows(curve), LEARNING_CURVE_HEADERS)


def _load_workchain(identifier: str) -> orm.WorkflowNode:
    node = load_node_of(identifier, orm.WorkflowNode)
    if node.process_label != _WORKCHAIN:
        echo.echo_critical(f'node {identifier} is a {node.process_label}, not a {_WORKCHAIN}')
    return node


def _final_potential(workchain: orm.WorkflowNode) -> PacePotentialData | None:
    """The ``potential`` output, or the potential of the last finished cycle of a running workchain."""
    if 'potential' in workchain.outputs:
        return workchain.outputs.potential
    per_cycle = dict(workchain.outputs.potentials) if 'potentials' in workchain.outputs else {}
    if not per_cycle:
        return None
    return per_cycle[max(per_cycle, key=lambda key: int(key.split('_')[-1]))]


@click.command('report')
@click.argument('identifier', metavar='PK')
@decorators.with_dbenv()
@one_line_errors
def cmd_report(identifier: str) -> None:
    """The learning curve of the PaceActiveLearningWorkChain PK: per cycle the training-set size, the
    train and test RMSE, the candidates' max extrapolation grade and how many were selected and labelled.
    """
    workchain = _load_workchain(identifier)
    state = workchain.process_state.value if workchain.process_state else 'unknown'
    status = f', exit status {workchain.exit_status}' if workchain.is_finished else ''
    click.echo(f'{workchain.process_label}<{workchain.pk}>: {state}{status}')
    echo_learning_curve(workchain)
    if 'potential' in workchain.outputs:
        potential = workchain.outputs.potential
        click.echo(f'final potential: PacePotentialData<{potential.pk}>')


@click.command('plot')
@click.argument('identifier', metavar='PK')
@click.option(
    '-o',
    '--output',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path('.'),
    show_default=True,
    help='Directory for the PNG files.',
)
@decorators.with_dbenv()
@one_line_errors
def cmd_plot(identifier: str, output: pathlib.Path) -> None:
    """PNG figures of the PaceActiveLearningWorkChain or PacePotentialData PK: learning curve, parity
    plots of the final potential on its training (and test) set, and the candidates' extrapolation grades.
    """
    from aiida_pacemaker.tools import plots

    node = load_node_of(identifier, orm.WorkflowNode, PacePotentialData)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    potential = node
    if isinstance(node, orm.WorkflowNode):
        workchain = _load_workchain(identifier)
        curve = provenance.learning_curve(workchain)
        if not curve:
            echo.echo_critical(
                f'{workchain.process_label}<{workchain.pk}> has finished no cycle yet: nothing to plot'
            )
        written.append(plots.plot_learning_curve(curve, output / 'learning_curve.png'))
        gamma_max = workchain.inputs.gamma_max.value if 'gamma_max' in workchain.inputs else None
        written.append(
            plots.plot_gamma_histogram(
                curve, output / 'gamma_histogram.png', workchain.inputs.gamma_select.value, gamma_max
            )
        )
        potential = _final_potential(workchain)
    if potential is not None:
        echo.echo_report(f'evaluating PacePotentialData<{potential.pk}> on its training and test sets')
        data = {'train': provenance.training_set_of(potential)}
        test_set = provenance.test_set_of(potential)
        if test_set is not None:
            data['test'] = test_set
        predictions = {name: plots.evaluate_potential(potential, item) for name, item in data.items()}
        title = f'PacePotentialData<{potential.pk}> ({" ".join(potential.elements)})'
        written.append(plots.plot_parity(predictions, output / 'parity.png', title=title))
    for path in written:
        echo.echo_success(f'wrote {path}')
