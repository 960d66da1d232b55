"""Tests of the calcfunctions: extending training sets, labelling with ASE, baselines, learning curve."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm

from aiida_pacemaker.calculations.functions import (
    build_learning_curve,
    extend_training_set,
    num_extrapolating,
)
from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.labellers.ase import label_with_ase, load_calculator_class
from aiida_pacemaker.tools.examples import random_bulk_structures


def labelled_inputs(structures: dict[str, orm.StructureData]) -> dict[str, orm.Data]:
    inputs: dict[str, orm.Data] = {}
    for key, structure in structures.items():
        labels = label_with_ase(structure, orm.Str('ase.calculators.emt.EMT'))
        inputs |= {
            f'structure_{key}': structure,
            f'energy_{key}': labels['total_energy'],
            f'forces_{key}': labels['forces'],
            f'stress_{key}': labels['stress'],
        }
    return inputs


def test_extend_keeps_old_adds_new_skips_duplicates(aiida_profile, emt_structures):
    initial = TrainingSetData.from_ase(emt_structures(3, seed=2)).store()
    new = {f'n{i}': orm.StructureData(ase=a) for i, a in enumerate(random_bulk_structures(2, seed=50))}
    duplicate = {'dup': orm.StructureData(ase=initial.to_ase()[0])}
    results = extend_training_set(training_set=initial, **labelled_inputs(new | duplicate))
    extended = results['training_set']
    assert results['added'].get_dict() == {'added': ['n0', 'n1'], 'duplicates': ['dup']}
    assert extended.num_structures == 5
    assert extended.structure_hashes()[:3] == initial.structure_hashes()
    assert extended.names[3:] == [new['n0'].uuid, new['n1'].uuid]
    # stress only for the new ones: the old rows are marked as having none
    arrays = extended.get_arrays()
    assert arrays['has_stress'].tolist() == [False, False, False, True, True]
    atoms = extended.to_ase()
    assert np.allclose(atoms[0].get_forces(), initial.to_ase()[0].get_forces())


def test_first_training_set_from_labels(aiida_profile):
    structures = {f's{i}': orm.StructureData(ase=a) for i, a in enumerate(random_bulk_structures(2, seed=5))}
    results = extend_training_set(**labelled_inputs(structures))
    assert results['training_set'].num_structures == 2
    node = results['training_set'].base.links.get_incoming().one().node
    assert {link.link_label for link in node.base.links.get_incoming().all()} >= {'structure_s0', 'energy_s1'}


def test_label_with_ase_units_and_errors(aiida_profile):
    from ase.calculators.emt import EMT

    atoms = random_bulk_structures(1, seed=3)[0]
    results = label_with_ase(orm.StructureData(ase=atoms), orm.Str('ase.calculators.emt.EMT'))
    reference = atoms.copy()
    reference.calc = EMT()
    assert results['total_energy'].value == pytest.approx(reference.get_potential_energy())
    assert np.allclose(results['forces'].get_array('forces'), reference.get_forces())
    with pytest.raises(ValueError, match='not an import path'):
        load_calculator_class('os.system; rm')
    with pytest.raises(ValueError, match='cannot import'):
        load_calculator_class('no_such_module.Calculator')


def test_learning_curve_rows(aiida_profile, training_set):
    metrics = orm.Dict({'train_energy_rmse': 1.0, 'train_force_rmse': 20.0, 'iterations': 5})
    selection = orm.Dict(
        {'num_candidates': 3, 'max_gamma': 4.0, 'num_selected': 1, 'gamma': {'a': 4.0, 'b': 0.5}}
    )
    curve = build_learning_curve(metrics_1=metrics, training_set_1=training_set, selection_1=selection)
    (row,) = curve.get_list()
    assert row['cycle'] == 1 and row['num_structures'] == training_set.num_structures
    assert row['gamma'] == [0.5, 4.0] and row['num_labelled'] == 0 and row['test_force_rmse'] is None
    assert num_extrapolating(row) == 1  # the grade 4.0, not 0.5
    assert num_extrapolating({'cycle': 1}) is None  # no selection in this cycle
