"""``pace_info`` and ``pace_timing`` on a stored potential, their output parsed into Dicts.

The graph: potential -> calcfunction ``utility_input_files`` -> ``potential.yaml`` -> ShellJob
``pace_info`` (``pace_timing``) -> ``stdout`` -> calcfunction ``potential_info_summary``
(``potential_timing_summary``), which also takes the potential -> Dict ``info`` (``timing``).
:func:`utility_summaries` finds the newest of each for a potential, for ``show`` commands.
"""

from __future__ import annotations

import typing as t

from aiida import orm

from aiida_pacemaker.calculations.functions.utilities import potential_info_summary, potential_timing_summary
from aiida_pacemaker.data.potential import PacePotentialData

from .jobs import UtilityRun, input_files, job_failure, one_line, run_function, run_utility, utility_code

__all__ = ('potential_info', 'potential_timing', 'utility_summaries')

#: the Dict output of each summary calcfunction, by its process label
SUMMARIES = {'potential_info_summary': 'info', 'potential_timing_summary': 'timing'}


def _run(
    utility: str,
    potential: PacePotentialData,
    arguments: list[str],
    summary: t.Any,
    output: str,
    code: orm.AbstractCode | None,
) -> UtilityRun:
    code = utility_code(utility, code)
    files = input_files(potential=potential)
    _, job = run_utility(
        utility,
        code,
        ['{potential}', *arguments],
        {'potential': files['potential_yaml']},
        description=f'{utility} on PacePotentialData<{potential.pk}>',
    )
    if not job.is_finished_ok:
        return UtilityRun(utility, job, message=job_failure(utility, job))
    results, function = run_function(summary, potential=potential, stdout=job.outputs.stdout)
    if not function.is_finished_ok:
        return UtilityRun(utility, job, message=one_line(f'ShellJob<{job.pk}>: {function.exit_message}'))
    return UtilityRun(
        utility,
        job,
        results,
        ok=True,
        message=f'Dict<{results[output].pk}>: {output} of PacePotentialData<{potential.pk}> (ShellJob<{job.pk}>)',
    )


def potential_info(potential: PacePotentialData, code: orm.AbstractCode | None = None) -> UtilityRun:
    """Run ``pace_info`` on ``potential``: ``outputs['info']`` is a Dict with the elements, the number of
    basis functions (total, per element, per element and order with ``nradmax`` and ``lmax``), the
    largest cutoff (Å), the embeddings and the bonds (``rcut``, ``r_in``, ``delta_in`` in Å; the
    inner-cutoff type, ``zbl`` where a core repulsion is set).
    """
    return _run('pace_info', potential, [], potential_info_summary, 'info', code)


def potential_timing(
    potential: PacePotentialData, num_structures: int = 10, code: orm.AbstractCode | None = None
) -> UtilityRun:
    """Run ``pace_timing`` on ``potential``: ``outputs['timing']`` is a Dict with the time per atom and
    evaluation in µs (``time_per_atom_us``, one CPU core, pacemaker's C++ evaluator), per structure
    and per prototype (fcc/bcc cells of 32/16 atoms with the potential's elements at random).

    :param num_structures: the random structures timed (pace_timing's ``-n``), each 100 times.
    """
    if int(num_structures) < 1:
        raise ValueError(f'num_structures must be at least 1, not {num_structures}')
    return _run(
        'pace_timing', potential, ['-n', str(int(num_structures))], potential_timing_summary, 'timing', code
    )


def utility_summaries(potential: PacePotentialData) -> dict[str, orm.Dict]:
    """The newest ``info`` and ``timing`` Dicts made for ``potential`` (keys absent where none was made)."""
    found: dict[str, orm.Dict] = {}
    for label, output in SUMMARIES.items():
        query = orm.QueryBuilder()
        query.append(PacePotentialData, filters={'id': potential.pk}, tag='potential')
        query.append(
            orm.CalcFunctionNode,
            with_incoming='potential',
            filters={'attributes.process_label': label, 'attributes.exit_status': 0},
            tag='function',
        )
        query.append(orm.Dict, with_incoming='function', edge_filters={'label': output}, project='*')
        query.order_by({orm.Dict: {'ctime': 'desc'}}).limit(1)
        first = query.first()
        if first:
            found[output] = first[0]
    return found
