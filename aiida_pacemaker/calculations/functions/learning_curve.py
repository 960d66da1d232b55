"""The learning curve of an active-learning run, as a calcfunction over the cycles' outputs."""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.engine import calcfunction

__all__ = ('LEARNING_CURVE_METRICS', 'build_learning_curve')

LEARNING_CURVE_METRICS = (
    'train_energy_rmse',
    'train_force_rmse',
    'test_energy_rmse',
    'test_force_rmse',
    'iterations',
)


@calcfunction
def build_learning_curve(**kwargs: t.Any) -> orm.List:
    """One row per cycle k from ``metrics_k`` (Dict), ``training_set_k``, optional ``selection_k``
    (the select report) and ``added_k`` (the merge's record of added structures).

    Row keys: ``cycle``, ``num_structures``, ``num_atoms``, the RMSEs (meV/atom, meV/Å),
    ``iterations``, ``num_candidates``, ``max_gamma``, ``num_selected``, ``gamma`` (sorted
    max gamma of every candidate), ``num_labelled``, ``training_set_uuid``.
    """
    cycles = sorted(int(label.split('_')[-1]) for label in kwargs if label.startswith('metrics_'))
    rows = []
    for cycle in cycles:
        metrics = kwargs[f'metrics_{cycle}'].get_dict()
        training_set = kwargs[f'training_set_{cycle}']
        row: dict[str, t.Any] = {
            'cycle': cycle,
            'num_structures': training_set.num_structures,
            'num_atoms': training_set.num_atoms,
            'training_set_uuid': training_set.uuid,
        }
        row.update({key: metrics.get(key) for key in LEARNING_CURVE_METRICS})
        selection = kwargs.get(f'selection_{cycle}')
        if selection is not None:
            report = selection.get_dict()
            row.update(
                num_candidates=report['num_candidates'],
                max_gamma=report['max_gamma'],
                num_selected=report['num_selected'],
                gamma=sorted(report['gamma'].values()),
            )
        added = kwargs.get(f'added_{cycle}')
        row['num_labelled'] = len(added['added']) if added is not None else 0
        rows.append(row)
    return orm.List(rows)
