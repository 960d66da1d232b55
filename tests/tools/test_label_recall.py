"""Recall labels computed with a wrong input: what they reached, and a training set rebuilt without them.

On the graph of one real active-learning run (EMT labels through the built-in batch labeller).
"""

from __future__ import annotations

import pytest
from aiida import orm
from aiida.common.links import LinkType
from click.testing import CliRunner

from aiida_pacemaker.cli import cmd_root
from aiida_pacemaker.tools import provenance
from aiida_pacemaker.tools.label_recall import rebuild_without, recall_labels

pytestmark = pytest.mark.pacemaker


def batch_of_cycle_1(workchain: orm.WorkflowNode) -> orm.CalcFunctionNode:
    return (
        workchain.base.links.get_outgoing(
            link_type=LinkType.CALL_CALC, link_label_filter='label_batch_cycle_1'
        )
        .one()
        .node
    )


def test_recall_of_a_labelling_process(al_graph):
    workchain = al_graph['workchain']
    batch = batch_of_cycle_1(workchain)
    recall = recall_labels(batch)
    added = workchain.base.links.get_outgoing(link_label_filter='merge_cycle_1').one().node.outputs.added
    labelled = {batch.inputs[f'structures__{key}'].uuid for key in added['added']}
    assert recall.labellers == [batch]
    assert labelled <= recall.structures and len(labelled) == 3
    final = workchain.outputs.training_set
    assert final.pk in {ts.pk for ts in recall.training_sets}
    assert sorted(recall.held_by(final)) == sorted(labelled)
    assert workchain.outputs.training_sets.cycle_1.pk not in {ts.pk for ts in recall.training_sets}
    # the potential of cycle 2 was fitted on the labels, the one of cycle 1 before them (other tests
    # continue the shared run: their potentials, fitted on sets holding the labels, are recalled too)
    mine = {potential.pk for potential in dict(workchain.outputs.potentials).values()}
    recalled = {p.pk for p in recall.potentials}
    assert recalled & mine == {workchain.outputs.potentials.cycle_2.pk}
    for potential in recall.potentials:
        assert recall.held_by(provenance.training_set_of(potential))


def test_recall_of_an_input_node_and_rebuild(al_graph):
    """The calculator's name (the Str every labelling process took) recalls the same labels."""
    workchain = al_graph['workchain']
    batch = batch_of_cycle_1(workchain)
    recall = recall_labels(batch.inputs.calculator)
    assert {p.pk for p in recall.labellers} >= {batch.pk}
    final = workchain.outputs.training_set
    rebuilt = rebuild_without(final, recall)
    assert rebuilt.num_structures == final.num_structures - len(recall.held_by(final))
    assert not set(rebuilt.names) & recall.structures
    creator = rebuilt.base.links.get_incoming(link_type=LinkType.CREATE).one().node
    assert creator.process_label == 'remove_structures' and creator.inputs.training_set.uuid == final.uuid
    # what was kept is unchanged, labels included
    kept = [i for i, name in enumerate(final.names) if name not in recall.structures]
    assert rebuilt.get_arrays()['energy'].tolist() == final.get_arrays()['energy'][kept].tolist()
    assert rebuilt.names == [final.names[i] for i in kept]


def test_recall_refuses_what_labelled_nothing(al_graph):
    with pytest.raises(ValueError, match='labelled no structure'):
        recall_labels(al_graph['initial'])
    recall = recall_labels(batch_of_cycle_1(al_graph['workchain']))
    with pytest.raises(ValueError, match='holds none of the recalled structures'):
        rebuild_without(al_graph['initial'], recall)


def test_recall_cli(al_graph):
    workchain = al_graph['workchain']
    batch = batch_of_cycle_1(workchain)
    final = workchain.outputs.training_set
    result = CliRunner().invoke(cmd_root, ['recall', str(batch.pk), '--rebuild', str(final.pk)])
    assert result.exit_code == 0, result.output
    assert 'labelled 3 structure(s)' in result.output
    assert f'TrainingSetData<{final.pk}>' in result.output
    assert f'PacePotentialData<{workchain.outputs.potentials.cycle_2.pk}>' in result.output
    assert f'TrainingSetData<{final.pk}> without its 3 recalled structure(s)' in result.output
    result = CliRunner().invoke(cmd_root, ['recall', str(al_graph['initial'].pk)])
    assert result.exit_code != 0 and 'labelled no structure' in result.output
    assert 'Traceback' not in result.output
