"""``aiida-pacemaker setup``: register the pacemaker tools as AiiDA codes."""

from __future__ import annotations

import pathlib

import click
from aiida.cmdline.utils import decorators, echo

from .utils import echo_table, one_line_errors

__all__ = ('cmd_setup',)


@click.command('setup')
@click.option(
    '-Y',
    '--computer',
    'computer_label',
    default='localhost-pacemaker',
    show_default=True,
    help="Computer to register the codes on (it must exist, except the plugin's own local computer "
    '`localhost-pacemaker`, which is made if missing: no login shell, one scheduler poll a second).',
)
@click.option(
    '--bin-dir',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help='Directory holding pacemaker, pace_activeset, pace_select, pace_yaml2yace and python; on a '
    'remote computer, the directory there (required) [default: next to this Python interpreter, else the PATH].',
)
@decorators.with_dbenv()
@one_line_errors
def cmd_setup(computer_label: str, bin_dir: pathlib.Path | None) -> None:
    """Register pacemaker, pace_activeset, pace_select, pace_yaml2yace and the exploration interpreter
    as codes. Idempotent: codes that exist are reused.
    """
    from aiida import orm
    from aiida.common.exceptions import NotExistent

    from aiida_pacemaker.codes import (
        LOCAL_COMPUTER,
        get_or_create_localhost,
        local_computer_advice,
        setup_codes,
    )

    if computer_label == LOCAL_COMPUTER:
        computer = get_or_create_localhost(computer_label)
    else:
        try:
            computer = orm.load_computer(computer_label)
        except NotExistent:
            raise ValueError(
                f'no computer `{computer_label}`: set it up first (`verdi computer setup`), or use localhost'
            ) from None
    advice = local_computer_advice(computer)
    if advice:
        echo.echo_warning(advice)
    codes = setup_codes(computer, bin_dir)
    rows = [
        (role, code.pk, code.full_label, code.default_calc_job_plugin or '-', str(code.filepath_executable))
        for role, code in codes.items()
    ]
    echo_table(rows, headers=('role', 'PK', 'code', 'plugin', 'executable'))
    echo.echo_success(f'{len(codes)} codes ready on computer `{computer.label}`')
