"""Data efficiency: active learning against random selection from the same pool, at equal label budgets.

Two systems, both labelled with ASE's EMT (``--systems``; ``fcc-<element>`` and
``alloy-<element>-<element>`` make the same kinds with other EMT elements, data the defaults were not
chosen on):

- ``cu``: distorted fcc Cu cells (4 or 8 atoms, volume strain up to ±8 %, rattle 0.02-0.25 Å);
- ``alloy``: a random Cu-Au alloy (8 or 16 atoms, random composition, Vegard's law, a vacancy in
  30 % of the cells, volume strain up to ±5 %, rattle 0.02-0.15 Å), whose pool also holds 2 %
  unphysical outliers (one atom pushed to 55-70 % of the nearest-neighbour distance).

A pool of candidates, a held-out test set from the typical distribution (no outliers) and a start
of 10 typical structures drawn from the pool (the same for both arms).

- AL arm: ``PaceActiveLearningWorkChain`` (protocol ``fast`` with ``--functions`` functions and the
  fit settings below; fine-tuning on), ``--per-cycle`` new labels per cycle chosen by the selection
  ``--strategy`` among the candidates in the gamma window (by default all; for ``hybrid`` the
  non-MaxVol part by ``--coverage``: ``lcmd``, ``representative``, ``stratified`` or ``random``;
  without it, the protocols' default, ``stratified`` since this release, ``lcmd`` before),
  the budget spent in full (``fill_to_max``), labelled with EMT by the plugin's ASE labeller.
- random arm: the same fits (``PaceTrainWorkChain``, same parameters, test set and schedule, each
  continuing from the previous potential: like for like) on the start plus random picks from the
  pool's typical *and* outlier structures, at the same budgets. The random arm does not depend on
  the strategy: it is cached per system, seed and fit settings (``results/cache/``).

``--weighting energy`` fits both arms with pacemaker's ``EnergyBasedWeightingPolicy`` (``DE``, ``DF``:
``--weighting-de``, ``--weighting-df``; pacemaker's defaults 1 eV/atom and 1 (eV/Å)²): structures far
above the lowest energy and atoms with large forces weigh less in the loss.

Measured on the test set with every potential: force RMSE (meV/Å) over all components, energy
RMSE (meV/atom), and every test structure's own force RMSE (for the median and the 95th
percentile: typical structures and the tail); the labels AL needs to reach the random arm's final
force RMSE; and MD stability of the final potentials: NVT (Langevin) from ``--md-cells`` test cells
(repeated to at least 32 atoms) at ``--md-temperature`` for ``--md-steps`` steps, a run counting as
sane while no pair is closer than ``--md-floor`` times the shortest distance of the test set and the
extrapolation grade (with the potential's own active set) stays below ``--md-gamma``.

Printed and written (``results/<output>.json``, ``.png``): every ratio AL / random per budget and
the geometric means. Goals: force ratio <= 0.30, median per-structure ratio <= 1.0, energy ratio
<= 1.0, MD stability of AL >= random's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import pathlib
import time

import _common

SYSTEMS = ('cu', 'alloy')
#: the same two kinds of system with other EMT elements (data the defaults were not chosen on)
SYSTEM_PATTERNS = ('fcc-<element>', 'alloy-<element>-<element>')


def parse_system(system: str) -> tuple[str, tuple[str, ...]]:
    """``('fcc', (element,))`` or ``('alloy', (first, second))`` of a ``--systems`` name."""
    from aiida_pacemaker.tools.examples import EMT_FCC_LATTICE_CONSTANTS

    kind, *elements = {'cu': 'fcc-Cu', 'alloy': 'alloy-Cu-Au'}.get(system, system).split('-')
    wanted = {'fcc': 1, 'alloy': 2}.get(kind)
    unknown = [element for element in elements if element not in EMT_FCC_LATTICE_CONSTANTS]
    if wanted is None or len(elements) != wanted or unknown or len(set(elements)) != len(elements):
        raise argparse.ArgumentTypeError(
            f'unknown system {system!r}: use {", ".join(SYSTEMS + SYSTEM_PATTERNS)} with EMT fcc elements '
            f'({", ".join(EMT_FCC_LATTICE_CONSTANTS)})'
        )
    return kind, tuple(elements)


def system_name(system: str) -> str:
    parse_system(system)
    return system


# ---------------------------------------------------------------------------------------------- data
def make_data(system: str, seed: int, args: argparse.Namespace) -> tuple[list, list, list, dict]:
    """(start, test, pool-of-candidates by key): ASE Atoms; the start and the test set are labelled."""
    import numpy as np

    from aiida_pacemaker.tools.examples import (
        EMT_FCC_LATTICE_CONSTANTS,
        emt_label,
        random_alloy_structures,
        random_bulk_structures,
    )

    kind, elements = parse_system(system)
    if kind == 'fcc':
        distribution = {
            'strain': 0.08,
            'rattle': (0.02, 0.25),
            'element': elements[0],
            'lattice_constant': EMT_FCC_LATTICE_CONSTANTS[elements[0]],
        }
        pool = random_bulk_structures(args.pool, seed=100 + seed, **distribution)
        test = random_bulk_structures(args.test, seed=900 + seed, **distribution)
    else:
        outliers = max(1, round(0.02 * args.pool))
        pool = random_alloy_structures(args.pool, elements=elements, seed=100 + seed, outliers=outliers)
        test = random_alloy_structures(args.test, elements=elements, seed=900 + seed)
    rng = np.random.default_rng(seed)
    typical = [i for i, atoms in enumerate(pool) if not atoms.info.get('outlier')]
    start_indices = [typical[i] for i in rng.permutation(len(typical))[: args.start]]
    start = emt_label([pool[i] for i in start_indices])
    candidates = {f'p{i:03d}': pool[i] for i in range(len(pool)) if i not in set(start_indices)}
    return start, emt_label(test), candidates, {'outliers': sum(1 for a in pool if a.info.get('outlier'))}


# ---------------------------------------------------------------------------------------------- arms
def al_overrides(args: argparse.Namespace) -> dict:
    select = {'fill_to_max': True, 'strategy': args.strategy}
    if args.strategy == 'hybrid':
        select['tail_fraction'] = args.tail_fraction
        if args.tail_min_gamma is not None:
            select['tail_min_gamma'] = args.tail_min_gamma
        if args.coverage:
            select['coverage'] = args.coverage
    if args.min_distance_factor:
        select['min_distance_factor'] = args.min_distance_factor
    fitting = {'maxiter': args.maxiter}
    if args.converge:
        fitting |= {
            'min_relative_train_loss_per_iter': args.converge,
            'early_stopping_patience': args.patience,
        }
    if args.weighting == 'energy':  # pacemaker's EnergyBasedWeightingPolicy, in both arms (same parameters)
        fitting['weighting'] = {
            'type': 'EnergyBasedWeightingPolicy',
            'DE': args.weighting_de,
            'DF': args.weighting_df,
        }
    return {
        'trainer': {
            'ace_basis_config': {'number_of_functions_per_element': args.functions},
            'fitting_params': fitting,
        },
        'max_cycles': args.cycles,
        'max_new_structures_per_cycle': args.per_cycle,
        'gamma_select': args.gamma_select,
        'gamma_max': args.gamma_max,
        'target_test_force_rmse': None,
        'fine_tune': True,
        'refit_tolerance': args.refit_tolerance,
        'select': select,
    }


def al_arm(start, test_set, candidates, args, codes) -> tuple[list, list, object, object, list]:
    """Budgets and potentials of every cycle, the final active set, the builder and the keys of the
    candidates that were labelled (the last cycle's picks are not)."""
    from aiida import engine, orm

    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes,
        training_set=TrainingSetData.from_ase(start).store(),
        test_set=test_set,
        pool={key: orm.StructureData(ase=atoms) for key, atoms in candidates.items()},
        protocol='fast',
        overrides=al_overrides(args),
    )
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, f'PaceActiveLearningWorkChain<{node.pk}>: {node.exit_message}'
    curve = results['learning_curve'].get_list()
    potentials = [results['potentials'][f'cycle_{row["cycle"]}'] for row in curve]
    reasons: dict[str, int] = {}
    selections = sorted(
        (c for c in node.called if c.process_label == 'PaceSelectCalculation' and c.is_finished_ok),
        key=lambda c: c.ctime,
    )
    labelled: list[str] = []
    for index, called in enumerate(selections):
        report = called.outputs.report.get_dict()
        for reason in report.get('reasons', {}).values():
            reasons[reason] = reasons.get(reason, 0) + 1
        if index < len(curve) - 1:  # the selection of the last cycle is not labelled
            labelled.extend(report.get('selected', []))
    print(f'    AL picks by reason: {reasons}')
    return [row['num_structures'] for row in curve], potentials, results['active_set'], builder, labelled


