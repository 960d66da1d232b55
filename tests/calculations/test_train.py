"""Tests of `PaceTrainCalculation` and its parser: staging, fake binaries, the real pacemaker."""

from __future__ import annotations

import io
import re
import sys

import numpy as np
import pytest
import yaml
from aiida import engine, orm
from aiida.plugins import CalculationFactory

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data import PacePotentialData, TrainingSetData

from ..conftest import (
    DUMMY_POTENTIAL,
    FAKE_YAML2YACE,
    METRICS_HEADER,
    fast_parameters,
    run_activeset,
    run_train,
)


def fake_pacemaker_body(
    potential: str | None = DUMMY_POTENTIAL, exit_status: int = 0, loss: str = '0.01'
) -> str:
    """A shell script standing in for pacemaker: checks its input, writes files, exits."""
    lines = [
        '#!/bin/bash',
        'test -f input.yaml || { echo "no input.yaml" >&2; exit 9; }',
        'grep -q "filename: training_set.pckl.gzip" input.yaml || exit 8',
        'echo "fake pacemaker $@" > log.txt',
        f"printf '{METRICS_HEADER}0 0 0 1.0 0.2 0.5 0.4 1\\n0 0 5 {loss} 0.003 0.02 0.01 1\\n' > metrics.txt",
    ]
    if potential is not None:
        lines.append(f"cat > output_potential.yaml <<'EOF'\n{potential}EOF")
    if exit_status:
        lines.append('echo "Traceback: RuntimeError: fake failure" >> log.txt')
    lines.append(f'exit {exit_status}')
    return '\n'.join(lines) + '\n'


@pytest.fixture
def fake_codes(aiida_localhost, fake_executable):
    """Factory: a `pacemaker` code whose executable is a fake script, with a fake pace_yaml2yace beside it."""

    def factory(**kwargs):
        fake_executable('pace_yaml2yace', FAKE_YAML2YACE)
        path = fake_executable('pacemaker', fake_pacemaker_body(**kwargs))
        aiida_localhost.set_minimum_job_poll_interval(0.0)
        return orm.InstalledCode(computer=aiida_localhost, filepath_executable=str(path)).store()

    return factory


# ---------------------------------------------------------------------------- staging (unit)
def test_prepare_for_submission(aiida_profile, aiida_localhost, training_set, generate_calc_job):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    inputs = {'code': code, 'training_set': training_set, 'parameters': orm.Dict(fast_parameters())}
    folder, calcinfo = generate_calc_job('pacemaker.train', inputs)
    written = yaml.safe_load(folder.get_abs_path('input.yaml') and open(folder.get_abs_path('input.yaml')))
    assert written['data'] == {'reference_energy': 0, 'filename': 'training_set.pckl.gzip'}
    assert written['potential'] == fast_parameters()['potential']
    assert sorted(folder.get_content_list()) == ['fit_report.py', 'input.yaml', 'training_set.pckl.gzip']
    assert calcinfo.codes_info[0].cmdline_params == ['input.yaml']
    assert calcinfo.local_copy_list == []
    assert 'training_set.pckl.gzip' in calcinfo.provenance_exclude_list
    assert (
        '/opt/pace/bin/pace_yaml2yace output_potential.yaml -o output_potential.yace' in calcinfo.append_text
    )
    assert calcinfo.append_text.startswith('echo $? > exit_status')


def test_prepare_with_active_set_in_the_same_job(
    aiida_profile, aiida_localhost, training_set, generate_calc_job
):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    inputs = {'code': code, 'training_set': training_set, 'parameters': orm.Dict(fast_parameters())}
    _, calcinfo = generate_calc_job('pacemaker.train', inputs)
    assert 'pace_activeset' not in calcinfo.append_text
    assert 'output_potential.asi' not in calcinfo.retrieve_list

    options = {'all_atoms': True, 'batch_size': 100, 'memory_limit': '2GB'}
    _, calcinfo = generate_calc_job('pacemaker.train', {**inputs, 'active_set_parameters': orm.Dict(options)})
    lines = calcinfo.append_text.splitlines()
    command = (
        '  /opt/pace/bin/pace_activeset output_potential.yaml -d training_set.pckl.gzip -a -b 100 -m 2GB '
        '> activeset.out 2>&1'
    )
    assert command in lines
    # only after a fit that ended well, and after the exit status of pacemaker was recorded
    guard = lines.index(command) - 1
    assert lines[guard] == 'if [ -s output_potential.yaml ] && [ "$(cat exit_status)" = 0 ]; then'
    assert lines[0] == 'echo $? > exit_status'
    assert {'output_potential.asi', 'output_potential.asi.nonlinear', 'activeset.out'} <= set(
        calcinfo.retrieve_list
    )


