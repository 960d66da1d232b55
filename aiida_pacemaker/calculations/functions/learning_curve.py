"""The learning curve of an active-learning run: one row per cycle, built in one place.

:func:`learning_curve_row` makes a row from a cycle's nodes; the workchain uses it while it
runs, :func:`build_learning_curve` (a calcfunction, the ``learning_curve`` output) at the end,
and :func:`aiida_pacemaker.tools.provenance.learning_curve` to rebuild the curve of a run that
is still running or failed.
"""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.engine import calcfunction

__all__ = (
    'EXTRAPOLATING',
    'LEARNING_CURVE_METRICS',
    'build_learning_curve',
    'learning_curve_row',
    'num_extrapolating',
)

#: the extrapolation grade above which a potential extrapolates (its active set's hull ends at 1)
EXTRAPOLATING = 1.0

#: keys copied from the fit's ``metrics``
LEARNING_CURVE_METRICS = (
    'train_energy_rmse',
    'train_force_rmse',
    'test_energy_rmse',
    'test_force_rmse',
    'iterations',
    'stopped_by',
)


def learning_curve_row(
    cycle: int,
    metrics: dict[str, t.Any],
    training_set: orm.Data,
    selection: dict[str, t.Any] | None = None,
    added: dict[str, t.Any] | None = None,
    fit: dict[str, t.Any] | None = None,
    potential: orm.Data | None = None,
) -> dict[str, t.Any]:
    """One row of the learning curve.

    :param metrics: the fit's metrics; :param training_set: what it was trained on; :param selection: the
        select report of the cycle; :param added: the merge's record of added structures; :param fit: how
        the cycle's fit was chosen (``refitted``, ``previous_force_rmse``); :param potential: the cycle's potential.

    Keys: ``cycle``, ``num_structures``, ``num_atoms``, ``training_set_uuid``, ``potential_uuid``, the RMSEs (meV/atom,
    meV/Å), ``iterations``, ``stopped_by``, ``refitted`` (the fine-tuned fit stalled and a fit from
    scratch was kept), ``previous_force_rmse`` (meV/Å: the kept potential on the previous cycle's
    structures), ``num_candidates``, ``max_gamma``, ``num_selected``, ``gamma`` (sorted max gamma of
    every candidate), ``strategy``, ``num_labelled``, ``num_augmented`` (pace_augment's structures in the
    fit's data beside the ``num_structures`` labelled ones; the training RMSEs are then those of the labelled
    structures alone).
    """
    row: dict[str, t.Any] = {
        'cycle': cycle,
        'num_structures': training_set.num_structures,
        'num_atoms': training_set.num_atoms,
        'training_set_uuid': training_set.uuid,
        'potential_uuid': potential.uuid if potential is not None else None,
    }
    row.update({key: metrics.get(key) for key in LEARNING_CURVE_METRICS})
    fit = fit or {}
    if fit.get('num_augmented'):  # a fit with augmented structures: the errors on the labelled ones
        row['train_energy_rmse'] = fit['labelled_train_energy_rmse']
        row['train_force_rmse'] = fit['labelled_train_force_rmse']
    row['num_augmented'] = fit.get('num_augmented', 0)
    row['refitted'] = bool(fit.get('refitted', False))
    row['previous_force_rmse'] = fit.get('previous_force_rmse')
    if selection is not None:
        row.update(
            num_candidates=selection['num_candidates'],
            max_gamma=selection['max_gamma'],
            num_selected=selection['num_selected'],
            gamma=sorted(selection['gamma'].values()),
            strategy=selection.get('strategy', 'maxvol'),
        )
    row['num_labelled'] = len(added['added']) if added is not None else 0
    return row


def num_extrapolating(row: dict[str, t.Any]) -> int | None:
    """How many of a cycle's candidates the potential extrapolates to (grade at least :data:`EXTRAPOLATING`);
    None for a row without a selection."""
    if row.get('gamma') is None:
        return None
    return sum(1 for grade in row['gamma'] if grade >= EXTRAPOLATING)


@calcfunction
def build_learning_curve(**kwargs: t.Any) -> orm.List:
    """One row per cycle k (see :func:`learning_curve_row`) from ``metrics_k`` (Dict),
    ``training_set_k``, optional ``potential_k``, ``selection_k`` (the select report), ``added_k`` (the
    merge's record of added structures) and ``fit_k`` (Dict: how the fit was chosen).
    """
    cycles = sorted(int(label.split('_')[-1]) for label in kwargs if label.startswith('metrics_'))
    rows = []
    for cycle in cycles:

        def optional(name: str, cycle: int = cycle) -> dict[str, t.Any] | None:
            node = kwargs.get(f'{name}_{cycle}')
            return node.get_dict() if node is not None else None

        rows.append(
            learning_curve_row(
                cycle,
                kwargs[f'metrics_{cycle}'].get_dict(),
                kwargs[f'training_set_{cycle}'],
                selection=optional('selection'),
                added=optional('added'),
                fit=optional('fit'),
                potential=kwargs.get(f'potential_{cycle}'),
            )
        )
    return orm.List(rows)
