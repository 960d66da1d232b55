"""`PaceTrainWorkChain`: `pacemaker.train` with automatic recovery from known failures."""

from __future__ import annotations

import copy
import typing as t

from aiida import orm
from aiida.common import AttributeDict
from aiida.engine import BaseRestartWorkChain, ProcessHandlerReport, process_handler, while_

from aiida_pacemaker.calculations.train import PaceTrainCalculation

__all__ = ('PaceTrainWorkChain',)


class PaceTrainWorkChain(BaseRestartWorkChain):
    """Run `PaceTrainCalculation` and restart it on recoverable failures.

    Handlers, in order of priority:

    - out of walltime or killed (exit codes 120, 401, and 301 when nothing was left): continue
      from the last interim potential that the calculation retrieved (``-p``), or rerun;
    - non-finite loss (420): restart with safer settings (L-BFGS-B, 10x the L2 regularisation);
    - BFGS stopped early with "precision loss" (410): restart with the L-BFGS-B optimizer;
    - pacemaker exited non-zero (400): one retry (a crash of the machine or of TensorFlow),
      then abort with the calculation's message.

    Any other failure aborts with exit code 402 (BaseRestartWorkChain's default; see its
    ``on_unhandled_failure`` input for other choices).
    """

    _process_class = PaceTrainCalculation

    @classmethod
    def define(cls, spec):  # type: ignore[no-untyped-def]
        """Define the process specification."""
        super().define(spec)
        spec.expose_inputs(PaceTrainCalculation, namespace='train')
        spec.expose_outputs(PaceTrainCalculation)
        spec.outline(
            cls.setup,
            while_(cls.should_run_process)(
                cls.run_process,
                cls.inspect_process,
            ),
            cls.results,
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
        """Continue from the last interim potential, if the calculation retrieved one."""
        interim = node.outputs.interim_potential if 'interim_potential' in node.outputs else None
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
