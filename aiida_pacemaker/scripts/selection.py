"""Batch selection of structures in ACE's own feature space (numpy only).

Copied into the job folder of ``pacemaker.select`` next to ``gamma_report.py`` and imported
from there, so it must not import ``aiida`` or ``aiida_pacemaker``; the package imports it
too, for its unit tests.

The features are the per-atom linear B-projections of the current potential (what its
energy is linear in), one block per species, standardised column by column over the
training and candidate atoms together, and divided by the square root of the number of
columns, so that a squared distance is a mean over features and the species are comparable.
Distances are between atoms of the same species only.

Strategies (each returns an ordered list of ``(structure index, reason)``):

- :func:`max_distance`: greedy farthest point: the structure that holds the atom farthest
  from every training atom (and every atom already picked) goes next. Pure diversity; it
  also reaches for outliers, like MaxVol.
- :func:`largest_cluster_max_distance`: LCMD (Holzmüller et al., JMLR 24, 2023): every
  candidate atom belongs to the cluster of its nearest training (or picked) atom; the
  cluster with the largest sum of distances is the one most in need of a new centre, and
  its farthest atom's structure goes next. A big, spread-out region of the pool outweighs
  one far-away atom, so this covers the typical part of the pool first. (The paper sums
  squared distances; plain distances keep a single unphysical outlier, whose squared
  distance can exceed a whole cluster's, from being picked first.)
- :func:`representative`: greedy facility location (k-median; Nemhauser et al. 1978 for the
  greedy bound, Sener & Savarese 2018 and Zaverkin et al. 2022 on representativeness in batch
  active learning): the structure whose atoms bring the most pool atoms closer to their
  nearest training (or picked) atom goes next, i.e. the one that most lowers the mean
  distance from a pool atom to the training data. Dense, typical regions of the pool weigh by
  their number of atoms: this covers what a test drawn from the pool looks like. Every atom's
  distance is capped at the ``CAP_QUANTILE`` quantile of those distances, so that a far-away
  outlier weighs as one far atom, not by how far it is. The demand (the pool atoms whose
  distances are summed) is a seeded sample of at most ``DEMAND`` atoms of each species; lazy
  greedy (the gains only shrink) keeps it fast.
- :func:`stratified`: distribution matching in energy: the candidates are split into
  ``STRATA`` quantile bins of their energy per atom above a composition reference (predicted by
  the current potential; a measure of how distorted a cell is), and each pick goes to the bin in
  which the training set (with the picks so far) falls furthest short of an equal share, by LCMD
  inside that bin. MaxVol's tail fills the high-energy bins, so the rest of the batch goes to the
  near-equilibrium cells that a test drawn from the pool is mostly made of (benchmarks/RESULTS.md §4:
  what the other coverages left out). In a pool of more than one composition, every energy bin is
  split into up to ``COMPOSITION_STRATA`` quantile bins of composition, and each cell's target is
  the candidates' share of it: the training set is pulled towards the pool's compositions too.
- :func:`random_draw`: a seeded random draw (the control arm of a benchmark, or a cheap
  baseline).

``hybrid`` (in ``gamma_report.py``) spends a share of the budget on MaxVol's choice (the
tail: the most extrapolative structures) and the rest on a coverage strategy (LCMD,
:func:`representative`, :func:`stratified` or :func:`random_draw`) with those as centres.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

import numpy as np

__all__ = (
    'AtomFeatures',
    'composition_strata',
    'energy_above_composition',
    'largest_cluster_max_distance',
    'max_distance',
    'random_draw',
    'representative',
    'standardise',
    'stratified',
)

#: rows of the candidate block compared with all centres at once (bounds the memory to
#: ``CHUNK x centres`` floats)
CHUNK = 4096
#: most pool atoms per species whose distances :func:`representative` sums (a seeded sample)
DEMAND = 4096
#: quantile bins of the candidates' energies that :func:`stratified` fills
STRATA = 5
#: composition bins inside each energy bin of :func:`stratified` (multi-component pools)
COMPOSITION_STRATA = 3
#: :func:`representative` caps every pool atom's distance to the training data at this quantile of
#: those distances (a robust k-median: an outlier counts as one far atom, not as its distance)
CAP_QUANTILE = 0.9


class AtomFeatures:
    """Per-species features of the candidate atoms and of the training atoms.

    :param candidates: ``{species: (n_atoms, n_features)}`` of the candidate atoms.
    :param owners: ``{species: (n_atoms,)}`` the candidate structure index of every atom.
    :param training: ``{species: (m_atoms, n_features)}`` of the training atoms (may be empty).
    """

    def __init__(
        self,
        candidates: dict[int, np.ndarray],
        owners: dict[int, np.ndarray],
        training: dict[int, np.ndarray],
    ) -> None:
        self.species = sorted(candidates)
        self.candidates, self.training = standardise(candidates, training)
        self.owners = {s: np.asarray(owners[s], dtype=int) for s in self.species}

    def num_structures(self) -> int:
        """One more than the largest structure index that has an atom."""
        return 1 + max((int(o.max()) for o in self.owners.values() if len(o)), default=-1)


def standardise(
    candidates: dict[int, np.ndarray], training: dict[int, np.ndarray]
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Centre every column on its median and scale it by its robust spread (1.4826 x the median
    absolute deviation, or the standard deviation where that is 0) over training and candidate atoms
    together, per species; drop constant columns; divide by sqrt(columns)."""
    scaled_candidates, scaled_training = {}, {}
    for species, block in candidates.items():
        block = np.asarray(block, dtype=float)
        train = np.asarray(training.get(species, np.zeros((0, block.shape[1]))), dtype=float)
        both = np.vstack([train, block]) if len(train) else block
        mean = np.median(both, axis=0)
        # a robust scale (outliers do not squeeze the typical atoms together); where more than half
        # of the atoms share a value (ideal lattice sites), the standard deviation instead
        std = 1.4826 * np.median(np.abs(both - mean), axis=0)
        std = np.where(std > 0.0, std, both.std(axis=0))
        keep = std > 1e-12 * max(float(std.max(initial=0.0)), 1e-300)
        if not keep.any():
            keep = np.ones_like(std, dtype=bool)
            std = np.ones_like(std)
        norm = np.sqrt(keep.sum())
        scaled_candidates[species] = (block[:, keep] - mean[keep]) / std[keep] / norm
        scaled_training[species] = (train[:, keep] - mean[keep]) / std[keep] / norm
    return scaled_candidates, scaled_training


