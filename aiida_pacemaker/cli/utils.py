"""Helpers shared by the commands: loading nodes, one-line errors, tables."""

from __future__ import annotations

import functools
import pathlib
import typing as t

import click
from aiida import orm
from aiida.cmdline.utils import echo

__all__ = ('echo_pairs', 'echo_table', 'format_number', 'load_node_of', 'one_line_errors')

NodeType = t.TypeVar('NodeType', bound=orm.Node)


#: ``-o/--output DIRECTORY`` of the commands that write figures
FIGURES_DIRECTORY = click.option(
    '-o',
    '--output',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=pathlib.Path('.'),
    show_default=True,
    help='Directory for the PNG figures.',
)


def _one_line(message: t.Any) -> str:
    return ' '.join(str(message).split())


def load_node_of(identifier: str, *classes: type[orm.Node]) -> t.Any:
    """Load the node ``identifier`` (PK, UUID or label) with aiida's own parameter type and check its type;
    exit with one line if it does not exist or is of another type (for commands that take a node in an
    option or a file rather than as a click argument).
    """
    from .params import ANY_NODE, require

    try:
        node = ANY_NODE.convert(identifier, None, None)
    except click.BadParameter as exception:
        echo.echo_critical(_one_line(exception.message))
    return require(node, *classes) if classes else node


def one_line_errors(function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """Decorate a command: expected errors (ValueError, OSError) end it with one line, not a traceback."""

    @functools.wraps(function)
    def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        try:
            return function(*args, **kwargs)
        except (ValueError, OSError) as exception:
            echo.echo_critical(_one_line(exception))

    return wrapper


def format_number(value: t.Any, digits: int = 2) -> str:
    """``value`` with ``digits`` decimals, or ``-`` for None."""
    if value is None:
        return '-'
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'{value:.{digits}f}'
    return str(value)


def echo_table(rows: t.Sequence[t.Sequence[t.Any]], headers: t.Sequence[str]) -> None:
    """Print ``rows`` as a plain-text table."""
    from tabulate import tabulate

    click.echo(tabulate(rows, headers=headers, disable_numparse=True))


def echo_pairs(pairs: t.Sequence[tuple[str, t.Any]]) -> None:
    """Print ``key: value`` lines, aligned."""
    width = max(len(key) for key, _ in pairs)
    for key, value in pairs:
        click.echo(f'{key + ":":<{width + 1}} {value}')