@pytest.mark.parametrize(
    ('options', 'message'),
    [
        ({'batch_size': 10}, 'needs `all_atoms: true`'),
        ({'bogus': 1}, 'unknown key `bogus`'),
        ({'memory_limit': '__import__("os")'}, 'memory_limit'),
    ],
    ids=['batch-without-all-atoms', 'unknown-key', 'memory-not-a-size'],
)
def test_invalid_active_set_parameters_are_refused(
    aiida_profile, aiida_localhost, training_set, options, message
):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    before = orm.QueryBuilder().append(orm.CalcJobNode).count()
    with pytest.raises(ValueError, match=r'invalid `active_set_parameters`: .*' + re.escape(message)):
        engine.run(
            PaceTrainCalculation,
            code=code,
            training_set=training_set,
            parameters=orm.Dict(fast_parameters()),
            active_set_parameters=orm.Dict(options),
        )
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == before


def _pool(count: int, elements: str = 'Cu', seed: int = 3):
    from aiida_pacemaker.data.structure_pool import StructurePoolData
    from aiida_pacemaker.tools.examples import random_bulk_structures

    structures = random_bulk_structures(count, seed=seed)
    if elements != 'Cu':
        for atoms in structures:
            atoms.symbols[0] = elements
    return StructurePoolData.from_ase(structures, [f'p{i}' for i in range(count)]).store()


def test_prepare_with_selection_in_the_same_job(
    aiida_profile, aiida_localhost, training_set, generate_calc_job
):
    """With `selection` the job grades and selects after pace_activeset, only once the active set exists; the
    files and shell lines are those of a `pacemaker.select` job, with the fit's potential and training set."""
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    pool = _pool(6)
    options = {'max_structures': 2, 'gamma_min': 1.5, 'strategy': 'hybrid', 'coverage': 'stratified'}
    inputs = {
        'code': code,
        'training_set': training_set,
        'parameters': orm.Dict(fast_parameters()),
        'active_set_parameters': orm.Dict({}),
        'selection': {'parameters': orm.Dict(options), 'pool': pool, 'exclude': orm.List(['p0', 'p1'])},
    }
    folder, calcinfo = generate_calc_job('pacemaker.train', inputs)
    lines = calcinfo.append_text.splitlines()
    guard = 'if [ -s output_potential.asi ] && [ "$(cat exit_status)" = 0 ]; then'
    assert guard in lines and lines.index(guard) > lines.index(
        '  /opt/pace/bin/pace_activeset output_potential.yaml -d training_set.pckl.gzip > activeset.out 2>&1'
    )
    body = lines[lines.index(guard) + 1 :]
    assert body[0].startswith(
        '  /opt/pace/bin/python gamma_report.py filter output_potential.yaml output_potential.asi '
    )
    assert body[0].endswith(' 1.5 inf 0.0 linear > gamma.out 2>&1')
    select = '    /opt/pace/bin/pace_select candidates.pckl.gzip -p output_potential.yaml -a output_potential.asi -o selected.pkl.gz -m 2 > select.out 2>&1'
    assert select in body and body[body.index(select) + 1] == '    echo $? > select_exit_status'
    assert body[-1] == 'fi' and any('gamma_report.py choose choose_input.json' in line for line in body)
    # the pool less `exclude` is written as arrays (never a pickle), the coverage's training structures beside it
    content = set(folder.get_content_list())
    assert {
        'candidates_all.npz',
        'training.pckl.gzip',
        'gamma_report.py',
        'selection.py',
        'choose_input.json',
    } <= content
    with np.load(folder.get_abs_path('candidates_all.npz'), allow_pickle=False) as arrays:
        assert sorted(arrays['names'].tolist()) == ['p2', 'p3', 'p4', 'p5']
    assert {'candidates_all.npz', 'training.pckl.gzip'} <= set(calcinfo.provenance_exclude_list)
    assert {'gamma.json', 'selected.json', 'choice.json', 'select.out', 'select_exit_status'} <= set(
        calcinfo.retrieve_list
    )

    # the whole pool is copied as it is; with `full` the non-linear active set grades; without grades: none
    inputs['active_set_parameters'] = orm.Dict({'full': True})
    inputs['selection'] = {
        'parameters': orm.Dict({'max_structures': 2, 'grade_candidates': False}),
        'pool': pool,
    }
    folder, calcinfo = generate_calc_job('pacemaker.train', inputs)
    assert (pool.uuid, 'pool.npz', 'candidates_all.npz') in calcinfo.local_copy_list
    assert 'candidates_all.npz' not in folder.get_content_list()
    text = calcinfo.append_text
    assert 'if [ -s output_potential.asi.nonlinear ] &&' in text and ' 0.0 none > gamma.out' in text
    assert '-a output_potential.asi.nonlinear -o selected.pkl.gz -m 2' in text
    inputs['selection'] = {'parameters': orm.Dict({'max_structures': 2}), 'pool': pool}
    _, calcinfo = generate_calc_job('pacemaker.train', inputs)
    assert ' 0.0 full > gamma.out' in calcinfo.append_text


