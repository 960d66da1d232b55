"""Show and export training sets, potentials and active sets.

One implementation for both entry points: ``aiida-pacemaker dataset|potential show|export`` and
``verdi data pacemaker show|export``.
"""

from __future__ import annotations

import pathlib

import click
import numpy as np
from aiida.cmdline.utils import echo

from aiida_pacemaker.data.active_set import NONLINEAR_FILENAME, ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YACE, POTENTIAL_YAML
from aiida_pacemaker.tools import io, provenance

from .utils import echo_pairs

__all__ = (
    'export_active_set',
    'export_potential',
    'export_training_set',
    'show_active_set',
    'show_potential',
    'show_training_set',
    'training_set_summary',
)

LAMMPS_FILENAME = 'lammps.in'


def training_set_summary(training_set: TrainingSetData) -> dict[str, object]:
    """Counts, elements, energy-per-atom range (eV/atom), max |force| (eV/Å) and whether stress is there."""
    arrays = training_set.get_arrays()
    per_atom = arrays['energy'] / arrays['natoms']
    norms = np.linalg.norm(arrays['forces'], axis=1)
    return {
        'structures': training_set.num_structures,
        'atoms': training_set.num_atoms,
        'elements': training_set.elements,
        'energy_per_atom_min': float(per_atom.min()),
        'energy_per_atom_max': float(per_atom.max()),
        'max_force': float(norms.max(initial=0.0)),
        'has_stress': bool(training_set.base.attributes.get('has_stress', False)),
    }


def show_training_set(training_set: TrainingSetData) -> None:
    """Print a summary of ``training_set``."""
    summary = training_set_summary(training_set)
    echo_pairs(
        [
            ('TrainingSetData', f'{training_set.pk} ({training_set.uuid})'),
            ('label', training_set.label or '-'),
            ('structures', summary['structures']),
            ('atoms', summary['atoms']),
            ('elements', ' '.join(summary['elements'])),  # type: ignore[arg-type]
            (
                'energy per atom',
                f'{summary["energy_per_atom_min"]:.4f} to {summary["energy_per_atom_max"]:.4f} eV/atom',
            ),
            ('max |force|', f'{summary["max_force"]:.4f} eV/Å'),
            ('has stress', 'yes' if summary['has_stress'] else 'no'),
        ]
    )


def export_training_set(training_set: TrainingSetData, path: pathlib.Path) -> None:
    """Write ``training_set`` to ``path`` (extxyz, or pacemaker's pickle by the extension)."""
    io.export_training_set(training_set, path)
    echo.echo_success(
        f'wrote {training_set.num_structures} structures of TrainingSetData<{training_set.pk}> to {path}'
    )


def show_potential(potential: PacePotentialData) -> None:
    """Print the attributes of ``potential``, its training set and active set."""
    pairs: list[tuple[str, object]] = [
        ('PacePotentialData', f'{potential.pk} ({potential.uuid})'),
        ('elements', ' '.join(potential.elements)),
        ('cutoff', f'{potential.cutoff} Å'),
        ('basis functions', potential.number_of_functions),
        ('physics baseline', potential.physics_baseline),
        ('has .yace', 'yes' if potential.has_yace else 'no'),
    ]
    if potential.reference_energies:
        energies = ', '.join(f'{k} {v:.4f}' for k, v in potential.reference_energies.items())
        pairs.append(('reference energies', f'{energies} eV/atom'))
    try:
        training_set = provenance.training_set_of(potential)
    except ValueError:
        pairs.append(('training set', '- (not made by pacemaker.train)'))
    else:
        calculation = potential.creator
        pairs.append(
            ('training set', f'TrainingSetData<{training_set.pk}> ({training_set.num_structures} structures)')
        )
        if calculation is not None and 'metrics' in calculation.outputs:
            metrics = calculation.outputs.metrics.get_dict()
            for split in ('train', 'test'):
                if metrics.get(f'{split}_energy_rmse') is not None:
                    pairs.append(
                        (
                            f'{split} RMSE',
                            f'{metrics[f"{split}_energy_rmse"]:.2f} meV/atom, '
                            f'{metrics[f"{split}_force_rmse"]:.1f} meV/Å',
                        )
                    )
    active_set = provenance.active_set_of(potential)
    pairs.append(('active set', f'ActiveSetData<{active_set.pk}>' if active_set is not None else '-'))
    from .utilities import summary_pairs  # pace_info / pace_timing results, pace_corerep descendants

    pairs += summary_pairs(potential)
    echo_pairs(pairs)


