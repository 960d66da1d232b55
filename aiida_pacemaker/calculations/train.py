"""`PaceTrainCalculation`: fit an ACE potential with the ``pacemaker`` executable."""

from __future__ import annotations

import copy
import shlex
import typing as t

from aiida import orm
from aiida.common import CalcInfo, CodeInfo

from aiida_pacemaker.config import ConfigError, validate_pacemaker_parameters
from aiida_pacemaker.data.active_set import NONLINEAR_SUFFIX, ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.structure_pool import StructurePoolData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.filenames import POTENTIAL_YAML
from aiida_pacemaker.scripts import script_text

from .activeset import ACTIVESET_OPTIONS, check_activeset_options
from .base import PaceBaseCalculation, sibling_command, write_yaml
from .options import to_cmdline
from .select import SELECT_OPTIONS, PaceSelectCalculation
from .selection_script import SelectionScript, write_selection_script

if t.TYPE_CHECKING:
    from aiida.engine import CalcJobProcessSpec

__all__ = ('PaceTrainCalculation',)


class PaceTrainCalculation(PaceBaseCalculation):
    """Run ``pacemaker input.yaml`` on a `TrainingSetData`, then ``pace_yaml2yace``.

    The training (and test) set is written as pacemaker's ``pickle.gzip`` into the job's
    folder, so the job runs unchanged on a remote computer. With ``initial_potential`` the
    fit continues from that potential (pacemaker's ``-p``: fine-tuning with the same basis).
    With ``active_set_parameters`` the same job then runs ``pace_activeset`` on the fitted
    potential and the training set (what `PaceActiveSetCalculation` does, one job fewer: on a
    cluster one queue wait fewer). With ``selection`` as well, the job then grades the candidates
    given there with that active set and selects among them (what `PaceSelectCalculation` does, with
    the fit's training set for the coverage strategies: another job fewer).
    """

    TRAINING_FILE = 'training_set.pckl.gzip'
    TEST_FILE = 'test_set.pckl.gzip'
    INITIAL_POTENTIAL_FILE = 'initial_potential.yaml'
    OUTPUT_POTENTIAL_FILE = 'output_potential.yaml'
    OUTPUT_YACE_FILE = 'output_potential.yace'
    LOG_FILE = 'log.txt'
    FIT_REPORT = 'fit_report.py'
    PER_STRUCTURE_ERRORS = 'per_structure_errors.json'
    STDOUT_FILE = 'pacemaker.out'
    OUTPUT_ASI_FILE = 'output_potential.asi'  # pace_activeset names it after the potential's .yaml
    OUTPUT_ASI_NONLINEAR_FILE = f'{OUTPUT_ASI_FILE}{NONLINEAR_SUFFIX}'
    ACTIVESET_LOG = 'activeset.out'
    SELECT_LOG = 'select.out'
    SELECT_EXIT_STATUS_FILE = 'select_exit_status'

    @classmethod
    def define(cls, spec: CalcJobProcessSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input('training_set', valid_type=TrainingSetData, help='Labelled structures to fit.')
        spec.input(
            'test_set',
            valid_type=TrainingSetData,
            required=False,
            help='Held-out labelled structures; gives the `test_` metrics.',
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            help='pacemaker input.yaml sections `cutoff`, `seed`, `potential`, `fit`, `backend`, `data` '
            '(data options other than file names).',
        )
        spec.input(
            'initial_potential',
            valid_type=PacePotentialData,
            required=False,
            help='Continue the fit from this potential (pacemaker `-p`): fine-tuning with the same basis.',
        )
        spec.input(
            'baseline',
            valid_type=orm.Dict,
            required=False,
            help='Additive baseline (e.g. Lennard-Jones) that the caller already subtracted from the labels of '
            '`training_set` (see `subtract_baseline_from_training_set`); recorded on the output potential so '
            'that using it adds the baseline back.',
        )
        spec.input(
            'active_set_parameters',
            valid_type=orm.Dict,
            required=False,
            help='Build the active set of the fitted potential in the same job: the pace_activeset options '
            f'({", ".join(ACTIVESET_OPTIONS)}; `{{}}` for its defaults) on the training set. The `active_set` '
            'output is then present unless pace_activeset failed (its log is in `activeset.out`; the fit stands).',
        )
        spec.input_namespace(
            'selection',
            required=False,
            populate_defaults=False,
            help='Select candidates in the same job, after the active set (`active_set_parameters` needed): '
            "`parameters` (`pacemaker.select`'s options; `max_structures` for a strategy), and the candidates as "
            '`pool` (less the names in `exclude`) and/or `candidates`. The outputs `selection.selected` and '
            '`selection.report` are then present unless the selection failed (its log is in `gamma.out` and '
            '`select.out`; the fit stands).',
        )
        spec.input('selection.parameters', valid_type=orm.Dict, required=False, help='The selection options.')
        spec.input(
            'selection.pool', valid_type=StructurePoolData, required=False, help='Candidates as one node.'
        )
        spec.input(
            'selection.exclude',
            valid_type=orm.List,
            required=False,
            help='Names of `pool` structures to leave out.',
        )
        spec.input_namespace(
            'selection.candidates',
            valid_type=orm.StructureData,
            dynamic=True,
            help='Candidate structures by key.',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'pacemaker.train'  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs['metadata']['options']['input_filename'].default = 'input.yaml'  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs['metadata']['options']['output_filename'].default = cls.STDOUT_FILE  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs.validator = cls.validate_inputs

        spec.output('potential', valid_type=PacePotentialData, help='The fitted potential.')
        spec.output(
            'metrics',
            valid_type=orm.Dict,
            help='`train_energy_rmse` (meV/atom), `train_force_rmse` and `train_force_mae` (meV/Å), the same '
            'RMSEs with `test_`, `iterations`, `loss`, `initial_loss`, `number_of_functions`, '
            '`optimizer_status`, `optimizer_message` and `stopped_by` (`convergence`: the loss stopped '
            'falling by `fit.min_relative_train_loss_per_iter`; `maxiter`: the iteration cap; `optimizer`).',
        )
        spec.output(
            'per_structure_errors',
            valid_type=orm.ArrayData,
            required=False,
            help='Errors of the fitted potential on every training structure, in the order of `training_set`: '
            'arrays `energy` (predicted - reference, meV/atom) and `forces` (RMSE, meV/Å).',
        )
        spec.output(
            'active_set',
            valid_type=ActiveSetData,
            required=False,
            help='With `active_set_parameters`: the active set of the fitted potential, built in the same job.',
        )
        spec.output_namespace(
            'selection.selected',
            valid_type=orm.StructureData,
            dynamic=True,
            help='With `selection`: the chosen candidates, by key.',
        )
        spec.output(
            'selection.report',
            valid_type=orm.Dict,
            required=False,
            help="With `selection`: the selection's report (as `pacemaker.select`'s `report`).",
        )
        spec.output(
            'interim_potential',
            valid_type=PacePotentialData,
            required=False,
            help='The last interim potential of a fit that did not finish (to restart from).',
        )
        spec.default_output_node = 'metrics'

        spec.exit_code(
            302, 'ERROR_OUTPUT_POTENTIAL_MISSING', message='pacemaker wrote no output potential.{detail}'
        )
        spec.exit_code(
            303,
            'ERROR_OUTPUT_POTENTIAL_UNREADABLE',
            message='The output potential is truncated or corrupt: {detail}',
        )
        spec.exit_code(304, 'ERROR_METRICS_UNREADABLE', message='The fit metrics could not be read: {detail}')
        spec.exit_code(305, 'ERROR_YACE_MISSING', message='pace_yaml2yace did not write the .yace: {detail}')
        spec.exit_code(
            400,
            'ERROR_PACEMAKER_FAILED',
            message='pacemaker exited with status {status}; end of its log:\n{log_tail}',
        )
        spec.exit_code(
            401,
            'ERROR_FIT_INTERRUPTED',
            message='The fit was interrupted before it finished (killed or out of walltime); '
            'the last interim potential is in the `interim_potential` output.{detail}',
        )
        spec.exit_code(
            410,
            'ERROR_FIT_NOT_CONVERGED',
            message='The optimizer stopped after {iterations} of {maxiter} iterations: {reason}',
        )
        spec.exit_code(
            420, 'ERROR_NON_FINITE_LOSS', message='The loss became non-finite ({loss}) during the fit.'
        )

    @staticmethod
    def validate_inputs(inputs: dict[str, t.Any], _: t.Any) -> str | None:
        """Check parameters against the data and the initial potential before anything runs."""
        message = PaceBaseCalculation.validate_options(inputs)
        if message:
            return message
        if 'active_set_parameters' in inputs:
            message = check_activeset_options(inputs['active_set_parameters'].get_dict())
            if message:
                return f'invalid `active_set_parameters`: {message}'
        parameters = inputs.get('parameters')
        training_set = inputs.get('training_set')
        message = PaceTrainCalculation._validate_selection(inputs)
        if message:
            return message
        if parameters is None or training_set is None:
            return None
        elements = set(training_set.elements)
        test_set = inputs.get('test_set')
        if test_set is not None:
            elements |= set(test_set.elements)
        content = parameters.get_dict()
        initial = inputs.get('initial_potential')
        if initial is not None:
            missing = sorted(elements - set(initial.elements))
            if missing:
                return (
                    f'the training data hold elements {missing} that the initial potential '
                    f'PacePotentialData<{initial.pk}> (elements {initial.elements}) does not know'
                )
            if 'ladder_step' in (content.get('fit') or {}):
                # pyace/generalfit.py: with `-p` and `fit.ladder_step` the ladder starts from an emptied copy
                # of the given potential, its coefficients discarded (python-ace issue 39)
                return (
                    '`fit.ladder_step` with an `initial_potential` makes pacemaker discard the initial potential '
                    'and start from an empty one: remove `fit.ladder_step` to continue from the initial potential, '
                    'or leave out `initial_potential` to grow a new basis in ladder steps'
                )
        elif 'potential' not in content:
            return 'the `parameters` need a `potential` section (or give an `initial_potential`)'
        test_size = (content.get('data') or {}).get('test_size')
        if test_set is not None and test_size is not None:
            return 'give either a `test_set` or `data.test_size` in the parameters, not both'
        if isinstance(test_size, int | float) and not isinstance(test_size, bool) and test_size > 0:
            # pacemaker splits int(N * fraction) (or the count itself) out: it crashes on an empty split
            count = int(training_set.num_structures * test_size) if test_size < 1 else int(test_size)
            if count < 1 or count >= training_set.num_structures:
                return (
                    f'`data.test_size: {test_size}` leaves {count} of {training_set.num_structures} structures '
                    'for testing; pacemaker needs at least one test and one training structure'
                )
        try:
            validate_pacemaker_parameters(
                content, data_elements=sorted(elements) if 'potential' in content else None
            )
        except ConfigError as exception:
            return f'invalid `parameters`: {exception}'
        return None

    @staticmethod
    def _validate_selection(inputs: dict[str, t.Any]) -> str | None:
        """Check the ``selection`` inputs as `PaceSelectCalculation` checks its own, and that the fitted
        potential knows the candidates' elements."""
        selection = dict(inputs.get('selection') or {})
        if not selection:
            return None
        if 'parameters' not in selection:
            return '`selection` needs its `parameters` (at least `max_structures` for a strategy other than maxvol)'
        if 'active_set_parameters' not in inputs:
            return (
                '`selection` grades the candidates with the active set that the job builds: give '
                "`active_set_parameters` as well (`{}` for pace_activeset's defaults)"
            )
        training_set = inputs.get('training_set')
        checked = {**selection, 'training_set': training_set} if training_set is not None else selection
        message = PaceSelectCalculation.validate_inputs(checked, ['candidates'])
        if message:
            return f'invalid `selection`: {message}'
        known = set(training_set.elements) if training_set is not None else set()
        parameters = inputs['parameters'].get_dict() if 'parameters' in inputs else {}
        known |= set((parameters.get('potential') or {}).get('elements') or [])
        if 'initial_potential' in inputs:
            known |= set(inputs['initial_potential'].elements)
        found = set(selection['pool'].elements) if 'pool' in selection else set()
        for structure in (selection.get('candidates') or {}).values():
            found |= set(structure.get_symbols_set())  # symbols, not kind names
        missing = sorted(found - known)
        if known and missing:
            return (
                f'the `selection` candidates hold elements {missing} that the fitted potential would not know'
            )
        return None

    def prepare_for_submission(self, folder: t.Any) -> CalcInfo:
        """Write ``input.yaml`` and the data files, stage the initial potential, build the command."""
        parameters = copy.deepcopy(self.inputs.parameters.get_dict())
        data = dict(parameters.get('data') or {})
        data['filename'] = self.TRAINING_FILE
        with folder.open(self.TRAINING_FILE, 'wb') as handle:
            self.inputs.training_set.write_pacemaker_pickle(handle)
        if 'test_set' in self.inputs:
            data['test_filename'] = self.TEST_FILE
            with folder.open(self.TEST_FILE, 'wb') as handle:
                self.inputs.test_set.write_pacemaker_pickle(handle)
        parameters['data'] = data
        write_yaml(folder, self.inputs.metadata.options.input_filename, parameters)

        cmdline = [self.inputs.metadata.options.input_filename]
        local_copy_list = []
        if 'initial_potential' in self.inputs:
            potential = self.inputs.initial_potential
            local_copy_list.append((potential.uuid, POTENTIAL_YAML, self.INITIAL_POTENTIAL_FILE))
            cmdline += ['-p', self.INITIAL_POTENTIAL_FILE]

        codeinfo = CodeInfo()
        codeinfo.code_uuid = self.inputs.code.uuid
        codeinfo.cmdline_params = cmdline
        codeinfo.stdout_name = self.STDOUT_FILE
        codeinfo.join_files = True

        yaml2yace = sibling_command(self.inputs.code, 'pace_yaml2yace')
        python = sibling_command(self.inputs.code, 'python')
        with folder.open(self.FIT_REPORT, 'w', encoding='utf8') as handle:
            handle.write(script_text(self.FIT_REPORT))
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.local_copy_list = local_copy_list
        calcinfo.provenance_exclude_list = [self.TRAINING_FILE, self.TEST_FILE]
        selection_lines, selection = self._selection_lines(folder, python)
        calcinfo.append_text = '\n'.join(
            [
                self.exit_status_capture(),
                f'if [ -s {self.OUTPUT_POTENTIAL_FILE} ]; then',
                f'  {yaml2yace} {self.OUTPUT_POTENTIAL_FILE} -o {self.OUTPUT_YACE_FILE} > yaml2yace.out 2>&1',
                'fi',
                f'{python} {self.FIT_REPORT} train_pred.pckl.gzip {self.PER_STRUCTURE_ERRORS} > fit_report.out 2>&1',
                *self._active_set_lines(),
                *selection_lines,
            ]
        )
        calcinfo.retrieve_list = [
            self.EXIT_STATUS_FILE,
            self.STDOUT_FILE,
            self.LOG_FILE,
            'yaml2yace.out',
            'fit_report.out',
            self.PER_STRUCTURE_ERRORS,
            self.OUTPUT_POTENTIAL_FILE,
            self.OUTPUT_YACE_FILE,
            'metrics.txt',
            'test_metrics.txt',
            'cycle_metrics.txt',
            'test_cycle_metrics.txt',
            'interim_potential_*.yaml',
        ]
        if 'active_set_parameters' in self.inputs:
            calcinfo.retrieve_list += [
                self.ACTIVESET_LOG,
                self.OUTPUT_ASI_FILE,
                self.OUTPUT_ASI_NONLINEAR_FILE,
            ]
        if selection is not None:
            calcinfo.local_copy_list += selection.local_copy_list
            calcinfo.provenance_exclude_list += selection.provenance_exclude_list
            calcinfo.retrieve_list += [
                self.SELECT_LOG,
                self.SELECT_EXIT_STATUS_FILE,
                *selection.retrieve_list,
            ]
        return calcinfo

    def _active_set_lines(self) -> list[str]:
        """With ``active_set_parameters``: shell lines running pace_activeset on the fitted potential, only
        after a fit that ended well (each argument shell-quoted: the options are user data)."""
        if 'active_set_parameters' not in self.inputs:
            return []
        arguments = [
            self.OUTPUT_POTENTIAL_FILE,
            '-d',
            self.TRAINING_FILE,
            *to_cmdline(self.inputs.active_set_parameters.get_dict(), ACTIVESET_OPTIONS),
        ]
        pace_activeset = sibling_command(self.inputs.code, 'pace_activeset')
        command = ' '.join([pace_activeset, *(shlex.quote(argument) for argument in arguments)])
        return [
            f'if [ -s {self.OUTPUT_POTENTIAL_FILE} ] && [ "$(cat {self.EXIT_STATUS_FILE})" = 0 ]; then',
            f'  {command} > {self.ACTIVESET_LOG} 2>&1',
            'fi',
        ]

    def active_set_file(self) -> str:
        """The file pace_activeset writes in this job: the ``.asi``, or with ``full`` the ``.asi.nonlinear``."""
        full = self.inputs.active_set_parameters.get_dict().get('full', False)
        return self.OUTPUT_ASI_NONLINEAR_FILE if full else self.OUTPUT_ASI_FILE

    def _selection_lines(self, folder: t.Any, python: str) -> tuple[list[str], SelectionScript | None]:
        """With ``selection``: write the selection's files and return the shell lines that grade and select,
        only after an active set was built (each pace_select argument shell-quoted: the options are user
        data), with the selection's file lists."""
        selection = self.inputs.get('selection') or {}
        if 'parameters' not in selection:
            return [], None
        asi = self.active_set_file()
        script = write_selection_script(
            folder,
            options=selection['parameters'].get_dict(),
            table=SELECT_OPTIONS,
            python=python,
            potential_file=self.OUTPUT_POTENTIAL_FILE,
            asi_file=asi,
            mode='full' if asi == self.OUTPUT_ASI_NONLINEAR_FILE else 'linear',
            pool=selection.get('pool'),
            exclude=selection['exclude'].get_list() if 'exclude' in selection else (),
            candidates=dict(selection.get('candidates') or {}),
            training_set=self.inputs.training_set,
        )
        pace_select = sibling_command(self.inputs.code, 'pace_select')
        command = ' '.join([pace_select, *(shlex.quote(argument) for argument in script.select_arguments)])
        lines = [
            f'if [ -s {asi} ] && [ "$(cat {self.EXIT_STATUS_FILE})" = 0 ]; then',
            f'  {script.filter_line}',
            '  if [ ! -e nothing_to_select ]; then',
            f'    {command} > {self.SELECT_LOG} 2>&1',
            f'    echo $? > {self.SELECT_EXIT_STATUS_FILE}',
            '  fi',
            *(f'  {line}' for line in script.after_lines),
            'fi',
        ]
        return lines, script