def random_order(candidates: dict, seed: int) -> list:
    """The random arm's picking order: the candidates (by key) in a permutation seeded with ``seed``."""
    import numpy as np

    order = [candidates[key] for key in sorted(candidates)]
    np.random.default_rng(seed).shuffle(order)
    return order


def random_arm(budgets, start, random_order, test_set, parameters, codes, args) -> tuple[list, object]:
    """Potentials fitted on the start plus the first random picks at each budget, as the workchain fits
    its cycles (each fit continuing from the previous one, refitted when it stalls), and the active set of
    the last one."""
    from aiida import engine

    from aiida_pacemaker.calculations.activeset import PaceActiveSetCalculation
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.comparison import fit_schedule
    from aiida_pacemaker.tools.examples import emt_label

    labelled = emt_label(random_order[: max(budgets) - len(start)])
    training_sets = [
        TrainingSetData.from_ase(start + labelled[: budget - len(start)]).store() for budget in budgets
    ]
    fits = fit_schedule(
        training_sets,
        code=codes['pacemaker'],
        parameters=parameters,
        test_set=test_set,
        fine_tune=True,
        refit_tolerance=args.refit_tolerance,
    )
    potentials = [fit['potential'] for fit in fits]
    potential, training_set = potentials[-1], training_sets[-1]
    print(f'    random arm refitted: {[fit["refitted"] for fit in fits]}')
    outputs, node = engine.run_get_node(
        PaceActiveSetCalculation, code=codes['pace_activeset'], potential=potential, training_set=training_set
    )
    assert node.is_finished_ok, f'PaceActiveSetCalculation<{node.pk}>: {node.exit_message}'
    return potentials, outputs['active_set']


