"""The settings of a validation (``parameters`` of ``PaceValidateWorkChain``): which properties, their
settings with defaults and units, and the checks made before anything runs.

``parameters`` maps property names (:data:`PROPERTIES`) and ``relax`` to their settings; an empty
mapping takes every default. :data:`PROPERTY_SETTINGS` lists each setting with its default, its check
and its meaning; every check returns one line naming the key, the value and what is expected.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import typing as t

import numpy as np
from ase import Atoms

from . import properties
from .properties import OPTIMIZERS
from .suggest import did_you_mean

__all__ = (
    'PROPERTIES',
    'PROPERTY_SETTINGS',
    'RELAX',
    'Setting',
    'check_property_parameters',
    'check_structure_for_property',
    'settings_with_defaults',
)

#: the properties in the order they are computed, and the name of the relaxation settings
PROPERTIES = ('eos', 'elastic', 'vacancy', 'phonons', 'md')
RELAX = 'relax'

#: cubic space groups (international numbers)
CUBIC_SPACE_GROUPS = range(195, 231)


def _positive_number(value: t.Any) -> str | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        return 'a positive number'
    return None


def _fraction(value: t.Any) -> str | None:
    if _positive_number(value) or value >= 0.5:
        return 'a number between 0 and 0.5'
    return None


def _positive_integer(value: t.Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return 'a positive integer'
    return None


def _non_negative_integer(value: t.Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return 'a non-negative integer'
    return None


def _even_points(value: t.Any) -> str | None:
    if _positive_integer(value) or value % 2:
        return 'a positive even integer (strained cells, as many compressed as stretched)'
    return None


def _at_least_five(value: t.Any) -> str | None:
    if _positive_integer(value) or value < 5:
        return 'an integer of at least 5'
    return None


def _boolean(value: t.Any) -> str | None:
    return None if isinstance(value, bool) else 'true or false'


def _three_integers(value: t.Any) -> str | None:
    if not isinstance(value, list | tuple) or len(value) != 3 or any(_positive_integer(n) for n in value):
        return 'three positive integers, e.g. [3, 3, 3]'
    return None


def _supercell(value: t.Any) -> str | None:
    if value is None:
        return None
    return _three_integers(value)


def _labels(value: t.Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple) or not value or not all(isinstance(v, str) for v in value):
        return 'a list of names of `structures`'
    return None


def _optional_positive(value: t.Any) -> str | None:
    return None if value is None else _positive_number(value)


def _non_positive(value: t.Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value > 0:
        return 'a number of at most 0 (THz)'
    return None


def _temperatures(value: t.Any) -> str | None:
    if not isinstance(value, list | tuple) or not value or any(_positive_number(v) for v in value):
        return 'a list of positive temperatures (K)'
    return None


def _one_of(*choices: str) -> t.Callable[[t.Any], str | None]:
    def check(value: t.Any) -> str | None:
        return None if value in choices else f'one of {", ".join(choices)}'

    return check


def _equation_of_state_name(value: t.Any) -> str | None:
    from ase.eos import eos_names

    return None if value in eos_names else f'one of {", ".join(eos_names)}'


def _path(value: t.Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        return 'a path of special points in ASE notation, e.g. "GXWKGLUWLK,UX"'
    return None


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a property: its default, a check returning what is expected (or None) and its
    meaning, with its unit."""

    default: t.Any
    check: t.Callable[[t.Any], str | None]
    help: str


_STRUCTURES = Setting(None, _labels, 'names of `structures` to compute it for (default: all of them)')
_OPTIMIZER = Setting('BFGS', _one_of(*OPTIMIZERS), 'ASE optimiser of the relaxations')

