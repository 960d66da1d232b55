"""The active-learning WorkChain, run for real: pacemaker, pace_activeset, pace_select, EMT labels."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
from aiida import engine, orm
from aiida.common import LinkType

from aiida_pacemaker.calculations.functions import num_extrapolating
from aiida_pacemaker.labellers.batch import labels_of
from aiida_pacemaker.tools.examples import random_bulk_structures
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain


def pool_structures(count: int, seed: int) -> dict[str, orm.StructureData]:
    """Unlabelled candidates: wider strains and rattles than the initial data."""
    atoms_list = random_bulk_structures(count, seed=seed, strain=0.12, rattle=(0.05, 0.3))
    return {f'p{i:03d}': orm.StructureData(ase=atoms) for i, atoms in enumerate(atoms_list)}


@pytest.mark.pacemaker
def test_active_learning_loop(al_graph):
    """The invariants, on the shared real run (see `active_learning_graph` in conftest.py)."""
    node, initial, test_set = al_graph['workchain'], al_graph['initial'], al_graph['test_set']
    assert node.is_finished_ok, node.exit_message
    results = {link.link_label: link.node for link in node.base.links.get_outgoing().all()}
    results['potentials'] = node.outputs.potentials
    results['training_sets'] = node.outputs.training_sets
    curve = results['learning_curve'].get_list()
    assert [row['cycle'] for row in curve] == [1, 2]
    sizes = [row['num_structures'] for row in curve]
    assert sizes[0] == 8 and sizes == sorted(sizes) and sizes[-1] > 8
    assert all(row['test_force_rmse'] is not None for row in curve)
    # each cycle's report line says how many candidates the potential extrapolates to
    messages = [log.message for log in orm.Log.collection.get_logs_for(node)]
    for row in (row for row in curve if row.get('gamma') is not None):
        expected = f'{row["num_candidates"]} candidates ({num_extrapolating(row)} extrapolating, gamma >= 1)'
        assert any(f'cycle {row["cycle"]}: {expected}' in message for message in messages), messages
    explore = [c for c in node.called_descendants if c.process_label == 'PaceExploreCalculation']
    assert len(explore) == 2 and all(c.exit_status in (0, 410) for c in explore)

    # invariants: the training set never loses a structure, and no structure enters twice
    sets = [results['training_sets'][f'cycle_{k}'] for k in (1, 2)]
    for before, after in itertools.pairwise(sets):
        assert set(before.structure_hashes()) <= set(after.structure_hashes())
    final = results['training_set']
    assert len(set(final.structure_hashes())) == final.num_structures
    assert not set(final.structure_hashes()) & set(test_set.structure_hashes())  # test set never merged

    # the potential of cycle k was trained on exactly the training set of cycle k
    for k, training_set in enumerate(sets, start=1):
        potential = results['potentials'][f'cycle_{k}']
        calc = potential.base.links.get_incoming(node_class=orm.CalcJobNode).one().node
        assert calc.inputs.training_set.uuid == training_set.uuid
    assert results['potential'].uuid == results['potentials']['cycle_2'].uuid
    assert results['active_set'].potential_uuid == results['potential'].uuid
    # `active_set_in_fit` (the default): each cycle's fit job built its active set, no job of its own
    assert not [c for c in node.called_descendants if c.process_label == 'PaceActiveSetCalculation']
    assert results['active_set'].creator.uuid == results['potential'].creator.uuid
    assert results['active_set'].creator.process_label == 'PaceTrainCalculation'

    # every added structure traces back to the process that labelled it
    initial_names = set(initial.names)
    for name in final.names:
        if name in initial_names:
            continue
        structure = orm.load_node(name)  # added structures are named by their StructureData's UUID
        ((process, labels),) = labels_of(structure)  # fmt: skip
        assert process.process_label == 'label_batch_with_ase'  # the ASE labeller's default: one batch
        assert process.is_finished_ok and process.caller.uuid == node.uuid
        assert set(labels) >= {'total_energy', 'forces'}
        assert labels['total_energy'] in process.base.links.get_outgoing().all_nodes()


def _namespace(process, direction: str, namespace: str) -> dict[str, str]:
    """The UUIDs of a process's inputs (``in``) or outputs (``out``) in ``namespace``, by key."""
    manager = process.base.links.get_incoming if direction == 'in' else process.base.links.get_outgoing
    links = manager(link_label_filter=f'{namespace}__%').all()
    return {link.link_label.split('__', 1)[1]: link.node.uuid for link in links}


