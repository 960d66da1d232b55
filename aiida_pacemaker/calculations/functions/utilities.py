"""Calcfunctions around pacemaker's utilities (:mod:`aiida_pacemaker.utilities`): the files a ShellJob
reads, made from stored nodes, and the nodes made from the files it wrote.

Each turns one side of a ShellJob into the plugin's data types, so the graph runs from a stored node or
uploaded file, through the ShellJob, to the new node. They never raise on a tool's bad output: they
return an exit code whose message says what was wrong. The files read here are plain arrays
(``numpy.load(allow_pickle=False)``), JSON or text: a pickle a tool wrote is converted inside its job.
"""

from __future__ import annotations

import io
import json
import typing as t

import numpy as np
from aiida import orm
from aiida.engine import ExitCode, calcfunction

from aiida_pacemaker.data.potential import PacePotentialData, PotentialError, summarize_potential_yaml
from aiida_pacemaker.data.training_set import (
    TrainingSetData,
    TrainingSetError,
    concatenate_arrays,
)
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YAML
from aiida_pacemaker.tools import yaml_files

__all__ = (
    'TRAINING_SET_PICKLE',
    'merge_training_sets',
    'potential_info_summary',
    'potential_timing_summary',
    'potential_with_core_repulsion',
    'read_arrays',
    'training_set_from_augmented',
    'training_set_from_collected',
    'utility_input_files',
)

#: the training set as pacemaker's gzipped DataFrame, in a utility's job folder
TRAINING_SET_PICKLE = 'training_set.pckl.gzip'
#: the arrays of the training-set format (see :mod:`aiida_pacemaker.data.training_set`) a job may write
_ARRAY_KEYS = (
    'natoms',
    'numbers',
    'positions',
    'forces',
    'cells',
    'pbc',
    'energy',
    'names',
    'stress',
    'has_stress',
)

ERROR_UNREADABLE = 310
ERROR_NO_STRUCTURES = 320
ERROR_INVALID_STRUCTURES = 321
ERROR_NO_CORE_REPULSION = 330
ERROR_UNPARSEABLE = 340


def _one_line(text: t.Any) -> str:
    return ' '.join(str(text).split())


@calcfunction
def utility_input_files(**nodes: orm.Data) -> dict[str, orm.SinglefileData]:
    """The files of stored nodes that pacemaker's utilities read.

    Inputs (each optional): ``potential`` (PacePotentialData), ``active_set`` (ActiveSetData),
    ``training_set`` (TrainingSetData). Outputs: ``potential_yaml`` (``potential.yaml``),
    ``active_set_asi`` (``potential.asi``), ``training_set_pickle`` (pacemaker's gzipped DataFrame,
    written here by aiida-pacemaker).
    """
    files: dict[str, orm.SinglefileData] = {}
    if 'potential' in nodes:
        potential = t.cast(PacePotentialData, nodes['potential'])
        content = potential.get_yaml_content()
        files['potential_yaml'] = orm.SinglefileData(io.BytesIO(content), filename=POTENTIAL_YAML)
    if 'active_set' in nodes:
        active_set = nodes['active_set']
        content = active_set.get_asi_content()
        files['active_set_asi'] = orm.SinglefileData(io.BytesIO(content), filename=ACTIVE_SET_ASI)
    if 'training_set' in nodes:
        buffer = io.BytesIO()
        t.cast(TrainingSetData, nodes['training_set']).write_pacemaker_pickle(buffer)
        files['training_set_pickle'] = orm.SinglefileData(
            io.BytesIO(buffer.getvalue()), filename=TRAINING_SET_PICKLE
        )
    return files


def read_arrays(node: orm.SinglefileData) -> dict[str, np.ndarray]:
    """The training-set arrays of an ``.npz`` a job wrote (plain arrays only: ``allow_pickle=False``).

    :raises ValueError: if the file is not such an archive.
    """
    with node.open(mode='rb') as handle:
        content = handle.read()
    with np.load(io.BytesIO(content), allow_pickle=False) as archive:
        unknown = sorted(set(archive.files) - set(_ARRAY_KEYS))
        if unknown:
            raise ValueError(f'unexpected arrays {unknown} in {node.filename}')
        return {key: archive[key] for key in archive.files}


def _take(arrays: dict[str, np.ndarray], indices: t.Sequence[int]) -> dict[str, np.ndarray]:
    """The structures ``indices`` of ``arrays``, in that order."""
    offsets = np.concatenate([[0], np.cumsum(arrays['natoms'])])
    atoms = np.concatenate([np.arange(offsets[i], offsets[i + 1]) for i in indices] or [np.zeros(0, int)])
    order = np.asarray(indices, dtype=int)
    taken = {}
    for key, value in arrays.items():
        per_atom = key in ('numbers', 'positions', 'forces')
        taken[key] = value[atoms] if per_atom else value[order]
    return taken


def _training_set(arrays: dict[str, np.ndarray]) -> TrainingSetData | ExitCode:
    try:
        return TrainingSetData(arrays=arrays)
    except TrainingSetError as exception:
        return ExitCode(ERROR_INVALID_STRUCTURES, f'the structures are not a valid training set: {exception}')


