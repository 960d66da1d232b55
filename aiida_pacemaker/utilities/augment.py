"""``pace_augment``: ZBL-labelled compressed structures for the short-distance regime, with provenance.

pace_augment takes up to 100 seed structures of at most 32 atoms from the training set (one
composition at a time), compresses each (nearest-neighbour distance from 1 Å up, 0.1 Å steps), finds
where the potential stops being reliable (extrapolation grade above 10 with the active set, or a kink
in its energy curve without one), labels the more compressed copies with ZBL energies and forces
(up to 150 eV/atom), keeps those with an atom closer than the data's shortest bonds, and picks a
D-optimal subset (MaxVol, with the active set's projections as already covered). The result is a
set to merge into the training set before the next fit: the potential then learns a repulsive wall
where its data had nothing.

The graph: potential, training set (active set) -> calcfunction ``utility_input_files`` -> files ->
ShellJob ``pace_augment`` (then ``dataframe_to_npz.py`` on the pickle it wrote, in the same job) ->
``augmented.npz`` -> calcfunction ``training_set_from_augmented`` (which also takes the potential, for
its reference energies) -> ``TrainingSetData``; with ``merge``, calcfunction ``merge_training_sets``
-> the training set with the augmented structures appended.
"""

from __future__ import annotations

import typing as t

from aiida import orm

from aiida_pacemaker.calculations.functions.utilities import merge_training_sets, training_set_from_augmented
from aiida_pacemaker.calculations.options import Option
from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.schema import POSITIVE, REAL, number
from aiida_pacemaker.tools import provenance

from .jobs import (
    UtilityRun,
    after_tool,
    input_files,
    job_failure,
    job_output_tail,
    one_line,
    python_line,
    run_function,
    run_utility,
    script_node,
    tool_options,
    utility_code,
)

__all__ = ('AUGMENT_OPTIONS', 'augment_job_inputs', 'augment_training_set', 'augmented_training_set')

UTILITY = 'pace_augment'
SCRIPT = 'dataframe_to_npz.py'
PICKLE = 'augmented.pkl.gz'
ARRAYS = 'augmented.npz'
#: pace_augment's options (``augment`` of the active-learning workchain takes the same keys)
AUGMENT_OPTIONS: dict[str, Option] = {
    'max_seed_structures': Option('-mss', number(integer=True, minimum=-1)),  # -1: all
    'max_atoms': Option('-mnat', number(integer=True, minimum=-1)),  # -1: no limit
    'nn_distance_min': Option('-nnmin', POSITIVE),  # Å
    'nn_distance_step': Option('-nnstep', POSITIVE),  # Å
    'min_energy_per_atom': Option('-minepa', REAL),  # eV/atom
    'max_energy_per_atom': Option('-maxepa', REAL),  # eV/atom
    'reliable_energy_per_atom_max': Option('-eparmax', REAL),  # eV/atom
}


def augment_training_set(
    potential: PacePotentialData,
    training_set: TrainingSetData | None = None,
    active_set: ActiveSetData | None = None,
    max_seed_structures: int | None = None,
    max_atoms: int | None = None,
    nn_distance_min: float | None = None,
    nn_distance_step: float | None = None,
    min_energy_per_atom: float | None = None,
    max_energy_per_atom: float | None = None,
    reliable_energy_per_atom_max: float | None = None,
    merge: bool = False,
    code: orm.AbstractCode | None = None,
) -> UtilityRun:
    """Run ``pace_augment`` for ``potential``: ZBL-labelled compressed structures (see the module docstring).

    :param training_set: the seed structures; by default the potential's own training set.
    :param active_set: the potential's active set (reliability by extrapolation grade); by default the
        newest one built for it; without one pace_augment looks for a kink in the energy curve.
    :param max_seed_structures: seeds to compress (pace_augment's default 100, -1 all);
        ``max_atoms``: largest seed, atoms (32, -1 no limit); ``nn_distance_min``/``step``: the
        compressions, as nearest-neighbour distance in Å (1.0/0.1); ``min_energy_per_atom``,
        ``max_energy_per_atom``: keep ZBL energies in this range, eV/atom (none/150);
        ``reliable_energy_per_atom_max``: energies above this (eV/atom) are never reliable.
    :param merge: also return ``outputs['merged']``: the training set followed by the augmented
        structures not already in it.
    :param code: the ``pace_augment`` code (default: this environment's, on the plugin's computer).
    :returns: ``outputs['training_set']`` (the augmented structures; names start with ``augmented/``,
        which pacemaker weights down by ``data: aug_factor``, default 1e-4) and with ``merge``
        ``outputs['merged']``.
    :raises ValueError: without a training set to seed from.
    """
    if training_set is None:
        try:
            training_set = provenance.training_set_of(potential)
        except ValueError as exception:
            raise ValueError(f'{exception}: give the training set to augment') from None
    if active_set is None:
        active_set = provenance.active_set_of(potential)
    if active_set is not None:
        active_set.check_potential(potential)
    options = {
        'max_seed_structures': max_seed_structures,
        'max_atoms': max_atoms,
        'nn_distance_min': nn_distance_min,
        'nn_distance_step': nn_distance_step,
        'min_energy_per_atom': min_energy_per_atom,
        'max_energy_per_atom': max_energy_per_atom,
        'reliable_energy_per_atom_max': reliable_energy_per_atom_max,
    }
    tool_options(AUGMENT_OPTIONS, **options)  # refuse bad options before a code is set up
    code = utility_code(UTILITY, code)
    inputs = augment_job_inputs(potential, training_set, active_set, options, code)
    _, job = run_utility(**inputs)
    augmented, message = augmented_training_set(job, potential)
    if augmented is None:
        return UtilityRun(UTILITY, job, message=message)
    outputs: dict[str, orm.Data] = {'training_set': augmented}
    if merge:
        merged = merge_training_sets(training_set, augmented)
        outputs['merged'] = merged['training_set']
        message += f'; merged into TrainingSetData<{merged["training_set"].pk}>'
    return UtilityRun(UTILITY, job, outputs, ok=True, message=message)


