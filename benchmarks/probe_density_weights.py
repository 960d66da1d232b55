"""Probe: does weighting an actively learned training set by the pool's density fix its typical structures?

The active-learning benchmark (``bench_active_learning.py``, RESULTS.md §4) finds the AL potentials worse
than random picks on the typical test structure (median per-structure force ratio 1.4-1.5): the selected
set over-represents distorted cells, and a small potential spends its capacity there. That is a covariate
shift between the training set and the distribution the test set is drawn from; importance weighting
(weights ~ p_pool / p_train; Shimodaira 2000, Sugiyama et al. 2007) is the textbook correction.

For finished runs of the benchmark (an ``AIIDA_PATH`` holding its profile; the AL workchains in order of
their seeds), this script takes each AL run's final training set and its final potential, and:

- estimates each training structure's share of the pool: every pool atom is assigned to its nearest
  training atom of the same species in the final potential's standardised linear B-projection space
  (what the selection strategies use); a structure's mass is the number of pool atoms assigned to its
  atoms, per atom of its own; weight = (mass + 0.1 mean) / (1.1 mean), clipped to [0.1, 10];
- fits a potential from scratch with the benchmark's fit settings on that set, uniform and weighted
  (pacemaker's ``w_energy`` / ``w_forces`` columns), and the same for the random arm's 70 structures
  (rebuilt from the seed as the benchmark builds them), weighted in the same feature space;
- prints test force RMSE, energy RMSE and the median per-structure force RMSE of all four fits.

With ``--variants uniform`` (and ``--fit-overrides`` for other stopping settings) it is a plain refit
from scratch of both arms' final sets: whether a run that stalls is held back by its data or by the fit
(RESULTS.md §4). ``--only`` picks seeds out of the profile's runs.

Nothing here is a claim about the plugin's speed; the numbers are errors. The fits are close to, not
exactly, reproducible between runs (the same fit gave 259.6 and 251.9 meV/Å in two runs, RESULTS.md §4).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))


def density_weights(potential, training_atoms: list, pool_atoms: list) -> np.ndarray:
    """One weight per training structure: its share of the pool's atoms per atom of its own (see above)."""
    import tempfile

    from pyace import BBasisConfiguration
    from pyace.activelearning import compute_B_projections

    from aiida_pacemaker.scripts import selection

    with tempfile.TemporaryDirectory() as folder:
        basis = BBasisConfiguration(str(potential.write_yaml(os.path.join(folder, 'potential.yaml'))))
    train_proj, train_owner = compute_B_projections(basis, training_atoms, return_structure_ind_dict=True)
    pool_proj, _ = compute_B_projections(basis, pool_atoms, return_structure_ind_dict=True)
    scaled_pool, scaled_train = selection.standardise(pool_proj, train_proj)
    mass = np.zeros(len(training_atoms))
    for species, points in scaled_pool.items():
        _, nearest = selection._nearest(points, scaled_train[species])
        np.add.at(mass, train_owner[species][nearest], 1.0)
    mass /= np.array([len(atoms) for atoms in training_atoms])
    mean = mass.mean()
    return np.clip((mass + 0.1 * mean) / (1.1 * mean), 0.1, 10.0)


