"""The active-learning WorkChain, run for real: pacemaker, pace_activeset, pace_select, EMT labels."""

from __future__ import annotations

import itertools

import pytest
from aiida import engine, orm

from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

from .conftest import fast_parameters


def pool_structures(count: int, seed: int) -> dict[str, orm.StructureData]:
    """Unlabelled candidates: wider strains and rattles than the initial data."""
    atoms_list = random_bulk_structures(count, seed=seed, strain=0.12, rattle=(0.05, 0.3))
    return {f'p{i:03d}': orm.StructureData(ase=atoms) for i, atoms in enumerate(atoms_list)}


@pytest.mark.pacemaker
def test_active_learning_loop(aiida_profile, pacemaker_codes):
    initial = TrainingSetData.from_ase(emt_label(random_bulk_structures(10, seed=21, strain=0.03))).store()
    test_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(8, seed=99, strain=0.1))).store()
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.training_set = initial
    builder.test_set = test_set
    builder.pool = pool_structures(30, seed=5)
    builder.explore.code = pacemaker_codes['pace_explore']
    builder.explore.structures = {'hot': orm.StructureData(ase=random_bulk_structures(1, seed=2)[0])}
    builder.explore.parameters = orm.Dict({'temperatures': [1500.0], 'steps': 60, 'gamma_select': 1.2})
    builder.labeller.process = 'pacemaker.label_ase'
    builder.labeller.inputs = {'calculator': orm.Str('ase.calculators.emt.EMT')}
    builder.train.train.code = pacemaker_codes['pacemaker']
    builder.train.train.parameters = orm.Dict(fast_parameters(maxiter=20))
    builder.activeset.code = pacemaker_codes['pace_activeset']
    builder.select.code = pacemaker_codes['pace_select']
    builder.max_cycles = 3
    builder.max_new_structures_per_cycle = 4
    builder.gamma_select = 1.0
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    curve = results['learning_curve'].get_list()
    assert [row['cycle'] for row in curve] == [1, 2, 3]
    sizes = [row['num_structures'] for row in curve]
    assert sizes[0] == 10 and sizes == sorted(sizes) and sizes[-1] > 10
    assert all(row['test_force_rmse'] is not None for row in curve)
    explore = [c for c in node.called_descendants if c.process_label == 'PaceExploreCalculation']
    assert len(explore) == 3 and all(c.exit_status in (0, 410) for c in explore)

    # invariants: the training set never loses a structure, and no structure enters twice
    sets = [results['training_sets'][f'cycle_{k}'] for k in (1, 2, 3)]
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
    assert results['potential'].uuid == results['potentials']['cycle_3'].uuid
    assert results['active_set'].potential_uuid == results['potential'].uuid

    # every added structure traces back to the process that labelled it
    initial_names = set(initial.names)
    for name in final.names:
        if name in initial_names:
            continue
        structure = orm.load_node(name)  # added structures are named by their StructureData's UUID
        labels = [
            link.node
            for link in structure.base.links.get_outgoing(node_class=orm.CalcFunctionNode).all()
            if link.node.process_label == 'label_with_ase'
        ]
        assert labels and labels[0].is_finished_ok


@pytest.mark.pacemaker
def test_active_learning_carries_baseline(aiida_profile, pacemaker_codes):
    """An LJ baseline goes through every cycle: residual sets for the fits, original labels kept."""
    from aiida_pacemaker.baselines import LennardJonesBaseline

    unlabelled = {f'u{i}': orm.StructureData(ase=a) for i, a in enumerate(random_bulk_structures(8, seed=31))}
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        pacemaker_codes,
        structures=unlabelled,  # labelled by the workchain first
        pool=pool_structures(10, seed=8),
        protocol='fast',
        overrides={
            'max_cycles': 2,
            'max_new_structures_per_cycle': 3,
            'gamma_select': 1.0,
            'trainer': {'physics_baseline': 'lj', 'fitting_params': {'maxiter': 15}},
        },
    )
    assert builder.baseline['type'] == 'lj'
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    first = results['training_sets']['cycle_1']
    assert sorted(first.names) == sorted(structure.uuid for structure in unlabelled.values())
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
