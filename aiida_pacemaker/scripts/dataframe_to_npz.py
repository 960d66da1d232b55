"""Turn the pandas pickle that a pacemaker utility has just written in this job into plain arrays.

Usage:
  python dataframe_to_npz.py collect PICKLE DATA_DIR OUT.npz REPORT.json
      PICKLE is what ``pace_collect -wd DATA_DIR`` wrote (absent when it failed). Writes REPORT.json
      always: every VASP output file under DATA_DIR that pace_collect reads (its own rules: ``OUTCAR``
      before ``vasprun.xml`` in a folder, else any file whose name contains one of them), whether the
      run finished, how many structures pace_collect took from it and, for a file it took none from,
      why (the error ASE's reader gives). Writes OUT.npz, the collected structures, when PICKLE exists.
  python dataframe_to_npz.py augment PICKLE OUT.npz
      PICKLE is what ``pace_augment -o PICKLE`` wrote. Writes OUT.npz with its structures; the energy
      is pace_augment's ``energy_corrected`` (eV, ZBL, relative to the potential's reference energies).

OUT.npz holds the arrays of aiida-pacemaker's training-set format (``natoms``, ``numbers``,
``positions`` in Å, ``forces`` in eV/Å, ``cells``, ``pbc``, ``energy`` in eV, ``names`` and, from
pace_collect, ``stress`` in eV/Å³ with ASE's sign and Voigt order): no Python objects, so AiiDA reads
it with ``numpy.load(allow_pickle=False)``. Every pickle read here was written in this job's folder by
the pacemaker tool that ran just before; nothing is read from anywhere else. Imports numpy, pandas
and ase only.
"""

from __future__ import annotations

import json
import os
import sys
import typing as t

import numpy as np
import pandas as pd

if t.TYPE_CHECKING:
    import numpy.typing as npt
    from ase import Atoms

VASPRUN = 'vasprun.xml'
OUTCAR = 'OUTCAR'
#: the last section VASP writes into an OUTCAR, once the run has ended normally
OUTCAR_FOOTER = b'General timing and accounting informations for this job'
#: the closing tag of a complete vasprun.xml
VASPRUN_FOOTER = b'</modeling>'
TAIL_BYTES = 65536


def one_line(exception: BaseException) -> str:
    """``Type: message`` of ``exception`` on one line."""
    return ' '.join(f'{type(exception).__name__}: {exception}'.split())


def vasp_files(data_dir: str) -> list[tuple[str, str]]:
    """The files pace_collect reads under ``data_dir``, as (path, ASE format), in its walk order."""
    found = []
    for root, _, filenames in os.walk(data_dir):
        if OUTCAR in filenames:
            found.append((os.path.join(root, OUTCAR), 'vasp-out'))
        elif VASPRUN in filenames:
            found.append((os.path.join(root, VASPRUN), 'vasp-xml'))
        else:
            for name in filenames:
                if OUTCAR in name:
                    found.append((os.path.join(root, name), 'vasp-out'))
                elif VASPRUN in name:
                    found.append((os.path.join(root, name), 'vasp-xml'))
    return found


def finished(path: str, file_format: str) -> bool:
    """Whether the VASP run of ``path`` ended normally (its file ends with VASP's closing section)."""
    with open(path, 'rb') as handle:
        handle.seek(0, os.SEEK_END)
        handle.seek(max(0, handle.tell() - TAIL_BYTES))
        tail = handle.read()
    return (OUTCAR_FOOTER if file_format == 'vasp-out' else VASPRUN_FOOTER) in tail


def electronic_steps(path: str) -> tuple[int | None, list[int]]:
    """``NELM`` and the number of electronic steps of each ionic step of a vasprun.xml (None, [] if unreadable)."""
    import xml.etree.ElementTree as ET

    nelm, counts, depth = None, [], 0
    try:
        for event, element in ET.iterparse(path, events=('start', 'end')):
            if event == 'start':
                if element.tag == 'calculation':
                    counts.append(0)
                    depth += 1
                continue
            if element.tag == 'i' and element.get('name') == 'NELM':
                nelm = int(element.text)
            elif element.tag == 'scstep' and depth:
                counts[-1] += 1
            elif element.tag == 'calculation':
                depth -= 1
                element.clear()
    except (ET.ParseError, ValueError):
        pass  # a truncated file: the counts so far
    return nelm, counts


def why_unread(path: str, file_format: str) -> str:
    """Why pace_collect took no structure from ``path``: the error of ASE's reader, as pace_collect calls it."""
    from ase.io import read

    try:
        images = read(path, format=file_format, index=':')
        if not images:
            return 'no structure in the file'
        for atoms in images:
            atoms.get_potential_energy(force_consistent=True)
            atoms.get_forces()
            atoms.get_stress()
    except Exception as exception:  # whatever the reader raises, reported in one line
        return one_line(exception)
    return 'pace_collect did not read it (see its log)'


