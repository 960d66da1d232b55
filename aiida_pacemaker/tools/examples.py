"""Small example datasets labelled with ASE's EMT, for demos, tests and benchmarks."""

from __future__ import annotations

import numpy as np

__all__ = ('emt_label', 'random_bulk_structures')


def random_bulk_structures(
    count: int,
    element: str = 'Cu',
    seed: int = 0,
    strain: float = 0.05,
    rattle: tuple[float, float] = (0.02, 0.15),
    lattice_constant: float = 3.61,
) -> list:
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


def emt_label(structures: list) -> list:
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