# ---------------------------------------------------------------------------------------------- metrics
def test_errors(potential, test_atoms: list) -> dict:
    """Force RMSE over all components (meV/Å), energy RMSE (meV/atom), and per test structure: force
    RMSE (meV/Å) and |energy error| per atom (meV/atom)."""
    import numpy as np

    calculator = potential.get_ase_calculator()
    squared, counts, forces, energies = [], [], [], []
    for atoms in test_atoms:
        candidate = atoms.copy()
        candidate.calc = calculator
        difference = (candidate.get_forces() - atoms.get_forces()) * 1000.0
        squared.append(float(np.sum(difference**2)))
        counts.append(difference.size)
        forces.append(math.sqrt(squared[-1] / counts[-1]))
        energy = (candidate.get_potential_energy() - atoms.get_potential_energy()) * 1000.0 / len(atoms)
        energies.append(abs(float(energy)))
    return {
        'force_rmse': math.sqrt(sum(squared) / sum(counts)),
        'energy_rmse': math.sqrt(sum(e * e for e in energies) / len(energies)),
        'per_structure_force': [round(value, 4) for value in forces],
        'per_structure_energy': [round(value, 4) for value in energies],
    }


def md_stability(potential, active_set, cells: list, args: argparse.Namespace, floor: float) -> list[dict]:
    """NVT MD from each cell; per run: steps survived, shortest distance (Å), max gamma, sane or not."""
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    calculator = potential.get_ase_calculator(active_set=active_set)
    gamma_of = calculator.calc if hasattr(calculator, 'calc') else calculator  # a baseline sum wraps it
    runs = []
    for index, cell in enumerate(cells):
        atoms = cell.copy()
        while len(atoms) < 32:
            atoms = atoms.repeat((2, 1, 1) if len(atoms) * 2 <= 64 else (1, 1, 1))
        atoms.calc = calculator
        MaxwellBoltzmannDistribution(
            atoms, temperature_K=args.md_temperature, rng=np.random.default_rng(index)
        )
        dynamics = Langevin(
            atoms,
            2.0 * units.fs,
            temperature_K=args.md_temperature,
            friction=0.02,
            rng=np.random.default_rng(index),
        )
        record = {'steps': 0, 'min_distance': math.inf, 'max_gamma': 0.0, 'sane': True}
        for step in range(0, args.md_steps, 10):
            try:
                dynamics.run(10)
                distances = atoms.get_all_distances(mic=True)
                np.fill_diagonal(distances, math.inf)
                shortest = float(distances.min())
                gamma = float(np.max(gamma_of.results.get('gamma', [0.0])))
            except Exception as exception:  # an exploding potential may crash the calculator
                record.update(sane=False, reason=f'{type(exception).__name__}')
                break
            record.update(steps=step + 10, min_distance=min(record['min_distance'], shortest))
            record['max_gamma'] = max(record['max_gamma'], gamma)
            if shortest < floor or not np.isfinite(gamma) or gamma > args.md_gamma:
                record['sane'] = False
                break
        runs.append(record)
    return runs