@calcfunction
def training_set_from_collected(
    arrays: orm.SinglefileData, report: orm.SinglefileData, keep_unfinished: orm.Bool
) -> dict[str, orm.Data] | ExitCode:
    """The structures ``pace_collect`` took from VASP outputs, as a training set.

    Inputs: ``arrays`` (the ``.npz`` the job wrote from pace_collect's DataFrame: free energy in eV,
    forces in eV/Å, stress in eV/Å³), ``report`` (its JSON: each file read, whether its run finished,
    the electronic steps of each ionic step and ``NELM``), ``keep_unfinished`` (keep the structures of
    runs that did not finish, and ionic steps whose electronic loop stopped at ``NELM``).

    Outputs: ``training_set`` (TrainingSetData; structure names ``FOLDER/…/vasprun.xml##STEP``) and
    ``report`` (Dict: ``files``, ``skipped_files`` and ``dropped_structures`` with the reason of each,
    ``num_structures``).
    """
    try:
        data = read_arrays(arrays)
        details = json.loads(report.get_content(mode='r'))
        files = {entry['file']: entry for entry in details['files']}
        structures = details['structures']
    except (ValueError, KeyError, TypeError) as exception:
        return ExitCode(
            ERROR_UNREADABLE, f'the converted output of pace_collect is unreadable: {_one_line(exception)}'
        )
    names = [str(name) for name in data['names']]
    if [s['name'] for s in structures] != names:
        return ExitCode(ERROR_UNREADABLE, 'the report of pace_collect does not list the converted structures')
    dropped = []
    keep = np.ones(len(names), dtype=bool)
    # in the order of file and ionic step: pace_collect's own order follows the file system's listing
    order = sorted(range(len(names)), key=lambda i: (structures[i]['file'], structures[i]['step']))
    for index in order:
        structure = structures[index]
        source = files.get(structure['file'], {})
        reason = None
        if not source.get('finished', True):
            reason = (
                f'{structure["file"]} is from a run that did not finish (killed, crashed or still running)'
            )
        elif structure.get('scf_converged') is False:
            reason = f'its electronic loop stopped at NELM = {source.get("nelm")} steps without converging'
        if reason and not keep_unfinished.value:
            keep[index] = False
            dropped.append({'name': structure['name'], 'reason': reason})
    skipped = [
        {'file': entry['file'], 'reason': entry['reason']}
        for entry in details['files']
        if not entry['collected']
    ]
    summary = {
        'num_structures': int(keep.sum()),
        'files': [{k: v for k, v in entry.items() if k != 'electronic_steps'} for entry in details['files']],
        'skipped_files': skipped,
        'dropped_structures': dropped,
    }
    if not keep.any():
        reasons = '; '.join(f'{d["name"]}: {d["reason"]}' for d in dropped)
        return ExitCode(ERROR_NO_STRUCTURES, f'no structure left from pace_collect: {reasons}')
    training_set = _training_set(_take(data, [i for i in order if keep[i]]))
    if isinstance(training_set, ExitCode):
        return training_set
    return {'training_set': training_set, 'report': orm.Dict(summary)}


@calcfunction
def training_set_from_augmented(
    potential: PacePotentialData, arrays: orm.SinglefileData
) -> dict[str, orm.Data] | ExitCode:
    """The structures ``pace_augment`` made for ``potential``, as a training set to merge.

    pace_augment labels compressed copies of training structures with ZBL (energies relative to the
    free atoms, pacemaker's ``energy_corrected``); the potential's ``reference_energies`` (eV/atom, 0
    unless its fit subtracted some) are added back, so the energies are on the scale of the training
    set's. Forces in eV/Å. The names keep pace_augment's prefix ``augmented/``, by which pacemaker
    weights these structures down (``data: aug_factor``, default 1e-4) and ``pace_corerep`` ignores them.
    pace_augment's per-atom force mask (``w_forces_mask``) is not kept: a training set holds one force
    weight per structure.

    Output: ``training_set`` (TrainingSetData).
    """
    try:
        data = read_arrays(arrays)
    except ValueError as exception:
        return ExitCode(
            ERROR_UNREADABLE, f'the converted output of pace_augment is unreadable: {_one_line(exception)}'
        )
    if not data['natoms'].size:
        return ExitCode(ERROR_NO_STRUCTURES, 'pace_augment made no structure')
    reference = potential.reference_energies
    if reference:
        from ase.data import chemical_symbols

        per_atom = np.array([reference.get(chemical_symbols[z], 0.0) for z in data['numbers']])
        owner = np.repeat(np.arange(data['natoms'].size), data['natoms'])
        data['energy'] = data['energy'] + np.bincount(owner, weights=per_atom, minlength=data['natoms'].size)
    training_set = _training_set(data)
    if isinstance(training_set, ExitCode):
        return training_set
    return {'training_set': training_set}


