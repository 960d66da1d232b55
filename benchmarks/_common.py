"""Helpers shared by the benchmarks: a throw-away AiiDA profile, timing, the machine's description.

Import this module before ``aiida``: :func:`temporary_profile` points ``AIIDA_PATH`` at a new
temporary directory, which AiiDA reads when it is first imported.
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

BIN = pathlib.Path(sys.executable).parent
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def temporary_profile(name: str = 'bench') -> pathlib.Path:
    """Create a `verdi presto` profile (SQLite, no services) under a new temporary AIIDA_PATH and load it."""
    path = pathlib.Path(tempfile.mkdtemp(prefix='aiida_pacemaker_bench_'))
    os.environ['AIIDA_PATH'] = str(path)
    subprocess.run(
        [str(BIN / 'verdi'), 'presto', '--profile-name', name, '--use-zeromq'],
        check=True,
        capture_output=True,
    )
    from aiida import load_profile

    load_profile(name, allow_switch=True)
    return path


def machine() -> dict:
    """nproc, CPU model, memory and the load average right now."""
    model = next(
        (
            line.split(':', 1)[1].strip()
            for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines()
            if line.startswith('model name')
        ),
        platform.processor(),
    )
    meminfo = dict(line.split(':', 1) for line in pathlib.Path('/proc/meminfo').read_text().splitlines())
    return {
        'nproc': os.cpu_count(),
        'cpu': model,
        'memory_gib': round(int(meminfo['MemTotal'].split()[0]) / 2**20, 1),
        'load': [round(value, 2) for value in os.getloadavg()],
    }


def alternate(variants: dict, repeats: int, log=print) -> dict[str, list[float]]:
    """Time each callable of ``variants`` ``repeats`` times, interleaved (A B C A B C ...)."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    for repeat in range(repeats):
        for name, function in variants.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
            log(
                f'  run {repeat + 1}/{repeats} {name}: {times[name][-1]:.3f} s  (load {os.getloadavg()[0]:.1f})'
            )
    return times


def ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median time of ``name`` over the median time of ``baseline``."""
    return statistics.median(times[name]) / statistics.median(times[baseline])


def paired_ratio(times: dict[str, list[float]], name: str, baseline: str) -> float:
    """Median over the repeats of (run i of ``name``) / (run i of ``baseline``): the runs closest in time."""
    return statistics.median(a / b for a, b in zip(times[name], times[baseline], strict=True))


def run_child(code: str, *args: str) -> dict:
    """Run ``code`` (Python source that prints one JSON line last) in a fresh interpreter; return that JSON."""
    result = subprocess.run(
        [sys.executable, '-c', code, *args], check=True, capture_output=True, text=True, env=os.environ.copy()
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def results_folder() -> pathlib.Path:
    """``$BENCH_RESULTS``, by default ``benchmarks/results``."""
    folder = pathlib.Path(
        os.environ.get('BENCH_RESULTS', pathlib.Path(__file__).resolve().parent / 'results')
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_result(name: str, result: dict) -> pathlib.Path:
    """Write ``result`` with the machine's description to ``<results folder>/<name>.json``."""
    path = results_folder() / f'{name}.json'
    path.write_text(json.dumps({'machine': machine(), **result}, indent=2) + '\n')
    return path
