"""Materials properties as calcfunctions: one per property, run with a potential or a reference calculator.

Each calcfunction takes the ``structure`` (StructureData), its ``parameters`` (Dict: the settings of
:data:`aiida_pacemaker.tools.property_settings.PROPERTY_SETTINGS`, with the supercell resolved) and the
model: either ``potential`` (PacePotentialData, evaluated with
:meth:`~aiida_pacemaker.data.potential.PacePotentialData.get_ase_calculator`, so with its baseline and
reference energies; MD also takes its ``active_set``), or ``calculator`` (Str, the import path of an ASE
calculator, as for the built-in ASE labeller) with optional ``calculator_kwargs`` (Dict). The graph then
shows which potential or calculator, which structure and which settings each number came from.

These are cheap classical evaluations (ACE, EMT, a force field: seconds) and run in the AiiDA process,
as the built-in ASE labeller does. :func:`build_validation_table` puts the results side by side.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
import typing as t
from collections.abc import Iterator

from aiida import orm
from aiida.engine import calcfunction

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.labellers.ase import load_calculator_class
from aiida_pacemaker.tools import properties
from aiida_pacemaker.tools.property_settings import PROPERTIES

__all__ = (
    'ABSOLUTE_ONLY',
    'MODELS',
    'build_validation_table',
    'compute_elastic_constants',
    'compute_equation_of_state',
    'compute_phonons',
    'compute_vacancy_formation_energy',
    'model_calculator',
    'relax_structure',
    'run_md_stability',
    'validation_rows',
)

#: the two sides of every comparison
MODELS = ('potential', 'reference')


@contextlib.contextmanager
def model_calculator(
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
    active_set: ActiveSetData | None = None,
) -> Iterator[t.Any]:
    """The ASE calculator of a potential (its files in a temporary folder, removed afterwards) or of an
    ASE calculator class named by import path (only calculator classes are loaded).

    :raises ValueError: unless exactly one of ``potential`` and ``calculator`` is given.
    """
    if (potential is None) == (calculator is None):
        raise ValueError('give either a `potential` or a `calculator`, not both or neither')
    if potential is not None:
        with tempfile.TemporaryDirectory(prefix='aiida_pacemaker_validate_') as folder:
            yield potential.get_ase_calculator(active_set=active_set, directory=folder)
        return
    assert calculator is not None
    kwargs = calculator_kwargs.get_dict() if calculator_kwargs is not None else {}
    yield load_calculator_class(calculator.value)(**kwargs)


def _settings(parameters: orm.Dict) -> dict[str, t.Any]:
    settings: dict[str, t.Any] = parameters.get_dict()
    settings.pop('structures', None)
    return settings


def _arrays(arrays: t.Mapping[str, t.Any]) -> orm.ArrayData:
    node = orm.ArrayData()
    for name, array in arrays.items():
        node.set_array(name, array)
    return node


def _evaluate(
    compute: t.Callable[..., t.Any],
    structure: orm.StructureData,
    parameters: orm.Dict,
    models: dict[str, t.Any],
    **extra: t.Any,
) -> dict[str, orm.Data]:
    """Run a function of :mod:`aiida_pacemaker.tools.properties` with the calculator of the ``models`` nodes
    (see :func:`model_calculator`): ``result`` (Dict) and, for a function that returns arrays too, ``arrays``."""
    with model_calculator(**models) as model:
        returned = compute(structure.get_ase(), model, **extra, **_settings(parameters))
    if isinstance(returned, tuple):
        summary, arrays = returned
        return {'result': orm.Dict(summary), 'arrays': _arrays(arrays)}
    return {'result': orm.Dict(returned)}


@calcfunction
def relax_structure(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """Relax ``structure`` (see :func:`aiida_pacemaker.tools.properties.relax`): ``structure`` (the relaxed
    one) and ``result`` (Dict: ``energy`` eV, ``energy_per_atom`` eV/atom, ``steps``, ``converged``,
    ``max_force`` eV/Å, ``volume_per_atom`` Å³/atom)."""
    with model_calculator(potential, calculator, calculator_kwargs) as model:
        relaxation = properties.relax(structure.get_ase(), model, **_settings(parameters))
    natoms = len(relaxation.atoms)
    result = {
        'energy': relaxation.energy,
        'energy_per_atom': relaxation.energy / natoms,
        'volume_per_atom': float(relaxation.atoms.get_volume() / natoms),
        'steps': relaxation.steps,
        'converged': relaxation.converged,
        'max_force': relaxation.max_force,
    }
    return {'structure': orm.StructureData(ase=relaxation.atoms), 'result': orm.Dict(result)}


@calcfunction
def compute_equation_of_state(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """E(V), equilibrium volume (Å³/atom), energy (eV/atom) and bulk modulus (GPa): ``result`` (Dict),
    see :func:`aiida_pacemaker.tools.properties.equation_of_state`."""
    models = {'potential': potential, 'calculator': calculator, 'calculator_kwargs': calculator_kwargs}
    return _evaluate(properties.equation_of_state, structure, parameters, models)


@calcfunction
def compute_elastic_constants(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """Cubic elastic constants C11, C12, C44 (GPa): ``result`` (Dict), see
    :func:`aiida_pacemaker.tools.properties.elastic_constants`."""
    models = {'potential': potential, 'calculator': calculator, 'calculator_kwargs': calculator_kwargs}
    return _evaluate(properties.elastic_constants, structure, parameters, models)


@calcfunction
def compute_vacancy_formation_energy(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """Relaxed vacancy formation energy (eV): ``result`` (Dict), see
    :func:`aiida_pacemaker.tools.properties.vacancy_formation_energy`."""
    models = {'potential': potential, 'calculator': calculator, 'calculator_kwargs': calculator_kwargs}
    return _evaluate(properties.vacancy_formation_energy, structure, parameters, models)


@calcfunction
def compute_phonons(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """Phonon bands and DOS with phonopy (THz): ``result`` (Dict: extreme frequencies, imaginary modes, the
    path) and ``arrays`` (ArrayData: ``qpoints``, ``distances``, ``frequencies``, ``dos_frequencies``,
    ``dos``), see :func:`aiida_pacemaker.tools.properties.phonons`."""
    models = {'potential': potential, 'calculator': calculator, 'calculator_kwargs': calculator_kwargs}
    return _evaluate(properties.phonons, structure, parameters, models)


@calcfunction
def run_md_stability(
    structure: orm.StructureData,
    parameters: orm.Dict,
    potential: PacePotentialData | None = None,
    active_set: ActiveSetData | None = None,
    calculator: orm.Str | None = None,
    calculator_kwargs: orm.Dict | None = None,
) -> dict[str, orm.Data]:
    """NVT Langevin MD at each temperature: ``result`` (Dict: per temperature the steps survived, the
    shortest distance in Å, the max extrapolation grade with an ``active_set``) and ``arrays`` (ArrayData:
    the traces), see :func:`aiida_pacemaker.tools.properties.md_stability`."""
    models = {
        **{'potential': potential, 'calculator': calculator, 'calculator_kwargs': calculator_kwargs},
        'active_set': active_set,
    }
    return _evaluate(
        properties.md_stability, structure, parameters, models, with_grades=active_set is not None
    )


#: per property: (key of its result, row name, unit) of each row of the table
TABLE_ROWS: dict[str, tuple[tuple[str, str, str], ...]] = {
    'eos': (
        ('lattice_constant', 'lattice constant', 'Å'),
        ('equilibrium_volume', 'equilibrium volume', 'Å³/atom'),
        ('equilibrium_energy', 'equilibrium energy', 'eV/atom'),
        ('bulk_modulus', 'bulk modulus', 'GPa'),
    ),
    'elastic': (('C11', 'C11', 'GPa'), ('C12', 'C12', 'GPa'), ('C44', 'C44', 'GPa')),
    'vacancy': (('formation_energy', 'vacancy formation energy', 'eV'),),
    'phonons': (
        ('max_frequency', 'max phonon frequency', 'THz'),
        ('mean_frequency', 'mean phonon frequency', 'THz'),
    ),
}
#: rows whose zero is arbitrary (EMT's energies are relative to its fcc crystal, a DFT code's to its
#: pseudopotentials): their difference means something, a relative difference does not
ABSOLUTE_ONLY = ('equilibrium energy',)
_MD_ROWS = (
    ('steps_survived', 'steps survived', 'steps'),
    ('min_distance', 'min distance', 'Å'),
    ('max_gamma', 'max extrapolation grade', '-'),
)


def _notes(name: str, result: dict[str, t.Any] | None) -> list[str]:
    """What a reader of one model's result should know: an unconverged relaxation, imaginary modes."""
    if result is None:
        return []
    notes = []
    if result.get('converged') is False:
        notes.append(
            'relaxation not converged' if name == 'relax' else f'{name}: a relaxation did not converge'
        )
    if result.get('imaginary_modes'):
        notes.append(f'imaginary modes (min {result["min_frequency"]:.2f} THz)')
    return notes


