"""Materials properties of any ASE calculator: relaxation, equation of state, cubic elastic constants,
vacancy formation energy, phonons and MD stability.

Pure ASE (and phonopy for phonons), no AiiDA: the calcfunctions of
:mod:`aiida_pacemaker.calculations.functions.properties` wrap each function, and
``PaceValidateWorkChain`` runs them with a potential and with a reference calculator side by side.

Every function takes an ``atoms`` (not modified), an ASE ``calculator`` and keyword settings (their
defaults and checks: :mod:`aiida_pacemaker.tools.property_settings`). Units: Å, eV, GPa, THz, K, fs.
Relaxations use an ASE optimiser (:data:`OPTIMIZERS`) and stop when the largest force on an atom is
below ``fmax`` (eV/Å) or after ``max_steps``; whether they converged is part of every result.
"""

from __future__ import annotations

import dataclasses
import math
import typing as t

import numpy as np
from ase import Atoms, units

__all__ = (
    'OPTIMIZERS',
    'Relaxation',
    'elastic_constants',
    'equation_of_state',
    'is_cubic_cell',
    'md_stability',
    'perpendicular_widths',
    'phonons',
    'primitive_cell',
    'relax',
    'shortest_distance',
    'space_group_number',
    'supercell_for_width',
    'vacancy_formation_energy',
)

#: ASE optimisers a relaxation may use (from :mod:`ase.optimize`)
OPTIMIZERS = ('BFGS', 'LBFGS', 'FIRE', 'BFGSLineSearch')


# ---------------------------------------------------------------------------------------------- cells
def is_cubic_cell(atoms: Atoms, tolerance: float = 1e-3) -> bool:
    """Whether the cell is a cube along x, y and z (relative ``tolerance``): the cell the cubic elastic
    constants are defined in (``ase.build.bulk(..., cubic=True)``)."""
    cell = np.asarray(atoms.cell[:], dtype=float)
    edge = float(np.mean(np.diag(cell)))
    return edge > 0 and bool(np.allclose(cell, edge * np.eye(3), atol=tolerance * edge))


def space_group_number(atoms: Atoms, symprec: float = 1e-3) -> int | None:
    """The international number of the space group (spglib, installed with phonopy), or None."""
    try:
        import spglib
    except ImportError:
        return None
    cell: t.Any = (np.asarray(atoms.cell[:]), atoms.get_scaled_positions(), atoms.get_atomic_numbers())
    symbol = spglib.get_spacegroup(cell, symprec=symprec) or ''
    return int(symbol.split('(')[-1].rstrip(')')) if '(' in symbol else None


def perpendicular_widths(cell: t.Any) -> np.ndarray:
    """Distances between opposite faces of the cell, Å."""
    return t.cast(np.ndarray, 1.0 / np.linalg.norm(np.linalg.inv(np.asarray(cell, dtype=float)).T, axis=1))


def supercell_for_width(cell: t.Any, width: float) -> list[int]:
    """The smallest repetitions of ``cell`` whose perpendicular widths are all at least ``width`` (Å)."""
    return [max(1, math.ceil(width / w - 1e-9)) for w in perpendicular_widths(cell)]


def shortest_distance(atoms: Atoms) -> float:
    """The shortest interatomic distance (Å), periodic images included."""
    from aiida_pacemaker.baselines import min_interatomic_distance

    return min_interatomic_distance(
        {
            'natoms': np.array([len(atoms)]),
            'numbers': atoms.get_atomic_numbers(),
            'positions': atoms.get_positions(),
            'cells': np.array([atoms.cell[:]]),
            'pbc': np.array([atoms.pbc]),
        }
    )


def _phonopy(atoms: Atoms, supercell: t.Sequence[int] = (1, 1, 1)) -> t.Any:
    """A ``Phonopy`` of ``atoms`` with the primitive cell found from the symmetry (``auto``)."""
    import warnings

    from phonopy import Phonopy

    with warnings.catch_warnings():  # phonopy 4 says that `auto` differs from phonopy 3's default
        warnings.filterwarnings('ignore', message='primitive_matrix defaulted')
        return Phonopy(
            _phonopy_atoms(atoms),
            supercell_matrix=np.diag([int(n) for n in supercell]),
            primitive_matrix='auto',
        )


