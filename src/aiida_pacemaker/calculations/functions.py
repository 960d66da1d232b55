"""Calcfunctions: derived training sets and the built-in ASE labeller.

Each one is a node in the provenance graph, so every training set shows where it came
from: which earlier set, which labelled structures, which baseline.
"""

from __future__ import annotations

import importlib
import re
import typing as t

import numpy as np
from aiida import orm
from aiida.engine import calcfunction

from aiida_pacemaker.data.training_set import TrainingSetData, _Builder, concatenate_arrays, structure_hash

__all__ = (
    'build_learning_curve',
    'compute_labels',
    'extend_training_set',
    'label_with_ase',
    'load_calculator_class',
    'subtract_baseline_from_training_set',
)

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


@calcfunction
def extend_training_set(**kwargs: t.Any) -> dict[str, orm.Data]:
    """Add labelled structures to a training set (or make a first one), skipping duplicates.

    Inputs: optional ``training_set``; for each key K: ``structure_K`` (StructureData),
    ``energy_K`` (Float, eV), ``forces_K`` (ArrayData ``forces``, eV/Å), optional
    ``stress_K`` (ArrayData ``stress``, eV/Å³). Each new structure is named by the UUID of
    its StructureData, so a training structure leads back to its node and labeller.

    Outputs: ``training_set`` and ``added`` (Dict: the added keys and the skipped duplicates).
    """
    previous = kwargs.get('training_set')
    keys = sorted(label[len('structure_') :] for label in kwargs if label.startswith('structure_'))
    builder = _Builder()
    seen: set[str] = set(previous.structure_hashes()) if previous is not None else set()
    added, duplicates = [], []
    for key in keys:
        structure = kwargs[f'structure_{key}']
        atoms = structure.get_ase()
        digest = structure_hash(atoms.numbers, atoms.positions, atoms.cell.array, atoms.pbc)
        if digest in seen:
            duplicates.append(key)
            continue
        seen.add(digest)
        stress = kwargs.get(f'stress_{key}')
        builder.add(
            (previous.num_structures if previous is not None else 0) + len(builder.energy),
            atoms.numbers,
            atoms.positions,
            atoms.cell.array,
            atoms.pbc,
            kwargs[f'energy_{key}'].value,
            kwargs[f'forces_{key}'].get_array('forces'),
            stress.get_array('stress') if stress is not None else None,
            structure.uuid,
        )
        added.append(key)
    if previous is None:
        arrays = builder.arrays()
    elif added:
        arrays = concatenate_arrays(previous.get_arrays(), builder.arrays())
    else:
        arrays = dict(previous.get_arrays())
    return {
        'training_set': TrainingSetData(arrays=arrays),
        'added': orm.Dict({'added': added, 'duplicates': duplicates}),
    }


@calcfunction
def subtract_baseline_from_training_set(training_set: TrainingSetData, baseline: orm.Dict) -> TrainingSetData:
    """Return the residual training set: labels minus the baseline (delta learning).

    :param baseline: parameters of an additive baseline (see :mod:`aiida_pacemaker.baselines`).
    """
    from aiida_pacemaker.baselines import baseline_from_parameters, subtract_baseline

    model = baseline_from_parameters(baseline.get_dict())
    return TrainingSetData(arrays=subtract_baseline(training_set.get_arrays(), model))


LEARNING_CURVE_METRICS = (
    'train_energy_rmse',
    'train_force_rmse',
    'test_energy_rmse',
    'test_force_rmse',
    'iterations',
)


@calcfunction
def build_learning_curve(**kwargs: t.Any) -> orm.List:
    """One row per cycle k from ``metrics_k`` (Dict), ``training_set_k``, optional ``selection_k``
    (the select report) and ``added_k`` (the merge's record of added structures).

    Row keys: ``cycle``, ``num_structures``, ``num_atoms``, the RMSEs (meV/atom, meV/Å),
    ``iterations``, ``num_candidates``, ``max_gamma``, ``num_selected``, ``gamma`` (sorted
    max gamma of every candidate), ``num_labelled``, ``training_set_uuid``.
    """
    cycles = sorted(int(label.split('_')[-1]) for label in kwargs if label.startswith('metrics_'))
    rows = []
    for cycle in cycles:
        metrics = kwargs[f'metrics_{cycle}'].get_dict()
        training_set = kwargs[f'training_set_{cycle}']
        row: dict[str, t.Any] = {
            'cycle': cycle,
            'num_structures': training_set.num_structures,
            'num_atoms': training_set.num_atoms,
            'training_set_uuid': training_set.uuid,
        }
        row.update({key: metrics.get(key) for key in LEARNING_CURVE_METRICS})
        selection = kwargs.get(f'selection_{cycle}')
        if selection is not None:
            report = selection.get_dict()
            row.update(
                num_candidates=report['num_candidates'],
                max_gamma=report['max_gamma'],
                num_selected=report['num_selected'],
                gamma=sorted(report['gamma'].values()),
            )
        added = kwargs.get(f'added_{cycle}')
        row['num_labelled'] = len(added['added']) if added is not None else 0
        rows.append(row)
    return orm.List(rows)
