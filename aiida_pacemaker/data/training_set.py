"""`TrainingSetData`: an immutable set of labelled atomic structures.

Storage format
--------------
One file, ``training_set.npz``, in the node's repository: a NumPy ``.npz`` archive
read with ``allow_pickle=False`` (so reading it never runs code). Arrays:

==============  ====================  ==============================================
name            shape, dtype          meaning
==============  ====================  ==============================================
``natoms``      (S,) int64            atoms per structure
``numbers``     (N,) int32            atomic numbers, structures concatenated
``positions``   (N, 3) float64        Cartesian positions, Å
``forces``      (N, 3) float64        forces, eV/Å
``cells``       (S, 3, 3) float64     cell vectors as rows, Å
``pbc``         (S, 3) bool           periodicity (all True or all False)
``energy``      (S,) float64          total energy, eV
``names``       (S,) unicode          per-structure name
``stress``      (S, 6) float64        optional; Voigt stress (xx yy zz yz xz xy), eV/Å³
``has_stress``  (S,) bool             optional; which rows of ``stress`` are labels
``w_energy``    (S,) float64          optional; per-structure energy weight
``w_forces``    (S,) float64          optional; per-structure force weight
==============  ====================  ==============================================

S is the number of structures and N the total number of atoms. The node's
``content_hash`` attribute is a SHA-256 over the arrays (names, dtypes, shapes
and bytes), so the same content gives the same hash whatever the zip metadata;
``file_sha256`` is the hash of the stored file, checked every time it is read.
"""

from __future__ import annotations

import hashlib
import io
import typing as t
from collections.abc import Iterable, Sequence

import numpy as np
from aiida.orm import Data

if t.TYPE_CHECKING:
    import ase
    from aiida.orm import ArrayData, Float, StructureData

__all__ = (
    'TrainingSetData',
    'TrainingSetError',
    'atoms_hash',
    'concatenate_arrays',
    'portable_dataframe',
    'structure_hash',
    'subset_arrays',
    'write_structures_pickle',
)

FILENAME = 'training_set.npz'
MAX_ABS_FORCE = 1.0e4  # eV/Å; larger labels are almost certainly a unit or parsing error
MIN_CELL_VOLUME = 1.0e-6  # Å^3
_REQUIRED = ('natoms', 'numbers', 'positions', 'forces', 'cells', 'pbc', 'energy', 'names')
_OPTIONAL = ('stress', 'has_stress', 'w_energy', 'w_forces')


class TrainingSetError(ValueError):
    """Raised when labelled structures cannot form a valid training set."""


def structure_hash(numbers: np.ndarray, positions: np.ndarray, cell: np.ndarray, pbc: np.ndarray) -> str:
    """Return a hash of one structure's geometry (not its labels).

    Positions and cell are rounded to 1e-6 Å, so a structure that went through a text
    format and back keeps its hash.
    """
    digest = hashlib.sha256()
    for array in (
        np.asarray(numbers, dtype=np.int64),
        np.round(np.asarray(positions, dtype=np.float64), 6) + 0.0,
        np.round(np.asarray(cell, dtype=np.float64), 6) + 0.0,
        np.asarray(pbc, dtype=bool),
    ):
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def atoms_hash(atoms: ase.Atoms) -> str:
    """:func:`structure_hash` of ASE Atoms (of a StructureData: ``atoms_hash(structure.get_ase())``)."""
    return structure_hash(atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc)


def portable_dataframe(columns: dict[str, t.Any]) -> t.Any:
    """Build a DataFrame that pandas 2 and pandas 3 can both unpickle.

    pandas 3 stores strings as ``StringDtype``, which pandas 2 cannot read back, so the
    ``name`` column and the column index are forced to ``object``.
    """
    import pandas as pd

    if 'name' in columns:
        columns = {**columns, 'name': pd.Series([str(n) for n in columns['name']], dtype=object)}
    frame = pd.DataFrame(columns)
    frame.columns = pd.Index(list(frame.columns), dtype=object)
    return frame


def write_structures_pickle(handle_or_path: t.Any, names: Sequence[str], atoms_list: Sequence[t.Any]) -> None:
    """Write unlabelled structures as pacemaker's gzipped DataFrame (columns ``name``, ``ase_atoms``)."""
    frame = portable_dataframe({'name': list(names), 'ase_atoms': list(atoms_list)})
    frame.to_pickle(handle_or_path, compression='gzip')


