"""`PaceTrainWorkChain`: `pacemaker.train` with automatic recovery from known failures."""

from __future__ import annotations

import copy
import typing as t

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.processes import NewOutputLinksOnly

from .protocols import ProtocolMixin

if t.TYPE_CHECKING:
    from aiida.engine.processes.workchains.workchain import WorkChainSpec

__all__ = ('PaceTrainWorkChain', 'render_trainer')

#: r_in (Å) of ZBL with the pyace backend when there is no data yet to take the shortest distance from
DEFAULT_MIN_DISTANCE = 1.5


def render_trainer(
    trainer: dict[str, t.Any], elements: t.Sequence[str], min_distance: float | None
) -> tuple[dict[str, t.Any], dict[str, t.Any] | None]:
    """pacemaker's parameters (``potential``, ``fit``, ``backend``, ``data``) and the additive baseline
    (``{'type': 'lj', ...}``, or None) of a protocol's ``trainer`` section (the fields of
    :class:`~aiida_pacemaker.config.TrainerConfig`) for ``elements``.

    :param min_distance: the training data's shortest interatomic distance (Å), for ZBL's ``r_in``.
    """
    from aiida_pacemaker.baselines import LennardJonesBaseline
    from aiida_pacemaker.config import TrainerConfig

    trainer = copy.deepcopy(trainer)
    trainer.setdefault('ace_basis_config', {}).setdefault('elements', sorted(elements))
    config = TrainerConfig.from_dict(trainer)
    parameters = config.to_pacemaker_parameters(
        min_distance=min_distance if min_distance is not None else DEFAULT_MIN_DISTANCE
    )
    baseline = None
    if config.physics_baseline == 'lj':
        chosen = trainer['ace_basis_config']['elements']
        baseline = {
            'type': 'lj',
            **(config.baseline_parameters or LennardJonesBaseline.default_for(chosen).to_parameters()),
        }
    return parameters, baseline


