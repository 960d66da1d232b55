"""``pace_corerep``: add an auto-tuned ZBL inner-core repulsion to a fitted potential, with provenance.

pace_corerep keeps the ACE basis and its coefficients and switches each atom's energy over to the
Ziegler-Biersack-Littmark (ZBL) screened nuclear repulsion below an inner cutoff ``r_in`` per bond,
over ``[r_in - 0.1 Å, r_in]``. By default it tunes ``r_in`` from the data: it compresses up to 50 of
the smaller training structures (nearest-neighbour distance 0.5-2.5 Å), finds in each the distance
below which the potential is unreliable (its energy curve kinks, or the extrapolation grade with the
active set exceeds ``gamma_max`` = 10, but not where it is still below ZBL), and sets ``r_in`` per
bond to the 99th percentile, over the structures, of the largest nearest-neighbour distance of an atom
that extrapolates there; bonds it never sees get the 0.1 % quantile of their shortest distances in the
data. With ``inner_cutoff`` it sets ``r_in`` as given instead.

This is the same ZBL switch as the plugin's ``zbl`` physics baseline (``fit: repulsion: auto``, see
the baselines how-to), added to a potential that was fitted without it, and with ``r_in`` where the
potential stops being trustworthy rather than just below the shortest distance in the training data.

The graph: potential, active set, training set -> calcfunction ``utility_input_files`` -> files ->
ShellJob ``pace_corerep`` (then ``pace_yaml2yace`` on its output, in the same job) -> ``corerep.yaml``,
``corerep.yace`` -> calcfunction ``potential_with_core_repulsion`` (which also takes the original
potential) -> the new ``PacePotentialData`` and a Dict of ``r_in`` per bond.
"""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

from aiida import orm

from aiida_pacemaker.calculations.base import sibling_command
from aiida_pacemaker.calculations.functions.utilities import potential_with_core_repulsion
from aiida_pacemaker.calculations.options import Option
from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.schema import POSITIVE, number
from aiida_pacemaker.tools import provenance

from .jobs import (
    STDOUT,
    UtilityRun,
    after_tool,
    input_files,
    job_failure,
    one_line,
    run_function,
    run_utility,
    tool_options,
    utility_code,
)

__all__ = ('add_core_repulsion', 'core_repulsion_potentials')

UTILITY = 'pace_corerep'
OUTPUT_YAML = 'corerep.yaml'
OUTPUT_YACE = 'corerep.yace'
#: what ``-d``/``-a`` name when pace_corerep only sets given inner cutoffs (it requires both options
#: but reads neither then)
UNUSED = ('unused.pckl.gzip', 'unused.asi')
_OPTIONS: dict[str, Option] = {
    'num_structures': Option('-n', number(integer=True, minimum=1)),
    'gamma_max': Option('-g', POSITIVE),
    'nn_distance_min': Option('-nnmin', POSITIVE),  # Å
    'nn_distance_max': Option('-nnmax', POSITIVE),  # Å
    'nn_distance_step': Option('-nnstep', POSITIVE),  # Å
}
_BOND = re.compile(r'^([A-Z][a-z]?)(?:-([A-Z][a-z]?))?$')


def _inner_cutoff_arguments(inner_cutoff: Mapping[str, float], elements: list[str]) -> list[str]:
    """``--inner-cutoff Cu:1.6 Cu-Au:1.7`` from ``{'Cu': 1.6, 'Cu-Au': 1.7}`` (Å), checked."""
    words = ['--inner-cutoff']
    for bond, value in inner_cutoff.items():
        match = _BOND.match(bond)
        symbols = [s for s in match.groups() if s] if match else []
        if not symbols or any(s not in elements for s in symbols):
            raise ValueError(
                f"inner cutoff {bond!r}: give an element or a pair A-B of the potential's elements {elements}"
            )
        if not float(value) > 0:
            raise ValueError(f'inner cutoff {bond}: {value} Å is not positive')
        words.append(f'{bond}:{float(value)!r}')
    return words


