"""Shared base of the plugin's CalcJobs."""

from __future__ import annotations

import shlex
import typing as t

import yaml
from aiida import orm
from aiida.common import CodeInfo
from aiida.engine import CalcJob

from aiida_pacemaker.filenames import EXIT_STATUS_FILE, STDOUT_FILE
from aiida_pacemaker.processes import NewOutputLinksOnly

from .options import Option, check_options

if t.TYPE_CHECKING:
    from aiida.engine import CalcJobProcessSpec

__all__ = ('PaceBaseCalculation', 'sibling_command', 'write_yaml')


def write_yaml(folder: t.Any, filename: str, content: dict[str, t.Any]) -> None:
    """Write ``content`` as YAML (block style, key order kept) into the sandbox ``folder``."""
    with folder.open(filename, 'w', encoding='utf8') as handle:
        yaml.safe_dump(content, handle, sort_keys=False, default_flow_style=False)


def sibling_command(code: orm.AbstractCode, executable: str) -> str:
    """Return a shell-quoted path to ``executable`` installed next to ``code``'s executable.

    pacemaker's command-line tools are installed together (one Python environment), so the
    sibling of an `InstalledCode` is found in the same directory on the remote computer.
    For other kinds of code the tool is expected on the ``PATH``.
    """
    filepath = getattr(code, 'filepath_executable', None)
    if filepath is None:
        return shlex.quote(executable)
    return shlex.quote(str(filepath.parent / executable))


class PaceBaseCalculation(NewOutputLinksOnly, CalcJob):
    """Base of the pacemaker CalcJobs: defaults for resources and the exit-status capture."""

    #: file into which the job script writes the main command's exit status
    EXIT_STATUS_FILE = EXIT_STATUS_FILE
    _DEFAULT_STDOUT = STDOUT_FILE

    @classmethod
    def define(cls, spec: CalcJobProcessSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the common defaults and exit codes."""
        super().define(spec)
        spec.inputs['metadata']['options']['resources'].default = {  # type: ignore[index]  # plumpy: a namespace item may be a Port
            'num_machines': 1,
            'num_mpiprocs_per_machine': 1,
        }
        spec.inputs['metadata']['options']['withmpi'].default = False  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.exit_code(
            301,
            'ERROR_NO_EXIT_STATUS',
            invalidates_cache=True,
            message='The job wrote no exit status: it was killed before its command ended.{detail}',
        )

    @staticmethod
    def validate_options(inputs: dict[str, t.Any]) -> str | None:
        """Refuse ``metadata.options.append_text``: the job records the exit status of its command
        right after it, and the option's text would run in between (use the code's append text)."""
        options = (inputs.get('metadata') or {}).get('options') or {}
        if options.get('append_text'):
            return (
                '`metadata.options.append_text` would run before the job records the exit status of its '
                "command; put those lines in the code's or the computer's append text instead"
            )
        return None

    @staticmethod
    def validate_parameters(
        inputs: dict[str, t.Any], table: dict[str, Option], defaults: dict[str, t.Any] | None = None
    ) -> tuple[str | None, dict[str, t.Any]]:
        """The opening of a tool's ``validate_inputs``: :meth:`validate_options`, then the ``parameters``
        (over ``defaults``) against the option ``table``. Returns the message (or None) and the options."""
        options = {**(defaults or {}), **(inputs['parameters'].get_dict() if 'parameters' in inputs else {})}
        message = PaceBaseCalculation.validate_options(inputs)
        if message:
            return message, options
        message = check_options(options, table)
        return (f'invalid `parameters`: {message}' if message else None), options

    @staticmethod
    def validate_potential_and_structures(inputs: dict[str, t.Any], namespace: str, noun: str) -> str | None:
        """Check that the active set belongs to the potential and that the potential knows every
        element of the structures in ``inputs[namespace]`` (called ``noun`` in the message)."""
        from aiida_pacemaker.data.active_set import ActiveSetMismatchError

        potential, active_set = inputs.get('potential'), inputs.get('active_set')
        if potential is not None and active_set is not None:
            try:
                active_set.check_potential(potential)
            except ActiveSetMismatchError as exception:
                return str(exception)
        if potential is not None:
            known = set(potential.elements)
            for key, structure in (inputs.get(namespace) or {}).items():
                missing = sorted(set(structure.get_symbols_set()) - known)  # symbols, not kind names
                if missing:
                    return f'{noun} `{key}` holds elements {missing} that the potential does not know'
        return None

    def codeinfo(self, cmdline: list[str]) -> CodeInfo:
        """The CodeInfo of the job's one command: ``code`` with ``cmdline``, output joined into stdout."""
        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = self._DEFAULT_STDOUT
        codeinfo.join_files = True
        return codeinfo

    def exit_status_capture(self) -> str:
        """Shell lines that record the exit status of the command that just ran."""
        return f'echo $? > {self.EXIT_STATUS_FILE}'
