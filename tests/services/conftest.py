"""The services tier: the WorkChain through ``submit`` and a real daemon, on real brokers and storages.

Two profiles, each made for this session and removed after:

* ``sqlite_zeromq``: ``core.sqlite_dos`` with aiida-core's ZeroMQ broker (no system service);
* ``psql_rabbitmq``: ``core.psql_dos`` on a PostgreSQL cluster made by pgtest (through aiida's
  ``postgres_cluster`` fixture) and a RabbitMQ node, both started here on free ports, in temporary
  directories, and stopped at the end of the session.

PostgreSQL refuses to run as root: as root, pgtest is given a ``pg_ctl`` that runs the real one as
the ``postgres`` user. AiiDA creates its database with the ``en_US.UTF-8`` locale, which is compiled
here with ``localedef`` into a folder the server finds through ``LOCPATH``, so the machine's locale
setup is not touched.

A missing service fails the tests that need it with what to run (``tests/services/install.sh install``)
where ``AIIDA_PACEMAKER_SERVICES=required`` (what ``make test`` sets); a plain ``pytest`` skips them,
with a warning and the reason (``pytest -rs``). See :mod:`tests.tiers`.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pathlib
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import typing as t

import pytest

from ..tiers import unavailable

INSTALL_HINT = 'run `tests/services/install.sh install` (as root, Debian/Ubuntu) or install it by hand'
LOCALE = 'en_US.UTF-8'


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        'markers', 'services: runs the WorkChain on a daemon with real brokers and storages (tests/services)'
    )


def service_unavailable(message: str) -> t.NoReturn:
    """Skip (plain ``pytest``) or fail (``make test``): see :mod:`tests.tiers`."""
    unavailable('services', message)


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def is_root() -> bool:
    return os.geteuid() == 0


# ----------------------------------------------------------------------------------------- PostgreSQL
def find_postgresql_bin() -> pathlib.Path:
    """The newest ``/usr/lib/postgresql/N/bin`` (Debian), else the folder of ``pg_ctl`` on the PATH."""
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/pg_ctl'), key=lambda p: float(p.split('/')[-3]))
    if found:
        return pathlib.Path(found[-1]).parent
    on_path = shutil.which('pg_ctl')
    if on_path:
        return pathlib.Path(on_path).resolve().parent
    service_unavailable(f'PostgreSQL (pg_ctl) is not installed: {INSTALL_HINT}')


def compile_locale(directory: pathlib.Path) -> bool:
    """Compile ``en_US.UTF-8`` into ``directory`` (for ``LOCPATH``) unless the system has it: whether it did."""
    available = subprocess.run(['locale', '-a'], capture_output=True, text=True, check=False).stdout.split()
    if {'en_US.utf8', 'en_US.UTF-8'} & set(available):
        return False
    if shutil.which('localedef') is None:
        service_unavailable(
            f'`localedef` (package `locales`) is needed for the {LOCALE} locale: {INSTALL_HINT}'
        )
    result = subprocess.run(
        ['localedef', '-i', 'en_US', '-f', 'UTF-8', str(directory / LOCALE)],
        capture_output=True,
        text=True,
        check=False,
    )
    if not (directory / LOCALE / 'LC_CTYPE').is_file():
        service_unavailable(
            f'could not compile the {LOCALE} locale: {result.stderr.strip()} ({INSTALL_HINT})'
        )
    return True


def write_pg_ctl(directory: pathlib.Path, bindir: pathlib.Path) -> pathlib.Path:
    """A ``pg_ctl`` for pgtest: the real one, run as ``postgres`` when we are root, with our locale."""
    locpath = directory / 'locale'
    locpath.mkdir()
    # with LOCPATH set, glibc ignores the system's locale archive: set it only for a compiled locale
    environment = f'env LOCPATH="{locpath}" ' if compile_locale(locpath) else ''
    run_as = 'runuser -u postgres -- ' if is_root() else ''
    script = directory / 'pg_ctl'
    script.write_text(
        '#!/bin/sh\n'
        '# PostgreSQL refuses to run as root: run pg_ctl (and the server it starts) as `postgres`\n'
        f'exec {run_as}{environment}"{bindir / "pg_ctl"}" "$@"\n'
    )
    for path in (directory, locpath, *locpath.rglob('*')):
        path.chmod(0o755 if path.is_dir() else 0o644)
    script.chmod(0o755)
    return script


def patient_pgtest() -> type:
    """pgtest's ``PGTest`` waiting up to a minute for the server (it gives it 5 s: short on a busy machine)."""
    from pgtest.pgtest import PGTest

    class PatientPGTest(PGTest):
        def _wait_for_server_ready(self, wait: float) -> None:
            super()._wait_for_server_ready(max(wait, 60))

    return PatientPGTest