def augment_job_inputs(
    potential: PacePotentialData,
    training_set: TrainingSetData,
    active_set: ActiveSetData | None,
    options: t.Mapping[str, t.Any],
    code: orm.AbstractCode,
) -> dict[str, t.Any]:
    """The arguments of :func:`~aiida_pacemaker.utilities.jobs.run_utility` (and of
    :func:`~aiida_pacemaker.utilities.jobs.shell_job_inputs`) for one pace_augment job: the input files
    (calcfunction ``utility_input_files``), the command line and the conversion of its pickle.

    :param options: keys of :data:`AUGMENT_OPTIONS` (``None`` values: pace_augment's defaults).
    :raises ConfigError: for an unknown option or a bad value, before anything is stored.
    """
    arguments = tool_options(AUGMENT_OPTIONS, **options)
    files = input_files(potential=potential, active_set=active_set, training_set=training_set)
    nodes: dict[str, orm.Data] = {
        'potential': files['potential_yaml'],
        'training_set': files['training_set_pickle'],
        'script': script_node(SCRIPT),
    }
    command = ['{potential}', '-d', '{training_set}', '-o', PICKLE]
    if 'active_set_asi' in files:
        nodes['active_set'] = files['active_set_asi']
        command += ['-a', '{active_set}']
    append_text = after_tool(
        f'if [ $pacemaker_tool_status -eq 0 ] && [ -s {PICKLE} ]; then '
        f'{python_line(code, SCRIPT, "augment", PICKLE, ARRAYS)}; fi'
    )
    return {
        'utility': UTILITY,
        'code': code,
        'arguments': command + arguments,
        'nodes': nodes,
        'filenames': {'script': SCRIPT},
        'outputs': ['augmented*.npz'],
        'append_text': append_text,
        'description': f'pace_augment for PacePotentialData<{potential.pk}>',
    }


def augmented_training_set(
    job: orm.CalcJobNode, potential: PacePotentialData
) -> tuple[TrainingSetData | None, str]:
    """The training set a finished pace_augment job made (calcfunction ``training_set_from_augmented``)
    and one line on it; ``None`` and why when the job failed or made no structure."""
    if not job.is_finished_ok:
        return None, job_failure(UTILITY, job)
    if 'augmented_npz' not in job.outputs:
        tail = job_output_tail(job) or 'it printed nothing'
        return None, f'pace_augment (ShellJob<{job.pk}>) made no structure: {tail}'
    results, function = run_function(
        training_set_from_augmented, potential=potential, arrays=job.outputs.augmented_npz
    )
    if not function.is_finished_ok:
        message = f'pace_augment (ShellJob<{job.pk}>) gave no training set: {function.exit_message}'
        return None, one_line(message)
    augmented = t.cast(TrainingSetData, results['training_set'])
    return augmented, (
        f'TrainingSetData<{augmented.pk}>: {augmented.num_structures} ZBL-labelled compressed structures '
        f'for PacePotentialData<{potential.pk}> (ShellJob<{job.pk}>)'
    )
