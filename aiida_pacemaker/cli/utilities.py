"""``aiida-pacemaker utilities``: pacemaker's utilities (pace_collect, pace_corerep, pace_augment,
pace_info, pace_timing) as ShellJobs with provenance; one command each, and ``show``.

Each command prints the one-line message of the run and, last, the PK of what it made (for scripts);
a run that made nothing ends with its one-line reason and exit status 1.
"""

from __future__ import annotations

import pathlib
import typing as t

import click
from aiida import orm
from aiida.cmdline.groups import VerdiCommandGroup
from aiida.cmdline.params import options
from aiida.cmdline.utils import decorators, echo

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData

from .utils import echo_pairs, format_number, load_node_of, one_line_errors

if t.TYPE_CHECKING:
    from aiida_pacemaker.utilities import UtilityRun

__all__ = ('cmd_utilities', 'summary_pairs')

_CODE = options.CODE(
    required=False,
    help="The tool's code [default: this environment's, on the plugin's local computer, registered if missing].",
)
_ACTIVE_SET = click.option(
    '--active-set',
    'active_set_id',
    metavar='PK',
    help="The potential's active set [default: the newest built for it].",
)
_TRAINING_SET = click.option(
    '--training-set',
    'training_set_id',
    metavar='PK',
    help="The structures to use [default: the potential's training set].",
)


@click.group('utilities', cls=VerdiCommandGroup)
def cmd_utilities() -> None:
    """pacemaker's utilities (pace_collect, pace_corerep, pace_augment, pace_info, pace_timing) with provenance."""


def _finish(run: UtilityRun, product: str) -> None:
    """Print ``run``'s warnings and message, then the PK of ``outputs[product]``; exit 1 if it failed."""
    for warning in run.warnings:
        if warning not in run.message:
            echo.echo_warning(warning)
    if not run.ok:
        echo.echo_critical(run.message)
    echo.echo_success(run.message)
    click.echo(run.outputs[product].pk)


def _optional(identifier: str | None, cls: type[orm.Node]) -> t.Any:
    return load_node_of(identifier, cls) if identifier else None


@cmd_utilities.command('setup')
@options.COMPUTER(
    required=False, help="Computer to register the codes on [default: the plugin's local computer]."
)
@click.option(
    '--bin-dir',
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help='Directory holding the utilities; on a remote computer, the directory there (required) '
    '[default: next to this Python interpreter, else the PATH].',
)
@decorators.with_dbenv()
@one_line_errors
def utilities_setup(computer: orm.Computer | None, bin_dir: pathlib.Path | None) -> None:
    """Register pace_collect, pace_corerep, pace_augment, pace_info and pace_timing as codes (idempotent)."""
    from aiida_pacemaker.utilities import setup_utility_codes

    for label, code in setup_utility_codes(computer, bin_dir).items():
        click.echo(f'{label}: {code.full_label} (PK {code.pk}) -> {code.filepath_executable}')


@cmd_utilities.command('collect')
@click.argument('paths', nargs=-1, required=True, type=click.Path(exists=True, path_type=pathlib.Path))
@click.option(
    '--selection',
    default='last',
    show_default=True,
    help='Ionic steps of each run: last, first, all, first_and_last, or a slice start:stop:step.',
)
@click.option(
    '--keep-unfinished',
    is_flag=True,
    help='Keep the structures of runs that did not finish and of ionic steps whose electronic loop hit NELM.',
)
@click.option('-L', '--label', default=None, help='Label of the new training set.')
@_CODE
@decorators.with_dbenv()
@one_line_errors
def utilities_collect(
    paths: tuple[pathlib.Path, ...],
    selection: str,
    keep_unfinished: bool,
    label: str | None,
    code: orm.AbstractCode | None,
) -> None:
    """Collect the labelled structures of the VASP runs in PATHS (folders, searched recursively, or
    vasprun.xml/OUTCAR files) with pace_collect, as one TrainingSetData. Only vasprun.xml and OUTCAR
    files are uploaded.
    """
    from aiida_pacemaker.utilities import collect_vasp

    run = collect_vasp(list(paths), selection=selection, keep_unfinished=keep_unfinished, code=code)
    if run.ok and label:
        run.outputs['training_set'].label = label
    _finish(run, 'training_set')


def _inner_cutoffs(values: tuple[str, ...]) -> dict[str, float]:
    cutoffs = {}
    for value in values:
        bond, _, distance = value.partition(':')
        try:
            cutoffs[bond] = float(distance)
        except ValueError:
            raise ValueError(
                f'--inner-cutoff {value!r}: give ELEMENT:Å or A-B:Å, e.g. Cu:1.6 or Cu-Au:1.7'
            ) from None
    return cutoffs


