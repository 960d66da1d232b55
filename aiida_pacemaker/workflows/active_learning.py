"""`PaceActiveLearningWorkChain`: train, find what the potential does not know, label it, repeat."""

from __future__ import annotations

import typing as t

import numpy as np
from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import ToContext, WorkChain, if_, while_

from aiida_pacemaker.calculations.activeset import PaceActiveSetCalculation
from aiida_pacemaker.calculations.explore import PaceExploreCalculation
from aiida_pacemaker.calculations.functions import (
    EXTRAPOLATING,
    build_learning_curve,
    extend_training_set,
    learning_curve_row,
    num_extrapolating,
    subtract_baseline_from_training_set,
)
from aiida_pacemaker.calculations.functions.utilities import merge_training_sets
from aiida_pacemaker.calculations.monitors import progress_monitors
from aiida_pacemaker.calculations.select import COVERAGE_STRATEGIES, DEFAULT_STRATEGY, PaceSelectCalculation
from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.structure_pool import StructurePoolData
from aiida_pacemaker.data.training_set import TrainingSetData, atoms_hash
from aiida_pacemaker.labellers import (
    LabellerError,
    is_process_function,
    load_labeller,
    missing_labeller_inputs,
    validate_labeller,
)
from aiida_pacemaker.labellers.ase import check_ase_labeller_inputs, label_with_ase
from aiida_pacemaker.labellers.batch import BatchLabellingError, label_in_bulk, merge_inputs_of
from aiida_pacemaker.processes import NewOutputLinksOnly
from aiida_pacemaker.tools.fits import force_rmse_of_first, has_stalled, labelled_train_errors

from .input_checks import check_loop_settings, check_structures
from .protocols import ProtocolMixin
from .train import PaceTrainWorkChain, render_trainer
from .validate import PaceValidateWorkChain, check_validation_inputs

if t.TYPE_CHECKING:
    from aiida.engine.processes.workchains.workchain import WorkChainSpec

__all__ = ('PaceActiveLearningWorkChain',)


def _check_initial_potential(
    potential: PacePotentialData, parameters: orm.Dict | None, baseline: orm.Dict | None
) -> str | None:
    """Why ``potential`` cannot start this run (None if it can): its elements must be the fit's, its
    baseline the run's, and the fit must not grow a new basis in ladder steps."""
    if parameters is not None:
        elements = (parameters.get('potential') or {}).get('elements')
        if elements and sorted(elements) != sorted(potential.elements):
            return (
                f'`initial_potential` PacePotentialData<{potential.pk}> has the elements {sorted(potential.elements)}, '
                f'the fit {sorted(elements)}: fine-tuning keeps the basis of the potential; give data of its elements'
            )
        if (parameters.get('fit') or {}).get('ladder_step'):
            return (
                '`fit.ladder_step` grows a new basis from an empty potential, which would discard the '
                '`initial_potential`: remove `fit.ladder_step`'
            )
    # an additive baseline (LJ) is added by this plugin outside the potential: both must have the same one
    # (ZBL is part of pacemaker's basis, which the potential brings along)
    wanted = baseline.get('type', 'none') if baseline is not None else 'none'
    has = potential.physics_baseline if potential.physics_baseline == 'lj' else 'none'
    if has != wanted:
        return (
            f'`initial_potential` PacePotentialData<{potential.pk}> was fitted on top of the additive baseline '
            f'`{has}`, this run uses `{wanted}`: give the run the same baseline'
        )
    return None


def _validation_reference(
    validate: t.Mapping[str, t.Any], labeller: t.Mapping[str, t.Any]
) -> dict[str, t.Any]:
    """The reference calculator of the final validation: its own ``labeller``, else the run's ASE labeller's."""
    own = dict(validate.get('labeller') or {})
    if 'calculator' in own:
        return own
    fixed = labeller.get('inputs') or {}
    process = labeller.get('process')
    if process is not None and process.value in ('pacemaker.label_ase',) and 'calculator' in fixed:
        return {key: fixed[key] for key in ('calculator', 'calculator_kwargs') if key in fixed}
    return own


def _merged(first: TrainingSetData, second: TrainingSetData, link: str) -> TrainingSetData:
    """``first`` then the structures of ``second`` not in it (calcfunction ``merge_training_sets``, called
    with the link label ``link``)."""
    results = merge_training_sets(first, second, metadata={'call_link_label': link})  # type: ignore[call-arg]  # aiida types a calcfunction's call without `metadata`
    return t.cast(TrainingSetData, results['training_set'])


def _check_augment(augment: orm.Dict | None, code: orm.AbstractCode | None) -> str | None:
    """Why the ``augment`` settings cannot run (None if they can, or if augmentation is off)."""
    if augment is None:
        return None
    from aiida_pacemaker.calculations.options import check_options
    from aiida_pacemaker.utilities.augment import AUGMENT_OPTIONS
    from aiida_pacemaker.utilities.jobs import SHELL_PLUGIN

    message = check_options(augment.get_dict(), AUGMENT_OPTIONS)
    if message:
        return f'`augment`: {message}'
    if code is None:
        return '`augment` needs `augment_code`, the pace_augment code: `aiida-pacemaker utilities setup` registers it'
    if code.default_calc_job_plugin != SHELL_PLUGIN:
        return (
            f'`augment_code` {code.full_label} runs {code.default_calc_job_plugin}, not an aiida-shell job '
            f'({SHELL_PLUGIN}): use the pace_augment code of `aiida-pacemaker utilities setup`'
        )
    return None


