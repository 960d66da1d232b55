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


def test_representative_starts_in_the_dense_region_and_puts_the_outlier_after_the_clusters(monkeypatch):
    """Facility location with capped distances: the first pick sits in the dense cluster (40 structures),
    the sparse cluster (4) comes before the far outlier (one structure, which counts as two far atoms,
    not as its distance); without the cap the outlier comes before the sparse cluster."""
    features = selection.AtomFeatures(*clustered_pool())
    chosen = selection.representative(features, np.ones(45, bool), 4)
    indices = [index for index, _ in chosen]
    assert indices[0] < 40
    sparse = next(i for i, index in enumerate(indices) if 40 <= index < 44)
    assert 44 not in indices[: sparse + 1]
    assert len(set(indices)) == 4
    monkeypatch.setattr(selection, 'CAP_QUANTILE', 1.0)
    uncapped = [index for index, _ in selection.representative(features, np.ones(45, bool), 4)]
    assert uncapped.index(44) < min(uncapped.index(i) for i in uncapped if 40 <= i < 44)
    assert {reason for _, reason in chosen} == {'representative'}


def test_representative_lowers_the_mean_distance_more_than_farthest_point():
    """What it optimises: the mean distance from a pool atom to its nearest training or picked atom,
    lower after its picks than after as many farthest-point or LCMD picks."""
    atoms, owners, training = clustered_pool()
    features = selection.AtomFeatures(atoms, owners, training)

    def mean_distance(chosen):
        centres = np.vstack(
            [features.training[0], *(features.candidates[0][owners[0] == i] for i, _ in chosen)]
        )
        return selection._distances(features.candidates[0], centres).min(axis=1).mean()

    budget = 3
    ours = mean_distance(selection.representative(features, np.ones(45, bool), budget))
    for other in (selection.max_distance, selection.largest_cluster_max_distance):
        assert ours <= mean_distance(other(features, np.ones(45, bool), budget)) + 1e-12


def test_representative_gains_are_exact_in_blocks(monkeypatch):
    """The block-wise gains of every structure equal the one-by-one gain, whatever the block size (blocks
    never split a structure), with two species and no training atom of one of them."""
    rng = np.random.default_rng(5)
    counts = rng.integers(1, 7, size=60)
    owners = np.repeat(np.arange(60), counts)
    species = rng.integers(0, 2, size=len(owners))
    candidates = {s: rng.normal(size=(int((species == s).sum()), 4)) for s in (0, 1)}
    features = selection.AtomFeatures(
        candidates,
        {s: owners[species == s] for s in (0, 1)},
        {0: rng.normal(size=(8, 4)), 1: np.zeros((0, 4))},
    )
    demand = selection._Demand(features, [], seed=0)
    exact = np.array([demand.gain(i) for i in range(60)])
    for block in (5, 17, 4096):
        monkeypatch.setattr(selection, 'CHUNK', block)
        assert np.allclose(demand.gains(np.arange(60)), exact)


@pytest.mark.parametrize('picked', [[], [3, 44]])
def test_representative_budget_eligibility_and_determinism(picked):
    features = selection.AtomFeatures(*clustered_pool())
    eligible = np.ones(45, dtype=bool)
    eligible[10:20] = False
    chosen = selection.representative(features, eligible, 12, picked=picked, seed=1)
    indices = [index for index, _ in chosen]
    assert len(indices) == len(set(indices)) == 12
    assert not set(indices) & (set(range(10, 20)) | set(picked))
    assert eligible[:10].all() and not eligible[10:20].any()  # the caller's mask is left alone
    assert chosen == selection.representative(features, eligible, 12, picked=picked, seed=1)
    assert len(selection.representative(features, eligible, 100, picked=picked)) == 35 - len(
        set(picked) - set(range(10, 20))
    )


def test_representative_samples_the_demand_of_a_large_pool(monkeypatch):
    monkeypatch.setattr(selection, 'DEMAND', 16)
    features = selection.AtomFeatures(*clustered_pool())
    demand = selection._Demand(features, [], seed=0)
    assert demand.points[0].shape == (16, features.candidates[0].shape[1])
    assert len(selection.representative(features, np.ones(45, bool), 5)) == 5


def test_energy_above_composition_removes_what_composition_predicts():
    # two species of -3 and -4 eV per atom, and what lies above that per structure
    compositions = np.array([[8, 0], [4, 4], [0, 8], [6, 2], [2, 6]])
    above = np.array([0.0, 0.1, 0.0, 0.3, 0.0])  # eV/atom
    energies = compositions @ np.array([-3.0, -4.0]) + above * compositions.sum(axis=1)
    residual = selection.energy_above_composition(energies, compositions)
    assert residual.shape == (5,)
    assert np.argmax(residual) == 3 and np.argsort(residual)[-2] == 1  # the order of `above` is kept
    assert residual[[0, 2, 4]].max() < residual[[1, 3]].min()  # what lies above stands out
    assert (
        abs(residual.mean()) < 1e-9
    )  # least squares over cells of 8 atoms: the reference sits in the middle
    one_element = selection.energy_above_composition(np.array([-24.0, -23.2]), np.array([[8], [8]]))
    assert np.allclose(one_element, [-0.05, 0.05])  # one element: energy per atom minus the mean
    assert selection.energy_above_composition(np.zeros(0), np.zeros((0, 1))).shape == (0,)


def stratified_pool():
    """The clustered pool with an energy per structure: the dense cluster low (0-0.4), the sparse one
    mid (1), the outlier high (5); training structures all high (the tail a MaxVol-led set holds)."""
    candidates, owners, training = clustered_pool()
    energies = np.concatenate([np.linspace(0.0, 0.4, 40), [1.0] * 4, [5.0]])
    return selection.AtomFeatures(candidates, owners, training), energies, np.full(5, 3.0)


