"""Dataset: a TrainingSetData of N structures made from an extxyz file and exported to pacemaker's pickle.

Both arms start from the same extxyz file (written once, EMT labels) and run in fresh
subprocesses, alternating:

- ``raw``: ``ase.io.read`` -> DataFrame (``name``, ``ase_atoms``, ``energy``, ``forces``, the labels
  taken from ``atoms.calc.results``) -> ``to_pickle(..., compression='gzip')``;
- ``plugin``: ``ase.io.read`` -> ``TrainingSetData.from_ase`` -> ``store()``; then, with the
  Atoms dropped, the node loaded afresh (as the CalcJob does) -> ``write_pacemaker_pickle``.

Reported per arm: wall time of that work (imports excluded), peak RSS of the subprocess
(``ru_maxrss``, imports included) and that peak minus the RSS right after the imports (the
memory the work itself needed). Both pickles are checked to hold
the same energies and forces. ``--large`` also builds and exports 100,000 structures (the 10,000
EMT-labelled cells repeated under new names) once, to check the 4 GB budget.

Targets: plugin / raw time <= 1.5 and linear in N; plugin peak memory <= 2 x raw.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import statistics
import tempfile

import _common

CHILD_PRELUDE = """
import json, resource, sys, time
import ase.io, numpy, pandas
def rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
def current_rss_mib():
    with open('/proc/self/statm') as handle:
        return int(handle.read().split()[1]) * resource.getpagesize() / 2**20
"""

RAW = (
    CHILD_PRELUDE
    + """
extxyz, pickle = sys.argv[1], sys.argv[2]
baseline = current_rss_mib()
start = time.perf_counter()
atoms_list = ase.io.read(extxyz, index=':')
frame = pandas.DataFrame({
    'name': pandas.Series([atoms.info.get('name', str(i)) for i, atoms in enumerate(atoms_list)], dtype=object),
    'ase_atoms': atoms_list,
    'energy': [atoms.calc.results['energy'] for atoms in atoms_list],  # not get_potential_energy(): its
    'forces': [atoms.calc.results['forces'] for atoms in atoms_list],  # check_state costs 40% of the path
})
for atoms in atoms_list:
    atoms.calc = None
frame.to_pickle(pickle, compression='gzip')
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'peak_mib': rss_mib(), 'above_imports_mib': rss_mib() - baseline}))
"""
)

PLUGIN = (
    CHILD_PRELUDE
    + """