@pytest.fixture(scope='session')
def postgres_cluster():
    """aiida's ``postgres_cluster`` (a pgtest ``PGTest``), made to work as root.

    pgtest calls ``pg_ctl`` itself: it gets the wrapper of :func:`write_pg_ctl`, and a base folder
    whose ``data`` and ``tmp`` folders already belong to ``postgres``, so ``initdb`` can write there.
    """
    from aiida.tools.pytest_fixtures.storage import PostgresCluster
    from pgtest.pgtest import TimeoutError as PGTestTimeoutError

    bindir = find_postgresql_bin()
    if is_root():
        try:
            postgres = pwd.getpwnam('postgres')
        except KeyError:
            service_unavailable(f'running as root, PostgreSQL needs a `postgres` user: {INSTALL_HINT}')
        if shutil.which('runuser') is None:
            service_unavailable('running as root, `runuser` (util-linux) is needed to run PostgreSQL')
    tools = pathlib.Path(tempfile.mkdtemp(prefix='aiida_pacemaker_pgctl_'))
    base = pathlib.Path(tempfile.mkdtemp(prefix='aiida_pacemaker_pg_'))
    log = tools / 'postgresql.log'  # outside `base`, which pgtest deletes when the server fails to start
    cluster = PostgresCluster()
    try:
        pg_ctl = write_pg_ctl(tools, bindir)
        for path in (base / 'data', base / 'tmp'):
            path.mkdir()
        log.touch()
        if is_root():  # initdb and the server write there as `postgres`
            for path in (base, base / 'data', base / 'tmp', log):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
        try:
            cluster.cluster = patient_pgtest()(
                pg_ctl=str(pg_ctl), base_dir=str(base), log_file=str(log), port=free_port()
            )
        except (Exception, PGTestTimeoutError) as exception:
            service_unavailable(
                f'PostgreSQL did not start ({exception!r}); server log:\n{log.read_text()[-3000:]}'
            )
        yield cluster
    finally:
        cluster._close()
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(tools, ignore_errors=True)


