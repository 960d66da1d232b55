"""Checks of the active-learning inputs that can be made before anything runs.

Every check returns one line naming the key, the value and the fix (or None). They are called by
the workchain's input validator, so the builder, the run-config reader and a hand-made builder are
all refused the same way, before the first process starts.
"""

from __future__ import annotations

import math
import typing as t

from aiida import orm

__all__ = ('check_loop_settings', 'check_structures')


def _number(value: t.Any) -> float | None:
    value = getattr(value, 'value', value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def check_loop_settings(inputs: t.Mapping[str, t.Any]) -> str | None:
    """The loop's own settings: cycles, budget, the gamma window, the refit tolerance."""
    max_cycles = _number(inputs.get('max_cycles', 1))
    if max_cycles is None or max_cycles < 1 or not max_cycles.is_integer():
        return f'`max_cycles` must be an integer of at least 1 (the number of fits), got {_shown(inputs, "max_cycles")}'
    budget = _number(inputs.get('max_new_structures_per_cycle', 1))
    if budget is None or budget < 1 or not budget.is_integer():
        return (
            '`max_new_structures_per_cycle` must be an integer of at least 1 (labels per cycle), got '
            f'{_shown(inputs, "max_new_structures_per_cycle")}'
        )
    gamma_select = _number(inputs.get('gamma_select', 0.0))
    if gamma_select is None or gamma_select < 0 or not math.isfinite(gamma_select):
        return (
            '`gamma_select` must be a non-negative number (an extrapolation grade, usually 1 to 5), got '
            f'{_shown(inputs, "gamma_select")}'
        )
    if inputs.get('gamma_max') is not None:
        gamma_max = _number(inputs['gamma_max'])
        if gamma_max is None or gamma_max <= gamma_select:
            return (
                f'the gamma window is empty: `gamma_max` ({_shown(inputs, "gamma_max")}) must be larger than '
                f'`gamma_select` ({gamma_select:g}); raise `gamma_max` or lower `gamma_select`'
            )
    if inputs.get('target_test_force_rmse') is not None:
        target = _number(inputs['target_test_force_rmse'])
        if target is None or target <= 0:
            return f'`target_test_force_rmse` must be a positive number (meV/Å), got {_shown(inputs, "target_test_force_rmse")}'
    for switch in ('fine_tune', 'active_set_in_fit', 'select_in_fit'):
        value = getattr(inputs.get(switch, True), 'value', inputs.get(switch, True))
        if not isinstance(value, bool):
            return f'`{switch}` must be true or false, got {value!r}'
    tolerance = _number(inputs.get('refit_tolerance', 0.0))
    if tolerance is None or tolerance < -1.0:
        return (
            '`refit_tolerance` must be a number of at least -1 (-1: refit after every fine-tuned fit), got '
            f'{_shown(inputs, "refit_tolerance")}'
        )
    return None


def _shown(inputs: t.Mapping[str, t.Any], key: str) -> str:
    value = inputs.get(key)
    return repr(getattr(value, 'value', value))


def _symbols(structure: orm.StructureData) -> set[str]:
    """The chemical symbols of ``structure`` (not its kind names: a tagged kind `Cu1` is copper)."""
    return set(structure.get_symbols_set())


def check_structures(
    groups: t.Mapping[str, t.Mapping[str, orm.StructureData]], elements: t.Collection[str] | None
) -> str | None:
    """Unlabelled structures by input name (``structures``, ``pool``, ``explore.structures``): every cell
    fully periodic or not periodic at all, and every element one of the potential's ``elements``."""
    for where, structures in groups.items():
        for key, structure in structures.items():
            pbc = tuple(structure.pbc)
            if any(pbc) and not all(pbc):
                return (
                    f'`{where}.{key}` is periodic in only some directions (pbc={list(pbc)}); pacemaker supports '
                    'only fully periodic or non-periodic cells: for a slab, add vacuum wider than the cutoff and '
                    'set pbc=True in all three directions'
                )
            if elements is not None:
                unknown = sorted(_symbols(structure) - set(elements))
                if unknown:
                    return (
                        f"`{where}.{key}` holds {', '.join(unknown)}, which the potential's elements "
                        f'{sorted(elements)} do not include: add them to `elements` or leave the structure out'
                    )
    return None
