"""The plugin's one way of checking user settings: checkers that name the key path and what is expected.

A *checker* is a callable ``check(value, path)`` that returns nothing for a valid value and raises
:class:`ConfigError` with one line naming the key path, what is expected and the value given
(``"`fit.maxiter` must be an integer > 0, got -1"``); for an unknown key or name it ends with the
closest valid one (:func:`aiida_pacemaker.tools.suggest.did_you_mean`). Checkers compose: a
:func:`section` checks a dict against a table of key -> checker, a :func:`list_of` checks every item.

Every settings table of the plugin is written with these: pacemaker's ``input.yaml``
(:mod:`aiida_pacemaker.config`), the options of ``pace_activeset``, ``pace_select`` and exploration
(:mod:`aiida_pacemaker.calculations.options`) and the settings of a validation
(:mod:`aiida_pacemaker.tools.property_settings`). Checks that span several inputs (a gamma window, the
elements of a pool against a potential's) stay with the process whose inputs they relate.
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Callable, Iterable, Mapping

from aiida_pacemaker.tools.suggest import did_you_mean

__all__ = (
    'ANY',
    'BOOL',
    'FRACTION',
    'INT',
    'NON_NEGATIVE',
    'NON_NEGATIVE_INT',
    'POSITIVE',
    'POSITIVE_INT',
    'REAL',
    'STRING',
    'Checker',
    'ConfigError',
    'bad_value',
    'check_section',
    'closest',
    'described',
    'expect',
    'expected',
    'first_error',
    'is_number',
    'join',
    'list_of',
    'mapping',
    'number',
    'of_type',
    'one_of',
    'optional',
    'section',
    'unknown_key',
)


class ConfigError(ValueError):
    """A setting that is unknown, of the wrong kind or out of range, or that the tool would crash on."""


Checker = Callable[[t.Any, str], None]


def join(path: str, key: t.Any) -> str:
    """The key path of ``key`` inside ``path`` (``fit`` + ``loss`` -> ``fit.loss``)."""
    return f'{path}.{key}' if path else str(key)


def closest(value: t.Any, valid: Iterable[t.Any], noun: str = 'valid') -> str:
    """``did you mean `closest`?``, or the list of all ``valid`` ones when none is close."""
    return did_you_mean(value, valid, noun)


def unknown_key(path: str, key: t.Any, valid: Iterable[str]) -> ConfigError:
    return ConfigError(f'unknown key `{join(path, key)}`; {closest(key, valid)}')


def bad_value(path: str, value: t.Any, valid: Iterable[str], what: str = 'value') -> ConfigError:
    return ConfigError(f'`{path}` = {value!r} is not a valid {what}; {closest(value, valid)}')


def first_error(check: Checker, value: t.Any, path: str = '') -> str | None:
    """The message of the first problem ``check`` finds in ``value``, or None."""
    try:
        check(value, path)
    except ConfigError as error:
        return str(error)
    return None


def described(check: Checker, expected: str) -> Checker:
    """``check`` with what it accepts in words (for tables in the docs: :func:`expected`)."""
    setattr(check, 'expected', expected)  # noqa: B010
    return check


def expected(check: Checker) -> str:
    """What ``check`` accepts in words, or '' when it does not say."""
    return str(getattr(check, 'expected', ''))


def expect(valid: Callable[[t.Any], bool], noun: str) -> Checker:
    """Checker for any rule: ``valid(value)`` must be true, else "`path` must be {noun}, got value"."""

    def check(value: t.Any, path: str) -> None:
        if not valid(value):
            raise ConfigError(f'`{path}` must be {noun}, got {value!r}')

    return described(check, noun)


def mapping(value: t.Any, path: str) -> None:
    """A dict with string keys."""
    if not isinstance(value, Mapping):
        raise ConfigError(f'`{path}` must be a dict, got {type(value).__name__} {value!r}')
    for key in value:
        if not isinstance(key, str):
            raise ConfigError(f'`{path}` has a non-string key {key!r}')


def is_number(value: t.Any, integer: bool = False) -> bool:
    """A finite int or float (an int if ``integer``); booleans are not numbers."""
    kind = int if integer else (int, float)
    return not isinstance(value, bool) and isinstance(value, kind) and math.isfinite(value)


def number(
    integer: bool = False,
    minimum: float | None = None,
    strict: bool = False,
    maximum: float | None = None,
    max_strict: bool = False,
    noun: str | None = None,
) -> Checker:
    """Checker for a finite number (an integer if ``integer``) within optional bounds.

    :param strict: the ``minimum`` itself is refused; ``max_strict`` the same for ``maximum``.
    :param noun: what the message says is expected (default: "an integer >= 1" and the like).
    """
    if noun is None:
        bounds = []
        if minimum is not None:
            bounds.append(f'{">" if strict else ">="} {minimum}')
        if maximum is not None:
            bounds.append(f'{"<" if max_strict else "<="} {maximum}')
        noun = ('an integer' if integer else 'a number') + (' ' + ' and '.join(bounds) if bounds else '')

    def valid(value: t.Any) -> bool:
        if not is_number(value, integer):
            return False
        low = minimum is not None and (value <= minimum if strict else value < minimum)
        high = maximum is not None and (value >= maximum if max_strict else value > maximum)
        return not (low or high)

    return expect(valid, noun)


def one_of(*choices: t.Any) -> Checker:
    """One of ``choices``; the message names the closest (or lists them all)."""

    def check(value: t.Any, path: str) -> None:
        if value not in choices:
            raise bad_value(path, value, choices)

    return described(check, 'one of ' + ', '.join(map(str, choices)))


def of_type(kind: type | tuple[type, ...], noun: str) -> Checker:
    """An instance of ``kind``."""
    return expect(lambda value: isinstance(value, kind), noun)


def optional(check: Checker) -> Checker:
    """None, or what ``check`` accepts."""

    def checked(value: t.Any, path: str) -> None:
        if value is not None:
            check(value, path)

    return checked


def list_of(item: Checker, length: int | None = None, non_empty: bool = False) -> Checker:
    """A list (or tuple) of ``length`` items (any number if None), each checked by ``item``."""

    def check(value: t.Any, path: str) -> None:
        if not isinstance(value, list | tuple) or (length is not None and len(value) != length):
            raise ConfigError(f'`{path}` must be a list{f" of {length}" if length else ""}, got {value!r}')
        if non_empty and not value:
            raise ConfigError(f'`{path}` must not be empty')
        for index, element in enumerate(value):
            item(element, f'{path}[{index}]')

    words = 'a non-empty list' if non_empty else f'a list of {length}' if length else 'a list'
    return described(check, f'{words}, each {expected(item)}' if expected(item) else words)


def check_section(
    value: t.Any, path: str, schema: Mapping[str, Checker], refused: Mapping[str, str] | None = None
) -> None:
    """Check a dict against ``schema`` (key -> checker); ``refused``: known keys that are refused (-> why)."""
    mapping(value, path)
    for key, item in value.items():
        if refused and key in refused:
            raise ConfigError(f'`{join(path, key)}` is not allowed: {refused[key]}')
        if key not in schema:
            raise unknown_key(path, key, schema)
        schema[key](item, join(path, key))


def section(schema: Mapping[str, Checker], refused: Mapping[str, str] | None = None) -> Checker:
    """Checker for a dict whose keys are those of ``schema`` (see :func:`check_section`)."""
    return lambda value, path: check_section(value, path, schema, refused)


ANY: Checker = lambda value, path: None  # noqa: E731
STRING = of_type(str, 'a string')
BOOL = of_type(bool, 'true or false')
REAL = number()
INT = number(integer=True)
POSITIVE = number(minimum=0, strict=True)
NON_NEGATIVE = number(minimum=0)
POSITIVE_INT = number(integer=True, minimum=0, strict=True)
NON_NEGATIVE_INT = number(integer=True, minimum=0)
FRACTION = number(minimum=0, maximum=1)
