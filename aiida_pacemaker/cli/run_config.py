"""The YAML file of ``aiida-pacemaker run``: read it, check it, and turn it into a process builder.

Schema (top-level keys; file paths are relative to the YAML file)::

    elements: [Cu]                 # optional: the potential's elements (default: those in the data)
    training_set: 1234             # PK or UUID of a TrainingSetData, or
    data: initial.extxyz           # labelled file(s) (extxyz or any ASE format with energy and forces)
    structures: seeds.extxyz       # active learning: unlabelled initial structures, labelled first
    pool: candidates.extxyz        # active learning: candidate structures (any ASE-readable file)
    explore: {structures: seeds.extxyz, temperatures: [600], steps: 200}   # active learning: MD
    test_set: test.extxyz          # labelled file(s), or the PK or UUID of a TrainingSetData
    labeller:                      # active learning: one of
      ase: {calculator: ase.calculators.emt.EMT, kwargs: {}}
      # process: ENTRY_POINT, inputs: {name: value, code: {code: LABEL}, x: {node: PK}}, options: {...}
    protocol: fast                 # fast | balanced | precise
    overrides: {max_cycles: 2}     # deep-merged into the protocol
    validate:                      # active learning: validate the final potential (pacemaker.validate)
      structures: fcc.cif          #   optional; default: the cubic reference crystal of each element
      properties: {eos: {}, phonons: {}}   # its `parameters` (left out: every property)
      calculator: ase.calculators.emt.EMT  # optional; default: the ASE labeller's calculator
      kwargs: {}
    initial_potential: 1234        # start from this PacePotentialData (pacemaker -p; active learning: cycle 1)
    augment: {max_seed_structures: 20}   # active learning: pace_augment every cycle (`true`: its defaults;
                                   #   `code`: a pace_augment code, default the plugin's local one)
    codes: {pacemaker: pacemaker@cluster}   # optional; missing ones are registered on localhost
    label: my run                  # optional process label
    description: ...               # optional process description

Any data key takes, instead of a file, ``{example: {count: 8, seed: 0, ...}}``: distorted fcc
cells of :func:`aiida_pacemaker.tools.examples.random_bulk_structures`, for demos. In an
active-learning run, example ``data`` is labelled by the run's own labeller, so that every label is
in the graph; elsewhere (``test_set``, ``run train``) it is labelled with EMT beforehand. Every error
is a `RunConfigError` with a one-line message.
"""

from __future__ import annotations

import copy
import inspect
import pathlib
import re
import typing as t

import yaml
from aiida import orm

from aiida_pacemaker.data.structure_pool import StructurePoolData, StructurePoolError
from aiida_pacemaker.data.training_set import TrainingSetData
from aiida_pacemaker.schema import ConfigError
from aiida_pacemaker.tools import io
from aiida_pacemaker.tools.suggest import did_you_mean
from aiida_pacemaker.tools.yaml_files import load_yaml

if t.TYPE_CHECKING:
    from ase import Atoms

    from aiida_pacemaker.tools.provenance import CampaignState

__all__ = ('RunConfigError', 'active_learning_builder', 'read_config', 'train_builder')

COMMON_KEYS = (
    'elements',
    'training_set',
    'data',
    'test_set',
    'protocol',
    'overrides',
    'codes',
    'label',
    'description',
)
ACTIVE_LEARNING_KEYS = (
    *COMMON_KEYS,
    'structures',
    'pool',
    'explore',
    'labeller',
    'initial_potential',
    'validate',
    'augment',
)
TRAIN_KEYS = (*COMMON_KEYS, 'initial_potential')
_UUID = re.compile(r'^[0-9a-f]{8}(-?[0-9a-f]{4}){3}-?[0-9a-f]{12}$', re.IGNORECASE)


class RunConfigError(ConfigError):
    """Raised for a run configuration that cannot be used."""


def _unknown(key: str, valid: t.Iterable[str], where: str) -> RunConfigError:
    return RunConfigError(f'unknown key `{key}` {where}; {did_you_mean(key, valid)}')


def _check_keys(mapping: t.Any, valid: t.Sequence[str], where: str) -> dict[str, t.Any]:
    if not isinstance(mapping, dict):
        raise RunConfigError(f'{where} must be a mapping, got {type(mapping).__name__}')
    for key in mapping:
        if key not in valid:
            raise _unknown(str(key), valid, where)
    return mapping


