"""Protocols and `get_builder_from_protocol`: deep-merged overrides, unknown keys refused."""

from __future__ import annotations

import pytest
from aiida import orm

from aiida_pacemaker.calculations.select import PaceSelectCalculation
from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain
from aiida_pacemaker.workflows.protocols import ProtocolError, deep_merge, get_protocol, list_protocols


def test_protocols_are_documented():
    protocols = list_protocols()
    assert next(iter(protocols)) == 'balanced'  # the default first
    assert set(protocols) == {'fast', 'balanced', 'precise'}
    assert all(len(description) > 20 for description in protocols.values())


def test_overrides_are_deep_merged_and_copied():
    overrides = {'trainer': {'fitting_params': {'maxiter': 7}}, 'max_cycles': 2}
    merged = get_protocol('fast', overrides)
    assert merged['trainer']['fitting_params']['maxiter'] == 7
    assert merged['trainer']['fitting_params']['kappa'] == 0.3  # untouched siblings stay
    assert merged['max_cycles'] == 2
    merged['trainer']['fitting_params']['maxiter'] = 99
    assert overrides['trainer']['fitting_params']['maxiter'] == 7


@pytest.mark.parametrize(
    ('protocol', 'overrides', 'message'),
    [
        ('fast', {'max_cycle': 3}, 'did you mean `max_cycles`'),
        ('fast', {'trainer': {'physics_basline': 'zbl'}}, 'did you mean `physics_baseline`'),
        ('quick', {}, 'unknown protocol `quick`'),
    ],
)
def test_bad_overrides(protocol, overrides, message):
    with pytest.raises(ProtocolError, match=message):
        get_protocol(protocol, overrides)


def test_deep_merge_replaces_lists():
    assert deep_merge({'a': [1, 2], 'b': {'c': 1}}, {'a': [3]}) == {'a': [3], 'b': {'c': 1}}


def test_builder_from_protocol(aiida_profile, aiida_localhost, emt_structures):
    codes = {
        name: orm.InstalledCode(computer=aiida_localhost, filepath_executable=f'/opt/pace/bin/{name}').store()
        for name in ('pacemaker', 'pace_activeset', 'pace_select', 'pace_explore')
    }
    training_set = TrainingSetData.from_ase(emt_structures(4)).store()
    seeds = {'s': orm.StructureData(ase=emt_structures(1)[0])}
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        codes,
        training_set=training_set,
        explore_structures=seeds,
        protocol='balanced',
        overrides={
            'gamma_max': 30.0,
            'target_test_force_rmse': 20.0,
            'trainer': {'active_set_size': 500},
            'active_set_in_fit': False,
            'select_in_fit': False,
        },
    )
    parameters = builder.train.train.parameters.get_dict()
    assert parameters['potential']['elements'] == ['Cu']
    assert parameters['fit']['maxiter'] == 2000  # a cap: balanced stops on convergence
    assert parameters['fit']['min_relative_train_loss_per_iter'] == 1.0e-3
    assert parameters['data']['reference_energy'] == 'auto'
    assert 'repulsion' in parameters['fit'] or 'r_in' in str(parameters['potential'])  # balanced has ZBL
    assert builder.gamma_max.value == 30.0 and builder.target_test_force_rmse.value == 20.0
    assert builder.active_set_in_fit.value is False  # the protocols' default is true
    assert builder.select_in_fit.value is False  # the same
    assert builder.activeset.parameters['full'] is True  # 500 > 50 functions per element
    assert builder.explore.parameters['gamma_stop'] == 10.0
    assert builder.labeller.process.value == 'pacemaker.label_ase'
    # the selection measured best in benchmarks/RESULTS.md section 4 (hybrid, stratified coverage)
    select = builder.select.parameters.get_dict()
    assert (select['strategy'], select['coverage'], select['tail_fraction']) == ('hybrid', 'stratified', 0.5)


@pytest.mark.parametrize('strategy', ['maxvol', 'lcmd', 'representative', 'stratified', 'maxdist', 'random'])
def test_another_strategy_replaces_the_protocols_hybrid_options(strategy):
    """`select: {strategy: X}` over the protocols' hybrid drops the options that only hybrid has (which the
    calculation refuses for any other strategy); the rest of the protocol's selection stays."""
    select = get_protocol('fast', {'select': {'strategy': strategy}})['select']
    assert select['strategy'] == strategy
    assert not {'tail_fraction', 'tail_min_gamma', 'coverage'} & set(select)
    assert select['min_distance_factor'] == 0.8 and select['fill_to_max'] is True
    message = PaceSelectCalculation.validate_inputs({'parameters': orm.Dict(select)}, {})
    assert message is None, message


def test_hybrid_options_given_with_another_strategy_are_kept_and_refused():
    select = get_protocol('fast', {'select': {'strategy': 'maxvol', 'tail_fraction': 0.3}})['select']
    assert select['tail_fraction'] == 0.3
    message = PaceSelectCalculation.validate_inputs({'parameters': orm.Dict(select)}, {})
    assert '`tail_fraction` is the MaxVol share of `strategy: hybrid`' in message


def test_hybrid_overrides_keep_the_protocols_hybrid_options():
    select = get_protocol('fast', {'select': {'strategy': 'hybrid', 'tail_fraction': 0.25}})['select']
    assert (select['tail_fraction'], select['coverage']) == (0.25, 'stratified')
