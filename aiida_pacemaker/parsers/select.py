"""Parser of `PaceSelectCalculation`."""

from __future__ import annotations

import json
import typing as t

from aiida import orm
from aiida.engine import ExitCode

from aiida_pacemaker.data.structure_pool import StructurePoolData
from aiida_pacemaker.filenames import STDOUT_FILE

from .base import PaceBaseParser

__all__ = ('PaceSelectParser', 'SelectionError', 'fill_selection', 'read_selection')


def fill_selection(
    gamma: dict[str, float],
    selected: list[str],
    window: tuple[float, float],
    max_structures: int,
    by: str = 'grade',
    excluded: t.Collection[str] = (),
) -> list[str]:
    """Keys of in-``window`` (``[min, max)``) candidates not in ``selected``, as many as bring it up to
    ``max_structures``; never one of ``excluded`` (candidates left out for other reasons).

    ``by='grade'``: highest max-gamma first, ties broken by key. ``by='random'``: a random draw,
    reproducible (the generator is seeded with the candidate keys, so the same candidates and
    selection give the same draw). Neither depends on dictionary order.
    """
    missing = max_structures - len(selected)
    if missing <= 0:
        return []
    chosen = set(selected) | set(excluded)
    remaining = sorted(key for key, g in gamma.items() if key not in chosen and window[0] <= g < window[1])
    if by == 'random':
        import hashlib

        import numpy as np

        digest = hashlib.sha256('\n'.join(sorted(gamma)).encode()).digest()
        order = np.random.default_rng(int.from_bytes(digest[:8], 'little')).permutation(len(remaining))
        remaining = [remaining[index] for index in order]
    else:
        remaining.sort(key=lambda key: -gamma[key])  # stable: ties stay in key order
    return remaining[:missing]


class SelectionError(Exception):
    """A selection's files are missing or wrong: ``exit_code`` names `PaceSelectCalculation`'s exit code,
    ``details`` fill its message."""

    def __init__(self, exit_code: str, **details: t.Any) -> None:
        self.exit_code = exit_code
        self.details = details
        super().__init__(exit_code)

    def message(self) -> str:
        """The exit code's message, filled in."""
        from aiida_pacemaker.calculations.select import PaceSelectCalculation

        return str(PaceSelectCalculation.exit_codes[self.exit_code].format(**self.details).message)


def read_selection(
    parser: PaceBaseParser,
    *,
    parameters: dict[str, t.Any],
    status: int | None,
    pool: StructurePoolData | None = None,
    candidates: dict[str, orm.StructureData] | None = None,
    exclude: t.Collection[str] = (),
    log_files: t.Sequence[str] = ('gamma.out',),
) -> tuple[dict[str, orm.StructureData], orm.Dict]:
    """The selected structures (new nodes, by key) and the report of a selection in a job, read from
    ``parser``'s retrieved files (see :mod:`aiida_pacemaker.calculations.selection_script`).

    :param parameters: the selection options the job ran with.
    :param status: pace_select's exit status as recorded by the job (None: not recorded).
    :param log_files: where a message's log tail comes from, first found first.
    :raises SelectionError: when a file is missing or wrong, or pace_select failed.
    """
    log_tail = parser.tail(*log_files)
    try:
        gamma = json.loads(parser.read_text('gamma.json') or 'null')
    except json.JSONDecodeError:
        gamma = None
    if not isinstance(gamma, dict):
        raise SelectionError('ERROR_GAMMA_MISSING', log_tail=log_tail)
    nothing = 'nothing_to_select' in parser.retrieved_names()
    if not nothing:
        if status is None:
            raise SelectionError('ERROR_NO_EXIT_STATUS', detail=f'\n{log_tail}')
        if status != 0:
            raise SelectionError('ERROR_SELECT_FAILED', status=status, log_tail=parser.tail(*log_files[1:]))
    try:
        selected = [] if nothing else json.loads(parser.read_text('selected.json') or 'null')
    except json.JSONDecodeError:
        selected = None
    if not isinstance(selected, list):
        raise SelectionError('ERROR_SELECTION_MISSING', log_tail=log_tail)

    given = candidates or {}
    excluded = set(exclude)
    from_pool = {name for name in pool.names if name not in excluded} if pool is not None else set()
    names = from_pool | set(given)
    unknown = [key for key in selected if key not in names]
    if unknown:
        raise SelectionError('ERROR_SELECTION_MISSING', log_tail=f'unknown candidate keys {unknown}')
    graded = parameters.get('grade_candidates', True)
    window = (parameters.get('gamma_min', 0.0), parameters.get('gamma_max', float('inf')))
    strategy = parameters.get('strategy', 'maxvol')
    reasons = dict.fromkeys(selected, 'maxvol')
    if strategy != 'maxvol' and not nothing:
        try:
            choice = json.loads(parser.read_text('choice.json') or 'null')
        except json.JSONDecodeError:
            choice = None
        valid = isinstance(choice, list) and all(
            isinstance(entry, list) and len(entry) == 2 and entry[0] in names for entry in choice
        )
        if not valid:
            raise SelectionError(
                'ERROR_SELECTION_MISSING',
                log_tail=f'the `{strategy}` selection wrote no valid choice.json\n{log_tail}',
            )
        selected = [key for key, _ in choice]
        reasons = {key: reason for key, reason in choice}
    try:
        too_close = json.loads(parser.read_text('too_close.json') or '[]')
    except json.JSONDecodeError:
        too_close = []
    filled = []
    if parameters.get('fill_to_max'):
        filled = fill_selection(
            gamma,
            selected,
            window,
            parameters['max_structures'],
            by=parameters.get('fill_by', 'grade'),
            excluded=too_close,
        )
        selected = [*selected, *filled]
        reasons.update(dict.fromkeys(filled, 'fill'))
    structures = {  # from a pool, only the selected structures become nodes
        key: given[key].clone() if key in given else t.cast(StructurePoolData, pool).get_structure(key)
        for key in selected
    }
    report = orm.Dict(
        {
            'gamma': gamma,
            'selected': selected,
            'num_selected': len(selected),
            'num_candidates': len(names),
            'num_in_window': (
                sum(window[0] <= g < window[1] and key not in too_close for key, g in gamma.items())
                if graded
                else len(names) - len(too_close)
            ),
            'max_gamma': max(gamma.values(), default=None),
            'filled': filled,
            'strategy': strategy,
            'reasons': reasons,
            'too_close': too_close,
        }
    )
    return structures, report


class PaceSelectParser(PaceBaseParser):
    """Attach the selected structures and the gamma report; selecting nothing is a success."""

    def parse(self, **kwargs: t.Any) -> ExitCode | None:
        """Parse ``gamma.json`` and ``selected.json``."""
        inputs = self.node.inputs
        try:
            structures, report = read_selection(
                self,
                parameters=self.parameters,
                status=self.recorded_exit_status(),
                pool=inputs.pool if 'pool' in inputs else None,
                candidates=dict(inputs.candidates) if 'candidates' in inputs else {},
                exclude=inputs.exclude.get_list() if 'exclude' in inputs else (),
                log_files=('gamma.out', STDOUT_FILE),
            )
        except SelectionError as error:
            return t.cast(ExitCode, self.exit_codes[error.exit_code].format(**error.details))
        for key, structure in structures.items():
            self.out(f'selected.{key}', structure)
        self.out('report', report)
        return None