def shortest_distance(structures: list) -> float:
    import numpy as np

    shortest = math.inf
    for atoms in structures:
        distances = atoms.get_all_distances(mic=True)
        np.fill_diagonal(distances, math.inf)
        shortest = min(shortest, float(distances.min()))
    return shortest


# ---------------------------------------------------------------------------------------------- one seed
def random_cache_key(
    system: str, seed: int, args: argparse.Namespace, parameters: dict, budgets: list
) -> str:
    settings = {
        'system': system,
        'seed': seed,
        'pool': args.pool,
        'test': args.test,
        'start': args.start,
        'budgets': budgets,
        'parameters': parameters,
        'md': [args.md_cells, args.md_steps, args.md_temperature, args.md_floor, args.md_gamma],
        'version': 2,
    }
    if args.refit_tolerance < 1e6:  # (runs that never refit keep the key they had before the option)
        settings['refit_tolerance'] = args.refit_tolerance
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def run_seed(system: str, seed: int, args: argparse.Namespace, codes: dict) -> dict:
    from aiida_pacemaker.data import TrainingSetData

    start, test, candidates, info = make_data(system, seed, args)
    test_set = TrainingSetData.from_ase(test).store()
    floor = args.md_floor * shortest_distance(test)
    md_cells = test[: args.md_cells]

    began = time.perf_counter()
    budgets, potentials, active_set, builder, labelled = al_arm(start, test_set, candidates, args, codes)
    run: dict = {'budgets': budgets, 'al_seconds': time.perf_counter() - began, **info}
    # unphysical cells of the pool (alloy: atoms pushed to 55-70 % of the neighbour distance) that got a label
    run['al_outliers_labelled'] = sum(1 for key in labelled if candidates[key].info.get('outlier'))
    run['al'] = [test_errors(potential, test) for potential in potentials]
    run['al_md'] = md_stability(potentials[-1], active_set, md_cells, args, floor)
    print(
        f'  {system} seed {seed}: AL {run["al_seconds"]:.0f} s, force RMSE '
        f'{[round(e["force_rmse"], 1) for e in run["al"]]}, MD sane {sum(r["sane"] for r in run["al_md"])}'
    )

    parameters = builder.train.train.parameters
    cache = _common.results_folder() / 'cache'
    cache.mkdir(exist_ok=True)
    key = random_cache_key(system, seed, args, parameters.get_dict(), budgets)
    cached = cache / f'random_{system}_{seed}_{key}.json'
    order = random_order(candidates, seed)
    picked = order[: max(budgets) - len(start)]
    run['random_outliers_labelled'] = sum(1 for atoms in picked if atoms.info.get('outlier'))
    if cached.exists():
        run |= json.loads(cached.read_text())
    else:
        began = time.perf_counter()
        potentials, active_set = random_arm(budgets, start, order, test_set, parameters, codes, args)
        random = {
            'random_seconds': time.perf_counter() - began,
            'random': [test_errors(potential, test) for potential in potentials],
            'random_md': md_stability(potentials[-1], active_set, md_cells, args, floor),
        }
        cached.write_text(json.dumps(random) + '\n')
        run |= random
    print(
        f'  {system} seed {seed}: random force RMSE {[round(e["force_rmse"], 1) for e in run["random"]]}, '
        f'MD sane {sum(r["sane"] for r in run["random_md"])}'
    )
    return run


