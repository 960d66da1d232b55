"""Molecular dynamics with an ACE potential that stops on the extrapolation grade.

Usage: python explore.py   (in a folder holding explore_input.json, seeds.extxyz,
potential.yaml, potential.asi and, beside this script, baselines.py)

For every seed structure and every temperature it runs Langevin NVT (or Berendsen NPT
when a pressure is given) with the deployed model: pyace's calculator with the active set,
plus the potential's additive baseline (Lennard-Jones, from the settings' ``baseline``) and
its per-element ``reference_energies``, summed by ``baselines.BaselineSumCalculator`` (the
same module as ``aiida_pacemaker.baselines``, copied into the job folder), exactly as
``PacePotentialData.get_ase_calculator()`` does. The extrapolation grade gamma is the ACE
part's, passed through the sum unchanged. A snapshot whose
max gamma lies in [gamma_select, gamma_stop) is kept as a candidate; a trajectory stops
as soon as max gamma reaches gamma_stop, or when the MD becomes unphysical (non-finite
energy or forces, atoms closer than min_distance). Writes:

- candidates.extxyz: kept snapshots, with info keys gamma, trajectory, step, md_energy (eV,
  the model's energy there) and the per-atom array md_forces (eV/Å, the forces the MD used)
- explore_summary.json: per trajectory: seed, temperature, steps run, max gamma, reason
  it stopped (completed, gamma_stop, exploded: ...); and `exploded` count.

Units: temperature K, pressure GPa, timestep fs, distances Å.
"""

from __future__ import annotations

import json
import sys
import typing as t

import numpy as np
from ase import units
from ase.io import read, write
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import MaxwellBoltzmannDistribution, Stationary

if t.TYPE_CHECKING:
    from ase import Atoms
    from ase.calculators.calculator import Calculator
    from ase.md.md import MolecularDynamics


class Stop(Exception):
    """End of one trajectory."""


def make_calculator(settings: dict[str, t.Any]) -> Calculator:
    """The model of the potential, as ``PacePotentialData.get_ase_calculator()`` builds it.

    pyace's calculator of ``settings['potential']`` with the active set ``settings['active_set']``;
    wrapped in ``BaselineSumCalculator`` when ``settings['baseline']`` holds the parameters of an
    additive baseline or ``settings['reference_energies']`` (eV/atom per element) non-zero values.
    """
    from pyace import PyACECalculator

    calculator = PyACECalculator(settings['potential'])
    calculator.set_active_set(settings['active_set'])
    parameters = settings.get('baseline') or None
    reference = {k: float(v) for k, v in (settings.get('reference_energies') or {}).items() if v}
    if parameters is None and not reference:
        return t.cast('Calculator', calculator)
    from baselines import BaselineSumCalculator, baseline_from_parameters  # copied next to this script

    baseline = baseline_from_parameters(parameters) if parameters is not None else None
    return t.cast(
        'Calculator',
        BaselineSumCalculator(calculator, baseline=baseline, reference_energies=reference or None),
    )


def snapshot_of(atoms: Atoms, **info: t.Any) -> Atoms:
    """A copy of ``atoms`` without calculator, with the model's energy and forces of this step."""
    snapshot: Atoms = atoms.copy()
    snapshot.calc = None
    snapshot.info.update(info, md_energy=float(atoms.get_potential_energy()))
    snapshot.arrays['md_forces'] = np.array(atoms.get_forces(), dtype=float)
    return snapshot


def min_distance(atoms: Atoms) -> float:
    if len(atoms) < 2:
        return np.inf
    distances = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
    return t.cast(float, distances[np.triu_indices(len(atoms), 1)].min())


def run_trajectory(
    seed_index: int,
    atoms: Atoms,
    temperature: float,
    settings: dict[str, t.Any],
    calculator: Calculator,
    kept: dict[str, list[t.Any]],
) -> None:
    rng = np.random.default_rng(settings['seed'] + 1000 * seed_index + int(temperature))
    atoms = atoms.copy()
    atoms.calc = calculator
    MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=rng)
    Stationary(atoms)
    timestep = settings['timestep'] * units.fs
    if settings.get('pressure') is not None:
        from ase.md.nptberendsen import NPTBerendsen

        dynamics: MolecularDynamics = NPTBerendsen(
            atoms,
            timestep,
            temperature_K=temperature,
            pressure_au=settings['pressure'] * units.GPa,
            taut=100 * units.fs,
            taup=1000 * units.fs,
            compressibility_au=1.0 / (140 * units.GPa),
        )
    else:
        dynamics = Langevin(atoms, timestep, temperature_K=temperature, friction=0.02, rng=rng)
    record: dict[str, t.Any] = {
        'seed': seed_index,
        'temperature': temperature,
        'steps': 0,
        'max_gamma': 0.0,
        'reason': 'completed',
    }
    label = len(kept['atoms'])

    def check() -> None:
        step = dynamics.nsteps
        energy = atoms.get_potential_energy()
        forces = atoms.get_forces()
        gamma = float(np.max(calculator.results['gamma']))
        record['steps'] = step
        record['max_gamma'] = max(record['max_gamma'], gamma)
        if not (np.isfinite(energy) and np.all(np.isfinite(forces)) and np.isfinite(gamma)):
            raise Stop('exploded: non-finite energy, forces or gamma')
        if min_distance(atoms) < settings['min_distance']:
            raise Stop(f'exploded: atoms closer than {settings["min_distance"]} Å')
        if gamma >= settings['gamma_stop']:
            raise Stop('gamma_stop')
        if gamma >= settings['gamma_select'] and step > 0 and step % settings['sample_interval'] == 0:
            kept['atoms'].append(snapshot_of(atoms, gamma=gamma, trajectory=len(kept['records']), step=step))

    dynamics.attach(check, interval=1)
    try:
        dynamics.run(settings['steps'])
    except Stop as stop:
        record['reason'] = str(stop)
        if str(stop) == 'gamma_stop' and settings.get('keep_stop_structure', True):
            kept['atoms'].append(
                snapshot_of(
                    atoms, gamma=record['max_gamma'], trajectory=len(kept['records']), step=record['steps']
                )
            )
    except Exception as exception:
        record['reason'] = f'exploded: {type(exception).__name__}: {exception}'
    record['kept'] = len(kept['atoms']) - label
    kept['records'].append(record)


def main() -> int:
    with open('explore_input.json') as handle:
        settings = json.load(handle)
    seeds = read('seeds.extxyz', index=':')
    calculator = make_calculator(settings)
    kept: dict[str, list[t.Any]] = {'atoms': [], 'records': []}
    for seed_index, atoms in enumerate(seeds):
        for temperature in settings['temperatures']:
            run_trajectory(seed_index, atoms, float(temperature), settings, calculator, kept)
            # written after each trajectory, so what was found survives a crash of a later one
            if kept['atoms']:
                write('candidates.extxyz', kept['atoms'], format='extxyz')
            else:
                open('candidates.extxyz', 'w').close()
            summary = {
                'trajectories': kept['records'],
                'num_candidates': len(kept['atoms']),
                'exploded': sum(r['reason'].startswith('exploded') for r in kept['records']),
            }
            with open('explore_summary.json', 'w') as handle:
                json.dump(summary, handle, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
