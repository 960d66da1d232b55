"""Ctrl-C during `aiida-pacemaker run` (no daemon): the jobs it started are killed, cleanly, in one line."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time

import psutil
import pytest
import yaml
from aiida import orm


def test_interrupt_kills_the_jobs_it_started(aiida_profile, aiida_localhost, fake_executable, tmp_path):
    from aiida_pacemaker.calculations.train import PaceTrainCalculation

    sleeper = fake_executable('pacemaker', '#!/bin/bash\nsleep 300\n')  # a fit that would take 5 minutes
    aiida_localhost.set_minimum_job_poll_interval(0.5)
    codes = {}
    for role in ('pacemaker', 'pace_activeset', 'pace_select'):
        code = orm.InstalledCode(
            label=f'fake-{role}', computer=aiida_localhost, filepath_executable=str(sleeper)
        )
        codes[role] = f'{code.store().label}@{aiida_localhost.label}'
    config = tmp_path / 'run.yaml'
    config.write_text(
        yaml.safe_dump(
            {
                'data': {'example': {'count': 3}},
                'pool': {'example': {'count': 2, 'seed': 4}},
                'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
                'protocol': 'fast',
                'codes': codes,
            }
        )
    )
    newest = orm.QueryBuilder().append(orm.Node, project='id').order_by({orm.Node: {'id': 'desc'}}).first()
    after = newest[0] if newest else 0  # only this run's calculations (other tests share the profile)
    command = pathlib.Path(sys.executable).parent / 'aiida-pacemaker'
    child = subprocess.Popen(
        [str(command), '-p', aiida_profile.name, 'run', 'active-learning', str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=os.environ.copy(),
    )
    try:
        job = None
        for _ in range(600):  # until the fake fit runs as a scheduler job (a busy machine: minutes)
            query = orm.QueryBuilder().append(PaceTrainCalculation, filters={'id': {'>': after}}, project='*')
            jobs = [node for (node,) in query.all() if node.get_job_id() is not None]
            if jobs:
                job = jobs[0]
                break
            time.sleep(0.5)
        assert job is not None, 'the fit was never submitted'
        pid = int(job.get_job_id())
        assert psutil.pid_exists(pid)
        child.send_signal(signal.SIGINT)
        output, _ = child.communicate(timeout=180)
    finally:
        if child.poll() is None:
            child.kill()
    lines = [line for line in output.splitlines() if line.startswith('Critical:')]
    assert len(lines) == 1 and lines[0].startswith(
        'Critical: interrupted: killed PaceActiveLearningWorkChain<'
    ), output
    assert f'PaceTrainCalculation<{job.pk}> (job {pid} on {aiida_localhost.label}: stopped)' in lines[0]
    assert 'Traceback' not in output
    assert child.returncode != 0
    for _ in range(20):
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            break
        time.sleep(0.25)
    else:
        raise AssertionError(f'the job {pid} is still running')
    for node in [*orm.load_node(job.pk).caller.called_descendants, orm.load_node(job.pk).caller.caller]:
        node = orm.load_node(node.pk)
        assert node.is_killed and node.is_sealed, node


def test_submit_retries_while_sqlite_is_locked(monkeypatch):
    """`--daemon` on a busy SQLite profile: a locked database is waited out, then explained."""
    from sqlalchemy.exc import OperationalError

    from aiida_pacemaker.cli import launch

    monkeypatch.setattr(launch, 'LOCKED_RETRY_WAITS', (0.0, 0.0))
    attempts = []

    def locked_twice(builder):
        attempts.append(builder)
        if len(attempts) < 3:
            raise OperationalError('INSERT ...', {}, Exception('database is locked'))
        return 'node'

    assert launch._submit_retrying_locks(locked_twice, 'builder') == 'node'
    assert len(attempts) == 3

    def always_locked(builder):
        raise OperationalError('INSERT ...', {}, Exception('database is locked'))

    import click

    with pytest.raises((SystemExit, click.exceptions.Exit)):
        launch._submit_retrying_locks(always_locked, 'builder')

    def other_error(builder):
        raise OperationalError('INSERT ...', {}, Exception('disk I/O error'))

    with pytest.raises(OperationalError, match='disk I/O error'):
        launch._submit_retrying_locks(other_error, 'builder')
