"""Tests of `TrainingSetData`: construction, round trips, hashes, validation."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from aiida_pacemaker.data.training_set import TrainingSetData, TrainingSetError


def labelled(atoms, energy=-1.0, forces=None, stress=None):
    atoms = atoms.copy()
    forces = np.zeros((len(atoms), 3)) if forces is None else forces
    atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces, stress=stress)
    return atoms


def test_round_trip(aiida_profile, emt_structures):
    structures = emt_structures(6)
    node = TrainingSetData.from_ase(structures).store()
    assert node.num_structures == 6
    assert node.num_atoms == sum(len(a) for a in structures)
    assert node.elements == ['Cu']
    loaded = TrainingSetData.collection.get(pk=node.pk)
    loaded._arrays_cache = None
    back = loaded.to_ase()
    for original, copy in zip(structures, back, strict=True):
        assert np.allclose(original.positions, copy.positions)
        assert np.allclose(original.cell, copy.cell)
        assert copy.get_potential_energy() == pytest.approx(original.get_potential_energy())
        assert np.allclose(copy.get_forces(), original.get_forces())
        assert copy.info['name'] == original.info['name']


def test_same_content_same_hash(aiida_profile, emt_structures):
    first = TrainingSetData.from_ase(emt_structures(4))
    second = TrainingSetData.from_ase(emt_structures(4))
    other = TrainingSetData.from_ase(emt_structures(4, seed=1))
    assert first.content_hash == second.content_hash
    assert first.content_hash != other.content_hash
    assert first.structure_hashes() == second.structure_hashes()
    assert len(set(first.structure_hashes())) == 4


def test_stress_and_weights(aiida_profile):
    atoms = Atoms('Cu2', positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 4], pbc=True)
    with_stress = labelled(atoms, stress=np.arange(6.0))
    with_stress.info.update(w_energy=2.0, w_forces=0.5)
    node = TrainingSetData.from_ase([with_stress, labelled(atoms, energy=-2.0)])
    assert node.base.attributes.get('has_stress')
    back = node.to_ase()
    assert np.allclose(back[0].get_stress(), np.arange(6.0))
    assert back[1].calc.results.get('stress') is None
    assert back[0].info['w_energy'] == 2.0
    frame = node.to_dataframe()
    assert 'stress' not in frame.columns  # not every structure has a stress
    assert list(frame['w_energy']) == [2.0, 1.0]
    assert np.allclose(frame['w_forces'][0], [0.5, 0.5])


def test_pacemaker_pickle_is_readable(aiida_profile, emt_structures, tmp_path):
    node = TrainingSetData.from_ase(emt_structures(3))
    path = tmp_path / 'data.pckl.gzip'
    node.write_pacemaker_pickle(path)
    # the project wrote this file itself, in this test
    with gzip.open(path, 'rb') as handle:
        frame = pickle.load(handle)
    assert list(frame.columns) == ['name', 'ase_atoms', 'energy', 'forces']
    assert frame.columns.dtype == object
    assert frame['name'].dtype == object
    assert frame['forces'][0].shape == (len(frame['ase_atoms'][0]), 3)
    assert frame['energy'][1] == pytest.approx(node.to_ase()[1].get_potential_energy())


def test_from_structures(aiida_profile, emt_structures):
    from aiida import orm

    atoms_list = emt_structures(2)
    structures = [orm.StructureData(ase=a) for a in atoms_list]
    energies = [orm.Float(a.get_potential_energy()) for a in atoms_list]
    forces = []
    for a in atoms_list:
        array = orm.ArrayData()
        array.set_array('forces', a.get_forces())
        forces.append(array)
    node = TrainingSetData.from_structures(structures, energies, forces)
    assert node.num_structures == 2
    assert np.allclose(node.to_ase()[1].get_forces(), atoms_list[1].get_forces())


def test_tampered_file_is_detected(aiida_profile, emt_structures):
    node = TrainingSetData.from_ase(emt_structures(2))
    node.base.attributes.set('file_sha256', '0' * 64)
    node._arrays_cache = None
    with pytest.raises(TrainingSetError, match='does not match its recorded SHA-256'):
        node.get_arrays()


CU2 = Atoms('Cu2', positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 4], pbc=True)


@pytest.mark.parametrize(
    ('structures', 'message'),
    [
        ([], 'empty'),
        ([labelled(CU2, energy=float('nan'))], r'structure 0 .*non-finite energy'),
        ([labelled(CU2), labelled(CU2, forces=np.full((2, 3), np.inf))], r'structure 1 .*non-finite forces'),
        ([labelled(CU2, forces=np.zeros((3, 3)))], r'forces of shape \(3, 3\), expected \(2, 3\)'),
        ([labelled(CU2, forces=np.full((2, 3), 1e6))], 'are the forces in eV/Å'),
        ([CU2.copy()], 'no calculator'),
        (
            [labelled(Atoms('Cu2', positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 0], pbc=True))],
            'zero volume',
        ),
        (
            [labelled(Atoms('Cu2', positions=[[0, 0, 0], [1.8, 0, 0]], cell=[4, 4, 20], pbc=[1, 1, 0]))],
            'periodic in only some directions',
        ),
        ([labelled(CU2, stress=np.full(6, np.nan))], 'non-finite stress'),
    ],
)
def test_bad_input_is_refused(aiida_profile, structures, message):
    from aiida import orm

    before = orm.QueryBuilder().append(TrainingSetData).count()
    with pytest.raises(TrainingSetError, match=message):
        TrainingSetData.from_ase(structures)
    assert orm.QueryBuilder().append(TrainingSetData).count() == before


def test_missing_forces(aiida_profile):
    atoms = CU2.copy()
    atoms.calc = SinglePointCalculator(atoms, energy=1.0)
    with pytest.raises(TrainingSetError, match=r'structure 0 .*no force labels'):
        TrainingSetData.from_ase([atoms])
