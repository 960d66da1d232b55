"""Read and write structure files: labelled data sets and unlabelled candidates.

Formats: extended XYZ or any format ASE reads (energy in eV and forces in eV/Å through
``atoms.calc``), and pacemaker's gzipped pickle of a pandas DataFrame. Reading a pickle
can run arbitrary code, so :func:`read_labelled_structures` refuses it unless the caller
says the file is trusted.
"""

from __future__ import annotations

import pathlib
import typing as t

import numpy as np

from aiida_pacemaker.data.training_set import TrainingSetData, TrainingSetError

if t.TYPE_CHECKING:
    import ase
    from aiida import orm

__all__ = (
    'PICKLE_SUFFIXES',
    'UntrustedPickleError',
    'export_training_set',
    'is_pickle',
    'read_labelled_structures',
    'read_structures',
    'structures_to_nodes',
    'training_set_from_files',
)

#: file name endings of pacemaker's gzipped DataFrame pickles
PICKLE_SUFFIXES = ('.pckl.gzip', '.pkl.gzip', '.pckl.gz', '.pkl.gz', '.pckl', '.pkl')
#: file name endings written as extended XYZ
EXTXYZ_SUFFIXES = ('.extxyz', '.xyz')


class UntrustedPickleError(ValueError):
    """Raised when a pickle is to be read without the caller trusting it."""


def is_pickle(path: str | pathlib.Path) -> bool:
    """Whether ``path`` names a pacemaker pickle (by its extension)."""
    return str(path).lower().endswith(PICKLE_SUFFIXES)


def read_structures(path: str | pathlib.Path) -> list[ase.Atoms]:
    """Read every structure of an ASE-readable file (labels, if any, stay on ``atoms.calc``).

    :raises ValueError: if the file is missing, unreadable, a pickle or holds no structure.
    """
    from ase.io import read

    path = pathlib.Path(path)
    if is_pickle(path):
        raise ValueError(
            f'{path}: a pickle is not read as structures (unpickling runs code): convert it to extxyz'
        )
    if not path.is_file():
        raise ValueError(f'{path}: no such file')
    try:
        atoms_list = read(str(path), index=':')
    except Exception as exception:  # ASE raises many types for unreadable files
        raise ValueError(f'{path}: ASE cannot read it: {type(exception).__name__}: {exception}') from None
    if not isinstance(atoms_list, list):
        atoms_list = [atoms_list]
    if not atoms_list:
        raise ValueError(f'{path}: the file holds no structure')
    return atoms_list


def read_labelled_structures(path: str | pathlib.Path, trust_pickle: bool = False) -> list[ase.Atoms]:
    """Read labelled structures: energy (eV) and forces (eV/Å) on each ``atoms.calc``.

    :param trust_pickle: read a pacemaker pickle (``*.pckl.gzip``, ``*.pkl.gz``). Unpickling runs
        code from the file: only for files you made or trust.
    :raises UntrustedPickleError: for a pickle without ``trust_pickle``.
    :raises ValueError: if a structure has no energy or forces.
    """
    path = pathlib.Path(path)
    if is_pickle(path):
        if not trust_pickle:
            raise UntrustedPickleError(
                f'{path} is a pickle, and unpickling runs code from the file: '
                'pass --trust-pickle only if you made it or trust its source, or convert it to extxyz'
            )
        return _read_pacemaker_pickle(path)
    atoms_list = read_structures(path)
    for index, atoms in enumerate(atoms_list):
        results = getattr(atoms.calc, 'results', None) or {}
        if 'energy' not in results and 'free_energy' not in results:
            raise ValueError(f'{path}: structure {index} ({atoms.get_chemical_formula()}) has no energy')
        if 'forces' not in results:
            raise ValueError(f'{path}: structure {index} ({atoms.get_chemical_formula()}) has no forces')
    return atoms_list


