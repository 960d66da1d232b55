"""The option tables of `pace_activeset`, `pace_select` and exploration: a flag and a check per option.

The checks are :mod:`aiida_pacemaker.schema` checkers, as for pacemaker's ``input.yaml``; this module
adds the two kinds only these tools have (a memory size, an integer or ``auto``) and turns checked
options into command-line arguments.
"""

from __future__ import annotations

import re
import typing as t

from aiida_pacemaker.schema import Checker, expect, first_error, is_number, section

__all__ = ('MEMORY', 'Option', 'check_options', 'integer_or_auto', 'to_cmdline')

_MEMORY = re.compile(r'^(auto|\d+(\.\d+)?\s*(GB|MB))$')


class Option(t.NamedTuple):
    """One option: its flag on the tool's command line (None: read by the plugin's own script) and its check."""

    flag: str | None
    check: Checker


#: pace_activeset/pace_select evaluate this string with eval(): accept only plain sizes
MEMORY = expect(
    lambda value: isinstance(value, str) and bool(_MEMORY.match(value.strip())),
    '`auto` or a size like `2GB` or `500MB`',
)


def integer_or_auto(minimum: int) -> Checker:
    """``auto`` or an integer of at least ``minimum``."""
    return expect(
        lambda value: value == 'auto' or (is_number(value, integer=True) and value >= minimum),
        f'`auto` or an integer >= {minimum}',
    )


def check_options(options: dict[str, t.Any], table: dict[str, Option]) -> str | None:
    """The message for the first unknown key or bad value of ``options``, else None."""
    return first_error(section({key: option.check for key, option in table.items()}), options)


def to_cmdline(options: dict[str, t.Any], table: dict[str, Option]) -> list[str]:
    """Turn checked ``options`` into command-line arguments (a list, never a shell string)."""
    arguments: list[str] = []
    for key, value in options.items():
        flag = table[key].flag
        if flag is None:
            continue
        if isinstance(value, bool):
            if value:
                arguments.append(flag)
        else:
            arguments += [flag, str(value).strip()]
    return arguments
