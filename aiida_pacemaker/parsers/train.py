"""Parser of `PaceTrainCalculation`: the fitted potential and its metrics."""

from __future__ import annotations

import json
import math
import re
import typing as t

import numpy as np
from aiida import orm
from aiida.engine import ExitCode

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data.potential import PacePotentialData, PotentialError

from .activeset import active_set_from_files
from .base import PaceBaseParser
from .select import SelectionError, read_selection

__all__ = ('PaceTrainParser', 'parse_metrics_table', 'parse_optimizer_results')

_OPTIMIZER_RESULT = re.compile(
    r'Optimization result\(success=(?P<success>\w+), status=(?P<status>-?\d+), message=(?P<message>.*?), nfev='
)
_PRECISION_LOSS_STATUS = 2  # scipy BFGS: 'Desired error not necessarily achieved due to precision loss.'


def parse_metrics_table(text: str) -> list[dict[str, float]]:
    """Parse pacemaker's whitespace table (``metrics.txt`` and friends) into rows of floats.

    :raises ValueError: if the table is empty or malformed.
    """
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if len(lines) < 2:
        raise ValueError('the table has no data rows')
    header, rows = lines[0], lines[1:]
    parsed = []
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f'a row has {len(row)} columns, the header {len(header)}')
        parsed.append({key: float(value) for key, value in zip(header, row, strict=True)})
    return parsed


def parse_optimizer_results(log: str) -> list[dict[str, t.Any]]:
    """Return every ``Optimization result(...)`` line of pacemaker's ``log.txt``."""
    return [
        {'success': m['success'] == 'True', 'status': int(m['status']), 'message': m['message']}
        for m in _OPTIMIZER_RESULT.finditer(log)
    ]


