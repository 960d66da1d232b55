"""Run every benchmark, one after the other (`make bench`); each prints its ratios and writes results/<name>.json.

``--quick``: small and few runs (a few minutes, a smoke test; results in results/quick/);
without it: the settings of RESULTS.md (many hours on 2 cores: the data-efficiency runs take 30-40
minutes a seed and system).
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent

FULL = [
    ('bench_dataset.py', ['--sizes', '1000', '10000', '--repeats', '3', '--large']),
    ('bench_accumulation.py', ['--structures', '200', '--repeats', '3']),
    ('bench_orchestration.py', ['--repeats', '3']),
    ('bench_orchestration.py', ['--repeats', '3', '--busy', '2', '--output', 'orchestration_busy2']),
    ('bench_pool.py', ['--sizes', '2000', '20000', '--nodes-up-to', '2000']),
    ('bench_cli.py', ['--repeats', '3']),
    ('bench_augment.py', ['--seeds', '0', '1', '--md-steps', '1000', '--temperatures', '3000', '6000']),
    *(
        (
            'bench_active_learning.py',
            [
                *('--seeds', '0', '1', '2', '3', '4', '5', '--systems', system),
                *('--maxiter', '1000', '--converge', '2e-3', '--patience', '20', '--refit-tolerance', '0.25'),
                *('--strategy', 'hybrid', '--min-distance-factor', '0.8', '--output', f'al_hybrid_{system}'),
            ],
        )
        for system in ('cu', 'alloy')
    ),
]
QUICK = [
    ('bench_dataset.py', ['--sizes', '200', '1000', '--repeats', '1']),
    ('bench_accumulation.py', ['--structures', '50', '--repeats', '1']),
    ('bench_orchestration.py', ['--repeats', '1', '--structures', '10']),
    ('bench_pool.py', ['--sizes', '200', '--nodes-up-to', '200']),
    ('bench_cli.py', ['--repeats', '1', '--output', 'cli']),
    (
        'bench_augment.py',
        [
            *('--systems', 'cu', '--seeds', '0', '--structures', '20', '--test', '10'),
            *('--md-cells', '3', '--md-steps', '100', '--maxiter', '100'),
        ],
    ),
    (
        'bench_active_learning.py',
        ['--pool', '60', '--test', '20', '--cycles', '2', '--maxiter', '20', '--functions', '12'],
    ),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--quick', action='store_true', help='small smoke-test settings')
    parser.add_argument('only', nargs='*', help='run only these scripts (e.g. bench_dataset.py)')
    args = parser.parse_args()
    plan = QUICK if args.quick else FULL
    if args.quick:  # keep the full results of RESULTS.md
        os.environ.setdefault('BENCH_RESULTS', str(HERE / 'results' / 'quick'))
    failed = []
    for script, options in plan:
        if args.only and script not in args.only:
            continue
        print(f'\n=== {script} {" ".join(options)}  (load {os.getloadavg()[0]:.1f})', flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(HERE / script), *options], cwd=HERE, check=False)
        print(f'=== {script}: exit {result.returncode} after {time.perf_counter() - start:.0f} s', flush=True)
        if result.returncode:
            failed.append(script)
    if failed:
        print(f'failed: {failed}')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