@pytest.mark.pacemaker
def test_candidates_are_the_pool_and_the_explored_less_the_taken(al_graph):
    """Each cycle's selection is offered the pool and what exploration found so far, less what an
    earlier cycle selected (labelled, or known already), on the shared real run."""
    node = al_graph['workchain']
    called = sorted(node.called_descendants, key=lambda process: process.ctime)
    explores = [process for process in called if process.process_label == 'PaceExploreCalculation']
    selects = [process for process in called if process.process_label == 'PaceSelectCalculation']
    expected = _namespace(node, 'in', 'pool')
    assert len(expected) == 16
    for cycle, (explore, select) in enumerate(zip(explores, selects, strict=True), start=1):
        found = _namespace(explore, 'out', 'candidates')
        expected.update({f'md{cycle}_{key}': uuid for key, uuid in found.items()})
        assert _namespace(select, 'in', 'candidates') == expected
        selected = _namespace(select, 'out', 'selected')
        assert selected and selected.keys() <= expected.keys()
        for key in selected:
            del expected[key]


@pytest.mark.pacemaker
def test_active_learning_carries_baseline(aiida_profile, pacemaker_codes):
    """An LJ baseline goes through every cycle: residual sets for the fits, original labels kept."""
    from aiida_pacemaker.baselines import LennardJonesBaseline

    unlabelled = {f'u{i}': orm.StructureData(ase=a) for i, a in enumerate(random_bulk_structures(8, seed=31))}
    repeated = orm.StructureData(ase=random_bulk_structures(8, seed=31)[3])  # u3's geometry, another node
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        pacemaker_codes,
        structures=unlabelled | {'u3_again': repeated},  # labelled by the workchain first, u3 once
        pool=pool_structures(10, seed=8),
        protocol='fast',
        overrides={
            'max_cycles': 2,
            'max_new_structures_per_cycle': 3,
            'gamma_select': 1.0,
            'trainer': {'physics_baseline': 'lj', 'fitting_params': {'maxiter': 15}},
            'refit_tolerance': -1.0,  # refit every fine-tuned cycle from scratch too, and keep the better fit
        },
    )
    assert builder.baseline['type'] == 'lj'
    builder.labeller.batch = False  # one label_with_ase process per structure
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    first = results['training_sets']['cycle_1']
    assert sorted(first.names) == sorted(structure.uuid for structure in unlabelled.values())
    assert not labels_of(repeated)  # a repeated geometry is never sent to the labeller
    # the labelling cost per step from the graph: 8 initial processes, then cycle 1's selection of 3
    from aiida_pacemaker.tools.provenance import labelling_cost

    cost = labelling_cost(node)
    assert [(row['step'], row['processes'], row['labels']) for row in cost] == [('initial', 8, 8), (1, 3, 3)]
    assert all(row['wall_seconds'] > 0 for row in cost)
    for key, structure in unlabelled.items():
        ((process, _),) = labels_of(structure)  # fmt: skip
        assert process.process_label == 'label_with_ase'
        assert (
            process.base.links.get_incoming(link_type=LinkType.CALL_CALC).one().link_label == f'label_{key}'
        )
    expected = LennardJonesBaseline.default_for(['Cu']).to_parameters()
    for k in (1, 2):
        potential = results['potentials'][f'cycle_{k}']
        assert potential.physics_baseline == 'lj'
        assert potential.baseline_parameters['sigma']['Cu'] == pytest.approx(expected['sigma']['Cu'])
        calc = potential.base.links.get_incoming(node_class=orm.CalcJobNode).one().node
        residual = calc.inputs.training_set
        subtraction = residual.base.links.get_incoming(node_class=orm.CalcFunctionNode).one().node
        assert subtraction.inputs.training_set.uuid == results['training_sets'][f'cycle_{k}'].uuid
        assert residual.content_hash != results['training_sets'][f'cycle_{k}'].content_hash

    # the fine-tuned fit of cycle 2 was refitted from scratch; the fit of lower training loss was kept
    calls = {
        link.link_label: link.node
        for link in node.base.links.get_outgoing(link_type=LinkType.CALL_WORK).all()
    }
    fine_tuned, scratch = calls['train_cycle_2'], calls['train_cycle_2_from_scratch']
    assert 'initial_potential' not in scratch.inputs.train
    curve = results['learning_curve'].get_list()
    kept = scratch if scratch.outputs.metrics['loss'] < fine_tuned.outputs.metrics['loss'] else fine_tuned
    assert results['potentials']['cycle_2'].uuid == kept.outputs.potential.uuid
    assert curve[1]['refitted'] == (kept is scratch) and curve[0]['refitted'] is False
    assert 'train_cycle_1_from_scratch' not in calls  # nothing to compare with in the first cycle

    # the kept fit's errors on the structures of cycle 1 (the first ones of cycle 2's set), per structure
    errors = kept.outputs.per_structure_errors
    first_size = results['training_sets']['cycle_1'].num_structures
    natoms = results['training_sets']['cycle_1'].get_arrays()['natoms']
    forces = errors.get_array('forces')
    assert len(forces) == results['training_sets']['cycle_2'].num_structures
    assert np.all(np.isfinite(forces)) and np.all(np.isfinite(errors.get_array('energy')))
    expected_rmse = np.sqrt(np.sum(natoms * forces[:first_size] ** 2) / np.sum(natoms))
    assert curve[1]['previous_force_rmse'] == pytest.approx(expected_rmse)
    assert curve[0]['stopped_by'] == 'maxiter'  # 15 iterations: far from converged, and said so

    # each cycle selected in its fit's job (`select_in_fit`, the default with a pool and no MD), both fits of
    # cycle 2; the protocol's distance floor (0.8) is measured against each cycle's own training set (the set
    # the selection covers; here its residuals: the same structures), so it moves with the data:
    # benchmarks/RESULTS.md §4 measured it against a fixed one
    assert not [c for c in node.called_descendants if c.process_label == 'PaceSelectCalculation']
    fits = [c for c in node.called_descendants if c.process_label == 'PaceTrainCalculation']
    assert len(fits) == 3 and all('selection' in fit.outputs for fit in fits)
    for k in (1, 2):
        fit = results['potentials'][f'cycle_{k}'].creator
        assert fit.inputs.selection.parameters['min_distance_factor'] == 0.8
        assert (
            fit.inputs.training_set.structure_hashes()
            == results['training_sets'][f'cycle_{k}'].structure_hashes()
        )
        report = fit.outputs.selection.report
        assert curve[k - 1]['num_candidates'] == report['num_candidates']
        assert curve[k - 1]['num_selected'] == report['num_selected']
    # the structures cycle 1 selected are those its fit's job returned, labelled and merged
    chosen = {
        structure.uuid
        for structure in results['potentials']['cycle_1'].creator.outputs.selection.selected.values()
    }
    added = set(results['training_sets']['cycle_2'].names) - set(results['training_sets']['cycle_1'].names)
    assert added == chosen and len(added) == 3

    # one implementation of the learning curve: the rebuilt one (for a running or failed run) is the same
    from aiida_pacemaker.tools.provenance import rebuild_learning_curve

    rebuilt = rebuild_learning_curve(node)
    for row, other in zip(curve, rebuilt, strict=True):
        assert {k: v for k, v in row.items() if k != 'previous_force_rmse'} == {
            k: v for k, v in other.items() if k != 'previous_force_rmse'
        }


