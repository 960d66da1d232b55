"""Small example datasets labelled with ASE's EMT, for demos, tests and benchmarks."""

from __future__ import annotations

import typing as t

import numpy as np

if t.TYPE_CHECKING:
    from ase import Atoms

__all__ = ('emt_label', 'random_alloy_structures', 'random_bulk_structures')


def random_bulk_structures(
    count: int,
    element: str = 'Cu',
    seed: int = 0,
    strain: float = 0.05,
    rattle: tuple[float, float] = (0.02, 0.15),
    lattice_constant: float = 3.61,
) -> list[Atoms]:
    """Return ``count`` distorted fcc cells (4 or 8 atoms): random volume strain up to
    ±``strain`` and a Gaussian rattle of standard deviation drawn from ``rattle`` (Å).
    """
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    structures = []
    for index in range(count):
        scale = 1.0 + rng.uniform(-strain, strain)
        atoms = bulk(element, 'fcc', a=lattice_constant * scale, cubic=True)
        if index % 2:
            atoms = atoms.repeat((1, 1, 2))
        atoms.rattle(stdev=float(rng.uniform(*rattle)), seed=int(rng.integers(1 << 30)))
        atoms.info['name'] = f'{element}_{index}'
        structures.append(atoms)
    return structures


#: fcc lattice constants (Å) of ASE's EMT elements, for Vegard's law in :func:`random_alloy_structures`
EMT_FCC_LATTICE_CONSTANTS = {
    'Al': 4.05,
    'Ni': 3.52,
    'Cu': 3.61,
    'Pd': 3.89,
    'Ag': 4.09,
    'Pt': 3.92,
    'Au': 4.08,
}


def random_alloy_structures(
    count: int,
    elements: tuple[str, str] = ('Cu', 'Au'),
    seed: int = 0,
    strain: float = 0.05,
    rattle: tuple[float, float] = (0.02, 0.15),
    vacancy_probability: float = 0.3,
    outliers: int = 0,
    outlier_distance: tuple[float, float] = (0.55, 0.7),
) -> list[Atoms]:
    """Return ``count`` distorted fcc cells of a random binary alloy: 8 or 16 atoms, a random
    composition, the lattice constant by Vegard's law, volume strain up to ±``strain``, a
    Gaussian rattle of standard deviation drawn from ``rattle`` (Å), and with probability
    ``vacancy_probability`` one vacancy.

    The last ``outliers`` cells are unphysical: one atom is pushed towards a neighbour to a
    distance of ``outlier_distance`` (a fraction of the nearest-neighbour distance), closer
    than anything in a typical cell (the kind of candidate that an exploration produces and
    that a selection should not spend its budget on).
    """
    from ase.build import bulk

    rng = np.random.default_rng(seed)
    first, second = elements
    structures = []
    for index in range(count):
        atoms = bulk(first, 'fcc', a=1.0, cubic=True).repeat((1, 1, 2) if index % 2 else (1, 2, 2))
        share = rng.uniform(0.0, 1.0)
        symbols = np.where(rng.uniform(size=len(atoms)) < share, second, first)
        atoms.set_chemical_symbols(list(symbols))
        fraction = float(np.mean(symbols == second))
        constant = (1 - fraction) * EMT_FCC_LATTICE_CONSTANTS[first] + fraction * EMT_FCC_LATTICE_CONSTANTS[
            second
        ]
        atoms.set_cell(atoms.cell * constant * (1.0 + rng.uniform(-strain, strain)), scale_atoms=True)
        if rng.uniform() < vacancy_probability:
            del atoms[int(rng.integers(len(atoms)))]
        atoms.rattle(stdev=float(rng.uniform(*rattle)), seed=int(rng.integers(1 << 30)))
        if index >= count - outliers:
            distances = atoms.get_all_distances(mic=True)[0]
            neighbour = int(np.argmin(np.where(distances > 0, distances, np.inf)))
            vector = atoms.get_distance(0, neighbour, mic=True, vector=True)
            target = float(rng.uniform(*outlier_distance)) * constant / np.sqrt(2.0)
            atoms.positions[0] += vector * (1.0 - target / np.linalg.norm(vector))
            atoms.info['outlier'] = True
        atoms.info['name'] = f'{first}{second}_{index}'
        structures.append(atoms)
    return structures


def emt_label(structures: list[Atoms]) -> list[Atoms]:
    """Attach EMT energies (eV) and forces (eV/Å) as SinglePointCalculators; returns copies."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    labelled = []
    for atoms in structures:
        atoms = atoms.copy()
        atoms.calc = EMT()
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        atoms.calc = SinglePointCalculator(atoms, energy=energy, forces=forces)
        labelled.append(atoms)
    return labelled
