"""``aiida-pacemaker run``: launch a fit or an active-learning loop from a YAML file."""

from __future__ import annotations

import pathlib
import typing as t

import click
from aiida import orm
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.utils import decorators, echo

from . import run_config
from .launch import run_in_foreground, submit_to_daemon
from .params import ACTIVE_LEARNING, require_active_learning
from .utils import echo_pairs, one_line_errors

__all__ = ('cmd_run',)

_CONFIG = click.argument('config', type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path))
_DAEMON = click.option('-d', '--daemon', is_flag=True, help='Submit to the daemon and return at once.')


@click.group('run', cls=VerdiCommandGroup)
def cmd_run() -> None:
    """Launch a fit or an active-learning loop from a YAML file (see the examples/ folder)."""


def exit_unless_finished_ok(node: orm.ProcessNode) -> None:
    """Exit with one line (state, exit status and message) unless ``node`` finished successfully."""
    if not node.is_finished_ok:
        state = (
            f'exit status {node.exit_status}'
            if node.is_finished
            else getattr(node.process_state, 'value', '?')
        )
        message = f': {" ".join(node.exit_message.split())}' if node.exit_message else ''
        echo.echo_critical(f'{node.process_label}<{node.pk}> did not succeed ({state}){message}')


def _launch(builder: t.Any, daemon: bool, follow: str) -> orm.ProcessNode | None:
    """Run ``builder`` here until it succeeds (exit 1 unless it does) and return its node; with ``daemon``,
    submit it, say which command ``follow`` (``{pk}`` filled in) shows its progress, and return None.
    """
    if daemon:
        node = submit_to_daemon(builder)
        echo.echo_report(f'follow it with `{follow.format(pk=node.pk)}`')
        return None
    node = run_in_foreground(builder)
    exit_unless_finished_ok(node)
    return node


@cmd_run.command('active-learning')
@_CONFIG
@_DAEMON
@click.option(
    '--continue',
    'previous',
    metavar='PK',
    type=ACTIVE_LEARNING,
    help='Continue this active-learning run (finished or failed): start from its last potential and newest '
    'training set (which CONFIG then must not give); candidates it already labelled are never labelled again.',
)
@decorators.with_dbenv()
@one_line_errors
def run_active_learning(config: pathlib.Path, daemon: bool, previous: orm.WorkflowNode | None) -> None:
    """Run a PaceActiveLearningWorkChain from the YAML file CONFIG.

    \b
    Keys (file paths relative to CONFIG; any data key also takes {example: {count: N, ...}}):
      training_set: PK | data: FILE(s)     initial labelled data (energy eV, forces eV/Å)
      structures: FILE(s)                  unlabelled initial structures, labelled first
      pool: FILE(s)                        candidate structures (any format ASE reads)
      explore: {structures: FILE, ...}     MD seeds and MD settings (K, fs)
      test_set: FILE(s) | PK               held-out labelled data
      labeller: {ase: {calculator: ase.calculators.emt.EMT, kwargs: {}}}
              | {process: ENTRY_POINT, inputs: {...}, options: {...}}
      protocol: fast | balanced | precise  overrides: {...}  elements: [..]
      codes: {pacemaker: LABEL, ...}       label: TEXT  description: TEXT
    """
    from .report import echo_learning_curve

    settings = run_config.read_config(config, run_config.ACTIVE_LEARNING_KEYS)
    state = None
    if previous is not None:
        from aiida_pacemaker.tools.provenance import campaign_state

        state = campaign_state(require_active_learning(previous))
        if state.training_set is None:
            echo.echo_critical(
                f'{previous.process_label}<{previous.pk}> made no training set: nothing to continue'
            )
    builder = run_config.active_learning_builder(settings, config.resolve().parent, continue_from=state)
    if previous is not None and state is not None and state.training_set is not None:
        start = (
            f'PacePotentialData<{state.potential.pk}> of cycle {state.cycle}'
            if state.potential is not None
            else 'scratch (it finished no fit)'
        )
        echo.echo_report(
            f'continuing {previous.process_label}<{previous.pk}>: from {start}, with '
            f'TrainingSetData<{state.training_set.pk}> ({state.training_set.num_structures} structures)'
        )
    node = _launch(builder, daemon, 'aiida-pacemaker report {pk}')
    if node is None:
        return
    echo_learning_curve(t.cast(orm.WorkflowNode, node))
    echo.echo_success(
        f'{node.process_label}<{node.pk}> finished: potential PacePotentialData<{node.outputs.potential.pk}>, '
        f'active set ActiveSetData<{node.outputs.active_set.pk}>, '
        f'training set TrainingSetData<{node.outputs.training_set.pk}>'
    )


@cmd_run.command('train')
@_CONFIG
@_DAEMON
@decorators.with_dbenv()
@one_line_errors
def run_train(config: pathlib.Path, daemon: bool) -> None:
    """Fit a potential (PaceTrainWorkChain) from the YAML file CONFIG.

    \b
    Keys (file paths relative to CONFIG; any data key also takes {example: {count: N, ...}}):
      training_set: PK | data: FILE(s)     labelled data (energy eV, forces eV/Å)
      test_set: FILE(s) | PK               held-out labelled data
      protocol: fast | balanced | precise  overrides: {trainer: {...}}  elements: [..]
      initial_potential: PK                continue from this potential (pacemaker -p)
      codes: {pacemaker: LABEL}            label: TEXT  description: TEXT
    """
    settings = run_config.read_config(config, run_config.TRAIN_KEYS)
    builder = run_config.train_builder(settings, config.resolve().parent)
    node = _launch(builder, daemon, 'verdi process status {pk}')
    if node is None:
        return
    metrics = node.outputs.metrics.get_dict()
    pairs = [('potential', f'PacePotentialData<{node.outputs.potential.pk}>')]
    for split in ('train', 'test'):
        if metrics.get(f'{split}_energy_rmse') is not None:
            pairs.append((f'{split} energy RMSE', f'{metrics[f"{split}_energy_rmse"]:.2f} meV/atom'))
            pairs.append((f'{split} force RMSE', f'{metrics[f"{split}_force_rmse"]:.1f} meV/Å'))
    if metrics.get('iterations') is not None:
        pairs.append(('iterations', metrics['iterations']))
    echo_pairs(pairs)
    echo.echo_success(f'{node.process_label}<{node.pk}> finished')
