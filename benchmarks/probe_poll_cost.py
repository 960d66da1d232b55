"""Diagnostic (not a benchmark with a target): what the CLI's own process costs a fit running beside it.

Two measurements, on a fresh ``verdi presto`` profile:

1. **The CLI's CPU while fits run.** ``aiida-pacemaker run active-learning`` on the example config in a
   subprocess; its CPU time (its own, and that of the short-lived children it waits for: the scheduler's
   ``ps`` polls) is sampled every 0.5 s from ``/proc``, and counted only deep inside a fit (a
   ``pacemaker input.yaml`` process running for at least 3 s before and after the sample), so that the
   steps between jobs do not count.
2. **What such a load does to a fit.** The run's longest fit (most iterations) is prepared again as a dry run (the same input
   files and job script) and run with ``bash``, alternating alone and beside a busy loop that burns
   ``--burn-ms`` of CPU once a second (roughly what the CLI was measured to use); the fit's iterations
   and seconds per iteration are printed for each run (pacemaker's iterations are the same run to run for
   the same input, so a change in seconds per iteration is the load's).

Linux only (``/proc``). Results: ``results/NAME.json``; see benchmarks/RESULTS.md §6.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import _common
from bench_cli import DEFAULT_CONFIG, last_active_learning_run, prepare_by_hand, presto

FIT_PATTERN = 'pacemaker input.yaml'


def cpu_seconds(pid: int) -> tuple[float, float]:
    """(own user + system, waited-for children's user + system) CPU seconds of process ``pid``."""
    fields = pathlib.Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    utime, stime, cutime, cstime = (int(value) / ticks for value in fields[11:15])
    return utime + stime, cutime + cstime


def fit_running() -> bool:
    return bool(subprocess.run(['pgrep', '-f', FIT_PATTERN], capture_output=True, text=True).stdout.strip())


def cli_cpu_during_fits(profile: str, environment: dict, log: pathlib.Path) -> dict:
    """Run the CLI and return its CPU use deep inside fits (see the module docstring)."""
    command = [
        str(_common.BIN / 'aiida-pacemaker'),
        '-p',
        profile,
        'run',
        'active-learning',
        str(DEFAULT_CONFIG),
    ]
    with log.open('w') as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=environment)
        samples = []
        began = time.perf_counter()
        while process.poll() is None:
            try:
                own, children = cpu_seconds(process.pid)
            except (FileNotFoundError, ProcessLookupError):
                break
            samples.append((time.perf_counter() - began, fit_running(), own, children))
            time.sleep(0.5)
        process.wait()
    if process.returncode != 0:
        raise RuntimeError(f'the CLI exited with {process.returncode}; see {log}')
    inside = [
        (b[0] - a[0], b[2] - a[2], b[3] - a[3])
        for a, b in itertools.pairwise(samples)
        if all(fitting for t, fitting, *_ in samples if abs(t - a[0]) <= 3.0)
    ]
    seconds = sum(row[0] for row in inside)
    own = sum(row[1] for row in inside)
    children = sum(row[2] for row in inside)
    return {
        'seconds_inside_fits': seconds,
        'own_cpu_s': own,
        'children_cpu_s': children,
        'own_ms_per_s': 1000 * own / seconds if seconds else None,
        'children_ms_per_s': 1000 * children / seconds if seconds else None,
    }


def _burn(stop: multiprocessing.synchronize.Event, milliseconds: float) -> None:
    while not stop.is_set():
        time.sleep(1.0)
        until = time.perf_counter() + milliseconds / 1000
        while time.perf_counter() < until:
            pass


def iterations(folder: pathlib.Path) -> int:
    rows = [line.split() for line in (folder / 'metrics.txt').read_text().splitlines() if line.strip()]
    return int(float(rows[-1][rows[0].index('iter_num')]))


def fit_beside_load(folder: pathlib.Path, burn_ms: float, repeats: int, environment: dict) -> list[dict]:
    """Run the fit's job script alone and beside the busy loop, alternating; seconds and iterations each."""
    runs = []
    for _ in range(repeats):
        for burn in (0.0, burn_ms):
            stop = multiprocessing.Event()
            load = multiprocessing.Process(target=_burn, args=(stop, burn)) if burn else None
            if load is not None:
                load.start()
            began = time.perf_counter()
            subprocess.run(
                ['bash', '_aiidasubmit.sh'], cwd=folder, env=environment, capture_output=True, check=True
            )
            seconds = time.perf_counter() - began
            stop.set()
            if load is not None:
                load.join()
            count = iterations(folder)
            runs.append({'burn_ms_per_s': burn, 'seconds': seconds, 'iterations': count})
            print(
                f'  burn {burn:4.0f} ms/s: {seconds:6.1f} s, {count} iterations, {1000 * seconds / count:.1f} ms each'
            )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--burn-ms', type=float, default=50.0)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--output', default='probe_poll_cost')
    args = parser.parse_args()

    aiida_path = pathlib.Path(tempfile.mkdtemp(prefix='aiida_pacemaker_probe_poll_'))
    os.environ['AIIDA_PATH'] = str(aiida_path)
    environment = dict(os.environ)
    profile = 'probe-poll'
    presto(profile, environment)
    load_before = os.getloadavg()[0]
    cli = cli_cpu_during_fits(profile, environment, aiida_path / 'cli.log')
    print(
        f'the CLI deep inside fits ({cli["seconds_inside_fits"]:.0f} s): own {cli["own_ms_per_s"]:.0f} ms/s, '
        f'children {cli["children_ms_per_s"]:.0f} ms/s'
    )
    from aiida import load_profile, orm

    load_profile(profile, allow_switch=True)
    workchain = last_active_learning_run()
    fit = max(
        (
            n
            for n in workchain.called_descendants
            if isinstance(n, orm.CalcJobNode) and n.process_label == 'PaceTrainCalculation'
        ),
        key=lambda node: node.outputs.metrics['iterations'],
    )
    scratch = aiida_path / 'by_hand'
    scratch.mkdir()
    folder = prepare_by_hand(fit, scratch)
    print(
        f'the longest fit ({fit.outputs.metrics["iterations"]} iterations in AiiDA), alone and beside the load:'
    )
    runs = fit_beside_load(folder, args.burn_ms, args.repeats, environment)
    alone = statistics.median(r['seconds'] for r in runs if not r['burn_ms_per_s'])
    loaded = statistics.median(r['seconds'] for r in runs if r['burn_ms_per_s'])
    print(f'median beside the load / alone: {loaded / alone:.3f}')
    result = {
        'machine': _common.machine(),
        'load': [load_before, os.getloadavg()[0]],
        'cli_during_fits': cli,
        'fit_iterations_in_aiida': fit.outputs.metrics['iterations'],
        'fit_beside_load': runs,
        'ratio_of_medians': loaded / alone,
    }
    path = _common.results_folder() / f'{args.output}.json'
    path.write_text(json.dumps(result, indent=1) + '\n')
    print(f'written: {path}')


if __name__ == '__main__':
    sys.exit(main())
