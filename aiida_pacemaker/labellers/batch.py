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
    types and labels, a ``CALL_CALC`` link from the calling workflow), with
    ``StorageBackend.bulk_insert`` for nodes and links inside one transaction and the
    repository files added to the object store in one pack write (one fsync). This is the fast
    path for structures made inside an active-learning loop.

:func:`labels_of`
    The provenance query: the process that labelled a structure and its label nodes, for
    per-structure labellers (``label_with_ase`` or any labeller following the convention) and
    for batches.

Caveats of :func:`label_in_bulk`: the nodes it writes carry no ``_aiida_hash`` extra, so they are
not caching sources (caching of later processes that take them as inputs is unaffected: process
hashes recompute the hashes of their inputs); the repository files go straight into a pack of
the object store, and if another process is writing to the packs at that moment (``verdi storage
maintain``, another bulk write) they are written as ordinary loose objects instead.
"""

from __future__ import annotations

import dataclasses
import io
import typing as t
import uuid as uuid_module
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
STRUCTURE_TYPE = orm.StructureData.class_node_type
FLOAT_TYPE = orm.Float.class_node_type
ARRAY_TYPE = orm.ArrayData.class_node_type


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

    def merge_inputs(self, prefix: str = '') -> dict[str, orm.Data]:
        """The inputs of ``extend_training_set`` for these labels: ``structure_K``, ``energy_K``, ...
        (what :func:`merge_inputs_of` reads back from the graph)."""
        inputs: dict[str, orm.Data] = {}
        for key, labelled in self.labelled.items():
            inputs[f'structure_{prefix}{key}'] = labelled.structure
            inputs[f'energy_{prefix}{key}'] = labelled.total_energy
            inputs[f'forces_{prefix}{key}'] = labelled.forces
            if labelled.stress is not None:
                inputs[f'stress_{prefix}{key}'] = labelled.stress
        return inputs


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


def _atoms_from_attributes(attributes: dict[str, t.Any]) -> t.Any:
    """``StructureData.get_ase()`` from the attributes, or None unless every kind is one untagged element."""
    import ase

    kinds = {kind['name']: kind for kind in attributes.get('kinds', [])}
    if not kinds or any(
        kind['symbols'] != [name] or list(kind['weights']) != [1.0] for name, kind in kinds.items()
    ):
        return None  # alloys, vacancies, tagged kinds: the ORM knows the rules
    sites = attributes['sites']
    return ase.Atoms(
        symbols=[site['kind_name'] for site in sites],
        positions=[site['position'] for site in sites],
        masses=[kinds[site['kind_name']]['mass'] for site in sites],
        cell=attributes['cell'],
        pbc=[attributes['pbc1'], attributes['pbc2'], attributes['pbc3']],
    )


def _to_atoms(structure: orm.StructureData) -> t.Any:
    """``structure.get_ase()``, faster for structures whose kinds are plain elements."""
    atoms = _atoms_from_attributes(structure.base.attributes.all)
    return atoms if atoms is not None else structure.get_ase()


def _structure_attributes(atoms: t.Any) -> dict[str, t.Any] | None:
    """The attributes that ``StructureData(ase=atoms).store()`` writes, for untagged atoms with one mass
    per element (else None), cleaned as ``store()`` cleans them (floats to 14 significant digits)."""
    from aiida.orm.implementation.utils import clean_value

    if atoms.get_tags().any():
        return None
    symbols, masses = atoms.get_chemical_symbols(), atoms.get_masses()
    kinds: dict[str, float] = {}
    for symbol, mass in zip(symbols, masses, strict=True):
        if kinds.setdefault(symbol, float(mass)) != float(mass):
            return None
    return clean_value(
        {
            'cell': atoms.cell.array.tolist(),
            'pbc1': bool(atoms.pbc[0]),
            'pbc2': bool(atoms.pbc[1]),
            'pbc3': bool(atoms.pbc[2]),
            'kinds': [
                {'symbols': [name], 'weights': [1.0], 'mass': mass, 'name': name}
                for name, mass in kinds.items()
            ],
            'sites': [
                {'position': position, 'kind_name': symbol}
                for position, symbol in zip(atoms.positions.tolist(), symbols, strict=True)
            ],
        }
    )


def _prepare(structure: t.Any) -> tuple[orm.StructureData | dict[str, t.Any], t.Any]:
    """A StructureData node or the attributes of a new one, and the Atoms to label: the geometry as stored."""
    if not isinstance(structure, orm.StructureData):
        attributes = _structure_attributes(structure)
        if attributes is not None:
            return attributes, _atoms_from_attributes(attributes)
        structure = orm.StructureData(ase=structure)
    if not structure.is_stored:
        structure.backend_entity.clean_values()
    return structure, _to_atoms(structure)


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
_NPY_HEADERS: dict[tuple[str, tuple[int, ...]], bytes] = {}


class _Rows:
    """Node and link rows of one bulk write, and the repository files they need."""

    def __init__(self, user_id: int) -> None:
        self.user_id = user_id
        self.now = timezone.now()
        self.nodes: list[dict[str, t.Any]] = []
        # (node row index, file name, content)
        self.files: list[tuple[int, str, bytes]] = []
        # (source: row index or stored node, target row index, link label, link type)
        self.links: list[tuple[int | orm.Node, int, str, str]] = []

    def add_node(
        self,
        node_type: str,
        attributes: dict[str, t.Any],
        files: dict[str, bytes] | None = None,
        process_type: str | None = None,
        label: str = '',
    ) -> int:
        from aiida.orm.implementation.utils import clean_value

        self.nodes.append(
            {
                'uuid': str(uuid_module.uuid4()),
                'node_type': node_type,
                'process_type': process_type,
                'label': label,
                'description': '',
                'ctime': self.now,
                'mtime': self.now,
                'user_id': self.user_id,
                'dbcomputer_id': None,
                'attributes': clean_value(attributes),
                'extras': {},
                'repository_metadata': {},
            }
        )
        index = len(self.nodes) - 1
        for name, content in (files or {}).items():
            self.files.append((index, name, content))
        return index

    def add_unstored(self, node: orm.Data) -> int:
        """Add the row of an unstored ORM data node."""
        files = {
            name: node.base.repository.get_object_content(name, mode='rb')
            for name in node.base.repository.list_object_names()
        }
        return self.add_node(node.node_type, node.base.attributes.all, files, label=node.label)

    def add_array(self, name: str, array: np.ndarray) -> int:
        """An ArrayData with one array, with the ``.npy`` file that ``ArrayData.set_array`` writes."""
        array = np.ascontiguousarray(array)
        header = _NPY_HEADERS.get((array.dtype.str, array.shape))
        if header is None:
            buffer = io.BytesIO()
            np.save(buffer, np.zeros_like(array), allow_pickle=False)
            header = _NPY_HEADERS[(array.dtype.str, array.shape)] = buffer.getvalue()[: -array.nbytes or None]
        attributes = {f'array|{name}': list(array.shape)}
        return self.add_node(ARRAY_TYPE, attributes, {f'{name}.npy': header + array.tobytes()})

    def write(self, storage: t.Any) -> list[int]:
        """Write the files, then the nodes and links in one transaction; return the node ids.

        The ids come back in the order of the rows, which aiida's own archive import relies on too.
        """
        from aiida.orm.entities import EntityTypes

        keys = _put_objects(storage, [content for _, _, content in self.files])
        for (index, name, _), key in zip(self.files, keys, strict=True):
            self.nodes[index]['repository_metadata'].setdefault('o', {})[name] = {'k': key}
        with storage.transaction():
            ids = storage.bulk_insert(EntityTypes.NODE, self.nodes)
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
    """Add ``contents`` to the profile's object store: one pack write if possible, else loose objects."""
    repository = storage.get_repository()
    unique = list(dict.fromkeys(contents))  # equal arrays (e.g. zero forces) are one object
    container = getattr(repository, '_container', None)  # disk-objectstore (core.sqlite_dos, core.psql_dos)
    keys = None
    if container is not None and unique:
        try:
            with container as opened:
                keys = opened.add_objects_to_pack(unique)
        except (FileExistsError, PermissionError):  # the pack is locked by another writer
            keys = None
    if keys is None:
        keys = [repository.put_object_from_filelike(io.BytesIO(content)) for content in unique]
    by_content = dict(zip(unique, keys, strict=True))
    return [by_content[content] for content in contents]


