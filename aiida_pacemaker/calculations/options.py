"""Validation of the small parameter dicts of `pace_activeset`, `pace_select` and exploration."""

from __future__ import annotations

import math
import re
import typing as t

from aiida_pacemaker.tools.suggest import did_you_mean

__all__ = ('OptionSpec', 'check_options', 'to_cmdline')

_MEMORY = re.compile(r'^(auto|\d+(\.\d+)?\s*(GB|MB))$')


class OptionSpec(t.NamedTuple):
    """One option: its flag on the command line (None if not a flag), kind and bounds."""

    flag: str | None
    kind: str  # 'bool', 'int', 'float', 'memory', 'int_or_auto', 'floats', 'choice'
    minimum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()  # the values of a 'choice'


def _check_number(key: str, value: t.Any, spec: OptionSpec) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f'`{key}` must be a number, got {value!r}'
    if not math.isfinite(value):
        return f'`{key}` must be finite, got {value!r}'
    if spec.kind == 'int' and not float(value).is_integer():
        return f'`{key}` must be an integer, got {value!r}'
    if spec.minimum is not None:
        if spec.exclusive_minimum and value <= spec.minimum:
            return f'`{key}` must be greater than {spec.minimum}, got {value!r}'
        if not spec.exclusive_minimum and value < spec.minimum:
            return f'`{key}` must be at least {spec.minimum}, got {value!r}'
    return None


def check_options(options: dict[str, t.Any], specs: dict[str, OptionSpec]) -> str | None:
    """Return a message for the first unknown key or bad value of ``options``, else None."""
    for key, value in options.items():
        if key not in specs:
            return f'unknown key `{key}`; {did_you_mean(key, specs)}'
        spec = specs[key]
        if spec.kind == 'bool':
            if not isinstance(value, bool):
                return f'`{key}` must be true or false, got {value!r}'
        elif spec.kind == 'choice':
            if value not in spec.choices:
                return f'`{key}` must be one of {", ".join(spec.choices)}, got {value!r}'
        elif spec.kind == 'memory':
            # pace_activeset/pace_select evaluate this string with eval(): accept only plain sizes
            if not isinstance(value, str) or not _MEMORY.match(value.strip()):
                return f'`{key}` must be `auto` or a size like `2GB` or `500MB`, got {value!r}'
        elif spec.kind == 'int_or_auto':
            if value != 'auto':
                message = _check_number(key, value, spec._replace(kind='int'))
                if message:
                    return message.replace('must be', 'must be `auto` or')
        elif spec.kind == 'floats':
            if not isinstance(value, list | tuple) or not value:
                return f'`{key}` must be a non-empty list of numbers, got {value!r}'
            for item in value:
                message = _check_number(key, item, spec)
                if message:
                    return message
        else:
            message = _check_number(key, value, spec)
            if message:
                return message
    return None


def to_cmdline(options: dict[str, t.Any], specs: dict[str, OptionSpec]) -> list[str]:
    """Turn validated ``options`` into command-line arguments (a list, never a shell string)."""
    arguments: list[str] = []
    for key, value in options.items():
        flag = specs[key].flag
        if flag is None:
            continue
        if specs[key].kind == 'bool':
            if value:
                arguments.append(flag)
        else:
            arguments += [flag, str(value).strip()]
    return arguments