def _read_pacemaker_pickle(path: pathlib.Path) -> list[ase.Atoms]:
    """Structures of pacemaker's DataFrame (columns ``ase_atoms``, ``energy``, ``forces``, optional
    ``name``, ``stress``, ``w_energy``, ``w_forces``). Only called for a trusted file.
    """
    import pandas as pd
    from ase.calculators.singlepoint import SinglePointCalculator

    compression = 'gzip' if path.suffix.lower() in ('.gzip', '.gz') else None
    try:
        frame = pd.read_pickle(path, compression=compression)  # the caller trusts the file
    except Exception as exception:  # unpickling raises anything
        raise ValueError(
            f'{path}: not a readable pandas pickle: {type(exception).__name__}: {exception}'
        ) from None
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{path}: the pickle holds a {type(frame).__name__}, not pacemaker's DataFrame")
    missing = [column for column in ('ase_atoms', 'energy', 'forces') if column not in frame.columns]
    if missing:
        hint = (
            ' (it has only `energy_corrected`: the total `energy` is needed)' if 'energy' in missing else ''
        )
        raise ValueError(f'{path}: the DataFrame has no column(s) {missing}{hint}')
    atoms_list = []
    for index, row in enumerate(frame.itertuples(index=False)):
        atoms = row.ase_atoms.copy()
        labels: dict[str, t.Any] = {
            'energy': float(row.energy),
            'forces': np.asarray(row.forces, dtype=float),
        }
        stress = getattr(row, 'stress', None)
        if stress is not None and np.size(stress) in (6, 9):
            labels['stress'] = np.asarray(stress, dtype=float)
        atoms.calc = SinglePointCalculator(atoms, **labels)
        atoms.info['name'] = str(getattr(row, 'name', f'structure_{index}'))
        if getattr(row, 'w_energy', None) is not None:
            atoms.info['w_energy'] = float(row.w_energy)
        w_forces = getattr(row, 'w_forces', None)
        if w_forces is not None:
            values = np.unique(np.asarray(w_forces, dtype=float))
            if values.size > 1:
                raise ValueError(
                    f'{path}: structure {index} has per-atom force weights that differ; '
                    'a training set stores one force weight per structure'
                )
            atoms.info['w_forces'] = float(values[0])
        atoms_list.append(atoms)
    if not atoms_list:
        raise ValueError(f'{path}: the DataFrame has no rows')
    return atoms_list


def training_set_from_files(
    paths: t.Sequence[str | pathlib.Path], trust_pickle: bool = False
) -> TrainingSetData:
    """One unstored `TrainingSetData` of the labelled structures of every file, in order.

    :raises ValueError: naming the file and structure at fault.
    """
    atoms_list: list[ase.Atoms] = []
    for path in paths:
        atoms_list.extend(read_labelled_structures(path, trust_pickle=trust_pickle))
    try:
        return TrainingSetData.from_ase(atoms_list)
    except TrainingSetError as exception:
        files = ', '.join(str(p) for p in paths)
        raise TrainingSetError(f'{files}: {exception}') from None


def structures_to_nodes(atoms_list: t.Sequence[ase.Atoms], prefix: str) -> dict[str, orm.StructureData]:
    """Unstored StructureData keyed ``{prefix}0000``, ``{prefix}0001``, ... (valid link labels)."""
    from aiida import orm

    return {f'{prefix}{index:04d}': orm.StructureData(ase=atoms) for index, atoms in enumerate(atoms_list)}


def export_training_set(training_set: TrainingSetData, path: str | pathlib.Path) -> pathlib.Path:
    """Write ``training_set`` to ``path``: extended XYZ (``.extxyz``, ``.xyz``) or pacemaker's gzipped
    pickle (``.pckl.gzip``, ``.pkl.gz``), chosen by the extension. Returns the path.

    :raises ValueError: for another extension.
    """
    path = pathlib.Path(path)
    name = path.name.lower()
    if name.endswith(EXTXYZ_SUFFIXES):
        training_set.write_extxyz(str(path))
    elif name.endswith(('.pckl.gzip', '.pkl.gzip', '.pckl.gz', '.pkl.gz')):
        training_set.write_pacemaker_pickle(str(path))
    else:
        raise ValueError(
            f'{path}: unknown extension; use .extxyz (or .xyz) for extended XYZ, or .pckl.gzip for pacemaker'
        )
    return path
