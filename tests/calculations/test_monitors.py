"""`pacemaker.fit_progress`: a running fit reports its progress, and a diverging one is stopped."""

from __future__ import annotations

import pytest
from aiida import engine, orm

from aiida_pacemaker.calculations.train import PaceTrainCalculation

from ..conftest import METRICS_HEADER, fast_parameters


def monitors(interval: int = 1) -> dict[str, orm.Dict]:
    return {
        'progress': orm.Dict({'entry_point': 'pacemaker.fit_progress', 'minimum_poll_interval': interval})
    }


def reports(node: orm.ProcessNode) -> list[str]:
    return [entry.message for entry in orm.Log.collection.get_logs_for(node)]


def test_a_diverging_fit_is_stopped(aiida_profile, aiida_localhost, training_set, fake_executable):
    """A fake pacemaker whose loss runs away, then hangs: the monitor reports it and kills the job."""
    body = (
        '#!/bin/bash\n'
        f"printf '{METRICS_HEADER}0 0 0 1.0 0.2 0.5 0.4 1\\n0 0 1 0.5 0.1 0.4 0.3 1\\n' > metrics.txt\n"
        'sleep 2\n'
        "printf '0 0 2 5000.0 9.0 9.0 9.0 1\\n' >> metrics.txt\n"
        'sleep 300\n'
    )
    code = orm.InstalledCode(
        computer=aiida_localhost, filepath_executable=str(fake_executable('pacemaker', body))
    )
    aiida_localhost.set_minimum_job_poll_interval(0.2)
    _, node = engine.run_get_node(
        PaceTrainCalculation,
        code=code.store(),
        training_set=training_set,
        parameters=orm.Dict(fast_parameters(maxiter=50)),
        monitors=monitors(),
    )
    assert node.exit_status == PaceTrainCalculation.exit_codes.STOPPED_BY_MONITOR.status
    assert (
        'the fit diverged: the loss rose to 5e+03 at iteration 2, 10000 times its lowest value'
        in node.exit_message
    )
    assert any(message.startswith('fit: iteration 1 of at most 50, loss 0.5') for message in reports(node))


@pytest.mark.pacemaker
def test_a_real_fit_reports_its_progress(aiida_profile, pacemaker_codes, training_set):
    _, node = engine.run_get_node(
        PaceTrainCalculation,
        code=pacemaker_codes['pacemaker'],
        training_set=training_set,
        parameters=orm.Dict(fast_parameters(maxiter=150)),
        monitors=monitors(1),
    )
    assert node.is_finished_ok, node.exit_message
    progress = [message for message in reports(node) if message.startswith('fit: iteration')]
    assert progress, reports(node)
    assert all('of at most 150, loss' in message and 'meV/Å' in message for message in progress)


def test_progress_lines_say_the_cycle(aiida_profile):
    """A fit called by an active-learning cycle (through its PaceTrainWorkChain) reports its cycle."""
    from aiida.common.links import LinkType

    from aiida_pacemaker.calculations.monitors import cycle_of

    def called(caller, label, node):
        node.base.links.add_incoming(
            caller, LinkType.CALL_WORK if isinstance(node, orm.WorkflowNode) else LinkType.CALL_CALC, label
        )
        return node.store()

    campaign = orm.WorkflowNode().store()
    for label, prefix in (('train_cycle_3', 'cycle 3: '), ('train_cycle_4_from_scratch', 'cycle 4, refit: ')):
        train = called(campaign, label, orm.WorkflowNode())
        fit = called(train, 'iteration_01', orm.CalcJobNode())
        assert cycle_of(fit) == prefix
    assert cycle_of(orm.CalcJobNode().store()) == ''  # a fit of its own
    other = called(campaign, 'validate', orm.WorkflowNode())
    assert cycle_of(called(other, 'eos', orm.CalcJobNode())) == ''


def test_the_monitor_after_job_race_is_not_printed(caplog):
    """aiida-core's "already marked as ..., skipping task_monitor_job" (a monitor due just after its job
    finished, harmless) is dropped; every other warning of that logger still gets through."""
    import logging

    import aiida_pacemaker.calculations.monitors  # noqa: F401  (installs the filter)

    logger = logging.getLogger('aiida.engine.processes.calcjobs.tasks')
    with caplog.at_level(logging.WARNING, logger=logger.name):
        logger.warning('CalcJob<87> already marked as `CalcJobState.STASHING`, skipping task_monitor_job')
        logger.warning('CalcJob<87> something else went wrong')
    messages = [record.getMessage() for record in caplog.records]
    assert messages == ['CalcJob<87> something else went wrong']
