"""Extrapolation grades of candidates, before and after pace_select.

Usage:
  python gamma_report.py filter POTENTIAL.yaml ACTIVE_SET.asi ALL.npz OUT.pckl.gzip GAMMA_MIN GAMMA_MAX [FLOOR [MODE]]
      writes gamma.json ({name: max gamma over atoms}) for every candidate and OUT with the
      candidates whose max gamma lies in [GAMMA_MIN, GAMMA_MAX) (GAMMA_MAX `inf` for no bound)
      and, with FLOOR > 0 (Å), no two atoms closer than FLOOR (the others are listed in
      too_close.json); when none is left, also writes the marker file `nothing_to_select`. MODE
      `linear` or `full` (the active set's): the grades of all candidates from their B-projections at
      once; `none`: no grades (gamma.json is {}; only the floor is applied); without it, one
      calculator evaluation per candidate.
  python gamma_report.py selected SELECTED.pkl.gz
      writes selected.json: the names pace_select chose, in its order ([] if none).
  python gamma_report.py choose SETTINGS.json
      the strategies beyond MaxVol (see selection.py): reads the settings (strategy, max_structures,
      tail_fraction, tail_min_gamma, coverage, seed, the potential, the in-window candidates, the training structures and
      pace_select's choice) and writes choice.json: [[name, reason], ...] in the order chosen.

The candidates arrive as arrays (``.npz``, read with ``allow_pickle=False``); every pickle read here
was written in this job's folder: the in-window candidates by this script's ``filter``, the training
structures by aiida-pacemaker from its own arrays, the selection by pace_select.
"""

from __future__ import annotations

import json
import os
import sys
import typing as t

import numpy as np
import pandas as pd

if t.TYPE_CHECKING:
    from ase import Atoms


def shortest_distance(atoms: Atoms, cutoff: float) -> float:
    """The shortest interatomic distance of ``atoms`` (Å) if below ``cutoff``, else ``cutoff``."""
    from ase.neighborlist import neighbor_list

    distances = neighbor_list('d', atoms, cutoff)
    return float(distances.min()) if len(distances) else cutoff


def grades_by_calculator(potential: str, asi: str, atoms_list: t.Iterable[Atoms]) -> list[float]:
    """The largest extrapolation grade of each structure, one PyACECalculator evaluation at a time."""
    from pyace import PyACECalculator

    calculator = PyACECalculator(potential)
    calculator.set_active_set(asi)
    grades = []
    for atoms in atoms_list:
        atoms = atoms.copy()
        atoms.calc = calculator
        atoms.get_potential_energy()
        grades.append(float(np.max(calculator.results['gamma'])))
    return grades


def grades_by_projections(
    potential: str, asi: str, atoms_list: t.Collection[Atoms], full: bool
) -> list[float]:
    """The same grades from the B-projections of all structures at once (what pace_select computes):
    gamma of an atom = max |B . A_active^-1| over the functions of its species; of a structure, the max over
    its atoms. ``full``: the active set is the non-linear one (projections on every coefficient)."""
    from pyace import BBasisConfiguration
    from pyace.activelearning import (
        compute_B_projections,
        compute_extrapolation_grade,
        load_active_inverse_set,
    )

    projections, owners = compute_B_projections(
        BBasisConfiguration(potential), list(atoms_list), is_full=full, return_structure_ind_dict=True
    )
    per_atom = compute_extrapolation_grade(projections, load_active_inverse_set(asi))
    grades = np.zeros(len(atoms_list))
    for species, values in per_atom.items():
        np.maximum.at(grades, owners[species], values)
    return [float(value) for value in grades]


def read_candidates(source: str) -> pd.DataFrame:
    """Names and ASE Atoms of the candidates' arrays (``.npz``, read without pickle)."""
    from ase import Atoms

    with np.load(source, allow_pickle=False) as stored:
        arrays = {key: stored[key] for key in ('natoms', 'numbers', 'positions', 'cells', 'pbc', 'names')}
    stops = np.cumsum(arrays['natoms'])
    starts = stops - arrays['natoms']
    atoms_list = [
        Atoms(
            numbers=arrays['numbers'][start:stop],
            positions=arrays['positions'][start:stop],
            cell=arrays['cells'][index],
            pbc=arrays['pbc'][index],
        )
        for index, (start, stop) in enumerate(zip(starts, stops, strict=True))
    ]
    return pd.DataFrame({'name': [str(name) for name in arrays['names']], 'ase_atoms': atoms_list})


def filter_candidates(
    potential: str,
    asi: str,
    source: str,
    target: str,
    gamma_min: float,
    gamma_max: float,
    floor: float = 0.0,
    mode: str | None = None,
) -> None:
    frame = read_candidates(source)  # the arrays aiida-pacemaker wrote: never a pickle from a node
    if mode == 'none':  # the job was asked not to grade: pace_select's own pass is the only one
        with open('gamma.json', 'w') as handle:
            json.dump({}, handle)
        keep = [True] * len(frame)
    else:
        if mode in ('linear', 'full'):
            grades = grades_by_projections(potential, asi, frame['ase_atoms'], full=mode == 'full')
        else:  # jobs that name no active-set mode
            grades = grades_by_calculator(potential, asi, frame['ase_atoms'])
        gamma = {str(name): grade for name, grade in zip(frame['name'], grades, strict=True)}
        with open('gamma.json', 'w') as handle:
            json.dump(gamma, handle)
        keep = [gamma_min <= gamma[str(name)] < gamma_max for name in frame['name']]
    if floor > 0:
        too_close = [shortest_distance(atoms, floor) < floor for atoms in frame['ase_atoms']]
        with open('too_close.json', 'w') as handle:
            json.dump(
                [str(name) for name, close in zip(frame['name'], too_close, strict=True) if close], handle
            )
        keep = [k and not close for k, close in zip(keep, too_close, strict=True)]
    kept = frame[keep].reset_index(drop=True)
    kept.to_pickle(target, compression='gzip')
    if not len(kept):
        open('nothing_to_select', 'w').close()