@pytest.mark.parametrize(
    ('selection', 'active_set', 'message'),
    [
        ({'max_structures': 2}, False, 'give `active_set_parameters` as well'),
        (None, True, '`selection` needs its `parameters`'),
        (
            {'max_structures': 2, 'bogus': 1},
            True,
            'invalid `selection`: invalid `parameters`: unknown key `bogus`',
        ),
        ({'strategy': 'lcmd'}, True, '`strategy: lcmd` spends a budget: set `max_structures`'),
        ({'max_structures': 2, 'gamma_min': 3.0, 'gamma_max': 2.0}, True, '`gamma_min` must be smaller'),
        (
            {'max_structures': 2, 'pool': 'Ni'},
            True,
            "elements ['Ni'] that the fitted potential would not know",
        ),
    ],
    ids=[
        'no-active-set',
        'no-parameters',
        'unknown-option',
        'strategy-without-budget',
        'empty-window',
        'unknown-element',
    ],
)
def test_invalid_selection_is_refused(
    aiida_profile, aiida_localhost, training_set, selection, active_set, message
):
    """A bad `selection` is refused before anything runs, and nothing is stored."""
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    pool = _pool(4, elements=(selection or {}).pop('pool', 'Cu'))
    inputs = {'pool': pool}
    if selection is not None:
        inputs['parameters'] = orm.Dict(selection)
    extra = {'active_set_parameters': orm.Dict({})} if active_set else {}
    before = orm.QueryBuilder().append(orm.CalcJobNode).count()
    with pytest.raises(ValueError, match=re.escape(message)):
        engine.run(
            PaceTrainCalculation,
            code=code,
            training_set=training_set,
            parameters=orm.Dict(fast_parameters()),
            selection=inputs,
            **extra,
        )
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == before


def test_sibling_command_is_quoted(aiida_profile, aiida_localhost):
    from aiida_pacemaker.calculations.base import sibling_command

    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/my pace;rm/bin/pacemaker')
    assert sibling_command(code, 'pace_yaml2yace') == "'/opt/my pace;rm/bin/pace_yaml2yace'"


def test_prepare_with_initial_potential_and_test_set(
    aiida_profile, aiida_localhost, training_set, generate_calc_job, emt_structures
):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    test_set = TrainingSetData.from_ase(emt_structures(3, seed=7)).store()
    parameters = fast_parameters()
    inputs = {
        'code': code,
        'training_set': training_set,
        'test_set': test_set,
        'parameters': orm.Dict(parameters),
        'initial_potential': potential,
    }
    folder, calcinfo = generate_calc_job('pacemaker.train', inputs)
    assert calcinfo.codes_info[0].cmdline_params == ['input.yaml', '-p', 'initial_potential.yaml']
    assert calcinfo.local_copy_list == [(potential.uuid, 'potential.yaml', 'initial_potential.yaml')]
    written = yaml.safe_load(open(folder.get_abs_path('input.yaml')))
    assert written['data']['test_filename'] == 'test_set.pckl.gzip'
    assert 'test_set.pckl.gzip' in folder.get_content_list()