# ----------------------------------------------------------------------------------------- RabbitMQ
class RabbitMQ:
    """A RabbitMQ node of its own (name, ports, Erlang cookie, data), run in the foreground as a child."""

    def __init__(self, directory: pathlib.Path) -> None:
        self.directory = directory
        self.port = free_port()
        bindir = pathlib.Path('/usr/lib/rabbitmq/bin')
        server = bindir / 'rabbitmq-server'
        self.server = str(server) if server.is_file() else shutil.which('rabbitmq-server')
        ctl = bindir / 'rabbitmqctl'
        self.ctl = str(ctl) if ctl.is_file() else shutil.which('rabbitmqctl')
        if not self.server or not self.ctl:
            service_unavailable(f'RabbitMQ (rabbitmq-server) is not installed: {INSTALL_HINT}')
        (directory / 'enabled_plugins').write_text('[].\n')
        (directory / 'rabbitmq-env.conf').write_text('')
        # RabbitMQ >= 3.8.15 drops a consumer that holds a task for 30 min, which AiiDA's long-running
        # processes do: raise it to a week, as AiiDA's documentation suggests
        (directory / 'rabbitmq.conf').write_text('consumer_timeout = 604800000\n')
        self.env = os.environ | {
            'HOME': str(directory),  # the Erlang cookie of this node and of rabbitmqctl
            'RABBITMQ_NODENAME': f'aiida_pacemaker_{self.port}@localhost',
            'RABBITMQ_NODE_IP_ADDRESS': '127.0.0.1',
            'RABBITMQ_NODE_PORT': str(self.port),
            'RABBITMQ_DIST_PORT': str(free_port()),
            'ERL_EPMD_PORT': str(free_port()),
            'ERL_EPMD_ADDRESS': '127.0.0.1',
            'RABBITMQ_MNESIA_BASE': str(directory / 'mnesia'),
            'RABBITMQ_LOG_BASE': str(directory / 'log'),
            'RABBITMQ_PID_FILE': str(directory / 'rabbitmq.pid'),
            'RABBITMQ_ENABLED_PLUGINS_FILE': str(directory / 'enabled_plugins'),
            'RABBITMQ_CONFIG_FILE': str(directory / 'rabbitmq'),
            'RABBITMQ_CONF_ENV_FILE': str(directory / 'rabbitmq-env.conf'),
        }
        self.process: subprocess.Popen | None = None
        self.log = directory / 'server.out'

    def rabbitmqctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.ctl, *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def start(self, timeout: float = 90) -> None:
        with self.log.open('w') as handle:
            self.process = subprocess.Popen(
                [self.server], env=self.env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while True:
            result = self.rabbitmqctl('await_startup', '--timeout', '10', timeout=30)
            if result.returncode == 0:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                detail = self.log.read_text()[-3000:]
                self.stop()
                service_unavailable(f'RabbitMQ did not start; its output:\n{detail}\n{result.stdout[-1000:]}')
            time.sleep(1)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.rabbitmqctl('stop', timeout=60)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # the Erlang port mapper daemon started with the node outlives it
        epmd = shutil.which('epmd') or '/usr/lib/erlang/bin/epmd'
        if os.path.exists(epmd):
            subprocess.run([epmd, '-kill'], env=self.env, capture_output=True, timeout=30, check=False)
        self.process = None


@pytest.fixture(scope='session')
def rabbitmq(tmp_path_factory):
    """A RabbitMQ node for the session, on free ports; stopped at the end."""
    node = RabbitMQ(tmp_path_factory.mktemp('rabbitmq'))
    node.start()
    try:
        yield node
    finally:
        node.stop()


# ----------------------------------------------------------------------------------------- profiles
def pacemaker_codes(workdir: pathlib.Path) -> dict:
    """Codes of this environment's pacemaker tools on a local computer working in ``workdir``."""
    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes

    computer = get_or_create_localhost('localhost-services', workdir=str(workdir))
    return setup_codes(computer)


#: the runtimes of DESIGN.md: the embedded one, and the production one
BACKENDS = ('sqlite_zeromq', 'psql_rabbitmq')


@pytest.fixture(scope='session')
def daemon_environment():
    """``verdi`` and the pacemaker tools of this interpreter on the PATH of the daemon it starts.

    The daemon runs ``verdi`` (found on the PATH when aiida is imported) with this environment,
    so its workers use this interpreter, with aiida-pacemaker and pacemaker installed.
    """
    import aiida.engine.daemon.client as daemon_module

    bindir = pathlib.Path(sys.executable).parent
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('PATH', f'{bindir}{os.pathsep}{os.environ.get("PATH", "")}')
        if daemon_module.VERDI_BIN is None:
            patch.setattr(daemon_module, 'VERDI_BIN', str(bindir / 'verdi'))
        yield


@pytest.fixture(scope='module', params=BACKENDS)
def services_profile(request, aiida_config, aiida_profile_factory, daemon_environment):
    """A loaded profile of each backend in turn, removed (and the previous profile loaded) after.

    ``sqlite_zeromq``: ``core.sqlite_dos`` with the ZeroMQ broker service of aiida-core running;
    ``psql_rabbitmq``: ``core.psql_dos`` on the pgtest cluster, with the session's RabbitMQ node.
    """
    if request.param == 'sqlite_zeromq':
        storage_config = request.getfixturevalue('config_sqlite_dos')()
        run_broker_service = request.getfixturevalue('run_aiida_broker_service_for_profile')
        with aiida_profile_factory(
            aiida_config,
            storage_backend='core.sqlite_dos',
            storage_config=storage_config,
            broker_backend='core.zeromq',
            name=f'services-sqlite-zeromq-{os.getpid()}',
        ) as profile:
            with run_broker_service(profile):
                yield profile
        return
    rabbitmq = request.getfixturevalue('rabbitmq')
    storage_config = request.getfixturevalue('config_psql_dos')()
    broker_config = {
        'broker_protocol': 'amqp',
        'broker_username': 'guest',
        'broker_password': 'guest',
        'broker_host': '127.0.0.1',
        'broker_port': rabbitmq.port,
        'broker_virtual_host': '',
    }
    with aiida_profile_factory(
        aiida_config,
        storage_backend='core.psql_dos',
        storage_config=storage_config,
        broker_backend='core.rabbitmq',
        broker_config=broker_config,
        name=f'services-psql-rabbitmq-{os.getpid()}',
    ) as profile:
        # the version warning is about the consumer timeout, which the node of `rabbitmq` disables
        profile.set_option('warnings.rabbitmq_version', False)
        aiida_config.update_profile(profile)
        aiida_config.store()
        yield profile


@contextlib.contextmanager
def running_daemon(profile) -> t.Iterator[t.Any]:
    """A daemon with one worker for ``profile``; stopped (or killed) after."""
    from aiida.engine.daemon.client import DaemonClient

    client = DaemonClient(profile)
    client.start_daemon(number_workers=1)
    try:
        yield client
    finally:
        stop_daemon(client)


def stop_daemon(client) -> None:
    from aiida.engine.daemon.client import DaemonException

    with contextlib.suppress(DaemonException):
        if client.is_daemon_running:
            client.stop_daemon(wait=True)
    with contextlib.suppress(Exception):
        client._await_condition(lambda: not client.is_daemon_running, RuntimeError('daemon did not stop'), 30)
