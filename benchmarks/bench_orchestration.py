"""Orchestration: `pacemaker.train` through AiiDA against the same fit run by hand.

Both arms run the same commands on the same files: ``pacemaker input.yaml`` then
``pace_yaml2yace`` (the CalcJob's job script does both), on the training pickle written by
``TrainingSetData.write_pacemaker_pickle``. Runs alternate (raw, AiiDA variants, raw, ...).

AiiDA variants: the localhost computer's ``minimum_job_poll_interval`` at 0 s (what the
plugin's ``get_or_create_localhost`` and the demo used to set; the tests still do) and at 1 s
(verdi presto's default), with the transport's default ``use_login_shell=True`` and without it;
with ``--tf-threads`` also TensorFlow held to one thread (in the job and by hand). For each
AiiDA run the job's own runtime is taken from a timestamp written by the job script
(``prepend_text``) and the mtime of the last file it writes, and the CPU time used by the AiiDA
process and the commands it waited for (scheduler polls) is recorded: this separates "the job
runs slower" from "AiiDA takes longer around the job". ``--busy N`` runs N CPU-bound processes
alongside, to load the machine.

Target: median AiiDA time / median raw time <= 1.10.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import _common

PARAMETERS = {
    'cutoff': 5.0,
    'seed': 42,
    'potential': {
        'elements': ['Cu'],
        'embeddings': {
            'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1, 1, 0.5], 'ndensity': 2}
        },
        'bonds': {'ALL': {'radbase': 'SBessel', 'radparameters': [5.25], 'rcut': 5.0, 'dcut': 0.01}},
        'functions': {
            'number_of_functions_per_element': 20,
            'ALL': {'nradmax_by_orders': [6, 3, 2], 'lmax_by_orders': [0, 2, 1]},
        },
    },
    'fit': {
        'loss': {'kappa': 0.3, 'L1_coeffs': 1e-8, 'L2_coeffs': 1e-8},
        'optimizer': 'BFGS',
        'maxiter': 60,
    },
    'backend': {'evaluator': 'tensorpot', 'batch_size': 100, 'display_step': 50},
    'data': {'reference_energy': 0},
}
ONE_THREAD = {'TF_NUM_INTRAOP_THREADS': '1', 'TF_NUM_INTEROP_THREADS': '1', 'OMP_NUM_THREADS': '1'}


def cpu_seconds() -> float:
    """CPU time of this process and its waited-for children so far."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--structures', type=int, default=30)
    parser.add_argument('--tf-threads', action='store_true', help='also run with TensorFlow on one thread')
    parser.add_argument('--output', default='orchestration', help='name of the result file')
    parser.add_argument(
        '--busy',
        type=int,
        default=0,
        help='run this many CPU-bound processes alongside (a loaded machine, reproducibly)',
    )
    args = parser.parse_args()

    _common.temporary_profile('bench-orchestration')
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    login = get_or_create_localhost('localhost')  # the presto computer: core.local with a login shell
    no_login = get_or_create_localhost('localhost-no-login-shell')
    no_login.configure(safe_interval=0.0, use_login_shell=False)
    codes = {'login': setup_codes(login)['pacemaker'], 'no login': setup_codes(no_login)['pacemaker']}
    training_set = TrainingSetData.from_ase(
        emt_label(random_bulk_structures(args.structures, seed=3))
    ).store()
    scratch = pathlib.Path(tempfile.mkdtemp(prefix='bench_orchestration_'))
    pickle = scratch / 'training_set.pckl.gzip'
    training_set.write_pacemaker_pickle(pickle)
    job_seconds: dict[str, list[float]] = {}
    aiida_cpu: dict[str, list[float]] = {}

    def raw(environment: dict | None = None) -> None:
        import yaml

        folder = pathlib.Path(tempfile.mkdtemp(dir=scratch))
        (folder / 'training_set.pckl.gzip').symlink_to(pickle)
        parameters = copy.deepcopy(PARAMETERS)
        parameters['data']['filename'] = 'training_set.pckl.gzip'
        (folder / 'input.yaml').write_text(yaml.safe_dump(parameters, sort_keys=False))
        command = (
            f'{_common.BIN}/pacemaker input.yaml > pacemaker.out 2>&1 && '
            f'{_common.BIN}/pace_yaml2yace output_potential.yaml -o output_potential.yace > yaml2yace.out 2>&1'
        )
        subprocess.run(command, shell=True, cwd=folder, check=True, env={**os.environ, **(environment or {})})

    def through_aiida(
        name: str, poll_interval: float, shell: str = 'login', environment: dict | None = None
    ) -> None:
        code = codes[shell]
        code.computer.set_minimum_job_poll_interval(poll_interval)
        options = {'prepend_text': 'date +%s.%N > job_start', 'environment_variables': environment or {}}
        cpu = cpu_seconds()
        _, node = engine.run_get_node(
            CalculationFactory('pacemaker.train'),
            code=code,
            training_set=training_set,
            parameters=orm.Dict(PARAMETERS),
            metadata={'options': options},
        )
        aiida_cpu.setdefault(name, []).append(cpu_seconds() - cpu)
        assert node.is_finished_ok, node.exit_message
        workdir = pathlib.Path(node.outputs.remote_folder.get_remote_path())
        start = float((workdir / 'job_start').read_text())
        job_seconds.setdefault(name, []).append((workdir / 'yaml2yace.out').stat().st_mtime - start)

    variants = {
        'raw': raw,
        'aiida poll 0 s': lambda: through_aiida('aiida poll 0 s', 0.0),
        'aiida poll 1 s': lambda: through_aiida('aiida poll 1 s', 1.0),
        'aiida poll 0 s, no login shell': lambda: through_aiida(
            'aiida poll 0 s, no login shell', 0.0, 'no login'
        ),
        'aiida poll 2 s, no login shell': lambda: through_aiida(
            'aiida poll 2 s, no login shell', 2.0, 'no login'
        ),
    }
    if args.tf_threads:
        variants['aiida poll 0 s, TF 1 thread'] = lambda: through_aiida(
            'aiida poll 0 s, TF 1 thread', 0.0, environment=ONE_THREAD
        )
        variants['raw, TF 1 thread'] = lambda: raw(ONE_THREAD)
    print(f'orchestration: {args.structures} structures, {args.repeats} alternating runs per variant')
    busy = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) for _ in range(args.busy)]
    try:
        start_load = os.getloadavg()[0]
        started = time.perf_counter()
        times = _common.alternate(variants, args.repeats)
    finally:
        for process in busy:
            process.kill()
    result = {
        'structures': args.structures,
        'busy': args.busy,
        'times_s': times,
        'job_s': job_seconds,
        'aiida_cpu_s': aiida_cpu,
    }
    print(
        f'\n{"variant":32s} {"median s":>9s} {"ratio":>6s} {"paired":>7s} {"job s":>7s} {"AiiDA cpu s":>11s}'
    )
    for name, values in times.items():
        job = f'{statistics.median(job_seconds[name]):7.1f}' if name in job_seconds else '      -'
        cpu = f'{statistics.median(aiida_cpu[name]):11.1f}' if name in aiida_cpu else '          -'
        print(
            f'{name:32s} {statistics.median(values):9.1f} {_common.ratio(times, name, "raw"):6.2f} '
            f'{_common.paired_ratio(times, name, "raw"):7.2f} {job} {cpu}'
        )
    result['ratios'] = {name: _common.ratio(times, name, 'raw') for name in times}
    result['paired_ratios'] = {name: _common.paired_ratio(times, name, 'raw') for name in times}
    result['load_start_end'] = [start_load, os.getloadavg()[0]]
    result['duration_s'] = time.perf_counter() - started
    best = min((name for name in times if name.startswith('aiida')), key=result['ratios'].get)
    print(f'ratio (target <= 1.10): poll 0 s {result["ratios"]["aiida poll 0 s"]:.2f}, '
          f'best ({best}) {result["ratios"][best]:.2f}')  # fmt: skip
    print(f'written: {_common.write_result(args.output, result)}')


if __name__ == '__main__':
    main()