@pytest.mark.parametrize(
    ('mutate', 'message'),
    [
        (lambda p: p['fit'].update(optimizer='BFSG'), 'optimizer'),
        (lambda p: p['fit']['loss'].update(kapa=0.1), 'kappa'),
        (lambda p: p['data'].update(test_size=0), 'test_size'),
        (lambda p: p['data'].update(test_size=0.01), 'leaves 0 of 24 structures'),
        (lambda p: p['data'].update(test_size=24), 'leaves 24 of 24 structures'),
        (lambda p: p['potential'].update(elements=['Al']), 'Cu'),
        (lambda p: p.pop('potential'), 'potential'),
    ],
)
def test_invalid_parameters_are_refused(aiida_profile, aiida_localhost, training_set, mutate, message):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    parameters = fast_parameters()
    mutate(parameters)
    builder = engine.ProcessBuilder  # noqa: F841 - validation happens when the process is created
    from aiida_pacemaker.calculations.train import PaceTrainCalculation

    before = orm.QueryBuilder().append(orm.CalcJobNode).count()
    with pytest.raises(ValueError, match=message):
        engine.run(
            PaceTrainCalculation, code=code, training_set=training_set, parameters=orm.Dict(parameters)
        )
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == before


def test_initial_potential_missing_elements(aiida_profile, aiida_localhost, emt_structures):
    from aiida_pacemaker.calculations.train import PaceTrainCalculation
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    alloy = emt_label(random_bulk_structures(2, element='Al', lattice_constant=4.05))
    training = TrainingSetData.from_ase(alloy).store()
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    with pytest.raises(ValueError, match=r"elements \['Al'\] that the initial potential"):
        engine.run(
            PaceTrainCalculation,
            code=code,
            training_set=training,
            parameters=orm.Dict(fast_parameters()),
            initial_potential=potential,
        )


# ---------------------------------------------------------------------------- fake binaries
def test_fake_pacemaker_success(aiida_profile, training_set, fake_codes):
    results, node = engine.run_get_node(
        PaceTrainCalculation,
        code=fake_codes(),
        training_set=training_set,
        parameters=orm.Dict(fast_parameters()),
    )
    assert node.is_finished_ok, node.exit_message
    assert isinstance(results['potential'], PacePotentialData)
    assert results['potential'].elements == ['Cu']
    assert results['potential'].has_yace
    assert results['metrics']['train_energy_rmse'] == pytest.approx(3.0)
    assert results['metrics']['train_force_rmse'] == pytest.approx(20.0)
    assert results['metrics']['iterations'] == 5


#: a pace_activeset that writes a valid one-element .asi (an .npz of a 3 x 3 matrix) named after the potential
FAKE_ACTIVESET = f"""#!/bin/bash
echo "fake pace_activeset $@"
{sys.executable} -c "import numpy; numpy.savez(open('${{1%.yaml}}.asi', 'wb'), Cu=numpy.eye(3))"
"""