def _row(
    name: str, structure: str, unit: str, values: dict[str, t.Any], notes: list[str]
) -> dict[str, t.Any]:
    potential, reference = values.get('potential'), values.get('reference')
    difference = relative = None
    if potential is not None and reference is not None:
        difference = float(potential) - float(reference)
        relative = difference / abs(float(reference)) if reference and name not in ABSOLUTE_ONLY else None
    return {
        'property': name,
        'structure': structure,
        'unit': unit,
        'potential': potential,
        'reference': reference,
        'difference': difference,
        'relative_difference': relative,
        'notes': '; '.join(notes),
    }


def validation_rows(results: t.Mapping[tuple[str, str, str], dict[str, t.Any]]) -> list[dict[str, t.Any]]:
    """The table rows from the results keyed by (model, property, structure): per row ``property``,
    ``structure``, ``unit``, ``potential`` and ``reference`` values, ``difference`` (potential minus
    reference), ``relative_difference`` (of the reference's magnitude; None for a zero reference and
    for energies, whose zero is arbitrary: :data:`ABSOLUTE_ONLY`) and
    ``notes`` (unconverged relaxations, imaginary modes, MD runs that stopped early, by model)."""
    structures = sorted({structure for _, _, structure in results})
    rows = []
    for structure in structures:
        general = [
            f'{model}: {note}'
            for model in MODELS
            for note in _notes('relax', results.get((model, 'relax', structure)))
        ]
        for name in PROPERTIES:
            by_model = {model: results.get((model, name, structure)) for model in MODELS}
            if not any(by_model.values()):
                continue
            notes = general + [
                f'{model}: {note}' for model, result in by_model.items() for note in _notes(name, result)
            ]
            if name == 'md':
                rows.extend(_md_rows(structure, by_model, notes))
                continue
            for key, label, unit in TABLE_ROWS[name]:
                values = {model: (result or {}).get(key) for model, result in by_model.items()}
                if all(value is None for value in values.values()):
                    continue
                rows.append(_row(label, structure, unit, values, notes))
    return rows