def _validate_inputs(inputs: dict[str, t.Any], _: t.Any) -> str | None:
    if 'training_set' not in inputs and not inputs.get('structures'):
        return 'give an initial labelled `training_set` or unlabelled `structures` to label first'
    structure_pool = inputs.get('structure_pool')
    if inputs.get('pool') and structure_pool is not None:
        return (
            'give the candidates either as StructureData nodes (`pool`) or as one node (`structure_pool`), '
            'not both'
        )
    if (
        not inputs.get('pool')
        and structure_pool is None
        and not (inputs.get('explore') or {}).get('structures')
    ):
        return 'give a candidate `pool` of structures (or a `structure_pool`) and/or `explore.structures` (MD seeds)'
    labeller = inputs.get('labeller', {}).get('process')
    if labeller is not None:
        try:
            process = load_labeller(labeller.value)
            validate_labeller(process)
        except LabellerError as exception:
            return str(exception)
        fixed = inputs.get('labeller', {}).get('inputs') or {}
        missing = missing_labeller_inputs(process, fixed)
        if missing:
            names = ', '.join(f'`labeller.inputs.{name}`' for name in missing)
            return f'the labeller `{labeller.value}` needs {names} (the same for every structure)'
        if process is label_with_ase and 'calculator' in fixed:
            kwargs = fixed['calculator_kwargs'].get_dict() if 'calculator_kwargs' in fixed else {}
            try:
                check_ase_labeller_inputs(fixed['calculator'].value, kwargs)
            except ValueError as exception:
                return f'`labeller.inputs.calculator`: {exception}'
    message = check_loop_settings(inputs)
    if message:
        return message
    select_parameters = inputs.get('select', {}).get('parameters')
    if select_parameters is not None and select_parameters.get('grade_candidates') is False:
        return (
            '`select.parameters.grade_candidates: false` leaves the candidates ungraded, but the loop selects '
            'inside the gamma window and records the grades in its learning curve: remove it'
        )
    training_set, test_set = inputs.get('training_set'), inputs.get('test_set')
    parameters = inputs.get('train', {}).get('train', {}).get('parameters')
    fine_tune = inputs.get('fine_tune')
    if (
        parameters is not None
        and (parameters.get('fit') or {}).get('ladder_step')
        and (fine_tune is None or fine_tune.value)
    ):
        return (
            '`fit.ladder_step` grows the basis from an empty potential, which fine-tuning cannot continue (pacemaker '
            'would discard the previous potential): set `fine_tune` to false, or remove `fit.ladder_step`'
        )
    initial = inputs.get('initial_potential')
    if initial is not None:
        message = _check_initial_potential(initial, parameters, inputs.get('baseline'))
        if message:
            return message
    elements = ((parameters.get('potential') or {}).get('elements') if parameters is not None else None) or (
        initial.elements if initial is not None else None
    )
    if elements is not None:
        for where, data in (('training_set', training_set), ('test_set', test_set)):
            unknown = sorted(set(data.elements) - set(elements)) if data is not None else []
            if unknown:
                return (
                    f"`{where}` holds {', '.join(unknown)}, which the potential's elements {sorted(elements)} "
                    'do not include: add them to the elements (`ace_basis_config.elements`, or `elements` in a '
                    'run configuration)'
                )
    message = _check_augment(inputs.get('augment'), inputs.get('augment_code'))
    if message:
        return message
    validate = inputs.get('validate') or {}
    if validate:
        potential_elements = elements or (sorted(training_set.elements) if training_set is not None else [])
        cutoff = parameters.get('cutoff') if parameters is not None else None
        checked = {**validate, 'labeller': _validation_reference(validate, inputs.get('labeller') or {})}
        message = check_validation_inputs(checked, potential_elements, cutoff)
        if message:
            return f'`validate`: {message}'
    groups = {
        'structures': inputs.get('structures') or {},
        'pool': inputs.get('pool') or {},
        'explore.structures': (inputs.get('explore') or {}).get('structures') or {},
    }
    message = check_structures(groups, elements)
    if message:
        return message
    if structure_pool is not None and elements is not None:
        unknown = sorted(set(structure_pool.elements) - set(elements))
        if unknown:
            return (
                f"`structure_pool` holds {', '.join(unknown)}, which the potential's elements {sorted(elements)} "
                'do not include: add them to `elements` or leave those structures out of the pool'
            )
    if training_set is not None and test_set is not None:
        overlap = set(training_set.structure_hashes()) & set(test_set.structure_hashes())
        if overlap:
            return f'{len(overlap)} structure(s) of the `test_set` are also in the `training_set`'
    if test_set is not None and parameters is not None and 'test_size' in (parameters.get('data') or {}):
        return 'give either a `test_set` or `data.test_size` in the training parameters, not both'
    return None


def _row_for_context(row: dict[str, t.Any]) -> dict[str, t.Any]:
    """A learning-curve row without what grows with the pool (``gamma``: every candidate's grade), as the
    context keeps it; the `learning_curve` output is built from the nodes, with the grades."""
    return {key: value for key, value in row.items() if key != 'gamma'}


