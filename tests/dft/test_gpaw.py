"""Real GPAW labels through the built-in ASE labeller (``pacemaker.label_ase``), small settings."""

from __future__ import annotations

import time

import numpy as np
import pytest
from aiida import orm

from aiida_pacemaker.labellers.ase import label_with_ase

from .conftest import assert_forces_match_energy, small_cu_cells

pytestmark = pytest.mark.dft

#: the example of docs/howto/dft_labels.md: plane waves at 300 eV, the Gamma point, no text output
GPAW_KWARGS = {
    'mode': {'name': 'pw', 'ecut': 300},
    'xc': 'PBE',
    'kpts': [1, 1, 1],
    'occupations': {'name': 'fermi-dirac', 'width': 0.05},
    'txt': None,
}


def gpaw_label(calculator: str, atoms) -> orm.CalcFunctionNode:
    start = time.monotonic()
    _, node = label_with_ase.run_get_node(
        structure=orm.StructureData(ase=atoms),
        calculator=orm.Str(calculator),
        calculator_kwargs=orm.Dict(GPAW_KWARGS),
    )
    print(f'GPAW label of {atoms.get_chemical_formula()}: {time.monotonic() - start:.1f} s')
    assert node.is_finished_ok, node.exit_message
    return node


def test_gpaw_labels(aiida_profile, gpaw_calculator):
    """Finite labels in eV and eV/Å, zero net force, forces matching a finite difference of the energy."""
    (atoms,) = small_cu_cells(1, seed=7, rattle=0.06)
    node = gpaw_label(gpaw_calculator, atoms)
    energy = node.outputs.total_energy.value
    forces = node.outputs.forces.get_array('forces')
    assert forces.shape == (2, 3)
    assert np.isfinite(energy) and np.all(np.isfinite(forces))
    assert -10 < energy / len(atoms) < 0  # eV/atom: GPAW's energies are relative to the free atoms
    assert np.abs(forces.sum(axis=0)).max() < 0.05
    assert np.abs(forces).max() < 5.0
    assert node.outputs.stress.get_array('stress').shape == (6,)  # plane waves give a stress too

    assert_forces_match_energy(
        atoms, forces, lambda displaced: gpaw_label(gpaw_calculator, displaced).outputs.total_energy.value
    )


def test_gpaw_new_calculator_factory(aiida_profile, gpaw_calculator):
    """`gpaw.GPAW`, GPAW's own entry point: in recent GPAW (26.7 here) a function, not a class."""
    from aiida_pacemaker.labellers.ase import load_calculator_class

    assert callable(load_calculator_class('gpaw.GPAW'))  # a known factory, accepted
    (atoms,) = small_cu_cells(1, seed=2)
    reference = gpaw_label(gpaw_calculator, atoms).outputs.total_energy.value
    assert gpaw_label('gpaw.GPAW', atoms).outputs.total_energy.value == pytest.approx(reference, abs=1e-3)
