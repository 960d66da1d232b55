"""The built-in ASE labeller: any ASE calculator, named by import path, labels a structure.

:func:`label_with_ase` (entry point ``pacemaker.label_ase``) follows the labeller convention of
:mod:`aiida_pacemaker.labellers`; :func:`compute_labels` is the one place where a calculator's
results become labels, shared with the batch path (:mod:`aiida_pacemaker.labellers.batch`).
"""

from __future__ import annotations

import importlib
import re
import typing as t

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

__all__ = ('compute_labels', 'label_with_ase', 'load_calculator_class')

_IMPORT_PATH = re.compile(r'^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$')


def load_calculator_class(import_path: str) -> t.Callable[..., t.Any]:
    """Import an ASE calculator class (or a factory function that returns a calculator, like
    GPAW 26's ``gpaw.GPAW``) from ``package.module.Name`` (no eval, no shell).

    :raises ValueError: if the path is malformed or does not name a class or function.
    """
    if not _IMPORT_PATH.match(import_path):
        raise ValueError(f'`{import_path}` is not an import path like `ase.calculators.emt.EMT`')
    module_name, _, name = import_path.rpartition('.')
    try:
        module = importlib.import_module(module_name)
    except ImportError as exception:
        raise ValueError(
            f'cannot import `{module_name}` for the calculator `{import_path}`: {exception}'
        ) from None
    factory = getattr(module, name, None)
    if not callable(factory):
        raise ValueError(f'`{import_path}` is not a calculator class or factory')
    return factory


def compute_labels(atoms: t.Any, calculator: t.Any) -> dict[str, t.Any]:
    """Energy (eV), forces (eV/Å) and, for periodic cells, stress (eV/Å³, Voigt) of ``atoms``.

    The energy is the force-consistent one where the calculator has it (it differs from the
    default under smearing, e.g. GPAW), since the forces are its derivatives. A stress the
    calculator cannot compute is left out.

    :raises ValueError: if the energy or the forces are not finite.
    """
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())  # a failing calculator raises its own error here
    try:  # from the results just computed; calculators without a free energy raise
        energy = float(atoms.get_potential_energy(force_consistent=True))
    except Exception:
        pass
    forces = np.asarray(atoms.get_forces(), dtype=float)
    if not (np.isfinite(energy) and np.all(np.isfinite(forces))):
        raise ValueError(
            f'the calculator returned a non-finite energy or forces for {atoms.get_chemical_formula()}'
        )
    labels: dict[str, t.Any] = {'total_energy': energy, 'forces': forces}
    if atoms.pbc.all():
        try:
            stress = np.asarray(atoms.get_stress(voigt=True), dtype=float)
        except Exception:
            stress = None
        if stress is not None and np.all(np.isfinite(stress)):
            labels['stress'] = stress
    return labels


@calcfunction
def label_with_ase(structure: orm.StructureData, calculator: orm.Str, **kwargs: t.Any) -> dict[str, orm.Data]:
    """Label ``structure`` with an ASE calculator: ``total_energy`` (eV), ``forces`` (eV/Å), ``stress``.

    :param calculator: import path of the calculator class, e.g. ``ase.calculators.emt.EMT``.
    :param kwargs: optional ``calculator_kwargs`` (Dict) passed to the calculator's constructor.

    A calcfunction: cheap calculators (EMT, classical force fields, small GPAW runs) run in
    the AiiDA process itself, and caching reuses a label for an identical structure. A DFT
    code on a cluster belongs in its own CalcJob plugin (see the labeller convention).
    """
    options = kwargs['calculator_kwargs'].get_dict() if 'calculator_kwargs' in kwargs else {}
    labels = compute_labels(structure.get_ase(), load_calculator_class(calculator.value)(**options))
    results: dict[str, orm.Data] = {'total_energy': orm.Float(labels['total_energy'])}
    for name in ('forces', 'stress'):
        if name in labels:
            array = orm.ArrayData()
            array.set_array(name, labels[name])
            results[name] = array
    return results
