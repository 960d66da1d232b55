"""`StructurePoolData`: a pool of unlabelled candidate structures as one node.

An exploration campaign makes thousands to hundreds of thousands of candidates. As ``StructureData``
nodes they cost one node, one link and tens of milliseconds each before any selection runs; as one
pool node they cost one file. Only the structures a selection chooses become ``StructureData`` nodes,
made by the selection's calculation (whose input is the pool), so each still leads back to its pool.

The node holds one file, ``pool.npz``: ``natoms`` (structures), ``numbers`` (atoms), ``positions``
(atoms x 3, Å), ``cells`` (structures x 3 x 3, Å), ``pbc`` (structures x 3) and ``names`` (structures),
read with ``allow_pickle=False`` here and in the selection job, which writes pacemaker's candidate
pickle itself from it: no pickle is ever taken from a node (a node may come from someone else's archive).
"""

from __future__ import annotations

import hashlib
import io
import itertools
import re
import typing as t
from collections.abc import Iterable, Sequence

import numpy as np
from aiida import orm

if t.TYPE_CHECKING:
    import ase

__all__ = (
    'ARRAYS_FILE',
    'StructurePoolData',
    'StructurePoolError',
    'concatenate_structure_arrays',
    'structure_arrays',
    'structures_without',
)

ARRAYS_FILE = 'pool.npz'
_NAME = re.compile(r'^[A-Za-z][A-Za-z0-9_]*$')
_ARRAYS = ('natoms', 'numbers', 'positions', 'cells', 'pbc', 'names')


class StructurePoolError(ValueError):
    """Raised for a pool that cannot be made (empty, bad names, partly periodic cells...)."""


def _checked_names(names: Sequence[str], count: int) -> list[str]:
    names = [str(name) for name in names]
    if len(names) != count:
        raise StructurePoolError(f'{len(names)} names for {count} structures')
    bad = [name for name in names if not _NAME.match(name) or '__' in name or name.endswith('_')]
    if bad:
        raise StructurePoolError(
            f'the name `{bad[0]}` is not usable as a link label: letters, digits and single underscores, '
            'starting with a letter'
        )
    if len(set(names)) != len(names):
        seen: set[str] = set()
        twice = next(name for name in names if name in seen or seen.add(name))  # type: ignore[func-returns-value]
        raise StructurePoolError(f'the name `{twice}` is given twice')
    return names


