"""Tests for `aiida_pacemaker.baselines` (no AiiDA profile needed)."""

import json

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.calculator import PropertyNotImplementedError
from ase.calculators.emt import EMT
from ase.data import covalent_radii

from aiida_pacemaker.baselines import (
    BaselineSumCalculator,
    LennardJonesBaseline,
    add_baseline,
    baseline_from_parameters,
    dimer_curve,
    min_interatomic_distance,
    subtract_baseline,
)

EPS = {'Cu': 0.5, 'Al': 0.125}  # eV; sqrt(0.5 * 0.125) = 0.25 exactly
SIG = {'Cu': 2.0, 'Al': 3.0}  # Å; mixed 2.5
RC = 6.0  # Å


def shifted_force(r: float, eps: float, sig: float, rc: float = RC) -> tuple[float, float]:
    """Hand-written shifted-force LJ: (E, dE/dr) for one pair."""
    if r >= rc:
        return 0.0, 0.0
    lj = 4 * eps * ((sig / r) ** 12 - (sig / r) ** 6)
    lj_c = 4 * eps * ((sig / rc) ** 12 - (sig / rc) ** 6)
    dlj = 4 * eps * (-12 * sig**12 / r**13 + 6 * sig**6 / r**7)
    dlj_c = 4 * eps * (-12 * sig**12 / rc**13 + 6 * sig**6 / rc**7)
    return lj - lj_c - (r - rc) * dlj_c, dlj - dlj_c


@pytest.fixture
def lj() -> LennardJonesBaseline:
    return LennardJonesBaseline(epsilon=EPS, sigma=SIG, cutoff=RC)


def dimer(symbols: str, r: float) -> Atoms:
    return Atoms(symbols, positions=[[0, 0, 0], [r, 0, 0]])


def rattled_cell() -> Atoms:
    atoms = bulk('Cu', 'fcc', a=3.7, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 4, 6]] = 'Al'
    atoms.cell[0, 1] = 0.4  # not orthogonal
    atoms.rattle(0.1, seed=1)
    return atoms


def numeric_forces(baseline: LennardJonesBaseline, atoms: Atoms, h: float = 1e-5) -> np.ndarray:
    forces = np.zeros((len(atoms), 3))
    for a in range(len(atoms)):
        for k in range(3):
            shifted = []
            for step in (h, -h):
                moved = atoms.copy()
                moved.positions[a, k] += step
                shifted.append(baseline.compute(moved)[0])
            forces[a, k] = -(shifted[0] - shifted[1]) / (2 * h)
    return forces


def numeric_stress(baseline: LennardJonesBaseline, atoms: Atoms, h: float = 1e-6) -> np.ndarray:
    """dE/d(strain) / V in Voigt order, as ASE's `calculate_numerical_stress`."""
    stress = np.zeros((3, 3))
    for a in range(3):
        for b in range(3):
            shifted = []
            for step in (h, -h):
                strain = np.eye(3)
                strain[a, b] += step / 2
                strain[b, a] += step / 2
                strained = atoms.copy()
                strained.set_cell(atoms.cell @ strain, scale_atoms=True)
                shifted.append(baseline.compute(strained)[0])
            stress[a, b] = (shifted[0] - shifted[1]) / (2 * h * atoms.get_volume())
    return stress.flat[[0, 4, 8, 5, 2, 1]]


@pytest.mark.parametrize('r', [1.9, 2.245, 3.0, 4.5, 5.9])
def test_cu_dimer_matches_hand_formula(lj, r):
    energy, forces, stress = lj.compute(dimer('Cu2', r))
    e_ref, de_ref = shifted_force(r, 0.5, 2.0)
    assert energy == pytest.approx(e_ref, rel=1e-12, abs=1e-15)
    # F_0 = -dE/dx_0 = +dE/dr along x, F_1 = -F_0
    np.testing.assert_allclose(forces, [[de_ref, 0, 0], [-de_ref, 0, 0]], rtol=1e-12, atol=1e-15)
    assert stress is None