def arrays_of(
    atoms_list: list[Atoms],
    energies: npt.ArrayLike,
    forces: t.Iterable[npt.ArrayLike],
    names: t.Iterable[str],
    stresses: t.Iterable[npt.ArrayLike] | None = None,
) -> dict[str, np.ndarray]:
    """The training-set arrays of the structures (see the module docstring)."""
    arrays = {
        'natoms': np.array([len(atoms) for atoms in atoms_list], dtype=np.int64),
        'numbers': np.concatenate([atoms.numbers for atoms in atoms_list]).astype(np.int32),
        'positions': np.concatenate([atoms.positions for atoms in atoms_list]).astype(np.float64),
        'forces': np.concatenate([np.asarray(f, dtype=np.float64).reshape(-1, 3) for f in forces]),
        'cells': np.stack([atoms.cell.array for atoms in atoms_list]).astype(np.float64),
        'pbc': np.stack([np.asarray(atoms.pbc, dtype=bool) for atoms in atoms_list]),
        'energy': np.asarray(energies, dtype=np.float64),
        'names': np.array([str(name) for name in names], dtype=np.str_),
    }
    if stresses is not None:
        arrays['stress'] = np.stack([np.asarray(s, dtype=np.float64).reshape(6) for s in stresses])
        arrays['has_stress'] = np.ones(len(atoms_list), dtype=bool)
    return arrays


def collect(pickle_path: str, data_dir: str, out_path: str, report_path: str) -> None:
    data_root = os.path.abspath(data_dir)
    files = vasp_files(data_dir)
    frame = None
    if os.path.isfile(pickle_path):
        frame = pd.read_pickle(pickle_path, compression='gzip')  # written in this job by pace_collect
    structures: list[dict[str, t.Any]] = []
    names: list[str] = []
    if frame is not None and len(frame):
        for name in frame['name']:
            source, _, step = str(name).rpartition('##')
            relative = os.path.relpath(source, data_root)
            names.append(f'{relative}##{step}')
            structures.append({'name': names[-1], 'file': relative, 'step': int(step)})
    per_file: dict[str, dict[str, t.Any]] = {}
    for path, file_format in files:
        relative = os.path.relpath(os.path.abspath(path), data_root)
        entry: dict[str, t.Any] = {
            'file': relative,
            'format': file_format,
            'finished': finished(path, file_format),
        }
        entry['collected'] = sum(1 for s in structures if s['file'] == relative)
        entry['reason'] = None if entry['collected'] else why_unread(path, file_format)
        if file_format == 'vasp-xml':
            entry['nelm'], entry['electronic_steps'] = electronic_steps(path)
        per_file[relative] = entry
    for structure in structures:
        entry = per_file.get(structure['file'], {})
        steps = entry.get('electronic_steps') or []
        nelm = entry.get('nelm')
        count = steps[structure['step']] if structure['step'] < len(steps) else None
        structure['electronic_steps'] = count
        structure['scf_converged'] = None if (nelm is None or count is None) else bool(count < nelm)
    with open(report_path, 'w') as handle:
        json.dump({'files': list(per_file.values()), 'structures': structures}, handle, indent=1)
    if frame is not None and len(frame):
        arrays = arrays_of(
            list(frame['ase_atoms']), frame['energy'], frame['forces'], names, list(frame['stress'])
        )
        np.savez_compressed(out_path, **arrays)  # type: ignore[arg-type]  # numpy's stub: a ** key may be allow_pickle


def augment(pickle_path: str, out_path: str) -> None:
    frame = pd.read_pickle(pickle_path)  # written in this job by pace_augment (gzip, from the name)
    frame = frame.reset_index(drop=True)
    names = [
        f'{name}/{index}/nn{z:.2f}'
        for index, (name, z) in enumerate(zip(frame['name'], frame['z'], strict=True))
    ]
    arrays = arrays_of(list(frame['ase_atoms']), frame['energy_corrected'], frame['forces'], names)
    np.savez_compressed(out_path, **arrays)  # type: ignore[arg-type]  # numpy's stub: a ** key may be allow_pickle


def main(argv: list[str]) -> None:
    if len(argv) == 6 and argv[1] == 'collect':
        collect(*argv[2:6])
    elif len(argv) == 4 and argv[1] == 'augment':
        augment(*argv[2:4])
    else:
        raise SystemExit(
            f'usage: {argv[0]} collect PICKLE DATA_DIR OUT.npz REPORT.json | augment PICKLE OUT.npz'
        )


if __name__ == '__main__':
    main(sys.argv)
