"""What the utilities share: their codes, the scripts copied into their jobs, one ShellJob launch, one
result type with a one-line message.

Each utility runs as an aiida-shell ``ShellJob`` (``aiida_shell.launch_shell_job``) on a code registered
next to the plugin's other codes. Its inputs are files (``SinglefileData``/``FolderData``); what the tool
writes comes back as files, and a calcfunction turns them into the plugin's data types, so the graph
runs from the uploaded files or stored nodes, through the ShellJob, to the new node.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import pathlib
import re
import shlex
import typing as t

from aiida import orm

from aiida_pacemaker.calculations.base import sibling_command
from aiida_pacemaker.calculations.options import Option, check_options, to_cmdline
from aiida_pacemaker.codes import find_executable, get_or_create_code, get_or_create_localhost, setup_codes
from aiida_pacemaker.schema import ConfigError
from aiida_pacemaker.scripts import script_text

__all__ = (
    'SHELL_PLUGIN',
    'UTILITIES',
    'UtilityRun',
    'command_failed',
    'input_files',
    'job_output_tail',
    'run_function',
    'run_utility',
    'script_node',
    'setup_utility_codes',
    'shell_job_inputs',
    'tool_options',
    'utility_code',
)

#: the utilities of python-ace that run as ShellJobs (code label = executable name)
UTILITIES = ('pace_collect', 'pace_corerep', 'pace_augment', 'pace_info', 'pace_timing')
#: the CalcJob plugin of the utilities' codes (aiida-shell's ShellJob)
SHELL_PLUGIN = 'core.shell'
#: the file aiida-shell writes the command's standard output into (here with its standard error)
STDOUT = 'stdout'
#: attribute of a stored job-side script node: the SHA-256 of its content
SCRIPT_SHA256 = 'aiida_pacemaker_script_sha256'


def setup_utility_codes(
    computer: orm.Computer | None = None, search_dir: str | pathlib.Path | None = None
) -> dict[str, orm.InstalledCode]:
    """Register ``pace_collect``, ``pace_corerep``, ``pace_augment``, ``pace_info`` and ``pace_timing`` as
    codes (plugin ``core.shell``) on ``computer``, the plugin's own local computer by default. Idempotent.

    Found as :func:`aiida_pacemaker.codes.setup_codes` finds the other tools: on a local computer in
    ``search_dir``, next to this Python, or on the PATH; on a remote one ``search_dir`` is the bin
    directory of pacemaker's environment there, taken as given.
    """
    return setup_codes(computer, search_dir, {label: (label, SHELL_PLUGIN) for label in UTILITIES})


def utility_code(utility: str, code: orm.AbstractCode | None = None) -> orm.AbstractCode:
    """``code`` if given, else the code of ``utility`` on the plugin's own local computer (made if missing)."""
    if utility not in UTILITIES:
        raise ValueError(f'unknown utility {utility!r}: one of {", ".join(UTILITIES)}')
    if code is not None:
        return code
    return get_or_create_code(utility, get_or_create_localhost(), find_executable(utility), SHELL_PLUGIN)


def script_node(name: str) -> orm.SinglefileData:
    """The job-side script ``name`` of :mod:`aiida_pacemaker.scripts` as a stored ``SinglefileData``,
    stored once per content (so the graph shows which version of the script converted a job's output)."""
    content = script_text(name).encode()
    digest = hashlib.sha256(content).hexdigest()
    query = orm.QueryBuilder().append(
        orm.SinglefileData, filters={f'attributes.{SCRIPT_SHA256}': digest}, project='*'
    )
    found = query.first()
    if found:
        return t.cast(orm.SinglefileData, found[0])
    node = orm.SinglefileData(io.BytesIO(content), filename=name)
    node.base.attributes.set(SCRIPT_SHA256, digest)
    node.label = name
    node.description = 'job-side script of aiida-pacemaker'
    return node.store()


def after_tool(*lines: str) -> str:
    """Shell lines for ``metadata.options.append_text`` that run after the tool and keep its exit status.

    AiiDA puts a job's own ``append_text`` before aiida-shell's ``echo $? > status``: the tool's status
    is saved first and restored last, so aiida-shell records the tool's, not the conversion's.
    """
    return '\n'.join(['pacemaker_tool_status=$?', *lines, '(exit $pacemaker_tool_status)'])


def python_line(code: orm.AbstractCode, script: str, *arguments: str) -> str:
    """A shell line running ``script`` with the Python next to ``code``'s executable, output appended to
    the job's standard output. Every word is a constant of this package or the code's path, quoted."""
    words = [sibling_command(code, 'python'), shlex.quote(script), *(shlex.quote(a) for a in arguments)]
    return f'{" ".join(words)} >> {STDOUT} 2>&1'


def tool_options(table: t.Mapping[str, Option], **values: t.Any) -> list[str]:
    """The tool's command-line options for the ``values`` given (``None``: the tool's default), checked
    against ``table`` (flag and check by keyword).

    :raises ConfigError: (a ``ValueError``) naming the keyword, what it accepts and the value given.
    """
    given = {key: value for key, value in values.items() if value is not None}
    message = check_options(given, dict(table))
    if message:
        raise ConfigError(message)
    return to_cmdline(given, dict(table))


@dataclasses.dataclass
class UtilityRun:
    """What one run of a utility gave.

    :param utility: the tool (``pace_collect``, ...).
    :param job: the ShellJob's node (``None`` only if it never ran).
    :param outputs: the product nodes by name (``training_set``, ``potential``, ``info``, ...); empty on failure.
    :param ok: whether the tool and the conversion of its output both succeeded.
    :param message: one line: what was made, or why nothing was.
    :param warnings: one line each: what was skipped and why (e.g. unreadable VASP files).
    """

    utility: str
    job: orm.CalcJobNode | None
    outputs: dict[str, orm.Data] = dataclasses.field(default_factory=dict)
    ok: bool = False
    message: str = ''
    warnings: list[str] = dataclasses.field(default_factory=list)


