"""Record what the real pacemaker tools leave for the parsers, for the parser tests in this folder.

Run ``python tests/parsers/record_outputs.py`` (in the project's environment: it runs the real
pacemaker, pace_activeset, pace_select and the exploration script on small EMT copper data, in a
throw-away profile) to rewrite ``tests/parsers/outputs/<calculation>/<case>/``: each case holds
``retrieved/`` (the retrieved files, as the parser sees them) and ``inputs/`` (the input nodes the
parser reads: ``parameters.json``, ``training_set.npz``, ``potential.yaml``, ``candidates.extxyz``,
``structures.extxyz``). The parser tests build a calculation node from them and parse it, in seconds,
without running any tool. Re-record after a change of the tools' versions or of a CalcJob's files.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

OUTPUTS = pathlib.Path(__file__).resolve().parent / 'outputs'
ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def temporary_profile() -> None:
    path = tempfile.mkdtemp(prefix='aiida_pacemaker_record_')
    os.environ['AIIDA_PATH'] = path
    verdi = pathlib.Path(sys.executable).parent / 'verdi'
    subprocess.run([str(verdi), 'presto', '--profile-name', 'record'], check=True, capture_output=True)
    from aiida import load_profile

    load_profile('record', allow_switch=True)


def save(calculation: str, case: str, node, inputs: dict) -> None:
    """Write ``node``'s retrieved files and the given input nodes under ``OUTPUTS/calculation/case``."""
    from ase.io import write

    folder = OUTPUTS / calculation / case
    shutil.rmtree(folder, ignore_errors=True)
    (folder / 'retrieved').mkdir(parents=True)
    (folder / 'inputs').mkdir()
    node.outputs.retrieved.base.repository.copy_tree(folder / 'retrieved')
    for name, value in inputs.items():
        target = folder / 'inputs' / name
        if name.endswith('.json'):
            target.write_text(json.dumps(value, indent=1, sort_keys=True) + '\n')
        elif name == 'training_set.npz':
            target.write_bytes(value.base.repository.get_object_content('training_set.npz', mode='rb'))
        elif name == 'potential.yaml':
            target.write_bytes(value.get_yaml_content())
        elif name.endswith('.extxyz'):
            keys = sorted(value)
            atoms = [value[key].get_ase() for key in keys]
            for key, item in zip(keys, atoms, strict=True):
                item.info['key'] = key
            write(target, atoms, format='extxyz')
    print(f'recorded {calculation}/{case}: exit status {node.exit_status}')


def main() -> None:
    temporary_profile()
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    from aiida_pacemaker.codes import setup_codes
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
    from tests.conftest import fast_parameters

    codes = setup_codes()
    codes['pacemaker'].computer.set_minimum_job_poll_interval(0.5)
    training_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(12, seed=3))).store()
    test_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(4, seed=8))).store()
    train = CalculationFactory('pacemaker.train')

    # a fit with a test set that reaches maxiter
    parameters = fast_parameters(maxiter=20)
    results, node = engine.run_get_node(
        train,
        code=codes['pacemaker'],
        training_set=training_set,
        test_set=test_set,
        parameters=orm.Dict(parameters),
    )
    potential = results['potential']
    save('train', 'maxiter', node, {'parameters.json': parameters, 'training_set.npz': training_set})

    # a fine-tuning fit that stops on convergence
    parameters = fast_parameters(
        maxiter=500, min_relative_train_loss_per_iter=0.05, early_stopping_patience=5
    )
    _, node = engine.run_get_node(
        train,
        code=codes['pacemaker'],
        training_set=training_set,
        initial_potential=potential,
        parameters=orm.Dict(parameters),
    )
    save('train', 'converged', node, {'parameters.json': parameters, 'training_set.npz': training_set})

    # a fit killed mid-way (SIGKILL of pacemaker once an interim potential exists)
    parameters = fast_parameters(maxiter=3000)
    killed = _run_and_kill(train, codes, training_set, parameters)
    save('train', 'killed', killed, {'parameters.json': parameters, 'training_set.npz': training_set})

    # the active set
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.activeset'),
        code=codes['pace_activeset'],
        potential=potential,
        training_set=training_set,
        parameters=orm.Dict({'all_atoms': True}),
    )
    active_set = results['active_set']
    save('activeset', 'linear', node, {'potential.yaml': potential})

    # selections: pace_select topped up, a coverage strategy, and a window nobody is in
    candidates = {
        f'c{i:02d}': orm.StructureData(ase=a)
        for i, a in enumerate(random_bulk_structures(8, seed=21, rattle=(0.1, 0.3)))
    }
    for case, options in (
        ('maxvol_fill', {'max_structures': 4, 'fill_to_max': True}),
        ('lcmd', {'max_structures': 3, 'strategy': 'lcmd'}),
        ('nothing_in_window', {'max_structures': 3, 'gamma_min': 1.0e6}),
    ):
        inputs = {
            'code': codes['pace_select'],
            'potential': potential,
            'active_set': active_set,
            'candidates': candidates,
            'parameters': orm.Dict(options),
        }
        if options.get('strategy') == 'lcmd':
            inputs['training_set'] = training_set
        _, node = engine.run_get_node(CalculationFactory('pacemaker.select'), **inputs)
        save('select', case, node, {'parameters.json': options, 'candidates.extxyz': candidates})

    # exploration that stops on the grade
    options = {
        'temperatures': [2500.0],
        'steps': 200,
        'timestep': 4.0,
        'gamma_select': 1.2,
        'gamma_stop': 3.0,
    }
    seeds = {'hot': orm.StructureData(ase=random_bulk_structures(1, seed=2)[0])}
    _, node = engine.run_get_node(
        CalculationFactory('pacemaker.explore'),
        code=codes['pace_explore'],
        potential=potential,
        active_set=active_set,
        structures=seeds,
        parameters=orm.Dict(options),
    )
    save('explore', 'gamma_stop', node, {'parameters.json': options, 'structures.extxyz': seeds})


def _run_and_kill(train, codes, training_set, parameters):
    """A long fit whose pacemaker is SIGKILLed after 60 s (a wrapper code: ``timeout -s KILL 60 pacemaker``),
    as the OOM killer or a walltime would: exit status 137, interim potentials left behind."""
    from aiida import engine, orm

    folder = pathlib.Path(tempfile.mkdtemp(prefix='killed_pacemaker_'))
    wrapper = folder / 'pacemaker'
    wrapper.write_text(
        f'#!/bin/bash\nexec timeout -s KILL 60 {codes["pacemaker"].filepath_executable} "$@"\n'
    )
    wrapper.chmod(0o755)
    code = orm.InstalledCode(
        label='pacemaker-killed', computer=codes['pacemaker'].computer, filepath_executable=str(wrapper)
    ).store()
    _, node = engine.run_get_node(
        train, code=code, training_set=training_set, parameters=orm.Dict(parameters)
    )
    return node


if __name__ == '__main__':
    main()
