"""MD exploration runs the deployed model: ACE + the Lennard-Jones baseline + the reference energies.

A potential is fitted for real on Lennard-Jones residuals (with non-zero reference energies), then
(1) the calculator that the job builds from the files `pacemaker.explore` writes is evaluated in a
process that cannot import aiida, and compared with `PacePotentialData.get_ase_calculator()` to
1e-8, and (2) a real exploration is run, and the energies and forces its MD used on each kept
snapshot are compared with `get_ase_calculator()` there, and with ACE alone (which must differ).
"""

from __future__ import annotations

import ast
import json
import subprocess

import numpy as np
import pytest
from aiida import engine, orm
from aiida.plugins import CalculationFactory
from ase.io import read

from aiida_pacemaker.baselines import LennardJonesBaseline
from aiida_pacemaker.calculations.explore import PaceExploreCalculation
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YAML

from ..conftest import fast_parameters, run_activeset, run_train

#: stronger than the default (0.01 eV), so that the LJ part of the forces is far above the tolerances
BASELINE = LennardJonesBaseline.default_for(['Cu'], epsilon=0.05)
REFERENCE_ENERGY = 0.25  # eV/atom of Cu, subtracted by pacemaker before the fit, added back by the model

#: run in the job's folder by the pacemaker environment's Python, with aiida made unimportable
PROBE = """
import json, sys
for name in ('aiida', 'aiida_pacemaker'):
    sys.modules[name] = None  # a job on a remote computer has neither
import explore
from ase.io import read

settings = json.load(open('explore_input.json'))
calculator = explore.make_calculator(settings)
atoms = read('seeds.extxyz', index=0)
atoms.calc = calculator
result = {
    'calculator': type(calculator).__name__,
    'energy': atoms.get_potential_energy(),
    'forces': atoms.get_forces().tolist(),
    'gamma': calculator.results['gamma'].tolist(),
}
json.dump(result, open('probe.json', 'w'))
"""


