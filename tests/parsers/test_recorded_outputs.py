"""Every parser on what the real tools left (tests/parsers/outputs, written by record_outputs.py)."""

from __future__ import annotations

import numpy as np


def test_train_to_maxiter(recorded_calculation):
    node, parse = recorded_calculation('train', 'maxiter')
    results, status, _ = parse()
    assert status == 0
    metrics = results['metrics'].get_dict()
    assert metrics['iterations'] == 20 and metrics['stopped_by'] == 'maxiter'
    assert 0 < metrics['train_force_rmse'] < metrics['initial_loss'] * 1e6
    assert metrics['test_force_rmse'] > 0 and metrics['test_energy_rmse'] > 0  # the test set's metrics
    assert results['potential'].elements == ['Cu'] and results['potential'].has_yace
    errors = results['per_structure_errors']
    forces, energy = errors.get_array('forces'), errors.get_array('energy')
    assert forces.shape == energy.shape == (node.inputs.training_set.num_structures,)
    assert np.all(np.isfinite(forces)) and np.all(forces > 0)
    # the per-structure force RMSEs make up the training force RMSE that pacemaker reports
    natoms = node.inputs.training_set.get_arrays()['natoms']
    total = np.sqrt(np.sum(natoms * forces**2) / np.sum(natoms))
    assert abs(total - metrics['train_force_rmse']) < 0.02 * metrics['train_force_rmse']


def test_train_stopped_on_convergence(recorded_calculation):
    _, parse = recorded_calculation('train', 'converged')
    results, status, _ = parse()
    assert status == 0
    metrics = results['metrics'].get_dict()
    assert metrics['stopped_by'] == 'convergence'
    assert metrics['iterations'] < 500
    assert metrics['optimizer_status'] == 99  # scipy: the callback asked to stop


def test_train_killed(recorded_calculation):
    """SIGKILL mid-fit: status 137 recorded, the interim potential attached, 401 for the restart handler."""
    from aiida_pacemaker.calculations.train import PaceTrainCalculation

    _, parse = recorded_calculation('train', 'killed')
    results, status, _ = parse()
    assert status == PaceTrainCalculation.exit_codes.ERROR_FIT_INTERRUPTED.status
    assert 'potential' not in results and 'per_structure_errors' not in results
    assert results['interim_potential'].elements == ['Cu']
    assert results['metrics']['iterations'] > 0  # what was fitted before the kill


def test_activeset(recorded_calculation):
    node, parse = recorded_calculation('activeset', 'linear')
    results, status, _ = parse()
    assert status == 0
    active_set = results['active_set']
    assert active_set.potential_uuid == node.inputs.potential.uuid
    ((rows, columns),) = active_set.base.attributes.get('shapes').values()
    assert rows == columns == node.inputs.potential.number_of_functions  # linear: one row per function


def test_select_maxvol_filled(recorded_calculation):
    node, parse = recorded_calculation('select', 'maxvol_fill')
    results, status, _ = parse()
    assert status == 0
    report = results['report'].get_dict()
    assert report['num_selected'] == len(results['selected']) == 4  # the budget, filled
    assert set(report['gamma']) == set(node.inputs.candidates)
    assert set(report['reasons'].values()) <= {'maxvol', 'fill'} and report['strategy'] == 'maxvol'
    assert set(report['filled']) == {key for key, why in report['reasons'].items() if why == 'fill'}
    for key, structure in results['selected'].items():
        assert np.allclose(structure.get_ase().positions, node.inputs.candidates[key].get_ase().positions)


def test_select_lcmd(recorded_calculation):
    _, parse = recorded_calculation('select', 'lcmd')
    results, status, _ = parse()
    assert status == 0
    report = results['report'].get_dict()
    assert report['strategy'] == 'lcmd' and report['num_selected'] == 3
    assert set(report['reasons'].values()) == {'lcmd'}


def test_select_nothing_in_window(recorded_calculation):
    _, parse = recorded_calculation('select', 'nothing_in_window')
    results, status, _ = parse()
    assert status == 0
    report = results['report'].get_dict()
    assert report['num_selected'] == 0 and report['num_in_window'] == 0 and report['num_candidates'] == 8
    assert 'selected' not in results


def test_explore_stopped_on_gamma(recorded_calculation):
    _, parse = recorded_calculation('explore', 'gamma_stop')
    results, status, _ = parse()
    assert status == 0
    report = results['report'].get_dict()
    (trajectory,) = report['trajectories']
    assert trajectory['reason'] == 'gamma_stop' and trajectory['steps'] < 200
    assert report['num_candidates'] == len(results['candidates']) >= 1
    assert all(gamma >= 1.2 for gamma in report['gamma'].values())


def test_a_broken_output_is_an_exit_code(recorded_calculation):
    """The recorded run with its metrics cut short, or its potential truncated: exit codes, not exceptions."""
    from aiida_pacemaker.calculations.train import PaceTrainCalculation

    codes = PaceTrainCalculation.exit_codes
    _, parse = recorded_calculation(
        'train', 'maxiter', replace={'metrics.txt': b'ladder_step cycle_step\n0 0 1 2\n'}
    )
    _, status, message = parse()
    assert status == codes.ERROR_METRICS_UNREADABLE.status and 'metrics.txt' in message
    _, parse = recorded_calculation(
        'train', 'maxiter', replace={'output_potential.yaml': b'species:\n  - speciesbl'}
    )
    results, status, _ = parse()
    assert status == codes.ERROR_OUTPUT_POTENTIAL_UNREADABLE.status
    assert 'metrics' in results  # what was parsed before the error is attached
    _, parse = recorded_calculation(
        'select', 'lcmd', replace={'choice.json': b'[["not_a_candidate", "lcmd"]]'}
    )
    _, status, message = parse()
    assert status == 303 and 'wrote no valid choice.json' in message
