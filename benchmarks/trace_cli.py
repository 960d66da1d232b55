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
INTERVALS: list[tuple[str, float, float]] = []  # (key, start, end) on the perf_counter clock
STATES: list[tuple[float, str, int, str]] = []  # (perf_counter, process class, pk, state entered)
SUBMITTED: dict[int, float] = {}  # CalcJob pk -> perf_counter when its job was submitted


def _add(key: str, began: float) -> None:
    ended = time.perf_counter()
    SECONDS[key] += ended - began
    CALLS[key] += 1
    INTERVALS.append((key, began, ended))


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
    entered = timed(lambda self, *a: f'state change {type(self).__name__}', process.Process.on_entered)

    def on_entered(self, *args):
        STATES.append((time.perf_counter(), type(self).__name__, self.pid, self._state.LABEL.value))
        return entered(self, *args)

    process.Process.on_entered = on_entered
    terminated = process.Process.on_terminated

    def on_terminated(self):
        try:
            return terminated(self)
        finally:
            STATES.append((time.perf_counter(), type(self).__name__, self.pid, 'terminated (sealed)'))

    process.Process.on_terminated = on_terminated
    process.Process.update_outputs = timed('update_outputs (output links)', process.Process.update_outputs)
    process.Process._setup_db_record = timed(
        '_setup_db_record (process node, input links)', process.Process._setup_db_record
    )
    engine_utils.set_process_state_change_timestamp = timed(
        'set_process_state_change_timestamp', engine_utils.set_process_state_change_timestamp
    )
    submit = tasks.task_submit_job

    async def task_submit_job(node, *args, **kwargs):
        result = await submit(node, *args, **kwargs)
        SUBMITTED[node.pk] = time.perf_counter()
        return result

    tasks.task_submit_job = task_submit_job
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


def wake_ups() -> list[float]:
    """Seconds from each child process being sealed to the next state change of a workchain that was
    waiting (the time the workchain took to learn that its child ended)."""
    waits = []
    waiting: set[int] = set()
    for index, (moment, name, pk, state) in enumerate(STATES):
        if state == 'waiting' and name.endswith('WorkChain'):
            waiting.add(pk)
        elif state == 'terminated (sealed)':
            for later, _, other_pk, other_state in STATES[index + 1 :]:
                if other_pk in waiting and other_state == 'running':
                    waits.append(later - moment)
                    waiting.discard(other_pk)
                    break
    return waits


def job_intervals(clock_offset: float) -> list[tuple[float, float]]:
    """Each traced CalcJob's job on the perf_counter clock: from its submission to the newest file in its
    remote folder (its last write)."""
    from aiida import orm

    intervals = []
    for pk, started in SUBMITTED.items():
        node = orm.load_node(pk)
        folder = pathlib.Path(node.outputs.remote_folder.get_remote_path())
        newest = max(path.stat().st_mtime for path in folder.rglob('*') if path.is_file())
        intervals.append((started, newest - clock_offset))
    return intervals


def outside_jobs(began: float, ended: float, jobs: list[tuple[float, float]]) -> dict[str, float]:
    """The seconds when no job ran, each given to the innermost traced part running then (``waiting``
    where none ran: the event loop idle, e.g. until the next poll)."""
    events = [(start, 0, index) for index, (_, start, _) in enumerate(INTERVALS)]
    events += [(end, 1, index) for index, (_, _, end) in enumerate(INTERVALS)]
    events += [(start, 0, -1 - index) for index, (start, _) in enumerate(jobs)]
    events += [(end, 1, -1 - index) for index, (_, end) in enumerate(jobs)]
    events.sort()
    seconds: dict[str, float] = collections.defaultdict(float)
    active: set[int] = set()
    moment = began
    for when, kind, index in events:
        when = min(max(when, began), ended)
        if when > moment and not any(item < 0 for item in active):
            inner = min(active, key=lambda item: INTERVALS[item][2] - INTERVALS[item][1], default=None)
            key = INTERVALS[inner][0] if inner is not None else 'waiting (nothing traced running)'
            seconds[key] += when - moment
        moment = max(moment, when)
        (active.add if kind == 0 else active.discard)(index)
    if moment < ended and not any(item < 0 for item in active):
        seconds['waiting (nothing traced running)'] += ended - moment
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', type=pathlib.Path, default=DEFAULT_CONFIG)
    parser.add_argument('--output', default='trace_cli')
    parser.add_argument(
        '--plain-runner',
        action='store_true',
        help="aiida-core's runner without the foreground runner's wake-up hook (workchains look at the "
        "child's node every runner.poll.interval)",
    )
    args = parser.parse_args()
    os.environ['AIIDA_PATH'] = tempfile.mkdtemp(prefix='aiida_pacemaker_trace_')
    subprocess.run(
        [str(_common.BIN / 'verdi'), 'presto', '--profile-name', 'trace'], check=True, capture_output=True
    )
    instrument()
    began = time.perf_counter()
    clock_offset = time.time() - began

    @atexit.register
    def report() -> None:
        total = time.perf_counter() - began
        rows = sorted(SECONDS.items(), key=lambda item: -item[1])
        print(f'\n{total:.1f} s in all (load {os.getloadavg()[0]:.1f})', file=sys.stderr)
        for key, seconds in rows:
            print(f'{seconds:8.2f} s {CALLS[key]:6d}  {key}', file=sys.stderr)
        jobs = job_intervals(clock_offset)
        outside = outside_jobs(began, began + total, jobs)
        print(
            f'\n{sum(outside.values()):.1f} s with no job running, by the innermost part running:',
            file=sys.stderr,
        )
        for key, seconds in outside.items():
            if seconds >= 0.05:
                print(f'{seconds:8.2f} s  {key}', file=sys.stderr)
        print('\nstate changes (s since start, process, state):', file=sys.stderr)
        for moment, name, pk, state in STATES:
            print(f'{moment - began:9.3f}  {name}<{pk}> {state}', file=sys.stderr)
        waits = wake_ups()
        print(
            f'\n{len(waits)} wake-ups of a workchain after its child ended: {sum(waits):.2f} s',
            file=sys.stderr,
        )
        result = {
            'wake_ups_s': waits,
            'states': [(moment - began, name, pk, state) for moment, name, pk, state in STATES],
            'outside_jobs': outside,
            'machine': _common.machine(),
            'config': str(args.config),
            'total_s': total,
            'parts': {key: {'s': seconds, 'calls': CALLS[key]} for key, seconds in rows},
        }
        (HERE / 'results' / f'{args.output}.json').write_text(json.dumps(result, indent=1))

    from aiida_pacemaker.cli import cmd_root, launch

    if args.plain_runner:
        from aiida.manage import get_manager

        launch.foreground_runner = lambda: get_manager().create_runner(communicator=None)

    cmd_root(['-p', 'trace', 'run', 'active-learning', str(args.config)])


if __name__ == '__main__':
    main()
