"""Which test structures does active learning lose on? Per-structure errors of a finished benchmark, by how
far each test structure is from the ideal lattice.

Reads a ``bench_active_learning.py`` result file (its per-structure test force RMSE of both arms),
rebuilds the test set of every seed exactly as the benchmark does (``make_data``: the same seeds, EMT
labels), and sorts the test structures into quantile bins (quartiles by default) of a property:
``--by energy`` (the default), their EMT energy above the seed's lowest test energy (meV/atom: a
measure of how distorted a cell is); ``--by composition``, the fraction of the heavier element (a
binary alloy); ``--by size``, the number of atoms. Prints, per bin and budget, the geometric mean over
the seeds of the per-structure ratio AL / random, and the median per-structure force RMSE of each arm.
No fits are run.

    python analyse_typical_structures.py al_hybrid_cu_seeds_0-5 --system cu
    python analyse_typical_structures.py al_stratified_alloy --system alloy --by composition --quantiles 3
"""

from __future__ import annotations

import argparse
import json
import math

import _common
import numpy as np

UNITS = {
    'energy': 'meV/atom above the lowest',
    'composition': 'fraction of the heavier element',
    'size': 'atoms',
}


def binned_property(structures: list, by: str) -> np.ndarray:
    """The property of every structure that the bins are quantiles of (see the module)."""
    if by == 'energy':
        energy = np.array([atoms.get_potential_energy() / len(atoms) for atoms in structures]) * 1000.0
        return energy - energy.min()
    if by == 'composition':
        heaviest = max(int(number) for atoms in structures for number in atoms.numbers)
        return np.array([np.mean(atoms.numbers == heaviest) for atoms in structures])
    return np.array([len(atoms) for atoms in structures], dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('result', help='name of the result file in results/ (without .json)')
    parser.add_argument('--system', default='cu')
    parser.add_argument('--quantiles', type=int, default=4)
    parser.add_argument('--by', choices=('energy', 'composition', 'size'), default='energy')
    args = parser.parse_args()

    import bench_active_learning as bench

    stored = json.loads((_common.results_folder() / f'{args.result}.json').read_text())
    runs = stored['runs'][args.system]
    settings = argparse.Namespace(pool=400, test=150, start=10)
    table: dict[tuple[int, int], list[tuple[float, float]]] = {}
    for seed, run in sorted(runs.items(), key=lambda item: int(item[0])):
        _, test, _, _ = bench.make_data(args.system, int(seed), settings)
        value = binned_property(test, args.by)
        edges = np.quantile(value, np.linspace(0, 1, args.quantiles + 1))
        quartile = np.clip(np.searchsorted(edges, value, side='right') - 1, 0, args.quantiles - 1)
        for index, budget in enumerate(run['budgets']):
            if index == 0:
                continue  # the start: both arms the same potential
            al = np.array(run['al'][index]['per_structure_force'])
            random = np.array(run['random'][index]['per_structure_force'])
            for q in range(args.quantiles):
                mask = quartile == q
                table.setdefault((q, budget), []).extend(zip(al[mask], random[mask], strict=True))
        print(f'seed {seed}: {args.by} bin edges ({UNITS[args.by]}) {np.round(edges, 2).tolist()}')
    budgets = sorted({budget for _, budget in table})
    print(
        '\nper-structure force RMSE, AL / random (geometric mean over seeds and structures); medians in meV/Å'
    )
    print('bin       ' + '  '.join(f'{budget:>22d}' for budget in budgets))
    for q in range(args.quantiles):
        cells = []
        for budget in budgets:
            pairs = table[(q, budget)]
            ratio = math.exp(np.mean([math.log(a / r) for a, r in pairs]))
            cells.append(
                f'{ratio:5.2f} ({np.median([a for a, _ in pairs]):6.1f} / {np.median([r for _, r in pairs]):6.1f})'
            )
        print(f'{q + 1:>8d}  ' + '  '.join(f'{cell:>22s}' for cell in cells))


if __name__ == '__main__':
    main()