def one_line(text: t.Any) -> str:
    """``text`` with all whitespace runs (newlines included) folded into single spaces."""
    return ' '.join(str(text).split())


#: a line in which Python reports a warning (the next line quotes the source)
_WARNING_LINE = re.compile(r'\.py:\d+: \w*Warning: ')
#: the longest tail of a tool's output quoted in a message, characters
TAIL_LENGTH = 300


def job_output_tail(job: orm.CalcJobNode, lines: int = 1) -> str:
    """The last ``lines`` non-empty lines of a ShellJob's standard output, on one line (progress bars and
    Python's warnings left out, at most :data:`TAIL_LENGTH` characters)."""
    if STDOUT not in job.outputs:
        return ''
    kept: list[str] = []
    quoted_source = False
    for raw in job.outputs[STDOUT].get_content(mode='r').splitlines():
        line = raw.rsplit('\r', 1)[-1].strip()  # a progress bar redraws its line with carriage returns
        if quoted_source:
            quoted_source = False
        elif _WARNING_LINE.search(line):
            quoted_source = True
        elif line:
            kept.append(line)
    return one_line(' | '.join(kept[-lines:]))[-TAIL_LENGTH:]


def command_failed(job: orm.CalcJobNode) -> bool:
    """Whether the ShellJob failed because its command exited with a non-zero status (aiida-shell's
    ``ERROR_COMMAND_FAILED``), rather than in AiiDA's handling of the job."""
    from aiida_shell import ShellJob

    return t.cast(bool, job.exit_status == ShellJob.exit_codes.ERROR_COMMAND_FAILED.status)


def job_failure(utility: str, job: orm.CalcJobNode) -> str:
    """One line on a failed ShellJob: its exit status and message, and the last line the tool printed."""
    tail = job_output_tail(job)
    status = f'exit status {job.exit_status}' if job.exit_status is not None else f'state {job.process_state}'
    message = one_line(job.exit_message or '').rstrip(' .')
    text = f'{utility} failed (ShellJob<{job.pk}>, {status}: {message})'
    return f'{text}: {tail}' if tail else text


def shell_job_inputs(
    utility: str,
    code: orm.AbstractCode,
    arguments: list[str],
    nodes: t.Mapping[str, orm.Data],
    filenames: dict[str, str] | None = None,
    outputs: list[str] | None = None,
    append_text: str = '',
    description: str = '',
    call_link_label: str | None = None,
) -> dict[str, t.Any]:
    """The inputs of a ShellJob that runs ``code`` with ``arguments`` (for :func:`run_utility`, or for a
    workchain to submit).

    Standard error joins standard output (pacemaker's tools log to standard error, which aiida-shell would
    otherwise count as a failure, exit code 410). ``outputs`` should be glob patterns (``name*.ext``):
    aiida-shell reports a missing plain name (exit code 303) before a non-zero exit status (400), which
    would hide why the tool failed.
    """
    from aiida_shell.launch import prepare_shell_job_inputs

    options: dict[str, t.Any] = {
        'redirect_stderr': True,
        'resources': {'num_machines': 1, 'num_mpiprocs_per_machine': 1},
        'withmpi': False,
    }
    if append_text:
        options['append_text'] = append_text
    metadata: dict[str, t.Any] = {
        'label': utility,
        'description': description or f'{utility} (aiida-pacemaker)',
        'options': options,
    }
    if call_link_label:
        metadata['call_link_label'] = call_link_label
    return prepare_shell_job_inputs(
        code, arguments=arguments, nodes=dict(nodes), filenames=filenames, outputs=outputs, metadata=metadata
    )


def run_utility(
    utility: str,
    code: orm.AbstractCode,
    arguments: list[str],
    nodes: t.Mapping[str, orm.Data],
    filenames: dict[str, str] | None = None,
    outputs: list[str] | None = None,
    append_text: str = '',
    description: str = '',
) -> tuple[dict[str, orm.Data], orm.CalcJobNode]:
    """Run ``code`` with ``arguments`` as a ShellJob (:func:`shell_job_inputs`); its outputs and node."""
    from aiida.engine import run_get_node
    from aiida_shell import ShellJob

    inputs = shell_job_inputs(utility, code, arguments, nodes, filenames, outputs, append_text, description)
    results, node = run_get_node(ShellJob, inputs)
    kept = {label: result for label, result in results.items() if label not in ('retrieved', 'remote_folder')}
    return kept, t.cast(orm.CalcJobNode, node)


def run_function(function: t.Any, **inputs: t.Any) -> tuple[dict[str, orm.Data], orm.CalcFunctionNode]:
    """Run the calcfunction ``function`` on ``inputs``: its outputs (empty when it returned an exit code)
    and its node."""
    results, node = function.run_get_node(**inputs)
    return dict(results or {}), node


def input_files(**nodes: orm.Data | None) -> dict[str, orm.SinglefileData]:
    """The files of stored nodes that a utility reads (calcfunction ``utility_input_files``), by
    name: ``potential_yaml``, ``active_set_asi``, ``training_set_pickle``. ``None`` values are left out."""
    from aiida_pacemaker.calculations.functions.utilities import utility_input_files

    given = {key: node for key, node in nodes.items() if node is not None}
    return dict(utility_input_files(**given))
