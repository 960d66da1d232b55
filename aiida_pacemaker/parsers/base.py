"""Helpers shared by the plugin's parsers: reading retrieved files without raising."""

from __future__ import annotations

import typing as t

from aiida.parsers import Parser

from aiida_pacemaker.filenames import EXIT_STATUS_FILE

__all__ = ('PaceBaseParser',)


class PaceBaseParser(Parser):
    """Base parser: safe file access on the retrieved folder and the recorded exit status."""

    EXIT_STATUS_FILE = EXIT_STATUS_FILE

    def read_text(self, filename: str) -> str | None:
        """Return the retrieved file ``filename`` as text, or None if absent or unreadable."""
        try:
            return self.retrieved.base.repository.get_object_content(filename, mode='r')
        except (FileNotFoundError, OSError, UnicodeDecodeError):
            return None

    def read_bytes(self, filename: str) -> bytes | None:
        """Return the retrieved file ``filename`` as bytes, or None if absent."""
        try:
            return self.retrieved.base.repository.get_object_content(filename, mode='rb')
        except (FileNotFoundError, OSError):
            return None

    def retrieved_names(self) -> list[str]:
        """Names of the retrieved files."""
        return self.retrieved.base.repository.list_object_names()

    def recorded_exit_status(self) -> int | None:
        """The exit status the job script recorded for the main command, or None if missing."""
        text = self.read_text(self.EXIT_STATUS_FILE)
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

    def input_option(self, path: t.Sequence[str], default: t.Any = None) -> t.Any:
        """Look up a nested key of the calculation's ``parameters`` input."""
        try:
            value: t.Any = self.node.inputs.parameters.get_dict()
        except AttributeError:
            return default
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return default
            value = value[key]
        return value