#: per property (and ``relax``): its settings, their defaults and checks
PROPERTY_SETTINGS: dict[str, dict[str, Setting]] = {
    RELAX: {
        'cell': Setting(
            True,
            _boolean,
            'relax the cell as well as the positions (a cubic cell only isotropically, so that it stays cubic)',
        ),
        'fmax': Setting(1e-3, _positive_number, 'force tolerance, eV/Å (cell: virial per atom, eV)'),
        'max_steps': Setting(200, _positive_integer, 'most optimiser steps'),
        'optimizer': _OPTIMIZER,
    },
    'eos': {
        'structures': _STRUCTURES,
        'volume_range': Setting(
            0.06, _fraction, 'volumes from (1 - x) V0 to (1 + x) V0 (V0: relaxed volume)'
        ),
        'points': Setting(7, _at_least_five, 'number of volumes'),
        'eos': Setting(
            'birchmurnaghan', _equation_of_state_name, 'the form fitted by ase.eos.EquationOfState'
        ),
    },
    'elastic': {
        'structures': _STRUCTURES,
        'method': Setting(
            'stress', _one_of('stress', 'energy'), 'stress: slope of stress vs strain; energy: curvature of E'
        ),
        'strain': Setting(0.005, _fraction, 'largest strain (dimensionless, engineering strain for shear)'),
        'points': Setting(4, _even_points, 'strained cells per strain, half compressed, half stretched'),
        'relax_atoms': Setting(True, _boolean, 'relax the positions in each strained cell (internal strain)'),
        'fmax': Setting(1e-3, _positive_number, 'force tolerance of the internal relaxation, eV/Å'),
        'max_steps': Setting(100, _positive_integer, 'most optimiser steps of each internal relaxation'),
        'optimizer': _OPTIMIZER,
    },
    'vacancy': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _supercell,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'site': Setting(0, _non_negative_integer, 'index of the atom removed from the supercell'),
        'fmax': Setting(0.01, _positive_number, 'force tolerance of the relaxation, eV/Å'),
        'max_steps': Setting(300, _positive_integer, 'most optimiser steps'),
        'optimizer': _OPTIMIZER,
    },
    'phonons': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _supercell,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'displacement': Setting(0.01, _positive_number, 'finite displacement, Å'),
        'path': Setting(None, _path, 'band path in ASE notation (default: the path ASE gives the lattice)'),
        'npoints': Setting(100, _positive_integer, 'q-points on the band path'),
        'mesh': Setting([12, 12, 12], _three_integers, 'q-point mesh of the density of states'),
        'imaginary_threshold': Setting(
            -0.1, _non_positive, 'frequencies below this (THz) are imaginary modes'
        ),
    },
    'md': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _supercell,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'temperatures': Setting([300.0], _temperatures, 'one NVT Langevin run per temperature, K'),
        'steps': Setting(500, _positive_integer, 'MD steps per temperature'),
        'timestep': Setting(2.0, _positive_number, 'fs'),
        'friction': Setting(0.01, _positive_number, 'Langevin friction, 1/fs'),
        'seed': Setting(0, _non_negative_integer, 'seed of the initial velocities and the thermostat'),
        'min_distance': Setting(
            None,
            _optional_positive,
            'stop when two atoms come closer than this, Å (default: half the shortest distance at the start)',
        ),
        'gamma_stop': Setting(
            25.0, _positive_number, 'stop when the extrapolation grade reaches this (with an active set)'
        ),
        'interval': Setting(10, _positive_integer, 'steps between two points of the recorded trace'),
    },
}


def check_property_parameters(parameters: t.Mapping[str, t.Any]) -> str | None:
    """Check the ``parameters`` of a validation: property names, their keys and values; one line or None."""
    if not isinstance(parameters, t.Mapping):
        return f'`parameters` must be a dictionary of properties, got {type(parameters).__name__}'
    for name, settings in parameters.items():
        if name not in PROPERTY_SETTINGS:
            return f'`parameters` has an unknown property `{name}`: {did_you_mean(name, PROPERTY_SETTINGS, "known")}'
        if settings is None:
            continue
        if not isinstance(settings, t.Mapping):
            return f'`parameters.{name}` must be a dictionary of settings (or empty for the defaults)'
        known = PROPERTY_SETTINGS[name]
        for key, value in settings.items():
            if key not in known:
                return f'`parameters.{name}` has an unknown key `{key}`: {did_you_mean(key, known, "known")}'
            expected = known[key].check(value)
            if expected:
                return f'`parameters.{name}.{key}` must be {expected}, got {value!r}'
    if not any(name in PROPERTIES for name in parameters):
        return f'`parameters` asks for no property: give at least one of {", ".join(PROPERTIES)}'
    return None