@pytest.mark.parametrize(
    ('body', 'built'),
    [
        (FAKE_ACTIVESET, True),
        ('#!/bin/bash\necho "ValueError: singular matrix"\nexit 1\n', False),
        ('#!/bin/bash\nhead -c 300 /dev/urandom > output_potential.asi\n', False),
    ],
    ids=['built', 'pace-activeset-fails', 'corrupt-asi'],
)
def test_fake_active_set_in_the_fit_job(
    aiida_profile, training_set, fake_codes, fake_executable, body, built
):
    """The fit's outputs stand whatever pace_activeset does; its failure is a warning in the node's log."""
    code = fake_codes()
    fake_executable('pace_activeset', body)
    results, node = engine.run_get_node(
        PaceTrainCalculation,
        code=code,
        training_set=training_set,
        parameters=orm.Dict(fast_parameters()),
        active_set_parameters=orm.Dict({'all_atoms': True}),
    )
    assert node.is_finished_ok, node.exit_message
    assert isinstance(results['potential'], PacePotentialData)
    warnings = [log.message for log in orm.Log.collection.get_logs_for(node) if log.levelname == 'WARNING']
    if built:
        active_set = results['active_set']
        assert active_set.potential_uuid == results['potential'].uuid
        assert active_set.base.attributes.get('shapes') == {'Cu': [3, 3]}
        assert 'fake pace_activeset output_potential.yaml -d training_set.pckl.gzip -a' in (
            node.outputs.retrieved.base.repository.get_object_content('activeset.out')
        )
        assert not warnings
    else:
        assert 'active_set' not in results
        (warning,) = warnings
        assert warning.startswith('the fit stands, but its active set was not built')


@pytest.mark.parametrize(
    ('kwargs', 'exit_status', 'text'),
    [
        ({'exit_status': 3}, 400, 'RuntimeError: fake failure'),
        ({'potential': None}, 302, 'no output potential'),
        ({'potential': DUMMY_POTENTIAL[:120]}, 303, 'truncated or corrupt'),
        ({'loss': 'nan'}, 420, 'non-finite'),
    ],
)
def test_fake_pacemaker_failures(aiida_profile, training_set, fake_codes, kwargs, exit_status, text):
    _, node = engine.run_get_node(
        CalculationFactory('pacemaker.train'),
        code=fake_codes(**kwargs),
        training_set=training_set,
        parameters=orm.Dict(fast_parameters()),
    )
    assert node.exit_status == exit_status
    assert text in node.exit_message
    assert 'metrics' in node.outputs  # what was parsed is attached before the error


# ---------------------------------------------------------------------------- the real pacemaker
@pytest.mark.pacemaker
def test_real_fit_and_fine_tune(aiida_profile, pacemaker_codes, emt_structures):
    structures = emt_structures(24)
    training = TrainingSetData.from_ase(structures).store()
    test_set = TrainingSetData.from_ase(emt_structures(6, seed=11)).store()
    results, node = run_train(
        pacemaker_codes['pacemaker'], training, fast_parameters(maxiter=30), test_set=test_set
    )
    potential, metrics = results['potential'], results['metrics'].get_dict()
    assert potential.elements == ['Cu'] and potential.number_of_functions == 12 and potential.cutoff == 5.0
    assert potential.has_yace and potential.get_yace_content().strip()
    assert metrics['iterations'] > 0
    assert 0 < metrics['train_energy_rmse'] < 200 and 0 < metrics['train_force_rmse'] < 1000
    assert metrics['test_force_rmse'] > 0
    # provenance: training set -> calculation -> potential
    assert node.inputs.training_set.uuid == training.uuid
    assert potential.base.links.get_incoming().one().node.uuid == node.uuid

    # the potential loads in pyace and predicts the training energies within a loose tolerance
    calculator = potential.get_ase_calculator()
    errors = []
    for atoms in structures:
        reference = atoms.get_potential_energy() / len(atoms)
        copy = atoms.copy()
        copy.calc = calculator
        errors.append(copy.get_potential_energy() / len(atoms) - reference)
    rmse = 1000 * float(np.sqrt(np.mean(np.square(errors))))
    assert rmse == pytest.approx(metrics['train_energy_rmse'], rel=0.5, abs=5.0)

    # fine-tune from the first potential (pacemaker -p): same basis, a better or equal fit; the same job
    # builds the active set, which is what a pace_activeset job of its own builds for that potential
    # and selects from a pool after it, as a `pacemaker.select` job selects with that potential and active set
    from aiida_pacemaker.data.structure_pool import StructurePoolData

    pool = StructurePoolData.from_ase(emt_structures(8, seed=5), [f'p{i}' for i in range(8)]).store()
    options = {'max_structures': 3, 'strategy': 'hybrid', 'coverage': 'stratified', 'fill_to_max': True}
    selection = {'parameters': orm.Dict(options), 'pool': pool, 'exclude': orm.List(['p0'])}
    tuned, tuned_node = run_train(
        pacemaker_codes['pacemaker'],
        training,
        fast_parameters(maxiter=15),
        initial_potential=potential,
        active_set_parameters=orm.Dict({'all_atoms': True}),
        selection=selection,
    )
    assert tuned['potential'].number_of_functions == potential.number_of_functions
    assert tuned['metrics']['loss'] <= metrics['loss'] * 1.05
    assert tuned['metrics']['initial_loss'] < 0.5 * node.outputs.metrics['initial_loss']
    in_fit = tuned['active_set']
    on_its_own = run_activeset(pacemaker_codes['pace_activeset'], tuned['potential'], training)
    assert in_fit.potential_uuid == on_its_own.potential_uuid == tuned['potential'].uuid
    assert in_fit.base.attributes.get('shapes') == on_its_own.base.attributes.get('shapes')
    with (
        np.load(io.BytesIO(in_fit.get_asi_content())) as one,
        np.load(io.BytesIO(on_its_own.get_asi_content())) as two,
    ):
        assert sorted(one.files) == sorted(two.files) == ['Cu']
        np.testing.assert_allclose(one['Cu'], two['Cu'], rtol=1e-8, atol=1e-10)
    report = tuned_node.outputs.selection.report.get_dict()
    alone, _ = engine.run_get_node(
        CalculationFactory('pacemaker.select'),
        code=pacemaker_codes['pace_select'],
        potential=tuned['potential'],
        active_set=in_fit,
        training_set=training,
        **selection,
    )
    assert report['num_candidates'] == alone['report']['num_candidates'] == 7  # the pool less `exclude`
    assert report['selected'] == alone['report']['selected'] and report['num_selected'] == 3
    assert report['reasons'] == alone['report']['reasons']
    assert report['gamma'] == pytest.approx(alone['report']['gamma'])
    chosen = tuned_node.outputs.selection.selected
    assert sorted(chosen) == sorted(report['selected'])
    for key, structure in chosen.items():  # made by the fit's job from the pool
        assert structure.creator.uuid == tuned_node.uuid
        np.testing.assert_allclose(structure.get_ase().positions, pool.get_structure(key).get_ase().positions)


