"""`PaceTrainWorkChain`: each process handler step by step, then one run end to end.

The handler tests follow aiida-quantumespresso's tests of ``PwBaseWorkChain``: the work chain
is instantiated (not run), a finished child `CalcJobNode` with the exit status under test is
put into its context, and the handler and ``inspect_process`` are called directly.
"""

from __future__ import annotations

import pytest
from aiida import engine, orm
from aiida.common.links import LinkType
from aiida.engine import ProcessHandlerReport, ProcessState
from aiida.engine.utils import instantiate_process
from aiida.manage.manager import get_manager

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data import PacePotentialData
from aiida_pacemaker.workflows.train import PaceTrainWorkChain

from ..calculations.test_train import fake_pacemaker_body
from ..conftest import DUMMY_POTENTIAL, FAKE_YAML2YACE, fast_parameters

EXIT_CODES = PaceTrainCalculation.exit_codes


@pytest.fixture
def train_code(aiida_localhost):
    """A pacemaker code that is never run by the handler tests."""
    return orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()


@pytest.fixture
def generate_workchain(training_set, train_code):
    """Factory: an instantiated `PaceTrainWorkChain` after ``setup()``."""

    def factory(parameters: dict | None = None, **inputs):
        train = {
            'code': train_code,
            'training_set': training_set,
            'parameters': orm.Dict(parameters if parameters is not None else fast_parameters()),
        }
        process = instantiate_process(get_manager().get_runner(), PaceTrainWorkChain, train=train, **inputs)
        process.setup()
        return process

    return factory


@pytest.fixture
def generate_child(aiida_localhost):
    """Factory: a stored, finished `CalcJobNode` of ``pacemaker.train`` with ``exit_code`` and outputs."""

    def factory(exit_code: engine.ExitCode | None = None, outputs: dict[str, orm.Data] | None = None):
        node = orm.CalcJobNode(computer=aiida_localhost, process_type='aiida.calculations:pacemaker.train')
        node.set_process_label('PaceTrainCalculation')
        node.set_process_state(ProcessState.FINISHED)
        node.set_exit_status(exit_code.status if exit_code is not None else 0)
        if exit_code is not None and exit_code.status:
            node.set_exit_message(exit_code.format(**_placeholders(exit_code)).message)
        node.store()
        for label, output in (outputs or {}).items():
            output.base.links.add_incoming(node, link_type=LinkType.CREATE, link_label=label)
            output.store()
        return node

    return factory


def _placeholders(exit_code: engine.ExitCode) -> dict[str, str]:
    """Dummy values for every ``{placeholder}`` of the exit code's message template."""
    import string

    names = [field for _, field, _, _ in string.Formatter().parse(exit_code.message) if field]
    return dict.fromkeys(names, 'x')


def step(process, node) -> tuple[ProcessHandlerReport | None, engine.ExitCode | None]:
    """Make ``node`` the work chain's first child; return the result of ``inspect_process``."""
    process.ctx.children = [*process.ctx.get('children', []), node]
    process.ctx.iteration = len(process.ctx.children)
    return process.inspect_process()


def fit_section(process) -> dict:
    return process.ctx.inputs.parameters.get_dict()['fit']


# ---------------------------------------------------------------------------- setup
def test_setup(generate_workchain, training_set):
    process = generate_workchain()
    assert process.ctx.inputs.training_set.uuid == training_set.uuid
    assert process.ctx.crash_retries == 0
    assert process.ctx.safer_settings is False
    assert 'initial_potential' not in process.ctx.inputs


def test_success_finishes(generate_workchain, generate_child):
    process = generate_workchain()
    assert step(process, generate_child()) is None
    assert process.ctx.is_finished


# ---------------------------------------------------------------------------- interrupted / walltime
def test_interrupted_restarts_from_interim(generate_workchain, generate_child):
    process = generate_workchain()
    interim = PacePotentialData(DUMMY_POTENTIAL)
    node = generate_child(EXIT_CODES.ERROR_FIT_INTERRUPTED, {'interim_potential': interim})

    report = process.handle_out_of_walltime(node)
    assert isinstance(report, ProcessHandlerReport) and report.do_break
    assert report.exit_code.status == 0
    assert process.ctx.inputs.initial_potential.uuid == interim.uuid