# ---------------------------------------------------------------------------------------------- summary
def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else math.nan


def labels_to_reach(budgets: list[int], rmse: list[float], target: float) -> float:
    """Labels at which the curve first reaches ``target`` (linear in budget, log in RMSE); inf if never."""
    for index, value in enumerate(rmse):
        if value <= target:
            if index == 0:
                return float(budgets[0])
            b0, b1, r0, r1 = budgets[index - 1], budgets[index], rmse[index - 1], value
            return b0 + (b1 - b0) * (math.log(r0) - math.log(target)) / (math.log(r0) - math.log(r1))
    return math.inf


def seed_interval(ratios: dict[str, float], level: float = 0.9, resamples: int = 4000) -> list[float]:
    """A bootstrap interval over seeds of the geometric mean of ``ratios`` (keys ``seed/budget``).

    The seeds are resampled with replacement (each keeps all its budgets), so the interval shows how far
    the mean moves with the choice of seeds: the fits' own spread between seeds (RESULTS.md §4: up to 2x
    on one seed from the optimisation path alone) is in it. Percentile interval, seeded: deterministic.
    """
    import numpy as np

    by_seed: dict[str, list[float]] = {}
    for key, value in ratios.items():
        by_seed.setdefault(key.split('/')[0], []).append(math.log(value))
    means = np.array([np.mean(logs) for logs in by_seed.values()])
    if len(means) < 2:
        return [math.nan, math.nan]
    draws = np.random.default_rng(0).choice(means, size=(resamples, len(means)), replace=True).mean(axis=1)
    low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
    return [float(math.exp(low)), float(math.exp(high))]