@pytest.mark.pacemaker
def test_real_fit_with_automatic_reference_energy_and_zbl(aiida_profile, pacemaker_codes, emt_structures):
    """DFT-like total energies (-3 eV/atom offset): `reference_energy: auto`, and the deployed
    calculator adds pacemaker's per-element reference back to give total energies; with the ZBL core
    repulsion (`repulsion: auto`) in the same fit, a dimer's energy rises steeply as it is compressed."""
    from ase.calculators.singlepoint import SinglePointCalculator

    from aiida_pacemaker.baselines import dimer_curve

    structures = []
    for atoms in emt_structures(16, seed=4):
        shifted = atoms.copy()
        shifted.calc = SinglePointCalculator(
            shifted, energy=atoms.get_potential_energy() - 3.0 * len(atoms), forces=atoms.get_forces()
        )
        structures.append(shifted)
    parameters = fast_parameters(maxiter=30, repulsion='auto')
    parameters['data']['reference_energy'] = 'auto'
    results, _ = run_train(
        pacemaker_codes['pacemaker'], TrainingSetData.from_ase(structures).store(), parameters
    )
    potential = results['potential']
    assert potential.reference_energies['Cu'] == pytest.approx(-3.0, abs=0.5)
    assert potential.physics_baseline == 'zbl'
    energies, _ = dimer_curve(potential.get_ase_calculator(), ('Cu', 'Cu'), [0.6, 1.0, 1.4, 1.8])
    assert np.all(np.diff(energies) < 0), energies  # rises steeply as the distance shrinks
    assert energies[0] > 100.0
    calculator = potential.get_ase_calculator()
    errors = []
    for atoms in structures:
        copy = atoms.copy()
        copy.calc = calculator
        errors.append((copy.get_potential_energy() - atoms.get_potential_energy()) / len(atoms))
    rmse = 1000 * float(np.sqrt(np.mean(np.square(errors))))
    assert rmse == pytest.approx(results['metrics']['train_energy_rmse'], rel=0.5, abs=5.0)
