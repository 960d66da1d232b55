"""``aiida-pacemaker validate``: a potential's materials properties next to a reference calculator's."""

from __future__ import annotations

import pathlib
import re
import typing as t

import click
from aiida import orm
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.tools.property_settings import PROPERTIES

from .launch import run_in_foreground
from .utils import FIGURES_DIRECTORY, echo_table, load_node_of, one_line_errors

__all__ = ('TABLE_HEADERS', 'cmd_validate', 'table_rows', 'validation_parameters')

TABLE_HEADERS = ('property', 'structure', 'potential', 'reference', 'difference', 'relative', 'unit', 'notes')


def _significant(value: t.Any) -> str:
    if value is None:
        return '-'
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f'{value:.4g}'


def table_rows(table: list[dict[str, t.Any]]) -> list[list[str]]:
    """The printed rows of a validation ``table`` (4 significant digits, relative differences in %)."""
    return [
        [
            row['property'],
            row['structure'],
            _significant(row['potential']),
            _significant(row['reference']),
            _significant(row['difference']),
            f'{100 * row["relative_difference"]:+.1f}%' if row['relative_difference'] is not None else '-',
            row['unit'],
            row['notes'] or '',
        ]
        for row in table
    ]


def validation_parameters(
    properties: str | None, settings: dict[str, t.Any] | None, temperatures: t.Sequence[float]
) -> dict[str, t.Any]:
    """The workchain's ``parameters`` from ``--properties`` (comma separated; default: the properties of the
    parameters file, or all), the file's ``settings`` and ``--temperature``.

    :raises ValueError: if the file sets a property that ``--properties`` leaves out.
    """
    settings = dict(settings or {})
    if properties is None:
        names = [name for name in PROPERTIES if name in settings] or list(PROPERTIES)
    else:
        names = [name.strip() for name in properties.split(',') if name.strip()]
    left_out = sorted(set(settings) - set(names) - {'relax'})
    if left_out:
        raise ValueError(
            f'the parameters file sets {", ".join(left_out)}, which --properties leaves out: add it or remove it'
        )
    parameters = {name: dict(settings.get(name) or {}) for name in names}
    if 'relax' in settings:
        parameters['relax'] = settings['relax']
    if temperatures:
        if 'md' not in parameters:
            raise ValueError('--temperature sets MD temperatures, but md is not among the properties')
        parameters['md']['temperatures'] = [float(x) for x in temperatures]
    return parameters


def _structure_name(text: str) -> str:
    name = re.sub(r'\W', '_', text).strip('_') or 'structure'
    return name if not name[0].isdigit() else f's_{name}'


def read_reference_structures(
    files: t.Sequence[pathlib.Path], elements: t.Sequence[str]
) -> dict[str, orm.StructureData]:
    """The structures of the files (named by file stem, ``_K`` for the K-th of a file holding several) or,
    without files, the cubic reference crystal of each element of the potential (``ase.build.bulk(element,
    cubic=True)``, ASE's experimental lattice constants).

    :raises ValueError: if a file cannot be read or an element has no cubic reference crystal in ASE.
    """
    from aiida_pacemaker.tools.io import read_structures

    structures: dict[str, orm.StructureData] = {}
    for path in files:
        atoms_list = read_structures(path)
        for index, atoms in enumerate(atoms_list):
            name = _structure_name(path.stem if len(atoms_list) == 1 else f'{path.stem}_{index}')
            if name in structures:
                raise ValueError(f'two structures would be called `{name}`: rename one of the files')
            structures[name] = orm.StructureData(ase=atoms)
    if structures:
        return structures
    from ase.build import bulk
    from ase.data import atomic_numbers, reference_states

    for element in elements:
        state = reference_states[atomic_numbers[element]] or {}
        try:
            atoms = bulk(element, cubic=True)
        except Exception as exception:
            raise ValueError(
                f'ASE has no cubic reference crystal of {element} ({state.get("symmetry", "none")}): '
                f'give one with --structure ({" ".join(str(exception).split())})'
            ) from None
        structures[_structure_name(f'{element}_{state.get("symmetry", "bulk")}')] = orm.StructureData(
            ase=atoms
        )
    return structures


def _read_yaml(text: str, where: str) -> t.Any:
    """``text`` parsed as YAML (safely); a ValueError naming ``where`` if it is not YAML."""
    import yaml

    from aiida_pacemaker.tools.yaml_files import load_yaml

    try:
        return load_yaml(text)
    except yaml.YAMLError as exception:
        raise ValueError(f'{where} is not valid YAML: {exception}') from None