def report_selected(selected_file: str) -> None:
    selected: list[str] = []
    if os.path.isfile(selected_file):
        chosen = pd.read_pickle(selected_file)  # written in this job by pace_select
        if len(chosen) and 'name' in chosen.columns:
            selected = [str(name) for name in chosen['name']]
    with open('selected.json', 'w') as handle:
        json.dump(selected, handle)


def atom_features(
    potential: str, atoms_list: t.Collection[Atoms]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per-species linear B-projections of every atom and the index of its structure."""
    from pyace import BBasisConfiguration
    from pyace.activelearning import compute_B_projections

    if not len(atoms_list):
        return {}, {}
    projections, owners = compute_B_projections(
        BBasisConfiguration(potential), list(atoms_list), return_structure_ind_dict=True
    )
    return projections, owners


def energies_above_composition(
    potential: str, candidates: list[Atoms], training: list[Atoms]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The potential's predicted energy per atom above a composition reference fitted over the
    candidates and the training structures together (eV/atom), for each of the two lists, and their
    compositions (atoms of each species, the same columns for both)."""
    import selection  # next to this script in the job folder
    from pyace import PyACECalculator

    calculator = PyACECalculator(potential)
    structures = candidates + training
    species = sorted({int(number) for atoms in structures for number in atoms.numbers})
    compositions = np.array([[np.count_nonzero(a.numbers == z) for z in species] for a in structures])
    compositions = compositions.reshape(len(structures), -1)
    energies = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = calculator
        energies.append(float(atoms.get_potential_energy()))
    residual = selection.energy_above_composition(np.array(energies), compositions)
    split = len(candidates)
    return residual[:split], residual[split:], compositions[:split], compositions[split:]


def choose(settings_file: str) -> None:
    import selection  # next to this script in the job folder

    with open(settings_file) as handle:
        settings = json.load(handle)
    # written into this job by its own filter step, from the arrays read with allow_pickle=False
    frame = pd.read_pickle(settings['candidates'], compression='gzip')
    names = [str(name) for name in frame['name']]
    budget = int(settings['max_structures'])
    strategy = settings['strategy']
    eligible = np.ones(len(names), dtype=bool)
    seed = int(settings['seed'])
    coverage = strategy if strategy != 'hybrid' else settings.get('coverage', 'lcmd')
    picked: list[int] = []
    if strategy == 'hybrid':
        with open(settings['maxvol']) as handle:
            maxvol = json.load(handle)
        tail = round(float(settings['tail_fraction']) * budget)
        index = {name: i for i, name in enumerate(names)}
        # the tail is what extrapolates: MaxVol's picks graded below `tail_min_gamma` leave their
        # places to the coverage strategy (gamma.json: written by this job's filter step)
        threshold = float(settings.get('tail_min_gamma', 0.0))
        with open('gamma.json') as handle:
            gamma = json.load(handle)
        tail_picks = [name for name in maxvol if gamma[name] >= threshold]
        picked = [index[name] for name in tail_picks[:tail]]
    rest = budget - len(picked)
    chosen = [(i, 'maxvol') for i in picked]
    if coverage == 'random':
        # no features needed: the rest is a seeded draw from the candidates MaxVol left
        eligible[picked] = False
        chosen += selection.random_draw(eligible, rest, seed)
    else:
        candidates, owners = atom_features(settings['potential'], frame['ase_atoms'])
        training: dict[int, np.ndarray] = {}
        if settings.get('training'):
            # written by aiida-pacemaker's prepare_for_submission from the TrainingSetData's arrays
            train_frame = pd.read_pickle(settings['training'], compression='gzip')
            training, _ = atom_features(settings['potential'], train_frame['ase_atoms'])
        for species in candidates:
            training.setdefault(species, np.zeros((0, candidates[species].shape[1])))
        features = selection.AtomFeatures(candidates, owners, training)
        if coverage == 'stratified':
            train_atoms = train_frame['ase_atoms'] if settings.get('training') else []
            energy, training_energy, composition, training_composition = energies_above_composition(
                settings['potential'], list(frame['ase_atoms']), list(train_atoms)
            )
            chosen += selection.stratified(
                features,
                eligible,
                rest,
                energy,
                training_energy,
                picked,
                compositions=composition,
                training_compositions=training_composition,
            )
        elif strategy == 'maxdist':
            chosen = selection.max_distance(features, eligible, budget)
        elif coverage == 'representative':
            chosen += selection.representative(features, eligible, rest, picked, seed)
        else:
            chosen += selection.largest_cluster_max_distance(features, eligible, rest, picked)
    with open('choice.json', 'w') as handle:
        json.dump([[names[index], reason] for index, reason in chosen], handle)


def main(argv: list[str]) -> None:
    if argv[1] == 'filter':
        potential, asi, source, target, gamma_min, gamma_max = argv[2:8]
        floor = float(argv[8]) if len(argv) > 8 else 0.0
        mode = argv[9] if len(argv) > 9 else None
        filter_candidates(potential, asi, source, target, float(gamma_min), float(gamma_max), floor, mode)
    elif argv[1] == 'selected':
        report_selected(argv[2])
    elif argv[1] == 'choose':
        choose(argv[2])
    else:
        raise SystemExit(f'unknown command {argv[1]!r}')


if __name__ == '__main__':
    main(sys.argv)