def _squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances, ``(len(points), len(centres))``, never below 0."""
    squared = (
        np.einsum('ij,ij->i', points, points)[:, None]
        - 2.0 * points @ centres.T
        + np.einsum('ij,ij->i', centres, centres)[None, :]
    )
    return t.cast(np.ndarray, np.maximum(squared, 0.0))


def _distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Euclidean distances, ``(len(points), len(centres))``."""
    return t.cast(np.ndarray, np.sqrt(_squared_distances(points, centres)))


def _nearest(points: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance from every point to its nearest centre, and that centre's row."""
    if not len(centres):
        return np.full(len(points), np.inf), np.full(len(points), -1, dtype=int)
    distance = np.empty(len(points))
    nearest = np.empty(len(points), dtype=int)
    for start in range(0, len(points), CHUNK):
        squared = _squared_distances(points[start : start + CHUNK], centres)
        rows = np.argmin(squared, axis=1)
        nearest[start : start + len(squared)] = rows
        distance[start : start + len(squared)] = squared[np.arange(len(squared)), rows]
    return distance, nearest


class _Coverage:
    """Every candidate atom's squared distance to its nearest centre and the id of that centre.

    Centres are the training atoms and the atoms of the structures picked so far; a centre's id
    is unique over all species (so that clusters of different species never merge).
    """

    def __init__(self, features: AtomFeatures, eligible: np.ndarray, picked: list[int]) -> None:
        self.features = features
        self.eligible = eligible
        self.distance: dict[int, np.ndarray] = {}
        self.centre: dict[int, np.ndarray] = {}
        self.next_id = 0
        for species in features.species:
            distance, nearest = _nearest(features.candidates[species], features.training[species])
            self.distance[species] = distance
            self.centre[species] = np.where(nearest >= 0, nearest + self.next_id, -1)
            self.next_id += len(features.training[species])
        for index in picked:
            self.add(index)

    def add(self, structure: int) -> None:
        """Make the atoms of ``structure`` centres."""
        self.eligible[structure] = False
        for species in self.features.species:
            owners = self.features.owners[species]
            rows = np.flatnonzero(owners == structure)
            if not len(rows):
                continue
            centres = self.features.candidates[species][rows]
            distance, nearest = _nearest(self.features.candidates[species], centres)
            closer = distance < self.distance[species]
            self.distance[species] = np.where(closer, distance, self.distance[species])
            self.centre[species] = np.where(closer, nearest + self.next_id, self.centre[species])
            self.next_id += len(rows)

    def atoms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Squared distance, centre id and owner of every atom of an eligible structure."""
        distance, centre, owner = [], [], []
        for species in self.features.species:
            owners = self.features.owners[species]
            mask = self.eligible[owners]
            distance.append(self.distance[species][mask])
            centre.append(self.centre[species][mask])
            owner.append(owners[mask])
        return np.concatenate(distance), np.concatenate(centre), np.concatenate(owner)


def _greedy(
    features: AtomFeatures,
    eligible: np.ndarray,
    budget: int,
    picked: list[int],
    # (distance, centre, owner) -> structure index
    choose: Callable[[np.ndarray, np.ndarray, np.ndarray], t.SupportsInt],
    reason: str,
) -> list[tuple[int, str]]:
    eligible = np.array(eligible, dtype=bool)
    coverage = _Coverage(features, eligible, picked)
    chosen: list[tuple[int, str]] = []
    while len(chosen) < budget and coverage.eligible.any():
        distance, centre, owner = coverage.atoms()
        if not len(owner):
            break
        structure = int(choose(distance, centre, owner))
        chosen.append((structure, reason))
        coverage.add(structure)
    return chosen


def max_distance(
    features: AtomFeatures, eligible: np.ndarray, budget: int, picked: list[int] | None = None
) -> list[tuple[int, str]]:
    """Greedy farthest-point selection of up to ``budget`` eligible structures (see the module)."""

    def choose(distance: np.ndarray, centre: np.ndarray, owner: np.ndarray) -> t.SupportsInt:
        finite = np.where(np.isfinite(distance), distance, np.finfo(float).max)
        return t.cast(t.SupportsInt, owner[int(np.argmax(finite))])

    return _greedy(features, eligible, budget, list(picked or []), choose, 'maxdist')


def largest_cluster_max_distance(
    features: AtomFeatures, eligible: np.ndarray, budget: int, picked: list[int] | None = None
) -> list[tuple[int, str]]:
    """LCMD selection of up to ``budget`` eligible structures (see the module)."""

    return _greedy(features, eligible, budget, list(picked or []), _lcmd_choice, 'lcmd')


def _lcmd_choice(distance: np.ndarray, centre: np.ndarray, owner: np.ndarray) -> int:
    """LCMD's next structure among the given atoms: the owner of the farthest atom of the cluster
    with the largest sum of distances (a species without any centre yet goes first)."""
    if not np.isfinite(distance).all():
        return int(owner[int(np.argmax(~np.isfinite(distance)))])
    ids, inverse = np.unique(centre, return_inverse=True)
    weight = np.bincount(inverse, weights=np.sqrt(distance), minlength=len(ids))
    cluster = int(np.argmax(weight))
    members = np.flatnonzero(inverse == cluster)
    return int(owner[members[int(np.argmax(distance[members]))]])


def energy_above_composition(energies: np.ndarray, compositions: np.ndarray) -> np.ndarray:
    """Energy per atom above a reference linear in composition (eV/atom).

    :param energies: ``(n,)`` total energies of the structures (eV).
    :param compositions: ``(n, species)`` number of atoms of each species in each structure.
    :return: ``(energy - compositions @ mu) / atoms`` with ``mu`` (eV per atom of each species)
        fitted by least squares over the ``n`` structures: how far each structure lies above what its
        composition alone predicts; for one element, its energy per atom minus the mean.
    """
    energies = np.asarray(energies, dtype=float)
    compositions = np.asarray(compositions, dtype=float)
    if not len(energies):
        return np.zeros(0)
    mu, *_ = np.linalg.lstsq(compositions, energies, rcond=None)
    atoms = np.maximum(compositions.sum(axis=1), 1.0)
    residual: np.ndarray = (energies - compositions @ mu) / atoms
    return residual


def _quantile_bins(reference: np.ndarray, bins: int, *values: np.ndarray) -> tuple[int, list[np.ndarray]]:
    """The number of bins and the bin of every value in each of ``values``: at most ``bins`` quantile
    bins of ``reference`` (repeated edges merged, so no bin is empty by construction)."""
    edges = np.unique(np.quantile(reference, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    return len(edges) + 1, [np.searchsorted(edges, np.asarray(v, dtype=float), side='right') for v in values]


def composition_strata(
    candidates: np.ndarray, training: np.ndarray, strata: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """Composition bins of the candidates and of the training structures.

    :param candidates: ``(n, species)`` number of atoms of each species in each candidate.
    :param training: ``(m, species)`` the same, same columns, for the training structures.
    :param strata: at most this many bins (quantiles of the candidates).
    :return: the number of bins, and the bin of every candidate and of every training structure. The
        coordinate is the fractions' projection on their first principal axis over both (for a binary,
        the fraction of one element); one bin when the composition does not vary (one element, or
        one composition).
    """
    split = len(candidates)
    candidate_counts = np.asarray(candidates, dtype=float).reshape(split, -1)
    counts = np.concatenate(
        [candidate_counts, np.asarray(training, dtype=float).reshape(-1, candidate_counts.shape[1])]
    )
    fractions = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    one_bin = 1, np.zeros(split, dtype=int), np.zeros(len(training), dtype=int)
    if len(fractions) < 2 or not split:
        return one_bin
    centred = fractions - fractions.mean(axis=0)
    _, singular, axes = np.linalg.svd(centred, full_matrices=False)
    if singular[0] < 1e-9 * np.sqrt(len(fractions)):
        return one_bin
    coordinate = centred @ axes[0]
    width, (of_candidates, of_training) = _quantile_bins(
        coordinate[:split], strata, coordinate[:split], coordinate[split:]
    )
    return width, of_candidates, of_training


def stratified(
    features: AtomFeatures,
    eligible: np.ndarray,
    budget: int,
    energies: np.ndarray,
    training_energies: np.ndarray,
    picked: list[int] | None = None,
    strata: int = STRATA,
    compositions: np.ndarray | None = None,
    training_compositions: np.ndarray | None = None,
    composition_bins: int = COMPOSITION_STRATA,
) -> list[tuple[int, str]]:
    """Up to ``budget`` eligible structures that make the training set's distribution of energy (and
    of composition) match the candidates' (see the module).

    :param energies: one value per candidate structure, the quantity to stratify on (the
        potential's predicted energy per atom above the composition reference, eV/atom).
    :param training_energies: the same for every training structure.
    :param picked: candidates already chosen (MaxVol's tail): centres, and counted in their stratum.
    :param strata: number of quantile bins of the candidates' ``energies``.
    :param compositions: ``(candidates, species)`` atom counts; with ``training_compositions`` (same
        columns), each energy bin is split further into up to ``composition_bins`` composition bins
        (:func:`composition_strata`) and the target of every cell is the candidates' share of it.
    """
    picked = list(picked or [])
    energies = np.asarray(energies, dtype=float)
    if budget <= 0 or not len(energies):
        return []
    cells, (stratum, held) = _quantile_bins(energies, strata, energies, training_energies)
    if compositions is not None and training_compositions is not None:
        width, of_candidates, of_training = composition_strata(
            compositions, training_compositions, composition_bins
        )
        stratum, held, cells = stratum * width + of_candidates, held * width + of_training, cells * width
    counts = np.bincount(np.concatenate([held, stratum[picked]]).astype(int), minlength=cells).astype(float)
    share = np.bincount(stratum, minlength=cells) / len(stratum)
    target = (len(held) + len(picked) + budget) * share

    def choose(distance: np.ndarray, centre: np.ndarray, owner: np.ndarray) -> int:
        deficit = np.full(cells, -np.inf)
        available = np.unique(stratum[owner])
        deficit[available] = target[available] - counts[available]
        level = int(np.argmax(deficit))  # the most under-represented stratum (the lower on a tie)
        mask = stratum[owner] == level
        counts[level] += 1
        return _lcmd_choice(distance[mask], centre[mask], owner[mask])

    return _greedy(features, eligible, budget, picked, choose, 'stratified')


class _Demand:
    """A sample of the pool's atoms per species and each one's distance to its nearest centre."""

    def __init__(self, features: AtomFeatures, picked: list[int], seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.features = features
        self.points: dict[int, np.ndarray] = {}
        self.distance: dict[int, np.ndarray] = {}
        for species in features.species:
            block = features.candidates[species]
            rows = np.arange(len(block))
            if len(rows) > DEMAND:
                rows = np.sort(rng.choice(len(rows), size=DEMAND, replace=False))
            self.points[species] = block[rows]
            centres = np.vstack(
                [features.training[species], block[np.isin(features.owners[species], picked)]]
            )
            if len(centres):
                distance = _distances(self.points[species], centres).min(axis=1)
                # capped: an atom farther than most counts as far as those (a robust k-median), so a
                # single far-away outlier cannot outweigh a region of typical atoms
                self.distance[species] = np.minimum(distance, np.quantile(distance, CAP_QUANTILE))
            else:  # no centre yet: every atom costs the same, what the farthest pair could be apart
                reach = 2.0 * float(np.sqrt(np.einsum('ij,ij->i', block, block)).max(initial=0.0)) + 1.0
                self.distance[species] = np.full(len(rows), reach)

    def _nearest_to(self, structure: int) -> t.Iterator[tuple[int, np.ndarray]]:
        """Per species with atoms in ``structure``: every demand atom's distance to the nearest of them."""
        for species in self.features.species:
            atoms = self.features.candidates[species][self.features.owners[species] == structure]
            if len(atoms) and len(self.points[species]):
                yield species, _distances(self.points[species], atoms).min(axis=1)

    def gain(self, structure: int) -> float:
        """How much picking ``structure`` lowers the summed distance of the demand atoms."""
        return sum(
            float(np.maximum(self.distance[species] - nearest, 0.0).sum())
            for species, nearest in self._nearest_to(structure)
        )

    def gains(self, structures: np.ndarray) -> np.ndarray:
        """:meth:`gain` of every structure index in ``structures``, in blocks of about ``CHUNK`` atoms
        that never split a structure."""
        result = np.zeros(self.features.num_structures())
        for species in self.features.species:
            points, current = self.points[species], self.distance[species]
            if not len(points):
                continue
            order = np.argsort(self.features.owners[species], kind='stable')
            owners = self.features.owners[species][order]
            block = self.features.candidates[species][order]
            firsts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]])  # each structure's first row
            begin = 0
            while begin < len(order):
                end = self._block_end(firsts, begin, len(order))
                # per atom: how much closer every demand atom gets; per structure: the best of its atoms
                better = np.maximum(current[None, :] - _distances(block[begin:end], points), 0.0)
                groups = firsts[(firsts >= begin) & (firsts < end)] - begin
                result[owners[begin + groups]] += np.maximum.reduceat(better, groups, axis=0).sum(axis=1)
                begin = end
        return t.cast(np.ndarray, result[structures])

    @staticmethod
    def _block_end(firsts: np.ndarray, begin: int, size: int) -> int:
        """The end of the block from row ``begin``: the last structure start within ``CHUNK`` rows, or
        the next start when one structure alone is longer (``firsts``: each structure's first row)."""
        if begin + CHUNK >= size:
            return size
        later = firsts[firsts > begin]
        if not len(later):
            return size
        fitting = later[later <= begin + CHUNK]
        return int(fitting[-1]) if len(fitting) else int(later[0])

    def add(self, structure: int) -> None:
        """Make the atoms of ``structure`` centres."""
        for species, nearest in self._nearest_to(structure):
            self.distance[species] = np.minimum(self.distance[species], nearest)


