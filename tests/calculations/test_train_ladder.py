"""`fit.ladder_step` with an initial potential (pacemaker's ``-p``): refused by the CalcJob, never made by
the restart handlers of `PaceTrainWorkChain`.

pacemaker (pyace/generalfit.py) treats ``-p POT`` as the target basis and, when ``fit.ladder_step`` is
set, starts the ladder from an emptied copy of it: the initial coefficients are discarded (python-ace
issue 39). The first test checks that premise with the real pacemaker.
"""

from __future__ import annotations

import subprocess

import pytest
from aiida import engine, orm
from aiida.common.links import LinkType
from aiida.engine import ProcessHandlerReport, ProcessState
from aiida.engine.utils import instantiate_process
from aiida.manage.manager import get_manager

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data import PacePotentialData
from aiida_pacemaker.workflows.train import PaceTrainWorkChain

from ..conftest import DUMMY_POTENTIAL, FAST_POTENTIAL, fast_parameters

REFUSED = r'`fit\.ladder_step` with an `initial_potential` makes pacemaker discard the initial potential'


@pytest.mark.pacemaker
def test_pacemaker_ladder_with_p_starts_empty(tmp_path):
    """The premise, with the real pacemaker: ``-p`` plus ``fit.ladder_step`` starts from 0 functions."""
    import pandas as pd
    import yaml
    from pyace.basisextension import construct_bbasisconfiguration

    from aiida_pacemaker.codes import find_executable
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    structures = emt_label(random_bulk_structures(3, seed=1))
    frame = pd.DataFrame(
        {
            'ase_atoms': structures,
            'energy_corrected': [atoms.get_potential_energy() for atoms in structures],
            'forces': [atoms.get_forces() for atoms in structures],
        }
    )
    frame.to_pickle(tmp_path / 'data.pckl.gzip', compression='gzip')  # read by pacemaker only
    initial = construct_bbasisconfiguration({**FAST_POTENTIAL, 'elements': ['Cu']})  # 12 functions
    initial.save(str(tmp_path / 'initial.yaml'))
    parameters = {
        'cutoff': 5.0,
        'potential': FAST_POTENTIAL,
        'fit': {'maxiter': 1, 'ladder_step': 5},
        'backend': {'evaluator': 'pyace', 'parallel_mode': 'serial'},
        'data': {'filename': 'data.pckl.gzip'},
    }
    (tmp_path / 'input.yaml').write_text(yaml.safe_dump(parameters))
    pacemaker = str(find_executable('pacemaker'))
    command = [pacemaker, 'input.yaml', '-p', 'initial.yaml', '--no-fit', '--no-predict']
    subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, timeout=300)
    log = (tmp_path / 'log.txt').read_text()
    assert "Target potential loaded from file 'initial.yaml', it contains 12 functions" in log
    assert 'Initial potential is NOT provided, starting from empty potential' in log


# ---------------------------------------------------------------------------- the CalcJob refuses it
@pytest.fixture
def train_code(aiida_localhost):
    return orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()


@pytest.fixture
def initial_potential(aiida_profile):
    return PacePotentialData(DUMMY_POTENTIAL).store()


def ladder_parameters(**fit: object) -> dict:
    return fast_parameters(ladder_step=[10, 0.2], **fit)


@pytest.fixture
def ladder_from_initial(training_set, train_code, initial_potential):
    """The refused inputs of `pacemaker.train`: a ladder fit and an initial potential."""
    return {
        'code': train_code,
        'training_set': training_set,
        'parameters': orm.Dict(ladder_parameters()),
        'initial_potential': initial_potential,
    }


def test_validator_refuses_ladder_with_initial_potential(ladder_from_initial):
    inputs = ladder_from_initial
    message = PaceTrainCalculation.validate_inputs(inputs, None)
    assert message is not None and message.count('\n') == 0  # one line, with the way out
    assert 'remove `fit.ladder_step`' in message and 'leave out `initial_potential`' in message
    with pytest.raises(ValueError, match=REFUSED):
        engine.run(PaceTrainCalculation, **inputs)


def test_workchain_refuses_ladder_with_initial_potential(ladder_from_initial):
    with pytest.raises(ValueError, match=REFUSED):
        engine.run(PaceTrainWorkChain, train=ladder_from_initial)