def concatenate_arrays(first: dict[str, np.ndarray], second: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Join two sets of storage arrays (first's structures, then second's).

    Optional arrays present in only one of them are filled in for the other: no stress
    (``has_stress`` False) and weights of 1.
    """
    parts = ((first, first['natoms'].size), (second, second['natoms'].size))
    joined = {key: np.concatenate([first[key], second[key]]) for key in _REQUIRED}
    if 'stress' in first or 'stress' in second:
        joined['stress'] = np.concatenate([a.get('stress', np.zeros((n, 6))) for a, n in parts])
        joined['has_stress'] = np.concatenate(
            [a.get('has_stress', np.zeros(n, dtype=bool)) for a, n in parts]
        )
    for key in ('w_energy', 'w_forces'):
        if key in first or key in second:
            joined[key] = np.concatenate([a.get(key, np.ones(n)) for a, n in parts])
    return joined


def subset_arrays(arrays: dict[str, np.ndarray], keep: t.Sequence[int]) -> dict[str, np.ndarray]:
    """The storage arrays of the structures at the indices ``keep`` (in that order)."""
    natoms = arrays['natoms']
    starts = np.concatenate([[0], np.cumsum(natoms)[:-1]]).astype(np.int64)
    indices = np.asarray(keep, dtype=np.int64)
    atoms = (
        np.concatenate([np.arange(starts[i], starts[i] + natoms[i]) for i in indices])
        if indices.size
        else np.zeros(0, dtype=np.int64)
    )
    per_atom = ('numbers', 'positions', 'forces')
    return {key: value[atoms] if key in per_atom else value[indices] for key, value in arrays.items()}


def _content_hash(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(f'{key}|{array.dtype.str}|{array.shape}|'.encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _validate(arrays: dict[str, np.ndarray]) -> None:
    """Check the arrays; raise `TrainingSetError` naming the structure index and problem."""
    natoms = arrays['natoms']
    if natoms.size == 0:
        raise TrainingSetError('the training set is empty: give at least one labelled structure')
    offsets = np.concatenate([[0], np.cumsum(natoms)])
    for index in range(natoms.size):
        start, stop = offsets[index], offsets[index + 1]
        label = f'structure {index} ({arrays["names"][index]!s})'
        if natoms[index] == 0:
            raise TrainingSetError(f'{label} has no atoms')
        numbers = arrays['numbers'][start:stop]
        if numbers.min() < 1 or numbers.max() > 118:
            raise TrainingSetError(f'{label} has an atomic number outside 1-118: {sorted(set(numbers))}')
        if not np.isfinite(arrays['energy'][index]):
            raise TrainingSetError(f'{label} has a non-finite energy: {arrays["energy"][index]}')
        forces = arrays['forces'][start:stop]
        if not np.all(np.isfinite(forces)):
            raise TrainingSetError(f'{label} has non-finite forces')
        if np.abs(forces).max(initial=0.0) > MAX_ABS_FORCE:
            raise TrainingSetError(
                f'{label} has a force component of {np.abs(forces).max():.3g} eV/Å (limit {MAX_ABS_FORCE:g}): '
                'are the forces in eV/Å?'
            )
        if not np.all(np.isfinite(arrays['positions'][start:stop])):
            raise TrainingSetError(f'{label} has non-finite positions')
        pbc = arrays['pbc'][index]
        if pbc.any() and not pbc.all():
            raise TrainingSetError(
                f'{label} is periodic in only some directions (pbc={pbc.tolist()}); pacemaker supports only '
                'fully periodic or non-periodic cells. For a slab, add vacuum wider than the cutoff and set '
                'pbc=True in all three directions: that is physically the same structure.'
            )
        if pbc.all() and abs(np.linalg.det(arrays['cells'][index])) < MIN_CELL_VOLUME:
            raise TrainingSetError(f'{label} is periodic but its cell has zero volume')
        if (
            'stress' in arrays
            and arrays['has_stress'][index]
            and not np.all(np.isfinite(arrays['stress'][index]))
        ):
            raise TrainingSetError(f'{label} has a non-finite stress')
        for key in ('w_energy', 'w_forces'):
            if key in arrays and not (np.isfinite(arrays[key][index]) and arrays[key][index] >= 0):
                raise TrainingSetError(f'{label} has an invalid weight {key}={arrays[key][index]}')


class _Builder:
    """Accumulates labelled structures into the flat arrays of the storage format."""

    def __init__(self) -> None:
        self.numbers: list[np.ndarray] = []
        self.positions: list[np.ndarray] = []
        self.forces: list[np.ndarray] = []
        self.cells: list[np.ndarray] = []
        self.pbc: list[np.ndarray] = []
        self.energy: list[float] = []
        self.names: list[str] = []
        self.stress: list[np.ndarray | None] = []
        self.w_energy: list[float | None] = []
        self.w_forces: list[float | None] = []

    def add(
        self,
        index: int,
        atoms: ase.Atoms,
        energy: t.Any,
        forces: t.Any,
        stress: t.Any = None,
        name: str | None = None,
        w_energy: float | None = None,
        w_forces: float | None = None,
    ) -> None:
        """Add structure ``index``: the geometry of ``atoms`` with these labels (eV, eV/Å, eV/Å³)."""
        numbers = np.asarray(atoms.numbers, dtype=np.int32).reshape(-1)
        natoms = numbers.size
        label = f'structure {index}' + (f' ({name})' if name else '')
        if energy is None:
            raise TrainingSetError(f'{label} has no energy label')
        if forces is None:
            raise TrainingSetError(f'{label} has no force labels')
        try:
            energy_value = float(energy)
        except (TypeError, ValueError) as exception:
            raise TrainingSetError(f'{label} has an energy that is not a number: {energy!r}') from exception
        forces = np.asarray(forces, dtype=np.float64)
        if forces.shape != (natoms, 3):
            raise TrainingSetError(
                f'{label} has forces of shape {forces.shape}, expected ({natoms}, 3) for {natoms} atoms'
            )
        positions = np.asarray(atoms.positions, dtype=np.float64)
        if positions.shape != (natoms, 3):
            raise TrainingSetError(
                f'{label} has positions of shape {positions.shape}, expected ({natoms}, 3)'
            )
        if stress is not None:
            stress = np.asarray(stress, dtype=np.float64)
            if stress.shape == (3, 3):
                stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            if stress.shape != (6,):
                raise TrainingSetError(
                    f'{label} has a stress of shape {stress.shape}, expected (6,) or (3, 3)'
                )
        self.numbers.append(numbers)
        self.positions.append(positions)
        self.forces.append(forces)
        self.cells.append(np.asarray(atoms.cell.array, dtype=np.float64).reshape(3, 3))
        self.pbc.append(np.asarray(atoms.pbc, dtype=bool).reshape(3))
        self.energy.append(energy_value)
        self.names.append(str(name) if name is not None else f'structure_{index}')
        self.stress.append(stress)
        self.w_energy.append(w_energy)
        self.w_forces.append(w_forces)

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.numbers:
            raise TrainingSetError('the training set is empty: give at least one labelled structure')
        arrays: dict[str, np.ndarray] = {
            'natoms': np.array([len(n) for n in self.numbers], dtype=np.int64),
            'numbers': np.concatenate(self.numbers),
            'positions': np.concatenate(self.positions),
            'forces': np.concatenate(self.forces),
            'cells': np.stack(self.cells),
            'pbc': np.stack(self.pbc),
            'energy': np.array(self.energy, dtype=np.float64),
            'names': np.array(self.names, dtype=np.str_),
        }
        if any(s is not None for s in self.stress):
            arrays['has_stress'] = np.array([s is not None for s in self.stress], dtype=bool)
            arrays['stress'] = np.stack([s if s is not None else np.zeros(6) for s in self.stress])
        for key in ('w_energy', 'w_forces'):
            values = getattr(self, key)
            if any(v is not None for v in values):
                arrays[key] = np.array([1.0 if v is None else float(v) for v in values], dtype=np.float64)
        return arrays


class TrainingSetData(Data):
    """Labelled structures for pacemaker: energies (eV), forces (eV/Å), optional stress (eV/Å³).

    Build one with :meth:`from_ase`, :meth:`from_structures` or :meth:`from_arrays`;
    bad labels are refused at construction with the index of the structure at fault.
    """

    def __init__(self, arrays: dict[str, np.ndarray] | None = None, **kwargs: t.Any) -> None:
        if arrays is not None:
            arrays = self._checked(arrays)  # before the node exists: nothing half-made on error
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # aiida's Data.__init__ is untyped; untyped_calls_exclude misses super()
        if arrays is not None:
            self._set_arrays(arrays)

    # ------------------------------------------------------------------ construction
    @staticmethod
    def _checked(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        missing = [key for key in _REQUIRED if key not in arrays]
        if missing:
            raise TrainingSetError(f'training-set arrays lack {missing}')
        unknown = set(arrays) - set(_REQUIRED) - set(_OPTIONAL)
        if unknown:
            raise TrainingSetError(f'unknown training-set arrays {sorted(unknown)}')
        arrays = {key: np.asarray(value) for key, value in arrays.items()}
        _validate(arrays)
        return arrays

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)  # type: ignore[arg-type]
        content = buffer.getvalue()
        self.base.repository.put_object_from_bytes(content, FILENAME)
        from ase.data import chemical_symbols

        self.base.attributes.set('filename', FILENAME)
        self.base.attributes.set('file_sha256', hashlib.sha256(content).hexdigest())
        self.base.attributes.set('content_hash', _content_hash(arrays))
        self.base.attributes.set('num_structures', int(arrays['natoms'].size))
        self.base.attributes.set('num_atoms', int(arrays['natoms'].sum()))
        self.base.attributes.set(
            'elements', sorted({chemical_symbols[z] for z in np.unique(arrays['numbers'])})
        )
        self.base.attributes.set('has_stress', bool('has_stress' in arrays and arrays['has_stress'].any()))
        self._arrays_cache = arrays

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TrainingSetData:
        """Build from arrays in the storage format (see the module docstring)."""
        return cls(arrays=arrays)

    @classmethod
    def from_ase(cls, atoms_list: Iterable[ase.Atoms]) -> TrainingSetData:
        """Build from ASE Atoms whose energy and forces come from ``atoms.calc``.

        Stress is taken where the calculator has it. ``atoms.info`` may carry ``name``,
        ``w_energy`` and ``w_forces`` (per-structure weights).
        """
        builder = _Builder()
        for index, atoms in enumerate(atoms_list):
            results = getattr(atoms.calc, 'results', None) or {}
            if atoms.calc is None:
                raise TrainingSetError(
                    f'structure {index} ({atoms.get_chemical_formula()}) has no calculator holding its labels; '
                    'attach a SinglePointCalculator with energy and forces'
                )
            builder.add(
                index,
                atoms,
                results.get('energy', results.get('free_energy')),
                results.get('forces'),
                results.get('stress'),
                atoms.info.get('name'),
                atoms.info.get('w_energy'),
                atoms.info.get('w_forces'),
            )
        return cls(arrays=builder.arrays())

    @classmethod
    def from_structures(
        cls,
        structures: Sequence[StructureData],
        energies: Sequence[Float | float],
        forces: Sequence[ArrayData | np.ndarray],
        stresses: Sequence[ArrayData | np.ndarray | None] | None = None,
        names: Sequence[str] | None = None,
    ) -> TrainingSetData:
        """Build from StructureData and their labels.

        :param energies: ``total_energy`` outputs (Float, eV) or plain numbers.
        :param forces: ``forces`` outputs (ArrayData with array ``forces``, eV/Å) or arrays.
        :param stresses: optional ``stress`` outputs (ArrayData with array ``stress``, eV/Å³).
        """
        if not (len(structures) == len(energies) == len(forces)):
            raise TrainingSetError(
                f'got {len(structures)} structures, {len(energies)} energies and {len(forces)} force sets'
            )
        builder = _Builder()
        for index, structure in enumerate(structures):
            atoms = structure.get_ase()
            energy = getattr(energies[index], 'value', energies[index])
            force = forces[index]
            if hasattr(force, 'get_array'):
                force = force.get_array('forces')
            stress = stresses[index] if stresses else None
            if stress is not None and hasattr(stress, 'get_array'):
                stress = stress.get_array('stress')
            name = (
                names[index] if names else structure.label or f'{atoms.get_chemical_formula()}_{structure.pk}'
            )
            builder.add(index, atoms, energy, force, stress, name)
        return cls(arrays=builder.arrays())

    # ------------------------------------------------------------------ reading
    def get_arrays(self) -> dict[str, np.ndarray]:
        """Return the stored arrays (see the module docstring), after checking the file's hash."""
        cached: dict[str, np.ndarray] | None = getattr(self, '_arrays_cache', None)
        if cached is not None:
            return cached
        content = self.base.repository.get_object_content(FILENAME, mode='rb')
        expected = self.base.attributes.get('file_sha256')
        if hashlib.sha256(content).hexdigest() != expected:
            raise TrainingSetError(
                f'the stored file of TrainingSetData<{self.pk}> does not match its recorded SHA-256: '
                'the repository was modified or is corrupt'
            )
        with np.load(io.BytesIO(content), allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
        self._arrays_cache = arrays
        return arrays

    @property
    def num_structures(self) -> int:
        """Number of structures."""
        return t.cast(int, self.base.attributes.get('num_structures'))

    @property
    def num_atoms(self) -> int:
        """Total number of atoms over all structures."""
        return t.cast(int, self.base.attributes.get('num_atoms'))

    @property
    def elements(self) -> list[str]:
        """Sorted chemical symbols present in the set."""
        return t.cast(list[str], self.base.attributes.get('elements'))

    @property
    def content_hash(self) -> str:
        """SHA-256 over the content; equal content gives an equal hash."""
        return t.cast(str, self.base.attributes.get('content_hash'))

    @property
    def names(self) -> list[str]:
        """Per-structure names."""
        return [str(name) for name in self.get_arrays()['names']]

    def _slices(self) -> list[slice]:
        offsets = np.concatenate([[0], np.cumsum(self.get_arrays()['natoms'])])
        return [slice(offsets[i], offsets[i + 1]) for i in range(len(offsets) - 1)]

    def structure_hashes(self) -> list[str]:
        """Return the geometry hash of each structure (see :func:`structure_hash`)."""
        arrays = self.get_arrays()
        return [
            structure_hash(arrays['numbers'][s], arrays['positions'][s], arrays['cells'][i], arrays['pbc'][i])
            for i, s in enumerate(self._slices())
        ]

    def to_ase(self, labels: bool = True) -> list[ase.Atoms]:
        """Return the structures as ASE Atoms, with a SinglePointCalculator holding the labels.

        :param labels: attach the labels; without them (what the pickle export needs) it is
            several times faster, a calculator keeping its own copy of every Atoms.
        """
        from ase import Atoms
        from ase.calculators.singlepoint import SinglePointCalculator

        arrays = self.get_arrays()
        result = []
        for index, atom_slice in enumerate(self._slices()):
            atoms = Atoms(
                numbers=arrays['numbers'][atom_slice],
                positions=arrays['positions'][atom_slice],
                cell=arrays['cells'][index],
                pbc=arrays['pbc'][index],
            )
            atoms.info['name'] = str(arrays['names'][index])
            for key in ('w_energy', 'w_forces'):
                if key in arrays:
                    atoms.info[key] = float(arrays[key][index])
            if labels:
                results: dict[str, t.Any] = {
                    'energy': float(arrays['energy'][index]),
                    'forces': arrays['forces'][atom_slice].copy(),
                }
                if 'has_stress' in arrays and arrays['has_stress'][index]:
                    results['stress'] = arrays['stress'][index].copy()
                atoms.calc = SinglePointCalculator(atoms, **results)
            result.append(atoms)
        return result

    def to_dataframe(self) -> t.Any:
        """Return pacemaker's DataFrame: columns ``name``, ``ase_atoms``, ``energy``, ``forces``, ...

        The ``energy`` column holds the total energy (eV); pacemaker derives
        ``energy_corrected`` from it with the ``data: reference_energy`` option.
        """
        arrays = self.get_arrays()
        atoms_list = self.to_ase(labels=False)
        columns: dict[str, t.Any] = {
            'name': [str(n) for n in arrays['names']],
            'ase_atoms': atoms_list,
            'energy': arrays['energy'].astype(float),
            'forces': [arrays['forces'][s].copy() for s in self._slices()],
        }
        if 'has_stress' in arrays and arrays['has_stress'].all():
            columns['stress'] = [row.copy() for row in arrays['stress']]
        if 'w_energy' in arrays or 'w_forces' in arrays:
            natoms = arrays['natoms']
            w_energy = arrays.get('w_energy', np.ones(natoms.size))
            w_forces = arrays.get('w_forces', np.ones(natoms.size))
            columns['w_energy'] = w_energy.astype(float)
            columns['w_forces'] = [np.full(n, w) for n, w in zip(natoms, w_forces, strict=True)]
        return portable_dataframe(columns)

    def write_pacemaker_pickle(self, handle_or_path: t.Any) -> None:
        """Write pacemaker's gzipped pickle of the DataFrame (:meth:`to_dataframe`).

        Readable by pandas 2 and 3 (string columns and the column index are ``object``).
        """
        frame = self.to_dataframe()
        frame.to_pickle(handle_or_path, compression='gzip')

    def write_extxyz(self, handle_or_path: t.Any) -> None:
        """Write the structures and labels as extended XYZ."""
        from ase.io import write

        write(handle_or_path, self.to_ase(), format='extxyz')
