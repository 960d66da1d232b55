"""`PaceSelectCalculation`: choose structures to label with ``pace_select`` (D-optimality)."""

from __future__ import annotations

import math
import typing as t

from aiida import orm
from aiida.common import CalcInfo

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.structure_pool import StructurePoolData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YAML
from aiida_pacemaker.schema import BOOL, number, one_of

from .base import PaceBaseCalculation, sibling_command
from .options import MEMORY, Option, integer_or_auto
from .selection_script import write_selection_script

if t.TYPE_CHECKING:
    from aiida.engine import CalcJobProcessSpec

__all__ = ('COVERAGE_STRATEGIES', 'SELECT_OPTIONS', 'PaceSelectCalculation')

#: parameters of pace_select (with a flag) and of the plugin's gamma window (without)
SELECT_OPTIONS: dict[str, Option] = {
    'max_structures': Option('-m', number(integer=True, minimum=1)),
    'gamma_tolerance': Option('-g', number(minimum=1.0, strict=True)),
    'batch_size': Option('-b', integer_or_auto(1)),
    'maxvol_iters': Option('-i', number(integer=True, minimum=1)),
    'maxvol_refinement': Option('-r', number(integer=True, minimum=1)),
    'memory_limit': Option('-mem', MEMORY),
    'gamma_min': Option(None, number(minimum=0.0)),
    'gamma_max': Option(None, number(minimum=0.0, strict=True)),
    'fill_to_max': Option(None, BOOL),
    'fill_by': Option(None, one_of('grade', 'random')),
    'strategy': Option(
        None, one_of('maxvol', 'hybrid', 'lcmd', 'representative', 'stratified', 'maxdist', 'random')
    ),
    'tail_fraction': Option(None, number(minimum=0.0)),
    'tail_min_gamma': Option(None, number(minimum=0.0)),
    'coverage': Option(None, one_of('lcmd', 'representative', 'stratified', 'random')),
    'seed': Option(None, number(integer=True, minimum=0)),
    'min_distance_factor': Option(None, number(minimum=0.0, strict=True)),
    'min_distance': Option(None, number(minimum=0.0, strict=True)),
    'grade_candidates': Option(None, BOOL),
}

#: the options that need every candidate's grade (refused with ``grade_candidates: false``)
NEEDS_GRADES = ('gamma_min', 'gamma_max', 'fill_to_max', 'tail_min_gamma')

#: strategies that measure coverage against the training structures (need ``training_set``)
COVERAGE_STRATEGIES = ('hybrid', 'lcmd', 'representative', 'stratified', 'maxdist')
#: options that only `strategy: hybrid` takes (refused with any other strategy)
HYBRID_OPTIONS = ('tail_fraction', 'tail_min_gamma', 'coverage')
#: the default strategy and the share of a hybrid batch that MaxVol picks
DEFAULT_STRATEGY = 'maxvol'
DEFAULT_TAIL_FRACTION = 0.5


