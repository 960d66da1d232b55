"""Tests of `aiida_pacemaker.labellers.batch`: batch labelling and its bulk-stored provenance graph."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from aiida.common import LinkType
from aiida.engine import workfunction
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT as EMTCalculator

from aiida_pacemaker.labellers import batch as bulk
from aiida_pacemaker.labellers.batch import label_batch_with_ase, label_in_bulk, labels_of, merge_inputs_of
from aiida_pacemaker.tools.examples import random_bulk_structures

EMT = 'ase.calculators.emt.EMT'


def emt_labels(atoms):
    """Energy, forces and stress computed directly with EMT."""
    from ase.calculators.emt import EMT as Calculator

    atoms = atoms.copy()
    atoms.calc = Calculator()
    return atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress(voigt=True)


def describe(node):
    """What must be equal between the engine's graph and the bulk graph."""
    return {
        'node_type': node.node_type,
        'process_type': node.process_type,
        'label': node.label,
        'attributes': node.base.attributes.all,
        'files': {
            name: node.base.repository.get_object_content(name, mode='rb')
            for name in node.base.repository.list_object_names()
        },
    }


def links(node, direction):
    entries = getattr(node.base.links, f'get_{direction}')().all()
    return sorted((entry.link_label, entry.link_type.value, entry.node.node_type) for entry in entries)


def stored_structures(count, seed=0):
    return {
        f'k{i}': orm.StructureData(ase=atoms).store()
        for i, atoms in enumerate(random_bulk_structures(count, seed=seed))
    }


def test_bulk_graph_is_the_calcfunction_graph(aiida_profile):
    """The bulk path writes the graph that running `label_batch_with_ase` through the engine writes."""
    structures = stored_structures(3)
    calculator = orm.Str(EMT).store()
    _, engine_node = label_batch_with_ase.run_get_node(calculator=calculator, structures=structures)
    batch = label_in_bulk(structures, calculator)

    assert engine_node.is_finished_ok and batch.node.is_finished_ok and batch.node.is_sealed
    assert describe(batch.node) == describe(engine_node)
    assert links(batch.node, 'incoming') == links(engine_node, 'incoming')
    assert links(batch.node, 'outgoing') == links(engine_node, 'outgoing')
    for key in structures:
        for name in ('total_energy', 'forces', 'stress'):
            mine, theirs = batch.node.outputs[name][key], engine_node.outputs[name][key]
            assert describe(mine)['attributes'].keys() == describe(theirs)['attributes'].keys()
            assert sorted(mine.base.repository.list_object_names()) == sorted(
                theirs.base.repository.list_object_names()
            )
        assert batch.labelled[key].total_energy.value == pytest.approx(
            engine_node.outputs.total_energy[key].value
        )
        np.testing.assert_allclose(
            batch.labelled[key].forces.get_array('forces'),
            engine_node.outputs.forces[key].get_array('forces'),
            atol=1e-10,
        )
    # the same structures now have two labelling processes, and both give the same merge inputs
    assert len(labels_of(structures['k0'])) == 2
    assert sorted(merge_inputs_of(engine_node)) == sorted(merge_inputs_of(batch.node))


def test_each_structure_leads_to_its_own_labels(aiida_profile):
    atoms_list = random_bulk_structures(12, seed=4)
    batch = label_in_bulk(atoms_list, EMT)

    assert sorted(batch.labelled) == [f's{i:05d}' for i in range(12)] and batch.failed == {}
    for index, atoms in enumerate(atoms_list):
        labelled = batch.labelled[f's{index:05d}']
        energy, forces, stress = emt_labels(atoms)
        (process, labels), = labels_of(labelled.structure)  # fmt: skip
        assert process.uuid == batch.node.uuid
        assert {name: node.uuid for name, node in labels.items()} == {
            'total_energy': labelled.total_energy.uuid,
            'forces': labelled.forces.uuid,
            'stress': labelled.stress.uuid,
        }
        # the labels are those of this structure, read back from the database
        loaded = {name: orm.load_node(node.pk) for name, node in labels.items()}
        assert loaded['total_energy'].value == pytest.approx(energy, abs=1e-10)
        np.testing.assert_allclose(loaded['forces'].get_array('forces'), forces, atol=1e-10)
        np.testing.assert_allclose(loaded['stress'].get_array('stress'), stress, atol=1e-12)
        np.testing.assert_allclose(orm.load_node(labelled.structure.pk).get_ase().positions, atoms.positions)
        # and the label's creator is the batch, whose input under the same key is the structure
        creator = loaded['forces'].base.links.get_incoming(link_type=LinkType.CREATE).one()
        assert creator.link_label == f'forces__s{index:05d}'
        assert creator.node.inputs.structures[f's{index:05d}'].uuid == labelled.structure.uuid