@pytest.mark.pacemaker
def test_active_learning_with_augment(aiida_profile, pacemaker_codes, training_set):
    """`augment`: pace_augment runs after cycle 1 (not after the last cycle); its ZBL-labelled structures
    join cycle 2's fit after the labelled ones, while the learning curve and `training_sets` count labels."""
    from aiida_pacemaker.utilities import setup_utility_codes

    codes = setup_utility_codes(pacemaker_codes['pacemaker'].computer)
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        pacemaker_codes,
        training_set=training_set,
        pool=pool_structures(8, seed=12),
        protocol='fast',
        overrides={
            'max_cycles': 2,
            'max_new_structures_per_cycle': 2,
            'gamma_select': 0.0,
            'trainer': {'fitting_params': {'maxiter': 15}},
            'refit_tolerance': 100.0,  # one fit per cycle
        },
    )
    builder.augment = {'max_seed_structures': 3}
    builder.augment_code = codes['pace_augment']
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    calls = {
        link.link_label: link.node
        for link in node.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
    }
    assert 'augment_cycle_1' in calls and 'augment_cycle_2' not in calls  # no fit follows the last cycle
    job = calls['augment_cycle_1']
    assert job.process_label.startswith('ShellJob') and job.is_finished_ok
    augmented = results['augmented']['cycle_1']
    assert augmented.num_structures >= 1
    assert all(name.startswith('augmented/zbl/Cu') for name in augmented.names)
    conversion = augmented.base.links.get_incoming(node_class=orm.CalcFunctionNode).one().node
    assert conversion.inputs.arrays.uuid == job.outputs.augmented_npz.uuid

    # cycle 2 trains on the labelled set, then the augmented structures; the curve counts labels
    labelled = results['training_sets']['cycle_2']
    # the active set comes from the labelled structures only: cycle 1's fit job built it (nothing was
    # augmented yet), cycle 2's gets a job of its own on the labelled set
    assert 'activeset_cycle_1' not in calls and 'active_set' in calls_of(node, 'train_cycle_1').outputs
    assert calls['activeset_cycle_2'].inputs.training_set.uuid == labelled.uuid
    assert results['active_set'].creator.uuid == calls['activeset_cycle_2'].uuid
    fit = calls_of(node, 'train_cycle_2').called[0]
    trained_on = fit.inputs.training_set
    assert trained_on.structure_hashes() == labelled.structure_hashes() + augmented.structure_hashes()
    curve = results['learning_curve'].get_list()
    assert [row['num_structures'] for row in curve] == [training_set.num_structures, labelled.num_structures]
    assert results['training_set'].uuid == labelled.uuid
    # the stall check reads the previous cycle's (labelled) structures, the first ones of cycle 2's fit
    first = results['training_sets']['cycle_1']
    errors = fit.outputs.per_structure_errors.get_array('forces')
    natoms = first.get_arrays()['natoms']
    expected = np.sqrt(np.sum(natoms * errors[: first.num_structures] ** 2) / np.sum(natoms))
    assert curve[1]['previous_force_rmse'] == pytest.approx(expected)

    # the curve's training errors are those of the labelled structures (pacemaker's own include the
    # ZBL-labelled ones, eV/atom off), and the rebuilt curve agrees
    assert [row['num_augmented'] for row in curve] == [0, augmented.num_structures]
    energies = fit.outputs.per_structure_errors.get_array('energy')[: labelled.num_structures]
    assert curve[1]['train_energy_rmse'] == pytest.approx(np.sqrt(np.mean(energies**2)))
    assert curve[1]['train_energy_rmse'] < fit.outputs.metrics['train_energy_rmse']
    from aiida_pacemaker.tools.provenance import rebuild_learning_curve

    for row, other in zip(curve, rebuild_learning_curve(node), strict=True):
        assert set(row) == set(other)
        for key in set(row) - {'previous_force_rmse'}:  # the workchain's floats went through the database
            expected = pytest.approx(other[key], rel=1e-12) if isinstance(other[key], float) else other[key]
            assert row[key] == expected, key


