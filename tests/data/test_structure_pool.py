"""`StructurePoolData`: candidates as one node, read back without pickle."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from aiida import orm
from ase.build import fcc100

from aiida_pacemaker.data.structure_pool import POOL_PICKLE, StructurePoolData, StructurePoolError
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
    # pacemaker's candidate file, written by this plugin at construction (so reading it here is safe)
    content = loaded.base.repository.get_object_content(POOL_PICKLE, mode='rb')
    frame = pd.read_pickle(io.BytesIO(content), compression='gzip')
    assert list(frame['name']) == loaded.names
    assert [len(a) for a in frame['ase_atoms']] == [len(a) for a in atoms_list]
    with pytest.raises(KeyError, match='holds no structure `nope`'):
        loaded.get_atoms('nope')


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