def read_config(path: str | pathlib.Path, valid_keys: t.Sequence[str]) -> dict[str, t.Any]:
    """Read the YAML file (safely, refusing a key given twice) and refuse unknown top-level keys."""
    path = pathlib.Path(path)
    try:
        document = load_yaml(path.read_text(encoding='utf8'))
    except OSError as exception:
        raise RunConfigError(f'{path}: cannot read it: {exception.strerror}') from None
    except yaml.YAMLError as exception:
        raise RunConfigError(f'{path}: invalid YAML: {" ".join(str(exception).split())}') from None
    return _check_keys(document or {}, valid_keys, f'in {path.name}')


# ---------------------------------------------------------------- data sources


def _example_atoms(spec: t.Any, where: str) -> list[Atoms]:
    from aiida_pacemaker.tools.examples import random_bulk_structures

    valid = list(inspect.signature(random_bulk_structures).parameters)
    spec = dict(_check_keys(spec or {}, valid, f'in `{where}.example`'))
    if 'rattle' in spec:
        spec['rattle'] = tuple(spec['rattle'])
    spec.setdefault('count', 8)
    return random_bulk_structures(**spec)


def _paths(value: t.Any, base: pathlib.Path, where: str) -> list[pathlib.Path]:
    values = value if isinstance(value, list) else [value]
    if not values or not all(isinstance(v, str) for v in values):
        raise RunConfigError(
            f'`{where}` must be a file name, a list of them or {{example: ...}}, got {value!r}'
        )
    return [base / v for v in values]


def _load_training_set(identifier: t.Any, where: str) -> TrainingSetData:
    try:
        node = orm.load_node(identifier)
    except Exception as exception:  # NotExistent, MultipleObjectsError, ValueError
        raise RunConfigError(f'`{where}`: no node {identifier!r}: {exception}') from None
    if not isinstance(node, TrainingSetData):
        raise RunConfigError(
            f'`{where}`: node {identifier!r} is a {type(node).__name__}, not a TrainingSetData'
        )
    return node


def _stored(training_set: TrainingSetData) -> TrainingSetData:
    """The stored node with the same content as ``training_set`` (no duplicates), or ``training_set``
    itself, unstored: the launch stores it once every input has been checked (a refused run stores nothing)."""
    query = orm.QueryBuilder().append(
        TrainingSetData, filters={'attributes.content_hash': training_set.content_hash}, project='*'
    )
    existing = query.first()
    return existing[0] if existing else training_set


def labelled_data(value: t.Any, base: pathlib.Path, where: str) -> TrainingSetData:
    """A TrainingSetData from a PK or UUID, labelled file(s), or ``{example: ...}`` (new ones unstored)."""
    from aiida_pacemaker.tools.examples import emt_label

    if isinstance(value, int) and not isinstance(value, bool):
        return _load_training_set(value, where)
    if isinstance(value, dict):
        _check_keys(value, ['example'], f'in `{where}`')
        return _stored(TrainingSetData.from_ase(emt_label(_example_atoms(value['example'], where))))
    if isinstance(value, str) and _UUID.match(value) and not (base / value).exists():
        return _load_training_set(value, where)
    paths = _paths(value, base, where)
    try:
        return _stored(io.training_set_from_files(paths))
    except io.UntrustedPickleError:
        raise RunConfigError(
            f'`{where}`: a pickle is not read from a run configuration (unpickling runs code); import it with '
            '`aiida-pacemaker dataset import FILE --trust-pickle` and give the PK it prints'
        ) from None
    except ValueError as exception:
        raise RunConfigError(f'`{where}`: {exception}') from None


def unlabelled_structures(
    value: t.Any, base: pathlib.Path, where: str, prefix: str
) -> dict[str, orm.StructureData]:
    """StructureData (unstored) from file(s) or ``{example: ...}``, keyed ``{prefix}0000``..."""
    return io.structures_to_nodes(_unlabelled_atoms(value, base, where), prefix)


def candidate_pool(value: t.Any, base: pathlib.Path, where: str = 'pool') -> StructurePoolData:
    """The candidates from file(s) or ``{example: ...}`` as one (unstored) pool node, named ``p0000``...:
    one node and one file whatever the size, where StructureData would cost a node and a link each, at
    every selection."""
    atoms_list = _unlabelled_atoms(value, base, where)
    try:
        return StructurePoolData.from_ase(atoms_list, [f'p{index:04d}' for index in range(len(atoms_list))])
    except StructurePoolError as exception:
        raise RunConfigError(f'`{where}`: {exception}') from None


def _unlabelled_atoms(value: t.Any, base: pathlib.Path, where: str) -> list[t.Any]:
    """ASE Atoms without calculators from file(s) or ``{example: ...}``."""
    if isinstance(value, dict):
        _check_keys(value, ['example'], f'in `{where}`')
        atoms_list = _example_atoms(value['example'], where)
    else:
        atoms_list = []
        for path in _paths(value, base, where):
            try:
                atoms_list.extend(io.read_structures(path))
            except ValueError as exception:
                raise RunConfigError(f'`{where}`: {exception}') from None
    for atoms in atoms_list:
        atoms.calc = None
    return atoms_list