def fit(code, parameters, atoms_list: list, weights: np.ndarray | None):
    from aiida import engine

    from aiida_pacemaker.calculations.train import PaceTrainCalculation
    from aiida_pacemaker.data import TrainingSetData

    labelled = []
    for index, original in enumerate(atoms_list):
        atoms = original.copy()  # copy() drops the calculator that holds the labels
        atoms.calc = original.calc
        if weights is not None:
            atoms.info['w_energy'] = atoms.info['w_forces'] = float(weights[index])
        labelled.append(atoms)
    training_set = TrainingSetData.from_ase(labelled).store()
    outputs, node = engine.run_get_node(
        PaceTrainCalculation, code=code, parameters=parameters, training_set=training_set
    )
    assert node.is_finished_ok, f'{node.pk}: {node.exit_message}'
    return outputs['potential'], outputs['metrics'].get_dict()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--aiida-path', required=True, help='AIIDA_PATH of a finished bench_active_learning run'
    )
    parser.add_argument('--system', default='cu')
    parser.add_argument(
        '--seeds', type=int, nargs='+', required=True, help='the seeds of its AL workchains, in order'
    )
    parser.add_argument('--output', default='probe_density_weights')
    parser.add_argument(
        '--fit-overrides',
        type=json.loads,
        default={},
        help="JSON merged into the fits' `fit` settings, e.g. '{\"min_relative_train_loss_per_iter\": 5e-4}'",
    )
    parser.add_argument('--only', type=int, nargs='+', help='probe these of the seeds only')
    parser.add_argument(
        '--variants',
        nargs='+',
        choices=('uniform', 'weighted'),
        default=['uniform', 'weighted'],
        help='`uniform` alone: a refit from scratch of each final set (is a stall the data or the fine-tuning?)',
    )
    args = parser.parse_args()

    os.environ['AIIDA_PATH'] = args.aiida_path
    from aiida import load_profile, orm

    config = json.load(open(os.path.join(args.aiida_path, '.aiida', 'config.json')))
    load_profile(config['default_profile'])
    import _common
    import bench_active_learning as bench

    from aiida_pacemaker.tools.examples import emt_label
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    workchains = [
        node
        for (node,) in orm.QueryBuilder()
        .append(PaceActiveLearningWorkChain)
        .order_by({PaceActiveLearningWorkChain: 'ctime'})
        .all()
        if node.is_finished_ok
    ]
    data_args = argparse.Namespace(pool=400, test=150, start=10)
    rows = []
    for seed, node in zip(args.seeds, workchains, strict=False):
        if args.only and seed not in args.only:
            continue
        start, test, candidates, _ = bench.make_data(args.system, seed, data_args)
        order = bench.random_order(candidates, seed)
        budget = node.outputs.training_set.num_structures
        random_set = start + emt_label(order[: budget - len(start)])
        al_set = node.outputs.training_set.to_ase()
        pool = [*(atoms.copy() for atoms in start), *candidates.values()]
        last_fit = max(
            (
                c
                for c in node.called_descendants
                if c.process_type and c.process_type.endswith('pacemaker.train')
            ),
            key=lambda c: c.ctime,
        )
        code, parameters = last_fit.inputs.code, last_fit.inputs.parameters
        if args.fit_overrides:
            settings = parameters.get_dict()
            settings['fit'] = {**settings.get('fit', {}), **args.fit_overrides}
            parameters = orm.Dict(settings)
        row = {'seed': seed, 'workchain': node.pk}
        for arm, atoms_list in (('al', al_set), ('random', random_set)):
            weights = None
            if 'weighted' in args.variants:
                weights = density_weights(node.outputs.potential, atoms_list, pool)
                row[f'{arm}_weights'] = [round(float(w), 3) for w in weights]
            for variant, w in (('uniform', None), ('weighted', weights)):
                if variant not in args.variants:
                    continue
                potential, metrics = fit(code, parameters, atoms_list, w)
                errors = bench.test_errors(potential, test)
                row[f'{arm}_{variant}'] = {
                    'loss': metrics.get('loss'),
                    'iterations': metrics.get('iterations'),
                    'train_force_rmse': metrics.get('train_force_rmse'),
                    'force_rmse': errors['force_rmse'],
                    'energy_rmse': errors['energy_rmse'],
                    'median_force': statistics.median(errors['per_structure_force']),
                    'per_structure_force': errors['per_structure_force'],
                }
                print(
                    f'seed {seed} {arm} {variant}: force {errors["force_rmse"]:.1f} meV/Å, energy '
                    f'{errors["energy_rmse"]:.2f} meV/atom, median per-structure force '
                    f'{row[f"{arm}_{variant}"]["median_force"]:.1f}; training loss {metrics.get("loss"):.3g} '
                    f'after {metrics.get("iterations")} iterations',
                    flush=True,
                )
            if weights is not None:
                print(
                    f'  {arm} weights: min {weights.min():.2f}, median {np.median(weights):.2f}, '
                    f'max {weights.max():.2f}'
                )
        rows.append(row)
        _common.write_result(args.output, {'settings': vars(args), 'rows': rows})


if __name__ == '__main__':
    main()