def calls_of(node: orm.WorkflowNode, label: str) -> orm.WorkflowNode:
    """The process ``node`` called with the link label ``label``."""
    return node.base.links.get_outgoing(link_label_filter=label).one().node


@pytest.mark.parametrize(
    ('augment', 'code', 'message'),
    [
        (
            {'max_seed_structure': 3},
            'augment',
            'unknown key `max_seed_structure`; did you mean `max_seed_structures`?',
        ),
        ({'nn_distance_step': -0.1}, 'augment', '`nn_distance_step` must be a number > 0, got -0.1'),
        ({}, None, '`augment` needs `augment_code`'),
        ({}, 'pacemaker', 'not an aiida-shell job'),
    ],
)
def test_active_learning_refuses_bad_augment(
    aiida_profile, aiida_localhost, training_set, augment, code, message
):
    """Bad `augment` settings are refused before anything runs, with nothing stored."""
    from aiida_pacemaker.codes import setup_codes
    from aiida_pacemaker.utilities import setup_utility_codes

    codes = setup_codes(aiida_localhost) | {'augment': setup_utility_codes(aiida_localhost)['pace_augment']}
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes, training_set=training_set, pool=pool_structures(2, seed=1), protocol='fast'
    )
    builder.augment = augment
    if code is not None:
        builder.augment_code = codes[code]
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError, match=re.escape(message)):
        engine.run(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before
