"""The cluster tier: the CalcJobs and the active-learning WorkChain on a SLURM computer over SSH.

``tests/cluster/install.sh`` installs Debian's ``slurm-wlm``, ``munge`` and ``openssh-server`` (with apt,
as root) and starts a one-node SLURM cluster (munged, slurmctld, slurmd) and an sshd of its own on
127.0.0.1, all on this machine. The session fixture :func:`slurm_cluster` installs, starts and, at
the end, stops it; :func:`slurm_computer` is an AiiDA computer with the ``core.ssh`` transport and
the ``core.slurm`` scheduler on it, and :func:`slurm_codes` the pacemaker tools of this
environment registered on that computer (the same paths, since the "remote" is this machine).

Where the cluster cannot be installed or started (not root, no apt, a foreign slurm.conf, ...) the
tests fail, with the reason, where ``AIIDA_PACEMAKER_CLUSTER=required`` (what ``make test`` sets); a
plain ``pytest`` skips them, with a warning and the reason (``pytest -rs``). See :mod:`tests.tiers`.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import typing as t
import warnings

import pytest

from ..tiers import unavailable

SCRIPT = pathlib.Path(__file__).resolve().parent / 'install.sh'
INSTALL_TIMEOUT = 1800  # a fresh machine downloads and installs ~40 packages; apt may wait on a lock
START_TIMEOUT = 180

#: ``metadata.options`` of every job of the tier: SLURM resources, walltime, a custom ``#SBATCH``
#: line, and a prepend text that writes where the job runs into the scheduler's stdout
CUSTOM_COMMENT = 'aiida-pacemaker-cluster-tier'
PREPEND_TEXT = '\n'.join(
    [
        'export TF_CPP_MIN_LOG_LEVEL=2',
        'echo "slurm job ${SLURM_JOB_ID:-none} on ${SLURM_JOB_NODELIST:-none}"',
        'scontrol show job "$SLURM_JOB_ID" | grep -o "Comment=[^ ]*" || true',
    ]
)
OPTIONS: dict[str, t.Any] = {
    'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
    'max_wallclock_seconds': 600,
    'custom_scheduler_commands': f'#SBATCH --comment={CUSTOM_COMMENT}',
    'prepend_text': PREPEND_TEXT,
}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers',
        'cluster: runs jobs on a local SLURM cluster over SSH (tests/cluster, tests/cluster/install.sh)',
    )


def cluster_unavailable(message: str) -> t.NoReturn:
    """Skip (plain ``pytest``) or fail (``make test``): see :mod:`tests.tiers`."""
    unavailable('cluster', message)


def cluster_script(command: str, timeout: float) -> subprocess.CompletedProcess:
    """Run ``tests/cluster/install.sh command``; its output is captured (and shown by the caller on failure)."""
    try:
        return subprocess.run(
            ['bash', str(SCRIPT), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exception:
        cluster_unavailable(f'`{SCRIPT.name} {command}` did not finish in {timeout} s: {exception.stderr}')


def slurmctld_log_tail(path: pathlib.Path, offset: int) -> str:
    """What slurmctld logged after ``offset`` (bytes)."""
    if not path.is_file():
        return ''
    with path.open('rb') as handle:
        handle.seek(offset)
        return handle.read().decode(errors='replace')


@pytest.fixture(scope='session')
def slurm_cluster() -> t.Iterator[dict[str, t.Any]]:
    """A running one-node SLURM cluster with an sshd on 127.0.0.1; stopped at the end if started here.

    Yields the connection (``host``, ``port``, ``username``, ``key_filename``), ``slurmctld_log`` and
    ``log_offset`` (the size of slurmctld's log before this session's jobs).
    """
    if os.name != 'posix' or not SCRIPT.is_file():
        cluster_unavailable(f'needs a POSIX machine and {SCRIPT}')
    if os.geteuid() != 0:
        cluster_unavailable(
            'installing and starting SLURM, munge and an sshd needs root: run the tier as root '
            f'(after `sudo {SCRIPT} install`)'
        )
    result = cluster_script('install', INSTALL_TIMEOUT)
    if result.returncode != 0:
        cluster_unavailable(f'`tests/cluster/install.sh install` failed:\n{result.stderr}{result.stdout}')
    already_running = cluster_script('status', 60).returncode == 0
    result = cluster_script('start', START_TIMEOUT)
    if result.returncode != 0:
        detail = result.stderr + result.stdout
        cluster_script('stop', START_TIMEOUT)
        cluster_unavailable(f'`tests/cluster/install.sh start` failed:\n{detail}')
    try:
        lines = cluster_script('env', 60).stdout.split()
        env = dict(line.split('=', 1) for line in lines if '=' in line)
        log = pathlib.Path(env['CLUSTER_SLURM_LOG'])
        yield {
            'host': env['CLUSTER_SSH_HOST'],
            'port': int(env['CLUSTER_SSH_PORT']),
            'username': env['CLUSTER_SSH_USER'],
            'key_filename': env['CLUSTER_SSH_KEY'],
            'slurmctld_log': log,
            'log_offset': log.stat().st_size if log.is_file() else 0,
        }
    finally:
        if not already_running:
            result = cluster_script('stop', START_TIMEOUT)
            if result.returncode != 0:
                warnings.warn(
                    f'cluster tier: stop failed: {result.stderr}', pytest.PytestWarning, stacklevel=1
                )


@pytest.fixture(scope='session')
def slurm_computer(aiida_profile, slurm_cluster, tmp_path_factory):
    """The computer ``slurm-localhost``: ``core.ssh`` to root@127.0.0.1, ``core.slurm``, checked."""
    from aiida import orm

    workdir = tmp_path_factory.mktemp('slurm_workdir')
    computer = orm.Computer(
        label='slurm-localhost',
        hostname=slurm_cluster['host'],
        description='SLURM on this machine, over SSH (cluster test tier)',
        transport_type='core.ssh',
        scheduler_type='core.slurm',
        workdir=str(workdir),
    ).store()
    computer.set_minimum_job_poll_interval(1.0)
    computer.set_default_mpiprocs_per_machine(1)
    computer.configure(
        username=slurm_cluster['username'],
        port=slurm_cluster['port'],
        key_filename=slurm_cluster['key_filename'],
        look_for_keys=False,
        allow_agent=False,
        load_system_host_keys=False,
        key_policy='AutoAddPolicy',
        timeout=30,
        safe_interval=0.0,
    )
    # what `verdi computer test` checks first: the transport opens and the scheduler answers
    try:
        with computer.get_transport() as transport:
            status, stdout, stderr = transport.exec_command_wait('sinfo -h -o "%T"')
    except Exception as exception:
        cluster_unavailable(
            f'no SSH connection to {slurm_cluster["host"]}:{slurm_cluster["port"]}: {exception!r}'
        )
    if status != 0 or not stdout.strip():
        cluster_unavailable(f'`sinfo` over SSH failed (exit {status}): {stdout}{stderr}')
    return computer


@pytest.fixture(scope='session')
def slurm_codes(slurm_computer):
    """``pacemaker``, ``pace_activeset``, ``pace_select``, ``pace_yaml2yace``, ``pace_explore`` on the computer."""
    from aiida_pacemaker.codes import setup_codes

    # the 'remote' side is this machine: pacemaker's tools are in this environment's bin directory there
    return setup_codes(slurm_computer, search_dir=pathlib.Path(sys.executable).parent)


@pytest.fixture
def assert_ran_on_slurm(slurm_cluster):
    """Check that a finished CalcJobNode went through SLURM: job id, scheduler output, slurmctld's log."""

    def check(node) -> None:
        job_id = node.get_job_id()
        assert job_id and job_id.isdigit(), f'{node.process_label}<{node.pk}> has no SLURM job id: {job_id!r}'
        assert node.computer.scheduler_type == 'core.slurm'
        assert node.computer.transport_type == 'core.ssh'
        submit_script = node.base.repository.get_object_content('_aiidasubmit.sh')
        assert '#SBATCH --time=00:10:00' in submit_script
        assert f'#SBATCH --comment={CUSTOM_COMMENT}' in submit_script
        names = node.outputs.retrieved.base.repository.list_object_names()
        assert '_scheduler-stdout.txt' in names, names
        stdout = node.outputs.retrieved.base.repository.get_object_content('_scheduler-stdout.txt')
        # the prepend text ran inside the allocation, and SLURM got the custom #SBATCH line
        assert f'slurm job {job_id} on ' in stdout, stdout
        assert f'Comment={CUSTOM_COMMENT}' in stdout, stdout
        log = slurmctld_log_tail(slurm_cluster['slurmctld_log'], slurm_cluster['log_offset'])
        assert f'JobId={job_id} ' in log, f'slurmctld never logged JobId={job_id}'
        assert node.get_remote_workdir().startswith(str(node.computer.get_workdir()).rstrip('/'))

    return check