class PaceSelectCalculation(PaceBaseCalculation):
    """Select up to ``max_structures`` candidates by D-optimality with ``pace_select``.

    Candidates are a namespace of `StructureData` (``candidates.<key>``). Before selecting,
    the extrapolation grade of every candidate is computed with the active set; only those
    whose max gamma lies in [``gamma_min``, ``gamma_max``) go to pace_select (bounding gamma
    from above keeps the selection from spending the budget on unphysical outliers).
    Outputs: ``selected.<key>``, new `StructureData` made by this calculation for each chosen
    candidate, and ``report`` (gamma of every candidate, the selected keys, their count).
    Selecting nothing is a normal result (``report.num_selected == 0``).

    ``pace_select`` returns fewer than ``max_structures`` once the candidates' grades are low
    (it adds a structure only while it enlarges the active set's volume). With ``fill_to_max``
    the remaining places are filled with in-window candidates, so that a fixed labelling budget
    per cycle is spent: those of highest grade (``fill_by: grade``, the default) or a random draw
    (``fill_by: random``: typical structures beside pace_select's outliers); ``report.filled``
    lists those keys.

    ``strategy`` chooses how the budget ``max_structures`` is spent among the in-window candidates
    (see :mod:`aiida_pacemaker.scripts.selection`; all run inside the job, next to the potential,
    in its per-atom B-projection feature space):

    - ``maxvol`` (default): pace_select's D-optimal choice (the tail: the most extrapolative).
    - ``lcmd``: coverage weighted by the pool's density (largest cluster, maximum distance),
      measured against the ``training_set`` atoms: the typical part of the pool first.
    - ``representative``: greedy facility location: the structure that most lowers the mean
      distance from a pool atom to its nearest ``training_set`` (or picked) atom: the dense,
      typical part of the pool first, an outlier counting as one atom.
    - ``stratified``: distribution matching in energy: each pick goes to the quantile bin of the
      candidates' predicted energy per atom (above a composition reference) in which the
      ``training_set`` (with the picks so far) is furthest short of an equal share; LCMD inside it.
      Candidates of varying composition: each energy bin split into up to three composition bins,
      the target of each the candidates' share of it.
    - ``maxdist``: greedy farthest point from the ``training_set`` atoms.
    - ``hybrid``: ``tail_fraction`` (default 0.5) of the budget by MaxVol, the rest by the
      ``coverage`` strategy (``lcmd``, the default, ``representative``, ``stratified``, or
      ``random``: a seeded draw from the candidates MaxVol left) with MaxVol's picks counted as
      covered. With
      ``tail_min_gamma`` (e.g. 1: what extrapolates) MaxVol's share takes only candidates graded at
      least that high, and leaves the places it cannot fill to coverage:
      the tail while the potential extrapolates, the typical structures once it no longer does.
    - ``random``: a draw seeded with ``seed`` (a control arm).

    The coverage strategies need ``training_set`` and spend the whole budget while candidates
    remain.

    Unphysical outliers (atoms pushed together, exploded MD snapshots) are extreme in feature
    space too, so MaxVol and MaxDist reach for them first and LCMD picks them once the typical
    candidates are covered. Two bounds keep them out before any strategy runs:
    ``gamma_max`` (an extrapolation grade that no physical candidate reaches) and
    ``min_distance_factor`` (a candidate with two atoms closer than this fraction of the
    shortest distance in ``training_set`` is left out; ``report.too_close`` lists them), or
    ``min_distance`` (a fixed floor in Å; in the active-learning workchain the factor follows each
    cycle's training set, so that floor moves down with the data, while ``min_distance`` stays put).
    ``report.reasons`` says why each structure was picked (``maxvol``, ``lcmd``, ``representative``,
    ``stratified``, ``maxdist``, ``random``, ``fill``).

    ``grade_candidates: false`` skips the grading pass before pace_select (a second computation of
    every candidate's B-projections, which pace_select does again inside): for exploration-scale
    pools that need no window, no fill and no gated tail; ``report.gamma`` is then empty and
    ``report.max_gamma`` is ``None``.
    """

    @classmethod
    def define(cls, spec: CalcJobProcessSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input('potential', valid_type=PacePotentialData, help='The potential whose grades decide.')
        spec.input('active_set', valid_type=ActiveSetData, help='The active set of `potential`.')
        spec.input_namespace(
            'candidates', valid_type=orm.StructureData, dynamic=True, help='Unlabelled candidate structures.'
        )
        spec.input(
            'pool',
            valid_type=StructurePoolData,
            required=False,
            help='The candidates as one node: for large pools; only the selected structures become '
            'StructureData nodes, made by this calculation. `candidates` given as well are added to it.',
        )
        spec.input(
            'exclude',
            valid_type=orm.List,
            required=False,
            help='Names of `pool` structures to leave out (those labelled already); names the pool does not '
            'hold are ignored.',
        )
        spec.input(
            'parameters', valid_type=orm.Dict, required=False, help=f'Options: {", ".join(SELECT_OPTIONS)}.'
        )
        spec.input(
            'training_set',
            valid_type=TrainingSetData,
            required=False,
            help='The structures the potential was trained on: what the coverage strategies measure against.',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'pacemaker.select'  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs.validator = cls.validate_inputs
        spec.output_namespace(
            'selected', valid_type=orm.StructureData, dynamic=True, help='The chosen candidates, by key.'
        )
        spec.output(
            'report',
            valid_type=orm.Dict,
            help='`gamma` (max extrapolation grade per candidate key), `selected` (keys), `num_selected`, '
            '`num_candidates`, `max_gamma`, `num_in_window`, `filled` (keys added by `fill_to_max`), '
            '`strategy`, `reasons` (why each selected key was picked).',
        )
        spec.exit_code(
            302, 'ERROR_GAMMA_MISSING', message='The extrapolation grades were not computed:\n{log_tail}'
        )
        spec.exit_code(303, 'ERROR_SELECTION_MISSING', message='The selection report is missing:\n{log_tail}')
        spec.exit_code(
            400, 'ERROR_SELECT_FAILED', message='pace_select exited with status {status}:\n{log_tail}'
        )

    @staticmethod
    def validate_inputs(inputs: dict[str, t.Any], ctx: t.Any) -> str | None:
        """Check options, the potential/active-set pair and the candidates' elements."""
        message, options = PaceBaseCalculation.validate_parameters(inputs, SELECT_OPTIONS)
        if message:
            return message
        if options.get('gamma_min', 0.0) >= options.get('gamma_max', math.inf):
            return '`gamma_min` must be smaller than `gamma_max`'
        standalone = 'candidates' in ctx  # a workchain exposing these inputs sets max_structures itself
        if options.get('fill_to_max') and 'max_structures' not in options and standalone:
            return '`fill_to_max` needs `max_structures`: the number of structures to fill up to'
        if 'fill_by' in options and not options.get('fill_to_max'):
            return '`fill_by` chooses how `fill_to_max` fills: set `fill_to_max: true` as well'
        strategy = options.get('strategy', DEFAULT_STRATEGY)
        if 'tail_fraction' in options:
            if strategy != 'hybrid':
                return (
                    '`tail_fraction` is the MaxVol share of `strategy: hybrid`: set that strategy or drop it'
                )
            if not 0.0 <= options['tail_fraction'] <= 1.0:
                return f'`tail_fraction` must lie between 0 and 1, got {options["tail_fraction"]!r}'
        if 'tail_min_gamma' in options and strategy != 'hybrid':
            return (
                '`tail_min_gamma` is the lowest grade of the MaxVol share of `strategy: hybrid`: '
                'set that strategy or drop it'
            )
        if options.get('grade_candidates') is False:
            needs = [key for key in NEEDS_GRADES if key in options]
            if strategy == 'hybrid':
                needs.append('strategy: hybrid')
            if needs:
                return (
                    f'`grade_candidates: false` skips the grades that {", ".join(f"`{k}`" for k in needs)} '
                    'need: drop them, or grade the candidates'
                )
        if 'coverage' in options and strategy != 'hybrid':
            return (
                '`coverage` chooses how `strategy: hybrid` spends the rest of its budget: set that strategy, '
                f'or use `strategy: {options["coverage"]}` alone'
            )
        if strategy != 'maxvol' and 'max_structures' not in options and standalone:
            return f'`strategy: {strategy}` spends a budget: set `max_structures`'
        if 'min_distance_factor' in options and 'min_distance' in options:
            return (
                "`min_distance` (Å) and `min_distance_factor` (a fraction of the training set's shortest "
                'distance) set the same floor: give one of them'
            )
        if 'min_distance_factor' in options and 'training_set' not in inputs and standalone:
            return (
                '`min_distance_factor` is a fraction of the shortest distance in the training structures: '
                "give the potential's `training_set`"
            )
        if strategy in COVERAGE_STRATEGIES and 'training_set' not in inputs and standalone:
            return (
                f'`strategy: {strategy}` measures coverage against the training structures: '
                "give the potential's `training_set`"
            )
        candidates = inputs.get('candidates') or {}
        pool = inputs.get('pool')
        if not candidates and pool is None and standalone:
            return 'give at least one structure in `candidates`, or a `pool`'
        if 'exclude' in inputs and pool is None:
            return '`exclude` names structures of the `pool`: give the `pool`, or drop `exclude`'
        if pool is not None and (candidates or 'exclude' in inputs):
            names = set(pool.names)
            twice = sorted(names & set(candidates))
            if twice:
                return f'`candidates.{twice[0]}` has the name of a `pool` structure: rename it'
            left = names - set(inputs['exclude'].get_list() if 'exclude' in inputs else [])
            if not left and not candidates:
                return '`exclude` leaves out every structure of the `pool`: nothing is left to select from'
        potential = inputs.get('potential')
        if pool is not None and potential is not None:
            missing = sorted(set(pool.elements) - set(potential.elements))
            if missing:
                return f'the `pool` holds elements {missing} that the potential does not know'
        return PaceBaseCalculation.validate_potential_and_structures(inputs, 'candidates', 'candidate')

    def prepare_for_submission(self, folder: t.Any) -> CalcInfo:
        """Write the candidates and the gamma script; run the filter, pace_select, the report."""
        options = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        mode = 'full' if self.inputs.active_set.base.attributes.get('mode', 'linear') == 'full' else 'linear'
        script = write_selection_script(
            folder,
            options=options,
            table=SELECT_OPTIONS,
            python=sibling_command(self.inputs.code, 'python'),
            potential_file=POTENTIAL_YAML,
            asi_file=ACTIVE_SET_ASI,
            mode=mode,
            pool=self.inputs.get('pool'),
            exclude=self.inputs.exclude.get_list() if 'exclude' in self.inputs else (),
            candidates=dict(self.inputs.get('candidates') or {}),
            training_set=self.inputs.get('training_set'),
        )
        calcinfo = CalcInfo()
        calcinfo.codes_info = [self.codeinfo(script.select_arguments)]
        calcinfo.local_copy_list = [
            (self.inputs.potential.uuid, POTENTIAL_YAML, POTENTIAL_YAML),
            (self.inputs.active_set.uuid, ACTIVE_SET_ASI, ACTIVE_SET_ASI),
            *script.local_copy_list,
        ]
        calcinfo.prepend_text = script.filter_line
        calcinfo.append_text = '\n'.join([self.exit_status_capture(), *script.after_lines])
        calcinfo.provenance_exclude_list = script.provenance_exclude_list
        calcinfo.retrieve_list = [self.EXIT_STATUS_FILE, self._DEFAULT_STDOUT, *script.retrieve_list]
        return calcinfo