def test_stratified_fills_the_strata_the_training_set_lacks():
    features, energies, training_energies = stratified_pool()
    chosen = selection.stratified(features, np.ones(45, bool), 6, energies, training_energies, strata=5)
    indices = [index for index, _ in chosen]
    assert len(set(indices)) == 6 and {reason for _, reason in chosen} == {'stratified'}
    # the five training structures sit in the top stratum: every pick goes below it
    edges = np.quantile(energies, [0.2, 0.4, 0.6, 0.8])
    strata = np.searchsorted(edges, energies[indices], side='right')
    assert (strata < 4).all()
    assert set(strata) == {0, 1, 2, 3}  # spread over the lacking strata, not piled into one


def test_stratified_counts_the_tail_picks_and_spends_the_budget():
    features, energies, _ = stratified_pool()
    no_training = np.zeros(0)
    picked = [40, 41, 42, 43, 44]  # the tail: the sparse cluster and the outlier, strata 3-4
    chosen = selection.stratified(features, np.ones(45, bool), 10, energies, no_training, picked)
    indices = [index for index, _ in chosen]
    assert len(indices) == len(set(indices)) == 10 and not set(indices) & set(picked)
    assert all(index < 40 for index in indices)  # the low strata first, where nothing was picked
    # determinism, and a budget beyond the candidates left gives all of them
    assert chosen == selection.stratified(features, np.ones(45, bool), 10, energies, no_training, picked)
    assert len(selection.stratified(features, np.ones(45, bool), 100, energies, no_training, picked)) == 40


def test_stratified_only_eligible_and_caller_mask_untouched():
    features, energies, training_energies = stratified_pool()
    eligible = np.ones(45, dtype=bool)
    eligible[:20] = False  # the lowest strata have nothing left: the picks go to what remains
    chosen = selection.stratified(features, eligible, 8, energies, training_energies)
    indices = [index for index, _ in chosen]
    assert len(indices) == 8 and all(index >= 20 for index in indices)
    assert not eligible[:20].any() and eligible[20:].all()
    assert selection.stratified(features, eligible, 0, energies, training_energies) == []


def test_composition_strata_bin_by_the_fraction_of_an_element():
    # a binary: 8-atom cells with 0..8 atoms of the second element; two training cells
    candidates = np.array([[8 - b, b] for b in range(9)])
    width, bins, held = selection.composition_strata(candidates, np.array([[8, 0], [0, 8]]), 3)
    assert width == 3 and set(bins) == {0, 1, 2}
    order = bins if bins[0] <= bins[8] else bins[::-1]
    assert (np.diff(order) >= 0).all()  # monotonic in the fraction (either sign of the axis)
    assert held.tolist() == [bins[0], bins[8]]  # training cells share their candidates' bins
    # the same fractions in cells of another size fall in the same bin
    _, bins, _ = selection.composition_strata(np.array([[4, 4], [8, 8], [8, 0]]), np.zeros((0, 2)), 3)
    assert bins[0] == bins[1] != bins[2]
    # nothing to split: one element, or one composition
    for counts in (np.array([[8], [16], [4]]), np.array([[4, 4], [8, 8], [2, 2]])):
        width, bins, held = selection.composition_strata(counts, counts[:1], 3)
        assert width == 1 and not bins.any() and not held.any()
    # a ternary gets bins along its widest spread
    ternary = np.array([[8, 0, 0], [0, 8, 0], [0, 0, 8], [4, 4, 0], [0, 4, 4], [4, 0, 4]])
    assert selection.composition_strata(ternary, np.zeros((0, 3)), 3)[0] == 3


def test_stratified_pulls_the_training_set_towards_the_pools_compositions():
    features, energies, _ = stratified_pool()
    # the candidates alternate between an A-rich and a B-rich composition; the training set is A-rich,
    # one structure in each energy stratum: what it lacks is the B-rich half of every stratum
    compositions = np.array([[6, 2] if index % 2 else [2, 6] for index in range(45)])
    training = np.array([[6, 2]] * 5)
    training_energies = np.array([0.0, 0.1, 0.2, 0.3, 1.0])
    chosen = selection.stratified(
        features,
        np.ones(45, bool),
        6,
        energies,
        training_energies,
        compositions=compositions,
        training_compositions=training,
    )
    indices = [index for index, _ in chosen]
    assert len(set(indices)) == 6
    assert sum(index % 2 == 0 for index in indices) >= 5  # the B-rich cells the training set lacks
    # one composition throughout: the same picks as the energy strata alone
    same = np.array([[4, 4]] * 45)
    plain = selection.stratified(features, np.ones(45, bool), 6, energies, training_energies)
    assert sum(index % 2 == 0 for index, _ in plain) < 5  # composition blind without them
    assert plain == selection.stratified(
        features,
        np.ones(45, bool),
        6,
        energies,
        training_energies,
        compositions=same,
        training_compositions=np.array([[4, 4]] * 5),
    )


def test_stratified_with_compositions_and_no_training_structures():
    features, energies, _ = stratified_pool()
    compositions = np.array([[6, 2] if index % 2 else [2, 6] for index in range(45)])
    chosen = selection.stratified(
        features,
        np.ones(45, bool),
        6,
        energies,
        np.zeros(0),
        compositions=compositions,
        training_compositions=np.zeros((0, 2)),
    )
    assert len({index for index, _ in chosen}) == 6