def test_ladder_without_initial_potential_is_accepted(training_set, train_code, generate_calc_job):
    _, calcinfo = generate_calc_job(
        'pacemaker.train',
        {'code': train_code, 'training_set': training_set, 'parameters': orm.Dict(ladder_parameters())},
    )
    assert '-p' not in calcinfo.codes_info[0].cmdline_params
    assert calcinfo.local_copy_list == []


def test_initial_potential_without_ladder_is_accepted(
    training_set, train_code, initial_potential, generate_calc_job
):
    parameters = fast_parameters(ladder_type='power_order')  # ladder_type alone starts no ladder
    _, calcinfo = generate_calc_job(
        'pacemaker.train',
        {
            'code': train_code,
            'training_set': training_set,
            'parameters': orm.Dict(parameters),
            'initial_potential': initial_potential,
        },
    )
    cmdline = calcinfo.codes_info[0].cmdline_params
    assert cmdline[cmdline.index('-p') + 1] == PaceTrainCalculation.INITIAL_POTENTIAL_FILE


# ---------------------------------------------------------------------------- the handlers never make it
@pytest.fixture
def generate_workchain(training_set, train_code):
    """Factory: an instantiated `PaceTrainWorkChain` after ``setup()``."""

    def factory(parameters: dict) -> PaceTrainWorkChain:
        train = {'code': train_code, 'training_set': training_set, 'parameters': orm.Dict(parameters)}
        process = instantiate_process(get_manager().get_runner(), PaceTrainWorkChain, train=train)
        process.setup()
        return process

    return factory


def interrupted_child(computer: orm.Computer, interim: PacePotentialData | None) -> orm.CalcJobNode:
    """A finished `pacemaker.train` node that was interrupted, with its interim potential."""
    exit_code = PaceTrainCalculation.exit_codes.ERROR_FIT_INTERRUPTED
    node = orm.CalcJobNode(computer=computer, process_type='aiida.calculations:pacemaker.train')
    node.set_process_label('PaceTrainCalculation')
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(exit_code.status)
    node.set_exit_message(exit_code.format(detail='').message)
    node.store()
    if interim is not None:
        interim.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label='interim_potential')
        interim.store()
    return node


def step(process: PaceTrainWorkChain, node: orm.CalcJobNode) -> engine.ExitCode | None:
    process.ctx.children = [*process.ctx.get('children', []), node]
    process.ctx.iteration = len(process.ctx.children)
    return process.inspect_process()


def next_inputs_refused(process: PaceTrainWorkChain) -> str | None:
    """What the CalcJob's validator says about the inputs of the next iteration."""
    return PaceTrainCalculation.validate_inputs(dict(process.ctx.inputs), None)


def test_interrupted_ladder_fit_reruns_from_the_start(generate_workchain, aiida_localhost):
    process = generate_workchain(ladder_parameters())
    node = interrupted_child(aiida_localhost, PacePotentialData(DUMMY_POTENTIAL))

    report = process.handle_out_of_walltime(node)
    assert isinstance(report, ProcessHandlerReport) and report.do_break and report.exit_code.status == 0
    assert 'initial_potential' not in process.ctx.inputs
    assert process.ctx.inputs.parameters.get_dict()['fit']['ladder_step'] == [10, 0.2]  # the same ladder
    assert next_inputs_refused(process) is None


def test_interrupted_ladder_fit_step_by_step(generate_workchain, aiida_localhost):
    """Interrupted twice, each time with an interim potential: never ``-p`` with the ladder."""
    process = generate_workchain(ladder_parameters())
    for coefficient in ('0.2', '0.3'):
        interim = PacePotentialData(DUMMY_POTENTIAL.replace('c: [0.1]', f'c: [{coefficient}]'))
        result = step(process, interrupted_child(aiida_localhost, interim))
        assert result is not None and result.status == 0  # handled: run again
        assert not process.ctx.is_finished
        assert 'initial_potential' not in process.ctx.inputs
        assert next_inputs_refused(process) is None


def test_interrupted_plain_fit_still_continues(generate_workchain, aiida_localhost):
    """Without a ladder the interim potential is continued with ``-p``, as before."""
    process = generate_workchain(fast_parameters())
    interim = PacePotentialData(DUMMY_POTENTIAL)
    result = step(process, interrupted_child(aiida_localhost, interim))
    assert result is not None and result.status == 0
    assert process.ctx.inputs.initial_potential.uuid == interim.uuid
    assert next_inputs_refused(process) is None