def summarise(system: str, runs: dict, start: int) -> dict:
    import numpy as np

    ratios: dict[str, dict[str, float]] = {'force': {}, 'energy': {}, 'median': {}, 'p95': {}}
    print(f'\n{system}: AL / random (like for like), per budget')
    print(
        f'{"seed":>4s} {"labels":>6s} {"F AL":>7s} {"F rnd":>7s} {"F":>5s} {"E":>5s} {"med":>5s} {"p95":>5s}'
    )
    labels = {}
    md = {'al': 0, 'random': 0, 'runs': 0}
    for seed, run in runs.items():
        for budget, al, other in zip(run['budgets'], run['al'], run['random'], strict=True):
            row = {
                'force': al['force_rmse'] / other['force_rmse'],
                'energy': al['energy_rmse'] / other['energy_rmse'],
                'median': float(
                    np.median(al['per_structure_force']) / np.median(other['per_structure_force'])
                ),
                'p95': float(
                    np.percentile(al['per_structure_force'], 95)
                    / np.percentile(other['per_structure_force'], 95)
                ),
            }
            print(
                f'{seed:4d} {budget:6d} {al["force_rmse"]:7.1f} {other["force_rmse"]:7.1f} '
                + ' '.join(f'{row[k]:5.2f}' for k in ('force', 'energy', 'median', 'p95'))
            )
            if budget > start:
                for name, value in row.items():
                    ratios[name][f'{seed}/{budget}'] = value
        target = run['random'][-1]['force_rmse']
        labels[str(seed)] = labels_to_reach(run['budgets'], [e['force_rmse'] for e in run['al']], target)
        md['al'] += sum(r['sane'] for r in run['al_md'])
        md['random'] += sum(r['sane'] for r in run['random_md'])
        md['runs'] += len(run['al_md'])
    means = {name: geometric_mean(list(values.values())) for name, values in ratios.items()}
    final = max(next(iter(runs.values()))['budgets'])
    print(
        f'geometric means over {len(ratios["force"])} budgets: force {means["force"]:.2f} (goal <= 0.30), '
        f'energy {means["energy"]:.2f} (<= 1.0), median per-structure {means["median"]:.2f} (<= 1.0), '
        f'95th percentile {means["p95"]:.2f}'
    )
    intervals = {name: seed_interval(values) for name, values in ratios.items()}
    print(
        f'90 % bootstrap intervals over the {len(runs)} seeds: '
        + ', '.join(f'{name} {low:.2f}-{high:.2f}' for name, (low, high) in intervals.items())
    )
    print(f"labels AL needs to reach random's force RMSE at {final}: {labels}")
    print(f'MD stable runs: AL {md["al"]} / random {md["random"]} of {md["runs"]}')
    outliers = {
        arm: [run.get(f'{arm}_outliers_labelled') for run in runs.values()] for arm in ('al', 'random')
    }
    if any(count for counts in outliers.values() for count in counts if count is not None):
        print(f'unphysical pool cells labelled, per seed: AL {outliers["al"]}, random {outliers["random"]}')
    return {
        'ratios': ratios,
        'geometric_means': means,
        'seed_intervals_90': intervals,
        'labels_to_reach_random_final': labels,
        'md_sane': md,
        'outliers_labelled': outliers,
    }


