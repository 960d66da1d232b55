"""Recall labels that turned out wrong: what they reached, and training sets rebuilt without them.

A pseudopotential, a cutoff or a calculator setting found wrong after the fact taints every label
computed with it, and through the graph every training set that holds those labels and every
potential fitted on such a set. Given the labelling process, the code or the input node at fault,
:func:`recall_labels` finds them all; :func:`rebuild_without` makes a training set without the recalled
structures (a calcfunction: the new set leads back to the old one), ready to be relabelled (for example
as the ``structures`` of a new active-learning run, labelled by any labeller) or used as it is.
"""

from __future__ import annotations

import dataclasses
import typing as t

from aiida import orm
from aiida.common.links import LinkType

from aiida_pacemaker.data.potential import PacePotentialData
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.tools.provenance import labels_made_by

__all__ = ('LabelRecall', 'rebuild_without', 'recall_labels')


@dataclasses.dataclass(frozen=True)
class LabelRecall:
    """What a wrong labelling input reached.

    :param source: the node at fault (a labelling process, a code or an input node).
    :param labellers: the labelling processes that used it (the outermost, as called by a workflow).
    :param structures: UUIDs of the structures they labelled (the names those structures have in a
        training set).
    :param training_sets: every training set downstream of those labels that holds one of the structures,
        oldest first.
    :param potentials: every potential fitted, directly or through a baseline, on such a set, oldest first.
    """

    source: orm.Node
    labellers: list[orm.ProcessNode]
    structures: set[str]
    training_sets: list[TrainingSetData]
    potentials: list[PacePotentialData]

    def held_by(self, training_set: TrainingSetData) -> list[str]:
        """The names of the recalled structures in ``training_set``."""
        return [name for name in training_set.names if name in self.structures]


def _labelled_structures(process: orm.ProcessNode) -> list[orm.StructureData]:
    """The structures ``process`` labelled: its ``structure`` input, or each ``structures__K`` of a batch."""
    return [
        link.node
        for link in process.base.links.get_incoming(
            link_type=(LinkType.INPUT_CALC, LinkType.INPUT_WORK)
        ).all()
        if isinstance(link.node, orm.StructureData)
        and (link.link_label == 'structure' or link.link_label.startswith('structures__'))
    ]


def _labelling_processes(source: orm.Node) -> list[orm.ProcessNode]:
    """The labellers that worked with ``source``: itself (a process) or the processes that took it as an
    input (a code, a parameter node, a pseudopotential), each with the processes that called it; of these,
    the processes that made labels (:func:`~aiida_pacemaker.tools.provenance.labels_made_by`), whose structures the training sets name."""
    if isinstance(source, orm.ProcessNode):
        found = [source]
    else:
        links = source.base.links.get_outgoing(link_type=(LinkType.INPUT_CALC, LinkType.INPUT_WORK)).all()
        found = [link.node for link in links if isinstance(link.node, orm.ProcessNode)]
    labellers: dict[str, orm.ProcessNode] = {}
    for process in found:
        current: orm.ProcessNode | None = process
        while current is not None:
            if current.uuid not in labellers and labels_made_by(current):
                labellers[current.uuid] = current
            current = current.caller
    return sorted(labellers.values(), key=lambda node: node.ctime)


def _downstream(processes: t.Sequence[orm.ProcessNode], cls: type[orm.Data]) -> list[t.Any]:
    """Every node of ``cls`` that descends from one of ``processes`` in the data provenance, oldest first."""
    if not processes:
        return []
    query = orm.QueryBuilder()
    query.append(orm.ProcessNode, filters={'id': {'in': [p.pk for p in processes]}}, tag='process')
    query.append(cls, with_ancestors='process', project='*')
    nodes = {node.pk: node for (node,) in query.iterall()}
    return [nodes[pk] for pk in sorted(nodes)]


def recall_labels(source: orm.Node) -> LabelRecall:
    """Every label computed with ``source``, and every training set and potential they reached.

    :param source: a labelling process, or a node that labelling processes took as an input: a code,
        the calculator's name (``Str``), a parameter ``Dict``, a pseudopotential...
    :raises ValueError: if ``source`` labelled no structure (it is then not a labelling input).
    """
    processes = _labelling_processes(source)
    structures = {structure.uuid for process in processes for structure in _labelled_structures(process)}
    if not structures:
        raise ValueError(
            f'{type(source).__name__}<{source.pk}> labelled no structure: give a labelling process, or a code '
            'or input node that labelling processes used'
        )
    # the sets downstream of the labellers that name a recalled structure (residual sets of delta learning
    # keep the names; a set rebuilt without the structures is downstream too, but clean)
    creators = {process.uuid: process for process in processes}  # a workflow labeller's calculations create
    for process in processes:
        creators.update({node.uuid: node for node in process.called_descendants})
    producers = list(creators.values())
    training_sets = [
        training_set
        for training_set in _downstream(producers, TrainingSetData)
        if structures & set(training_set.names)
    ]
    affected = {training_set.pk for training_set in training_sets}
    potentials = [
        potential
        for potential in _downstream(producers, PacePotentialData)
        if _fitted_on(potential) in affected
    ]
    return LabelRecall(source, processes, structures, training_sets, potentials)


def _fitted_on(potential: PacePotentialData) -> int | None:
    """The PK of the training set ``potential``'s fit read (the residual one with a baseline), or None."""
    incoming = potential.base.links.get_incoming(link_type=LinkType.CREATE).all()
    creator = incoming[0].node if incoming else None
    if creator is None or 'training_set' not in creator.inputs:
        return None
    return t.cast(int, creator.inputs.training_set.pk)


def rebuild_without(training_set: TrainingSetData, recall: LabelRecall) -> TrainingSetData:
    """``training_set`` without the recalled structures, made by the ``remove_structures`` calcfunction.

    :raises ValueError: if ``training_set`` holds none of them, or nothing else.
    """
    from aiida_pacemaker.calculations.functions.training_set import remove_structures

    names = recall.held_by(training_set)
    if not names:
        raise ValueError(f'TrainingSetData<{training_set.pk}> holds none of the recalled structures')
    if len(names) == training_set.num_structures:
        raise ValueError(
            f'every structure of TrainingSetData<{training_set.pk}> was recalled: nothing is left to rebuild'
        )
    return remove_structures(training_set, orm.List(names))
