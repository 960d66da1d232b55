"""The selection strategies of `aiida_pacemaker.scripts.selection` on synthetic feature sets."""

from __future__ import annotations

import numpy as np
import pytest

from aiida_pacemaker.scripts import selection


def clustered_pool(seed: int = 0):
    """One species; a dense cluster of 40 structures around (5, 0), a sparse one of 4 around (0, 5) and
    one far outlier at (60, 60); training atoms near the origin. Two atoms per structure."""
    rng = np.random.default_rng(seed)
    centres = [np.array([5.0, 0.0])] * 40 + [np.array([0.0, 5.0])] * 4 + [np.array([60.0, 60.0])]
    atoms, owners = [], []
    for index, centre in enumerate(centres):
        for _ in range(2):
            atoms.append(centre + rng.normal(scale=0.5, size=2))
            owners.append(index)
    training = rng.normal(scale=0.5, size=(10, 2))
    return {0: np.array(atoms)}, {0: np.array(owners)}, {0: training}


def test_standardise_drops_constant_columns_and_scales():
    candidates = {0: np.array([[1.0, 7.0, 0.0], [3.0, 7.0, 2.0]])}
    training = {0: np.array([[2.0, 7.0, 1.0]])}
    scaled_candidates, scaled_training = selection.standardise(candidates, training)
    assert scaled_candidates[0].shape == (2, 2)  # the constant column is gone
    both = np.vstack([scaled_training[0], scaled_candidates[0]])
    assert np.allclose(np.median(both, axis=0), 0.0)
    assert np.allclose(np.abs(both).max(axis=0), 1.0 / 1.4826 / np.sqrt(2))  # MAD 1: |x - median| = 1


def test_standardise_is_robust_to_an_outlier():
    typical = np.random.default_rng(0).normal(size=(50, 2))
    with_outlier = np.vstack([typical, [[1e4, 1e4]]])
    scaled, _ = selection.standardise({0: with_outlier}, {0: np.zeros((0, 2))})
    assert np.percentile(np.abs(scaled[0][:50]), 90) > 0.3  # the typical atoms are not squeezed to 0


def test_max_distance_reaches_for_the_outlier_first():
    features = selection.AtomFeatures(*clustered_pool())
    eligible = np.ones(45, dtype=bool)
    chosen = selection.max_distance(features, eligible, 3)
    assert chosen[0] == (44, 'maxdist')
    assert len({index for index, _ in chosen}) == 3


def test_lcmd_covers_the_dense_region_before_the_outlier():
    features = selection.AtomFeatures(*clustered_pool())
    chosen = [index for index, _ in selection.largest_cluster_max_distance(features, np.ones(45, bool), 3)]
    assert chosen[0] < 40  # the dense cluster outweighs one far-away structure
    assert len(set(chosen)) == 3


def test_lcmd_counts_picked_structures_as_covered():
    features = selection.AtomFeatures(*clustered_pool())
    chosen = selection.largest_cluster_max_distance(features, np.ones(45, bool), 5, picked=[3, 44])
    indices = [index for index, _ in chosen]
    assert 3 not in indices and 44 not in indices
    assert len(indices) == 5
    assert {reason for _, reason in chosen} == {'lcmd'}


@pytest.mark.parametrize('strategy', ['lcmd', 'maxdist'])
def test_budget_spent_and_only_eligible(strategy):
    features = selection.AtomFeatures(*clustered_pool())
    eligible = np.ones(45, dtype=bool)
    eligible[40:] = False
    choose = selection.largest_cluster_max_distance if strategy == 'lcmd' else selection.max_distance
    chosen = choose(features, eligible, 12)
    indices = [index for index, _ in chosen]
    assert len(indices) == len(set(indices)) == 12
    assert all(index < 40 for index in indices)
    assert eligible[40:].sum() == 0 and eligible[:40].all()  # the caller's mask is left alone
    assert len(choose(features, eligible, 100)) == 40  # fewer left than asked: all of them


def test_strategies_are_deterministic():
    first = selection.largest_cluster_max_distance(
        selection.AtomFeatures(*clustered_pool()), np.ones(45, bool), 10
    )
    second = selection.largest_cluster_max_distance(
        selection.AtomFeatures(*clustered_pool()), np.ones(45, bool), 10
    )
    assert first == second
    assert selection.random_draw(np.ones(45, bool), 10, 3) == selection.random_draw(np.ones(45, bool), 10, 3)
    assert selection.random_draw(np.ones(45, bool), 10, 3) != selection.random_draw(np.ones(45, bool), 10, 4)


def test_two_species_never_share_clusters():
    rng = np.random.default_rng(1)
    candidates = {0: rng.normal(size=(20, 3)), 1: rng.normal(size=(10, 3)) + 10.0}
    owners = {0: np.repeat(np.arange(10), 2), 1: np.arange(10)}
    training = {0: rng.normal(size=(5, 3)), 1: np.zeros((0, 3))}  # no training atom of species 1 yet
    features = selection.AtomFeatures(candidates, owners, training)
    chosen = selection.largest_cluster_max_distance(features, np.ones(10, bool), 4)
    assert len({index for index, _ in chosen}) == 4


def test_no_training_atoms_at_all():
    rng = np.random.default_rng(2)
    candidates = {0: rng.normal(size=(30, 4))}
    owners = {0: np.arange(30) // 3}
    features = selection.AtomFeatures(candidates, owners, {0: np.zeros((0, 4))})
    for choose in (selection.largest_cluster_max_distance, selection.max_distance):
        assert len(choose(features, np.ones(10, bool), 4)) == 4
