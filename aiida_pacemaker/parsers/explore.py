"""Parser of `PaceExploreCalculation`."""

from __future__ import annotations

import io
import json
import typing as t

from aiida import orm
from aiida.engine import ExitCode

from aiida_pacemaker.filenames import STDOUT_FILE

from .base import PaceBaseParser

__all__ = ('PaceExploreParser',)


class PaceExploreParser(PaceBaseParser):
    """Attach the candidates and the report, also when some trajectories exploded."""

    def parse(self, **kwargs: t.Any) -> ExitCode | None:
        """Parse ``explore_summary.json`` and ``candidates.extxyz``."""
        from ase.io import read

        log_tail = self.tail(STDOUT_FILE)
        try:
            summary = json.loads(self.read_text('explore_summary.json') or 'null')
        except json.JSONDecodeError:
            summary = None
        if not isinstance(summary, dict):
            status = self.recorded_exit_status()
            if status not in (None, 0):
                return t.cast(
                    ExitCode, self.exit_codes.ERROR_EXPLORE_FAILED.format(status=status, log_tail=log_tail)
                )
            return t.cast(ExitCode, self.exit_codes.ERROR_SUMMARY_MISSING.format(log_tail=log_tail))
        text = self.read_text('candidates.extxyz') or ''
        try:
            snapshots = read(io.StringIO(text), index=':', format='extxyz') if text.strip() else []
        except Exception as exception:
            return t.cast(ExitCode, self.exit_codes.ERROR_CANDIDATES_UNREADABLE.format(detail=str(exception)))
        gamma = {}
        for index, atoms in enumerate(snapshots):
            key = f'candidate_{index:04d}'
            gamma[key] = float(atoms.info.get('gamma', 0.0))
            for info_key in ('gamma', 'trajectory', 'step'):
                atoms.info.pop(info_key, None)
            atoms.calc = None
            self.out(f'candidates.{key}', orm.StructureData(ase=atoms))
        trajectories = summary.get('trajectories', [])
        self.out(
            'report',
            orm.Dict(
                {
                    'gamma': gamma,
                    'num_candidates': len(gamma),
                    'trajectories': trajectories,
                    'max_gamma': max((r.get('max_gamma', 0.0) for r in trajectories), default=None),
                }
            ),
        )
        status = self.recorded_exit_status()
        if status not in (None, 0):
            return t.cast(
                ExitCode, self.exit_codes.ERROR_EXPLORE_FAILED.format(status=status, log_tail=log_tail)
            )
        exploded = [r['reason'] for r in trajectories if str(r.get('reason', '')).startswith('exploded')]
        if exploded:
            return t.cast(
                ExitCode,
                self.exit_codes.ERROR_MD_EXPLODED.format(
                    count=len(exploded), reasons='; '.join(exploded[:3])
                ),
            )
        return None
