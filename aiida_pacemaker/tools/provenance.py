"""Questions to the provenance graph: which data trained a potential, where each structure came from.

Built on links and QueryBuilder only. The graph conventions it reads (see
:mod:`aiida_pacemaker.workflows.active_learning` and :mod:`aiida_pacemaker.calculations.functions`):

- a potential is the ``potential`` output of a ``pacemaker.train`` CalcJob, whose ``training_set``
  input is the training set (or its residual, made by ``subtract_baseline_from_training_set``);
- ``extend_training_set`` adds structures; each added structure is named by the UUID of its
  StructureData, whose inputs ``structure_K``/``energy_K`` name the structure and its label;
  its call link label is ``merge_cycle_K`` in cycle K, ``initial_training_set`` for the initial labels;
- a labelling process takes the structure as its ``structure`` input and returns ``total_energy``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from aiida import orm
from aiida.common.links import LinkType

from aiida_pacemaker.data.active_set import ActiveSetData
from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData

__all__ = (
    'INITIAL',
    'CampaignState',
    'StructureOrigin',
    'active_set_of',
    'campaign_state',
    'labelling_cost',
    'labels_made_by',
    'learning_curve',
    'potentials_trained_with',
    'process_wall_seconds',
    'rebuild_learning_curve',
    'structure_origins',
    'test_set_of',
    'training_set_of',
    'validation_of',
)

#: the cycle of a structure that was in the training set before the first cycle
INITIAL = 'initial'

_MERGE = 'extend_training_set'
_SUBTRACT = 'subtract_baseline_from_training_set'
_MERGE_CYCLE = re.compile(r'^merge_cycle_(\d+)$')
_INITIAL_MERGE = 'initial_training_set'


@dataclasses.dataclass(frozen=True)
class StructureOrigin:
    """Where one structure of a training set came from.

    :param index: position in the training set.
    :param name: its name in the training set (the StructureData UUID for structures added by a merge).
    :param structure: the StructureData, or None for structures given as data (no node).
    :param labeller: the process that labelled it (energy in eV, forces in eV/Å), or None.
    :param cycle: the active-learning cycle whose merge added it, ``'initial'`` for the initial
        training set (given, or labelled before the first cycle), or None for a merge outside a workchain.
    :param merge: the ``extend_training_set`` calcfunction (node) that added it, or None.
    """

    index: int
    name: str
    structure: orm.StructureData | None
    labeller: orm.ProcessNode | None
    cycle: int | str | None
    merge: orm.ProcessNode | None = None

    @property
    def structure_uuid(self) -> str | None:
        """UUID of the StructureData, or None."""
        return self.structure.uuid if self.structure is not None else None


def _creator_process(node: orm.Node) -> orm.ProcessNode | None:
    """The calculation that created ``node`` (None for data made outside a process)."""
    incoming = node.base.links.get_incoming(link_type=LinkType.CREATE).all()
    creator = incoming[0].node if incoming else None
    return creator if isinstance(creator, orm.ProcessNode) else None


def _before_baseline(training_set: TrainingSetData) -> TrainingSetData:
    """The training set with its labels as given, when ``training_set`` is a residual (delta learning)."""
    creator = _creator_process(training_set)
    if creator is not None and creator.process_label == _SUBTRACT:
        return t.cast(TrainingSetData, creator.inputs.training_set)
    return training_set


def _train_calculation(potential: PacePotentialData) -> orm.CalcJobNode:
    creator = _creator_process(potential)
    if creator is None or not isinstance(creator, orm.CalcJobNode) or 'training_set' not in creator.inputs:
        raise ValueError(f'PacePotentialData<{potential.pk}> was not made by a pacemaker.train calculation')
    return creator


def training_set_of(potential: PacePotentialData) -> TrainingSetData:
    """The training set ``potential`` was fitted on, with its labels as given (before any baseline).

    :raises ValueError: if the potential was not made by a ``pacemaker.train`` calculation.
    """
    return _before_baseline(_train_calculation(potential).inputs.training_set)


def test_set_of(potential: PacePotentialData) -> TrainingSetData | None:
    """The held-out test set of the fit of ``potential`` (labels as given), or None."""
    calculation = _train_calculation(potential)
    return _before_baseline(calculation.inputs.test_set) if 'test_set' in calculation.inputs else None


def active_set_of(potential: PacePotentialData) -> ActiveSetData | None:
    """The newest active set built for ``potential`` (attribute ``potential_uuid``), or None."""
    query = orm.QueryBuilder().append(
        ActiveSetData, filters={'attributes.potential_uuid': potential.uuid}, project='*'
    )
    query.order_by({ActiveSetData: {'ctime': 'desc'}}).limit(1)
    found = query.first()
    return found[0] if found else None


def _labeller_of(structure: orm.StructureData, energy: orm.Node) -> orm.ProcessNode | None:
    """The process that took ``structure`` as ``structure`` (or ``structures__K``, a batch labeller)
    and returned or created ``energy``.

    A labelling workchain returns the energy its calculation created: the outermost one is the labeller.
    """
    query = orm.QueryBuilder()
    query.append(orm.StructureData, filters={'id': structure.pk}, tag='structure')
    query.append(
        orm.ProcessNode,
        with_incoming='structure',
        edge_filters={'label': {'or': [{'==': 'structure'}, {'like': 'structures__%'}]}},
        tag='process',
        project='*',
    )
    query.append(orm.Data, with_incoming='process', filters={'id': energy.pk})
    processes = [process for (process,) in query.iterall()]
    if not processes:
        return None
    workflows = [p for p in processes if isinstance(p, orm.WorkflowNode)]
    candidates = workflows or processes
    callers = {p.caller.pk for p in candidates if p.caller is not None}
    outermost = [p for p in candidates if p.pk not in callers]
    return (outermost or candidates)[0]


def _merge_cycle(merge: orm.ProcessNode) -> int | str | None:
    """The cycle of a merge, from its call link label; None if called outside the workchain."""
    incoming = merge.base.links.get_incoming(link_type=LinkType.CALL_CALC).all()
    label = incoming[0].link_label if incoming else ''
    match = _MERGE_CYCLE.match(label)
    if match:
        return int(match.group(1))
    return INITIAL if label == _INITIAL_MERGE else None


def structure_origins(training_set: TrainingSetData) -> list[StructureOrigin]:
    """For each structure of ``training_set``: its StructureData, labelling process and cycle.

    Walks back the chain of training sets (merges and baseline subtractions) to the first one.
    Structures of the first set that no merge added have cycle ``'initial'`` and no labeller.
    """
    training_set = _before_baseline(training_set)
    found: dict[str, StructureOrigin] = {}
    current: TrainingSetData | None = training_set
    while current is not None:
        creator = _creator_process(current)
        if creator is None or creator.process_label not in (_MERGE, _SUBTRACT):
            break
        if creator.process_label == _MERGE:
            cycle = _merge_cycle(creator)
            inputs = creator.inputs
            added = set(creator.outputs.added['added']) if 'added' in creator.outputs else None
            for link in creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all():
                if not link.link_label.startswith('structure_'):
                    continue
                key = link.link_label[len('structure_') :]
                if added is not None and key not in added:
                    continue
                structure = link.node
                if not isinstance(structure, orm.StructureData):
                    continue
                energy = inputs[f'energy_{key}']
                found.setdefault(
                    structure.uuid,
                    StructureOrigin(
                        0, structure.uuid, structure, _labeller_of(structure, energy), cycle, creator
                    ),
                )
        current = creator.inputs.training_set if 'training_set' in creator.inputs else None
    origins = []
    for index, name in enumerate(training_set.names):
        origin = found.get(name)
        if origin is None:
            origins.append(StructureOrigin(index, name, None, None, INITIAL))
        else:
            origins.append(dataclasses.replace(origin, index=index))
    return origins


#: the candidates' input link labels and the selected structures' output link labels (before the key) of
#: a ``pacemaker.select`` job and of a fit's job that selected (``selection``)
_SELECTION_LINKS = (('candidates__', 'selected__'), ('selection__candidates__', 'selection__selected__'))


def _selection_copies(structure: orm.StructureData) -> list[orm.StructureData]:
    """The copies of a candidate that a selection (``pacemaker.select``, or a fit's job that selected)
    returned as selected (same key)."""
    copies: list[orm.StructureData] = []
    for link in structure.base.links.get_outgoing(link_type=LinkType.INPUT_CALC).all():
        if not isinstance(link.node, orm.CalcJobNode):
            continue
        for given, chosen in _SELECTION_LINKS:
            if not link.link_label.startswith(given):
                continue
            key = link.link_label[len(given) :]
            for out in link.node.base.links.get_outgoing(link_type=LinkType.CREATE).all():
                if out.link_label == f'{chosen}{key}' and isinstance(out.node, orm.StructureData):
                    copies.append(out.node)
    return copies


def _selection_report(
    workchain: orm.WorkflowNode, cycle: int, fit: orm.CalcJobNode
) -> dict[str, t.Any] | None:
    """The report of ``cycle``'s selection: of its ``pacemaker.select`` job, or of its fit's job that
    selected; None when nothing was selected from."""
    select = _called(workchain, f'select_cycle_{cycle}')
    if select is not None and 'report' in select.outputs:
        return t.cast(dict[str, t.Any], select.outputs.report.get_dict())
    if select is None and 'selection' in fit.outputs and 'report' in fit.outputs.selection:
        return t.cast(dict[str, t.Any], fit.outputs.selection.report.get_dict())
    return None


def potentials_trained_with(structure: orm.StructureData) -> list[PacePotentialData]:
    """Every potential whose training set holds ``structure`` (or the copy of it that a selection
    returned), oldest first.
    """
    nodes = [structure, *_selection_copies(structure)]
    uuids = {node.uuid for node in nodes}
    query = orm.QueryBuilder()
    query.append(orm.StructureData, filters={'id': {'in': [node.pk for node in nodes]}}, tag='structure')
    query.append(PacePotentialData, with_ancestors='structure', project='*')
    names_of: dict[str, set[str]] = {}
    potentials = {}
    for (potential,) in query.iterall():
        try:
            training_set = training_set_of(potential)
        except ValueError:
            continue
        if training_set.uuid not in names_of:
            names_of[training_set.uuid] = set(training_set.names)
        if uuids & names_of[training_set.uuid]:
            potentials[potential.pk] = potential
    return [potentials[pk] for pk in sorted(potentials)]


def _called(workchain: orm.WorkflowNode, label: str) -> orm.ProcessNode | None:
    """The last process ``workchain`` called with call link label ``label``."""
    links = [link for link in workchain.base.links.get_outgoing().all() if link.link_label == label]
    node = links[-1].node if links else None
    return node if isinstance(node, orm.ProcessNode) else None


def learning_curve(workchain: orm.WorkflowNode) -> list[dict[str, t.Any]]:
    """The learning curve of a `PaceActiveLearningWorkChain`: one row per cycle (see
    :func:`~aiida_pacemaker.calculations.functions.learning_curve.learning_curve_row`).

    Read from the ``learning_curve`` output, or rebuilt from the cycles' outputs of a workchain that is
    still running or failed.
    """
    if 'learning_curve' in workchain.outputs:
        return [dict(row) for row in workchain.outputs.learning_curve.get_list()]
    return rebuild_learning_curve(workchain)


def rebuild_learning_curve(workchain: orm.WorkflowNode) -> list[dict[str, t.Any]]:
    """The learning curve rebuilt from the cycles' outputs and called processes (without
    ``previous_force_rmse``, which only the running workchain computes)."""
    from aiida_pacemaker.calculations.functions.learning_curve import learning_curve_row
    from aiida_pacemaker.tools.fits import labelled_train_errors

    outputs = {link.link_label: link.node for link in workchain.base.links.get_outgoing().all()}
    rows = []
    cycle = 1
    while f'potentials__cycle_{cycle}' in outputs and f'training_sets__cycle_{cycle}' in outputs:
        potential = t.cast(PacePotentialData, outputs[f'potentials__cycle_{cycle}'])
        fit = _train_calculation(potential)
        train = fit.caller
        calls = train.base.links.get_incoming(link_type=LinkType.CALL_WORK).all() if train is not None else []
        refitted = any(link.link_label.endswith('_from_scratch') for link in calls)
        merge = _called(workchain, f'merge_cycle_{cycle}')
        labelled = t.cast(TrainingSetData, outputs[f'training_sets__cycle_{cycle}'])
        fit_record: dict[str, t.Any] = {'refitted': refitted}
        if fit.inputs.training_set.num_structures > labelled.num_structures:  # with pace_augment's structures
            errors = fit.outputs.per_structure_errors if 'per_structure_errors' in fit.outputs else None
            fit_record |= labelled_train_errors(
                fit.inputs.training_set.num_structures, errors, labelled.get_arrays()['natoms']
            )
        rows.append(
            learning_curve_row(
                cycle,
                fit.outputs.metrics.get_dict(),
                labelled,
                selection=_selection_report(workchain, cycle, fit),
                added=merge.outputs.added.get_dict() if merge is not None and merge.is_finished_ok else None,
                fit=fit_record,
                potential=potential,
            )
        )
        cycle += 1
    return rows


@dataclasses.dataclass(frozen=True)
class CampaignState:
    """Where an active-learning run stopped: what a run that continues it starts from."""

    #: the potential of the last finished cycle (None if no cycle finished)
    potential: PacePotentialData | None
    #: the newest training set: the last merge's, which may hold labels that no potential was trained on yet
    training_set: TrainingSetData | None
    #: the last cycle with a potential (0: none)
    cycle: int


def campaign_state(workchain: orm.WorkflowNode) -> CampaignState:
    """The last potential and the newest training set of a `PaceActiveLearningWorkChain`, finished or not.

    A run that failed after merging a cycle's labels (say, in the next fit) leaves a training set newer
    than its last potential: that set is returned, so that no label is lost when the campaign continues.
    """
    outputs = {link.link_label: link.node for link in workchain.base.links.get_outgoing().all()}
    cycle = 0
    while f'potentials__cycle_{cycle + 1}' in outputs:
        cycle += 1
    potential = t.cast(PacePotentialData, outputs[f'potentials__cycle_{cycle}']) if cycle else None
    training_set = t.cast(
        TrainingSetData | None, workchain.inputs.training_set if 'training_set' in workchain.inputs else None
    )
    merges = [
        link.node
        for link in workchain.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all()
        if (link.link_label == 'initial_training_set' or link.link_label.startswith('merge_cycle_'))
        and link.node.is_finished_ok
    ]
    if merges:
        newest = max(merges, key=lambda node: node.ctime)
        training_set = t.cast(TrainingSetData, newest.outputs.training_set)
    return CampaignState(potential=potential, training_set=training_set, cycle=cycle)


def validation_of(potential: PacePotentialData) -> orm.List | None:
    """The property table of the newest finished `PaceValidateWorkChain` of ``potential`` (see
    :mod:`aiida_pacemaker.workflows.validate`), or None if it was never validated."""
    validations = [
        link.node
        for link in potential.base.links.get_outgoing(link_type=LinkType.INPUT_WORK).all()
        if link.link_label == 'potential'
        and getattr(link.node, 'process_label', None) == 'PaceValidateWorkChain'
        and link.node.is_finished_ok
    ]
    if not validations:
        return None
    return t.cast(orm.List, max(validations, key=lambda node: node.ctime).outputs.table)


_LABEL_CALL = re.compile(r'^label_(?:batch_)?(.+)$')
_CYCLE_KEY = re.compile(r'^c(?:ycle_)?(\d+)(?:_|$)')


def process_wall_seconds(process: orm.ProcessNode) -> float:
    """The run time of ``process``, s: the scheduler's wall-clock time of a CalcJob when it reported one
    (``last_job_info.wallclock_time_seconds``), else the time from its creation to its last change (a
    process function runs between the two; a CalcJob's includes its queueing and transfers)."""
    info = (
        process.base.attributes.get('last_job_info', None) if isinstance(process, orm.CalcJobNode) else None
    )
    seconds = (info or {}).get('wallclock_time_seconds')
    if seconds:
        return float(seconds)
    return max((process.mtime - process.ctime).total_seconds(), 0.0)


def labels_made_by(process: orm.ProcessNode) -> int:
    """How many structures ``process`` labelled, by the labeller convention: its ``total_energy`` output
    (one structure) or its ``total_energy__K`` outputs (a batch). 0: not a labeller, or it failed."""
    outputs = process.base.links.get_outgoing(link_type=(LinkType.CREATE, LinkType.RETURN)).all()
    return sum(
        1
        for out in outputs
        if out.link_label == 'total_energy' or out.link_label.startswith('total_energy__')
    )


def labelling_cost(workchain: orm.WorkflowNode) -> list[dict[str, t.Any]]:
    """What the labels of an active-learning run cost, per labelling step, in order: ``step``
    (``'initial'`` or the cycle whose selection was labelled), ``processes`` (labelling processes, failed
    ones included: their time was spent too), ``labels`` (structures labelled) and ``wall_seconds``
    (summed :func:`process_wall_seconds`, s)."""
    initial_keys = set(workchain.inputs.structures) if 'structures' in workchain.inputs else set()
    steps: dict[t.Any, dict[str, t.Any]] = {}
    for link in workchain.base.links.get_outgoing(link_type=(LinkType.CALL_CALC, LinkType.CALL_WORK)).all():
        match = _LABEL_CALL.match(link.link_label)
        if not match:
            continue
        key = match.group(1)
        cycle = _CYCLE_KEY.match(key)
        if key == 'initial' or key in initial_keys:
            step: t.Any = INITIAL
        elif cycle:
            step = int(cycle.group(1))
        else:
            continue
        process = t.cast(orm.ProcessNode, link.node)
        labels = labels_made_by(process)
        row = steps.setdefault(step, {'step': step, 'processes': 0, 'labels': 0, 'wall_seconds': 0.0})
        row['processes'] += 1
        row['labels'] += labels
        row['wall_seconds'] += process_wall_seconds(process)
    order = sorted(steps, key=lambda step: -1 if step == INITIAL else step)
    return [steps[step] for step in order]