def structure_arrays(
    atoms_list: Sequence[ase.Atoms], names: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """The arrays of ``pool.npz`` for ``atoms_list`` (see the module docstring), checked.

    :raises StructurePoolError: for no structure, bad or repeated names, a partly periodic or flat cell.
    """
    if not atoms_list:
        raise StructurePoolError('the pool is empty: give at least one structure')
    names = _checked_names(
        names if names is not None else [f'p{i:06d}' for i in range(len(atoms_list))], len(atoms_list)
    )
    for name, atoms in zip(names, atoms_list, strict=True):
        if atoms.pbc.any() and not atoms.pbc.all():
            raise StructurePoolError(
                f'`{name}` is periodic in only some directions (pbc={atoms.pbc.tolist()}): pacemaker '
                'supports fully periodic or non-periodic cells (add vacuum and set pbc in all three)'
            )
        if atoms.pbc.all() and abs(atoms.cell.volume) < 1e-6:
            raise StructurePoolError(f'`{name}` is periodic but its cell has zero volume')
    arrays = {
        'natoms': np.array([len(atoms) for atoms in atoms_list], dtype=np.int64),
        'numbers': np.concatenate([atoms.numbers for atoms in atoms_list]).astype(np.int32),
        'positions': np.concatenate([atoms.positions for atoms in atoms_list]).astype(np.float64),
        'cells': np.stack([atoms.cell.array for atoms in atoms_list]).astype(np.float64),
        'pbc': np.stack([atoms.pbc for atoms in atoms_list]).astype(bool),
        'names': np.array(names, dtype=np.str_),
    }
    if not np.all(np.isfinite(arrays['positions'])):
        raise StructurePoolError('the pool holds non-finite positions')
    return arrays


def structures_without(arrays: dict[str, np.ndarray], names: t.Collection[str]) -> dict[str, np.ndarray]:
    """The arrays of ``pool.npz`` less the structures called ``names`` (names it does not hold are ignored)."""
    keep = ~np.isin(arrays['names'], np.array(sorted(names), dtype=np.str_))
    atoms = np.repeat(keep, arrays['natoms'])
    return {
        'natoms': arrays['natoms'][keep],
        'numbers': arrays['numbers'][atoms],
        'positions': arrays['positions'][atoms],
        'cells': arrays['cells'][keep],
        'pbc': arrays['pbc'][keep],
        'names': arrays['names'][keep],
    }


def concatenate_structure_arrays(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays of ``pool.npz`` of several sets of structures, one after the other.

    :raises StructurePoolError: for a name in more than one part, or no structure at all.
    """
    parts = tuple(part for part in parts if part['natoms'].size)
    if not parts:
        raise StructurePoolError('the pool is empty: give at least one structure')
    names = np.concatenate([part['names'] for part in parts])
    unique, counts = np.unique(names, return_counts=True)
    if (counts > 1).any():
        raise StructurePoolError(f'the name `{unique[counts > 1][0]}` is given twice')
    return {key: np.concatenate([part[key] for part in parts]) for key in _ARRAYS}


class StructurePoolData(orm.Data):
    """Unlabelled candidate structures, one node (see the module docstring)."""

    @classmethod
    def from_ase(
        cls, atoms_list: Iterable[ase.Atoms], names: Sequence[str] | None = None
    ) -> StructurePoolData:
        """A pool of ASE Atoms; ``names`` (default ``p000000``, ``p000001``, ...) must be usable as link labels.

        :raises StructurePoolError: for an empty pool, bad or repeated names, a partly periodic or flat cell.
        """
        arrays = structure_arrays(list(atoms_list), names)
        node = cls()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        node.base.repository.put_object_from_bytes(buffer.getvalue(), ARRAYS_FILE)
        from ase.data import chemical_symbols

        node.base.attributes.set_many(
            {
                'num_structures': int(arrays['natoms'].size),
                'num_atoms': int(arrays['natoms'].sum()),
                'elements': sorted({chemical_symbols[z] for z in np.unique(arrays['numbers'])}),
                'arrays_sha256': hashlib.sha256(buffer.getvalue()).hexdigest(),
            }
        )
        node._arrays_cache = arrays
        return node

    @classmethod
    def from_structures(cls, structures: t.Mapping[str, orm.StructureData]) -> StructurePoolData:
        """A pool of StructureData nodes, named by their keys."""
        return cls.from_ase([structure.get_ase() for structure in structures.values()], list(structures))

    # ------------------------------------------------------------------ reading
    @property
    def num_structures(self) -> int:
        """Number of structures."""
        return int(self.base.attributes.get('num_structures'))

    @property
    def num_atoms(self) -> int:
        """Number of atoms over all structures."""
        return int(self.base.attributes.get('num_atoms'))

    @property
    def elements(self) -> list[str]:
        """Chemical symbols present, sorted."""
        return list(self.base.attributes.get('elements'))

    def get_arrays(self) -> dict[str, np.ndarray]:
        """The arrays of ``pool.npz`` (see the module docstring), read without pickle."""
        cached: dict[str, np.ndarray] | None = getattr(self, '_arrays_cache', None)
        if cached is not None:
            return cached
        content = self.base.repository.get_object_content(ARRAYS_FILE, mode='rb')
        if hashlib.sha256(content).hexdigest() != self.base.attributes.get('arrays_sha256'):
            raise StructurePoolError(
                f'{ARRAYS_FILE} of StructurePoolData<{self.pk}> does not match its SHA-256'
            )
        with np.load(io.BytesIO(content), allow_pickle=False) as stored:
            arrays = {key: stored[key] for key in _ARRAYS}
        self._arrays_cache = arrays
        return arrays

    @property
    def names(self) -> list[str]:
        """The structures' names, in order."""
        return [str(name) for name in self.get_arrays()['names']]

    def to_ase(self) -> list[ase.Atoms]:
        """Every structure as ASE Atoms, in the pool's order (see :attr:`names`)."""
        arrays = self.get_arrays()
        bounds = np.concatenate([[0], np.cumsum(arrays['natoms'])])
        return [
            _atoms(arrays, index, start, stop)
            for index, (start, stop) in enumerate(itertools.pairwise(bounds))
        ]

    def get_atoms(self, name: str) -> ase.Atoms:
        """The structure ``name`` as ASE Atoms."""
        arrays = self.get_arrays()
        matches = np.flatnonzero(arrays['names'] == name)
        if not matches.size:
            raise KeyError(f'StructurePoolData<{self.pk}> holds no structure `{name}`')
        index = int(matches[0])
        start = int(arrays['natoms'][:index].sum())
        return _atoms(arrays, index, start, start + int(arrays['natoms'][index]))

    def get_structure(self, name: str) -> orm.StructureData:
        """The structure ``name`` as a new (unstored) StructureData."""
        return orm.StructureData(ase=self.get_atoms(name))


def _atoms(arrays: dict[str, np.ndarray], index: int, start: int, stop: int) -> ase.Atoms:
    """Structure ``index`` of the arrays of ``pool.npz``, whose atoms are rows ``start:stop``."""
    from ase import Atoms

    return Atoms(
        numbers=arrays['numbers'][start:stop],
        positions=arrays['positions'][start:stop],
        cell=arrays['cells'][index],
        pbc=arrays['pbc'][index],
    )