def primitive_cell(atoms: Atoms) -> np.ndarray:
    """The primitive cell of ``atoms`` found by phonopy (its band paths refer to it)."""
    return np.asarray(_phonopy(atoms).primitive.cell)


# ---------------------------------------------------------------------------------------------- relax
@dataclasses.dataclass
class Relaxation:
    """A relaxed structure: ``atoms`` (no calculator), ``energy`` (eV), optimiser ``steps``, whether it
    ``converged`` and the largest remaining ``max_force`` (eV/Å)."""

    atoms: Atoms
    energy: float
    steps: int
    converged: bool
    max_force: float


def _optimize(target: t.Any, optimizer: str, fmax: float, max_steps: int) -> tuple[int, bool]:
    import ase.optimize

    if optimizer not in OPTIMIZERS:
        raise ValueError(f'unknown optimizer {optimizer!r}: use one of {", ".join(OPTIMIZERS)}')
    dynamics = getattr(ase.optimize, optimizer)(target, logfile=None)
    converged = bool(dynamics.run(fmax=fmax, steps=max_steps))
    return int(dynamics.nsteps), converged


def relax(
    atoms: Atoms,
    calculator: t.Any,
    *,
    cell: bool = True,
    fmax: float = 1e-3,
    max_steps: int = 200,
    optimizer: str = 'BFGS',
) -> Relaxation:
    """Relax the positions and, with ``cell``, the cell (ASE's ``FrechetCellFilter``; a cubic cell only
    isotropically, so that it stays cubic) until every force is below ``fmax`` (eV/Å)."""
    from ase.filters import FrechetCellFilter

    relaxed = atoms.copy()
    relaxed.calc = calculator
    target = FrechetCellFilter(relaxed, hydrostatic_strain=is_cubic_cell(atoms)) if cell else relaxed
    steps, converged = _optimize(target, optimizer, fmax, max_steps)
    energy = float(relaxed.get_potential_energy())
    max_force = float(np.linalg.norm(relaxed.get_forces(), axis=1).max())
    relaxed.calc = None
    return Relaxation(relaxed, energy, steps, converged, max_force)


def _energy(atoms: Atoms, calculator: t.Any) -> float:
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    if not math.isfinite(energy):
        raise ValueError(f'the calculator returned a non-finite energy for {atoms.get_chemical_formula()}')
    return energy


# ---------------------------------------------------------------------------------------------- EOS
def equation_of_state(
    atoms: Atoms,
    calculator: t.Any,
    *,
    volume_range: float = 0.06,
    points: int = 7,
    eos: str = 'birchmurnaghan',
) -> dict[str, t.Any]:
    """E(V) of ``atoms`` scaled isotropically over volumes (1 ± ``volume_range``) V, fitted with ASE's
    ``EquationOfState``.

    Returns ``volumes`` (Å³/atom), ``energies`` (eV/atom), ``equilibrium_volume`` (Å³/atom),
    ``equilibrium_energy`` (eV/atom), ``bulk_modulus`` (GPa), ``eos`` and, for a cubic cell,
    ``lattice_constant`` (Å, the cube's edge at the equilibrium volume).

    :raises ValueError: if the fitted minimum lies outside the sampled volumes.
    """
    from ase.eos import EquationOfState

    natoms = len(atoms)
    volumes, energies = [], []
    for factor in np.linspace(1 - volume_range, 1 + volume_range, points):
        scaled = atoms.copy()
        scaled.set_cell(atoms.cell[:] * factor ** (1 / 3), scale_atoms=True)
        volumes.append(scaled.get_volume() / natoms)
        energies.append(_energy(scaled, calculator) / natoms)
    volume, energy, bulk_modulus = EquationOfState(volumes, energies, eos=eos).fit(warn=False)
    if not min(volumes) <= volume <= max(volumes):
        raise ValueError(
            f'the minimum of E(V) ({volume:.3f} Å³/atom) is outside the sampled volumes '
            f'({min(volumes):.3f}-{max(volumes):.3f} Å³/atom): relax the structure or widen `volume_range`'
        )
    result: dict[str, t.Any] = {
        'volumes': [float(v) for v in volumes],
        'energies': [float(e) for e in energies],
        'equilibrium_volume': float(volume),
        'equilibrium_energy': float(energy),
        'bulk_modulus': float(bulk_modulus / units.GPa),
        'eos': eos,
    }
    if is_cubic_cell(atoms):
        result['lattice_constant'] = float((volume * natoms) ** (1 / 3))
    return result


