"""Where AiiDA's own time goes in `aiida-pacemaker run ...`: timers on the engine's parts (a diagnostic).

Runs the CLI in this process on a fresh `verdi presto` profile, with wall-clock timers wrapped around
aiida-core's and plumpy's internals (workchain steps, state changes, checkpoints, output links, process
nodes, the CalcJob tasks, parsing, SQLite commits), and prints the totals and counts at exit. The
timers nest (a checkpoint is inside a state change, a calcfunction inside a workchain step), so the
rows do not add up; ``task_update_job`` includes the wait for each job. Unlike cProfile it does not
slow Python down, so the seconds are those of a normal run (plus the machine's load).

This is not a benchmark (no baseline, no ratio): `bench_cli.py` measures the ratio against the same
work by hand; this script says where the difference goes, for benchmarks/RESULTS.md section 6.

    python trace_cli.py [--config CONFIG] [--output NAME]

writes ``results/NAME.json`` (default ``trace_cli``) and prints the table.
"""

from __future__ import annotations

import argparse
import atexit
import collections
import functools
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import _common

HERE = pathlib.Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE.parent / 'docs' / 'examples' / 'active_learning_emt.yaml'

SECONDS: dict[str, float] = collections.defaultdict(float)
CALLS: collections.Counter[str] = collections.Counter()


def _add(key: str, began: float) -> None:
    SECONDS[key] += time.perf_counter() - began
    CALLS[key] += 1


def timed(
    key: str | collections.abc.Callable, function: collections.abc.Callable
) -> collections.abc.Callable:
    """``function`` timed under ``key`` (a string, or a function of the call's first argument)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _add(key if isinstance(key, str) else key(*args), began)

    return wrapper


def timed_async(key: str, function: collections.abc.Callable) -> collections.abc.Callable:
    @functools.wraps(function)
    async def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            _add(key, began)

    return wrapper


def instrument() -> None:
    """Wrap the engine's parts (aiida-core 2.9, plumpy 0.25+; internal names, hence a diagnostic)."""
    import plumpy.workchains
    import sqlalchemy.orm.session
    from aiida.engine import persistence
    from aiida.engine import utils as engine_utils
    from aiida.engine.processes import process
    from aiida.engine.processes.calcjobs import calcjob, tasks
    from aiida.engine.processes.functions import FunctionProcess

    stepper = plumpy.workchains._FunctionStepper
    stepper.step = timed(
        lambda self: f'step {type(self._workchain).__name__}.{self._fn.__name__}', stepper.step
    )
    save = persistence.AiiDAPersister.save_checkpoint
    persistence.AiiDAPersister.save_checkpoint = timed(
        lambda self, proc, *a: f'checkpoint {type(proc).__name__}', save
    )
    process.Process.on_entered = timed(
        lambda self, *a: f'state change {type(self).__name__}', process.Process.on_entered
    )
    process.Process.update_outputs = timed('update_outputs (output links)', process.Process.update_outputs)
    process.Process._setup_db_record = timed(
        '_setup_db_record (process node, input links)', process.Process._setup_db_record
    )
    engine_utils.set_process_state_change_timestamp = timed(
        'set_process_state_change_timestamp', engine_utils.set_process_state_change_timestamp
    )
    for name in (
        'task_upload_job',
        'task_submit_job',
        'task_update_job',
        'task_retrieve_job',
        'task_monitor_job',
    ):
        setattr(tasks, name, timed_async(name, getattr(tasks, name)))
    calcjob.CalcJob.presubmit = timed('CalcJob.presubmit (prepare_for_submission)', calcjob.CalcJob.presubmit)
    calcjob.CalcJob.parse = timed('CalcJob.parse', calcjob.CalcJob.parse)
    FunctionProcess.run = timed_async('calcfunction bodies', FunctionProcess.run)
    sqlalchemy.orm.session.Session.commit = timed('SQLite commits', sqlalchemy.orm.session.Session.commit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', type=pathlib.Path, default=DEFAULT_CONFIG)
    parser.add_argument('--output', default='trace_cli')
    args = parser.parse_args()
    os.environ['AIIDA_PATH'] = tempfile.mkdtemp(prefix='aiida_pacemaker_trace_')
    subprocess.run(
        [str(_common.BIN / 'verdi'), 'presto', '--profile-name', 'trace'], check=True, capture_output=True
    )
    instrument()
    began = time.perf_counter()

    @atexit.register
    def report() -> None:
        total = time.perf_counter() - began
        rows = sorted(SECONDS.items(), key=lambda item: -item[1])
        print(f'\n{total:.1f} s in all (load {os.getloadavg()[0]:.1f})', file=sys.stderr)
        for key, seconds in rows:
            print(f'{seconds:8.2f} s {CALLS[key]:6d}  {key}', file=sys.stderr)
        result = {
            'machine': _common.machine(),
            'config': str(args.config),
            'total_s': total,
            'parts': {key: {'s': seconds, 'calls': CALLS[key]} for key, seconds in rows},
        }
        (HERE / 'results' / f'{args.output}.json').write_text(json.dumps(result, indent=1))

    from aiida_pacemaker.cli import cmd_root

    cmd_root(['-p', 'trace', 'run', 'active-learning', str(args.config)])


if __name__ == '__main__':
    main()