@cmd_utilities.command('corerep')
@click.argument('identifier', metavar='PK')
@_ACTIVE_SET
@_TRAINING_SET
@click.option(
    '--inner-cutoff',
    multiple=True,
    metavar='BOND:Å',
    help='Set r_in instead of tuning it, per element (Cu:1.6) or bond (Cu-Au:1.7); repeat for more.',
)
@click.option(
    '-n', '--num-structures', type=int, default=None, help='Structures compressed to tune r_in [50].'
)
@click.option(
    '--gamma-max', type=float, default=None, help='Extrapolation grade of an unreliable environment [10].'
)
@click.option(
    '--nn-min', type=float, default=None, help='Smallest nearest-neighbour distance scanned, Å [0.5].'
)
@click.option(
    '--nn-max', type=float, default=None, help='Largest nearest-neighbour distance scanned, Å [2.5].'
)
@click.option('--nn-step', type=float, default=None, help='Step of the scan, Å [0.05].')
@_CODE
@decorators.with_dbenv()
@one_line_errors
def utilities_corerep(
    identifier: str,
    active_set_id: str | None,
    training_set_id: str | None,
    inner_cutoff: tuple[str, ...],
    num_structures: int | None,
    gamma_max: float | None,
    nn_min: float | None,
    nn_max: float | None,
    nn_step: float | None,
    code: orm.AbstractCode | None,
) -> None:
    """Add a ZBL core repulsion to the potential PK with pace_corerep, tuned from its active set and
    training set (or at the given inner cutoffs): a new PacePotentialData.
    """
    from aiida_pacemaker.utilities import add_core_repulsion

    run = add_core_repulsion(
        load_node_of(identifier, PacePotentialData),
        active_set=_optional(active_set_id, ActiveSetData),
        training_set=_optional(training_set_id, TrainingSetData),
        inner_cutoff=_inner_cutoffs(inner_cutoff) or None,
        num_structures=num_structures,
        gamma_max=gamma_max,
        nn_distance_min=nn_min,
        nn_distance_max=nn_max,
        nn_distance_step=nn_step,
        code=code,
    )
    _finish(run, 'potential')


@cmd_utilities.command('augment')
@click.argument('identifier', metavar='PK')
@_TRAINING_SET
@_ACTIVE_SET
@click.option(
    '--max-seed-structures', type=int, default=None, help='Seed structures to compress [100; -1 all].'
)
@click.option('--max-atoms', type=int, default=None, help='Largest seed structure, atoms [32; -1 no limit].')
@click.option('--nn-min', type=float, default=None, help='Smallest nearest-neighbour distance, Å [1.0].')
@click.option('--nn-step', type=float, default=None, help='Step of the compression, Å [0.1].')
@click.option('--min-epa', type=float, default=None, help='Smallest ZBL energy kept, eV/atom [none].')
@click.option('--max-epa', type=float, default=None, help='Largest ZBL energy kept, eV/atom [150].')
@click.option(
    '--reliable-epa-max', type=float, default=None, help='Energies above this are unreliable, eV/atom.'
)
@click.option(
    '--merge', is_flag=True, help='Also make the training set with the augmented structures appended.'
)
@_CODE
@decorators.with_dbenv()
@one_line_errors
def utilities_augment(
    identifier: str,
    training_set_id: str | None,
    active_set_id: str | None,
    max_seed_structures: int | None,
    max_atoms: int | None,
    nn_min: float | None,
    nn_step: float | None,
    min_epa: float | None,
    max_epa: float | None,
    reliable_epa_max: float | None,
    merge: bool,
    code: orm.AbstractCode | None,
) -> None:
    """Make ZBL-labelled compressed structures for the potential PK with pace_augment: a TrainingSetData
    to merge (with --merge, also the merged set, whose PK is printed last).
    """
    from aiida_pacemaker.utilities import augment_training_set

    run = augment_training_set(
        load_node_of(identifier, PacePotentialData),
        training_set=_optional(training_set_id, TrainingSetData),
        active_set=_optional(active_set_id, ActiveSetData),
        max_seed_structures=max_seed_structures,
        max_atoms=max_atoms,
        nn_distance_min=nn_min,
        nn_distance_step=nn_step,
        min_energy_per_atom=min_epa,
        max_energy_per_atom=max_epa,
        reliable_energy_per_atom_max=reliable_epa_max,
        merge=merge,
        code=code,
    )
    _finish(run, 'merged' if merge else 'training_set')


@cmd_utilities.command('info')
@click.argument('identifier', metavar='PK')
@_CODE
@decorators.with_dbenv()
@one_line_errors
def utilities_info(identifier: str, code: orm.AbstractCode | None) -> None:
    """Run pace_info on the potential PK and print its basis: functions per element and order, cutoffs, bonds."""
    from aiida_pacemaker.utilities import potential_info

    potential = load_node_of(identifier, PacePotentialData)
    run = potential_info(potential, code=code)
    if run.ok:
        echo_pairs(info_pairs(run.outputs['info'].get_dict()))
    _finish(run, 'info')