# ---------------------------------------------------------------------------------------------- elastic
def _voigt_strain(index: int, value: float) -> np.ndarray:
    """The symmetric strain tensor of Voigt component ``index`` (0-5) set to ``value`` (engineering
    strain for the shears 3-5: the tensor's off-diagonal elements are half of it)."""
    strain = np.zeros(6)
    strain[index] = value
    xx, yy, zz, yz, xz, xy = strain
    return np.array([[xx, xy / 2, xz / 2], [xy / 2, yy, yz / 2], [xz / 2, yz / 2, zz]])


def _strained(atoms: Atoms, strain: np.ndarray) -> Atoms:
    strained: Atoms = atoms.copy()
    strained.set_cell(np.asarray(atoms.cell[:]) @ (np.eye(3) + strain), scale_atoms=True)
    return strained


def elastic_constants(
    atoms: Atoms,
    calculator: t.Any,
    *,
    method: str = 'stress',
    strain: float = 0.005,
    points: int = 4,
    relax_atoms: bool = True,
    fmax: float = 1e-3,
    max_steps: int = 100,
    optimizer: str = 'BFGS',
) -> dict[str, t.Any]:
    """Cubic elastic constants C11, C12, C44 (GPa) of a cubic cell along x, y, z, at its own cell.

    ``points`` strained cells per strain, evenly spaced in ±``strain``; with ``relax_atoms`` the
    positions of each are relaxed (fmax, eV/Å). ``stress``: the full 6x6 matrix C_ij = d(stress_i)/d(strain_j) by a
    least-squares slope of ASE's stress against each Voigt strain, averaged over the cubic-equivalent
    elements (``cubic_deviation``: the largest departure of any element from cubic symmetry, GPa).
    ``energy``: the curvature of E(ε) (quadratic fit, unstrained cell included) under three strains,
    ε1 (C11), ε1 = ε2 (C11 + C12) and the engineering shear ε4 (C44).

    Returns ``C11``, ``C12``, ``C44``, ``bulk_modulus`` ((C11 + 2 C12)/3, GPa), ``method``, ``strains``,
    and with ``stress`` the ``matrix`` and ``cubic_deviation``; ``converged`` is false if an internal
    relaxation did not converge.

    :raises ValueError: if the cell is not cubic.
    """
    if not is_cubic_cell(atoms):
        raise ValueError('cubic elastic constants need a cubic cell along x, y and z')
    half = points // 2
    strains = np.concatenate(
        [-strain * np.arange(half, 0, -1) / half, strain * np.arange(1, half + 1) / half]
    )
    volume = atoms.get_volume()
    converged = True

    def evaluate(tensor: np.ndarray) -> Atoms:
        nonlocal converged
        strained = _strained(atoms, tensor)
        strained.calc = calculator
        if relax_atoms:
            _, ok = _optimize(strained, optimizer, fmax, max_steps)
            converged = converged and ok
        return strained

    result: dict[str, t.Any] = {'method': method, 'strains': [float(s) for s in strains]}
    if method == 'stress':
        matrix = np.zeros((6, 6))
        for j in range(6):
            stresses = np.array([evaluate(_voigt_strain(j, s)).get_stress(voigt=True) for s in strains])
            matrix[:, j] = np.polyfit(strains, stresses, 1)[0] / units.GPa
        matrix = (matrix + matrix.T) / 2
        c11 = float(np.mean(np.diag(matrix)[:3]))
        c12 = float(np.mean([matrix[0, 1], matrix[0, 2], matrix[1, 2]]))
        c44 = float(np.mean(np.diag(matrix)[3:]))
        cubic = np.zeros((6, 6))
        cubic[:3, :3] = c12
        cubic[np.diag_indices(3)] = c11
        cubic[3:, 3:][np.diag_indices(3)] = c44
        result.update(matrix=matrix.tolist(), cubic_deviation=float(np.abs(matrix - cubic).max()))
    elif method == 'energy':
        samples = np.concatenate([strains, [0.0]])

        def curvature(tensor: np.ndarray) -> float:
            energies = [_energy(evaluate(tensor * s), calculator) for s in samples]
            return float(np.polyfit(samples, energies, 2)[0] / volume / units.GPa)

        c11 = 2 * curvature(_voigt_strain(0, 1.0))
        c12 = curvature(_voigt_strain(0, 1.0) + _voigt_strain(1, 1.0)) - c11
        c44 = 2 * curvature(_voigt_strain(3, 1.0))
    else:
        raise ValueError(f'unknown method {method!r}: use stress or energy')
    result.update(C11=float(c11), C12=float(c12), C44=float(c44), bulk_modulus=float(c11 + 2 * c12) / 3)
    result['converged'] = converged
    return result


