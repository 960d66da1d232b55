"""Additive physics baselines for delta learning with pacemaker.

pacemaker has no Lennard-Jones term and no delta-learning hook, so the plugin does it itself:
the potential fitted by pacemaker is ``E_ACE = E_label - E_baseline`` (likewise forces and
stress), and wherever the potential is used the baseline is added back, in ASE with
:class:`BaselineSumCalculator` and in LAMMPS with :meth:`LennardJonesBaseline.lammps_lines`.

Units throughout: energies eV, lengths Å, forces eV/Å, stress eV/Å³ in ASE's sign
convention and Voigt order (xx, yy, zz, yz, xz, xy).
"""

from __future__ import annotations

import math
import typing as t
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, PropertyNotImplementedError, all_changes
from ase.data import atomic_numbers, chemical_symbols, covalent_radii
from ase.neighborlist import neighbor_list

__all__ = (
    'BaselineSumCalculator',
    'LennardJonesBaseline',
    'add_baseline',
    'baseline_from_parameters',
    'dimer_curve',
    'min_interatomic_distance',
    'subtract_baseline',
)

DEFAULT_EPSILON = 0.01  # eV, depth of the default Lennard-Jones well
WALL_FRACTION = 0.8  # default LJ minimum, in units of the single-bond length 2 r_cov
CUTOFF_IN_SIGMA = 2.5  # default cutoff, in units of the largest sigma
_PARAMETER_KEYS = {'type', 'epsilon', 'sigma', 'pairs', 'cutoff'}
_PAIR_KEYS = {'epsilon', 'sigma'}


