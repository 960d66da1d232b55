"""Register pacemaker's command-line tools as AiiDA codes (idempotent)."""

from __future__ import annotations

import pathlib
import shutil
import sys
import typing as t

from aiida import orm
from aiida.common.exceptions import NotExistent

__all__ = (
    'EXECUTABLES',
    'LOCAL_COMPUTER',
    'find_executable',
    'get_or_create_code',
    'get_or_create_localhost',
    'local_computer_advice',
    'setup_codes',
)

#: seconds between scheduler polls of the local computer this module sets up
POLL_INTERVAL = 1.0
#: the local computer that the plugin sets up for itself (presto's `localhost` is left as it is)
LOCAL_COMPUTER = 'localhost-pacemaker'

#: code label -> (executable, default CalcJob plugin)
EXECUTABLES: dict[str, tuple[str, str | None]] = {
    'pacemaker': ('pacemaker', 'pacemaker.train'),
    'pace_activeset': ('pace_activeset', 'pacemaker.activeset'),
    'pace_select': ('pace_select', 'pacemaker.select'),
    'pace_yaml2yace': ('pace_yaml2yace', None),
    'pace_explore': ('python', 'pacemaker.explore'),
}


def find_executable(name: str, search_dir: str | pathlib.Path | None = None) -> pathlib.Path:
    """Find ``name`` in ``search_dir`` if given, else next to this Python interpreter, else on the PATH.

    :raises FileNotFoundError: with a hint on installing pacemaker.
    """
    if search_dir is not None:  # a directory the user named: only there
        candidate = pathlib.Path(search_dir) / name
        if not candidate.is_file():
            raise FileNotFoundError(f'`{name}` is not in {search_dir}')
        return candidate
    directories = [pathlib.Path(sys.executable).parent]
    for directory in directories:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    found = shutil.which(name)
    if found:
        return pathlib.Path(found)
    raise FileNotFoundError(
        f'`{name}` was found neither in {[str(d) for d in directories]} nor on the PATH; install pacemaker '
        '(`pip install "aiida-pacemaker[pacemaker]"`) or give its directory'
    )


def local_computer_advice(computer: orm.Computer) -> str | None:
    """How to make a local computer poll cheaply, if it polls through a login shell (None if it does not).

    ``verdi presto``'s `localhost` runs every scheduler poll through a login shell, which costs about a third
    of a core while a fit runs on a 2-core machine (benchmarks/RESULTS.md, section 1), and prints whatever the
    shell's profile prints.
    """
    if computer.transport_type != 'core.local' or not computer.is_configured:
        return None
    if not computer.get_configuration().get('use_login_shell', True):
        return None
    return (
        f'computer `{computer.label}` polls its jobs through a login shell (slow, and noisy with some shell '
        f'profiles): `verdi computer configure core.local {computer.label} --no-use-login-shell --safe-interval 0 '
        '-n`, or let the plugin use its own local computer (the default when no code is named)'
    )


def get_or_create_localhost(label: str = LOCAL_COMPUTER, workdir: str | None = None) -> orm.Computer:
    """Load the computer ``label``, or set up and configure a local one that polls cheaply (every
    :data:`POLL_INTERVAL` s, no login shell)."""
    try:
        return orm.load_computer(label)
    except NotExistent:
        import tempfile

        computer = orm.Computer(
            label=label,
            hostname='localhost',
            description='this machine',
            transport_type='core.local',
            scheduler_type='core.direct',
            workdir=workdir or str(pathlib.Path(tempfile.gettempdir()) / 'aiida_pacemaker_work'),
        ).store()
        # measured (benchmarks/RESULTS.md §1, §6): polling back to back through a login shell takes a third
        # of a core from the fit on a 2-core machine; one poll a second without a login shell costs the
        # polling process ~50 ms of CPU a second (aiida-core's per-poll node update), which did not slow a fit
        computer.set_minimum_job_poll_interval(POLL_INTERVAL)
        computer.set_default_mpiprocs_per_machine(1)
        computer.configure(safe_interval=0.0, use_login_shell=False)
        return computer


def get_or_create_code(
    label: str, computer: orm.Computer, executable: pathlib.PurePath, plugin: str | None
) -> orm.InstalledCode:
    """Load ``label@computer`` if it runs ``executable``, else create it (under a fresh label if taken)."""
    query = orm.QueryBuilder().append(orm.Computer, filters={'id': computer.pk}, tag='computer')
    query.append(orm.InstalledCode, with_computer='computer', filters={'label': label})
    for (code,) in query.iterall():
        if str(code.filepath_executable) == str(executable):
            return t.cast(orm.InstalledCode, code)
    taken = query.count() > 0
    code = orm.InstalledCode(
        label=f'{label}-{executable.parent.name}' if taken else label,
        computer=computer,
        filepath_executable=str(executable),
        default_calc_job_plugin=plugin,
        description=f'{label} from {executable.parent}',
    )
    return code.store()


def setup_codes(
    computer: orm.Computer | None = None,
    search_dir: str | pathlib.Path | None = None,
    executables: dict[str, tuple[str, str | None]] | None = None,
) -> dict[str, orm.InstalledCode]:
    """Register ``pacemaker``, ``pace_activeset``, ``pace_select``, ``pace_yaml2yace`` and the
    exploration interpreter as codes on ``computer`` (localhost by default). Idempotent.

    The default computer is the plugin's own :data:`LOCAL_COMPUTER`, set up on first use.
    On a local computer the executables are looked up (``search_dir``, next to this Python, the
    PATH). On a remote computer ``search_dir`` is the bin directory of pacemaker's environment
    there, taken as given: this machine cannot see it.

    :param executables: code label -> (executable, default CalcJob plugin); :data:`EXECUTABLES` by default.
    """
    computer = computer or get_or_create_localhost()
    remote = computer.transport_type != 'core.local'
    if remote and search_dir is None:
        raise ValueError(
            f"computer `{computer.label}` is remote: give the directory of pacemaker's executables on it"
        )
    codes = {}
    for label, (executable, plugin) in (executables or EXECUTABLES).items():
        path: pathlib.PurePath
        if remote:
            path = pathlib.PurePosixPath(str(search_dir)) / executable
        else:
            path = find_executable(executable, search_dir)
        codes[label] = get_or_create_code(label, computer, path, plugin)
    return codes
