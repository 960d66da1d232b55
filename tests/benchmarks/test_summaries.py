"""The active-learning benchmark's summary: the bootstrap interval over seeds of a geometric mean."""

from __future__ import annotations

import math
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / 'benchmarks'))

from bench_active_learning import seed_interval


def test_seed_interval_brackets_the_mean_and_narrows_with_agreeing_seeds():
    spread = {
        f'{seed}/{budget}': value for seed, value in enumerate((0.5, 1.0, 2.0, 0.7)) for budget in (25, 70)
    }
    low, high = seed_interval(spread)
    mean = math.exp(sum(math.log(v) for v in spread.values()) / len(spread))
    assert low < mean < high
    assert seed_interval(spread) == [low, high]  # seeded: the same interval every time
    agreeing = {f'{seed}/{budget}': 0.8 for seed in range(4) for budget in (25, 70)}
    assert seed_interval(agreeing) == pytest.approx([0.8, 0.8])
    # a seed is resampled with all its budgets: two budgets of one seed are not two seeds
    assert all(math.isnan(x) for x in seed_interval({'0/25': 0.5, '0/70': 2.0}))


def test_random_order_is_the_same_for_every_script_and_insertion_order():
    """The random arm's order (shared by the benchmark and its probes): a seeded permutation of the
    candidates by key, whatever order the dictionary was built in."""
    from bench_active_learning import random_order

    candidates = {f'p{i:03d}': i for i in range(40)}
    reversed_candidates = dict(reversed(list(candidates.items())))
    order = random_order(candidates, 3)
    assert order == random_order(reversed_candidates, 3)
    assert sorted(order) == list(range(40)) and order != list(range(40))
    assert order != random_order(candidates, 4)