# ---------------------------------------------------------------------------------------------- vacancy
def vacancy_formation_energy(
    atoms: Atoms,
    calculator: t.Any,
    *,
    supercell: t.Sequence[int] = (3, 3, 3),
    site: int = 0,
    fmax: float = 0.01,
    max_steps: int = 300,
    optimizer: str = 'BFGS',
) -> dict[str, t.Any]:
    """Formation energy of a vacancy in an elemental crystal: E_f = E(N-1) - (N-1)/N E(N), eV.

    The supercell (``atoms`` repeated ``supercell`` times) keeps its cell; the atom ``site`` is removed
    and the positions are relaxed until every force is below ``fmax`` (eV/Å).

    Returns ``formation_energy`` and ``unrelaxed_formation_energy`` (eV), ``bulk_energy`` and
    ``defect_energy`` (eV), ``num_atoms`` (of the perfect supercell), ``supercell``, ``steps``,
    ``converged`` and ``max_force`` (eV/Å).
    """
    perfect = atoms.repeat(tuple(int(n) for n in supercell))
    natoms = len(perfect)
    bulk_energy = _energy(perfect, calculator)
    defect = perfect.copy()
    del defect[int(site)]
    unrelaxed = _energy(defect, calculator)
    relaxation = relax(defect, calculator, cell=False, fmax=fmax, max_steps=max_steps, optimizer=optimizer)
    reference = bulk_energy * (natoms - 1) / natoms
    return {
        'formation_energy': float(relaxation.energy - reference),
        'unrelaxed_formation_energy': float(unrelaxed - reference),
        'bulk_energy': bulk_energy,
        'defect_energy': relaxation.energy,
        'num_atoms': natoms,
        'supercell': [int(n) for n in supercell],
        'steps': relaxation.steps,
        'converged': relaxation.converged,
        'max_force': relaxation.max_force,
    }


# ---------------------------------------------------------------------------------------------- phonons
def _phonopy_atoms(atoms: Atoms) -> t.Any:
    from phonopy.structure.atoms import PhonopyAtoms

    return PhonopyAtoms(
        symbols=atoms.get_chemical_symbols(),
        cell=np.asarray(atoms.cell[:]),
        scaled_positions=atoms.get_scaled_positions(),
    )


