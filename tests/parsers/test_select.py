"""`fill_selection`: how `fill_to_max` tops up pace_select's choice (the real run is in tests/calculations/test_activeset_select_explore.py)."""

from __future__ import annotations

import math

from aiida_pacemaker.parsers.select import fill_selection

GAMMA = {'a': 0.5, 'b': 3.0, 'c': 7.0, 'd': 3.0, 'e': 120.0, 'f': 1.2}


def test_fills_with_highest_grades_first():
    assert fill_selection(GAMMA, ['e'], (0.0, math.inf), 4) == ['c', 'b', 'd']  # b, d tie: by key


def test_respects_the_window():
    # e is above gamma_max, a and f below gamma_min: never chosen, even if the budget stays unspent
    assert fill_selection(GAMMA, [], (2.0, 100.0), 5) == ['c', 'b', 'd']
    assert fill_selection(GAMMA, [], (3.0, 7.0), 5) == ['b', 'd']  # [min, max): 7.0 is out


def test_nothing_to_fill():
    assert fill_selection(GAMMA, ['a', 'b'], (0.0, math.inf), 2) == []
    assert fill_selection(GAMMA, ['a', 'b', 'c'], (0.0, math.inf), 2) == []
    assert fill_selection({}, [], (0.0, math.inf), 3) == []
    assert fill_selection(GAMMA, list(GAMMA), (0.0, math.inf), 10) == []


def test_random_fill_is_reproducible_and_in_window():
    gamma = {f'k{i:02d}': float(i) for i in range(40)}
    first = fill_selection(gamma, ['k39'], (5.0, 35.0), 11, by='random')
    reordered = dict(reversed(list(gamma.items())))
    assert first == fill_selection(reordered, ['k39'], (5.0, 35.0), 11, by='random')
    assert len(first) == len(set(first)) == 10
    assert all(5.0 <= gamma[key] < 35.0 for key in first)
    assert first != sorted(first, key=lambda key: -gamma[key])  # not the grade order
    assert set(fill_selection(gamma, [], (38.0, 100.0), 5, by='random')) == {'k38', 'k39'}  # fewer left
    assert fill_selection(gamma, ['k00', 'k01'], (0.0, math.inf), 2, by='random') == []