class PaceActiveLearningWorkChain(NewOutputLinksOnly, ProtocolMixin, WorkChain):
    """Active learning of an ACE potential with pacemaker, every step in the provenance graph.

    One cycle: train (the first from scratch, later ones continuing from the previous
    potential), build its active set, explore with MD and/or grade the candidate pool,
    select the most informative candidates (D-optimality within a gamma window), label
    each in its own process, and merge them into a new training-set node made by a
    calcfunction. The loop stops when no candidate is above the selection threshold, when
    the test force RMSE reaches the target, or after ``max_cycles`` trainings.
    """

    _protocol_file = 'active_learning'

    @classmethod
    def define(cls, spec: WorkChainSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input(
            'training_set', valid_type=TrainingSetData, required=False, help='Initial labelled structures.'
        )
        spec.input_namespace(
            'structures', valid_type=orm.StructureData, dynamic=True, help='Initial unlabelled structures.'
        )
        spec.input(
            'test_set',
            valid_type=TrainingSetData,
            required=False,
            help='Held-out set; never merged into training.',
        )
        spec.input_namespace('pool', valid_type=orm.StructureData, dynamic=True, help='Candidate structures.')
        spec.input(
            'structure_pool',
            valid_type=StructurePoolData,
            required=False,
            help='The candidates as one node, instead of `pool`: for pools of thousands (each selection gets '
            'the node and the names taken out; only the selected structures become StructureData nodes).',
        )
        spec.input(
            'baseline', valid_type=orm.Dict, required=False, help='Additive baseline (e.g. Lennard-Jones).'
        )
        spec.input(
            'initial_potential',
            valid_type=PacePotentialData,
            required=False,
            help='A potential to start from: the first cycle fine-tunes it (pacemaker -p) instead of fitting '
            'from scratch (a campaign that continues an earlier one; the basis is that of this potential).',
        )
        spec.input_namespace('labeller', help='The process that labels a structure.')
        spec.input(
            'labeller.process',
            valid_type=orm.Str,
            serializer=orm.to_aiida_type,
            help='Entry point (e.g. `pacemaker.label_ase`) or `module:ProcessClass` of the labeller.',
        )
        spec.input_namespace(
            'labeller.inputs',
            valid_type=orm.Data,
            dynamic=True,
            help='Inputs passed to every labelling process besides `structure`.',
        )
        spec.input(
            'labeller.options',
            valid_type=orm.Dict,
            required=False,
            help='`metadata.options` of a CalcJob labeller.',
        )
        spec.input(
            'labeller.batch',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            serializer=orm.to_aiida_type,
            help='With the built-in ASE labeller: label each batch of structures in one '
            '`label_batch_with_ase` process written with bulk inserts (ms per structure; every structure '
            'still gets its own label nodes); false: one `label_with_ase` process per structure.',
        )
        spec.expose_inputs(
            PaceTrainWorkChain,
            namespace='train',
            exclude=(
                'train.training_set',
                'train.test_set',
                'train.initial_potential',
                'train.baseline',
                'train.selection',  # built from `select` for each cycle (`select_in_fit`)
            ),
        )
        spec.expose_inputs(
            PaceActiveSetCalculation, namespace='activeset', exclude=('potential', 'training_set')
        )
        # an input of the run (pace_activeset's defaults when not given): the fit's job and a job of its own
        # read the same node
        spec.inputs['activeset']['parameters'].default = lambda: orm.Dict({})  # type: ignore[index,union-attr]  # plumpy: a namespace item may be a Port
        spec.expose_inputs(
            PaceSelectCalculation,
            namespace='select',
            exclude=('potential', 'active_set', 'candidates', 'pool', 'exclude', 'training_set'),
        )
        spec.expose_inputs(
            PaceExploreCalculation,
            namespace='explore',
            exclude=('potential', 'active_set'),
            namespace_options={'required': False, 'populate_defaults': False},
        )
        spec.expose_inputs(
            PaceValidateWorkChain,
            namespace='validate',
            exclude=('potential', 'active_set'),
            namespace_options={
                'required': False,
                'populate_defaults': False,
                'validator': None,  # checked by this workchain's validator, before the first cycle
                'help': 'Validate the final potential on physics (`pacemaker.validate`): `structures` and '
                "`parameters`; the reference calculator defaults to the ASE labeller's.",
            },
        )
        spec.input(
            'active_set_in_fit',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            serializer=orm.to_aiida_type,
            help="Build each cycle's active set at the end of its fit's job (pace_activeset with the `activeset` "
            'parameters, on the same computer: one job fewer per cycle, on a cluster one queue wait fewer); '
            'false, or when the fit job could not build it: a `pacemaker.activeset` job of its own. With `augment` '
            'the active set always gets a job of its own (it is built from the labelled structures only).',
        )
        spec.input(
            'select_in_fit',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            serializer=orm.to_aiida_type,
            help="Select each cycle's structures at the end of its fit's job, after the active set (pace_select with "
            'the `select` parameters: another job fewer per cycle). Only where the candidates are known before the '
            'fit: not with `explore` (MD with the new potential finds them), nor with `augment`, nor with '
            '`active_set_in_fit` false; false, or when the fit job could not select: a `pacemaker.select` job of its '
            'own.',
        )
        spec.input('max_cycles', valid_type=orm.Int, default=lambda: orm.Int(3), serializer=orm.to_aiida_type)
        spec.input(
            'max_new_structures_per_cycle',
            valid_type=orm.Int,
            default=lambda: orm.Int(10),
            serializer=orm.to_aiida_type,
        )
        spec.input(
            'gamma_select',
            valid_type=orm.Float,
            default=lambda: orm.Float(1.5),
            serializer=orm.to_aiida_type,
            help='Only candidates whose max extrapolation grade reaches this are selected; none: stop.',
        )
        spec.input(
            'gamma_max',
            valid_type=orm.Float,
            required=False,
            serializer=orm.to_aiida_type,
            help='Candidates above this grade are left out (unphysical outliers).',
        )
        spec.input(
            'target_test_force_rmse',
            valid_type=orm.Float,
            required=False,
            serializer=orm.to_aiida_type,
            help='Stop once the test force RMSE (meV/Å) is at or below this.',
        )
        spec.input(
            'fine_tune',
            valid_type=orm.Bool,
            default=lambda: orm.Bool(True),
            serializer=orm.to_aiida_type,
            help='Continue each fit from the previous potential (pacemaker -p) instead of from scratch.',
        )
        spec.input(
            'refit_tolerance',
            valid_type=orm.Float,
            default=lambda: orm.Float(0.25),
            serializer=orm.to_aiida_type,
            help="A fine-tuned fit whose force RMSE on the previous cycle's structures is worse than the previous "
            "potential's by more than this fraction has stalled: the cycle refits from scratch and keeps the fit "
            'of lower training loss (a large value never refits, -1 refits after every fine-tuned fit).',
        )
        spec.input(
            'augment',
            valid_type=orm.Dict,
            required=False,
            serializer=orm.to_aiida_type,
            help='Run pace_augment after every cycle but the last: ZBL-labelled compressed structures (weighted '
            "down by pacemaker's `data.aug_factor`) join the next fits' training data. Keys: the options of "
            "`aiida_pacemaker.utilities.augment.AUGMENT_OPTIONS` (`{}`: pace_augment's defaults).",
        )
        spec.input(
            'augment_code',
            valid_type=orm.AbstractCode,
            required=False,
            help='The pace_augment code (an aiida-shell code: `aiida_pacemaker.utilities.setup_utility_codes`), '
            'needed with `augment`.',
        )
        spec.inputs.validator = _validate_inputs

        # plumpy types every outline step as Callable[[WorkChain], ...], which a method of a subclass is not
        # (the parameter is contravariant): hence the `arg-type` ignores
        spec.outline(
            cls.setup,  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.has_unlabelled_structures)(cls.take_initial_structures, cls.label, cls.merge),  # type: ignore[arg-type]  # plumpy outline typing
            while_(cls.should_continue)(  # type: ignore[arg-type]  # plumpy outline typing
                cls.train,  # type: ignore[arg-type]  # plumpy outline typing
                cls.inspect_train,  # type: ignore[arg-type]  # plumpy outline typing
                if_(cls.fine_tune_stalled)(cls.refit_from_scratch, cls.inspect_refit),  # type: ignore[arg-type]  # plumpy outline typing
                cls.record_fit,  # type: ignore[arg-type]  # plumpy outline typing
                cls.build_active_set,  # type: ignore[arg-type]  # plumpy outline typing
                cls.inspect_active_set,  # type: ignore[arg-type]  # plumpy outline typing
                if_(cls.should_explore)(cls.explore, cls.inspect_explore),  # type: ignore[arg-type]  # plumpy outline typing
                cls.select,  # type: ignore[arg-type]  # plumpy outline typing
                cls.inspect_select,  # type: ignore[arg-type]  # plumpy outline typing
                cls.decide_next_cycle,  # type: ignore[arg-type]  # plumpy outline typing
                if_(cls.should_augment)(cls.augment, cls.inspect_augment),  # type: ignore[arg-type]  # plumpy outline typing
                if_(cls.should_label)(cls.take_selected_structures, cls.label, cls.merge),  # type: ignore[arg-type]  # plumpy outline typing
            ),
            cls.results,  # type: ignore[arg-type]  # plumpy outline typing
            if_(cls.should_validate)(cls.validate, cls.inspect_validate),  # type: ignore[arg-type]  # plumpy outline typing
        )
        spec.output('potential', valid_type=PacePotentialData, help='The final potential.')
        spec.output('active_set', valid_type=ActiveSetData, help='The active set of the final potential.')
        spec.output(
            'training_set', valid_type=TrainingSetData, help='The training set of the final potential.'
        )
        spec.output('learning_curve', valid_type=orm.List, help='One row per cycle (see the docs).')
        spec.output_namespace('potentials', dynamic=True, help='The potential of every cycle.')
        spec.output_namespace('training_sets', valid_type=TrainingSetData, dynamic=True, help='Per cycle.')
        spec.output_namespace(
            'augmented',
            valid_type=TrainingSetData,
            dynamic=True,
            help='With `augment`: the structures pace_augment made in each cycle (`cycle_N`).',
        )
        spec.exit_code(401, 'ERROR_TRAINING_FAILED', message='Training failed in cycle {cycle}: {message}')
        spec.exit_code(
            402, 'ERROR_ACTIVE_SET_FAILED', message='The active set failed in cycle {cycle}: {message}'
        )
        spec.output(
            'validation',
            valid_type=orm.List,
            required=False,
            help='The property table of the final potential against the reference (with `validate`).',
        )
        spec.exit_code(
            406,
            'ERROR_VALIDATION_FAILED',
            message='The validation of the final potential failed ({message}); the potential, its active set, '
            'training set and learning curve are among the outputs',
        )
        spec.exit_code(403, 'ERROR_SELECTION_FAILED', message='Selection failed in cycle {cycle}: {message}')
        spec.exit_code(
            404, 'ERROR_ALL_LABELS_FAILED', message='Every labelling process failed ({count}): {reasons}'
        )
        spec.exit_code(
            405, 'ERROR_EXPLORATION_FAILED', message='Exploration failed in cycle {cycle}: {message}'
        )
        spec.exit_code(407, 'ERROR_AUGMENT_FAILED', message='pace_augment failed in cycle {cycle}: {message}')

    @classmethod
    def get_builder_from_protocol(
        cls,
        codes: dict[str, orm.AbstractCode],
        *,
        training_set: TrainingSetData | None = None,
        structures: dict[str, orm.StructureData] | None = None,
        pool: dict[str, orm.StructureData] | StructurePoolData | None = None,
        explore_structures: dict[str, orm.StructureData] | None = None,
        test_set: TrainingSetData | None = None,
        labeller: str = 'pacemaker.label_ase',
        labeller_inputs: dict[str, t.Any] | None = None,
        protocol: str | None = None,
        overrides: dict[str, t.Any] | None = None,
        initial_potential: PacePotentialData | None = None,
    ) -> t.Any:
        """Return a builder filled from ``protocol`` (``fast``, ``balanced``, ``precise``) and ``overrides``.

        :param codes: ``pacemaker``, ``pace_activeset``, ``pace_select`` and, to explore, ``pace_explore``
            (the interpreter of pacemaker's environment), as returned by :func:`aiida_pacemaker.codes.setup_codes`.
        :param labeller: entry point or ``module:ProcessClass`` of the labeller; ``labeller_inputs`` are its
            fixed inputs (default: EMT through the built-in ASE labeller).
        :param overrides: deep-merged into the protocol; unknown keys are refused.
        :param pool: the candidates: StructureData nodes by key, or one
            :class:`~aiida_pacemaker.data.StructurePoolData` (the input `structure_pool`; for large pools).
        :param initial_potential: the first cycle fine-tunes it; the fit's elements are its elements, and its
            Lennard-Jones baseline (if any) is the run's.
        """
        from aiida_pacemaker.baselines import min_interatomic_distance
        from aiida_pacemaker.config import active_set_full

        overrides = dict(overrides or {})
        train_overrides = {'trainer': overrides.pop('trainer')} if 'trainer' in overrides else None
        settings = cls.get_protocol_inputs(protocol, overrides)
        message = check_loop_settings(settings)  # in the user's words, before AiiDA's type checks
        if message:
            raise ValueError(message)
        trainer = PaceTrainWorkChain.get_protocol_inputs(protocol, train_overrides)['trainer']
        elements: set[str] = set(training_set.elements) if training_set is not None else set()
        if isinstance(pool, StructurePoolData):
            elements.update(pool.elements)
        for group in (structures, pool if isinstance(pool, dict) else None, explore_structures):
            for structure in (group or {}).values():
                elements.update(structure.get_symbols_set())  # chemical symbols, not kind names like `Cu1`
        min_distance = (
            min_interatomic_distance(training_set.get_arrays()) if training_set is not None else None
        )
        if initial_potential is not None:
            elements = set(initial_potential.elements)  # data of other elements: refused by the validator
            chosen = (train_overrides or {}).get('trainer') or {}
            if initial_potential.physics_baseline == 'lj' and 'physics_baseline' not in chosen:
                trainer = {
                    **trainer,
                    'physics_baseline': 'lj',
                    'baseline_parameters': initial_potential.baseline_parameters,
                }
        parameters, baseline = render_trainer(trainer, sorted(elements), min_distance)

        builder: t.Any = cls.get_builder()
        if training_set is not None:
            builder.training_set = training_set
        if structures:
            builder.structures = structures
        if test_set is not None:
            builder.test_set = test_set
        if isinstance(pool, StructurePoolData):
            builder.structure_pool = pool
        elif pool:
            builder.pool = pool
        if initial_potential is not None:
            builder.initial_potential = initial_potential
        builder.labeller.process = labeller
        if (
            labeller_inputs is None and labeller == 'pacemaker.label_ase'
        ):  # only the ASE labeller has defaults
            labeller_inputs = {'calculator': orm.Str('ase.calculators.emt.EMT')}
        builder.labeller.inputs = labeller_inputs or {}
        builder.train.train.code = codes['pacemaker']
        builder.train.train.parameters = orm.Dict(parameters)
        builder.train.train.monitors = progress_monitors()  # the fit's iteration and loss as it runs
        if baseline is not None:
            builder.baseline = orm.Dict(baseline)
        builder.activeset.code = codes['pace_activeset']
        activeset = dict(settings['activeset'])
        size = trainer.get('active_set_size')
        if size is not None and 'full' not in activeset:  # from the rendered basis (config.active_set_full)
            activeset['full'] = active_set_full(size, parameters['potential'])
        builder.activeset.parameters = orm.Dict(activeset)
        builder.select.code = codes['pace_select']
        if settings['select']:
            builder.select.parameters = orm.Dict(settings['select'])
        if explore_structures:
            builder.explore.code = codes['pace_explore']
            builder.explore.structures = explore_structures
            builder.explore.parameters = orm.Dict(settings['explore'])
        for key in (
            'max_cycles',
            'max_new_structures_per_cycle',
            'gamma_select',
            'gamma_max',
            'fine_tune',
            'refit_tolerance',
            'active_set_in_fit',
            'select_in_fit',
            'target_test_force_rmse',
        ):
            if settings.get(key) is not None:
                builder[key] = settings[key]
        return builder

    # ------------------------------------------------------------------ setup and initial labels
    def setup(self) -> None:
        """Initialise the context."""
        self.ctx.cycle = 0
        self.ctx.done = False
        self.ctx.training_set = self.inputs.get('training_set')
        self.ctx.potential = None
        # aiida-core serialises the context into every checkpoint beside the inputs (measured: 0.27 s per
        # 1,000 structures at every step, 8 s per 1,000 to load a checkpoint back), so it holds nothing that
        # grows with the pool or the training set:
        # - the learning curve is built at the end from the nodes in `curve_inputs`; the context keeps the
        #   current cycle's row (`row`), for the decisions and reports, without its per-candidate grades;
        # - the candidates are the `pool` input plus what exploration found, less what was labelled or is
        #   known: the context keeps only the explored structures and the keys taken out;
        # - the previous training set is known by its number of structures (`previous_num_structures`: the
        #   first ones of the next set, which the merge extends at the end)
        self.ctx.row = {}
        self.ctx.curve_inputs = {}
        self.ctx.explored = {}
        self.ctx.taken = []
        self.ctx.augmented = None  # the augmented structures of every cycle so far (with `augment`)
        # the checkpointed context holds data only: the labeller is loaded from its input when used

    def load_instance_state(self, saved_state: t.Any, load_context: t.Any) -> None:
        """Resume from a checkpoint; one of an earlier version is converted (:meth:`_upgrade_context`)."""
        super().load_instance_state(saved_state, load_context)  # type: ignore[no-untyped-call]  # aiida-core leaves it untyped
        self._upgrade_context()

    def _upgrade_context(self) -> None:
        """Convert a checkpoint of an earlier version, whose context held the candidates as ``pool``, every
        cycle's learning-curve row as ``learning_curve`` and the previous training set's atom counts as
        ``previous_natoms``."""
        if 'pool' in self.ctx:
            pool, remaining = dict(self.inputs.get('pool', {})), self.ctx.pool
            self.ctx.explored = {key: node for key, node in remaining.items() if key not in pool}
            self.ctx.taken = sorted(pool.keys() - remaining.keys())
            del self.ctx['pool']
        if 'learning_curve' in self.ctx:
            rows = self.ctx.learning_curve
            self.ctx.row = _row_for_context(rows[-1]) if rows else {}
            del self.ctx['learning_curve']
        if 'previous_natoms' in self.ctx:
            natoms = self.ctx.previous_natoms
            self.ctx.previous_num_structures = None if natoms is None else len(natoms)
            del self.ctx['previous_natoms']

    def _candidates(self) -> dict[str, orm.StructureData]:
        """The StructureData still to choose from: the `pool` input and the explored ones, less those taken
        (a `structure_pool` is given to the selection as it is, see :meth:`_pool_left`)."""
        taken = set(self.ctx.taken)
        candidates = {**dict(self.inputs.get('pool', {})), **self.ctx.explored}
        return {key: structure for key, structure in candidates.items() if key not in taken}

    def _pool_left(self) -> tuple[StructurePoolData | None, list[str], int]:
        """The `structure_pool` input, its names taken out so far, and how many of its structures are left."""
        pool = self.inputs.get('structure_pool')
        if pool is None:
            return None, [], 0
        taken = sorted(set(self.ctx.taken) & set(pool.names))
        return pool, taken, pool.num_structures - len(taken)

    def _take_candidates(self, keys: t.Iterable[str]) -> None:
        """Take ``keys`` out of the candidates for good (labelled, or known already)."""
        self.ctx.taken = sorted(set(self.ctx.taken) | set(keys))

    def has_unlabelled_structures(self) -> bool:
        """Whether initial unlabelled structures were given."""
        return bool(self.inputs.get('structures'))

    def _labels_in_bulk(self) -> bool:
        """Whether the labels are computed in one batch by :func:`~aiida_pacemaker.labellers.batch.label_in_bulk`."""
        if not self.inputs.labeller.batch.value:
            return False
        return self._labeller() is label_with_ase

    def _labeller(self) -> t.Any:
        """The labelling process (class or process function) named by ``labeller.process``."""
        return load_labeller(self.inputs.labeller.process.value)

    def _launch_labels(self, structures: dict[str, orm.StructureData], step: str) -> dict[str, t.Any]:
        """Label the structures: one batch (built-in ASE labeller), or each in its own process (process
        functions run here, the rest submitted). ``step`` names the call links (``initial``, ``cycle_K``)."""
        fixed = dict(self.inputs.labeller.get('inputs', {}))
        options = self.inputs.labeller.get('options')
        futures: dict[str, t.Any] = {}
        self.ctx.label_errors = {}
        self.ctx.labels_run = {}
        self.ctx.label_batch = None
        if self._labels_in_bulk():
            try:
                batch = label_in_bulk(
                    structures,
                    fixed['calculator'],
                    fixed.get('calculator_kwargs'),
                    call_link_label=f'label_batch_{step}',
                )
            except BatchLabellingError as exception:
                self.ctx.label_errors = dict(exception.failed)
            else:
                self.ctx.label_errors = dict(batch.failed)
                self.ctx.label_batch = batch.node
            return futures
        labeller = self._labeller()
        for key, structure in structures.items():
            inputs: dict[str, t.Any] = {**fixed, 'structure': structure}
            if options is not None:
                inputs['metadata'] = {'options': options.get_dict()}
            inputs.setdefault('metadata', {})['call_link_label'] = f'label_{key}'
            if is_process_function(labeller):
                try:
                    _, node = labeller.run_get_node(**inputs)
                except Exception as exception:
                    self.ctx.label_errors[key] = f'{type(exception).__name__}: {exception}'
                    continue
                self.ctx.labels_run[key] = node
            else:
                futures[f'label_{key}'] = self.submit(labeller, **inputs)
        return futures

    def _collect_labels(self) -> dict[str, t.Any]:
        """Gather the labels of every labelling process; report and skip the failed ones."""
        nodes = dict(self.ctx.labels_run)
        for key in list(self.ctx.get('label_keys', [])):
            node = self.ctx.get(f'label_{key}')
            if node is not None:
                nodes[key] = node
        merge_inputs: dict[str, t.Any] = {}
        if self.ctx.get('label_batch') is not None:
            merge_inputs.update(merge_inputs_of(self.ctx.label_batch))
        for key, node in sorted(nodes.items()):
            outputs = node.outputs
            if not node.is_finished_ok or 'total_energy' not in outputs or 'forces' not in outputs:
                reason = node.exit_message or f'exit status {node.exit_status}'
                self.ctx.label_errors[key] = f'{node.process_label}<{node.pk}> failed: {reason}'
                continue
            merge_inputs[f'structure_{key}'] = node.inputs.structure
            merge_inputs[f'energy_{key}'] = outputs.total_energy
            merge_inputs[f'forces_{key}'] = outputs.forces
            if 'stress' in outputs:
                merge_inputs[f'stress_{key}'] = outputs.stress
        for key, reason in sorted(self.ctx.label_errors.items()):
            self.report(f'labelling `{key}` failed and is left out: {reason}')
        return merge_inputs

    def take_initial_structures(self) -> None:
        """Queue the initial unlabelled structures for :meth:`label` and :meth:`merge`."""
        self.ctx.to_label = self._drop_known_structures(dict(self.inputs.structures))
        self.ctx.label_step = 'initial'

    def _drop_known_structures(
        self, structures: dict[str, orm.StructureData]
    ) -> dict[str, orm.StructureData]:
        """The structures worth a label: those whose geometry (:func:`structure_hash`) is neither in the
        training set nor given earlier in ``structures``. The rest are reported, never labelled."""
        known = set(self.ctx.training_set.structure_hashes()) if self.ctx.training_set is not None else set()
        kept, skipped = {}, []
        for key, structure in structures.items():
            digest = atoms_hash(structure.get_ase())
            if digest in known:
                skipped.append(key)
                continue
            known.add(digest)
            kept[key] = structure
        if skipped:
            shown = ', '.join(skipped[:5]) + (', ...' if len(skipped) > 5 else '')
            self.report(
                f'{len(skipped)} structures are already in the training set or repeat another one, '
                f'and are not labelled: {shown}'
            )
        return kept

    # ------------------------------------------------------------------ one cycle
    def should_continue(self) -> bool:
        """Whether another cycle runs."""
        return not self.ctx.done

    def train(self) -> t.Any:
        """Train on the current training set (continuing from the last potential when fine-tuning)."""
        self.ctx.cycle += 1
        inputs = AttributeDict(self.exposed_inputs(PaceTrainWorkChain, 'train'))
        training_set, test_set = self.ctx.training_set, self.inputs.get('test_set')
        if self.ctx.augmented is not None:  # labelled structures first: the stall check reads the first ones
            training_set = _merged(training_set, self.ctx.augmented, f'with_augmented_cycle_{self.ctx.cycle}')
        if 'baseline' in self.inputs:
            label = {'call_link_label': f'residual_cycle_{self.ctx.cycle}'}
            training_set = subtract_baseline_from_training_set(
                training_set, self.inputs.baseline, metadata=label
            )  # type: ignore[call-arg]
            if test_set is not None:
                label = {'call_link_label': f'residual_test_cycle_{self.ctx.cycle}'}
                test_set = subtract_baseline_from_training_set(test_set, self.inputs.baseline, metadata=label)  # type: ignore[call-arg]
            inputs.train['baseline'] = self.inputs.baseline
        inputs.train['training_set'] = training_set
        if test_set is not None:
            inputs.train['test_set'] = test_set
        if self.inputs.active_set_in_fit.value and self.ctx.augmented is None:
            inputs.train['active_set_parameters'] = self.inputs.activeset.parameters
            if self.inputs.select_in_fit.value and not self.should_explore():
                selection = self._selection_inputs()
                if selection is not None:
                    selection.pop('training_set', None)  # the fit's own
                    inputs.train['selection'] = selection
        self.ctx.train_inputs = dict(inputs.train)  # the same data for a refit from scratch
        if self.ctx.potential is not None and self.inputs.fine_tune.value:
            inputs.train['initial_potential'] = self.ctx.potential
        elif self.ctx.potential is None and 'initial_potential' in self.inputs:
            inputs.train['initial_potential'] = self.inputs.initial_potential
        inputs.metadata = {'call_link_label': f'train_cycle_{self.ctx.cycle}'}
        self.ctx.fine_tuned = 'initial_potential' in inputs.train
        how = 'from scratch'
        if 'initial_potential' in inputs.train:
            how = f'continuing from PacePotentialData<{inputs.train["initial_potential"].pk}>'
        augmented = training_set.num_structures - self.ctx.training_set.num_structures
        plus = f' and {augmented} augmented' if augmented else ''
        self.report(
            f'cycle {self.ctx.cycle}: training on {self.ctx.training_set.num_structures} structures{plus} ({how})'
        )
        return ToContext(train=self.submit(PaceTrainWorkChain, **inputs))

    def inspect_train(self) -> t.Any:
        """Check the fit; it becomes the cycle's potential unless it stalled (see ``refit_tolerance``)."""
        node = self.ctx.train
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_TRAINING_FAILED.format(
                cycle=self.ctx.cycle, message=node.exit_message
            )
        self.ctx.fit = node
        self.ctx.fit_choice = {'refitted': False, 'previous_force_rmse': self._previous_force_rmse(node)}
        return None

    def _previous_force_rmse(self, node: orm.WorkflowNode) -> float | None:
        """Force RMSE (meV/Å) of ``node``'s potential on the previous cycle's training structures (the first
        ones of this cycle's set); None when unknown."""
        count = self.ctx.get('previous_num_structures')
        if count is None or 'per_structure_errors' not in node.outputs:
            return None
        natoms = self.ctx.training_set.get_arrays()['natoms'][:count]
        return force_rmse_of_first(node.outputs.per_structure_errors, natoms)

    def fine_tune_stalled(self) -> bool:
        """Whether the fine-tuned fit got worse on the structures the previous potential was trained on."""
        now, before = self.ctx.fit_choice['previous_force_rmse'], self.ctx.get('previous_force_rmse')
        tolerance = self.inputs.refit_tolerance.value
        if not self.ctx.fine_tuned or not has_stalled(now, before, tolerance):
            return False
        self.report(
            f'cycle {self.ctx.cycle}: the fine-tuned fit has a force RMSE of {now:.1f} meV/Å on the previous '
            f"cycle's structures against {before:.1f} before (more than {tolerance:.0%} worse): "
            'refitting from scratch'
        )
        return True

    def refit_from_scratch(self) -> t.Any:
        """Fit this cycle's training set again, from scratch."""
        inputs = AttributeDict(self.exposed_inputs(PaceTrainWorkChain, 'train'))
        inputs.train = AttributeDict(self.ctx.train_inputs)
        inputs.metadata = {'call_link_label': f'train_cycle_{self.ctx.cycle}_from_scratch'}
        return ToContext(refit=self.submit(PaceTrainWorkChain, **inputs))

    def inspect_refit(self) -> None:
        """Keep whichever fit ends with the lower training loss."""
        node = self.ctx.refit
        if not node.is_finished_ok:
            self.report(
                f'cycle {self.ctx.cycle}: the refit failed ({node.exit_message}); keeping the fine-tuned fit'
            )
            return
        fine_loss = self.ctx.fit.outputs.metrics.get('loss', np.inf)
        scratch_loss = node.outputs.metrics.get('loss', np.inf)
        if scratch_loss < fine_loss:
            self.ctx.fit = node
            self.ctx.fit_choice = {'refitted': True, 'previous_force_rmse': self._previous_force_rmse(node)}
        kept = 'the refit' if self.ctx.fit_choice['refitted'] else 'the fine-tuned fit'
        self.report(
            f'cycle {self.ctx.cycle}: training loss fine-tuned {fine_loss:.3g}, from scratch {scratch_loss:.3g}: '
            f'keeping {kept}'
        )

    def record_fit(self) -> None:
        """Keep the cycle's potential; record its metrics in the learning curve."""
        node = self.ctx.fit
        self.ctx.potential = node.outputs.potential
        metrics = node.outputs.metrics
        self.out(f'potentials.cycle_{self.ctx.cycle}', self.ctx.potential)
        self.out(f'training_sets.cycle_{self.ctx.cycle}', self.ctx.training_set)
        if self.ctx.augmented is not None:  # the curve's training errors: on the labelled structures only
            self.ctx.fit_choice |= labelled_train_errors(
                node.inputs.train.training_set.num_structures,
                node.outputs.per_structure_errors if 'per_structure_errors' in node.outputs else None,
                self.ctx.training_set.get_arrays()['natoms'],
            )
        fit = orm.Dict(self.ctx.fit_choice)
        row = learning_curve_row(
            self.ctx.cycle,
            metrics.get_dict(),
            self.ctx.training_set,
            fit=fit.get_dict(),
            potential=self.ctx.potential,
        )
        self.ctx.row = _row_for_context(row)
        self.ctx.curve_inputs[f'metrics_{self.ctx.cycle}'] = metrics
        self.ctx.curve_inputs[f'training_set_{self.ctx.cycle}'] = self.ctx.training_set
        self.ctx.curve_inputs[f'fit_{self.ctx.cycle}'] = fit
        self.ctx.curve_inputs[f'potential_{self.ctx.cycle}'] = self.ctx.potential
        self.ctx.previous_num_structures = None
        self.ctx.previous_force_rmse = None
        if 'per_structure_errors' in node.outputs:
            natoms = self.ctx.training_set.get_arrays()['natoms']
            self.ctx.previous_num_structures = len(natoms)
            self.ctx.previous_force_rmse = force_rmse_of_first(node.outputs.per_structure_errors, natoms)
        test = f', test {row["test_force_rmse"]:.1f} meV/Å' if row['test_force_rmse'] is not None else ''
        stopped = {'maxiter': ' (stopped at maxiter: not converged)'}.get(row.get('stopped_by') or '', '')
        self.report(
            f'cycle {self.ctx.cycle}: trained PacePotentialData<{self.ctx.potential.pk}> in {row["iterations"]} '
            f'iterations{stopped}: train {row["train_energy_rmse"]:.2f} meV/atom, '
            f'{row["train_force_rmse"]:.1f} meV/Å{test}'
        )

    def build_active_set(self) -> t.Any:
        """Keep the active set that the fit's job built (``active_set_in_fit``), or build it from the training
        set in a job of its own."""
        self.ctx.activeset = None
        if 'active_set' in self.ctx.fit.outputs:
            self.ctx.active_set = self.ctx.fit.outputs.active_set
            return None
        if 'active_set_parameters' in self.ctx.train_inputs:
            self.report(
                f"cycle {self.ctx.cycle}: the fit's job did not build the active set (the warning in the log of "
                'its PaceTrainCalculation says why): building it in a job of its own'
            )
        inputs = AttributeDict(self.exposed_inputs(PaceActiveSetCalculation, 'activeset'))
        inputs.potential = self.ctx.potential
        inputs.training_set = self.ctx.training_set
        inputs.setdefault('metadata', {})['call_link_label'] = f'activeset_cycle_{self.ctx.cycle}'
        return ToContext(activeset=self.submit(PaceActiveSetCalculation, **inputs))

    def inspect_active_set(self) -> t.Any:
        """Keep the active set."""
        node = self.ctx.activeset
        if node is None:
            self.report(
                f"cycle {self.ctx.cycle}: active set ActiveSetData<{self.ctx.active_set.pk}> (built in the fit's job)"
            )
            return None
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_ACTIVE_SET_FAILED.format(
                cycle=self.ctx.cycle, message=node.exit_message
            )
        self.ctx.active_set = node.outputs.active_set
        self.report(f'cycle {self.ctx.cycle}: active set ActiveSetData<{self.ctx.active_set.pk}>')
        return None

    def should_explore(self) -> bool:
        """Whether MD exploration is configured."""
        return bool(self.inputs.get('explore', {}).get('structures'))

    def explore(self) -> t.Any:
        """Run MD with the new potential from the seed structures."""
        inputs = AttributeDict(self.exposed_inputs(PaceExploreCalculation, 'explore'))
        inputs.potential = self.ctx.potential
        inputs.active_set = self.ctx.active_set
        inputs.setdefault('metadata', {})['call_link_label'] = f'explore_cycle_{self.ctx.cycle}'
        return ToContext(explore=self.submit(PaceExploreCalculation, **inputs))

    def inspect_explore(self) -> t.Any:
        """Add the snapshots that MD found to the candidates (also after an exploded trajectory)."""
        node = self.ctx.explore
        exploded = PaceExploreCalculation.exit_codes.ERROR_MD_EXPLODED.status
        if not (node.is_finished_ok or node.exit_status == exploded):
            return self.exit_codes.ERROR_EXPLORATION_FAILED.format(
                cycle=self.ctx.cycle, message=node.exit_message
            )
        if node.exit_status == exploded:
            self.report(f'cycle {self.ctx.cycle}: {node.exit_message}')
        found = dict(node.outputs.candidates) if 'candidates' in node.outputs else {}
        for key, structure in found.items():
            self.ctx.explored[f'md{self.ctx.cycle}_{key}'] = structure
        self.report(f'cycle {self.ctx.cycle}: exploration found {len(found)} candidates')
        return None

    def _selection_inputs(self) -> dict[str, t.Any] | None:
        """The selection's inputs for this cycle (``parameters``, the candidates as ``candidates``, ``pool`` and
        ``exclude``, and the ``training_set`` the coverage strategies measure against), or None when no
        candidate is left."""
        candidates = self._candidates()
        pool, taken, left = self._pool_left()
        if not candidates and not left:
            return None
        given = self.inputs.select.get('parameters')
        options = given.get_dict() if given is not None else {}
        options['max_structures'] = self.inputs.max_new_structures_per_cycle.value
        options['gamma_min'] = self.inputs.gamma_select.value
        if 'gamma_max' in self.inputs:
            options['gamma_max'] = self.inputs.gamma_max.value
        inputs: dict[str, t.Any] = {'parameters': orm.Dict(options)}
        if (
            options.get('strategy', DEFAULT_STRATEGY) in COVERAGE_STRATEGIES
            or 'min_distance_factor' in options
        ):
            # what coverage and the distance floor measure against
            inputs['training_set'] = self.ctx.training_set
        if candidates:
            inputs['candidates'] = candidates
        if pool is not None and left:
            inputs['pool'] = pool
            if taken:
                inputs['exclude'] = orm.List(taken)
        return inputs

    def _selection_of_fit(self) -> t.Any:
        """The ``selection`` outputs (``report``, ``selected``) of the cycle's kept fit, if its job selected."""
        outputs = self.ctx.fit.outputs
        return outputs.selection if 'selection' in outputs else None

    def select(self) -> t.Any:
        """Grade every candidate and select the most informative ones within the gamma window: keep the
        selection the fit's job made (``select_in_fit``), or select in a job of its own."""
        self.ctx.select = None
        if self._selection_of_fit() is not None:
            return None
        if 'selection' in self.ctx.train_inputs:
            self.report(
                f"cycle {self.ctx.cycle}: the fit's job did not select (the warning in the log of its "
                'PaceTrainCalculation says why): selecting in a job of its own'
            )
        selection = self._selection_inputs()
        if selection is None:
            return None
        inputs = AttributeDict(self.exposed_inputs(PaceSelectCalculation, 'select'))
        inputs.update(selection)
        inputs.potential = self.ctx.potential
        inputs.active_set = self.ctx.active_set
        inputs.setdefault('metadata', {})['call_link_label'] = f'select_cycle_{self.ctx.cycle}'
        return ToContext(select=self.submit(PaceSelectCalculation, **inputs))

    def inspect_select(self) -> t.Any:
        """Record the candidates' grades and the selection in the learning curve."""
        node = self.ctx.select
        row = self.ctx.row
        self.ctx.selected = {}
        self.ctx.num_known_selected = 0
        in_fit = self._selection_of_fit() if node is None else None
        if in_fit is not None:
            outputs = in_fit
        elif node is None:
            row.update(num_candidates=0, max_gamma=None, num_selected=0)
            return None
        elif not node.is_finished_ok:
            return self.exit_codes.ERROR_SELECTION_FAILED.format(
                cycle=self.ctx.cycle, message=node.exit_message
            )
        else:
            outputs = node.outputs
        report = outputs.report
        self.ctx.curve_inputs[f'selection_{self.ctx.cycle}'] = report
        selected = dict(outputs.selected) if 'selected' in outputs else {}
        self.ctx.selected = self._drop_known_structures(selected)
        self.ctx.num_known_selected = len(selected) - len(self.ctx.selected)
        self._take_candidates(selected.keys() - self.ctx.selected.keys())  # known already: never again
        fit = self.ctx.curve_inputs[f'fit_{self.ctx.cycle}'].get_dict()
        metrics = self.ctx.curve_inputs[f'metrics_{self.ctx.cycle}'].get_dict()
        row.update(
            learning_curve_row(
                self.ctx.cycle,
                metrics,
                self.ctx.training_set,
                selection=report.get_dict(),
                fit=fit,
                potential=self.ctx.potential,
            )
        )
        gamma_max = f'{report["max_gamma"]:.2f}' if report['max_gamma'] is not None else 'n/a'
        reasons = report.get_dict().get('reasons', {})
        why = ', '.join(f'{list(reasons.values()).count(r)} by {r}' for r in sorted(set(reasons.values())))
        self.report(
            f'cycle {self.ctx.cycle}: {report["num_candidates"]} candidates '
            f'({num_extrapolating(row)} extrapolating, gamma >= {EXTRAPOLATING:g}), max gamma {gamma_max}, '
            f'{len(self.ctx.selected)} selected'
            + (f' ({why})' if why else '')
            + (" in the fit's job" if in_fit is not None else '')
        )
        self.ctx.row = _row_for_context(row)
        return None

    def decide_next_cycle(self) -> None:
        """Stop after ``max_cycles``, when nothing was selected, or when the test error reached its target."""
        row = self.ctx.row
        target = self.inputs.get('target_test_force_rmse')
        test_rmse = row.get('test_force_rmse')
        if self.ctx.cycle >= self.inputs.max_cycles.value:
            self.report(
                f'stopping: reached max_cycles={self.inputs.max_cycles.value} (the structures selected in this '
                'last cycle are not labelled: no later fit would use them)'
            )
            self.ctx.done = True
        elif not self.ctx.selected and self.ctx.get('num_known_selected'):
            self.report('stopping: every selected structure is already in the training set')
            self.ctx.done = True
        elif not self.ctx.selected:
            self.report(f'stopping: no candidate has a gamma of at least {self.inputs.gamma_select.value}')
            self.ctx.done = True
        elif target is not None and test_rmse is not None and test_rmse <= target.value:
            self.report(f'stopping: test force RMSE {test_rmse:.1f} <= target {target.value} meV/Å')
            self.ctx.done = True

    def should_augment(self) -> bool:
        """Whether pace_augment runs in this cycle (``augment`` given, and another fit follows)."""
        return 'augment' in self.inputs and not self.ctx.done

    def augment(self) -> t.Any:
        """pace_augment with this cycle's potential and active set, seeded from the labelled structures."""
        from aiida_shell import ShellJob

        from aiida_pacemaker.utilities.augment import augment_job_inputs
        from aiida_pacemaker.utilities.jobs import shell_job_inputs

        job = augment_job_inputs(
            self.ctx.potential,
            self.ctx.training_set,
            self.ctx.active_set,
            self.inputs.augment.get_dict(),
            self.inputs.augment_code,
        )
        inputs = shell_job_inputs(**job, call_link_label=f'augment_cycle_{self.ctx.cycle}')
        return ToContext(augment=self.submit(ShellJob, inputs))

    def inspect_augment(self) -> t.Any:
        """Keep what pace_augment made for the next fits; a run that found nothing to add is reported."""
        from aiida_pacemaker.utilities.augment import augmented_training_set

        job = self.ctx.augment
        augmented, message = augmented_training_set(job, self.ctx.potential)
        if augmented is None:
            if job.is_finished_ok:  # nothing unreliable to add: not an error
                self.report(f'cycle {self.ctx.cycle}: {message}')
                return None
            return self.exit_codes.ERROR_AUGMENT_FAILED.format(cycle=self.ctx.cycle, message=message)
        self.out(f'augmented.cycle_{self.ctx.cycle}', augmented)
        if self.ctx.augmented is not None:
            augmented = _merged(self.ctx.augmented, augmented, f'augmented_so_far_cycle_{self.ctx.cycle}')
        self.ctx.augmented = augmented
        self.report(f'cycle {self.ctx.cycle}: {message}; {augmented.num_structures} augmented in all')
        return None

    def should_label(self) -> bool:
        """Whether selected structures are to be labelled (not after the last cycle)."""
        return not self.ctx.done and bool(self.ctx.selected)

    def take_selected_structures(self) -> None:
        """Queue this cycle's selected structures for :meth:`label` and :meth:`merge` (out of the pool)."""
        self._take_candidates(self.ctx.selected)
        self.ctx.to_label = {
            f'c{self.ctx.cycle}_{key}': structure for key, structure in self.ctx.selected.items()
        }
        self.ctx.label_step = f'cycle_{self.ctx.cycle}'

    def label(self) -> t.Any:
        """Label the queued structures: the initial ones, or a cycle's selection."""
        structures = self.ctx.to_label
        self.ctx.label_keys = list(structures)
        if self.ctx.label_step == 'initial':
            self.report(
                f'labelling {len(structures)} initial structures with {self.inputs.labeller.process.value}'
            )
        else:
            self.report(f'cycle {self.ctx.cycle}: labelling {len(structures)} structures')
        return ToContext(**self._launch_labels(structures, self.ctx.label_step))

    def merge(self) -> t.Any:
        """Merge the new labels into a new training-set node (a calcfunction, for provenance)."""
        if not self.ctx.to_label:  # every initial structure was in the training set already
            return None
        merge_inputs = self._collect_labels()
        self.ctx.to_label = {}
        if not merge_inputs:
            return self.exit_codes.ERROR_ALL_LABELS_FAILED.format(
                count=len(self.ctx.label_errors), reasons='; '.join(list(self.ctx.label_errors.values())[:3])
            )
        initial = self.ctx.label_step == 'initial'
        if self.ctx.training_set is not None:
            merge_inputs['training_set'] = self.ctx.training_set
        link = 'initial_training_set' if initial else f'merge_cycle_{self.ctx.cycle}'
        merge_inputs['metadata'] = {'call_link_label': link}
        results = extend_training_set(**merge_inputs)
        self.ctx.training_set = results['training_set']
        if initial:
            self.report(f'initial training set: {self.ctx.training_set.num_structures} structures')
            return None
        added = results['added'].get_dict()
        self.ctx.curve_inputs[f'added_{self.ctx.cycle}'] = results['added']
        self.ctx.row['num_labelled'] = len(added['added'])
        duplicates = f', {len(added["duplicates"])} duplicates skipped' if added['duplicates'] else ''
        self.report(
            f'cycle {self.ctx.cycle}: training set now {self.ctx.training_set.num_structures} structures '
            f'(+{len(added["added"])}{duplicates})'
        )
        return None

    def should_validate(self) -> bool:
        """Whether the final potential is validated (a ``validate`` namespace was given)."""
        return bool(self.inputs.get('validate'))

    def validate(self) -> t.Any:
        """Compute the final potential's properties next to the reference's (`PaceValidateWorkChain`)."""
        inputs = AttributeDict(self.exposed_inputs(PaceValidateWorkChain, 'validate'))
        inputs.labeller = _validation_reference(self.inputs.validate, self.inputs.labeller)
        inputs.potential = self.ctx.potential
        inputs.active_set = self.ctx.active_set
        inputs.metadata = {'call_link_label': 'validate'}
        self.report(f'validating the final potential PacePotentialData<{self.ctx.potential.pk}>')
        return ToContext(validation=self.submit(PaceValidateWorkChain, **inputs))

    def inspect_validate(self) -> t.Any:
        """Attach the property table; a failed validation is an exit code, the run's outputs are kept."""
        node = self.ctx.validation
        if not node.is_finished_ok:
            return self.exit_codes.ERROR_VALIDATION_FAILED.format(
                message=f'{node.process_label}<{node.pk}>: {node.exit_message}'
            )
        self.out('validation', node.outputs.table)
        self.report(
            f'validation: {len(node.outputs.table.get_list())} numbers in List<{node.outputs.table.pk}>'
        )
        return None

    def results(self) -> None:
        """Attach the final potential, its active set, its training set and the learning curve."""
        self.out('potential', self.ctx.potential)
        self.out('active_set', self.ctx.active_set)
        self.out('training_set', self.ctx.training_set)
        curve = build_learning_curve(**self.ctx.curve_inputs, metadata={'call_link_label': 'learning_curve'})
        self.out('learning_curve', curve)
        self.report(f'done after {self.ctx.cycle} cycles: PacePotentialData<{self.ctx.potential.pk}>')