@cmd_utilities.command('timing')
@click.argument('identifier', metavar='PK')
@click.option('-n', '--num-structures', type=click.IntRange(min=1), default=10, show_default=True)
@_CODE
@decorators.with_dbenv()
@one_line_errors
def utilities_timing(identifier: str, num_structures: int, code: orm.AbstractCode | None) -> None:
    """Run pace_timing on the potential PK: evaluation time per atom (µs, one core, C++ evaluator)."""
    from aiida_pacemaker.utilities import potential_timing

    potential = load_node_of(identifier, PacePotentialData)
    run = potential_timing(potential, num_structures=num_structures, code=code)
    if run.ok:
        echo_pairs(timing_pairs(run.outputs['timing'].get_dict()))
    _finish(run, 'timing')


@cmd_utilities.command('show')
@click.argument('identifier', metavar='PK')
@decorators.with_dbenv()
@one_line_errors
def utilities_show(identifier: str) -> None:
    """What pace_info and pace_timing reported for the potential PK (the newest runs), and the potentials
    pace_corerep made from it."""
    potential = load_node_of(identifier, PacePotentialData)
    pairs = summary_pairs(potential)
    if not pairs:
        echo.echo_report(
            f'no pace_info, pace_timing or pace_corerep result for PacePotentialData<{potential.pk}>: '
            f'run `aiida-pacemaker utilities info {potential.pk}` (or timing, corerep)'
        )
        return
    echo_pairs([('PacePotentialData', f'{potential.pk} ({potential.uuid})'), *pairs])


def info_pairs(info: dict[str, t.Any]) -> list[tuple[str, str]]:
    """Lines of a ``pace_info`` Dict (see :func:`~aiida_pacemaker.utilities.tool_output.parse_info_text`)."""
    per_element = ', '.join(f'{e} {n}' for e, n in info['number_of_functions_per_element'].items())
    pairs = [
        ('elements', ' '.join(info['elements'])),
        ('basis functions', f'{info["number_of_functions"]} ({per_element})'),
    ]
    for element, block in info['functions'].items():
        orders = ', '.join(
            f'{order}: {n}' for order, n in zip(block['orders'], block['nfuncs'], strict=False)
        )
        pairs.append((f'{element} functions by order', orders))
    pairs.append(('largest cutoff', f'{info["cutoff"]} Å'))
    for bond, spec in info['bonds'].items():
        inner = (
            f'ZBL below r_in {spec["r_in"]:.3f} Å (switch {spec["delta_in"]:.3f} Å)'
            if spec['inner_cutoff_type'] == 'zbl'
            else f'inner cutoff {spec["inner_cutoff_type"]}'
        )
        pairs.append((f'bond {bond}', f'{spec["radbase"]}, rcut {spec["rcut"]:.3f} Å, {inner}'))
    return pairs


def timing_pairs(timing: dict[str, t.Any]) -> list[tuple[str, str]]:
    """Lines of a ``pace_timing`` Dict (see :func:`~aiida_pacemaker.utilities.tool_output.parse_timing_text`)."""
    spread = timing.get('time_per_atom_std_us')
    overall = format_number(timing['time_per_atom_us'], 0) + (
        f' ± {spread:.0f}' if spread is not None else ''
    )
    prototypes = ', '.join(
        f'{name} {format_number(row["time_per_atom_us"], 0)} µs ({format_number(row["num_atoms"], 0)} atoms)'
        for name, row in timing['prototypes'].items()
    )
    return [
        ('time per atom', f'{overall} µs per evaluation (one core, {timing["num_structures"]} structures)'),
        ('by prototype', prototypes),
    ]


def summary_pairs(potential: PacePotentialData) -> list[tuple[str, str]]:
    """What pace_info, pace_timing and pace_corerep gave for ``potential`` (for ``show`` commands)."""
    from aiida_pacemaker.utilities import utility_summaries
    from aiida_pacemaker.utilities.corerep import core_repulsion_potentials

    pairs: list[tuple[str, str]] = []
    summaries = utility_summaries(potential)
    if 'info' in summaries:
        pairs.append(('pace_info', f'Dict<{summaries["info"].pk}>'))
        pairs += info_pairs(summaries['info'].get_dict())
    if 'timing' in summaries:
        pairs.append(('pace_timing', f'Dict<{summaries["timing"].pk}>'))
        pairs += timing_pairs(summaries['timing'].get_dict())
    for new, cutoffs in core_repulsion_potentials(potential):
        radii = ', '.join(f'{bond} {r:.3f} Å' for bond, r in cutoffs.items())
        pairs.append(('with core repulsion', f'PacePotentialData<{new.pk}> (r_in {radii})'))
    return pairs
