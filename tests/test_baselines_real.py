"""Delta learning for real: LJ and ZBL baselines through pacemaker, checked on dimer curves."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm

from aiida_pacemaker.baselines import LennardJonesBaseline, dimer_curve
from aiida_pacemaker.calculations.functions import subtract_baseline_from_training_set
from aiida_pacemaker.config import TrainerConfig
from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

from .conftest import run_train

SHORT = np.array([0.6, 0.9, 1.2, 1.5, 1.8, 2.1])  # Å, below the nearest-neighbour distances (2.5-2.9 Å)


def binary_structures(count: int, seed: int = 0):
    """fcc Cu cells with a random quarter of the atoms turned into Al, EMT-labelled."""
    rng = np.random.default_rng(seed)
    structures = random_bulk_structures(count, seed=seed, lattice_constant=3.75)
    for atoms in structures:
        symbols = np.array(atoms.get_chemical_symbols())
        symbols[rng.choice(len(atoms), size=max(1, len(atoms) // 4), replace=False)] = 'Al'
        atoms.set_chemical_symbols(symbols.tolist())
    return emt_label(structures)


def assert_repulsive_wall(calculator, pair):
    energies, forces = dimer_curve(calculator, pair, SHORT)
    assert np.all(np.diff(energies) < 0), f'{pair}: energy does not rise monotonically: {energies}'
    assert np.all(forces > 0), f'{pair}: forces are not repulsive: {forces}'
    assert energies[0] - energies[-1] > 10.0, energies


def config(elements, baseline, maxiter=40):
    return TrainerConfig(
        ace_basis_config={
            'elements': elements,
            'cutoff': 5.0,
            'number_of_functions_per_element': 12,
            'nradmax_by_orders': [6, 3, 2],
            'lmax_by_orders': [0, 2, 1],
        },
        physics_baseline=baseline,
        fitting_params={'maxiter': maxiter, 'seed': 42, 'reference_energy': 0},
    )


@pytest.mark.pacemaker
def test_without_baseline_no_wall(fitted):
    """The premise: a plain ACE fit has no repulsive wall (PACEMAKER.md's Cu2 numbers)."""
    energies, _ = dimer_curve(fitted['potential'].get_ase_calculator(), ('Cu', 'Cu'), SHORT)
    assert not np.all(np.diff(energies) < 0) or energies[0] - energies[-1] < 10.0, energies


@pytest.mark.pacemaker
def test_lennard_jones_delta_learning(aiida_profile, pacemaker_codes):
    structures = binary_structures(20)
    original = TrainingSetData.from_ase(structures).store()
    baseline = LennardJonesBaseline.default_for(['Al', 'Cu'])
    parameters = orm.Dict({'type': 'lj', **baseline.to_parameters()})
    residual = subtract_baseline_from_training_set(original, parameters)
    assert residual.base.links.get_incoming().first().node.inputs.training_set.uuid == original.uuid
    results, _ = run_train(
        pacemaker_codes['pacemaker'],
        residual,
        config(['Al', 'Cu'], 'lj').to_pacemaker_parameters(),
        baseline=parameters,
    )
    potential, metrics = results['potential'], results['metrics']
    assert potential.physics_baseline == 'lj'
    assert potential.baseline_parameters['epsilon'] == baseline.to_parameters()['epsilon']
    assert any('lj/smooth/linear' in line for line in potential.lammps_lines())

    # the deployed calculator (ACE + LJ) reproduces the ORIGINAL labels within the fit error
    calculator = potential.get_ase_calculator()
    energy_errors, force_errors = [], []
    for atoms in structures:
        copy = atoms.copy()
        copy.calc = calculator
        energy_errors.append((copy.get_potential_energy() - atoms.get_potential_energy()) / len(atoms))
        force_errors.append((copy.get_forces() - atoms.get_forces()).ravel())
    energy_rmse = 1000 * np.sqrt(np.mean(np.square(energy_errors)))
    force_rmse = 1000 * np.sqrt(np.mean(np.square(np.concatenate(force_errors))))
    assert energy_rmse == pytest.approx(metrics['train_energy_rmse'], rel=0.3, abs=2.0)
    assert force_rmse == pytest.approx(metrics['train_force_rmse'], rel=0.3, abs=5.0)

    for pair in (('Cu', 'Cu'), ('Al', 'Cu'), ('Al', 'Al')):
        assert_repulsive_wall(calculator, pair)


@pytest.mark.pacemaker
def test_zbl_pair_fit(aiida_profile, pacemaker_codes):
    training_set = TrainingSetData.from_ase(binary_structures(20, seed=1)).store()
    results, _ = run_train(
        pacemaker_codes['pacemaker'], training_set, config(['Al', 'Cu'], 'zbl').to_pacemaker_parameters()
    )
    potential = results['potential']
    assert potential.physics_baseline == 'zbl'
    calculator = potential.get_ase_calculator()
    for pair in (('Cu', 'Cu'), ('Al', 'Cu')):
        assert_repulsive_wall(calculator, pair)
