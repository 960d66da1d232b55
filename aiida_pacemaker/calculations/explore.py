"""`PaceExploreCalculation`: MD with the potential that stops on the extrapolation grade."""

from __future__ import annotations

import json
import typing as t
from importlib.resources import files

from aiida import orm
from aiida.common import CalcInfo

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.filenames import ACTIVE_SET_ASI, POTENTIAL_YAML
from aiida_pacemaker.schema import BOOL, REAL, list_of, number
from aiida_pacemaker.scripts import script_text

from .base import PaceBaseCalculation
from .options import Option

if t.TYPE_CHECKING:
    from aiida.engine import CalcJobProcessSpec

__all__ = ('EXPLORE_DEFAULTS', 'EXPLORE_OPTIONS', 'PaceExploreCalculation')

EXPLORE_OPTIONS: dict[str, Option] = {
    'temperatures': Option(None, list_of(number(minimum=0.0, strict=True), non_empty=True)),  # K
    'steps': Option(None, number(integer=True, minimum=1)),
    'timestep': Option(None, number(minimum=0.0, strict=True)),  # fs
    'pressure': Option(None, REAL),  # GPa; NPT (Berendsen) when given
    'gamma_select': Option(None, number(minimum=0.0)),
    'gamma_stop': Option(None, number(minimum=0.0, strict=True)),
    'sample_interval': Option(None, number(integer=True, minimum=1)),
    'min_distance': Option(None, number(minimum=0.0)),  # Å; closer atoms count as an explosion
    'seed': Option(None, number(integer=True, minimum=0)),
    'keep_stop_structure': Option(None, BOOL),  # keep the snapshot that reached gamma_stop
}
EXPLORE_DEFAULTS: dict[str, t.Any] = {
    'temperatures': [300.0],
    'steps': 200,
    'timestep': 2.0,
    'gamma_select': 1.5,
    'gamma_stop': 10.0,
    'sample_interval': 5,
    'min_distance': 0.5,
    'seed': 0,
}


class PaceExploreCalculation(PaceBaseCalculation):
    """Run MD from seed structures with the potential's model and its active set.

    ``code`` is the Python interpreter of the pacemaker environment; the MD script is copied
    into the job's folder, so this runs wherever pacemaker is installed, remote computers
    included. The MD runs the deployed model, as ``PacePotentialData.get_ase_calculator()``:
    pyace's calculator plus the potential's additive (Lennard-Jones) baseline and reference
    energies, computed in the job by a copy of :mod:`aiida_pacemaker.baselines` (which imports
    no aiida); the extrapolation grade is that of the ACE part. Snapshots with max gamma in
    [``gamma_select``, ``gamma_stop``) become candidates; a trajectory ends at ``gamma_stop``.
    Units: K, fs, GPa, Å.
    """

    SCRIPT = 'explore.py'
    #: the job-side copy of :mod:`aiida_pacemaker.baselines` (imported by the script for the sum)
    BASELINE_MODULE = 'baselines.py'

    @classmethod
    def define(cls, spec: CalcJobProcessSpec) -> None:  # type: ignore[override]  # aiida's spec type narrows per process class
        """Define the process specification."""
        super().define(spec)
        spec.input('potential', valid_type=PacePotentialData, help='The potential that drives the MD.')
        spec.input('active_set', valid_type=ActiveSetData, help='The active set of `potential`.')
        spec.input_namespace(
            'structures', valid_type=orm.StructureData, dynamic=True, help='Seed structures.'
        )
        spec.input(
            'parameters',
            valid_type=orm.Dict,
            required=False,
            help=f'MD settings: {", ".join(EXPLORE_OPTIONS)} (K, fs, GPa, Å).',
        )
        spec.inputs['metadata']['options']['parser_name'].default = 'pacemaker.explore'  # type: ignore[index]  # plumpy: a namespace item may be a Port
        spec.inputs.validator = cls.validate_inputs
        spec.output_namespace(
            'candidates', valid_type=orm.StructureData, dynamic=True, help='Snapshots above `gamma_select`.'
        )
        spec.output(
            'report', valid_type=orm.Dict, help='Gamma of each candidate and per-trajectory statistics.'
        )
        spec.exit_code(302, 'ERROR_SUMMARY_MISSING', message='The exploration wrote no summary:\n{log_tail}')
        spec.exit_code(
            303, 'ERROR_CANDIDATES_UNREADABLE', message='candidates.extxyz is unreadable: {detail}'
        )
        spec.exit_code(
            400, 'ERROR_EXPLORE_FAILED', message='The MD script exited with status {status}:\n{log_tail}'
        )
        spec.exit_code(
            410,
            'ERROR_MD_EXPLODED',
            message='{count} trajectories became unphysical ({reasons}); the candidates found are attached.',
        )

    @staticmethod
    def validate_inputs(inputs: dict[str, t.Any], ctx: t.Any) -> str | None:
        """Check the MD settings, the potential/active-set pair and the seeds' elements."""
        message, options = PaceBaseCalculation.validate_parameters(inputs, EXPLORE_OPTIONS, EXPLORE_DEFAULTS)
        if message:
            return message
        if options['gamma_select'] >= options['gamma_stop']:
            return '`gamma_select` must be smaller than `gamma_stop`'
        seeds = inputs.get('structures') or {}
        if not seeds and 'structures' in ctx and inputs:  # an exposed, unused namespace is empty
            return 'give at least one seed structure in `structures`'
        return PaceBaseCalculation.validate_potential_and_structures(inputs, 'structures', 'seed')

    def prepare_for_submission(self, folder: t.Any) -> CalcInfo:
        """Write the seeds, the settings and the script; run it with the environment's Python."""
        from ase.io import write

        options = {
            **EXPLORE_DEFAULTS,
            **(self.inputs.parameters.get_dict() if 'parameters' in self.inputs else {}),
        }
        keys = sorted(self.inputs.structures)
        with folder.open('seeds.extxyz', 'w', encoding='utf8') as handle:
            write(handle, [self.inputs.structures[k].get_ase() for k in keys], format='extxyz')
        potential = self.inputs.potential
        model = {
            'potential': POTENTIAL_YAML,
            'active_set': ACTIVE_SET_ASI,
            # what get_ase_calculator() adds to ACE: the additive baseline and the reference energies (eV/atom)
            'baseline': potential.baseline_parameters if potential.physics_baseline == 'lj' else None,
            'reference_energies': {k: v for k, v in potential.reference_energies.items() if v},
        }
        with folder.open('explore_input.json', 'w', encoding='utf8') as handle:
            json.dump(options | {'seed_keys': keys} | model, handle, indent=1)
        with folder.open(self.SCRIPT, 'w', encoding='utf8') as handle:
            handle.write(script_text(self.SCRIPT))
        with folder.open(self.BASELINE_MODULE, 'w', encoding='utf8') as handle:
            handle.write(files('aiida_pacemaker').joinpath('baselines.py').read_text(encoding='utf8'))
        codeinfo = self.codeinfo([self.SCRIPT])
        calcinfo = CalcInfo()
        calcinfo.codes_info = [codeinfo]
        calcinfo.local_copy_list = [
            (self.inputs.potential.uuid, POTENTIAL_YAML, POTENTIAL_YAML),
            (self.inputs.active_set.uuid, ACTIVE_SET_ASI, ACTIVE_SET_ASI),
        ]
        calcinfo.append_text = self.exit_status_capture()
        calcinfo.retrieve_list = [
            self.EXIT_STATUS_FILE,
            self._DEFAULT_STDOUT,
            'candidates.extxyz',
            'explore_summary.json',
        ]
        return calcinfo
