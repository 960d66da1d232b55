"""When a fine-tuned fit has stalled: the rule that the active-learning workchain applies each cycle,
shared with :mod:`aiida_pacemaker.tools.comparison` so that a comparison arm fits the same way.
"""

from __future__ import annotations

import typing as t

import numpy as np
from aiida import orm

__all__ = ('force_rmse_of_first', 'has_stalled')


def force_rmse_of_first(errors: orm.ArrayData, natoms: t.Sequence[int] | np.ndarray) -> float | None:
    """Force RMSE (meV/Å) over the first ``len(natoms)`` structures of a fit's ``per_structure_errors``
    (weighted by their atom counts ``natoms``); None when they are not all known."""
    natoms = np.asarray(natoms, dtype=float)
    forces = errors.get_array('forces')[: len(natoms)]
    if len(forces) != len(natoms) or not np.all(np.isfinite(forces)) or not natoms.sum():
        return None
    return float(np.sqrt(np.sum(natoms * forces**2) / np.sum(natoms)))


def has_stalled(now: float | None, before: float | None, tolerance: float) -> bool:
    """Whether a fine-tuned fit with force RMSE ``now`` on the previous training structures is worse than
    the previous potential's ``before`` on the same structures by more than ``tolerance`` (a fraction)."""
    if now is None or before is None:
        return False
    return now > (1.0 + tolerance) * before
