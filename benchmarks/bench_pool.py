"""Candidate pools at exploration scale: the select step of the plugin against ``pace_select`` by hand.

One small Cu potential and its active set are fitted first (EMT labels). Then, for a pool of N
distorted 4-atom fcc cells, side by side in one run:

- ``by hand``: write pacemaker's candidate file (``write_structures_pickle``) and run
  ``pace_select pool.pckl.gzip -p potential.yaml -a potential.asi -m M -o selected.pkl.gz``;
- ``pool node``: ``StructurePoolData.from_ase`` (stored: one node, its files), then ``pacemaker.select``
  with ``pool`` (the grades of every candidate, pace_select, the report; only the selected structures
  become nodes);
- ``pool node, ungraded``: the same with ``grade_candidates: false`` (no grading pass before
  pace_select; the report has no grades);
- ``StructureData nodes`` (small N only): the same candidates as one stored StructureData each, then
  ``pacemaker.select`` with ``candidates``: what the per-structure path costs.

Wall times are split into making the input (the pickle by hand, the node(s) for the plugin) and the
selection itself; with ``--repeats`` the arms alternate and each figure is the median. Peak memory: the largest resident set, sampled every 0.1 s, of the selection's
processes (pace_select and the job's grading script) and, for the plugin, of this process's growth
while it makes the pool and runs the step. Ratios are against ``by hand`` measured in the same run.
Goal: the select step through the plugin <= 1.5 x the wall time and <= 2 x the peak memory.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import subprocess
import tempfile
import threading
import time

import _common


class PeakMemory:
    """Samples the resident set (MiB) of this process and of the processes whose command line holds one of
    ``patterns``; keeps the largest sum of the latter and this process's largest growth over its start."""

    def __init__(self, patterns: tuple[str, ...]) -> None:
        import psutil

        self.psutil = psutil
        self.patterns = patterns
        self.me = psutil.Process()
        self.start_rss = self.me.memory_info().rss
        self.jobs = 0.0
        self.own = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for process in self.psutil.process_iter(['cmdline', 'memory_info']):
                command = ' '.join(process.info['cmdline'] or [])
                if process.pid != self.me.pid and any(p in command for p in self.patterns):
                    total += process.info['memory_info'].rss if process.info['memory_info'] else 0
            self.jobs = max(self.jobs, total / 2**20)
            self.own = max(self.own, (self.me.memory_info().rss - self.start_rss) / 2**20)
            time.sleep(0.1)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def fitted_potential(codes: dict) -> tuple:
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    training_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(20, seed=1))).store()
    parameters = {
        'cutoff': 5.0,
        'seed': 1,
        'potential': {
            'elements': ['Cu'],
            'embeddings': {
                'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1], 'ndensity': 1}
            },
            'bonds': {'ALL': {'radbase': 'SBessel', 'radparameters': [5.25], 'rcut': 5.0, 'dcut': 0.01}},
            'functions': {
                'number_of_functions_per_element': 20,
                'ALL': {'nradmax_by_orders': [6, 3, 2], 'lmax_by_orders': [0, 2, 1]},
            },
        },
        'fit': {'loss': {'kappa': 0.3}, 'optimizer': 'BFGS', 'maxiter': 30},
        'backend': {'evaluator': 'tensorpot', 'batch_size': 100, 'display_step': 50},
        'data': {'reference_energy': 0},
    }
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.train'),
        code=codes['pacemaker'],
        training_set=training_set,
        parameters=orm.Dict(parameters),
    )
    assert node.is_finished_ok, node.exit_message
    active, node = engine.run_get_node(
        CalculationFactory('pacemaker.activeset'),
        code=codes['pace_activeset'],
        potential=results['potential'],
        training_set=training_set,
        parameters=orm.Dict({'all_atoms': True}),
    )
    assert node.is_finished_ok, node.exit_message
    return results['potential'], active['active_set']


def by_hand(atoms_list: list, potential, active_set, budget: int, folder: pathlib.Path) -> dict:
    """Write the candidate file and run pace_select on it, as a user would."""
    from aiida_pacemaker.data.training_set import write_structures_pickle

    folder.mkdir()
    (folder / 'potential.yaml').write_bytes(potential.get_yaml_content())
    (folder / 'potential.asi').write_bytes(active_set.get_asi_content())
    start = time.perf_counter()
    write_structures_pickle(
        folder / 'pool.pckl.gzip', [f'p{i:06d}' for i in range(len(atoms_list))], atoms_list
    )
    written = time.perf_counter()
    with PeakMemory(('pace_select',)) as memory:
        subprocess.run(
            [str(_common.BIN / 'pace_select'), 'pool.pckl.gzip', '-p', 'potential.yaml', '-a', 'potential.asi',
             '-m', str(budget), '-o', 'selected.pkl.gz'],
            cwd=folder, check=True, capture_output=True,
        )  # fmt: skip
    done = time.perf_counter()
    return {'input_s': written - start, 'select_s': done - written, 'peak_jobs_mib': memory.jobs}