def _process_row(rows: _Rows, label: str | None) -> int:
    """The row of a finished ``label_batch_with_ase`` CalcFunctionNode, with what the engine records on it."""
    import inspect

    from aiida.plugins.utils import PluginVersionProvider

    process_class: t.Any = label_batch_with_ase.process_class  # type: ignore[attr-defined]
    function = process_class._func  # the decorated function
    lines, first_line = inspect.getsourcelines(function)
    attributes = {
        'process_state': 'finished',
        'process_label': process_class.__name__,
        'metadata_inputs': None,
        **PluginVersionProvider().get_version_info(process_class),
        'function_name': function.__name__,
        'function_starting_line_number': first_line,
        'function_number_of_lines': len(lines),
        'function_namespace': function.__globals__['__name__'],
        'exit_status': 0,
        'sealed': True,
    }
    with open(inspect.getsourcefile(function), 'rb') as handle:  # type: ignore[arg-type]
        source = handle.read()
    return rows.add_node(
        orm.CalcFunctionNode.class_node_type,
        attributes,
        {'source_file': source},
        process_type=process_class.build_process_type(),
        label=label or process_class.__name__,
    )


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

    if not isinstance(structures, Mapping):
        structures = {f's{index:05d}': structure for index, structure in enumerate(structures)}
    for key in structures:
        validate_link_label(f'structures__{key}')
    prepared = {key: _prepare(structure) for key, structure in structures.items()}
    calculator_path = calculator.value if isinstance(calculator, orm.Str) else calculator
    options = (
        calculator_kwargs.get_dict()
        if isinstance(calculator_kwargs, orm.Dict)
        else dict(calculator_kwargs or {})
    )
    labels, failed = _label_all(
        {key: atoms for key, (_, atoms) in prepared.items()}, calculator_path, options
    )
    if not labels:
        raise BatchLabellingError(failed)

    user = orm.User.collection.get_default()
    if user is None:
        raise ValueError('the profile has no default user')
    rows = _Rows(t.cast(int, user.pk))
    process = _process_row(rows, label)
    caller = caller if caller is not None else _calling_workflow()
    if caller is not None:
        rows.links.append((caller, process, call_link_label, LinkType.CALL_CALC.value))
    inputs: dict[str, orm.Node | int] = {}
    if isinstance(calculator, orm.Str) and calculator.is_stored:
        inputs['calculator'] = calculator
    else:
        inputs['calculator'] = rows.add_node(orm.Str.class_node_type, {'value': calculator_path})
    if isinstance(calculator_kwargs, orm.Dict) and calculator_kwargs.is_stored:
        inputs['calculator_kwargs'] = calculator_kwargs
    elif calculator_kwargs is not None:
        inputs['calculator_kwargs'] = rows.add_node(orm.Dict.class_node_type, options)
    for key, (structure, _) in prepared.items():
        if isinstance(structure, dict):
            inputs[f'structures__{key}'] = rows.add_node(STRUCTURE_TYPE, structure)
        else:
            inputs[f'structures__{key}'] = structure if structure.is_stored else rows.add_unstored(structure)
    for link_label, source in inputs.items():
        rows.links.append((source, process, link_label, LinkType.INPUT_CALC.value))
    output_rows: dict[str, dict[str, int]] = {}
    for key, values in labels.items():
        output_rows[key] = {'total_energy': rows.add_node(FLOAT_TYPE, {'value': values['total_energy']})}
        for name in ('forces', 'stress'):
            if name in values:
                output_rows[key][name] = rows.add_array(name, values[name])
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