def test_queryable_from_structure_to_forces(aiida_profile):
    batch = label_in_bulk(random_bulk_structures(5, seed=8), EMT)
    key = 's00003'
    query = orm.QueryBuilder()
    query.append(orm.StructureData, filters={'uuid': batch.labelled[key].structure.uuid}, tag='structure')
    query.append(
        orm.CalcFunctionNode,
        with_incoming='structure',
        edge_filters={'label': f'structures__{key}'},
        tag='calc',
    )
    query.append(
        orm.ArrayData, with_incoming='calc', edge_filters={'label': f'forces__{key}'}, project='uuid'
    )
    assert query.all(flat=True) == [batch.labelled[key].forces.uuid]


def test_structures_of_every_kind_as_the_orm_writes_them(aiida_profile):
    """Alloys, tagged and multi-mass kinds, molecules: the stored structures are `StructureData(ase=...)`'s."""
    from aiida.orm.implementation.utils import clean_value
    from ase.build import bulk as ase_bulk

    alloy = ase_bulk('Cu', 'fcc', a=3.6, cubic=True)
    alloy.numbers[[1, 2]] = 79  # Au
    tagged = alloy.copy()
    tagged.set_tags([0, 1, 0, 0])
    heavy = alloy.copy()
    heavy.set_masses([63.5, 63.5, 197.0, 10.0])  # two masses for Au: two kinds
    molecule = ase_bulk('Cu', 'fcc', a=3.6).repeat((2, 1, 1))
    molecule.pbc = False
    for atoms in (alloy, tagged, heavy, molecule, *random_bulk_structures(3, seed=2)):
        expected = clean_value(orm.StructureData(ase=atoms).base.attributes.all)
        stored = label_in_bulk([atoms], EMT).labelled['s00000'].structure
        assert orm.load_node(stored.pk).base.attributes.all == expected
        reference, fast = orm.load_node(stored.pk).get_ase(), bulk._to_atoms(orm.load_node(stored.pk))
        assert fast.get_chemical_symbols() == reference.get_chemical_symbols()
        for name in ('positions', 'cell', 'pbc'):
            np.testing.assert_array_equal(getattr(fast, name), getattr(reference, name))
        np.testing.assert_array_equal(fast.get_masses(), reference.get_masses())
        np.testing.assert_array_equal(fast.get_tags(), reference.get_tags())


def test_a_step_run_again_finds_its_batch(aiida_profile):
    """Idempotent for a calling workflow: a step that runs again (a daemon worker died after the write and
    before its checkpoint) gets the batch it stored, and nothing is labelled or stored twice."""
    caller = orm.WorkflowNode().store()
    structures = random_bulk_structures(3, seed=4)
    first = label_in_bulk(structures, EMT, caller=caller, call_link_label='label_batch_cycle_1')
    count = orm.QueryBuilder().append(orm.Node).count()
    again = label_in_bulk(structures, EMT, caller=caller, call_link_label='label_batch_cycle_1')
    assert orm.QueryBuilder().append(orm.Node).count() == count
    assert again.node.uuid == first.node.uuid
    assert {key: labelled.forces.uuid for key, labelled in again.labelled.items()} == {
        key: labelled.forces.uuid for key, labelled in first.labelled.items()
    }
    other = label_in_bulk(structures, EMT, caller=caller, call_link_label='label_batch_cycle_2')
    assert other.node.uuid != first.node.uuid  # another step: another batch


def test_array_files_as_arraydata_writes_them(aiida_profile):
    """The `.npy` files are byte for byte what `ArrayData.set_array` writes; equal arrays share one object."""
    from ase.build import bulk as ase_bulk

    perfect = [ase_bulk('Cu', 'fcc', a=3.6, cubic=True) for _ in range(2)]  # zero forces: equal files
    batch = label_in_bulk(perfect + random_bulk_structures(2, seed=3), EMT)
    for labelled in batch.labelled.values():
        reference = orm.ArrayData()
        reference.set_array('forces', labelled.forces.get_array('forces'))
        assert labelled.forces.base.repository.get_object_content('forces.npy', mode='rb') == (
            reference.base.repository.get_object_content('forces.npy', mode='rb')
        )
    keys = [
        batch.labelled[key].forces.base.repository.metadata['o']['forces.npy']['k']
        for key in ('s00000', 's00001')
    ]
    assert keys[0] == keys[1]