def _md_rows(
    structure: str, by_model: dict[str, dict[str, t.Any] | None], notes: list[str]
) -> list[dict[str, t.Any]]:
    rows = []
    runs = {
        model: {run['temperature']: run for run in (result or {}).get('runs', [])}
        for model, result in by_model.items()
    }
    temperatures = sorted({temperature for per_model in runs.values() for temperature in per_model})
    for temperature in temperatures:
        stopped = [
            f'{model}: stopped, {run["stop_reason"]}'
            for model, per_model in runs.items()
            if (run := per_model.get(temperature)) is not None and not run['completed']
        ]
        for key, label, unit in _MD_ROWS:
            values = {model: (per_model.get(temperature) or {}).get(key) for model, per_model in runs.items()}
            if all(value is None for value in values.values()):
                continue
            rows.append(_row(f'MD {temperature:g} K {label}', structure, unit, values, notes + stopped))
    return rows


@calcfunction
def build_validation_table(**results: orm.Dict) -> orm.List:
    """The property table (see :func:`validation_rows`) from the ``result`` Dicts of the property
    calcfunctions, passed as ``{model}_{property}_{structure}`` (model ``potential`` or ``reference``,
    property ``relax`` or one of :data:`~aiida_pacemaker.tools.property_settings.PROPERTIES`)."""
    keyed = {}
    for label, node in results.items():
        model, name, structure = label.split('_', 2)
        keyed[(model, name, structure)] = node.get_dict()
    rows = validation_rows(keyed)
    for row in rows:  # a List node stores no NaN
        for key in ('potential', 'reference', 'difference', 'relative_difference'):
            if isinstance(row[key], float) and not math.isfinite(row[key]):
                row[key] = None
    return orm.List(rows)
