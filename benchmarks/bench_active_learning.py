"""Data efficiency: active learning against random selection from the same pool, at equal label budgets.

EMT Cu: a pool of distorted fcc cells, a held-out test set from the same distribution, and a
start of 10 structures drawn from the pool (the same for both arms).

- AL arm: ``PaceActiveLearningWorkChain`` (protocol ``fast`` with 30 functions and 100 BFGS
  iterations, fine-tuning on: each fit continues from the previous potential), 15 new labels
  per cycle chosen by ``pace_select`` (D-optimality) among the candidates in the gamma window
  (by default all: ``--gamma-select 0``, no ``--gamma-max``), labelled with EMT by the plugin's
  ASE labeller. When pace_select returns fewer than 15, the places left are filled with the
  candidates of highest grade (``fill_to_max``; ``--no-fill`` to keep pace_select's choice).
- random arm: the same fits (``PaceTrainWorkChain``, same parameters, test set and schedule,
  each continuing from the previous potential), on the start plus random picks from the pool,
  at the budgets that the AL arm reached; with ``--from-scratch`` also a random arm whose
  every fit starts from scratch.

Printed: both learning curves (test force RMSE in meV/Å from pacemaker's test metrics) and the
ratio AL / random at every budget after the start; written: a PNG of the curves.
Target: geometric mean of the ratio over the budgets <= 0.30.
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import time

import _common


def overrides(args: argparse.Namespace) -> dict:
    return {
        'trainer': {
            'ace_basis_config': {'number_of_functions_per_element': args.functions},
            'fitting_params': {'maxiter': args.maxiter},
        },
        'max_cycles': args.cycles,
        'max_new_structures_per_cycle': args.per_cycle,
        'gamma_select': args.gamma_select,
        'gamma_max': args.gamma_max,
        'target_test_force_rmse': None,
        'fine_tune': True,
        'select': {'fill_to_max': True, 'fill_by': args.fill_by} if args.fill else {'fill_to_max': False},
    }


def run_seed(seed: int, args: argparse.Namespace, codes: dict) -> dict:
    import numpy as np
    from aiida import engine, orm

    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    distribution = {'strain': 0.08, 'rattle': (0.02, 0.25)}
    pool = random_bulk_structures(args.pool, seed=100 + seed, **distribution)
    test_set = TrainingSetData.from_ase(
        emt_label(random_bulk_structures(args.test, seed=900 + seed, **distribution))
    )
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(pool))
    start = [pool[i] for i in order[: args.start]]
    candidates = {f'p{i:03d}': pool[i] for i in order[args.start :]}
    initial = TrainingSetData.from_ase(emt_label(start)).store()
    test_set.store()

    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes,
        training_set=initial,
        test_set=test_set,
        pool={key: orm.StructureData(ase=atoms) for key, atoms in candidates.items()},
        protocol='fast',
        overrides=overrides(args),
    )
    began = time.perf_counter()
    results, node = engine.run_get_node(builder)
    al_seconds = time.perf_counter() - began
    assert node.is_finished_ok, f'PaceActiveLearningWorkChain<{node.pk}>: {node.exit_message}'
    al_curve = [
        (row['num_structures'], row['test_force_rmse']) for row in results['learning_curve'].get_list()
    ]
    print(f'  seed {seed}: AL done in {al_seconds:.0f} s: {al_curve}')

    test_atoms = test_set.to_ase()
    potentials = [results['potentials'][f'cycle_{k}'] for k in range(1, len(al_curve) + 1)]
    details = {'al': [per_structure_errors(potential, test_atoms) for potential in potentials]}

    parameters = builder.train.train.parameters
    random_order = [candidates[key] for key in sorted(candidates)]
    rng.shuffle(random_order)
    budgets = [budget for budget, _ in al_curve]
    run = {'al': al_curve, 'workchain': node.uuid, 'al_seconds': al_seconds}
    if args.random_from:  # the random arms are deterministic: take them from an earlier run of this seed
        earlier = json.loads((_common.results_folder() / f'{args.random_from}.json').read_text())['runs'][
            str(seed)
        ]
        for arm in ('random', 'random from scratch'):
            if arm in earlier:
                assert [b for b, _ in earlier[arm]] == budgets, f'budgets differ from {args.random_from}'
                run[arm] = earlier[arm]
                details[arm] = earlier['details'][arm]
        run['details'] = details
        return run
    for arm, continued in (('random', True), ('random from scratch', False)):
        if arm == 'random from scratch' and not args.from_scratch:
            continue
        began = time.perf_counter()
        run[arm], potentials = random_arm(
            budgets, start, random_order, test_set, parameters, codes, continued
        )
        details[arm] = [per_structure_errors(potential, test_atoms) for potential in potentials]
        print(f'  seed {seed}: {arm} done in {time.perf_counter() - began:.0f} s: {run[arm]}')
    run['details'] = details
    return run


def per_structure_errors(potential, test_atoms: list) -> dict:
    """Force errors of ``potential`` on the test structures (meV/Å): the RMSE over all force
    components (what pacemaker reports), the median of the per-structure RMSEs, and the share of the
    squared error that comes from the 5 worst test structures."""
    import numpy as np

    calculator = potential.get_ase_calculator()
    squared, counts = [], []
    for atoms in test_atoms:
        reference = atoms.get_forces()
        candidate = atoms.copy()
        candidate.calc = calculator
        difference = (candidate.get_forces() - reference) * 1000.0
        squared.append(float(np.sum(difference**2)))
        counts.append(difference.size)
    squared_array, count_array = np.array(squared), np.array(counts)
    per_structure = np.sqrt(squared_array / count_array)
    worst = np.sort(squared_array)[-5:]
    return {
        'rmse': float(np.sqrt(squared_array.sum() / count_array.sum())),
        'median': float(np.median(per_structure)),
        'worst5_share': float(worst.sum() / squared_array.sum()),
    }


def random_arm(budgets, start, random_order, test_set, parameters, codes, continued: bool) -> list:
    """Test force RMSE of the fits on ``start`` plus the first random picks at each budget, and the potentials."""
    from aiida import engine

    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label
    from aiida_pacemaker.workflows.train import PaceTrainWorkChain

    curve, potential, potentials = [], None, []
    for budget in budgets:
        picks = start + random_order[: budget - len(start)]
        inputs = {
            'code': codes['pacemaker'],
            'training_set': TrainingSetData.from_ase(emt_label(picks)).store(),
            'test_set': test_set,
            'parameters': parameters,
        }
        if potential is not None and continued:
            inputs['initial_potential'] = potential
        outputs, node = engine.run_get_node(PaceTrainWorkChain, train=inputs)
        assert node.is_finished_ok, f'PaceTrainWorkChain<{node.pk}>: {node.exit_message}'
        potential = outputs['potential']
        potentials.append(potential)
        curve.append((budget, outputs['metrics']['test_force_rmse']))
    return curve, potentials


def plot(runs: dict, path: pathlib.Path) -> None:
    """One panel per seed: test force RMSE against labelled structures, for every arm."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, len(runs), figsize=(4.5 * len(runs), 4), squeeze=False, sharey=True)
    arms = {'al': ('active learning (fine-tuned)', 'o-'), 'random': ('random (fine-tuned)', 's--')}
    arms['random from scratch'] = ('random (from scratch)', 'x:')
    for axes, (seed, run) in zip(panels[0], runs.items(), strict=True):
        for arm, (label, style) in arms.items():
            if arm in run:
                budgets, rmse = zip(*run[arm], strict=True)
                axes.plot(budgets, rmse, style, label=label)
        axes.set_title(f'EMT Cu, seed {seed}')
        axes.set_xlabel('labelled structures')
        axes.set_yscale('log')
    panels[0][0].set_ylabel('test force RMSE (meV/Å)')
    panels[0][0].legend(fontsize='small')
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def summarise(runs: dict, start: int, result: dict) -> None:
    """Print AL against each random arm, seed by seed, and the geometric mean; store it in ``result``."""
    for arm in ('random', 'random from scratch'):
        if arm not in next(iter(runs.values())):
            continue
        ratios = {}  # budget -> AL / random for each seed, leaving out the common start
        print(f'\nAL (fine-tuned) against {arm}: test force RMSE (meV/Å)')
        print(f'{"seed":>5s} {"labels":>7s} {"AL":>8s} {arm:>20s} {"ratio":>6s}')
        for seed, run in runs.items():
            for (budget, al), (_, other) in zip(run['al'], run[arm], strict=True):
                print(f'{seed:5d} {budget:7d} {al:8.1f} {other:20.1f} {al / other:6.2f}')
                if budget > start:
                    ratios.setdefault(f'{seed}/{budget}', al / other)
        geometric_mean = math.exp(sum(math.log(value) for value in ratios.values()) / len(ratios))
        print(
            f'geometric mean over {len(ratios)} budgets (seeds {sorted(runs)}): {geometric_mean:.2f} (target <= 0.30)'
        )
        result[arm] = {'ratios': ratios, 'geometric_mean': geometric_mean}
        if all('details' in run for run in runs.values()):
            medians = {}
            print(
                f'AL against {arm}, per test structure: median force RMSE, share of the error from the worst 5'
            )
            for seed, run in runs.items():
                for (budget, _), al, other in zip(
                    run['al'], run['details']['al'], run['details'][arm], strict=True
                ):
                    print(
                        f'{seed:5d} {budget:7d} median {al["median"]:7.1f} / {other["median"]:7.1f} '
                        f'= {al["median"] / other["median"]:5.2f}   worst 5: {al["worst5_share"]:4.0%} / '
                        f'{other["worst5_share"]:4.0%}'
                    )
                    if budget > start:
                        medians.setdefault(f'{seed}/{budget}', al['median'] / other['median'])
            median_mean = math.exp(sum(math.log(value) for value in medians.values()) / len(medians))
            print(f'geometric mean of the median ratios: {median_mean:.2f}')
            result[arm]['median_ratios'] = medians
            result[arm]['median_geometric_mean'] = median_mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--pool', type=int, default=400)
    parser.add_argument('--test', type=int, default=150)
    parser.add_argument('--start', type=int, default=10)
    parser.add_argument('--per-cycle', type=int, default=15)
    parser.add_argument('--cycles', type=int, default=5, help='trainings: 10, 25, 40, 55, 70 labels')
    parser.add_argument('--functions', type=int, default=30)
    parser.add_argument('--maxiter', type=int, default=100)
    parser.add_argument('--gamma-select', type=float, default=0.0, help='0: any candidate may be selected')
    parser.add_argument('--gamma-max', type=float, default=None)
    parser.add_argument(
        '--no-fill',
        dest='fill',
        action='store_false',
        help="keep pace_select's choice as is (by default the budget is filled by grade: fill_to_max)",
    )
    parser.add_argument(
        '--fill-by', choices=('grade', 'random'), default='grade', help='how fill_to_max fills the budget'
    )
    parser.add_argument(
        '--random-from',
        metavar='NAME',
        help='take the random arms from the result file NAME.json (same seeds and budgets) instead of fitting',
    )
    parser.add_argument('--from-scratch', action='store_true', help='also a random arm refitted from scratch')
    parser.add_argument('--output', default='active_learning', help='name of the result file and the PNG')
    parser.add_argument(
        '--combine',
        nargs='+',
        metavar='NAME',
        help='summarise the result files NAME.json of runs made separately',
    )
    parser.add_argument('--replot', action='store_true', help='only redraw the PNG from the result file')
    args = parser.parse_args()
    if args.replot:
        runs = json.loads((_common.results_folder() / f'{args.output}.json').read_text())['runs']
        plot({int(seed): run for seed, run in runs.items()}, _common.results_folder() / f'{args.output}.png')
        return

    if args.combine:  # seeds run separately: one table, one geometric mean, one PNG
        runs, settings = {}, []
        for name in args.combine:
            stored = json.loads((_common.results_folder() / f'{name}.json').read_text())
            runs.update({int(seed): run for seed, run in stored['runs'].items()})
            settings.append(stored['settings'])
        result: dict = {'settings': settings, 'combined': args.combine, 'runs': runs}
    else:
        _common.temporary_profile('bench-active-learning')
        from aiida_pacemaker.codes import get_or_create_localhost, setup_codes

        computer = get_or_create_localhost()
        computer.set_minimum_job_poll_interval(1.0)
        codes = setup_codes(computer)
        print(
            f'active learning vs random: seeds {args.seeds}, pool {args.pool}, test {args.test}, {vars(args)}'
        )
        runs = {seed: run_seed(seed, args, codes) for seed in args.seeds}
        result = {'settings': vars(args), 'runs': runs}
    summarise(runs, args.start, result)
    png = _common.results_folder() / f'{args.output}.png'
    plot(runs, png)
    print(f'plot: {png}\nwritten: {_common.write_result(args.output, result)}')


if __name__ == '__main__':
    main()