def phonons(
    atoms: Atoms,
    calculator: t.Any,
    *,
    supercell: t.Sequence[int] = (3, 3, 3),
    displacement: float = 0.01,
    path: str | None = None,
    npoints: int = 100,
    mesh: t.Sequence[int] = (12, 12, 12),
    imaginary_threshold: float = -0.1,
) -> tuple[dict[str, t.Any], dict[str, np.ndarray]]:
    """Phonons by finite displacements with phonopy: the band structure on a path of the primitive cell
    (phonopy's ``auto``) and the density of states on a Γ-centred ``mesh``.

    Forces are evaluated in the ``supercell`` for phonopy's symmetry-reduced displacements of
    ``displacement`` Å, their drift removed; the force constants are symmetrised. ``path`` is in ASE
    notation (``GXWKGLUWLK,UX``; default ASE's path for the lattice).

    Returns a summary: ``max_frequency``, ``mean_frequency`` (over the mesh), ``min_frequency`` and ``min_frequency_at_gamma`` (THz, on the
    path and mesh; imaginary frequencies are negative), ``imaginary_modes`` (any frequency below
    ``imaginary_threshold`` THz), ``path``, ``labels`` and ``special_distances`` (the special points on
    the distance axis, 1/Å), ``num_displacements``, ``supercell``; and arrays: ``qpoints`` (reduced, of
    the primitive cell), ``distances`` (1/Å), ``frequencies`` (q-points x bands, THz),
    ``dos_frequencies`` (THz) and ``dos`` (states/THz per primitive cell).
    """
    from ase.cell import Cell

    phonon = _phonopy(atoms, supercell)
    phonon.generate_displacements(distance=displacement)
    forces = []
    for displaced in phonon.supercells_with_displacements:
        cell = Atoms(
            displaced.symbols, cell=displaced.cell, scaled_positions=displaced.scaled_positions, pbc=True
        )
        cell.calc = calculator
        force = np.asarray(cell.get_forces(), dtype=float)
        forces.append(force - force.mean(axis=0))
    phonon.forces = forces
    phonon.produce_force_constants()
    phonon.symmetrize_force_constants()

    bandpath = Cell(np.asarray(phonon.primitive.cell)).bandpath(path=path, npoints=npoints)
    phonon.run_qpoints(bandpath.kpts)
    frequencies = np.asarray(phonon.qpoints.frequencies, dtype=float)
    distances, special_distances, labels = bandpath.get_linear_kpoint_axis()
    phonon.run_qpoints([[0.0, 0.0, 0.0]])
    at_gamma = np.asarray(phonon.qpoints.frequencies, dtype=float)
    phonon.run_mesh([int(n) for n in mesh], is_gamma_center=True)
    mesh_frequencies = np.asarray(phonon.mesh.frequencies, dtype=float)
    weights = np.asarray(phonon.mesh.weights, dtype=float)
    phonon.run_total_dos()
    lowest = float(min(frequencies.min(), mesh_frequencies.min(), at_gamma.min()))
    summary = {
        'max_frequency': float(max(frequencies.max(), mesh_frequencies.max())),
        'mean_frequency': float(
            (weights @ mesh_frequencies).sum() / (weights.sum() * mesh_frequencies.shape[1])
        ),
        'min_frequency': lowest,
        'min_frequency_at_gamma': float(at_gamma.min()),
        'imaginary_modes': bool(lowest < imaginary_threshold),
        'imaginary_threshold': float(imaginary_threshold),
        'path': bandpath.path,
        'labels': [str(label) for label in labels],
        'special_distances': [float(x) for x in special_distances],
        'num_displacements': len(forces),
        'supercell': [int(n) for n in supercell],
    }
    arrays = {
        'qpoints': np.asarray(bandpath.kpts, dtype=float),
        'distances': np.asarray(distances, dtype=float),
        'frequencies': frequencies,
        'dos_frequencies': np.asarray(phonon.total_dos.frequency_points, dtype=float),
        'dos': np.asarray(phonon.total_dos.dos, dtype=float),
    }
    return summary, arrays


# ---------------------------------------------------------------------------------------------- MD
class _Stop(Exception):
    """Ends one MD run early, with the reason."""


_TRACE_KEYS = ('step', 'time', 'temperature', 'min_distance', 'max_gamma')