def _potential_and_active_set(identifier: str) -> tuple[PacePotentialData, ActiveSetData | None]:
    node = load_node_of(identifier, PacePotentialData, orm.WorkflowNode)
    if isinstance(node, PacePotentialData):
        return node, None
    from .report import final_potential, load_active_learning

    workchain = load_active_learning(identifier)
    potential = final_potential(workchain)
    if potential is None:
        echo.echo_critical(f'{workchain.process_label}<{workchain.pk}> has no potential yet')
    active_set = workchain.outputs.active_set if 'active_set' in workchain.outputs else None
    return potential, active_set


@click.command('validate')
@click.argument('identifier', metavar='PK')
@click.option(
    '-s',
    '--structure',
    'structure_files',
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    help='Reference structure file (any format ASE reads; repeatable). Default: the cubic crystal of each '
    'element of the potential from ASE.',
)
@click.option(
    '-c',
    '--calculator',
    default='ase.calculators.emt.EMT',
    show_default=True,
    help='Import path of the reference ASE calculator class.',
)
@click.option(
    '--calculator-kwargs',
    default=None,
    help='Arguments of the calculator as a YAML mapping, e.g. "{mode: pw, xc: PBE}".',
)
@click.option(
    '-P',
    '--properties',
    default=None,
    help=f'Comma-separated properties among {",".join(PROPERTIES)} (default: those of --parameters, or all).',
)
@click.option(
    '--parameters',
    'parameters_file',
    type=click.Path(exists=True, dir_okay=False, path_type=pathlib.Path),
    help='YAML file of settings per property, e.g. {eos: {points: 9}, md: {steps: 2000}, relax: {fmax: 0.001}}.',
)
@click.option(
    '-T', '--temperature', 'temperatures', multiple=True, type=float, help='MD temperature, K (repeatable).'
)
@click.option(
    '--active-set',
    'active_set_identifier',
    default=None,
    help='PK of the ActiveSetData of the potential: MD then records the extrapolation grade.',
)
@FIGURES_DIRECTORY
@decorators.with_dbenv()
@one_line_errors
def cmd_validate(
    identifier: str,
    structure_files: tuple[pathlib.Path, ...],
    calculator: str,
    calculator_kwargs: str | None,
    properties: str | None,
    parameters_file: pathlib.Path | None,
    temperatures: tuple[float, ...],
    active_set_identifier: str | None,
    output: pathlib.Path,
) -> None:
    """Validate the potential PK (a PacePotentialData, or a PaceActiveLearningWorkChain: its final potential
    and active set) against a reference ASE calculator: equation of state, cubic elastic constants, vacancy
    formation energy, phonons and MD stability, computed with both in the foreground (PaceValidateWorkChain).
    Prints the table and writes the E(V), phonon and MD figures.
    """
    from aiida_pacemaker.tools.validation_plots import write_validation_plots
    from aiida_pacemaker.workflows.validate import PaceValidateWorkChain

    from .run import exit_unless_finished_ok

    potential, active_set = _potential_and_active_set(identifier)
    if active_set_identifier is not None:
        active_set = load_node_of(active_set_identifier, ActiveSetData)
    settings = (
        _read_yaml(parameters_file.read_text(encoding='utf8'), str(parameters_file))
        if parameters_file
        else None
    )
    if settings is not None and not isinstance(settings, dict):
        raise ValueError(f'{parameters_file}: expected a mapping of properties to settings')
    kwargs = _read_yaml(calculator_kwargs, '--calculator-kwargs') if calculator_kwargs else None
    if kwargs is not None and not isinstance(kwargs, dict):
        raise ValueError(f'--calculator-kwargs must be a mapping, got {calculator_kwargs!r}')

    builder: t.Any = PaceValidateWorkChain.get_builder()
    builder.potential = potential
    if active_set is not None:
        builder.active_set = active_set
    builder.labeller.calculator = calculator
    if kwargs:
        builder.labeller.calculator_kwargs = kwargs
    builder.structures = read_reference_structures(structure_files, potential.elements)
    builder.parameters = validation_parameters(properties, settings, temperatures)
    node = run_in_foreground(builder)
    exit_unless_finished_ok(node)
    echo_table(table_rows(node.outputs.table.get_list()), TABLE_HEADERS)
    for path in write_validation_plots(t.cast(orm.WorkflowNode, node), output):
        echo.echo_success(f'wrote {path}')