def test_job_side_modules_import_no_aiida():
    """The script and the module copied beside it import only what pacemaker's environment has."""
    from importlib.resources import files

    allowed = {'__future__', 'collections', 'json', 'math', 'sys', 'typing', 'numpy', 'ase', 'pyace'}
    for package, name in (('aiida_pacemaker.scripts', 'explore.py'), ('aiida_pacemaker', 'baselines.py')):
        tree = ast.parse(files(package).joinpath(name).read_text(encoding='utf8'))
        roots = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots.update(alias.name.split('.')[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                roots.add((node.module or '').split('.')[0])
        assert roots - {'baselines'} <= allowed, f'{name} imports {sorted(roots - allowed - {"baselines"})}'


def test_explore_input_carries_the_model(aiida_profile, aiida_localhost, generate_calc_job):
    """The job gets the baseline parameters and the reference energies, and the baseline module."""
    from aiida_pacemaker.data import ActiveSetData, PacePotentialData

    from ..conftest import DUMMY_POTENTIAL

    parameters = {'type': 'lj', **BASELINE.to_parameters()}
    potential = PacePotentialData(
        DUMMY_POTENTIAL.replace('"{}"', '"{Cu: -1.5, shift: 0.5}"'),
        physics_baseline='lj',
        baseline_parameters=parameters,
    ).store()
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/python').store()
    folder, calcinfo = generate_calc_job(
        'pacemaker.explore',
        {
            'code': code,
            'potential': potential,
            'active_set': ActiveSetData(asi=b'not read here', potential=potential).store(),
            'structures': {'s': orm.StructureData(cell=[[3.6, 0, 0], [0, 3.6, 0], [0, 0, 3.6]])},
        },
    )
    with open(folder.get_abs_path('explore_input.json'), encoding='utf8') as handle:
        settings = json.load(handle)
    assert settings['baseline'] == potential.baseline_parameters  # the node's (floats as stored)
    assert settings['baseline']['sigma']['Cu'] == pytest.approx(parameters['sigma']['Cu'], rel=1e-12)
    assert settings['reference_energies'] == {'Cu': pytest.approx(-2.0)}  # E_Cu - shift
    assert settings['potential'] == POTENTIAL_YAML and settings['active_set'] == ACTIVE_SET_ASI
    from importlib.resources import files

    with open(folder.get_abs_path(PaceExploreCalculation.BASELINE_MODULE), encoding='utf8') as handle:
        module = handle.read()
    assert module == files('aiida_pacemaker').joinpath('baselines.py').read_text(encoding='utf8')
    assert PaceExploreCalculation.SCRIPT in calcinfo.codes_info[0].cmdline_params


@pytest.fixture(scope='module')
def lj_fit(aiida_profile):
    """A potential fitted for real on LJ residuals of 10 EMT Cu cells, with non-zero reference energies,
    and its active set."""
    from aiida_pacemaker.calculations.functions import subtract_baseline_from_training_set
    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    computer = get_or_create_localhost('localhost-fitted')
    computer.set_minimum_job_poll_interval(0.5)
    codes = setup_codes(computer)
    original = TrainingSetData.from_ase(emt_label(random_bulk_structures(10, seed=11))).store()
    baseline = orm.Dict({'type': 'lj', **BASELINE.to_parameters()})
    residual = subtract_baseline_from_training_set(original, baseline)
    parameters = fast_parameters(maxiter=5)
    parameters['backend'] = {'evaluator': 'pyace', 'parallel_mode': 'serial'}  # no TensorFlow start-up
    parameters['data'] = {'reference_energy': {'Cu': REFERENCE_ENERGY}}
    results, _ = run_train(codes['pacemaker'], residual, parameters, baseline=baseline)
    potential = results['potential']
    assert potential.physics_baseline == 'lj'
    assert potential.reference_energies == {'Cu': pytest.approx(REFERENCE_ENERGY)}
    active_set = run_activeset(codes['pace_activeset'], potential, residual)
    return {'codes': codes, 'potential': potential, 'active_set': active_set}


def ace_alone(potential, active_set, directory):
    """pyace's calculator of ``potential`` with its active set: the ACE part without the baseline."""
    from pyace import PyACECalculator

    calculator = PyACECalculator(str(potential.write_yaml(directory / 'ace.yaml')))
    calculator.set_active_set(str(active_set.write_asi(directory / 'ace.asi')))
    return calculator


def evaluate(calculator, atoms):
    atoms = atoms.copy()
    atoms.calc = calculator
    return atoms.get_potential_energy(), atoms.get_forces(), np.array(calculator.results['gamma'])


def seed_structure():
    from aiida_pacemaker.tools.examples import random_bulk_structures

    return random_bulk_structures(1, seed=99)[0]


@pytest.mark.pacemaker
def test_job_calculator_is_the_deployed_sum(lj_fit, generate_calc_job):
    """The calculator that the job builds equals get_ase_calculator() to 1e-8; its grade is ACE's."""
    potential, active_set = lj_fit['potential'], lj_fit['active_set']
    folder, calcinfo = generate_calc_job(
        'pacemaker.explore',
        {
            'code': lj_fit['codes']['pace_explore'],
            'potential': potential,
            'active_set': active_set,
            'structures': {'s': orm.StructureData(ase=seed_structure())},
        },
    )
    import pathlib

    sandbox = pathlib.Path(folder.abspath)
    assert {target for _, _, target in calcinfo.local_copy_list} == {POTENTIAL_YAML, ACTIVE_SET_ASI}
    potential.write_yaml(sandbox / POTENTIAL_YAML)  # what the local copy list puts there
    active_set.write_asi(sandbox / ACTIVE_SET_ASI)
    python = str(lj_fit['codes']['pace_explore'].filepath_executable)
    subprocess.run([python, '-c', PROBE], cwd=sandbox, check=True, capture_output=True, timeout=300)
    job = json.loads((sandbox / 'probe.json').read_text())
    assert job['calculator'] == 'BaselineSumCalculator'

    atoms = read(sandbox / 'seeds.extxyz', index=0)  # the very positions the job read
    energy, forces, _ = evaluate(potential.get_ase_calculator(active_set, directory=sandbox), atoms)
    assert job['energy'] == pytest.approx(energy, abs=1e-8)
    np.testing.assert_allclose(job['forces'], forces, rtol=0, atol=1e-8)

    # the sum is really ACE + LJ + reference energies, and the grade is ACE's own
    ace_energy, ace_forces, ace_gamma = evaluate(ace_alone(potential, active_set, sandbox), atoms)
    lj_energy, lj_forces, _ = BASELINE.compute(atoms)
    assert job['energy'] == pytest.approx(ace_energy + lj_energy + REFERENCE_ENERGY * len(atoms), abs=1e-8)
    np.testing.assert_allclose(job['forces'], ace_forces + lj_forces, rtol=0, atol=1e-8)
    assert np.abs(lj_forces).max() > 0.02  # eV/Å: ACE alone would be far off
    np.testing.assert_allclose(job['gamma'], ace_gamma, rtol=1e-10, atol=0)


@pytest.mark.pacemaker
def test_exploration_md_uses_the_sum(lj_fit, tmp_path):
    """A real exploration: the forces its MD used on every kept snapshot are those of get_ase_calculator()."""
    potential, active_set = lj_fit['potential'], lj_fit['active_set']
    parameters = {
        'temperatures': [600.0],
        'steps': 20,
        'timestep': 2.0,
        'gamma_select': 0.0,  # keep every sampled snapshot
        'gamma_stop': 1.0e6,
        'sample_interval': 5,
    }
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.explore'),
        code=lj_fit['codes']['pace_explore'],
        potential=potential,
        active_set=active_set,
        structures={'s': orm.StructureData(ase=seed_structure())},
        parameters=orm.Dict(parameters),
    )
    assert node.is_finished_ok, node.exit_message
    assert results['report']['trajectories'][0]['reason'] == 'completed'
    path = tmp_path / 'candidates.extxyz'
    path.write_text(node.outputs.retrieved.base.repository.get_object_content('candidates.extxyz'))
    snapshots = read(path, index=':')
    assert [s.info['step'] for s in snapshots] == [5, 10, 15, 20]
    assert len(results['candidates']) == len(snapshots)

    deployed = potential.get_ase_calculator(active_set, directory=tmp_path)
    ace = ace_alone(potential, active_set, tmp_path)
    for snapshot in snapshots:
        # extxyz keeps positions to 1e-8 Å: re-evaluating there agrees to about 1e-7
        energy, forces, gamma = evaluate(deployed, snapshot)
        assert snapshot.info['md_energy'] == pytest.approx(energy, abs=1e-5)
        np.testing.assert_allclose(snapshot.arrays['md_forces'], forces, rtol=0, atol=1e-5)
        assert snapshot.info['gamma'] == pytest.approx(gamma.max(), rel=1e-5)
        _, ace_forces, ace_gamma = evaluate(ace, snapshot)
        assert np.abs(snapshot.arrays['md_forces'] - ace_forces).max() > 0.01  # not ACE alone
        assert snapshot.info['gamma'] == pytest.approx(ace_gamma.max(), rel=1e-5)  # the grade is ACE's