def _langevin_run(
    start: Atoms,
    calculator: t.Any,
    temperature: float,
    rng: np.random.Generator,
    settings: t.Mapping[str, t.Any],
    threshold: float,
    with_grades: bool,
) -> tuple[dict[str, t.Any], dict[str, list[float]]]:
    """One NVT run (see :func:`md_stability`): its record and its trace."""
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary
    from ase.neighborlist import neighbor_list

    moving = start.copy()
    moving.calc = calculator
    moving.set_constraint(FixCom())  # no drift of the centre of mass (Langevin's own `fixcm` is deprecated)
    MaxwellBoltzmannDistribution(moving, temperature_K=temperature, rng=rng)
    Stationary(moving)
    timestep, steps, interval = settings['timestep'], int(settings['steps']), int(settings['interval'])
    dynamics = Langevin(
        moving,
        timestep * units.fs,
        temperature_K=temperature,
        friction=settings['friction'] / units.fs,
        fixcm=False,
        rng=rng,
    )
    search = 1.05 * shortest_distance(start)  # the shortest distance seen is always within this
    record: dict[str, t.Any] = {
        'temperature': temperature,
        'steps_survived': 0,
        'completed': False,
        'stop_reason': 'completed',
        'min_distance': search,
        'max_gamma': None,
    }
    trace: dict[str, list[float]] = {key: [] for key in _TRACE_KEYS}
    kelvins: list[float] = []

    def check() -> None:
        step = int(dynamics.nsteps)
        energy = moving.get_potential_energy()
        if not (np.isfinite(energy) and np.all(np.isfinite(moving.get_forces()))):
            raise _Stop(f'non-finite energy or forces at step {step}')
        distances = neighbor_list('d', moving, search)
        shortest = float(distances.min()) if distances.size else search
        record['min_distance'] = min(record['min_distance'], shortest)
        max_gamma = float(np.max(calculator.results['gamma'])) if with_grades else math.nan
        if with_grades:
            record['max_gamma'] = max(record['max_gamma'] or 0.0, max_gamma)
        kelvins.append(float(moving.get_temperature()))
        if step % interval == 0 or step == steps:
            for key, value in zip(
                _TRACE_KEYS, (step, step * timestep, kelvins[-1], shortest, max_gamma), strict=True
            ):
                trace[key].append(float(value))
        if shortest < threshold:
            raise _Stop(f'atoms closer than {threshold:.2f} Å at step {step}')
        if with_grades and max_gamma >= settings['gamma_stop']:
            raise _Stop(f'extrapolation grade {max_gamma:.1f} reached gamma_stop at step {step}')
        record['steps_survived'] = step

    dynamics.attach(check, interval=1)
    try:
        dynamics.run(steps)
        record['completed'] = True
    except _Stop as stop:
        record['stop_reason'] = str(stop)
    except Exception as exception:  # a calculator that fails on a distorted cell: the run did not survive
        record['stop_reason'] = f'{type(exception).__name__}: {" ".join(str(exception).split())}'
    second_half = kelvins[len(kelvins) // 2 :]
    record['mean_temperature'] = float(np.mean(second_half)) if second_half else None
    return record, trace


def md_stability(
    atoms: Atoms,
    calculator: t.Any,
    *,
    supercell: t.Sequence[int] = (2, 2, 2),
    temperatures: t.Sequence[float] = (300.0,),
    steps: int = 500,
    timestep: float = 2.0,
    friction: float = 0.01,
    seed: int = 0,
    min_distance: float | None = None,
    gamma_stop: float = 25.0,
    interval: int = 10,
    with_grades: bool = False,
) -> tuple[dict[str, t.Any], dict[str, np.ndarray]]:
    """NVT Langevin MD of the ``supercell`` at each temperature (K), ``steps`` of ``timestep`` fs, with
    Maxwell-Boltzmann initial velocities and a thermostat seeded by ``seed``, and ``friction`` (1/fs).

    A run stops early when the energy or forces are not finite, when two atoms come closer than
    ``min_distance`` (Å; default half the shortest distance at the start), or, ``with_grades`` (a
    potential with an active set: ``calculator.results['gamma']``), when the largest extrapolation grade
    reaches ``gamma_stop``.

    Returns a summary with ``temperatures``, ``num_atoms``, ``supercell``, ``min_distance_stop`` (Å) and
    ``runs``, one per temperature: ``steps_survived`` (the last step that passed the checks),
    ``completed``, ``stop_reason``, ``min_distance`` (Å, the shortest seen), ``max_gamma`` (None without
    grades) and ``mean_temperature`` (K, over the second half of the run); and arrays
    ``trace_K_step``, ``trace_K_time`` (fs), ``trace_K_temperature`` (K), ``trace_K_min_distance`` (Å)
    and ``trace_K_max_gamma`` (NaN without grades) of the K-th temperature, every ``interval`` steps.
    """
    start = atoms.repeat(tuple(int(n) for n in supercell))
    threshold = float(min_distance) if min_distance is not None else 0.5 * shortest_distance(start)
    settings = {'timestep': timestep, 'steps': steps, 'interval': interval, 'friction': friction}
    settings['gamma_stop'] = gamma_stop
    summary: dict[str, t.Any] = {
        'temperatures': [float(x) for x in temperatures],
        'num_atoms': len(start),
        'supercell': [int(n) for n in supercell],
        'min_distance_stop': threshold,
        'runs': [],
    }
    arrays: dict[str, np.ndarray] = {}
    for index, temperature in enumerate(temperatures):
        rng = np.random.default_rng(int(seed) + index)
        record, trace = _langevin_run(
            start, calculator, float(temperature), rng, settings, threshold, with_grades
        )
        summary['runs'].append(record)
        for key, values in trace.items():
            arrays[f'trace_{index}_{key}'] = np.asarray(values, dtype=float)
    return summary, arrays
