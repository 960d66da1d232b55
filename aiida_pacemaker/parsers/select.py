"""Parser of `PaceSelectCalculation`."""

from __future__ import annotations

import json
import typing as t

from aiida import orm
from aiida.engine import ExitCode

from aiida_pacemaker.data.structure_pool import StructurePoolData
from aiida_pacemaker.filenames import STDOUT_FILE

from .base import PaceBaseParser

__all__ = ('PaceSelectParser', 'fill_selection')


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


class PaceSelectParser(PaceBaseParser):
    """Attach the selected structures and the gamma report; selecting nothing is a success."""

    def parse(self, **kwargs: t.Any) -> ExitCode | None:
        """Parse ``gamma.json`` and ``selected.json``."""
        log_tail = self.tail('gamma.out', STDOUT_FILE)
        try:
            gamma = json.loads(self.read_text('gamma.json') or 'null')
        except json.JSONDecodeError:
            gamma = None
        if not isinstance(gamma, dict):
            return t.cast(ExitCode, self.exit_codes.ERROR_GAMMA_MISSING.format(log_tail=log_tail))
        nothing = 'nothing_to_select' in self.retrieved_names()
        status = self.recorded_exit_status()
        if not nothing:
            if status is None:
                return t.cast(ExitCode, self.exit_codes.ERROR_NO_EXIT_STATUS.format(detail=f'\n{log_tail}'))
            if status != 0:
                return t.cast(
                    ExitCode,
                    self.exit_codes.ERROR_SELECT_FAILED.format(
                        status=status, log_tail=self.tail(STDOUT_FILE)
                    ),
                )
        try:
            selected = [] if nothing else json.loads(self.read_text('selected.json') or 'null')
        except json.JSONDecodeError:
            selected = None
        if not isinstance(selected, list):
            return t.cast(ExitCode, self.exit_codes.ERROR_SELECTION_MISSING.format(log_tail=log_tail))

        inputs = self.node.inputs
        pool = inputs.pool if 'pool' in inputs else None
        given = dict(inputs.candidates) if 'candidates' in inputs else {}
        excluded = set(inputs.exclude.get_list()) if 'exclude' in inputs else set()
        from_pool = {name for name in pool.names if name not in excluded} if pool is not None else set()
        candidates = from_pool | set(given)
        unknown = [key for key in selected if key not in candidates]
        if unknown:
            return t.cast(
                ExitCode,
                self.exit_codes.ERROR_SELECTION_MISSING.format(log_tail=f'unknown candidate keys {unknown}'),
            )
        parameters = self.parameters
        graded = parameters.get('grade_candidates', True)
        window = (parameters.get('gamma_min', 0.0), parameters.get('gamma_max', float('inf')))
        strategy = parameters.get('strategy', 'maxvol')
        reasons = dict.fromkeys(selected, 'maxvol')
        if strategy != 'maxvol' and not nothing:
            try:
                choice = json.loads(self.read_text('choice.json') or 'null')
            except json.JSONDecodeError:
                choice = None
            valid = isinstance(choice, list) and all(
                isinstance(entry, list) and len(entry) == 2 and entry[0] in candidates for entry in choice
            )
            if not valid:
                return t.cast(
                    ExitCode,
                    self.exit_codes.ERROR_SELECTION_MISSING.format(
                        log_tail=f'the `{strategy}` selection wrote no valid choice.json\n{log_tail}'
                    ),
                )
            selected = [key for key, _ in choice]
            reasons = {key: reason for key, reason in choice}
        try:
            too_close = json.loads(self.read_text('too_close.json') or '[]')
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
        for key in selected:  # from a pool, only the selected structures become nodes
            structure = (
                given[key].clone() if key in given else t.cast(StructurePoolData, pool).get_structure(key)
            )
            self.out(f'selected.{key}', structure)
        self.out(
            'report',
            orm.Dict(
                {
                    'gamma': gamma,
                    'selected': selected,
                    'num_selected': len(selected),
                    'num_candidates': len(candidates),
                    'num_in_window': (
                        sum(window[0] <= g < window[1] and key not in too_close for key, g in gamma.items())
                        if graded
                        else len(candidates) - len(too_close)
                    ),
                    'max_gamma': max(gamma.values(), default=None),
                    'filled': filled,
                    'strategy': strategy,
                    'reasons': reasons,
                    'too_close': too_close,
                }
            ),
        )
        return None