class PaceTrainParser(PaceBaseParser):
    """Attach the potential (``.yaml`` + ``.yace``) and the metrics; every failure is an exit code."""

    def parse(self, **kwargs: t.Any) -> ExitCode | None:
        """Parse the retrieved files of a pacemaker fit."""
        calc = PaceTrainCalculation
        names = set(self.retrieved_names())
        status = self.recorded_exit_status()
        log_tail = self.tail(calc.LOG_FILE, calc.STDOUT_FILE)

        metrics, metrics_error = self._parse_metrics()
        if metrics:
            # JSON has no NaN: a non-finite value is stored as None (and the loss checked below)
            finite = {
                k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in metrics.items()
            }
            self.out('metrics', orm.Dict(finite))

        if status is None or status != 0:
            interim = self._latest_interim(names)
            if interim is not None:
                self.out('interim_potential', interim)
            killed = status is None or status > 128  # no status written, or 128 + the signal's number
            if killed and interim is not None:
                return t.cast(ExitCode, self.exit_codes.ERROR_FIT_INTERRUPTED.format(detail=f'\n{log_tail}'))
            if status is None:
                return t.cast(ExitCode, self.exit_codes.ERROR_NO_EXIT_STATUS.format(detail=f'\n{log_tail}'))
            return t.cast(
                ExitCode, self.exit_codes.ERROR_PACEMAKER_FAILED.format(status=status, log_tail=log_tail)
            )

        content = self.read_bytes(calc.OUTPUT_POTENTIAL_FILE)
        if not content:
            return t.cast(
                ExitCode, self.exit_codes.ERROR_OUTPUT_POTENTIAL_MISSING.format(detail=f'\n{log_tail}')
            )
        yace = self.read_bytes(calc.OUTPUT_YACE_FILE)
        if not yace:
            return t.cast(
                ExitCode, self.exit_codes.ERROR_YACE_MISSING.format(detail=self.tail('yaml2yace.out'))
            )
        try:
            potential = PacePotentialData(content, yace, **self._baseline())
        except (PotentialError, ValueError) as exception:
            return t.cast(
                ExitCode, self.exit_codes.ERROR_OUTPUT_POTENTIAL_UNREADABLE.format(detail=str(exception))
            )
        self.out('potential', potential)
        if self._active_set(potential):
            self._selection()
        errors = self._per_structure_errors()
        if errors is not None:
            self.out('per_structure_errors', errors)

        if not metrics:
            return t.cast(ExitCode, self.exit_codes.ERROR_METRICS_UNREADABLE.format(detail=metrics_error))
        if not math.isfinite(metrics['loss']):
            return t.cast(ExitCode, self.exit_codes.ERROR_NON_FINITE_LOSS.format(loss=metrics['loss']))
        return self._check_convergence(metrics)

    def _active_set(self, potential: PacePotentialData) -> bool:
        """With ``active_set_parameters``: attach the active set that the job built. If pace_activeset failed,
        the fit still stands: the reason goes to the node's log as a warning and `active_set` is left out
        (the active-learning workchain then builds it in a job of its own)."""
        if 'active_set_parameters' not in self.node.inputs:
            return False
        calc = PaceTrainCalculation
        linear = self.read_bytes(calc.OUTPUT_ASI_FILE)
        nonlinear = self.read_bytes(calc.OUTPUT_ASI_NONLINEAR_FILE)
        try:
            self.out('active_set', active_set_from_files(linear, nonlinear, potential))
        except ValueError as exception:
            log = self.tail(calc.ACTIVESET_LOG)
            skipped = ' (nor the selection, which needs it)' if 'selection' in self.node.inputs else ''
            self.logger.warning(
                f'the fit stands, but its active set was not built{skipped}: {exception}\n{log}'
            )
            return False
        return True

    def _selection(self) -> None:
        """With ``selection``: attach the selected structures and the report. If the selection failed, the fit
        and its active set still stand: the reason goes to the node's log as a warning and the `selection`
        outputs are left out (the active-learning workchain then selects in a job of its own)."""
        inputs = self.node.inputs
        if 'selection' not in inputs:
            return
        selection = inputs.selection
        calc = PaceTrainCalculation
        try:
            structures, report = read_selection(
                self,
                parameters=selection.parameters.get_dict(),
                status=self.recorded_exit_status(calc.SELECT_EXIT_STATUS_FILE),
                pool=selection.pool if 'pool' in selection else None,
                candidates=dict(selection.candidates) if 'candidates' in selection else {},
                exclude=selection.exclude.get_list() if 'exclude' in selection else (),
                log_files=('gamma.out', calc.SELECT_LOG),
            )
        except SelectionError as error:
            self.logger.warning(
                f'the fit and its active set stand, but the selection failed: {error.message()}'
            )
            return
        for key, structure in structures.items():
            self.out(f'selection.selected.{key}', structure)
        self.out('selection.report', report)

    def _per_structure_errors(self) -> orm.ArrayData | None:
        """The fit report's errors in the order of the training set (None when missing or inconsistent)."""
        try:
            rows = json.loads(self.read_text(PaceTrainCalculation.PER_STRUCTURE_ERRORS) or 'null')
            names = self.node.inputs.training_set.get_arrays()['names']
            energy = np.full(len(names), np.nan)
            forces = np.full(len(names), np.nan)
            for index, name, energy_error, force_rmse in rows:
                if not 0 <= index < len(names) or str(names[index]) != name:
                    return None  # pacemaker reordered the structures: no reliable mapping
                energy[index], forces[index] = energy_error, force_rmse
        except (TypeError, ValueError, KeyError):
            return None
        array = orm.ArrayData()
        array.set_array('energy', energy)
        array.set_array('forces', forces)
        return array

    def _baseline(self) -> dict[str, t.Any]:
        if 'baseline' not in self.node.inputs:
            return {}
        parameters = self.node.inputs.baseline.get_dict()
        return {'physics_baseline': parameters.get('type', 'lj'), 'baseline_parameters': parameters}

    def _latest_interim(self, names: set[str]) -> PacePotentialData | None:
        """The newest readable interim potential among the retrieved files."""
        candidates = sorted(
            (n for n in names if n.startswith('interim_potential_') and n.endswith('.yaml')),
            key=lambda n: (n != 'interim_potential_best_cycle.yaml', n),
            reverse=True,
        )
        for name in candidates:
            content = self.read_bytes(name)
            if not content:
                continue
            try:
                return PacePotentialData(content, **self._baseline())
            except (PotentialError, ValueError):
                continue
        return None

    def _parse_metrics(self) -> tuple[dict[str, t.Any], str]:
        """Metrics in meV/atom and meV/Å from ``metrics.txt`` and ``test_metrics.txt``."""
        text = self.read_text('metrics.txt')
        if not text:
            return {}, 'metrics.txt was not written'
        try:
            train = parse_metrics_table(text)
        except ValueError as exception:
            return {}, f'metrics.txt: {exception}'
        last = train[-1]
        metrics: dict[str, t.Any] = {
            'train_energy_rmse': last['rmse_epa'] * 1000.0,
            'train_force_rmse': last['rmse_f_comp'] * 1000.0,
            'train_force_mae': last.get('mae_f_comp', math.nan) * 1000.0,
            'loss': last['loss'],
            'initial_loss': train[0]['loss'],
            'iterations': int(last['iter_num']),
            'number_of_functions': int(last.get('nfuncs', 0)),
        }
        test_text = self.read_text('test_metrics.txt')
        if (
            test_text and len(test_text.strip().splitlines()) > 1
        ):  # pacemaker writes a bare header without test data
            try:
                test = parse_metrics_table(test_text)[-1]
                metrics['test_energy_rmse'] = test['rmse_epa'] * 1000.0
                metrics['test_force_rmse'] = test['rmse_f_comp'] * 1000.0
            except ValueError as exception:
                return {}, f'test_metrics.txt: {exception}'
        log = self.read_text('log.txt') or ''
        results = parse_optimizer_results(log)
        if results:
            metrics['optimizer_status'] = results[-1]['status']
            metrics['optimizer_message'] = results[-1]['message']
        maxiter = int(self.input_option(('fit', 'maxiter'), 0) or 0)
        if 'EARLY STOPPING' in log:
            metrics['stopped_by'] = 'convergence'
        elif maxiter and metrics['iterations'] >= maxiter:
            metrics['stopped_by'] = 'maxiter'
        else:
            metrics['stopped_by'] = 'optimizer'
        return metrics, ''

    def _check_convergence(self, metrics: dict[str, t.Any]) -> ExitCode | None:
        """Flag BFGS's early 'precision loss' stop that leaves a barely fitted potential."""
        maxiter = int(self.input_option(('fit', 'maxiter'), 0) or 0)
        if metrics.get('optimizer_status') != _PRECISION_LOSS_STATUS or maxiter <= 0:
            return None
        iterations = metrics['iterations']
        barely_improved = metrics['loss'] > 0.5 * metrics['initial_loss']
        if iterations < max(5, 0.1 * maxiter) and barely_improved:
            return t.cast(
                ExitCode,
                self.exit_codes.ERROR_FIT_NOT_CONVERGED.format(
                    iterations=iterations, maxiter=maxiter, reason=metrics.get('optimizer_message', '')
                ),
            )
        return None