# ---------------------------------------------------------------- codes, labeller, overrides


def resolve_codes(config: dict[str, t.Any], explore: bool) -> dict[str, orm.AbstractCode]:
    """The codes named under ``codes``; the missing ones registered on localhost (idempotent)."""
    from aiida.cmdline.utils import echo

    from aiida_pacemaker.codes import EXECUTABLES, get_or_create_localhost, local_computer_advice, setup_codes

    given = _check_keys(config.get('codes') or {}, list(EXECUTABLES), 'in `codes`')
    codes: dict[str, orm.AbstractCode] = {}
    for role, identifier in given.items():
        try:
            codes[role] = orm.load_code(identifier)
        except Exception as exception:  # NotExistent, MultipleObjectsError
            raise RunConfigError(f'`codes.{role}`: no code {identifier!r}: {exception}') from None
    needed = ['pacemaker', 'pace_activeset', 'pace_select'] + (['pace_explore'] if explore else [])
    for code in codes.values():
        advice = local_computer_advice(code.computer) if code.computer is not None else None
        if advice:
            echo.echo_warning(advice)
            break
    if any(role not in codes for role in needed):
        try:
            local = setup_codes(get_or_create_localhost())
        except FileNotFoundError as exception:
            raise RunConfigError(f'{exception}; or name the codes under `codes`') from None
        codes = {**local, **codes}
    return codes


def _to_node(value: t.Any, where: str) -> orm.Data:
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ('node', 'code'):
        kind, identifier = next(iter(value.items()))
        try:
            node = orm.load_code(identifier) if kind == 'code' else orm.load_node(identifier)
        except Exception as exception:  # NotExistent, MultipleObjectsError
            raise RunConfigError(f'`{where}`: no {kind} {identifier!r}: {exception}') from None
        if not isinstance(node, orm.Data):
            raise RunConfigError(
                f'`{where}`: node {identifier!r} is a {type(node).__name__}, not a data node'
            )
        return node
    try:
        return t.cast(orm.Data, orm.to_aiida_type(value))
    except Exception:  # to_aiida_type raises NotImplementedError and others
        raise RunConfigError(f'`{where}`: cannot store {value!r} as an AiiDA node') from None


def resolve_labeller(value: t.Any) -> tuple[str, dict[str, orm.Data], dict[str, t.Any] | None]:
    """The labeller entry point, its fixed inputs and optional CalcJob options."""
    from aiida_pacemaker.labellers import LabellerError, load_labeller, validate_labeller
    from aiida_pacemaker.labellers.ase import check_ase_labeller_inputs

    if value is None:
        raise RunConfigError(
            'give a `labeller`: {ase: {calculator: ase.calculators.emt.EMT}} or {process: ...}'
        )
    _check_keys(value, ['ase', 'process', 'inputs', 'options'], 'in `labeller`')
    if ('ase' in value) == ('process' in value):
        raise RunConfigError('`labeller` needs exactly one of `ase` or `process`')
    if 'ase' in value:
        if set(value) != {'ase'}:
            raise RunConfigError('`labeller.ase` takes no `inputs` or `options`: use `labeller.ase.kwargs`')
        ase = _check_keys(value['ase'], ['calculator', 'kwargs'], 'in `labeller.ase`')
        if 'calculator' not in ase:
            raise RunConfigError('`labeller.ase` needs a `calculator`, e.g. ase.calculators.emt.EMT')
        kwargs = _check_keys(
            ase.get('kwargs') or {}, list(ase.get('kwargs') or {}), 'in `labeller.ase.kwargs`'
        )
        try:
            check_ase_labeller_inputs(str(ase['calculator']), kwargs)
        except ValueError as exception:
            raise RunConfigError(f'`labeller.ase`: {exception}') from None
        inputs: dict[str, orm.Data] = {'calculator': orm.Str(ase['calculator'])}
        if kwargs:
            inputs['calculator_kwargs'] = orm.Dict(kwargs)
        return 'pacemaker.label_ase', inputs, None
    process = str(value['process'])
    try:
        validate_labeller(load_labeller(process))
    except LabellerError as exception:
        raise RunConfigError(f'`labeller.process`: {exception}') from None
    raw = _check_keys(value.get('inputs') or {}, list(value.get('inputs') or {}), 'in `labeller.inputs`')
    inputs = {key: _to_node(item, f'labeller.inputs.{key}') for key, item in raw.items()}
    options = value.get('options')
    if options is not None:
        _check_keys(options, list(options), 'in `labeller.options`')
    return process, inputs, options


