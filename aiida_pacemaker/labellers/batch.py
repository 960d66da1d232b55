"""Label many structures with an ASE calculator and store them with full provenance, cheaply.

Storing a labelled structure the ordinary way (a ``label_with_ase`` calcfunction per structure)
costs a process node, four or five ``store()`` calls, each with its own database commit, a
link validation query per link (which grows with the database) and one fsync'd repository file
per array. This module records the same information for a whole batch at once:

:func:`label_batch_with_ase`
    A calcfunction that labels a batch: inputs ``calculator`` (Str), optional
    ``calculator_kwargs`` (Dict) and ``structures.<key>`` (StructureData); outputs
    ``total_energy.<key>`` (Float, eV), ``forces.<key>`` (ArrayData ``forces``, eV/Å) and, for
    periodic cells, ``stress.<key>`` (ArrayData ``stress``, eV/Å³). Run through the engine it
    shares the process overhead, but still stores every output node one by one.

:func:`label_in_bulk`
    Labels the structures in this Python process and writes exactly the graph that running
    :func:`label_batch_with_ase` writes (same node types, attributes, repository files, link
    types and labels, a ``CALL_CALC`` link from the calling workflow), with aiida-core's public API
    only: the nodes are made as unstored ORM nodes (so their attributes and files are aiida-core's
    own), the files go to the object store through the repository backend, and the rows of the
    nodes and links are written with ``StorageBackend.bulk_insert`` in one transaction. This is the
    fast path for structures made inside an active-learning loop; it is idempotent for a calling
    workflow (a step that runs again after a worker died finds its batch and stores nothing).

:func:`labels_of`
    The provenance query: the process that labelled a structure and its label nodes, for
    per-structure labellers (``label_with_ase`` or any labeller following the convention) and
    for batches.

Caveat of :func:`label_in_bulk`: the nodes it writes carry no ``_aiida_hash`` extra, so they are
not caching sources (caching of later processes that take them as inputs is unaffected: process
hashes recompute the hashes of their inputs).
"""

from __future__ import annotations

import dataclasses
import io
import typing as t
from collections.abc import Mapping, Sequence

import numpy as np
from aiida import orm
from aiida.common import LinkType, timezone
from aiida.engine import calcfunction

__all__ = (
    'BatchLabellingError',
    'BatchLabels',
    'Labelled',
    'label_batch_with_ase',
    'label_in_bulk',
    'labels_of',
    'merge_inputs_of',
)

OUTPUT_NAMESPACES = ('total_energy', 'forces', 'stress')


class Labelled(t.NamedTuple):
    """One labelled structure: the StructureData and its label nodes (``stress`` may be None)."""

    structure: orm.StructureData
    total_energy: orm.Float
    forces: orm.ArrayData
    stress: orm.ArrayData | None = None


class BatchLabellingError(ValueError):
    """No structure of a batch could be labelled (nothing was stored); ``failed``: the reason by key."""

    def __init__(self, failed: dict[str, str]) -> None:
        self.failed = failed
        super().__init__(f'no structure could be labelled: {failed}')


@dataclasses.dataclass
class BatchLabels:
    """What :func:`label_in_bulk` stored: the labelling process ``node``, the ``labelled``
    structures by key, and the keys whose labelling ``failed`` with the reason."""

    node: orm.CalcFunctionNode
    labelled: dict[str, Labelled]
    failed: dict[str, str]


# ---------------------------------------------------------------------------- labelling
def _label_all(
    atoms_by_key: Mapping[str, t.Any], calculator: str, options: dict[str, t.Any]
) -> tuple[dict[str, dict[str, t.Any]], dict[str, str]]:
    """Label each of ``atoms_by_key`` with one instance of the calculator (an expensive constructor, e.g.
    loading a machine-learned model, runs once); return the labels and the failures (reasons) by key."""
    from aiida_pacemaker.labellers.ase import compute_labels, load_calculator_class

    labels: dict[str, dict[str, t.Any]] = {}
    failed: dict[str, str] = {}
    try:
        instance = load_calculator_class(calculator)(**options)
    except Exception as exception:  # a bad import path or constructor argument fails every structure
        reason = f'{type(exception).__name__}: {exception}'
        return labels, dict.fromkeys(sorted(atoms_by_key), reason)
    for key in sorted(atoms_by_key):
        try:
            labels[key] = compute_labels(atoms_by_key[key], instance)
        except Exception as exception:
            failed[key] = f'{type(exception).__name__}: {exception}'
    return labels, failed


