"""`PaceActiveSetCalculation`: build the active set of a potential with ``pace_activeset``."""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.common import CalcInfo

from aiida_pacemaker.data.active_set import NONLINEAR_FILENAME, ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YAML
from aiida_pacemaker.schema import BOOL, number

from .base import PaceBaseCalculation
from .options import MEMORY, Option, check_options, integer_or_auto, to_cmdline

if t.TYPE_CHECKING:
    from aiida.engine import CalcJobProcessSpec

__all__ = ('ACTIVESET_OPTIONS', 'PaceActiveSetCalculation', 'check_activeset_options')

#: parameters of pace_activeset; see `pace_activeset --help`
ACTIVESET_OPTIONS: dict[str, Option] = {
    'full': Option('-f', BOOL),
    'batch_size': Option('-b', integer_or_auto(1)),
    'gamma_tolerance': Option('-g', number(minimum=1.0, strict=True)),
    'maxvol_iters': Option('-i', number(integer=True, minimum=1)),
    'maxvol_refinement': Option('-r', number(integer=True, minimum=1)),
    'memory_limit': Option('-m', MEMORY),
    'error_force_threshold': Option('-e', number(minimum=0.0)),
    'all_atoms': Option('-a', BOOL),
}


def check_activeset_options(options: dict[str, t.Any]) -> str | None:
    """The message for the first bad pace_activeset option of ``options`` (see `ACTIVESET_OPTIONS`), else None.

    Besides each option's own check: pace_activeset batches only with ``all_atoms``.
    """
    message = check_options(options, ACTIVESET_OPTIONS)
    if message:
        return message
    if options.get('batch_size', 'auto') != 'auto' and not options.get('all_atoms', False):
        return 'pace_activeset needs `all_atoms: true` when a `batch_size` is given'
    return None


class PaceActiveSetCalculation(PaceBaseCalculation):
    """Run ``pace_activeset`` for a potential on its training set; returns `ActiveSetData`.

    The active set of each element is a square MaxVol matrix with one row per projection:
    as many atomic environments as the element has basis functions (linear mode) or
    functions x densities (``full``, non-linear mode). Its size therefore follows from the
    basis, so it cannot be set freely. The trainer's ``active_set_size`` (per element) picks
    the mode in ``get_builder_from_protocol``: linear when it is at most the number of
    functions per element, ``full`` (functions x densities environments) when it is larger.
    """

    DATA_FILE = 'training_set.pckl.gzip'

    @classmethod
    def define(cls, spec: CalcJobProcessSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input('potential', valid_type=PacePotentialData, help='The potential (its .yaml is used).')
        spec.input(
            'training_set', valid_type=TrainingSetData, help='The structures to pick the active set from.'
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            help=f'pace_activeset options: {", ".join(ACTIVESET_OPTIONS)}.',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'pacemaker.activeset'  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs.validator = cls.validate_inputs
        spec.output('active_set', valid_type=ActiveSetData, help='The active set (.asi) of the potential.')
        spec.exit_code(302, 'ERROR_ACTIVE_SET_MISSING', message='pace_activeset wrote no .asi file.{detail}')
        spec.exit_code(303, 'ERROR_ACTIVE_SET_UNREADABLE', message='The .asi file is unreadable: {detail}')
        spec.exit_code(
            400, 'ERROR_ACTIVESET_FAILED', message='pace_activeset exited with status {status}:\n{log_tail}'
        )

    @staticmethod
    def validate_inputs(inputs: dict[str, t.Any], _: t.Any) -> str | None:
        """Check the options and that the potential knows every element of the data."""
        message, options = PaceBaseCalculation.validate_parameters(inputs, ACTIVESET_OPTIONS)
        if message:
            return message
        message = check_activeset_options(options)
        if message:
            return f'invalid `parameters`: {message}'
        potential, training_set = inputs.get('potential'), inputs.get('training_set')
        if potential is not None and training_set is not None:
            missing = sorted(set(training_set.elements) - set(potential.elements))
            if missing:
                return f'the training set holds elements {missing} that the potential does not know'
        return None

    def prepare_for_submission(self, folder: t.Any) -> CalcInfo:
        """Stage the potential and write the data; build the command line."""
        options = self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}
        with folder.open(self.DATA_FILE, 'wb') as handle:
            self.inputs.training_set.write_pacemaker_pickle(handle)
        codeinfo = self.codeinfo(
            [
                POTENTIAL_YAML,
                '-d',
                self.DATA_FILE,
                *to_cmdline(options, ACTIVESET_OPTIONS),
            ]
        )
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.local_copy_list = [(self.inputs.potential.uuid, POTENTIAL_YAML, POTENTIAL_YAML)]
        calcinfo.provenance_exclude_list = [self.DATA_FILE]
        calcinfo.append_text = self.exit_status_capture()
        calcinfo.retrieve_list = [
            self.EXIT_STATUS_FILE,
            self._DEFAULT_STDOUT,
            ACTIVE_SET_ASI,
            NONLINEAR_FILENAME,
        ]
        return calcinfo