def _overrides(config: dict[str, t.Any]) -> dict[str, t.Any]:
    overrides = copy.deepcopy(config.get('overrides') or {})
    _check_keys(overrides, list(overrides), 'in `overrides`')
    elements = config.get('elements')
    if elements is not None:
        if not isinstance(elements, list) or not all(isinstance(e, str) for e in elements):
            raise RunConfigError(f'`elements` must be a list of chemical symbols, got {elements!r}')
        basis = overrides.setdefault('trainer', {}).setdefault('ace_basis_config', {})
        basis.setdefault('elements', elements)
    return overrides


def _set_metadata(builder: t.Any, config: dict[str, t.Any]) -> None:
    for key in ('label', 'description'):
        if config.get(key) is not None:
            builder.metadata[key] = str(config[key])


# ---------------------------------------------------------------- builders


def active_learning_builder(
    config: dict[str, t.Any], base: pathlib.Path, continue_from: CampaignState | None = None
) -> t.Any:
    """A `PaceActiveLearningWorkChain` builder from a checked configuration (see the module docstring).

    :param continue_from: the state of an earlier run (:func:`~aiida_pacemaker.tools.provenance.campaign_state`)
        to start from: its newest training set, and its last potential as the first cycle's initial potential.
    """
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain
    from aiida_pacemaker.workflows.protocols import ProtocolError

    if 'training_set' in config and 'data' in config:
        raise RunConfigError('give either `training_set` (a PK) or `data` (files), not both')
    if continue_from is not None:
        given = [key for key in ('training_set', 'data', 'initial_potential') if key in config]
        if given:
            raise RunConfigError(
                f'`{given[0]}`: a run that continues another starts from its newest training set and last '
                f'potential; remove `{given[0]}` from the configuration'
            )
    elif not any(key in config for key in ('training_set', 'data', 'structures')):
        raise RunConfigError(
            'give initial data: `training_set` (a PK), `data` (labelled files) or `structures`'
        )
    explore = dict(
        _check_keys(config.get('explore') or {}, list(config.get('explore') or {}), 'in `explore`')
    )
    if explore and 'structures' not in explore:
        raise RunConfigError('`explore` needs `structures` (the MD seeds)')
    if not config.get('pool') and not explore:
        raise RunConfigError('give candidates: a `pool` file and/or `explore: {structures: ...}`')
    overrides = _overrides(config)
    # first everything that queries the database, then the unstored nodes (no autoflush of half-made nodes)
    source = 'training_set' if 'training_set' in config else 'data'
    # example data is labelled by the run's own labeller, inside the graph (not by EMT beforehand)
    example_data = source == 'data' and isinstance(config.get('data'), dict)
    kwargs: dict[str, t.Any] = {
        'training_set': labelled_data(config[source], base, source)
        if source in config and not example_data
        else None,
        'test_set': labelled_data(config['test_set'], base, 'test_set') if 'test_set' in config else None,
    }
    if config.get('initial_potential') is not None:
        kwargs['initial_potential'] = _initial_potential(config['initial_potential'])
    if continue_from is not None:
        kwargs['training_set'] = continue_from.training_set
        if continue_from.potential is not None:
            kwargs['initial_potential'] = continue_from.potential
    codes = resolve_codes(config, explore=bool(explore))
    labeller, labeller_inputs, options = resolve_labeller(config.get('labeller'))
    if explore:
        seeds = explore.pop('structures')
        kwargs['explore_structures'] = unlabelled_structures(seeds, base, 'explore.structures', 'seed')
        if explore:
            overrides['explore'] = {**overrides.get('explore', {}), **explore}
    if example_data:
        kwargs['structures'] = unlabelled_structures(config['data'], base, 'data', 'data')
    if config.get('structures'):
        kwargs['structures'] = {
            **kwargs.get('structures', {}),
            **unlabelled_structures(config['structures'], base, 'structures', 's'),
        }
    if config.get('pool'):
        kwargs['pool'] = candidate_pool(config['pool'], base)
    try:
        builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
            codes,
            **kwargs,
            labeller=labeller,
            labeller_inputs=labeller_inputs,
            protocol=config.get('protocol'),
            overrides=overrides,
        )
    except (ProtocolError, ValueError) as exception:
        raise RunConfigError(str(exception)) from None
    if options is not None:
        builder.labeller.options = orm.Dict(options)
    if config.get('validate') is not None:
        _set_validation(builder, config['validate'], base)
    if config.get('augment') not in (None, False):
        _set_augment(builder, config['augment'])
    _set_metadata(builder, config)
    return builder


