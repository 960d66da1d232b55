"""``aiida-pacemaker report`` and ``plot``: the learning curve of an active-learning run, as a table
and as figures.
"""

from __future__ import annotations

import json
import math
import pathlib
import typing as t

import click
from aiida import orm
from aiida.cmdline.utils import decorators, echo
from aiida.common.links import LinkType

from aiida_pacemaker.calculations.functions import num_extrapolating
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.tools import provenance

from .params import ACTIVE_LEARNING, ANY_NODE, require, require_active_learning
from .utils import FIGURES_DIRECTORY, echo_table, format_number, load_node_of, one_line_errors

__all__ = ('LEARNING_CURVE_HEADERS', 'cmd_plot', 'cmd_report', 'echo_learning_curve', 'learning_curve_rows')


LEARNING_CURVE_HEADERS = (
    'cycle',
    'structures',
    'train E RMSE\n(meV/atom)',
    'train F RMSE\n(meV/Å)',
    'test E RMSE\n(meV/atom)',
    'test F RMSE\n(meV/Å)',
    'candidates',
    'extrapolating\n(gamma >= 1)',
    'max gamma',
    'selected',
    'labelled',
    'potential',
    'training set',
    'notes',
)


def learning_curve_rows(curve: list[dict[str, t.Any]]) -> list[list[str]]:
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
            format_number(num_extrapolating(row)),
            format_number(row.get('max_gamma')),
            format_number(row.get('num_selected')),
            format_number(row.get('num_labelled')),
            _pk('PacePotentialData', row.get('potential_uuid')),
            _pk('TrainingSetData', row.get('training_set_uuid')),
            '; '.join(cycle_notes(curve, index)) or '-',
        ]
        for index, row in enumerate(curve)
    ]


def _pk(kind: str, uuid: str | None) -> str:
    if not uuid:
        return '-'
    try:
        return str(orm.load_node(uuid).pk)
    except Exception:  # a node of another profile, or deleted
        return '?'


def cycle_notes(curve: list[dict[str, t.Any]], index: int) -> list[str]:
    """What a reader of the learning curve should know about cycle ``index``: a training error that rose,
    a fit that ran out of iterations or was refitted, a selection that was not labelled and why."""
    row, notes = curve[index], []
    previous = curve[index - 1] if index else None
    if previous is not None and (row.get('train_force_rmse') or 0) > (
        previous.get('train_force_rmse') or math.inf
    ):
        on_old = row.get('previous_force_rmse')
        detail = f' (on the previous structures: {on_old:.1f} meV/Å)' if on_old is not None else ''
        notes.append(f'train F RMSE rose from {previous["train_force_rmse"]:.1f}{detail}')
    if row.get('stopped_by') == 'maxiter':
        notes.append('fit stopped at maxiter, not converged')
    if row.get('refitted'):
        notes.append('fine-tuning stalled: refitted from scratch')
    if row.get('num_selected') and not row.get('num_labelled'):
        why = 'last cycle: no later fit would use them' if index == len(curve) - 1 else 'the labelling failed'
        notes.append(f'selected not labelled ({why})')
    return notes


def echo_learning_curve(workchain: orm.WorkflowNode) -> None:
    """Print the learning curve of ``workchain`` as a table."""
    curve = provenance.learning_curve(workchain)
    if not curve:
        echo.echo_report(f'{workchain.process_label}<{workchain.pk}> has finished no cycle yet')
        return
    echo_table(learning_curve_rows(curve), LEARNING_CURVE_HEADERS)


def load_active_learning(identifier: str) -> orm.WorkflowNode:
    """The `PaceActiveLearningWorkChain` ``identifier`` (PK, UUID or label); exit with one line if it is not one."""
    return require_active_learning(load_node_of(identifier))


def final_potential(workchain: orm.WorkflowNode) -> PacePotentialData | None:
    """The potential of the last finished cycle (the ``potential`` output of a finished run)."""
    return provenance.campaign_state(workchain).potential