def test_interrupted_inspect_restarts(generate_workchain, generate_child):
    process = generate_workchain()
    interim = PacePotentialData(DUMMY_POTENTIAL)
    result = step(process, generate_child(EXIT_CODES.ERROR_FIT_INTERRUPTED, {'interim_potential': interim}))
    assert result.status == 0  # handled: restart
    assert not process.ctx.is_finished
    assert process.ctx.inputs.initial_potential.uuid == interim.uuid
    assert fit_section(process) == fast_parameters()['fit']  # nothing else changed


def test_out_of_walltime_without_interim_reruns(generate_workchain, generate_child):
    process = generate_workchain()
    result = step(process, generate_child(EXIT_CODES.ERROR_SCHEDULER_OUT_OF_WALLTIME))
    assert result.status == 0
    assert 'initial_potential' not in process.ctx.inputs


def test_later_interim_replaces_earlier(generate_workchain, generate_child):
    process = generate_workchain()
    first = PacePotentialData(DUMMY_POTENTIAL)
    second = PacePotentialData(DUMMY_POTENTIAL.replace('c: [0.1]', 'c: [0.2]'))
    step(process, generate_child(EXIT_CODES.ERROR_FIT_INTERRUPTED, {'interim_potential': first}))
    step(process, generate_child(EXIT_CODES.ERROR_FIT_INTERRUPTED, {'interim_potential': second}))
    assert process.ctx.inputs.initial_potential.uuid == second.uuid


def test_killed_without_interim_reruns(generate_workchain, generate_child):
    process = generate_workchain()
    result = step(process, generate_child(PaceTrainCalculation.exit_codes.ERROR_NO_EXIT_STATUS))
    assert result is not None and result.status == 0


# ---------------------------------------------------------------------------- non-finite loss
def test_non_finite_loss_safer_settings(generate_workchain, generate_child):
    process = generate_workchain()
    before = fit_section(process)
    report = process.handle_non_finite_loss(generate_child(EXIT_CODES.ERROR_NON_FINITE_LOSS))
    assert report.do_break and report.exit_code.status == 0
    fit = fit_section(process)
    assert fit['optimizer'] == 'L-BFGS-B'
    assert fit['loss']['L2_coeffs'] == pytest.approx(10 * before['loss']['L2_coeffs'])
    assert fit['loss']['kappa'] == before['loss']['kappa']  # the rest of the loss is kept
    assert fit['maxiter'] == before['maxiter']
    assert process.ctx.safer_settings


def test_non_finite_loss_without_l2(generate_workchain, generate_child):
    parameters = fast_parameters()
    del parameters['fit']['loss']['L2_coeffs']
    process = generate_workchain(parameters)
    step(process, generate_child(EXIT_CODES.ERROR_NON_FINITE_LOSS))
    assert fit_section(process)['loss']['L2_coeffs'] == pytest.approx(1e-7)  # 10x pacemaker's default


def test_non_finite_loss_twice_aborts(generate_workchain, generate_child):
    process = generate_workchain()
    assert step(process, generate_child(EXIT_CODES.ERROR_NON_FINITE_LOSS)).status == 0
    l2 = fit_section(process)['loss']['L2_coeffs']
    result = step(process, generate_child(EXIT_CODES.ERROR_NON_FINITE_LOSS))
    assert result.status == PaceTrainWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert 'non-finite' in result.message
    assert fit_section(process)['loss']['L2_coeffs'] == l2  # not raised a second time


# ---------------------------------------------------------------------------- not converged (precision loss)
def test_not_converged_switches_to_lbfgsb(generate_workchain, generate_child):
    process = generate_workchain()
    result = step(process, generate_child(EXIT_CODES.ERROR_FIT_NOT_CONVERGED))
    assert result.status == 0
    fit = fit_section(process)
    assert fit['optimizer'] == 'L-BFGS-B'
    assert fit['loss'] == fast_parameters()['fit']['loss']  # only the optimizer changes


