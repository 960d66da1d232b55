"""The provenance API on a real active-learning run (built once per session, shared with tests/cli/test_commands.py)."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_pacemaker.data import PacePotentialData, TrainingSetData
from aiida_pacemaker.tools import provenance


def _added_in_cycle_1(workchain: orm.WorkflowNode) -> list[str]:
    merge = next(
        link.node for link in workchain.base.links.get_outgoing().all() if link.link_label == 'merge_cycle_1'
    )
    return merge.outputs.added['added']


@pytest.mark.pacemaker
def test_training_set_of_final_potential(al_graph):
    workchain = al_graph['workchain']
    potential = workchain.outputs.potential
    assert provenance.training_set_of(potential).uuid == workchain.outputs.training_sets.cycle_2.uuid
    assert provenance.training_set_of(workchain.outputs.potentials.cycle_1).uuid == al_graph['initial'].uuid
    assert provenance.test_set_of(potential).uuid == al_graph['test_set'].uuid
    assert provenance.active_set_of(potential).uuid == workchain.outputs.active_set.uuid


@pytest.mark.pacemaker
def test_structure_origins(al_graph):
    workchain = al_graph['workchain']
    added_keys = _added_in_cycle_1(workchain)
    assert added_keys, 'the fixture run should add structures in cycle 1'
    origins = provenance.structure_origins(workchain.outputs.training_set)
    initial_names = al_graph['initial'].names
    assert [o.name for o in origins[: len(initial_names)]] == initial_names
    for origin in origins[: len(initial_names)]:
        assert origin.cycle == provenance.INITIAL
        assert origin.structure is None and origin.labeller is None
    added = origins[len(initial_names) :]
    assert len(added) == len(added_keys)
    for index, origin in enumerate(added, start=len(initial_names)):
        assert origin.index == index
        assert origin.cycle == 1
        # added structures are named by the UUID of their StructureData
        assert origin.structure_uuid == origin.name
        assert origin.labeller.process_label == 'label_batch_with_ase'  # the ASE labeller's default
        inputs = origin.labeller.base.links.get_incoming(link_label_filter='structures__%').all_nodes()
        assert origin.structure_uuid in {structure.uuid for structure in inputs}
        assert origin.labeller.is_finished_ok
        assert origin.merge.process_label == 'extend_training_set'


@pytest.mark.pacemaker
def test_potentials_trained_with(al_graph):
    workchain = al_graph['workchain']
    origins = provenance.structure_origins(workchain.outputs.training_set)
    structure = next(o.structure for o in origins if o.cycle == 1)
    trained = provenance.potentials_trained_with(structure)
    # of this run's potentials, the one fitted after the structure was added (other tests continue the
    # shared run: their potentials trained on it too, each on a set that holds it)
    mine = {potential.uuid for potential in dict(workchain.outputs.potentials).values()}
    assert [p.uuid for p in trained if p.uuid in mine] == [workchain.outputs.potentials.cycle_2.uuid]
    assert all(isinstance(p, PacePotentialData) for p in trained)
    assert all(structure.uuid in provenance.training_set_of(p).names for p in trained)
    # the pool structure that the selection copied leads to the same potentials
    select = structure.creator
    key = next(link.link_label for link in structure.base.links.get_incoming().all())[len('selected__') :]
    original = select.inputs.candidates[key]
    assert [p.uuid for p in provenance.potentials_trained_with(original)] == [p.uuid for p in trained]
    # a candidate that was never selected trained nothing
    labelled = {k.split('_', 1)[1] for k in _added_in_cycle_1(workchain)}  # keys `c1_<pool key>`
    assert key in labelled
    unselected = [node for k, node in dict(workchain.inputs.pool).items() if k not in labelled]
    assert provenance.potentials_trained_with(unselected[0]) == []


@pytest.mark.pacemaker
def test_learning_curve(al_graph):
    workchain = al_graph['workchain']
    curve = provenance.learning_curve(workchain)
    assert [row['cycle'] for row in curve] == [1, 2]
    assert curve[0]['num_structures'] == 8
    assert curve[1]['num_structures'] == 8 + curve[0]['num_labelled']
    assert curve[0]['gamma'] and curve[0]['max_gamma'] == max(curve[0]['gamma'])
    assert all(row['test_force_rmse'] is not None for row in curve)


def test_training_set_of_refuses_a_potential_without_a_fit(aiida_profile):
    from ..conftest import DUMMY_POTENTIAL

    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    with pytest.raises(ValueError, match=r'not made by a pacemaker\.train calculation'):
        provenance.training_set_of(potential)
    assert provenance.active_set_of(potential) is None


def test_origins_of_an_uploaded_training_set(aiida_profile, emt_structures):
    training_set = TrainingSetData.from_ase(emt_structures(3)).store()
    origins = provenance.structure_origins(training_set)
    assert [(o.index, o.cycle, o.structure, o.labeller) for o in origins] == [
        (i, 'initial', None, None) for i in range(3)
    ]
