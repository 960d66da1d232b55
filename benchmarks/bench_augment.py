"""Does pace_augment make a potential more stable in MD? The same fit with and without its structures.

Per system and seed: a training set of EMT-labelled structures (``cu``: distorted fcc Cu cells;
``alloy``: the random Cu-Au alloy cells of ``bench_active_learning.py``, without outliers) and a test set
from the same distribution.

- plain: ``PaceTrainWorkChain`` (protocol ``fast``, ``--functions`` functions, fits stop on convergence
  or at ``--maxiter``) on the training set; its active set (``pace_activeset``).
- augmented: pace_augment with the plain potential, its active set and the training set as seeds
  (``aiida_pacemaker.utilities.augment_training_set``, pace_augment's defaults), merged into the
  training set, and the same fit from scratch on the merged set (the ZBL-labelled structures weighted
  down by pacemaker's ``data.aug_factor``, 1e-4 unless ``--aug-factor`` says otherwise; both fits get
  the same setting).

Measured for both potentials: force and energy RMSE on the test set (what augmentation may cost), and
MD stability: NVT (Langevin, 1 fs, friction 0.02/fs) from ``--md-cells`` test cells (repeated to at
least 32 atoms, compressed by ``--compress`` in volume) at each of ``--temperatures`` for ``--md-steps``
steps; a run is sane while its energy is finite and no pair is closer than ``--floor`` times the
training set's shortest distance. Also the shortest distance each run reached and the dimer energy of
the potential at 1.0 and 1.5 Å (eV; repulsive is large and positive).

Printed and written (``results/<output>.json``): per system, seed and temperature the sane runs of each
potential (augmented / plain), and the test RMSEs side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import _common


def make_data(system: str, seed: int, count: int, test: int) -> tuple[list, list]:
    """(training, test) structures, EMT-labelled."""
    from aiida_pacemaker.tools.examples import emt_label, random_alloy_structures, random_bulk_structures

    if system == 'cu':
        distribution = {'strain': 0.08, 'rattle': (0.02, 0.25)}
        return (
            emt_label(random_bulk_structures(count, seed=300 + seed, **distribution)),
            emt_label(random_bulk_structures(test, seed=700 + seed, **distribution)),
        )
    return (
        emt_label(random_alloy_structures(count, seed=300 + seed)),
        emt_label(random_alloy_structures(test, seed=700 + seed)),
    )


def fit(codes: dict, training_set, test_set, args: argparse.Namespace):
    """The potential fitted by ``PaceTrainWorkChain`` (protocol fast, convergence stop)."""
    from aiida import engine

    from aiida_pacemaker.workflows.train import PaceTrainWorkChain

    trainer: dict = {
        'ace_basis_config': {'number_of_functions_per_element': args.functions},
        'fitting_params': {
            'maxiter': args.maxiter,
            'min_relative_train_loss_per_iter': 2e-3,
            'early_stopping_patience': 20,
        },
    }
    if args.aug_factor is not None:  # a flat key of pacemaker's `data` section
        trainer['fitting_params']['aug_factor'] = args.aug_factor
    builder = PaceTrainWorkChain.get_builder_from_protocol(
        codes['pacemaker'], training_set, test_set=test_set, protocol='fast', overrides={'trainer': trainer}
    )
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, f'PaceTrainWorkChain<{node.pk}>: {node.exit_message}'
    return results['potential']


def active_set_of(codes: dict, potential, training_set):
    from aiida import engine

    from aiida_pacemaker.calculations.activeset import PaceActiveSetCalculation

    results, node = engine.run_get_node(
        PaceActiveSetCalculation, code=codes['pace_activeset'], potential=potential, training_set=training_set
    )
    assert node.is_finished_ok, f'PaceActiveSetCalculation<{node.pk}>: {node.exit_message}'
    return results['active_set']


def test_errors(potential, test_atoms: list) -> dict:
    """Force RMSE over all components (meV/Å) and energy RMSE (meV/atom)."""
    import numpy as np

    calculator = potential.get_ase_calculator()
    squared, count, energies = 0.0, 0, []
    for atoms in test_atoms:
        candidate = atoms.copy()
        candidate.calc = calculator
        difference = (candidate.get_forces() - atoms.get_forces()) * 1000.0
        squared += float(np.sum(difference**2))
        count += difference.size
        energies.append(
            (candidate.get_potential_energy() - atoms.get_potential_energy()) * 1000.0 / len(atoms)
        )
    return {
        'force_rmse': math.sqrt(squared / count),
        'energy_rmse': math.sqrt(sum(e * e for e in energies) / len(energies)),
    }


def md_runs(potential, cells: list, temperature: float, args: argparse.Namespace, floor: float) -> list[dict]:
    """NVT MD from each cell at ``temperature`` (K); per run: steps, shortest distance (Å), sane."""
    import numpy as np
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    calculator = potential.get_ase_calculator()
    runs = []
    for index, cell in enumerate(cells):
        atoms = cell.copy()
        while len(atoms) < 32:
            atoms = atoms.repeat((2, 1, 1))
        atoms.set_cell(atoms.cell * (1.0 - args.compress) ** (1 / 3), scale_atoms=True)
        atoms.calc = calculator
        rng = np.random.default_rng(index)
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
        dynamics = Langevin(atoms, 1.0 * units.fs, temperature_K=temperature, friction=0.02, rng=rng)
        record = {'steps': 0, 'min_distance': math.inf, 'sane': True}
        for step in range(0, args.md_steps, 10):
            try:
                dynamics.run(10)
                energy = atoms.get_potential_energy()
                distances = atoms.get_all_distances(mic=True)
            except Exception as exception:  # an exploding potential may crash the calculator
                record.update(sane=False, reason=type(exception).__name__)
                break
            np.fill_diagonal(distances, math.inf)
            record.update(steps=step + 10, min_distance=min(record['min_distance'], float(distances.min())))
            if not math.isfinite(energy) or record['min_distance'] < floor:
                record['sane'] = False
                break
        runs.append(record)
    return runs


def dimer_energies(potential, element: str, distances: tuple[float, ...] = (1.0, 1.5)) -> list[float]:
    """Energy (eV) of an isolated ``element`` dimer at ``distances`` (Å), relative to 6 Å."""
    from aiida_pacemaker.baselines import dimer_curve

    energies, _ = dimer_curve(potential.get_ase_calculator(), (element, element), [*distances, 6.0])
    return [float(e - energies[-1]) for e in energies[:-1]]


def run_seed(system: str, seed: int, args: argparse.Namespace, codes: dict) -> dict:
    from aiida_pacemaker.baselines import min_interatomic_distance
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.utilities import augment_training_set

    training, test = make_data(system, seed, args.structures, args.test)
    training_set = TrainingSetData.from_ase(training).store()
    test_set = TrainingSetData.from_ase(test).store()
    floor = args.floor * min_interatomic_distance(training_set.get_arrays())
    began = time.perf_counter()
    plain = fit(codes, training_set, test_set, args)
    active_set = active_set_of(codes, plain, training_set)
    augmented_run = augment_training_set(plain, training_set=training_set, active_set=active_set, merge=True)
    assert augmented_run.ok, augmented_run.message
    merged = augmented_run.outputs['merged']
    augmented = fit(codes, merged, test_set, args)
    run: dict = {
        'seconds': time.perf_counter() - began,
        'augmented_structures': augmented_run.outputs['training_set'].num_structures,
        'floor': floor,
    }
    element = 'Cu'
    for name, potential in (('plain', plain), ('augmented', augmented)):
        run[name] = {
            'test': test_errors(potential, test),
            'dimer': dimer_energies(potential, element),
            'md': {
                str(t): md_runs(potential, test[: args.md_cells], t, args, floor) for t in args.temperatures
            },
        }
    sane = {
        name: {t: sum(r['sane'] for r in run[name]['md'][str(t)]) for t in args.temperatures}
        for name in ('plain', 'augmented')
    }
    print(
        f'  {system} seed {seed}: {run["augmented_structures"]} augmented structures; sane MD runs (of '
        f'{args.md_cells}) plain {sane["plain"]}, augmented {sane["augmented"]}; test force RMSE '
        f'{run["plain"]["test"]["force_rmse"]:.1f} -> {run["augmented"]["test"]["force_rmse"]:.1f} meV/Å; '
        f'Cu-Cu dimer at 1.0/1.5 Å {[round(e, 2) for e in run["plain"]["dimer"]]} -> '
        f'{[round(e, 2) for e in run["augmented"]["dimer"]]} eV'
    )
    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--systems', nargs='+', default=['cu', 'alloy'], choices=('cu', 'alloy'))
    parser.add_argument('--seeds', nargs='+', type=int, default=[0, 1, 2])
    parser.add_argument('--structures', type=int, default=40, help='training structures')
    parser.add_argument('--test', type=int, default=40, help='test structures')
    parser.add_argument('--functions', type=int, default=30, help='basis functions per element')
    parser.add_argument('--maxiter', type=int, default=1000)
    parser.add_argument('--md-cells', type=int, default=10)
    parser.add_argument('--md-steps', type=int, default=500)
    parser.add_argument('--temperatures', nargs='+', type=float, default=[1500.0, 3000.0], help='K')
    parser.add_argument('--compress', type=float, default=0.1, help='volume compression of the MD cells')
    parser.add_argument(
        '--floor', type=float, default=0.6, help="fraction of the training set's shortest distance"
    )
    parser.add_argument(
        '--aug-factor',
        type=float,
        default=None,
        help="pacemaker's data.aug_factor: the augmented structures' weight factor (default: pacemaker's, 1e-4)",
    )
    parser.add_argument('--output', default='augment')
    args = parser.parse_args()
    print(f'pace_augment and MD stability: {vars(args)}')
    _common.temporary_profile('bench-augment')
    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes

    computer = get_or_create_localhost()
    codes = setup_codes(computer)
    results: dict = {'machine': _common.machine(), 'settings': vars(args), 'runs': {}}
    path = _common.results_folder() / f'{args.output}.json'
    for system in args.systems:
        for seed in args.seeds:
            results['runs'].setdefault(system, {})[str(seed)] = run_seed(system, seed, args, codes)
            path.write_text(json.dumps(results, indent=1) + '\n')
    totals = {
        name: {
            t: sum(
                sum(r['sane'] for r in run[name]['md'][str(t)])
                for runs in results['runs'].values()
                for run in runs.values()
            )
            for t in args.temperatures
        }
        for name in ('plain', 'augmented')
    }
    count = args.md_cells * sum(len(runs) for runs in results['runs'].values())
    results['sane_totals'] = {'runs_per_temperature': count, **totals}
    path.write_text(json.dumps(results, indent=1) + '\n')
    for t in args.temperatures:
        print(
            f'{t:.0f} K: sane MD runs plain {totals["plain"][t]}/{count}, augmented {totals["augmented"][t]}/{count}'
        )
    print(f'written {path}')


if __name__ == '__main__':
    main()