from aiida import load_profile, orm
load_profile(sys.argv[3])
from aiida_pacemaker.data import TrainingSetData
extxyz, pickle = sys.argv[1], sys.argv[2]
orm.User.collection.get_default()  # open the storage before the baseline
baseline = current_rss_mib()
start = time.perf_counter()
atoms_list = ase.io.read(extxyz, index=':')
node = TrainingSetData.from_ase(atoms_list).store()
created = time.perf_counter() - start
pk = node.pk
del atoms_list, node  # freed by reference counting; a gc.collect() here would cost 0.1-0.2 s
TrainingSetData.collection.get(pk=pk).write_pacemaker_pickle(pickle)
seconds = time.perf_counter() - start
print(json.dumps({'seconds': seconds, 'create_s': created, 'peak_mib': rss_mib(), 'above_imports_mib': rss_mib() - baseline}))
"""
)


def write_extxyz(path: pathlib.Path, count: int, repeat: int = 1) -> None:
    """EMT-labelled distorted Cu cells; with ``repeat`` > 1 the same cells again under new names."""
    import ase.io

    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    labelled = emt_label(random_bulk_structures(count, seed=1))
    names = [atoms.info['name'] for atoms in labelled]
    with open(path, 'w') as handle:
        for copy in range(repeat):
            for atoms, name in zip(labelled, names, strict=True):
                atoms.info['name'] = f'{name}_{copy}' if repeat > 1 else name
            ase.io.write(handle, labelled, format='extxyz')


def same_content(raw_pickle: pathlib.Path, plugin_pickle: pathlib.Path) -> bool:
    """Both pickles (written by this benchmark) hold the same energies and forces."""
    import numpy as np
    import pandas as pd

    raw = pd.read_pickle(raw_pickle, compression='gzip')
    plugin = pd.read_pickle(plugin_pickle, compression='gzip')
    return bool(
        len(raw) == len(plugin)
        and np.allclose(raw['energy'].to_numpy(float), plugin['energy'].to_numpy(float))
        and all(np.allclose(a, b) for a, b in zip(raw['forces'], plugin['forces'], strict=True))
    )


def measure(sizes: list[int], repeats: int, profile: str, scratch: pathlib.Path) -> dict:
    results = {}
    for size in sizes:
        extxyz = scratch / f'cu_{size}.extxyz'
        write_extxyz(extxyz, size)
        pickles = {name: scratch / f'{name}_{size}.pckl.gzip' for name in ('raw', 'plugin')}
        runs: dict[str, list[dict]] = {'raw': [], 'plugin': []}
        for repeat in range(repeats):
            for name, code in (('raw', RAW), ('plugin', PLUGIN)):
                run = _common.run_child(code, str(extxyz), str(pickles[name]), profile)
                runs[name].append(run)
                print(
                    f'  N={size} run {repeat + 1}/{repeats} {name}: {run["seconds"]:.2f} s, '
                    f'peak {run["peak_mib"]:.0f} MiB (+{run["above_imports_mib"]:.0f} above imports), '
                    f'load {os.getloadavg()[0]:.1f}'
                )
        median = {
            name: {key: statistics.median(run[key] for run in values) for key in values[0]}
            for name, values in runs.items()
        }
        results[size] = {
            'runs': runs,
            'median': median,
            'time_ratio': median['plugin']['seconds'] / median['raw']['seconds'],
            'peak_ratio': median['plugin']['peak_mib'] / median['raw']['peak_mib'],
            'above_imports_ratio': median['plugin']['above_imports_mib'] / median['raw']['above_imports_mib'],
            'same_content': same_content(pickles['raw'], pickles['plugin']),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', type=int, nargs='+', default=[1000, 10000])
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--large', action='store_true', help='also 100,000 structures, once')
    args = parser.parse_args()

    _common.temporary_profile('bench-dataset')
    scratch = pathlib.Path(tempfile.mkdtemp(prefix='bench_dataset_'))
    print(f'dataset: sizes {args.sizes}, {args.repeats} alternating runs per arm, each in a fresh subprocess')
    results = measure(args.sizes, args.repeats, 'bench-dataset', scratch)
    result: dict = {'sizes': results}
    print(f'\n{"N":>7s} {"raw s":>7s} {"plugin s":>8s} {"ratio":>6s} {"raw MiB":>8s} {"plugin MiB":>10s} {"ratio":>6s} '
          f'{"(above imports)":>15s} {"same":>5s}')  # fmt: skip
    for size, entry in results.items():
        raw, plugin = entry['median']['raw'], entry['median']['plugin']
        print(
            f'{size:7d} {raw["seconds"]:7.2f} {plugin["seconds"]:8.2f} {entry["time_ratio"]:6.2f} '
            f'{raw["peak_mib"]:8.0f} {plugin["peak_mib"]:10.0f} {entry["peak_ratio"]:6.2f} '
            f'{entry["above_imports_ratio"]:15.2f} {entry["same_content"]!s:>5s}'
        )
    if len(results) > 1:
        small, large = min(results), max(results)
        scaling = (results[large]['median']['plugin']['seconds'] / large) / (
            results[small]['median']['plugin']['seconds'] / small
        )
        result['per_structure_time_ratio'] = scaling
        print(f'plugin time per structure, N={large} over N={small}: {scaling:.2f} (1.0 = linear)')
    if args.large:
        extxyz = scratch / 'cu_100000.extxyz'
        write_extxyz(extxyz, 10000, repeat=10)
        run = _common.run_child(
            PLUGIN, str(extxyz), str(scratch / 'plugin_100000.pckl.gzip'), 'bench-dataset'
        )
        result['large'] = {'structures': 100000, **run}
        print(f'N=100000 plugin: {json.dumps(run)} (budget 4096 MiB)')
    print(f'written: {_common.write_result("dataset", result)}')


if __name__ == '__main__':
    main()