def _to_atoms(structure: orm.StructureData) -> t.Any:
    """``structure.get_ase()``, built in one go from its public ``sites``, ``kinds``, ``cell`` and ``pbc`` when
    every kind is one element with its own mass (``get_ase`` appends the atoms one by one: 30 times slower)."""
    import ase

    kinds = {kind.name: kind for kind in structure.kinds}
    if any(len(kind.symbols) != 1 or kind.name != kind.symbols[0] for kind in kinds.values()):
        return structure.get_ase()  # alloys, vacancies, tagged kinds: the ORM knows the rules
    sites = structure.sites
    return ase.Atoms(
        symbols=[site.kind_name for site in sites],
        positions=[site.position for site in sites],
        masses=[kinds[site.kind_name].mass for site in sites],
        cell=structure.cell,
        pbc=structure.pbc,
    )


def _array_node(name: str, array: np.ndarray) -> orm.ArrayData:
    node = orm.ArrayData()
    node.set_array(name, array)
    return node


@calcfunction
def label_batch_with_ase(calculator: orm.Str, **kwargs: t.Any) -> dict[str, t.Any]:
    """Label every ``structures.<key>`` with an ASE calculator (import path, e.g. ``ase.calculators.emt.EMT``).

    Outputs ``total_energy.<key>`` (Float, eV), ``forces.<key>`` (ArrayData ``forces``, eV/Å) and
    ``stress.<key>`` (ArrayData ``stress``, eV/Å³, periodic cells). A structure whose labelling
    fails gets no outputs; the batch fails only if every structure does.

    :param kwargs: ``structures`` (namespace of StructureData) and optional ``calculator_kwargs`` (Dict).
    """
    options = kwargs['calculator_kwargs'].get_dict() if 'calculator_kwargs' in kwargs else {}
    structures = kwargs.get('structures', {})
    labels, failed = _label_all(
        {key: _to_atoms(node) for key, node in structures.items()}, calculator.value, options
    )
    if not labels:
        raise BatchLabellingError(failed)
    outputs: dict[str, dict[str, orm.Data]] = {name: {} for name in OUTPUT_NAMESPACES}
    for key, values in labels.items():
        outputs['total_energy'][key] = orm.Float(values['total_energy'])
        outputs['forces'][key] = _array_node('forces', values['forces'])
        if 'stress' in values:
            outputs['stress'][key] = _array_node('stress', values['stress'])
    return {name: nodes for name, nodes in outputs.items() if nodes}


