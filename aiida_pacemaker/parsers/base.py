"""Helpers shared by the plugin's parsers: reading retrieved files without raising."""

from __future__ import annotations

import functools
import typing as t

from aiida import orm
from aiida.parsers import Parser

from aiida_pacemaker.filenames import EXIT_STATUS_FILE

__all__ = ('PaceBaseParser',)


class PaceBaseParser(Parser):
    """Base parser: safe file access on the retrieved folder and the recorded exit status."""

    EXIT_STATUS_FILE = EXIT_STATUS_FILE

    @functools.cached_property
    def folder(self) -> orm.FolderData:
        """The retrieved folder, looked up once (every ``self.retrieved`` queries the node's outgoing links:
        10-40 ms, measured, where a parse reads five to a dozen files)."""
        return self.retrieved

    def read_text(self, filename: str) -> str | None:
        """Return the retrieved file ``filename`` as text, or None if absent or unreadable."""
        try:
            return self.folder.base.repository.get_object_content(filename, mode='r')
        except (FileNotFoundError, OSError, UnicodeDecodeError):
            return None

    def read_bytes(self, filename: str) -> bytes | None:
        """Return the retrieved file ``filename`` as bytes, or None if absent."""
        try:
            return self.folder.base.repository.get_object_content(filename, mode='rb')
        except (FileNotFoundError, OSError):
            return None

    def retrieved_names(self) -> list[str]:
        """Names of the retrieved files."""
        return self.folder.base.repository.list_object_names()

    def recorded_exit_status(self, filename: str | None = None) -> int | None:
        """The exit status the job script recorded for the main command (or into ``filename``, for another
        command of the job), or None if missing."""
        text = self.read_text(filename or self.EXIT_STATUS_FILE)
        try:
            return int(text.strip()) if text is not None else None
        except ValueError:
            return None

    def tail(self, *filenames: str, lines: int = 15) -> str:
        """The last ``lines`` lines of the first of ``filenames`` that exists."""
        for filename in filenames:
            text = self.read_text(filename)
            if text:
                return '\n'.join(text.rstrip().splitlines()[-lines:])
        return '(no log was retrieved)'

    @functools.cached_property
    def parameters(self) -> dict[str, t.Any]:
        """The calculation's ``parameters`` input as a dict (empty without one), read once."""
        return self.node.inputs.parameters.get_dict() if 'parameters' in self.node.inputs else {}

    def input_option(self, path: t.Sequence[str], default: t.Any = None) -> t.Any:
        """Look up a nested key of the calculation's ``parameters`` input."""
        value: t.Any = self.parameters
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value