def through_plugin(
    atoms_list: list, potential, active_set, budget: int, code, as_pool: bool, graded: bool = True
) -> dict:
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    from aiida_pacemaker.data import StructurePoolData

    with PeakMemory(('pace_select', 'gamma_report.py')) as memory:
        start = time.perf_counter()
        if as_pool:
            inputs = {'pool': StructurePoolData.from_ase(atoms_list).store()}
        else:
            inputs = {
                'candidates': {
                    f'p{i:06d}': orm.StructureData(ase=a).store() for i, a in enumerate(atoms_list)
                }
            }
        made = time.perf_counter()
        results, node = engine.run_get_node(
            CalculationFactory('pacemaker.select'),
            code=code,
            potential=potential,
            active_set=active_set,
            parameters=orm.Dict({'max_structures': budget} | ({} if graded else {'grade_candidates': False})),
            **inputs,
        )
        done = time.perf_counter()
    assert node.is_finished_ok, node.exit_message
    return {
        'input_s': made - start,
        'select_s': done - made,
        'peak_jobs_mib': memory.jobs,
        'peak_own_growth_mib': memory.own,
        'num_selected': len(results.get('selected', {})),
    }


def median_run(results: list[dict]) -> dict:
    """Every figure of ``results`` (one dict per repeat) as its median over the repeats."""
    return {key: statistics.median(result[key] for result in results) for key in results[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[2000, 20000])
    parser.add_argument(
        '--nodes-up-to', type=int, default=2000, help='largest pool also run as StructureData nodes'
    )
    parser.add_argument('--budget', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=1, help='alternating runs of each arm (medians)')
    parser.add_argument('--output', default='pool')
    args = parser.parse_args()

    _common.temporary_profile('bench-pool')
    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes
    from aiida_pacemaker.tools.examples import random_bulk_structures

    computer = get_or_create_localhost()
    codes = setup_codes(computer)
    potential, active_set = fitted_potential(codes)
    rows = []
    for size in args.sizes:
        atoms_list = random_bulk_structures(size, seed=size, strain=0.05, rattle=(0.02, 0.1))
        print(f'pool of {size} ({sum(len(a) for a in atoms_list)} atoms), load {os.getloadavg()[0]:.1f}')
        runs: dict[str, list[dict]] = {'by_hand': [], 'pool_node': [], 'pool_node_ungraded': []}
        for repeat in range(args.repeats):
            folder = pathlib.Path(tempfile.mkdtemp()) / 'hand'
            runs['by_hand'].append(by_hand(atoms_list, potential, active_set, args.budget, folder))
            runs['pool_node'].append(
                through_plugin(atoms_list, potential, active_set, args.budget, codes['pace_select'], True)
            )
            runs['pool_node_ungraded'].append(
                through_plugin(
                    atoms_list, potential, active_set, args.budget, codes['pace_select'], True, graded=False
                )
            )
            for arm, results in runs.items():
                print(
                    f'  run {repeat + 1}/{args.repeats} {arm}: {results[-1]}  (load {os.getloadavg()[0]:.1f})'
                )
        hand, pool, ungraded = (
            median_run(runs[arm]) for arm in ('by_hand', 'pool_node', 'pool_node_ungraded')
        )
        row = {
            'size': size,
            'runs': runs,
            'by_hand': hand,
            'pool_node': pool,
            'pool_node_ungraded': ungraded,
            'select_ratio': pool['select_s'] / hand['select_s'],
            'total_ratio': (pool['input_s'] + pool['select_s']) / (hand['input_s'] + hand['select_s']),
            'memory_ratio': (pool['peak_jobs_mib'] + pool['peak_own_growth_mib']) / hand['peak_jobs_mib'],
            'ungraded_select_ratio': ungraded['select_s'] / hand['select_s'],
            'ungraded_total_ratio': (ungraded['input_s'] + ungraded['select_s'])
            / (hand['input_s'] + hand['select_s']),
            'ungraded_memory_ratio': (ungraded['peak_jobs_mib'] + ungraded['peak_own_growth_mib'])
            / hand['peak_jobs_mib'],
        }
        if size <= args.nodes_up_to:
            nodes = through_plugin(
                atoms_list, potential, active_set, args.budget, codes['pace_select'], False
            )
            print(f'  StructureData nodes: {nodes}')
            row['structure_nodes'] = nodes
            row['nodes_total_ratio'] = (nodes['input_s'] + nodes['select_s']) / (
                hand['input_s'] + hand['select_s']
            )
        print(
            f'  ratios to by hand: select step {row["select_ratio"]:.2f}, with the input {row["total_ratio"]:.2f}, '
            f'peak memory {row["memory_ratio"]:.2f}; ungraded: select step {row["ungraded_select_ratio"]:.2f}, '
            f'with the input {row["ungraded_total_ratio"]:.2f}, peak memory {row["ungraded_memory_ratio"]:.2f}'
            + (
                f'; StructureData nodes with the input {row["nodes_total_ratio"]:.2f}'
                if 'nodes_total_ratio' in row
                else ''
            )
        )
        rows.append(row)
    path = _common.write_result(args.output, {'settings': vars(args), 'rows': rows})
    print(f'written: {path}')


if __name__ == '__main__':
    main()