def settings_with_defaults(parameters: t.Mapping[str, t.Any]) -> dict[str, dict[str, t.Any]]:
    """The settings of each requested property (and of ``relax``) with the defaults filled in."""
    requested = [name for name in (RELAX, *PROPERTIES) if name in parameters or name == RELAX]
    return {
        name: {key: copy.deepcopy(setting.default) for key, setting in PROPERTY_SETTINGS[name].items()}
        | dict(parameters.get(name) or {})
        for name in requested
    }


def check_structure_for_property(
    name: str, label: str, atoms: Atoms, settings: t.Mapping[str, t.Any], cutoff: float | None
) -> str | None:
    """Whether the property ``name`` can be computed for the structure ``label``; one line or None.

    - every property: a cell periodic in all three directions;
    - ``elastic``: a cubic cell along x, y, z with a cubic space group (195-230);
    - ``vacancy``: one element (the chemical potential is the bulk energy per atom), a ``site`` in the
      supercell, and a supercell whose perpendicular widths are at least twice the potential's ``cutoff``
      (so that no atom has the vacancy and one of its periodic images both within its cutoff);
    - ``phonons``: phonopy installed, and a ``path`` of special points of the structure's lattice.
    """
    where = f'`structures.{label}`'
    if not atoms.pbc.all():
        return f'{where} must be periodic in all three directions for bulk properties (pbc={list(atoms.pbc)})'
    if name == 'elastic':
        if not properties.is_cubic_cell(atoms):
            lengths = ', '.join(f'{x:.3f}' for x in atoms.cell.cellpar())
            return (
                f'{where} is not a cubic cell along x, y, z (a, b, c, alpha, beta, gamma = {lengths}): cubic '
                'elastic constants need one, e.g. ase.build.bulk("Cu", "fcc", cubic=True)'
            )
        number = properties.space_group_number(atoms)
        if number is not None and number not in CUBIC_SPACE_GROUPS:
            return (
                f'{where} has a cubic cell but not a cubic crystal (space group {number}): C11, C12 and C44 '
                'describe only cubic crystals (space groups 195-230)'
            )
    if name == 'vacancy':
        symbols = sorted(set(atoms.get_chemical_symbols()))
        if len(symbols) > 1:
            return (
                f'{where} holds {", ".join(symbols)}: the vacancy formation energy is computed for elemental '
                'crystals only (the chemical potential is the bulk energy per atom)'
            )
    if name in ('vacancy', 'phonons', 'md') and settings.get('supercell') is not None:
        supercell = list(settings['supercell'])
        if name == 'vacancy' and cutoff is not None:
            widths = properties.perpendicular_widths(np.asarray(atoms.cell[:]) * np.array(supercell)[:, None])
            if widths.min() < 2 * cutoff - 1e-6:
                needed = properties.supercell_for_width(atoms.cell[:], 2 * cutoff)
                return (
                    f'the vacancy supercell {supercell} of {where} is {widths.min():.2f} Å wide, less than twice '
                    f'the cutoff ({2 * cutoff:.2f} Å): atoms would see the vacancy and its periodic image; '
                    f'use at least {needed}'
                )
        if name == 'vacancy' and settings['site'] >= len(atoms) * int(np.prod(supercell)):
            return f'`parameters.vacancy.site` {settings["site"]} is not an atom of the supercell of {where}'
    if name == 'vacancy' and settings.get('supercell') is None and settings['site'] >= len(atoms):
        return f'`parameters.vacancy.site` {settings["site"]} is not an atom of {where} ({len(atoms)} atoms)'
    if name == 'phonons':
        try:
            import phonopy  # noqa: F401
        except ImportError:
            return 'phonons need phonopy: pip install phonopy'
        if settings.get('path') is not None:
            from ase.cell import Cell

            special = Cell(properties.primitive_cell(atoms)).bandpath(npoints=0).special_points
            unknown = sorted(
                {c for c in settings['path'].replace(',', '') if c not in special and not c.isdigit()}
            )
            if unknown:
                return (
                    f'`parameters.phonons.path` names {", ".join(unknown)}, not special points of the lattice '
                    f'of {where}: use {", ".join(special)}'
                )
    return None