def test_not_converged_with_lbfgsb_aborts(generate_workchain, generate_child):
    process = generate_workchain(fast_parameters(optimizer='L-BFGS-B'))
    result = step(process, generate_child(EXIT_CODES.ERROR_FIT_NOT_CONVERGED))
    assert result.status == PaceTrainWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert 'stopped after' in result.message


def test_not_converged_twice_aborts(generate_workchain, generate_child):
    process = generate_workchain()
    assert step(process, generate_child(EXIT_CODES.ERROR_FIT_NOT_CONVERGED)).status == 0
    result = step(process, generate_child(EXIT_CODES.ERROR_FIT_NOT_CONVERGED))
    assert result.status == PaceTrainWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status


# ---------------------------------------------------------------------------- pacemaker crashed
def test_crash_retried_once_then_aborts(generate_workchain, generate_child):
    process = generate_workchain()
    before = process.ctx.inputs.parameters.get_dict()
    result = step(process, generate_child(EXIT_CODES.ERROR_PACEMAKER_FAILED))
    assert result.status == 0
    assert process.ctx.crash_retries == 1
    assert process.ctx.inputs.parameters.get_dict() == before  # a plain retry

    crashed = generate_child(EXIT_CODES.ERROR_PACEMAKER_FAILED)
    result = step(process, crashed)
    assert result.status == PaceTrainWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert crashed.exit_message in result.message


# ---------------------------------------------------------------------------- other failures
@pytest.mark.parametrize(
    'exit_code',
    [
        EXIT_CODES.ERROR_OUTPUT_POTENTIAL_MISSING,
        EXIT_CODES.ERROR_OUTPUT_POTENTIAL_UNREADABLE,
        EXIT_CODES.ERROR_METRICS_UNREADABLE,
        EXIT_CODES.ERROR_YACE_MISSING,
    ],
    ids=lambda code: str(code.status),
)
def test_unhandled_failure_aborts(generate_workchain, generate_child, exit_code):
    process = generate_workchain()
    result = step(process, generate_child(exit_code))
    assert result == PaceTrainWorkChain.exit_codes.ERROR_UNHANDLED_FAILURE
    assert result.status == 402


def test_max_iterations(generate_workchain, generate_child):
    process = generate_workchain(max_iterations=orm.Int(1))
    result = step(process, generate_child(EXIT_CODES.ERROR_FIT_NOT_CONVERGED))
    assert result == PaceTrainWorkChain.exit_codes.ERROR_MAXIMUM_ITERATIONS_EXCEEDED


# ---------------------------------------------------------------------------- end to end
@pytest.fixture
def flaky_code(aiida_localhost, fake_executable, tmp_path):
    """A fake pacemaker that exits 1 on its first call and fits on the second (a marker file in tmp_path)."""
    marker = tmp_path / 'first_call_done'
    succeed = fake_pacemaker_body()
    body = (
        '#!/bin/bash\n'
        f'if [ ! -e {marker} ]; then\n'
        f'  touch {marker}\n'
        '  echo "Traceback: RuntimeError: first call fails" > log.txt\n'
        '  exit 1\n'
        'fi\n' + succeed.split('\n', 1)[1]
    )
    fake_executable('pace_yaml2yace', FAKE_YAML2YACE)
    path = fake_executable('pacemaker', body)
    aiida_localhost.set_minimum_job_poll_interval(0.0)
    return orm.InstalledCode(computer=aiida_localhost, filepath_executable=str(path)).store()


def test_workchain_recovers_from_crash(aiida_profile, training_set, flaky_code):
    builder = PaceTrainWorkChain.get_builder()
    builder.train.code = flaky_code
    builder.train.training_set = training_set
    builder.train.parameters = orm.Dict(fast_parameters())
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    calcs = sorted(node.called, key=lambda n: n.ctime)
    assert len(calcs) == 2
    assert calcs[0].exit_status == EXIT_CODES.ERROR_PACEMAKER_FAILED.status
    assert 'first call fails' in calcs[0].exit_message
    assert calcs[1].is_finished_ok
    assert results['potential'].uuid == calcs[1].outputs.potential.uuid
    assert results['metrics']['iterations'] == 5