def plot(results: dict, path: pathlib.Path) -> None:
    """One panel per system and seed: test force RMSE against labelled structures, AL and random."""
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    panels_wanted = [(system, seed, run) for system, runs in results.items() for seed, run in runs.items()]
    columns = min(6, len(panels_wanted))
    rows = math.ceil(len(panels_wanted) / columns)
    figure, panels = plt.subplots(rows, columns, figsize=(3.2 * columns, 3.0 * rows), squeeze=False)
    for axes, (system, seed, run) in zip(panels.flat, panels_wanted, strict=False):
        axes.plot(run['budgets'], [e['force_rmse'] for e in run['al']], 'o-', label='active learning')
        axes.plot(run['budgets'], [e['force_rmse'] for e in run['random']], 's--', label='random')
        axes.set_title(f'{system}, seed {seed}', fontsize='small')
        axes.set_yscale('log')
        axes.set_xlabel('labels')
    for axes in panels.flat[len(panels_wanted) :]:
        axes.axis('off')
    panels[0][0].set_ylabel('test force RMSE (meV/Å)')
    panels[0][0].legend(fontsize='x-small')
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--systems',
        nargs='+',
        type=system_name,
        default=list(SYSTEMS),
        help=f'{", ".join(SYSTEMS)} (Cu; Cu-Au), or the same kinds with other EMT elements: '
        f'{", ".join(SYSTEM_PATTERNS)}, e.g. fcc-Ni, alloy-Ni-Pt',
    )
    parser.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2, 3, 4, 5])
    parser.add_argument('--pool', type=int, default=400)
    parser.add_argument('--test', type=int, default=150)
    parser.add_argument('--start', type=int, default=10)
    parser.add_argument('--per-cycle', type=int, default=15)
    parser.add_argument('--cycles', type=int, default=5, help='trainings: 10, 25, 40, 55, 70 labels')
    parser.add_argument('--functions', type=int, default=30)
    parser.add_argument('--maxiter', type=int, default=100)
    parser.add_argument(
        '--converge',
        type=float,
        default=None,
        help='min_relative_train_loss_per_iter: stop a fit on convergence',
    )
    parser.add_argument('--patience', type=int, default=50, help='early_stopping_patience (iterations)')
    parser.add_argument(
        '--refit-tolerance',
        type=float,
        default=1e9,
        help='refit a stalled fine-tuned fit from scratch (both arms; the protocols use 0.25); default: never',
    )
    parser.add_argument(
        '--weighting',
        choices=('uniform', 'energy'),
        default='uniform',
        help="fit weights (both arms): pacemaker's uniform default or its EnergyBasedWeightingPolicy",
    )
    parser.add_argument(
        '--weighting-de', type=float, default=1.0, help='EnergyBasedWeightingPolicy DE (eV/atom; its default)'
    )
    parser.add_argument(
        '--weighting-df', type=float, default=1.0, help='EnergyBasedWeightingPolicy DF ((eV/Å)²; its default)'
    )
    parser.add_argument(
        '--strategy',
        choices=('maxvol', 'hybrid', 'lcmd', 'representative', 'stratified', 'maxdist', 'random'),
        default='maxvol',
    )
    parser.add_argument('--tail-fraction', type=float, default=0.5)
    parser.add_argument(
        '--tail-min-gamma',
        type=float,
        default=None,
        help="hybrid: the lowest grade of MaxVol's share (e.g. 1: only what extrapolates); the rest to coverage",
    )
    parser.add_argument(
        '--coverage',
        choices=('lcmd', 'representative', 'stratified', 'random'),
        default=None,
        help="how hybrid spends the rest (default: the protocols', stratified)",
    )
    parser.add_argument('--gamma-select', type=float, default=0.0, help='0: any candidate may be selected')
    parser.add_argument('--gamma-max', type=float, default=None)
    parser.add_argument(
        '--min-distance-factor',
        type=float,
        default=None,
        help='leave out candidates with closer atoms (x training)',
    )
    parser.add_argument('--md-cells', type=int, default=10)
    parser.add_argument('--md-steps', type=int, default=300)
    parser.add_argument('--md-temperature', type=float, default=1000.0, help='K')
    parser.add_argument('--md-floor', type=float, default=0.6, help='x the shortest distance of the test set')
    parser.add_argument('--md-gamma', type=float, default=25.0)
    parser.add_argument('--output', default='active_learning_strategies')
    parser.add_argument(
        '--combine',
        nargs='+',
        metavar='NAME',
        help='summarise result files run separately (NAME.partial: the seeds of a run so far)',
    )
    args = parser.parse_args()

    if args.combine:
        results: dict = {}
        for name in args.combine:
            stored = json.loads((_common.results_folder() / f'{name}.json').read_text())
            # a finished run's file, or the `.partial` one of a run still going (its seeds so far)
            for system, runs in stored.get('runs', stored).items():
                results.setdefault(system, {}).update({int(seed): run for seed, run in runs.items()})
        settings = {'combined': args.combine}
    else:
        _common.temporary_profile('bench-active-learning')
        from aiida_pacemaker.codes import get_or_create_localhost, setup_codes

        computer = get_or_create_localhost()
        codes = setup_codes(computer)
        print(f'active learning vs random: {vars(args)}')
        partial = _common.results_folder() / f'{args.output}.partial.json'
        results = {}
        if partial.exists():  # seeds done by an earlier, interrupted run with the same output name
            done = json.loads(partial.read_text())
            results = {
                system: {int(seed): run for seed, run in runs.items()} for system, runs in done.items()
            }
            print(
                f'resuming: { ({system: sorted(runs) for system, runs in results.items()}) } from {partial}'
            )
        for system in args.systems:
            for seed in args.seeds:
                if seed in results.get(system, {}):
                    continue
                results.setdefault(system, {})[seed] = run_seed(system, seed, args, codes)
                partial.write_text(json.dumps(results) + '\n')  # a seed is never lost to a later crash
        results = {system: {seed: results[system][seed] for seed in args.seeds} for system in args.systems}
        settings = vars(args)
    summaries = {system: summarise(system, runs, args.start) for system, runs in results.items()}
    png = _common.results_folder() / f'{args.output}.png'
    plot(results, png)
    path = _common.write_result(args.output, {'settings': settings, 'summaries': summaries, 'runs': results})
    print(f'plot: {png}\nwritten: {path}')


if __name__ == '__main__':
    main()