@click.command('report')
@click.argument('node', metavar='PK', type=ACTIVE_LEARNING)
@click.option(
    '--json', 'as_json', is_flag=True, help='Print the state and the learning curve as JSON, for scripts.'
)
@decorators.with_dbenv()
@one_line_errors
def cmd_report(node: orm.WorkflowNode, as_json: bool) -> None:
    """The state and learning curve of the PaceActiveLearningWorkChain PK: per cycle the training-set size,
    the train and test RMSE, the candidates' max extrapolation grade, how many were selected and labelled,
    the PKs of the cycle's potential and training set, and notes (a training error that rose, a fit that
    did not converge, a selection left unlabelled). A failed run shows its exit message and failed step;
    the property table of the final potential, when it was validated (in the run, or later with `validate`).
    """
    workchain = require_active_learning(node)
    summary = run_summary(workchain)
    if as_json:
        click.echo(json.dumps(summary, indent=1, default=str))
        return
    state = summary['state'] + (f', exit status {summary["exit_status"]}' if summary['exit_status'] else '')
    click.echo(f'{workchain.process_label}<{workchain.pk}>: {state}')
    if summary['exit_message']:
        click.echo(f'exit message: {summary["exit_message"]}')
    for failed in summary['failed_steps']:
        click.echo(f'failed step: {failed["process"]} ({failed["call"]}): {failed["message"]}')
    echo_learning_curve(workchain)
    cost = summary['labelling_cost']
    if cost:
        steps = ', '.join(f'{row["step"]}: {row["labels"]} in {row["wall_seconds"]:.3g} s' for row in cost)
        click.echo(f'labels (step: labels in labelling time): {steps}')
    if summary['potential'] is not None:
        click.echo(f'final potential: PacePotentialData<{summary["potential"]}>')
    if summary['validation']:
        from .validate import TABLE_HEADERS, table_rows

        click.echo('validation of the final potential against the reference:')
        echo_table(table_rows(summary['validation']), TABLE_HEADERS)


def run_summary(workchain: orm.WorkflowNode) -> dict[str, t.Any]:
    """State, exit status and message, the failed steps, the learning curve (with node PKs) and the final
    potential's PK of an active-learning run."""
    curve = provenance.learning_curve(workchain)
    for row in curve:
        row['potential_pk'] = _pk('PacePotentialData', row.get('potential_uuid'))
        row['training_set_pk'] = _pk('TrainingSetData', row.get('training_set_uuid'))
    failed = [
        {
            'process': f'{node.process_label}<{node.pk}>',
            'call': node.base.links.get_incoming(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK))
            .one()
            .link_label,
            'message': node.exit_message or f'exit status {node.exit_status}',
        }
        for node in workchain.called_descendants
        if node.is_failed or node.is_excepted
    ]
    potential = final_potential(workchain)
    validation = None
    if 'validation' in workchain.outputs:
        validation = workchain.outputs.validation.get_list()
    elif 'potential' in workchain.outputs:
        table = provenance.validation_of(workchain.outputs.potential)  # validated after the run
        validation = table.get_list() if table is not None else None
    return {
        'process': f'{workchain.process_label}<{workchain.pk}>',
        'state': workchain.process_state.value if workchain.process_state else 'unknown',
        'exit_status': workchain.exit_status,
        'exit_message': workchain.exit_message,
        'failed_steps': failed,
        'learning_curve': curve,
        'potential': potential.pk if 'potential' in workchain.outputs and potential is not None else None,
        'validation': validation,
        'labelling_cost': provenance.labelling_cost(workchain),
    }


@click.command('plot')
@click.argument('node', metavar='PK', type=ANY_NODE)
@FIGURES_DIRECTORY
@decorators.with_dbenv()
@one_line_errors
def cmd_plot(node: orm.Node, output: pathlib.Path) -> None:
    """PNG figures of the PaceActiveLearningWorkChain or PacePotentialData PK: learning curve, parity
    plots of the final potential on its training (and test) set, and the candidates' extrapolation grades.
    """
    from aiida_pacemaker.tools import plots

    require(node, orm.WorkflowNode, PacePotentialData)
    output.mkdir(parents=True, exist_ok=True)
    written = []
    potential = node if isinstance(node, PacePotentialData) else None
    if isinstance(node, orm.WorkflowNode):
        workchain = require_active_learning(node)
        curve = provenance.learning_curve(workchain)
        if not curve:
            echo.echo_critical(
                f'{workchain.process_label}<{workchain.pk}> has finished no cycle yet: nothing to plot'
            )
        written.append(plots.plot_learning_curve(curve, output / 'learning_curve.png'))
        cost = provenance.labelling_cost(workchain)
        if cost:
            written.append(plots.plot_labelling_cost(curve, cost, output / 'labelling_cost.png'))
        gamma_max = workchain.inputs.gamma_max.value if 'gamma_max' in workchain.inputs else None
        written.append(
            plots.plot_gamma_histogram(
                curve, output / 'gamma_histogram.png', workchain.inputs.gamma_select.value, gamma_max
            )
        )
        potential = final_potential(workchain)
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