def test_mixed_trimer_uses_lorentz_berthelot(lj):
    positions = np.array([[0.0, 0.0, 0.0], [2.2, 0.3, 0.0], [0.1, 2.6, 0.4]])
    atoms = Atoms('CuAlCu', positions=positions)
    params = {('Cu', 'Cu'): (0.5, 2.0), ('Cu', 'Al'): (0.25, 2.5), ('Al', 'Cu'): (0.25, 2.5)}
    symbols = atoms.get_chemical_symbols()
    energy_ref, forces_ref = 0.0, np.zeros((3, 3))
    for a, b in [(0, 1), (0, 2), (1, 2)]:
        vector = positions[b] - positions[a]
        r = np.linalg.norm(vector)
        e, de = shifted_force(r, *params[symbols[a], symbols[b]])
        energy_ref += e
        forces_ref[a] += de * vector / r
        forces_ref[b] -= de * vector / r
    energy, forces, _ = lj.compute(atoms)
    assert energy == pytest.approx(energy_ref, rel=1e-12)
    np.testing.assert_allclose(forces, forces_ref, rtol=1e-12, atol=1e-14)


def test_pair_override_is_order_insensitive():
    r = 2.7
    for key in ('Cu-Al', 'Al-Cu'):
        baseline = LennardJonesBaseline(EPS, SIG, pairs={key: {'epsilon': 0.3, 'sigma': 2.2}}, cutoff=RC)
        assert baseline.compute(dimer('CuAl', r))[0] == pytest.approx(
            shifted_force(r, 0.3, 2.2)[0], rel=1e-12
        )
        assert baseline.compute(dimer('Cu2', r))[0] == pytest.approx(shifted_force(r, 0.5, 2.0)[0], rel=1e-12)
        assert baseline.to_parameters()['pairs'] == {'Al-Cu': {'epsilon': 0.3, 'sigma': 2.2}}


def test_zero_beyond_cutoff_and_continuous_at_cutoff(lj):
    for r in (RC + 1e-9, RC + 0.5, 20.0):
        energy, forces, _ = lj.compute(dimer('CuAl', r))
        assert energy == 0.0
        assert np.all(forces == 0.0)
    energy, forces, _ = lj.compute(dimer('CuAl', RC - 1e-7))
    assert abs(energy) < 1e-15
    assert np.abs(forces).max() < 1e-9
    # a shrinking gap gives a shrinking force: continuity, not just small values
    assert np.abs(lj.compute(dimer('CuAl', RC - 1e-4))[1]).max() > np.abs(forces).max()


def test_default_cutoff_is_two_and_a_half_sigma():
    assert LennardJonesBaseline(EPS, SIG).cutoff == pytest.approx(7.5)
    baseline = LennardJonesBaseline(EPS, SIG, pairs={'Cu-Al': (0.1, 3.5)})
    assert baseline.cutoff == pytest.approx(2.5 * 3.5)


@pytest.mark.parametrize(
    'make_atoms',
    [rattled_cell, lambda: Atoms('CuAlCuAl', [[0, 0, 0], [2.3, 0, 0.2], [0.3, 2.4, 0], [1.1, 1.0, 2.0]])],
)
def test_forces_are_minus_energy_gradient(lj, make_atoms):
    atoms = make_atoms()
    _, forces, _ = lj.compute(atoms)
    np.testing.assert_allclose(forces, numeric_forces(lj, atoms), atol=1e-6)
    assert np.abs(forces).max() > 0.1  # the check is not vacuous


def test_stress_is_strain_derivative(lj):
    atoms = rattled_cell()
    _, _, stress = lj.compute(atoms)
    np.testing.assert_allclose(stress, numeric_stress(lj, atoms), atol=1e-7)
    assert np.abs(stress).max() > 1e-3
    # small cell: pairs with an atom's own periodic images
    small = bulk('Cu', 'fcc', a=3.0)
    np.testing.assert_allclose(lj.compute(small)[2], numeric_stress(lj, small), atol=1e-7)


def test_unknown_element_is_named(lj):
    with pytest.raises(ValueError, match='no parameters for Ni'):
        lj.compute(Atoms('CuNi', positions=[[0, 0, 0], [2.5, 0, 0]]))


