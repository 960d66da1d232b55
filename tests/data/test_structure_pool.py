"""`StructurePoolData`: candidates as one node, read back without pickle."""

from __future__ import annotations

import io

import numpy as np
import pytest
from aiida import orm
from ase.build import fcc100

from aiida_pacemaker.data.structure_pool import (
    ARRAYS_FILE,
    StructurePoolData,
    StructurePoolError,
    concatenate_structure_arrays,
    structure_arrays,
    structures_without,
)
from aiida_pacemaker.tools.examples import random_alloy_structures, random_bulk_structures


def test_round_trip_and_pacemaker_file(aiida_profile):
    atoms_list = random_alloy_structures(5, seed=2)
    pool = StructurePoolData.from_ase(atoms_list).store()
    loaded = orm.load_node(pool.pk)
    assert loaded.num_structures == 5 and loaded.num_atoms == sum(len(a) for a in atoms_list)
    assert loaded.elements == sorted(set().union(*(a.get_chemical_symbols() for a in atoms_list)))
    assert loaded.names == [f'p{i:06d}' for i in range(5)]
    for name, atoms in zip(loaded.names, atoms_list, strict=True):
        back = loaded.get_atoms(name)
        assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
        assert np.allclose(back.positions, atoms.positions) and np.allclose(back.cell, atoms.cell)
        assert loaded.get_structure(name).get_ase().get_chemical_formula() == atoms.get_chemical_formula()
    # one file, arrays only: no pickle is kept in the node (the selection job writes its own)
    assert loaded.base.repository.list_object_names() == [ARRAYS_FILE]
    with np.load(
        io.BytesIO(loaded.base.repository.get_object_content(ARRAYS_FILE, mode='rb')), allow_pickle=False
    ):
        pass
    with pytest.raises(KeyError, match='holds no structure `nope`'):
        loaded.get_atoms('nope')


def test_to_ase_reads_back_every_structure_in_order(aiida_profile):
    atoms_list = random_alloy_structures(4, seed=3)  # 8- and 16-atom cells: the atom offsets matter
    pool = orm.load_node(StructurePoolData.from_ase(atoms_list).store().pk)
    back = pool.to_ase()
    assert [a.get_chemical_formula() for a in back] == [a.get_chemical_formula() for a in atoms_list]
    for read, atoms in zip(back, atoms_list, strict=True):
        assert np.allclose(read.positions, atoms.positions) and np.allclose(read.cell, atoms.cell)
        assert (read.pbc == atoms.pbc).all()


def test_structures_without_and_concatenated():
    """What a selection with a pool, `exclude` and `candidates` gives its job: the pool less the excluded
    names (unknown names ignored), then the candidates; a name in both parts is refused."""
    atoms_list = random_alloy_structures(4, seed=5)
    arrays = structure_arrays(atoms_list, ['a', 'b', 'c', 'd'])
    left = structures_without(arrays, ['b', 'd', 'not_there'])
    assert left['names'].tolist() == ['a', 'c']
    assert left['natoms'].tolist() == [len(atoms_list[0]), len(atoms_list[2])]
    assert np.allclose(left['positions'], np.concatenate([atoms_list[0].positions, atoms_list[2].positions]))
    assert (left['numbers'] == np.concatenate([atoms_list[0].numbers, atoms_list[2].numbers])).all()
    extra = structure_arrays(random_bulk_structures(1, seed=6), ['md1_0'])
    both = concatenate_structure_arrays(left, extra)
    assert both['names'].tolist() == ['a', 'c', 'md1_0'] and both['cells'].shape == (3, 3, 3)
    assert both['positions'].shape == (both['natoms'].sum(), 3)
    with pytest.raises(StructurePoolError, match='the name `a` is given twice'):
        concatenate_structure_arrays(left, structure_arrays(random_bulk_structures(1, seed=7), ['a']))
    with pytest.raises(StructurePoolError, match='the pool is empty'):
        concatenate_structure_arrays(structures_without(arrays, ['a', 'b', 'c', 'd']))


def test_from_structures_keeps_the_keys(aiida_profile):
    structures = {f'c{i}': orm.StructureData(ase=a) for i, a in enumerate(random_bulk_structures(3, seed=4))}
    pool = StructurePoolData.from_structures(structures)
    assert pool.names == ['c0', 'c1', 'c2']


@pytest.mark.parametrize(
    ('atoms', 'names', 'match'),
    [
        ([], None, 'the pool is empty'),
        (random_bulk_structures(2, seed=1), ['a', 'a'], 'the name `a` is given twice'),
        (random_bulk_structures(2, seed=1), ['a', '1b'], 'the name `1b` is not usable as a link label'),
        (random_bulk_structures(1, seed=1), ['a__b'], 'not usable as a link label'),
        (random_bulk_structures(2, seed=1), ['a'], '1 names for 2 structures'),
        ([fcc100('Cu', size=(1, 1, 3), vacuum=5.0)], None, 'periodic in only some directions'),
    ],
)
def test_bad_pools_are_refused(aiida_profile, atoms, names, match):
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(StructurePoolError, match=match):
        StructurePoolData.from_ase(atoms, names)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_the_job_reads_the_arrays_without_pickle(aiida_profile, tmp_path):
    """The selection job's reader builds the candidates from the arrays file alone."""
    import types

    from aiida_pacemaker.scripts import script_text

    gamma_report = types.ModuleType('gamma_report')
    exec(compile(script_text('gamma_report.py'), 'gamma_report.py', 'exec'), gamma_report.__dict__)
    atoms_list = random_alloy_structures(4, seed=3)
    pool = StructurePoolData.from_ase(atoms_list, names=['a', 'b', 'c', 'd'])
    path = tmp_path / ARRAYS_FILE
    path.write_bytes(pool.base.repository.get_object_content(ARRAYS_FILE, mode='rb'))
    frame = gamma_report.read_candidates(str(path))
    assert list(frame['name']) == ['a', 'b', 'c', 'd']
    for back, atoms in zip(frame['ase_atoms'], atoms_list, strict=True):
        assert back.get_chemical_symbols() == atoms.get_chemical_symbols()
        assert np.allclose(back.positions, atoms.positions) and np.allclose(back.cell, atoms.cell)