@calcfunction
def merge_training_sets(first: TrainingSetData, second: TrainingSetData) -> dict[str, orm.Data]:
    """``first``'s structures, then those of ``second`` whose geometry is not in ``first`` (same
    :func:`~aiida_pacemaker.data.training_set.structure_hash`).

    Outputs: ``training_set`` and ``merged`` (Dict: ``added`` and ``duplicates``, counts).
    """
    seen = set(first.structure_hashes())
    new = [index for index, digest in enumerate(second.structure_hashes()) if digest not in seen]
    arrays = dict(first.get_arrays())
    if new:
        arrays = concatenate_arrays(arrays, _take(dict(second.get_arrays()), new))
    return {
        'training_set': TrainingSetData(arrays=arrays),
        'merged': orm.Dict({'added': len(new), 'duplicates': second.num_structures - len(new)}),
    }


def _inner_cutoffs(content: bytes) -> dict[str, float]:
    """The ZBL inner cutoff ``r_in`` (Å) of each bond of a potential ``.yaml`` that has one."""
    document = yaml_files.safe_load(content)
    cutoffs = {}
    for block in document.get('species') or []:
        names = str(block.get('speciesblock', '')).split()  # `Cu` holds the bond Cu-Cu, `Cu Au` Cu-Au
        if names and len(names) <= 2 and block.get('inner_cutoff_type') == 'zbl':
            pair = names if len(names) == 2 else names * 2
            cutoffs['-'.join(pair)] = float(block.get('r_in', 0.0))
    return cutoffs


@calcfunction
def potential_with_core_repulsion(
    potential: PacePotentialData, potential_yaml: orm.SinglefileData, **files: orm.SinglefileData
) -> dict[str, orm.Data] | ExitCode:
    """The potential ``pace_corerep`` wrote from ``potential``: the same ACE basis with a ZBL core
    repulsion switched in below an inner cutoff per bond.

    Inputs: ``potential`` (the original), ``potential_yaml`` (what pace_corerep wrote) and optionally
    ``potential_yace`` (its ``pace_yaml2yace`` conversion). An additive Lennard-Jones baseline of the
    original is kept; otherwise the new potential's ``physics_baseline`` is ``zbl``.

    Outputs: ``potential`` (PacePotentialData) and ``inner_cutoffs`` (Dict: ``r_in`` in Å per bond
    ``A-B``).
    """
    with potential_yaml.open(mode='rb') as handle:
        content = handle.read()
    try:
        summary = summarize_potential_yaml(content)
        cutoffs = _inner_cutoffs(content)
    except (PotentialError, ValueError, AttributeError) as exception:
        return ExitCode(ERROR_UNREADABLE, f'pace_corerep wrote no readable potential: {_one_line(exception)}')
    if not summary['has_zbl'] or not cutoffs:
        return ExitCode(
            ERROR_NO_CORE_REPULSION, 'pace_corerep wrote a potential without a ZBL core repulsion'
        )
    yace = files.get('potential_yace')
    lennard_jones = potential.physics_baseline == 'lj'
    try:
        new = PacePotentialData(
            content,
            yace.get_content(mode='rb') if yace is not None else None,
            physics_baseline='lj' if lennard_jones else 'zbl',
            baseline_parameters=potential.baseline_parameters if lennard_jones else None,
        )
    except PotentialError as exception:
        return ExitCode(ERROR_UNREADABLE, f'pace_corerep wrote no valid potential: {_one_line(exception)}')
    new.label = f'{potential.label or "potential"} + core repulsion'
    return {'potential': new, 'inner_cutoffs': orm.Dict(cutoffs)}


def _summary(tool: str, stdout: orm.SinglefileData, output: str) -> dict[str, orm.Data] | ExitCode:
    """What ``tool`` printed, parsed, as the Dict ``output``; an exit code when it cannot be parsed."""
    # imported here: the package aiida_pacemaker.utilities imports this module
    from aiida_pacemaker.utilities.tool_output import parse_info_text, parse_timing_text

    parser = parse_info_text if tool == 'pace_info' else parse_timing_text
    text = stdout.get_content(mode='r')
    try:
        parsed = parser(text)
    except ValueError as exception:
        last = next((line.strip() for line in reversed(text.splitlines()) if line.strip()), '')
        printed = f'; its last line: {_one_line(last)[-200:]}' if last else '; it printed nothing'
        return ExitCode(ERROR_UNPARSEABLE, f'{tool} printed nothing useful ({exception}){printed}')
    return {output: orm.Dict(parsed)}


@calcfunction
def potential_info_summary(
    potential: PacePotentialData, stdout: orm.SinglefileData
) -> dict[str, orm.Data] | ExitCode:
    """What ``pace_info`` printed about ``potential``, parsed (see
    :func:`~aiida_pacemaker.utilities.tool_output.parse_info_text`). Output: ``info`` (Dict)."""
    return _summary('pace_info', stdout, 'info')


@calcfunction
def potential_timing_summary(
    potential: PacePotentialData, stdout: orm.SinglefileData
) -> dict[str, orm.Data] | ExitCode:
    """What ``pace_timing`` measured for ``potential``, parsed (µs per atom and evaluation; see
    :func:`~aiida_pacemaker.utilities.tool_output.parse_timing_text`). Output: ``timing`` (Dict)."""
    return _summary('pace_timing', stdout, 'timing')