def _set_augment(builder: t.Any, value: t.Any) -> None:
    """``augment``: pace_augment's options (``true`` or ``{}`` for its defaults) and an optional ``code``."""
    from aiida_pacemaker.calculations.options import check_options
    from aiida_pacemaker.utilities.augment import AUGMENT_OPTIONS
    from aiida_pacemaker.utilities.jobs import utility_code

    options = dict(_check_keys({} if value is True else value, [*AUGMENT_OPTIONS, 'code'], 'in `augment`'))
    identifier = options.pop('code', None)
    message = check_options(options, AUGMENT_OPTIONS)
    if message:
        raise RunConfigError(f'`augment`: {message}')
    code = None
    if identifier is not None:
        try:
            code = orm.load_code(identifier)
        except Exception as exception:  # NotExistent, MultipleObjectsError
            raise RunConfigError(f'`augment.code`: no code {identifier!r}: {exception}') from None
    builder.augment = orm.Dict(options)
    builder.augment_code = utility_code('pace_augment', code)


VALIDATE_KEYS = ('structures', 'properties', 'calculator', 'kwargs')


def _set_validation(builder: t.Any, value: t.Any, base: pathlib.Path) -> None:
    """Fill the builder's ``validate`` namespace from the config's ``validate`` section."""
    from .validate import read_reference_structures

    section = _check_keys(value or {}, VALIDATE_KEYS, 'in `validate`')
    files = _paths(section['structures'], base, 'validate.structures') if section.get('structures') else []
    elements = builder.train.train.parameters['potential']['elements']
    try:
        builder.validate.structures = read_reference_structures(files, elements)
    except ValueError as exception:
        raise RunConfigError(f'`validate.structures`: {exception}') from None
    from aiida_pacemaker.tools.property_settings import PROPERTIES

    properties = section.get('properties') or {name: {} for name in PROPERTIES}
    if not isinstance(properties, dict):
        raise RunConfigError('`validate.properties` must be a mapping of property names to their settings')
    builder.validate.parameters = orm.Dict(properties)
    if section.get('calculator') is not None:
        builder.validate.labeller.calculator = orm.Str(section['calculator'])
    if section.get('kwargs'):
        builder.validate.labeller.calculator_kwargs = orm.Dict(section['kwargs'])


def _initial_potential(identifier: t.Any) -> t.Any:
    """The PacePotentialData of ``initial_potential`` (PK or UUID)."""
    from aiida_pacemaker.data.potential import PacePotentialData

    try:
        potential = orm.load_node(identifier)
    except Exception as exception:  # NotExistent, MultipleObjectsError
        raise RunConfigError(f'`initial_potential`: {exception}') from None
    if not isinstance(potential, PacePotentialData):
        raise RunConfigError(f'`initial_potential` is a {type(potential).__name__}, not a PacePotentialData')
    return potential


def train_builder(config: dict[str, t.Any], base: pathlib.Path) -> t.Any:
    """A `PaceTrainWorkChain` builder (:meth:`~aiida_pacemaker.workflows.train.PaceTrainWorkChain.get_builder_from_protocol`)
    from a checked configuration: the data, the protocol and its ``trainer`` overrides."""
    from aiida_pacemaker.workflows.protocols import ProtocolError
    from aiida_pacemaker.workflows.train import PaceTrainWorkChain

    if ('training_set' in config) == ('data' in config):
        raise RunConfigError('give the training data as either `training_set` (a PK) or `data` (files)')
    overrides = _overrides(config)
    ignored = sorted(set(overrides) - {'trainer'})
    if ignored:
        raise RunConfigError(
            f'`run train` uses only the `trainer` section of the protocol; `overrides.{ignored[0]}` would be ignored'
        )
    source = 'training_set' if 'training_set' in config else 'data'
    training_set = labelled_data(config[source], base, source)
    test_set = labelled_data(config['test_set'], base, 'test_set') if 'test_set' in config else None
    codes = resolve_codes(config, explore=False)
    try:
        builder = PaceTrainWorkChain.get_builder_from_protocol(
            codes['pacemaker'],
            training_set,
            test_set=test_set,
            protocol=config.get('protocol'),
            overrides=overrides,
        )
    except ProtocolError as exception:
        raise RunConfigError(str(exception)) from None
    except ValueError as exception:
        raise RunConfigError(f'trainer: {exception}') from None
    if config.get('initial_potential') is not None:
        builder.train.initial_potential = _initial_potential(config['initial_potential'])
    _set_metadata(builder, config)
    return builder
