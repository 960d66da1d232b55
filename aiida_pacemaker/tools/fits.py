"""When a fine-tuned fit has stalled: the rule that the active-learning workchain applies each cycle,
shared with :mod:`aiida_pacemaker.tools.comparison` so that a comparison arm fits the same way.
"""

from __future__ import annotations

import typing as t

import numpy as np
from aiida import orm

__all__ = ('energy_rmse_of_first', 'force_rmse_of_first', 'has_stalled', 'labelled_train_errors')


def force_rmse_of_first(errors: orm.ArrayData, natoms: t.Sequence[int] | np.ndarray) -> float | None:
    """Force RMSE (meV/Å) over the first ``len(natoms)`` structures of a fit's ``per_structure_errors``
    (weighted by their atom counts ``natoms``); None when they are not all known."""
    natoms = np.asarray(natoms, dtype=float)
    forces = errors.get_array('forces')[: len(natoms)]
    if len(forces) != len(natoms) or not np.all(np.isfinite(forces)) or not natoms.sum():
        return None
    return float(np.sqrt(np.sum(natoms * forces**2) / np.sum(natoms)))


def energy_rmse_of_first(errors: orm.ArrayData, count: int) -> float | None:
    """Energy RMSE (meV/atom) over the first ``count`` structures of a fit's ``per_structure_errors`` (each
    structure's energy error per atom, as pacemaker's ``rmse_epa``); None when they are not all known."""
    energies = errors.get_array('energy')[:count]
    if len(energies) != count or not count or not np.all(np.isfinite(energies)):
        return None
    return float(np.sqrt(np.mean(energies**2)))


def labelled_train_errors(
    num_fitted: int, errors: orm.ArrayData | None, labelled_natoms: t.Sequence[int] | np.ndarray
) -> dict[str, t.Any]:
    """For a fit on labelled structures followed by augmented ones: how many were augmented, and the
    training RMSEs on the labelled ones (``labelled_train_energy_rmse``, meV/atom;
    ``labelled_train_force_rmse``, meV/Å) from the fit's ``per_structure_errors`` (None without them).

    :param num_fitted: structures in the fit's training set; :param labelled_natoms: the atom counts of
        the labelled structures, its first ones.
    """
    return {
        'num_augmented': num_fitted - len(labelled_natoms),
        'labelled_train_energy_rmse': energy_rmse_of_first(errors, len(labelled_natoms))
        if errors is not None
        else None,
        'labelled_train_force_rmse': force_rmse_of_first(errors, labelled_natoms)
        if errors is not None
        else None,
    }


def has_stalled(now: float | None, before: float | None, tolerance: float) -> bool:
    """Whether a fine-tuned fit with force RMSE ``now`` on the previous training structures is worse than
    the previous potential's ``before`` on the same structures by more than ``tolerance`` (a fraction)."""
    if now is None or before is None:
        return False
    return now > (1.0 + tolerance) * before