def representative(
    features: AtomFeatures,
    eligible: np.ndarray,
    budget: int,
    picked: list[int] | None = None,
    seed: int = 0,
) -> list[tuple[int, str]]:
    """Greedy facility location of up to ``budget`` eligible structures (see the module), with the
    training atoms and the atoms of ``picked`` as centres already placed."""
    import heapq

    picked = list(picked or [])
    eligible = np.array(eligible, dtype=bool)
    eligible[picked] = False
    candidates = np.flatnonzero(eligible[: features.num_structures()])
    if budget <= 0 or not len(candidates):
        return []
    demand = _Demand(features, picked, seed)
    # lazy greedy: a structure's gain can only shrink as centres are added, so a stale gain is an
    # upper bound; recompute the top one and take it when it still beats the next bound
    heap = [(-gain, int(index)) for gain, index in zip(demand.gains(candidates), candidates, strict=True)]
    heapq.heapify(heap)
    chosen: list[tuple[int, str]] = []
    while heap and len(chosen) < budget:
        _, index = heapq.heappop(heap)
        fresh = demand.gain(index)
        if heap and fresh < -heap[0][0] - 1e-12:
            heapq.heappush(heap, (-fresh, index))
            continue
        chosen.append((index, 'representative'))
        demand.add(index)
    return chosen


def random_draw(eligible: np.ndarray, budget: int, seed: int) -> list[tuple[int, str]]:
    """Up to ``budget`` eligible structure indices drawn at random with ``seed`` (reproducible)."""
    indices = np.flatnonzero(np.asarray(eligible, dtype=bool))
    order = np.random.default_rng(seed).permutation(len(indices))
    return [(int(indices[i]), 'random') for i in order[:budget]]