def training_arrays() -> dict[str, np.ndarray]:
    """Two structures: a non-periodic Cu dimer and a Cu-Al dimer in a big periodic box."""
    return {
        'natoms': np.array([2, 2]),
        'numbers': np.array([29, 29, 29, 13], dtype=np.int32),
        'positions': np.array([[0.0, 0, 0], [2.4, 0, 0], [1.0, 1.0, 1.0], [1.0, 1.0, 3.7]]),
        'forces': np.array([[0.1, 0.2, 0.3], [-0.1, -0.2, -0.3], [0.0, 0.0, 0.5], [0.0, 0.0, -0.5]]),
        'cells': np.array([np.zeros((3, 3)), 20.0 * np.eye(3)]),
        'pbc': np.array([[False] * 3, [True] * 3]),
        'energy': np.array([-7.0, -6.0]),
        'names': np.array(['Cu2', 'CuAl']),
        'stress': np.array([np.zeros(6), [0.01, 0.02, 0.03, 0.0, 0.0, 0.0]]),
        'has_stress': np.array([False, True]),
        'w_energy': np.array([1.0, 2.0]),
    }


def test_subtract_baseline_by_hand(lj):
    arrays = training_arrays()
    original = {key: value.copy() for key, value in arrays.items()}
    result = subtract_baseline(arrays, lj)
    e0, de0 = shifted_force(2.4, 0.5, 2.0)
    e1, de1 = shifted_force(2.7, 0.25, 2.5)  # Cu at z=1, Al at z=3.7: bond along +z
    np.testing.assert_allclose(result['energy'], [-7.0 - e0, -6.0 - e1], rtol=1e-13)
    expected_forces = original['forces'] - np.array([[de0, 0, 0], [-de0, 0, 0], [0, 0, de1], [0, 0, -de1]])
    np.testing.assert_allclose(result['forces'], expected_forces, rtol=1e-13, atol=1e-15)
    # sigma_zz = dE/dr * r / V for the one pair along z
    expected_stress = original['stress'].copy()
    expected_stress[1, 2] -= de1 * 2.7 / 20.0**3
    np.testing.assert_allclose(result['stress'], expected_stress, rtol=1e-13, atol=1e-18)
    for key in ('natoms', 'numbers', 'positions', 'cells', 'pbc', 'names', 'has_stress', 'w_energy'):
        np.testing.assert_array_equal(result[key], original[key])
    for key, value in arrays.items():  # input untouched
        np.testing.assert_array_equal(value, original[key])


def test_subtract_then_add_round_trips(lj):
    atoms = rattled_cell()
    arrays = training_arrays()
    arrays['natoms'] = np.array([2, 2, len(atoms)])
    arrays['numbers'] = np.concatenate([arrays['numbers'], atoms.numbers]).astype(np.int32)
    arrays['positions'] = np.concatenate([arrays['positions'], atoms.positions])
    arrays['forces'] = np.concatenate(
        [arrays['forces'], np.random.default_rng(0).normal(size=(len(atoms), 3))]
    )
    arrays['cells'] = np.concatenate([arrays['cells'], [atoms.cell.array]])
    arrays['pbc'] = np.concatenate([arrays['pbc'], [[True] * 3]])
    arrays['energy'] = np.append(arrays['energy'], -30.0)
    arrays['names'] = np.append(arrays['names'], 'cell')
    arrays['stress'] = np.concatenate([arrays['stress'], [[0.1, 0.1, 0.1, 0.01, 0.02, 0.03]]])
    arrays['has_stress'] = np.append(arrays['has_stress'], True)
    arrays['w_energy'] = np.append(arrays['w_energy'], 1.0)
    delta = subtract_baseline(arrays, lj)
    assert not np.allclose(delta['energy'], arrays['energy'])
    back = add_baseline(delta, lj)
    assert set(back) == set(arrays)
    for key, value in arrays.items():
        if value.dtype.kind == 'f':
            np.testing.assert_allclose(back[key], value, rtol=1e-12, atol=1e-12)
        else:
            np.testing.assert_array_equal(back[key], value)