def _positive(value: t.Any, what: str) -> float:
    """Return ``value`` as a float; raise ValueError unless it is a positive finite number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not (math.isfinite(number) and number > 0):
        raise ValueError(f'{what} must be a positive finite number, got {value!r}')
    return number


def _element(symbol: t.Any, what: str) -> str:
    if symbol not in atomic_numbers or symbol == 'X':
        raise ValueError(f'{what}: {symbol!r} is not a chemical symbol')
    return t.cast(str, symbol)


def _pair_key(key: str, known: Sequence[str]) -> str:
    """Return the canonical (alphabetical) form of a pair key such as ``'Cu-Al'``."""
    parts = str(key).split('-')
    if len(parts) != 2:
        raise ValueError(f'pair key {key!r} must name two elements, e.g. "Cu-Al"')
    for symbol in parts:
        _element(symbol, f'pair {key!r}')
        if symbol not in known:
            raise ValueError(f'pair {key!r} names {symbol}, which has no per-element epsilon and sigma')
    return '-'.join(sorted(parts))


def _is_periodic(atoms: Atoms) -> bool:
    return bool(atoms.pbc.any()) and atoms.cell.rank == 3


class LennardJonesBaseline:
    """Shifted-force Lennard-Jones pair potential (LAMMPS ``lj/smooth/linear``).

    For a pair at distance r < rc (``cutoff``)::

        LJ(r) = 4 eps ((sigma/r)^12 - (sigma/r)^6)
        E(r)  = LJ(r) - LJ(rc) - (r - rc) LJ'(rc)

    and 0 beyond, so energy and force both go continuously to zero at rc.

    :param epsilon: well depth per element, eV, e.g. ``{'Cu': 0.01}``.
    :param sigma: LJ diameter per element, Å (same elements as ``epsilon``). Unlike pairs are mixed
        with the Lorentz-Berthelot rules: sigma_ij = (sigma_i + sigma_j) / 2, eps_ij = sqrt(eps_i eps_j).
    :param pairs: optional explicit parameters of unlike or like pairs, overriding the mixing rules:
        ``{'Cu-Al': {'epsilon': 0.02, 'sigma': 2.4}}`` (key order does not matter; a 2-sequence
        ``(epsilon, sigma)`` is accepted too).
    :param cutoff: rc, Å; default 2.5 times the largest sigma of any pair.
    """

    def __init__(
        self,
        epsilon: Mapping[str, float],
        sigma: Mapping[str, float],
        pairs: Mapping[str, Mapping[str, float] | Sequence[float]] | None = None,
        cutoff: float | None = None,
    ) -> None:
        if set(epsilon) != set(sigma):
            raise ValueError(
                f'epsilon and sigma must name the same elements: epsilon has {sorted(epsilon)}, '
                f'sigma has {sorted(sigma)}'
            )
        if not epsilon:
            raise ValueError('give epsilon and sigma for at least one element')
        self.elements = tuple(
            sorted((_element(s, 'epsilon/sigma') for s in epsilon), key=atomic_numbers.__getitem__)
        )
        self.epsilon = {s: _positive(epsilon[s], f'epsilon of {s} (eV)') for s in self.elements}
        self.sigma = {s: _positive(sigma[s], f'sigma of {s} (Å)') for s in self.elements}
        self.pairs: dict[str, dict[str, float]] = {}
        for key, value in (pairs or {}).items():
            canonical = _pair_key(key, self.elements)
            if canonical in self.pairs:
                raise ValueError(f'pair {canonical} is given twice')
            if isinstance(value, Mapping):
                unknown = set(value) - _PAIR_KEYS
                missing = _PAIR_KEYS - set(value)
                if unknown or missing:
                    raise ValueError(
                        f'pair {key!r} needs exactly the keys epsilon and sigma; '
                        f'unknown: {sorted(unknown)}, missing: {sorted(missing)}'
                    )
                eps, sig = value['epsilon'], value['sigma']
            elif len(value) == 2:
                eps, sig = value
            else:
                raise ValueError(f'pair {key!r} must be {{"epsilon": ..., "sigma": ...}} or (epsilon, sigma)')
            self.pairs[canonical] = {
                'epsilon': _positive(eps, f'epsilon of pair {key} (eV)'),
                'sigma': _positive(sig, f'sigma of pair {key} (Å)'),
            }
        # pair tables indexed by position in self.elements
        eps_values = np.array([self.epsilon[s] for s in self.elements])
        sig_values = np.array([self.sigma[s] for s in self.elements])
        self._eps = np.sqrt(np.outer(eps_values, eps_values))
        self._sig = 0.5 * (sig_values[:, None] + sig_values[None, :])
        for key, value in self.pairs.items():
            a, b = (self.elements.index(s) for s in key.split('-'))
            self._eps[a, b] = self._eps[b, a] = value['epsilon']
            self._sig[a, b] = self._sig[b, a] = value['sigma']
        if cutoff is None:
            cutoff = CUTOFF_IN_SIGMA * float(self._sig.max())
        self.cutoff = _positive(cutoff, 'cutoff (Å)')
        self._index = np.full(len(chemical_symbols), -1)
        self._index[[atomic_numbers[s] for s in self.elements]] = np.arange(len(self.elements))

    @classmethod
    def default_for(
        cls, elements: Sequence[str], epsilon: float = DEFAULT_EPSILON, cutoff: float | None = None
    ) -> LennardJonesBaseline:
        """Return a weak baseline whose main effect is a short-range repulsive wall.

        Per element, sigma = f 2 r_cov / 2^(1/6) with r_cov the covalent radius of
        ``ase.data.covalent_radii`` (Å) and f = ``WALL_FRACTION`` (0.8): the LJ minimum, at
        2^(1/6) sigma, then sits at 80% of the single-bond length 2 r_cov, so the wall rises
        only where atoms come clearly closer than a bond. (With f = 1 the wall already pushes
        at the equilibrium distance of metals, and the residual labels of rattled structures
        with close contacts grow large: measured, fine-tuning on such Cu data then failed.)
        epsilon (default 0.01 eV) is small, so near and beyond the bond length the baseline is
        a minor correction that ACE absorbs, while the r^-12 wall keeps atoms apart where the
        training data has no structures. The cutoff defaults to 2.5 times the largest sigma;
        ``cutoff=2**(1/6) * max(sigma)`` gives an (almost) purely repulsive, WCA-like baseline.
        """
        if not elements:
            raise ValueError('give at least one element')
        for symbol in elements:
            _element(symbol, 'default_for')
        sigma = {s: WALL_FRACTION * 2 * covalent_radii[atomic_numbers[s]] / 2 ** (1 / 6) for s in elements}
        return cls(epsilon=dict.fromkeys(elements, epsilon), sigma=sigma, cutoff=cutoff)

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.to_parameters()!r})'

    def _species(self, atoms: Atoms) -> np.ndarray:
        species: np.ndarray = self._index[atoms.numbers]
        if (species < 0).any():
            missing = sorted({chemical_symbols[z] for z in atoms.numbers[species < 0]})
            raise ValueError(
                f'the Lennard-Jones baseline has no parameters for {", ".join(missing)} '
                f'(it has {", ".join(self.elements)})'
            )
        return species

    def _pair(self, r: np.ndarray, eps: np.ndarray, sig: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the shifted-force pair energy E(r) (eV) and dE/dr (eV/Å) for r < cutoff."""

        def lj(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            s6 = (sig / x) ** 6
            return 4 * eps * (s6 * s6 - s6), 24 * eps * (s6 - 2 * s6 * s6) / x

        rc = self.cutoff
        e_r, de_r = lj(r)
        e_c, de_c = lj(np.full_like(r, rc))
        return e_r - e_c - (r - rc) * de_c, de_r - de_c

    def compute_atomic(self, atoms: Atoms) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Return per-atom energies (n,) eV (each pair split equally), forces (n, 3) eV/Å and stress.

        The stress (6,) eV/Å³ is None unless the atoms are periodic with a 3D cell.
        """
        species = self._species(atoms)
        i, j, d, vectors = neighbor_list('ijdD', atoms, self.cutoff)
        energy, denergy = self._pair(d, self._eps[species[i], species[j]], self._sig[species[i], species[j]])
        n = len(atoms)
        # every pair appears twice (i-j and j-i), vectors point from i to j
        energies = 0.5 * np.bincount(i, weights=energy, minlength=n)
        pair_forces = (denergy / d)[:, None] * vectors
        forces = np.zeros((n, 3))
        np.add.at(forces, i, pair_forces)
        stress = None
        if _is_periodic(atoms):
            virial = 0.5 * pair_forces.T @ vectors
            stress = virial[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]] / atoms.get_volume()
        return energies, forces, stress

    def compute(self, atoms: Atoms) -> tuple[float, np.ndarray, np.ndarray | None]:
        """Return the energy (eV), forces (n, 3) (eV/Å) and stress (6,) (eV/Å³, None if not periodic).

        :raises ValueError: if the atoms hold an element without parameters.
        """
        energies, forces, stress = self.compute_atomic(atoms)
        return float(energies.sum()), forces, stress

    def to_parameters(self) -> dict[str, t.Any]:
        """Return the JSON-serialisable parameters, inverse of :func:`baseline_from_parameters`."""
        return {
            'type': 'lj',
            'epsilon': dict(self.epsilon),
            'sigma': dict(self.sigma),
            'pairs': {key: dict(value) for key, value in self.pairs.items()},
            'cutoff': self.cutoff,
        }

    def lammps_lines(self, elements: Sequence[str], yace_filename: str) -> list[str]:
        """Return LAMMPS input lines (``units metal``) for ACE plus this baseline.

        The ACE potential was fitted to the labels minus this baseline, so the model is
        ACE + baseline. These lines overlay pacemaker's ``pace`` pair style with
        ``lj/smooth/linear``, which has exactly the functional form of this class (shifted
        force, one global cutoff), and give explicit coefficients for every type pair i <= j,
        so LAMMPS's own mixing rules are never used: they reproduce the baseline exactly.

        :param elements: the element of each LAMMPS atom type, type 1 first.
        :param yace_filename: path of the ``.yace`` file as LAMMPS will see it.
        """
        if not elements:
            raise ValueError('give the element of at least one atom type')
        indices = self._species(Atoms(list(elements)))
        lines = [
            f'pair_style hybrid/overlay pace lj/smooth/linear {self.cutoff!r}',
            f'pair_coeff * * pace {yace_filename} {" ".join(elements)}',
        ]
        for a, index_a in enumerate(indices):
            for b in range(a, len(indices)):
                eps = float(self._eps[index_a, indices[b]])
                sig = float(self._sig[index_a, indices[b]])
                lines.append(f'pair_coeff {a + 1} {b + 1} lj/smooth/linear {eps!r} {sig!r}')
        return lines


def baseline_from_parameters(params: Mapping[str, t.Any]) -> LennardJonesBaseline:
    """Build a baseline from :meth:`LennardJonesBaseline.to_parameters` output.

    :raises ValueError: on an unknown ``type`` or unknown or missing keys.
    """
    kind = params.get('type')
    if kind != 'lj':
        raise ValueError(f'unknown baseline type {kind!r}: the only type is "lj"')
    unknown = set(params) - _PARAMETER_KEYS
    if unknown:
        raise ValueError(
            f'unknown baseline parameter(s) {sorted(unknown)}; allowed: {sorted(_PARAMETER_KEYS)}'
        )
    missing = {'epsilon', 'sigma'} - set(params)
    if missing:
        raise ValueError(f'baseline parameters lack {sorted(missing)}')
    return LennardJonesBaseline(
        epsilon=params['epsilon'],
        sigma=params['sigma'],
        pairs=params.get('pairs'),
        cutoff=params.get('cutoff'),
    )


class BaselineSumCalculator(Calculator):
    """ASE calculator for the full model: ACE + baseline + per-atom reference energies.

    :param calculator: the ACE part (pyace's ``PyACECalculator`` or any ASE calculator);
        None means zero, so the baseline alone can be evaluated.
    :param baseline: optional baseline with a ``compute_atomic`` method (:class:`LennardJonesBaseline`).
    :param reference_energies: optional eV per atom of each element, added once per atom.

    Energy, free energy, forces and per-atom ``energies`` are the sums of the parts; stress
    only when every part gives one (periodic atoms). Other results of the wrapped calculator,
    such as pyace's per-atom extrapolation grade ``gamma``, are passed through unchanged.
    """

    implemented_properties = ['energy', 'free_energy', 'forces', 'stress', 'energies']
    _summed = ('energy', 'free_energy', 'forces', 'stress', 'energies')

    def __init__(
        self,
        calculator: Calculator | None,
        baseline: LennardJonesBaseline | None = None,
        reference_energies: Mapping[str, float] | None = None,
        **kwargs: t.Any,
    ) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]  # ase's Calculator.__init__ is untyped; untyped_calls_exclude misses super()
        self.calculator = calculator
        self.baseline = baseline
        self.reference_energies: dict[str, float] = {}
        for symbol, value in (reference_energies or {}).items():
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f'reference energy of {symbol} must be finite, got {value!r}')
            self.reference_energies[_element(symbol, 'reference_energies')] = number

    def _inner(self, atoms: Atoms, properties: Sequence[str]) -> dict[str, t.Any]:
        """Results of the wrapped calculator (zeros when there is none)."""
        n = len(atoms)
        if self.calculator is None:
            zero = {'energy': 0.0, 'free_energy': 0.0, 'forces': np.zeros((n, 3)), 'energies': np.zeros(n)}
            return zero | ({'stress': np.zeros(6)} if _is_periodic(atoms) else {})
        values = {}
        for name in ['energy', 'forces', *(p for p in properties if p not in ('energy', 'forces'))]:
            try:
                values[name] = self.calculator.get_property(name, atoms)
            except PropertyNotImplementedError:
                if name in ('energy', 'forces'):
                    raise
        return dict(self.calculator.results) | values

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ('energy',),
        system_changes: Sequence[str] = all_changes,
    ) -> None:
        super().calculate(atoms, properties, system_changes)  # type: ignore[no-untyped-call]  # ase's Calculator.calculate is untyped; untyped_calls_exclude misses super()
        atoms = t.cast(Atoms, self.atoms)  # set by Calculator.calculate
        n = len(atoms)
        inner = self._inner(atoms, properties)
        energies, forces = np.zeros(n), np.zeros((n, 3))
        stress: np.ndarray | None = np.zeros(6)
        if self.baseline is not None:
            energies, forces, stress = self.baseline.compute_atomic(atoms)
        if self.reference_energies:
            missing = sorted(set(atoms.get_chemical_symbols()) - set(self.reference_energies))
            if missing:
                raise ValueError(f'no reference energy for {", ".join(missing)}')
            energies = energies + np.array([self.reference_energies[s] for s in atoms.get_chemical_symbols()])
        added = float(energies.sum())
        energy = float(inner['energy'])
        self.results = {
            key: np.array(value, copy=True) if isinstance(value, np.ndarray) else value
            for key, value in inner.items()
            if key not in self._summed
        }
        self.results['energy'] = energy + added
        self.results['free_energy'] = float(inner.get('free_energy', energy)) + added
        self.results['forces'] = np.asarray(inner['forces'], dtype=float) + forces
        if inner.get('energies') is not None:
            self.results['energies'] = np.asarray(inner['energies'], dtype=float) + energies
        if inner.get('stress') is not None and stress is not None:
            inner_stress = np.asarray(inner['stress'], dtype=float)
            if inner_stress.shape == (3, 3):
                inner_stress = inner_stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            self.results['stress'] = inner_stress + stress


def _structures(arrays: Mapping[str, np.ndarray]) -> Iterator[tuple[int, slice, Atoms]]:
    """Yield (index, atom slice, Atoms) for each structure of training-set arrays."""
    offsets = np.concatenate([[0], np.cumsum(arrays['natoms'])])
    for index in range(len(arrays['natoms'])):
        atom_slice = slice(int(offsets[index]), int(offsets[index + 1]))
        atoms = Atoms(
            numbers=arrays['numbers'][atom_slice],
            positions=arrays['positions'][atom_slice],
            cell=arrays['cells'][index],
            pbc=arrays['pbc'][index],
        )
        yield index, atom_slice, atoms


def _shift(
    arrays: Mapping[str, np.ndarray], baseline: LennardJonesBaseline, sign: float
) -> dict[str, np.ndarray]:
    result = {key: np.array(value, copy=True) for key, value in arrays.items()}
    has_stress = arrays.get('has_stress', np.zeros(len(arrays['natoms']), dtype=bool))
    for index, atom_slice, atoms in _structures(arrays):
        energy, forces, stress = baseline.compute(atoms)
        result['energy'][index] += sign * energy
        result['forces'][atom_slice] += sign * forces
        if 'stress' in arrays and has_stress[index]:
            if stress is None:
                raise ValueError(
                    f'structure {index} ({arrays["names"][index]!s}) has a stress label but is not periodic'
                )
            result['stress'][index] += sign * stress
    return result


def subtract_baseline(
    arrays: Mapping[str, np.ndarray], baseline: LennardJonesBaseline
) -> dict[str, np.ndarray]:
    """Return new training-set arrays with the baseline subtracted from the labels.

    ``energy`` (eV), ``forces`` (eV/Å) and, for rows with ``has_stress``, ``stress`` (eV/Å³) become
    label minus baseline; all other arrays are copied unchanged. The input is not modified.
    """
    return _shift(arrays, baseline, -1.0)


def add_baseline(arrays: Mapping[str, np.ndarray], baseline: LennardJonesBaseline) -> dict[str, np.ndarray]:
    """Inverse of :func:`subtract_baseline`: return new arrays with the baseline added to the labels."""
    return _shift(arrays, baseline, 1.0)


def min_interatomic_distance(arrays: Mapping[str, np.ndarray]) -> float:
    """Return the shortest interatomic distance (Å) over all structures, periodic images included.

    :raises ValueError: if no structure has two atoms (or a periodic image) to measure.
    """
    shortest = math.inf
    for _, _, atoms in _structures(arrays):
        # any distance present bounds the shortest one: a lattice vector (atom 0 to its image) or 0-1
        bounds = list(atoms.cell.lengths()[atoms.pbc]) if _is_periodic(atoms) else []
        if len(atoms) > 1:
            bounds.append(atoms.get_distance(0, 1, mic=_is_periodic(atoms)))
        if not bounds:
            continue
        for cutoff in (min(3.0, min(bounds)), min(bounds)):
            distances = neighbor_list('d', atoms, cutoff * (1 + 1e-9) + 1e-9)
            if distances.size:
                shortest = min(shortest, float(distances.min()))
                break
    if not math.isfinite(shortest):
        raise ValueError('no interatomic distance in the structures: each is a single non-periodic atom')
    return shortest


def dimer_curve(
    calculator: Calculator, symbols: tuple[str, str], distances: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Evaluate a dimer in a large non-periodic box at each distance (Å).

    Returns the energies (eV) and the force on the first atom along the bond, projected on
    the unit vector from the second atom to the first (eV/Å): that is -dE/dr, positive when
    the pair repels.
    """
    distances = np.asarray(distances, dtype=float)
    box = 2 * float(distances.max(initial=0.0)) + 20.0
    energies, forces = np.zeros(distances.size), np.zeros(distances.size)
    for k, r in enumerate(distances):
        centre = box / 2
        atoms = Atoms(
            list(symbols),
            positions=[[centre - r / 2, centre, centre], [centre + r / 2, centre, centre]],
            cell=[box] * 3,
        )
        atoms.calc = calculator
        energies[k] = atoms.get_potential_energy()
        forces[k] = -atoms.get_forces()[0, 0]
    return energies, forces