def test_failed_structures_are_reported_and_left_out(aiida_profile):
    from ase.build import bulk as ase_bulk

    iron = ase_bulk('Fe', 'bcc', a=2.87, cubic=True)  # EMT has no parameters for Fe
    batch = label_in_bulk({'cu': random_bulk_structures(1)[0], 'fe': iron}, EMT)
    assert list(batch.labelled) == ['cu']
    assert 'fe' in batch.failed and 'NotImplementedError' in batch.failed['fe']
    assert sorted(batch.node.inputs.structures) == ['cu', 'fe']
    assert sorted(batch.node.outputs.total_energy) == ['cu']
    assert sorted(merge_inputs_of(batch.node)) == ['energy_cu', 'forces_cu', 'stress_cu', 'structure_cu']

    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(ValueError, match='no structure could be labelled'):
        label_in_bulk({'fe': iron}, EMT)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_called_from_a_workflow(aiida_profile):
    """Inside a running workflow the batch gets a CALL_CALC link from it, like a calcfunction would."""

    @workfunction
    def accumulate(count: orm.Int) -> orm.Float:
        batch = label_in_bulk(
            random_bulk_structures(count.value, seed=6), EMT, call_link_label='label_cycle_1'
        )
        return batch.labelled['s00000'].total_energy

    result, node = accumulate.run_get_node(orm.Int(3))
    assert node.is_finished_ok
    (call,) = node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    assert call.link_label == 'label_cycle_1'
    assert call.node.process_label == 'label_batch_with_ase'
    assert call.node.caller.uuid == node.uuid
    assert result.creator.uuid == call.node.uuid


def test_not_from_a_calculation(aiida_profile):
    from aiida.common.exceptions import InvalidOperation
    from aiida.engine import calcfunction

    @calcfunction
    def inside() -> orm.Int:
        label_in_bulk(random_bulk_structures(1), EMT)
        return orm.Int(1)

    with pytest.raises(InvalidOperation, match='calculation'):
        inside()


def test_merge_into_a_training_set(aiida_profile):
    from aiida_pacemaker.calculations.functions import extend_training_set

    batch = label_in_bulk(random_bulk_structures(6, seed=9), EMT, {'asap_cutoff': False})
    assert batch.node.inputs.calculator_kwargs.get_dict() == {'asap_cutoff': False}
    inputs = merge_inputs_of(batch.node)
    assert {key[len('structure_') :] for key in inputs if key.startswith('structure_')} == set(batch.labelled)
    results = extend_training_set(**inputs)
    training_set = results['training_set']
    assert training_set.num_structures == 6
    assert sorted(training_set.names) == sorted(
        labelled.structure.uuid for labelled in batch.labelled.values()
    )
    arrays = training_set.get_arrays()
    energies = sorted(labelled.total_energy.value for labelled in batch.labelled.values())
    np.testing.assert_allclose(sorted(arrays['energy']), energies)


class SmearedEMT(EMTCalculator):
    """EMT with a free energy that differs from the energy, as under smearing (e.g. GPAW)."""

    def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        self.results['free_energy'] = self.results['energy'] - 0.25


def test_force_consistent_energy_as_label_with_ase(aiida_profile):
    """Batch and per-structure labelling store the same (force-consistent) energy."""
    from aiida_pacemaker.labellers.ase import label_with_ase

    (atoms,) = random_bulk_structures(1, seed=4)
    structure = orm.StructureData(ase=atoms).store()
    calculator = orm.Str(f'{__name__}.SmearedEMT')
    single = label_with_ase(structure, calculator)
    batch = label_in_bulk({'k': structure}, calculator)
    atoms.calc = EMTCalculator()
    expected = atoms.get_potential_energy() - 0.25
    assert single['total_energy'].value == pytest.approx(expected)
    assert batch.labelled['k'].total_energy.value == pytest.approx(expected)


def test_all_failing_raises_with_reasons_and_stores_nothing(aiida_profile):
    structures = [orm.StructureData(ase=a) for a in random_bulk_structures(2, seed=6)]
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(bulk.BatchLabellingError) as caught:
        label_in_bulk(structures, 'ase.calculators.lj.NoSuchCalculator')
    assert set(caught.value.failed) == {'s00000', 's00001'}
    assert orm.QueryBuilder().append(orm.Node).count() == before
