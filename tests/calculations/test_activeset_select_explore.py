"""The active set, extrapolation grade, selection and exploration, run for real."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import engine, orm
from aiida.plugins import CalculationFactory

from aiida_pacemaker.data import ActiveSetData, PacePotentialData
from aiida_pacemaker.data.active_set import ActiveSetMismatchError

from ..conftest import DUMMY_POTENTIAL


def max_gamma(calculator, atoms):
    atoms = atoms.copy()
    atoms.calc = calculator
    atoms.get_potential_energy()
    return float(np.max(calculator.results['gamma']))


def new_structures():
    """Cells clearly unlike the training data: strongly compressed and strongly rattled."""
    from ase.build import bulk

    compressed = bulk('Cu', 'fcc', a=3.61 * 0.85, cubic=True)
    rattled = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((1, 1, 2))
    rattled.rattle(0.35, seed=5)
    return [compressed, rattled]


@pytest.mark.pacemaker
def test_active_set_grades(fitted, fitted_active_set):
    active_set = fitted_active_set
    assert isinstance(active_set, ActiveSetData)
    assert active_set.potential_uuid == fitted['potential'].uuid
    assert active_set.base.attributes.get('shapes')['Cu'][0] == fitted['potential'].number_of_functions
    calculator = fitted['potential'].get_ase_calculator(active_set=active_set)
    training = [max_gamma(calculator, atoms) for atoms in fitted['structures']]
    assert max(training) < 1.05, training  # every training atom was eligible (all_atoms)
    for atoms in new_structures():
        assert max_gamma(calculator, atoms) > 2.0


@pytest.mark.pacemaker
def test_select_prefers_extrapolative(fitted, fitted_active_set):
    candidates = {f'known_{i}': orm.StructureData(ase=a) for i, a in enumerate(fitted['structures'][:4])}
    candidates |= {f'new_{i}': orm.StructureData(ase=a) for i, a in enumerate(new_structures())}

    def select(**parameters):
        return engine.run_get_node(
            CalculationFactory('pacemaker.select'),
            code=fitted['codes']['pace_select'],
            potential=fitted['potential'],
            active_set=fitted_active_set,
            candidates=candidates,
            parameters=orm.Dict(parameters),
        )

    results, node = select(max_structures=2)
    assert node.is_finished_ok, node.exit_message
    report = results['report'].get_dict()
    assert set(report['gamma']) == set(candidates)
    assert 1 <= report['num_selected'] <= 2
    assert all(key.startswith('new_') for key in report['selected']), report
    for key, structure in results['selected'].items():
        assert structure.uuid != candidates[key].uuid  # created by the calculation
        assert structure.base.links.get_incoming().one().node.uuid == node.uuid
        assert np.allclose(structure.get_ase().positions, candidates[key].get_ase().positions)

    # fill_to_max: pace_select's choice topped up with the highest grades, up to max_structures
    results, node = select(max_structures=5, fill_to_max=True)
    assert node.is_finished_ok, node.exit_message
    filled_report = results['report'].get_dict()
    by_pace_select = [key for key in filled_report['selected'] if key not in filled_report['filled']]
    assert by_pace_select == report['selected']  # the same D-optimal choice as above, then the fill
    assert filled_report['num_selected'] == len(results['selected']) == 5
    gamma = filled_report['gamma']
    left = sorted((key for key in candidates if key not in by_pace_select), key=lambda key: -gamma[key])
    assert filled_report['filled'] == left[: 5 - len(by_pace_select)]

    # a gamma window nobody falls into: selecting nothing is a normal, flagged result
    results, node = select(max_structures=2, gamma_min=1e6)
    assert node.is_finished_ok, node.exit_message
    assert results['report']['num_selected'] == 0
    assert 'selected' not in results or not results['selected']


@pytest.mark.pacemaker
def test_explore_stops_on_gamma(fitted, fitted_active_set):
    from ase.build import bulk

    seed = bulk('Cu', 'fcc', a=3.61, cubic=True).repeat((2, 1, 1))
    parameters = {
        'temperatures': [2500.0],
        'steps': 400,
        'timestep': 4.0,
        'gamma_select': 1.2,
        'gamma_stop': 3.0,
        'sample_interval': 2,
    }
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.explore'),
        code=fitted['codes']['pace_explore'],
        potential=fitted['potential'],
        active_set=fitted_active_set,
        structures={'hot': orm.StructureData(ase=seed)},
        parameters=orm.Dict(parameters),
    )
    assert node.exit_status in (0, 410), node.exit_message
    report = results['report'].get_dict()
    trajectory = report['trajectories'][0]
    assert trajectory['reason'] == 'gamma_stop', trajectory
    assert trajectory['steps'] < 400
    assert report['num_candidates'] >= 1
    assert all(1.2 <= g for g in report['gamma'].values())
    assert len(results['candidates']) == report['num_candidates']


def test_active_set_refuses_another_potential(aiida_profile):
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    other = PacePotentialData(DUMMY_POTENTIAL.replace('c: [0.1]', 'c: [0.2]')).store()
    active_set = ActiveSetData(asi=b'not used here', potential=potential).store()
    active_set.check_potential(potential)
    with pytest.raises(ActiveSetMismatchError, match=f'PacePotentialData<{other.pk}>'):
        active_set.check_potential(other)


def select_inputs(computer, parameters: dict, candidates: dict | None = None) -> dict:
    """`pacemaker.select` inputs on a placeholder potential (for validation and the job's command line)."""
    from ase.build import bulk

    code = orm.InstalledCode(computer=computer, filepath_executable='/opt/pace/bin/pace_select').store()
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    return {
        'code': code,
        'potential': potential,
        'active_set': ActiveSetData(asi=b'x', potential=potential).store(),
        'candidates': candidates or {'a': orm.StructureData(ase=bulk('Cu'))},
        'parameters': orm.Dict(parameters),
    }


@pytest.mark.parametrize(
    ('parameters', 'message'),
    [
        ({'max_structure': 3}, 'did you mean `max_structures`'),
        ({'memory_limit': '__import__("os")'}, 'memory_limit'),
        ({'gamma_tolerance': 0.5}, 'must be a number > 1.0, got 0.5'),
        ({'gamma_min': 5.0, 'gamma_max': 2.0}, 'smaller than `gamma_max`'),
        ({'strategy': 'lcmd'}, 'set `max_structures`'),
        ({'strategy': 'kmeans', 'max_structures': 2}, 'is not a valid value; valid: '),
        ({'strategy': 'maxvol', 'tail_fraction': 0.3}, 'MaxVol share of `strategy: hybrid`'),
        ({'strategy': 'hybrid', 'tail_fraction': 1.5, 'max_structures': 2}, 'between 0 and 1'),
        (
            {'strategy': 'lcmd', 'tail_min_gamma': 1.0, 'max_structures': 2},
            'lowest grade of the MaxVol share',
        ),
        ({'strategy': 'hybrid', 'tail_min_gamma': -1.0, 'max_structures': 2}, 'tail_min_gamma'),
        ({'strategy': 'maxdist', 'max_structures': 2}, "give the potential's `training_set`"),
        ({'strategy': 'representative', 'max_structures': 2}, "give the potential's `training_set`"),
        (
            {'strategy': 'lcmd', 'coverage': 'representative', 'max_structures': 2},
            'use `strategy: representative`',
        ),
        ({'strategy': 'hybrid', 'coverage': 'kmeans', 'max_structures': 2}, 'is not a valid value; valid: '),
        ({'min_distance_factor': 0.7}, "give the potential's `training_set`"),
        ({'min_distance_factor': 0.0}, 'must be a number > 0.0, got 0.0'),
        ({'min_distance': -1.0}, 'must be a number > 0.0, got -1.0'),
        ({'min_distance': 1.5, 'min_distance_factor': 0.8}, 'set the same floor: give one of them'),
        ({'grade_candidates': 'no'}, 'grade_candidates'),
        ({'grade_candidates': False, 'gamma_min': 1.0}, 'skips the grades that `gamma_min` need'),
        (
            {'grade_candidates': False, 'fill_to_max': True, 'max_structures': 2},
            'skips the grades that `fill_to_max` need',
        ),
        (
            {'grade_candidates': False, 'strategy': 'hybrid', 'max_structures': 2},
            'skips the grades that `strategy: hybrid` need',
        ),
    ],
)
def test_select_refuses_bad_parameters(aiida_profile, aiida_localhost, parameters, message):
    with pytest.raises(ValueError, match=message):
        engine.run(CalculationFactory('pacemaker.select'), **select_inputs(aiida_localhost, parameters))


def test_select_command_line(aiida_profile, aiida_localhost, generate_calc_job):
    from ase.build import bulk

    inputs = select_inputs(
        aiida_localhost,
        {'max_structures': 3, 'gamma_min': 1.5, 'memory_limit': '2GB'},
        {'b': orm.StructureData(ase=bulk('Cu')), 'a': orm.StructureData(ase=bulk('Cu', a=3.5))},
    )
    potential = inputs['potential']
    folder, calcinfo = generate_calc_job('pacemaker.select', inputs)
    assert calcinfo.codes_info[0].cmdline_params == [
        'candidates.pckl.gzip', '-p', 'potential.yaml', '-a', 'potential.asi', '-o', 'selected.pkl.gz',
        '-m', '3', '-mem', '2GB',
    ]  # fmt: skip
    assert 'gamma_report.py filter potential.yaml potential.asi candidates_all.npz' in calcinfo.prepend_text
    assert '1.5 inf' in calcinfo.prepend_text
    assert ' linear > gamma.out' in calcinfo.prepend_text  # the grades from the projections, all at once
    assert (potential.uuid, 'potential.yaml', 'potential.yaml') in calcinfo.local_copy_list
    assert {'gamma_report.py', 'candidates_all.npz'} <= set(folder.get_content_list())


def test_select_absolute_distance_floor_command_line(aiida_profile, aiida_localhost, generate_calc_job):
    """`min_distance` (Å) goes to the job's filter step as it is: no training set needed to measure it."""
    inputs = select_inputs(aiida_localhost, {'max_structures': 3, 'min_distance': 1.75})
    _, calcinfo = generate_calc_job('pacemaker.select', inputs)
    assert '0.0 inf 1.75 linear > gamma.out' in calcinfo.prepend_text


def test_select_without_grades_command_line(aiida_profile, aiida_localhost, generate_calc_job):
    """`grade_candidates: false`: the job's filter step only writes pace_select's file, no grading pass."""
    inputs = select_inputs(aiida_localhost, {'max_structures': 3, 'grade_candidates': False})
    _, calcinfo = generate_calc_job('pacemaker.select', inputs)
    assert calcinfo.prepend_text.endswith(' none > gamma.out 2>&1')
    assert calcinfo.codes_info[0].cmdline_params[-2:] == ['-m', '3']


def test_activeset_command_line(aiida_profile, aiida_localhost, generate_calc_job, training_set):
    code = orm.InstalledCode(
        computer=aiida_localhost, filepath_executable='/opt/pace/bin/pace_activeset'
    ).store()
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    inputs = {
        'code': code,
        'potential': potential,
        'training_set': training_set,
        'parameters': orm.Dict({'full': True, 'gamma_tolerance': 1.05, 'batch_size': 100, 'all_atoms': True}),
    }
    _, calcinfo = generate_calc_job('pacemaker.activeset', inputs)
    assert calcinfo.codes_info[0].cmdline_params == [
        'potential.yaml', '-d', 'training_set.pckl.gzip', '-f', '-g', '1.05', '-b', '100', '-a',
    ]  # fmt: skip