class PaceTrainWorkChain(NewOutputLinksOnly, ProtocolMixin, BaseRestartWorkChain):
    """Run `PaceTrainCalculation` and restart it on recoverable failures.

    Handlers, in order of priority:

    - out of walltime or killed (exit codes 120, 401, and 301 when nothing was left): continue
      from the last interim potential that the calculation retrieved (``-p``), or rerun (always
      for a ladder fit, ``fit.ladder_step``, which pacemaker cannot continue with ``-p``);
    - non-finite loss (420): restart with safer settings (L-BFGS-B, 10x the L2 regularisation);
    - BFGS stopped early with "precision loss" (410): restart with the L-BFGS-B optimizer;
    - pacemaker exited non-zero (400): one retry (a crash of the machine or of TensorFlow),
      then abort with the calculation's message.

    Any other failure aborts with exit code 402 (BaseRestartWorkChain's default; see its
    ``on_unhandled_failure`` input for other choices).
    """

    _process_class = PaceTrainCalculation
    _protocol_file = 'train'

    @classmethod
    def get_builder_from_protocol(
        cls,
        code: orm.AbstractCode,
        training_set: TrainingSetData,
        *,
        test_set: TrainingSetData | None = None,
        initial_potential: orm.Data | None = None,
        protocol: str | None = None,
        overrides: dict[str, t.Any] | None = None,
    ) -> t.Any:
        """A builder that fits ``training_set`` with the ``trainer`` of ``protocol`` (``fast``, ``balanced``,
        ``precise``) and ``overrides`` (deep-merged; unknown keys refused; ``trainer.ace_basis_config.elements``
        defaults to the elements of the data). A Lennard-Jones baseline is subtracted from the data here
        (calcfunctions, so the residual sets lead back to the labelled ones) and recorded in the potential.
        """
        from aiida_pacemaker.baselines import min_interatomic_distance
        from aiida_pacemaker.calculations.functions import subtract_baseline_from_training_set
        from aiida_pacemaker.calculations.monitors import progress_monitors

        inputs = cls.get_protocol_inputs(protocol, overrides)
        elements = set(training_set.elements) | set(test_set.elements if test_set is not None else [])
        parameters, baseline = render_trainer(
            inputs['trainer'], sorted(elements), min_interatomic_distance(training_set.get_arrays())
        )
        builder: t.Any = cls.get_builder()
        builder.train.code = code
        builder.train.parameters = orm.Dict(parameters)
        builder.train.monitors = progress_monitors()
        if baseline is not None:
            builder.train.baseline = orm.Dict(baseline)
            training_set = subtract_baseline_from_training_set(training_set, builder.train.baseline)
            if test_set is not None:
                test_set = subtract_baseline_from_training_set(test_set, builder.train.baseline)
        builder.train.training_set = training_set
        if test_set is not None:
            builder.train.test_set = test_set
        if initial_potential is not None:
            builder.train.initial_potential = initial_potential
        return builder

    @classmethod
    def define(cls, spec: WorkChainSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.expose_inputs(PaceTrainCalculation, namespace='train')
        spec.expose_outputs(PaceTrainCalculation)
        # plumpy types every outline step as Callable[[WorkChain], ...], which a method of a subclass is not
        # (the parameter is contravariant): hence the `arg-type` ignores
        spec.outline(
            cls.setup,  # type: ignore[arg-type]  # plumpy outline typing
            while_(cls.should_run_process)(  # type: ignore[arg-type]  # plumpy outline typing
                cls.run_process,  # type: ignore[arg-type]  # plumpy outline typing
                cls.inspect_process,  # type: ignore[arg-type]  # plumpy outline typing
            ),
            cls.results,  # type: ignore[arg-type]  # plumpy outline typing
        )
        spec.exit_code(
            300,
            'ERROR_UNRECOVERABLE_FAILURE',
            message='The fit failed in a way that a restart cannot fix: {message}',
        )

    def setup(self) -> None:
        """Collect the inputs of the calculation."""
        super().setup()
        self.ctx.inputs = AttributeDict(self.exposed_inputs(PaceTrainCalculation, 'train'))
        self.ctx.crash_retries = 0
        self.ctx.safer_settings = False

    def _set_fit_options(self, **fit: t.Any) -> None:
        parameters = copy.deepcopy(self.ctx.inputs.parameters.get_dict())
        parameters.setdefault('fit', {}).update(fit)
        self.ctx.inputs.parameters = orm.Dict(parameters)

    @process_handler(
        priority=600,
        exit_codes=[
            PaceTrainCalculation.exit_codes.ERROR_FIT_INTERRUPTED,
            PaceTrainCalculation.exit_codes.ERROR_SCHEDULER_OUT_OF_WALLTIME,
            PaceTrainCalculation.exit_codes.ERROR_NO_EXIT_STATUS,
        ],
    )
    def handle_out_of_walltime(self, node: orm.CalcJobNode) -> ProcessHandlerReport:
        """Continue from the last interim potential, if the calculation retrieved one.

        A ladder fit (``fit.ladder_step``) is rerun from the start instead: pacemaker would discard a
        potential given with ``-p`` and start its ladder from an empty one (python-ace issue 39), and an
        interim potential of a ladder step has only part of the basis, so continuing it without the
        ladder would return a smaller potential than asked for.
        """
        interim = node.outputs.interim_potential if 'interim_potential' in node.outputs else None
        if 'ladder_step' in (self.ctx.inputs.parameters.get_dict().get('fit') or {}):
            self.ctx.inputs.pop('initial_potential', None)
            self.report(
                f'{node.process_label}<{node.pk}> was interrupted: rerunning the ladder fit from the start '
                '(pacemaker cannot continue a ladder fit from an interim potential)'
            )
            return ProcessHandlerReport(do_break=True)
        if interim is not None:
            self.ctx.inputs.initial_potential = interim
            self.report(
                f'{node.process_label}<{node.pk}> was interrupted: continuing from its interim potential'
            )
        else:
            self.report(
                f'{node.process_label}<{node.pk}> was interrupted before any interim potential: rerunning'
            )
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=500, exit_codes=[PaceTrainCalculation.exit_codes.ERROR_NON_FINITE_LOSS])
    def handle_non_finite_loss(self, node: orm.CalcJobNode) -> ProcessHandlerReport:
        """Restart once with safer settings; abort if the loss diverges again."""
        if self.ctx.safer_settings:
            return ProcessHandlerReport(
                True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=node.exit_message)
            )
        loss = dict(self.ctx.inputs.parameters.get_dict().get('fit', {}).get('loss', {}))
        loss['L2_coeffs'] = 10 * float(loss.get('L2_coeffs', 1e-8))
        self._set_fit_options(optimizer='L-BFGS-B', loss=loss)
        self.ctx.safer_settings = True
        self.report(f'{node.process_label}<{node.pk}>: non-finite loss; restarting with L-BFGS-B and 10x L2')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=400, exit_codes=[PaceTrainCalculation.exit_codes.ERROR_FIT_NOT_CONVERGED])
    def handle_not_converged(self, node: orm.CalcJobNode) -> ProcessHandlerReport:
        """BFGS stopped early with precision loss: the L-BFGS-B optimizer recovers the fit."""
        optimizer = self.ctx.inputs.parameters.get_dict().get('fit', {}).get('optimizer', 'BFGS')
        if optimizer == 'L-BFGS-B':
            return ProcessHandlerReport(
                True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=node.exit_message)
            )
        self._set_fit_options(optimizer='L-BFGS-B')
        self.report(f'{node.process_label}<{node.pk}> stopped early ({optimizer}); restarting with L-BFGS-B')
        return ProcessHandlerReport(do_break=True)

    @process_handler(priority=300, exit_codes=[PaceTrainCalculation.exit_codes.ERROR_PACEMAKER_FAILED])
    def handle_pacemaker_crash(self, node: orm.CalcJobNode) -> ProcessHandlerReport:
        """Retry a crashed pacemaker once; a second crash aborts with its message."""
        if self.ctx.crash_retries >= 1:
            return ProcessHandlerReport(
                True, self.exit_codes.ERROR_UNRECOVERABLE_FAILURE.format(message=node.exit_message)
            )
        self.ctx.crash_retries += 1
        self.report(f'{node.process_label}<{node.pk}>: pacemaker crashed; retrying once')
        return ProcessHandlerReport(do_break=True)
