"""The settings of a validation (``parameters`` of ``PaceValidateWorkChain``): which properties, their
settings with defaults and units, and the checks made before anything runs.

``parameters`` maps property names (:data:`PROPERTIES`) and ``relax`` to their settings; an empty
mapping takes every default. :data:`PROPERTY_SETTINGS` lists each setting with its default, its check
and its meaning; every check returns one line naming the key, the value and what is expected.
"""

from __future__ import annotations

import copy
import dataclasses
import typing as t

import numpy as np
from ase import Atoms

from aiida_pacemaker.schema import (
    BOOL,
    Checker,
    expect,
    first_error,
    is_number,
    number,
    one_of,
    optional,
    section,
)

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


_POSITIVE = number(minimum=0, strict=True, noun='a positive number')
_FRACTION = number(minimum=0, strict=True, maximum=0.5, max_strict=True, noun='a number between 0 and 0.5')
_POSITIVE_INTEGER = number(integer=True, minimum=1, noun='a positive integer')
_NON_NEGATIVE_INTEGER = number(integer=True, minimum=0, noun='a non-negative integer')
_EVEN_POINTS = expect(
    lambda value: is_number(value, integer=True) and value >= 1 and value % 2 == 0,
    'a positive even integer (strained cells, as many compressed as stretched)',
)
_AT_LEAST_FIVE = number(integer=True, minimum=5, noun='an integer of at least 5')
_THREE_INTEGERS = expect(
    lambda value: (
        isinstance(value, list | tuple)
        and len(value) == 3
        and all(is_number(n, integer=True) and n >= 1 for n in value)
    ),
    'three positive integers, e.g. [3, 3, 3]',
)
_SUPERCELL = optional(_THREE_INTEGERS)
_LABELS = optional(
    expect(
        lambda value: (
            isinstance(value, list | tuple) and bool(value) and all(isinstance(v, str) for v in value)
        ),
        'a list of names of `structures`',
    )
)
_NON_POSITIVE = number(maximum=0, noun='a number of at most 0 (THz)')
_TEMPERATURES = expect(
    lambda value: (
        isinstance(value, list | tuple) and bool(value) and all(is_number(v) and v > 0 for v in value)
    ),
    'a list of positive temperatures (K)',
)
_PATH = optional(
    expect(
        lambda value: isinstance(value, str) and bool(value.strip()),
        'a path of special points in ASE notation, e.g. "GXWKGLUWLK,UX"',
    )
)


def _equation_of_state_name(value: t.Any, path: str) -> None:
    from ase.eos import eos_names

    one_of(*eos_names)(value, path)


@dataclasses.dataclass(frozen=True)
class Setting:
    """One setting of a property: its default, its check (:mod:`aiida_pacemaker.schema`) and its meaning,
    with its unit."""

    default: t.Any
    check: Checker
    help: str


_STRUCTURES = Setting(None, _LABELS, 'names of `structures` to compute it for (default: all of them)')
_OPTIMIZER = Setting('BFGS', one_of(*OPTIMIZERS), 'ASE optimiser of the relaxations')

#: per property (and ``relax``): its settings, their defaults and checks
PROPERTY_SETTINGS: dict[str, dict[str, Setting]] = {
    RELAX: {
        'cell': Setting(
            True,
            BOOL,
            'relax the cell as well as the positions (a cubic cell only isotropically, so that it stays cubic)',
        ),
        'fmax': Setting(1e-3, _POSITIVE, 'force tolerance, eV/Å (cell: virial per atom, eV)'),
        'max_steps': Setting(200, _POSITIVE_INTEGER, 'most optimiser steps'),
        'optimizer': _OPTIMIZER,
    },
    'eos': {
        'structures': _STRUCTURES,
        'volume_range': Setting(
            0.06, _FRACTION, 'volumes from (1 - x) V0 to (1 + x) V0 (V0: relaxed volume)'
        ),
        'points': Setting(7, _AT_LEAST_FIVE, 'number of volumes'),
        'eos': Setting(
            'birchmurnaghan', _equation_of_state_name, 'the form fitted by ase.eos.EquationOfState'
        ),
    },
    'elastic': {
        'structures': _STRUCTURES,
        'method': Setting(
            'stress', one_of('stress', 'energy'), 'stress: slope of stress vs strain; energy: curvature of E'
        ),
        'strain': Setting(0.005, _FRACTION, 'largest strain (dimensionless, engineering strain for shear)'),
        'points': Setting(4, _EVEN_POINTS, 'strained cells per strain, half compressed, half stretched'),
        'relax_atoms': Setting(True, BOOL, 'relax the positions in each strained cell (internal strain)'),
        'fmax': Setting(1e-3, _POSITIVE, 'force tolerance of the internal relaxation, eV/Å'),
        'max_steps': Setting(100, _POSITIVE_INTEGER, 'most optimiser steps of each internal relaxation'),
        'optimizer': _OPTIMIZER,
    },
    'vacancy': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _SUPERCELL,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'site': Setting(0, _NON_NEGATIVE_INTEGER, 'index of the atom removed from the supercell'),
        'fmax': Setting(0.01, _POSITIVE, 'force tolerance of the relaxation, eV/Å'),
        'max_steps': Setting(300, _POSITIVE_INTEGER, 'most optimiser steps'),
        'optimizer': _OPTIMIZER,
    },
    'phonons': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _SUPERCELL,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'displacement': Setting(0.01, _POSITIVE, 'finite displacement, Å'),
        'path': Setting(None, _PATH, 'band path in ASE notation (default: the path ASE gives the lattice)'),
        'npoints': Setting(100, _POSITIVE_INTEGER, 'q-points on the band path'),
        'mesh': Setting([12, 12, 12], _THREE_INTEGERS, 'q-point mesh of the density of states'),
        'imaginary_threshold': Setting(
            -0.1, _NON_POSITIVE, 'frequencies below this (THz) are imaginary modes'
        ),
    },
    'md': {
        'structures': _STRUCTURES,
        'supercell': Setting(
            None,
            _SUPERCELL,
            'repetitions of the cell (default: the smallest with widths of twice the cutoff)',
        ),
        'temperatures': Setting([300.0], _TEMPERATURES, 'one NVT Langevin run per temperature, K'),
        'steps': Setting(500, _POSITIVE_INTEGER, 'MD steps per temperature'),
        'timestep': Setting(2.0, _POSITIVE, 'fs'),
        'friction': Setting(0.01, _POSITIVE, 'Langevin friction, 1/fs'),
        'seed': Setting(0, _NON_NEGATIVE_INTEGER, 'seed of the initial velocities and the thermostat'),
        'min_distance': Setting(
            None,
            optional(_POSITIVE),
            'stop when two atoms come closer than this, Å (default: half the shortest distance at the start)',
        ),
        'gamma_stop': Setting(
            25.0, _POSITIVE, 'stop when the extrapolation grade reaches this (with an active set)'
        ),
        'interval': Setting(10, _POSITIVE_INTEGER, 'steps between two points of the recorded trace'),
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
        checks = {key: setting.check for key, setting in PROPERTY_SETTINGS[name].items()}
        message = first_error(section(checks), settings, f'parameters.{name}')
        if message:
            return message
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
