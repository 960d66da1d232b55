"""The selection's part of a job script, shared by `PaceSelectCalculation` and the fit's job.

A selection inside a job runs four commands: the plugin's grade filter (every candidate's extrapolation
grade, the gamma window, the distance floor), ``pace_select`` on the candidates left, the report of
pace_select's choice, and, for a strategy other than ``maxvol``, the plugin's own choice. The files it
writes and reads are named here once, so that `PaceSelectCalculation` (pace_select as the job's main
command) and `PaceTrainCalculation` (the same lines after the fit and pace_activeset) build the same job.
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing as t

import numpy as np

from aiida_pacemaker.baselines import min_interatomic_distance
from aiida_pacemaker.data.structure_pool import (
    ARRAYS_FILE,
    concatenate_structure_arrays,
    structure_arrays,
    structures_without,
)
from aiida_pacemaker.data.training_set import write_structures_pickle
from aiida_pacemaker.scripts import script_text

from .options import Option, to_cmdline

__all__ = ('SelectionScript', 'write_selection_script')

#: every candidate's arrays (read with allow_pickle=False); the job writes the pickle pace_select reads
ALL_CANDIDATES = 'candidates_all.npz'
CANDIDATES = 'candidates.pckl.gzip'
SELECTED = 'selected.pkl.gz'
SCRIPT = 'gamma_report.py'
SELECTION_MODULE = 'selection.py'
TRAINING = 'training.pckl.gzip'
CHOOSE_SETTINGS = 'choose_input.json'
GAMMA_LOG = 'gamma.out'
NOTHING_TO_SELECT = 'nothing_to_select'
#: the files a selection leaves for the parser
RESULT_FILES = (GAMMA_LOG, 'gamma.json', 'selected.json', 'choice.json', 'too_close.json', NOTHING_TO_SELECT)


@dataclasses.dataclass(frozen=True)
class SelectionScript:
    """The shell lines and file lists of one selection in a job (see :func:`write_selection_script`)."""

    #: the grade filter, before pace_select
    filter_line: str
    #: pace_select's arguments (not shell-quoted: a CodeInfo quotes them, or the caller does)
    select_arguments: list[str]
    #: after pace_select: the report of its choice and, for a strategy, the plugin's choice
    after_lines: list[str]
    #: (node uuid, file in the node, file in the job) to copy in: the pool's arrays when given as they are
    local_copy_list: list[tuple[str, str, str]]
    #: what the parser reads
    retrieve_list: list[str]
    #: files written for the job that the node does not keep
    provenance_exclude_list: list[str]


def write_selection_script(
    folder: t.Any,
    *,
    options: dict[str, t.Any],
    table: dict[str, Option],
    python: str,
    potential_file: str,
    asi_file: str,
    mode: str,
    pool: t.Any = None,
    exclude: t.Collection[str] = (),
    candidates: dict[str, t.Any] | None = None,
    training_set: t.Any = None,
) -> SelectionScript:
    """Write the selection's files into the sandbox ``folder`` and return its shell lines.

    :param options: the checked selection options (``table``: `SELECT_OPTIONS`).
    :param python: the shell-quoted Python of pacemaker's environment.
    :param potential_file: the potential's ``.yaml`` in the job folder.
    :param asi_file: its active set's file in the job folder.
    :param mode: the active set's mode for the grades (``linear``, ``full``); ``none`` is set here when
        ``grade_candidates`` is false.
    :param pool: a `StructurePoolData` of candidates, less the names in ``exclude``.
    :param candidates: `StructureData` candidates by key, beside the pool.
    :param training_set: the `TrainingSetData` the coverage strategies and the distance factor measure
        against (needed for those).
    """
    from .select import COVERAGE_STRATEGIES, DEFAULT_STRATEGY, DEFAULT_TAIL_FRACTION

    candidates = candidates or {}
    local_copy_list = []
    if pool is not None and not candidates and not exclude:
        local_copy_list.append((pool.uuid, ARRAYS_FILE, ALL_CANDIDATES))  # the pool's file, as it is
    else:
        keys = sorted(candidates)
        parts = []
        if pool is not None:
            parts.append(structures_without(pool.get_arrays(), list(exclude)))
        if keys:
            parts.append(structure_arrays([candidates[key].get_ase() for key in keys], keys))
        with folder.open(ALL_CANDIDATES, 'wb') as handle:
            np.savez_compressed(handle, **concatenate_structure_arrays(*parts))  # type: ignore[arg-type]
    for name in (SCRIPT, SELECTION_MODULE):
        with folder.open(name, 'w', encoding='utf8') as handle:
            handle.write(script_text(name))

    strategy = options.get('strategy', DEFAULT_STRATEGY)
    after_lines = [f'{python} {SCRIPT} selected {SELECTED} >> {GAMMA_LOG} 2>&1']
    if strategy != 'maxvol':
        settings = {
            'strategy': strategy,
            'max_structures': options['max_structures'],
            'tail_fraction': options.get('tail_fraction', DEFAULT_TAIL_FRACTION),
            'tail_min_gamma': options.get('tail_min_gamma', 0.0),
            'coverage': options.get('coverage', 'lcmd'),
            'seed': options.get('seed', 0),
            'potential': potential_file,
            'candidates': CANDIDATES,
            'maxvol': 'selected.json',
            'training': None,
        }
        if strategy in COVERAGE_STRATEGIES:
            training = training_set.to_ase(labels=False)
            with folder.open(TRAINING, 'wb') as handle:
                write_structures_pickle(handle, [str(i) for i in range(len(training))], training)
            settings['training'] = TRAINING
        with folder.open(CHOOSE_SETTINGS, 'w', encoding='utf8') as handle:
            json.dump(settings, handle, indent=1)
        after_lines.append(
            f'if [ ! -e {NOTHING_TO_SELECT} ]; then {python} {SCRIPT} choose {CHOOSE_SETTINGS} >> {GAMMA_LOG} 2>&1; fi'
        )

    gamma_min = float(options.get('gamma_min', 0.0))
    gamma_max = float(options.get('gamma_max', math.inf))
    floor = 0.0
    if 'min_distance' in options:
        floor = float(options['min_distance'])
    elif 'min_distance_factor' in options:
        floor = options['min_distance_factor'] * min_interatomic_distance(training_set.get_arrays())
    if options.get('grade_candidates') is False:
        mode = 'none'
    filter_line = (
        f'{python} {SCRIPT} filter {potential_file} {asi_file} {ALL_CANDIDATES} {CANDIDATES} '
        f'{gamma_min!r} {gamma_max!r} {floor!r} {mode} > {GAMMA_LOG} 2>&1'
    )
    select_arguments = [
        CANDIDATES,
        '-p',
        potential_file,
        '-a',
        asi_file,
        '-o',
        SELECTED,
        *to_cmdline(options, table),
    ]
    return SelectionScript(
        filter_line=filter_line,
        select_arguments=select_arguments,
        after_lines=after_lines,
        local_copy_list=local_copy_list,
        retrieve_list=list(RESULT_FILES),
        provenance_exclude_list=[ALL_CANDIDATES, TRAINING],
    )