def test_min_interatomic_distance():
    arrays = training_arrays()
    assert min_interatomic_distance(arrays) == pytest.approx(2.4)
    # a pair across the boundary of the periodic box
    arrays['positions'][2:] = [[0.1, 0.1, 0.1], [0.1, 0.1, 19.2]]
    assert min_interatomic_distance(arrays) == pytest.approx(0.9)
    single = {
        'natoms': np.array([1]),
        'numbers': np.array([29]),
        'positions': np.zeros((1, 3)),
        'cells': np.array([2.1 * np.eye(3)]),
        'pbc': np.array([[True] * 3]),
    }
    assert min_interatomic_distance(single) == pytest.approx(2.1)
    single['pbc'][:] = False
    with pytest.raises(ValueError, match='no interatomic distance'):
        min_interatomic_distance(single)


class GammaEMT(EMT):
    """EMT that also reports a per-atom `gamma`, like pyace's calculator with an active set."""

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.results['gamma'] = np.arange(len(self.atoms), dtype=float)


def test_sum_calculator_adds_emt_lj_and_references(lj):
    atoms = rattled_cell()
    references = {'Cu': -1.5, 'Al': -0.25}
    atoms.calc = BaselineSumCalculator(GammaEMT(), lj, reference_energies=references)
    emt = atoms.copy()
    emt.calc = EMT()
    e_lj, f_lj, s_lj = lj.compute(atoms)
    e_ref = sum(references[s] for s in atoms.get_chemical_symbols())
    assert atoms.get_potential_energy() == pytest.approx(emt.get_potential_energy() + e_lj + e_ref, rel=1e-12)
    assert atoms.get_potential_energy(force_consistent=True) == pytest.approx(
        emt.get_potential_energy() + e_lj + e_ref, rel=1e-12
    )
    np.testing.assert_allclose(atoms.get_forces(), emt.get_forces() + f_lj, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(atoms.get_stress(), emt.get_stress() + s_lj, rtol=1e-12, atol=1e-12)
    energies = atoms.get_potential_energies()
    assert energies.sum() == pytest.approx(atoms.get_potential_energy(), rel=1e-12)
    np.testing.assert_array_equal(atoms.calc.results['gamma'], np.arange(len(atoms), dtype=float))
    # a moved atom is recomputed
    atoms.positions[0, 0] += 0.05
    emt.positions[0, 0] += 0.05
    assert atoms.get_potential_energy() == pytest.approx(
        emt.get_potential_energy() + lj.compute(atoms)[0] + e_ref, rel=1e-12
    )


def test_sum_calculator_without_stress_and_missing_reference(lj):
    atoms = Atoms('CuAl', positions=[[0, 0, 0], [2.5, 0, 0]])
    atoms.calc = BaselineSumCalculator(EMT(), lj)
    atoms.get_forces()
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()
    atoms.calc = BaselineSumCalculator(EMT(), lj, reference_energies={'Cu': 1.0})
    with pytest.raises(ValueError, match='no reference energy for Al'):
        atoms.get_potential_energy()


@pytest.mark.parametrize('symbols', [('Cu', 'Cu'), ('Cu', 'Al'), ('Al', 'Al')])
def test_dimer_is_repulsive_below_the_minimum(symbols):
    baseline = LennardJonesBaseline.default_for(['Cu', 'Al'])
    params = baseline.to_parameters()
    eps = (params['epsilon'][symbols[0]] * params['epsilon'][symbols[1]]) ** 0.5
    sig = (params['sigma'][symbols[0]] + params['sigma'][symbols[1]]) / 2
    # the baseline alone, below its minimum (the shifted-force minimum lies slightly inside 2^(1/6) sigma)
    energies, forces = dimer_curve(
        BaselineSumCalculator(None, baseline), symbols, np.linspace(0.5, 1.1 * sig, 40)
    )
    assert np.all(np.diff(energies) < 0), 'energy must rise as r shrinks'
    assert np.all(forces > 0), 'forces must push the atoms apart'
    # EMT + baseline at short range
    energies, forces = dimer_curve(BaselineSumCalculator(EMT(), baseline), symbols, np.linspace(0.6, 1.8, 25))
    assert np.all(np.diff(energies) < 0)
    assert np.all(forces > 0)
    # the baseline alone matches the hand formula at one point
    energies, forces = dimer_curve(BaselineSumCalculator(None, baseline), symbols, [1.5])
    e_ref, de_ref = shifted_force(1.5, eps, sig, params['cutoff'])
    assert energies[0] == pytest.approx(e_ref, rel=1e-12)
    assert forces[0] == pytest.approx(-de_ref, rel=1e-12)


def test_default_for_uses_covalent_radii():
    params = LennardJonesBaseline.default_for(['Cu', 'Al']).to_parameters()
    assert params['epsilon'] == {'Al': 0.01, 'Cu': 0.01}
    assert 2 ** (1 / 6) * params['sigma']['Cu'] == pytest.approx(0.8 * 2 * covalent_radii[29])
    assert params['cutoff'] == pytest.approx(2.5 * max(params['sigma'].values()))


def test_lammps_lines(lj):
    assert lj.lammps_lines(['Cu', 'Al'], 'potential.yace') == [
        'pair_style hybrid/overlay pace lj/smooth/linear 6.0',
        'pair_coeff * * pace potential.yace Cu Al',
        'pair_coeff 1 1 lj/smooth/linear 0.5 2.0',
        'pair_coeff 1 2 lj/smooth/linear 0.25 2.5',
        'pair_coeff 2 2 lj/smooth/linear 0.125 3.0',
    ]
    with pytest.raises(ValueError, match='no parameters for Ni'):
        lj.lammps_lines(['Cu', 'Ni'], 'potential.yace')


def test_parameters_round_trip(lj):
    baseline = LennardJonesBaseline(EPS, SIG, pairs={'Cu-Al': (0.3, 2.2)}, cutoff=5.5)
    params = json.loads(json.dumps(baseline.to_parameters()))
    assert params == {
        'type': 'lj',
        'epsilon': {'Al': 0.125, 'Cu': 0.5},
        'sigma': {'Al': 3.0, 'Cu': 2.0},
        'pairs': {'Al-Cu': {'epsilon': 0.3, 'sigma': 2.2}},
        'cutoff': 5.5,
    }
    rebuilt = baseline_from_parameters(params)
    assert rebuilt.to_parameters() == baseline.to_parameters()
    atoms = rattled_cell()
    np.testing.assert_array_equal(rebuilt.compute(atoms)[1], baseline.compute(atoms)[1])


@pytest.mark.parametrize(
    ('kwargs', 'match'),
    [
        ({'epsilon': {'Cu': -0.1}, 'sigma': {'Cu': 2.0}}, r'epsilon of Cu \(eV\) must be a positive'),
        ({'epsilon': {'Cu': 0.1}, 'sigma': {'Cu': float('nan')}}, 'sigma of Cu'),
        ({'epsilon': {'Cu': 0.1}, 'sigma': {'Cu': 2.0}, 'cutoff': 0.0}, 'cutoff'),
        ({'epsilon': {'Qq': 0.1}, 'sigma': {'Qq': 2.0}}, "'Qq' is not a chemical symbol"),
        ({'epsilon': {'Cu': 0.1}, 'sigma': {'Al': 2.0}}, 'same elements'),
        ({'epsilon': {'Cu': 0.1}, 'sigma': {'Cu': 2.0}, 'pairs': {'Cu-Ni': (0.1, 2.0)}}, 'names Ni'),
        (
            {'epsilon': {'Cu': 0.1}, 'sigma': {'Cu': 2.0}, 'pairs': {'Cu-Cu': {'eps': 1}}},
            r"unknown: \['eps'\]",
        ),
    ],
)
def test_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LennardJonesBaseline(**kwargs)


def test_from_parameters_validation(lj):
    params = lj.to_parameters()
    with pytest.raises(ValueError, match=r"unknown baseline parameter\(s\) \['rcut'\]"):
        baseline_from_parameters({**params, 'rcut': 5.0})
    with pytest.raises(ValueError, match="unknown baseline type 'zbl'"):
        baseline_from_parameters({**params, 'type': 'zbl'})
    with pytest.raises(ValueError, match='lack'):
        baseline_from_parameters({'type': 'lj', 'epsilon': {'Cu': 0.1}})