def export_potential(
    potential: PacePotentialData, directory: pathlib.Path, force: bool = False
) -> list[pathlib.Path]:
    """Write ``potential.yaml``, ``potential.yace``, ``potential.asi`` (of its active set, if any),
    ``lammps.in`` (the ``pair_style pace``/``pair_coeff`` lines) and, with an active set,
    ``lammps_extrapolation.in`` (``pair_style pace/extrapolation`` with the ``.yaml`` and the ``.asi``, the
    extrapolation grade, the dump of extrapolative structures and the halt, as pacemaker's documentation
    has them) into ``directory``; existing files only with ``force``.
    """
    extrapolation_filename = 'lammps_extrapolation.in'
    active_set = provenance.active_set_of(potential)
    names = [POTENTIAL_YAML]
    if potential.has_yace:
        names += [POTENTIAL_YACE, LAMMPS_FILENAME]
    if active_set is not None:
        names += [ACTIVE_SET_ASI, extrapolation_filename]
    for name in names:
        check_output_path(directory / name, force)
    directory.mkdir(parents=True, exist_ok=True)
    header = f'# PacePotentialData<{potential.pk}> ({potential.uuid})'
    written = [potential.write_yaml(directory / POTENTIAL_YAML)]
    if potential.has_yace:
        written.append(potential.write_yace(directory / POTENTIAL_YACE))
        lines = [header, *potential.lammps_lines(POTENTIAL_YACE)]
        if active_set is not None:
            lines.append(f'# extrapolation-aware MD with the active set: see {extrapolation_filename}')
        lammps = directory / LAMMPS_FILENAME
        lammps.write_text('\n'.join(lines) + '\n', encoding='utf8')
        written.append(lammps)
    else:
        echo.echo_warning(
            f'PacePotentialData<{potential.pk}> has no .yace: no {POTENTIAL_YACE} and no {LAMMPS_FILENAME}'
        )
    if active_set is not None:
        written.extend(_write_active_set(active_set, directory / ACTIVE_SET_ASI))
        lines = [
            header,
            f'# and its active set ActiveSetData<{active_set.pk}> ({active_set.uuid}), units metal.',
            '# pace/extrapolation takes the .yaml potential and the .asi (not the .yace); the atom types are',
            f'# the elements {" ".join(potential.elements)} in this order (also for `pace_select -e` on the dump).',
            '# As in pacemaker\'s documentation, "Usage of active set with LAMMPS".',
            *potential.lammps_extrapolation_lines(POTENTIAL_YAML, ACTIVE_SET_ASI),
        ]
        extrapolation = directory / extrapolation_filename
        extrapolation.write_text('\n'.join(lines) + '\n', encoding='utf8')
        written.append(extrapolation)
    for path in written:
        echo.echo_success(f'wrote {path}')
    return written


def _write_active_set(active_set: ActiveSetData, path: pathlib.Path) -> list[pathlib.Path]:
    written = [active_set.write_asi(path)]
    if active_set.base.attributes.get('has_nonlinear', False):
        nonlinear = path.with_name(path.name + '.nonlinear')
        nonlinear.write_bytes(active_set.base.repository.get_object_content(NONLINEAR_FILENAME, mode='rb'))
        written.append(nonlinear)
    return written


def show_active_set(active_set: ActiveSetData) -> None:
    """Print the attributes of ``active_set``."""
    from aiida import orm

    try:
        potential = (
            f'PacePotentialData<{orm.load_node(active_set.potential_uuid).pk}> ({active_set.potential_uuid})'
        )
    except Exception:  # the potential is not in this profile
        potential = f'{active_set.potential_uuid} (not in this profile)'
    echo_pairs(
        [
            ('ActiveSetData', f'{active_set.pk} ({active_set.uuid})'),
            ('potential', potential),
            ('elements', ' '.join(active_set.base.attributes.get('elements', []))),
            ('has nonlinear part', 'yes' if active_set.base.attributes.get('has_nonlinear') else 'no'),
        ]
    )


def export_active_set(active_set: ActiveSetData, path: pathlib.Path) -> None:
    """Write the ``.asi`` of ``active_set`` to ``path`` (and ``path.nonlinear`` if it has one)."""
    for written in _write_active_set(active_set, path):
        echo.echo_success(f'wrote {written}')


def check_output_path(path: pathlib.Path, force: bool) -> None:
    """Exit with one line if ``path`` exists and ``force`` is not set."""
    if path.exists() and not force:
        echo.echo_critical(f'{path} exists: pass --force to overwrite it')


click_force_option = click.option('-f', '--force', is_flag=True, help='Overwrite existing files.')