# ---------------------------------------------------------------------------- bulk storage
class _Rows:
    """Node and link rows of one bulk write, taken from unstored ORM nodes (their attributes and files are
    what aiida-core itself puts in them), and the repository files they need."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.now = timezone.now()
        self.nodes: list[dict[str, t.Any]] = []
        # (node row index, file name, content)
        self.files: list[tuple[int, str, bytes]] = []
        # (source: row index or stored node, target row index, link label, link type)
        self.links: list[tuple[int | orm.Node, int, str, str]] = []

    def add(self, node: orm.Node, ctime: t.Any = None) -> int:
        """Add the row of the unstored ORM node ``node`` (the attributes cleaned as ``store()`` cleans them);
        ``ctime``: its creation time, if not now (a process's start, as the engine records it)."""
        from aiida.orm.implementation.utils import clean_value

        self.nodes.append(
            {
                'uuid': node.uuid,
                'node_type': node.node_type,
                'process_type': node.process_type if isinstance(node, orm.ProcessNode) else None,
                'label': node.label,
                'description': node.description,
                'ctime': ctime if ctime is not None else self.now,
                'mtime': self.now,
                'user_id': self.user_id,
                'dbcomputer_id': None,
                'attributes': clean_value(node.base.attributes.all),
                'extras': {},
                'repository_metadata': {},
            }
        )
        index = len(self.nodes) - 1
        for name in node.base.repository.list_object_names():
            self.files.append((index, name, node.base.repository.get_object_content(name, mode='rb')))
        return index

    def write(self, storage: t.Any) -> list[int]:
        """Write the files, then the nodes and links in one transaction; return the node ids.

        The ids come back in the order of the rows, which aiida's own archive import relies on too.
        """
        from aiida.orm.entities import EntityTypes

        keys = _put_objects(storage, [content for _, _, content in self.files])
        for (index, name, _), key in zip(self.files, keys, strict=True):
            self.nodes[index]['repository_metadata'].setdefault('o', {})[name] = {'k': key}
        with storage.transaction():
            ids: list[int] = storage.bulk_insert(EntityTypes.NODE, self.nodes)
            rows = [
                {
                    'input_id': source.pk if isinstance(source, orm.Node) else ids[source],
                    'output_id': ids[target],
                    'label': label,
                    'type': link_type,
                }
                for source, target, label, link_type in self.links
            ]
            storage.bulk_insert(EntityTypes.LINK, rows)
        return ids


def _put_objects(storage: t.Any, contents: list[bytes]) -> list[str]:
    """Add ``contents`` to the profile's object store with the repository backend's public API (equal
    contents once: e.g. the zero forces of ideal cells)."""
    repository = storage.get_repository()
    unique = list(dict.fromkeys(contents))
    keys = [repository.put_object_from_filelike(io.BytesIO(content)) for content in unique]
    by_content = dict(zip(unique, keys, strict=True))
    return [by_content[content] for content in contents]


def _finished_process_node(label: str | None) -> orm.CalcFunctionNode:
    """An unstored ``label_batch_with_ase`` CalcFunctionNode, finished, as the engine leaves it: process
    type, label, state, exit status, version information and source, all set by aiida-core's own methods."""
    from aiida.engine import ProcessState
    from aiida.plugins.utils import PluginVersionProvider

    process_class: t.Any = label_batch_with_ase.process_class
    node = orm.CalcFunctionNode()
    node.set_process_type(process_class.build_process_type())
    node.set_process_label(process_class.__name__)
    node.set_process_state(ProcessState.FINISHED)
    node.set_exit_status(0)
    node.base.attributes.set('metadata_inputs', None)  # what the engine leaves for a process function
    node.base.attributes.set_many(PluginVersionProvider().get_version_info(process_class))
    node.store_source_info(process_class._func)
    node.label = label or process_class.__name__
    node.seal()
    return node


def _calling_workflow() -> orm.WorkflowNode | None:
    """The node of the workflow whose step is running, like the engine's parent of a process function.

    :raises aiida.common.exceptions.InvalidOperation: inside a calculation, which may not call processes.
    """
    from aiida.common.exceptions import InvalidOperation
    from aiida.engine import Process

    node = getattr(Process.current(), 'node', None)
    if isinstance(node, orm.CalculationNode):
        raise InvalidOperation('calling processes from a calculation type process is forbidden')
    return node if isinstance(node, orm.WorkflowNode) else None


def _earlier_batch(caller: orm.WorkflowNode | None, call_link_label: str) -> orm.CalcFunctionNode | None:
    """The batch that ``caller`` already stored under ``call_link_label`` (a worker that died after the
    write and before its checkpoint runs the step again: the batch is not labelled or stored twice)."""
    if caller is None or not caller.is_stored:
        return None
    for entry in caller.base.links.get_outgoing(link_type=LinkType.CALL_CALC).all():
        if entry.link_label == call_link_label and entry.node.process_label == 'label_batch_with_ase':
            return t.cast(orm.CalcFunctionNode, entry.node)
    return None


def _batch_labels(node: orm.CalcFunctionNode, failed: dict[str, str]) -> BatchLabels:
    """The :class:`BatchLabels` of a stored batch, read from its links."""
    inputs = merge_inputs_of(node)
    labelled = {
        key[len('structure_') :]: Labelled(
            structure=inputs[key],
            total_energy=inputs[f'energy_{key[len("structure_") :]}'],
            forces=inputs[f'forces_{key[len("structure_") :]}'],
            stress=inputs.get(f'stress_{key[len("structure_") :]}'),
        )
        for key in inputs
        if key.startswith('structure_')
    }
    return BatchLabels(node=node, labelled=labelled, failed=failed)


def label_in_bulk(
    structures: Mapping[str, orm.StructureData | t.Any] | Sequence[orm.StructureData | t.Any],
    calculator: str | orm.Str,
    calculator_kwargs: dict[str, t.Any] | orm.Dict | None = None,
    *,
    call_link_label: str = 'label_batch_with_ase',
    caller: orm.WorkflowNode | None = None,
    label: str | None = None,
) -> BatchLabels:
    """Label ``structures`` with an ASE calculator and store everything as one ``label_batch_with_ase`` run.

    Idempotent for a calling workflow: when ``caller`` already has a batch under ``call_link_label`` (the
    step ran before a daemon worker died), that batch is returned and nothing is labelled or stored again.

    :param structures: StructureData (stored or not) or ASE Atoms, by key (a sequence is keyed
        ``s00000``, ``s00001``, ...). Keys must be valid link labels (letters, digits, underscores).
    :param calculator: import path of the ASE calculator class, e.g. ``ase.calculators.emt.EMT``; a
        stored Str is linked as it is.
    :param calculator_kwargs: keyword arguments of the calculator's constructor.
    :param call_link_label: label of the ``CALL_CALC`` link from the calling workflow.
    :param caller: the calling workflow's node; by default the workflow whose step is running, if any.
    :return: the process node, the labelled structures by key, and the keys that failed with their reason.
    :raises BatchLabellingError: (a ValueError) if no structure could be labelled (then nothing is stored).
    """
    from aiida.common.links import validate_link_label
    from aiida.manage import get_manager

    caller = caller if caller is not None else _calling_workflow()
    earlier = _earlier_batch(caller, call_link_label)
    if not isinstance(structures, Mapping):
        structures = {f's{index:05d}': structure for index, structure in enumerate(structures)}
    if earlier is not None:
        done = {key[len('structure_') :] for key in merge_inputs_of(earlier) if key.startswith('structure_')}
        failed = {key: 'failed in the earlier run of this step' for key in structures if key not in done}
        return _batch_labels(earlier, failed)
    for key in structures:
        validate_link_label(f'structures__{key}')
    nodes = {
        key: structure if isinstance(structure, orm.StructureData) else orm.StructureData(ase=structure)
        for key, structure in structures.items()
    }
    calculator_path = calculator.value if isinstance(calculator, orm.Str) else calculator
    options = (
        calculator_kwargs.get_dict()
        if isinstance(calculator_kwargs, orm.Dict)
        else dict(calculator_kwargs or {})
    )
    started = (
        timezone.now()
    )  # the process node's ctime, as for a process function: mtime - ctime is its run time
    labels, failed = _label_all(
        {key: node.get_ase() for key, node in nodes.items()}, calculator_path, options
    )
    if not labels:
        raise BatchLabellingError(failed)

    user = orm.User.collection.get_default()
    if user is None:
        raise ValueError('the profile has no default user')
    rows = _Rows(t.cast(int, user.pk))
    process = rows.add(_finished_process_node(label), ctime=started)
    if caller is not None:
        rows.links.append((caller, process, call_link_label, LinkType.CALL_CALC.value))
    inputs: dict[str, orm.Node | int] = {}
    calculator_node = calculator if isinstance(calculator, orm.Str) else orm.Str(calculator_path)
    inputs['calculator'] = calculator_node if calculator_node.is_stored else rows.add(calculator_node)
    if calculator_kwargs is not None:
        kwargs_node = calculator_kwargs if isinstance(calculator_kwargs, orm.Dict) else orm.Dict(options)
        inputs['calculator_kwargs'] = kwargs_node if kwargs_node.is_stored else rows.add(kwargs_node)
    for key, node in nodes.items():
        inputs[f'structures__{key}'] = node if node.is_stored else rows.add(node)
    for link_label, source in inputs.items():
        rows.links.append((source, process, link_label, LinkType.INPUT_CALC.value))
    output_rows: dict[str, dict[str, int]] = {}
    for key, values in labels.items():
        output_rows[key] = {'total_energy': rows.add(orm.Float(values['total_energy']))}
        for name in ('forces', 'stress'):
            if name in values:
                output_rows[key][name] = rows.add(_array_node(name, values[name]))
        for name, row in output_rows[key].items():
            rows.links.append((process, row, f'{name}__{key}', LinkType.CREATE.value))
    ids = rows.write(get_manager().get_profile_storage())

    wanted = {ids[row] for row in [process, *(r for r in inputs.values() if isinstance(r, int))]}
    wanted.update(ids[row] for outputs in output_rows.values() for row in outputs.values())
    span = {'id': {'and': [{'>=': min(wanted)}, {'<=': max(wanted)}]}}  # one range query, not 3N parameters
    loaded = {
        node.pk: node
        for (node,) in orm.QueryBuilder().append(orm.Node, filters=span).iterall()
        if node.pk in wanted
    }

    def resolve(row: int | orm.Node) -> t.Any:
        return row if isinstance(row, orm.Node) else loaded[ids[row]]

    labelled = {
        key: Labelled(
            structure=resolve(inputs[f'structures__{key}']),
            total_energy=resolve(outputs['total_energy']),
            forces=resolve(outputs['forces']),
            stress=resolve(outputs['stress']) if 'stress' in outputs else None,
        )
        for key, outputs in output_rows.items()
    }
    return BatchLabels(node=loaded[ids[process]], labelled=labelled, failed=failed)


# ---------------------------------------------------------------------------- provenance
def merge_inputs_of(node: orm.CalcFunctionNode) -> dict[str, t.Any]:
    """The inputs of ``extend_training_set`` (``structure_K``, ``energy_K``, ``forces_K``, ``stress_K``)
    for every structure that the ``label_batch_with_ase`` run ``node`` labelled (engine or bulk)."""
    structures = {
        entry.link_label[len('structures__') :]: entry.node
        for entry in node.base.links.get_incoming(link_type=LinkType.INPUT_CALC).all()
        if entry.link_label.startswith('structures__')
    }
    outputs = {
        entry.link_label: entry.node
        for entry in node.base.links.get_outgoing(link_type=LinkType.CREATE).all()
    }
    inputs: dict[str, t.Any] = {}
    for key in sorted(structures):
        if f'total_energy__{key}' not in outputs:
            continue  # its labelling failed
        inputs[f'structure_{key}'] = structures[key]
        inputs[f'energy_{key}'] = outputs[f'total_energy__{key}']
        inputs[f'forces_{key}'] = outputs[f'forces__{key}']
        if f'stress__{key}' in outputs:
            inputs[f'stress_{key}'] = outputs[f'stress__{key}']
    return inputs


def labels_of(structure: orm.StructureData) -> list[tuple[t.Any, dict[str, t.Any]]]:
    """Every process that labelled ``structure``, with the label nodes it made for it.

    Follows the links: a per-structure labeller (input ``structure``, outputs ``total_energy``,
    ``forces``, ``stress``) or a batch (input ``structures__K``, outputs ``total_energy__K``, ...).
    """
    found = []
    for entry in structure.base.links.get_outgoing(link_type=LinkType.INPUT_CALC).all():
        process = entry.node
        outputs = process.base.links.get_outgoing(link_type=LinkType.CREATE).all()
        if entry.link_label == 'structure':
            names = {name: name for name in OUTPUT_NAMESPACES}
        elif entry.link_label.startswith('structures__'):
            key = entry.link_label[len('structures__') :]
            names = {f'{name}__{key}': name for name in OUTPUT_NAMESPACES}
        else:
            continue
        labels = {names[out.link_label]: out.node for out in outputs if out.link_label in names}
        if 'total_energy' in labels:
            found.append((process, labels))
    return found