def add_core_repulsion(
    potential: PacePotentialData,
    active_set: ActiveSetData | None = None,
    training_set: TrainingSetData | None = None,
    inner_cutoff: Mapping[str, float] | None = None,
    num_structures: int | None = None,
    gamma_max: float | None = None,
    nn_distance_min: float | None = None,
    nn_distance_max: float | None = None,
    nn_distance_step: float | None = None,
    code: orm.AbstractCode | None = None,
) -> UtilityRun:
    """Run ``pace_corerep`` on ``potential``: a new potential with a ZBL core repulsion (see the module
    docstring for what the tool does).

    :param active_set: the potential's active set; by default the newest one built for it.
    :param training_set: the structures to compress; by default the potential's own training set.
    :param inner_cutoff: ``r_in`` (Å) per element (``Cu``) or bond (``Cu-Au``), set as given instead of
        tuned; the active set and training set are then optional.
    :param num_structures: structures compressed to tune ``r_in`` (pace_corerep's default 50);
        ``gamma_max``: extrapolation grade above which an environment is unreliable (10);
        ``nn_distance_min``/``max``/``step``: the scanned nearest-neighbour distances, Å (0.5/2.5/0.05).
    :param code: the ``pace_corerep`` code (default: this environment's, on the plugin's computer).
    :returns: ``outputs['potential']`` (with ``.yace`` when ``pace_yaml2yace`` converted it) and
        ``outputs['inner_cutoffs']`` (Dict, Å per bond).
    :raises ValueError: for inputs that cannot work (no active set or training set to tune from).
    """
    if active_set is None:
        active_set = provenance.active_set_of(potential)
    if training_set is None:
        try:
            training_set = provenance.training_set_of(potential)
        except ValueError:
            training_set = None
    if not inner_cutoff and (active_set is None or training_set is None):
        missing = ' and '.join(
            name
            for name, node in (('active set', active_set), ('training set', training_set))
            if node is None
        )
        raise ValueError(
            f'pace_corerep tunes the core repulsion from an active set and a training set: give the {missing} '
            f'of PacePotentialData<{potential.pk}>, or set inner cutoffs'
        )
    if active_set is not None:
        active_set.check_potential(potential)
    arguments = ['{potential}']
    files = input_files(potential=potential, active_set=active_set, training_set=training_set)
    nodes: dict[str, orm.Data] = {'potential': files['potential_yaml']}
    if 'training_set_pickle' in files:
        nodes['training_set'] = files['training_set_pickle']
        arguments += ['-d', '{training_set}']
    else:
        arguments += ['-d', UNUSED[0]]
    if 'active_set_asi' in files:
        nodes['active_set'] = files['active_set_asi']
        arguments += ['-a', '{active_set}']
    else:
        arguments += ['-a', UNUSED[1]]
    arguments += ['-o', OUTPUT_YAML]
    arguments += tool_options(
        _OPTIONS,
        num_structures=num_structures,
        gamma_max=gamma_max,
        nn_distance_min=nn_distance_min,
        nn_distance_max=nn_distance_max,
        nn_distance_step=nn_distance_step,
    )
    if inner_cutoff:
        arguments += _inner_cutoff_arguments(inner_cutoff, potential.elements)
    code = utility_code(UTILITY, code)
    yaml2yace = sibling_command(code, 'pace_yaml2yace')
    append_text = after_tool(
        'if [ $pacemaker_tool_status -eq 0 ] && [ -s corerep.yaml ]; then '
        f'{yaml2yace} {OUTPUT_YAML} -o {OUTPUT_YACE} >> {STDOUT} 2>&1; fi'
    )
    _, job = run_utility(
        UTILITY,
        code,
        arguments,
        nodes,
        outputs=['corerep*.yaml', 'corerep*.yace'],
        append_text=append_text,
        description=f'pace_corerep on PacePotentialData<{potential.pk}>',
    )
    if not job.is_finished_ok:
        return UtilityRun(UTILITY, job, message=job_failure(UTILITY, job))
    if 'corerep_yaml' not in job.outputs:
        return UtilityRun(UTILITY, job, message=f'pace_corerep (ShellJob<{job.pk}>) wrote no {OUTPUT_YAML}')
    extra: dict[str, t.Any] = {}
    warnings = []
    if 'corerep_yace' in job.outputs:
        extra['potential_yace'] = job.outputs.corerep_yace
    else:
        warnings.append(
            f'pace_yaml2yace wrote no .yace (ShellJob<{job.pk}>): the new potential has only its .yaml'
        )
    results, function = run_function(
        potential_with_core_repulsion, potential=potential, potential_yaml=job.outputs.corerep_yaml, **extra
    )
    if not function.is_finished_ok:
        message = f'pace_corerep (ShellJob<{job.pk}>) gave no potential: {function.exit_message}'
        return UtilityRun(UTILITY, job, message=one_line(message), warnings=warnings)
    new = results['potential']
    cutoffs = ', '.join(f'{bond} {r:.3f} Å' for bond, r in results['inner_cutoffs'].get_dict().items())
    message = (
        f'PacePotentialData<{new.pk}>: PacePotentialData<{potential.pk}> with ZBL core repulsion below '
        f'r_in {cutoffs} (ShellJob<{job.pk}>)'
    )
    return UtilityRun(UTILITY, job, results, ok=True, message=message, warnings=warnings)


def core_repulsion_potentials(
    potential: PacePotentialData,
) -> list[tuple[PacePotentialData, dict[str, float]]]:
    """The potentials made from ``potential`` by :func:`add_core_repulsion`, oldest first, each with its
    ``r_in`` per bond (Å)."""
    query = orm.QueryBuilder()
    query.append(PacePotentialData, filters={'id': potential.pk}, tag='original')
    query.append(
        orm.CalcFunctionNode,
        with_incoming='original',
        edge_filters={'label': 'potential'},
        filters={'attributes.process_label': 'potential_with_core_repulsion', 'attributes.exit_status': 0},
        tag='function',
    )
    query.append(PacePotentialData, with_incoming='function', project='*', tag='new')
    query.append(
        orm.Dict, with_incoming='function', edge_filters={'label': 'inner_cutoffs'}, project='attributes'
    )
    query.order_by({'new': {'ctime': 'asc'}})
    return [(node, dict(cutoffs)) for node, cutoffs in query.all()]
