"""pacemaker input: validation of its sections and the `TrainerConfig` that renders them.

The ``pacemaker.train`` CalcJob receives pacemaker's ``input.yaml`` as a dict (its ``parameters``
input) with the top-level sections of :data:`SECTIONS`. :func:`validate_pacemaker_parameters`
refuses unknown keys (naming the closest valid one) and the values that pacemaker crashes on or
silently misreads. The valid keys are read off pacemaker's own source (``python-ace==0.4.0rc1``);
each list below says where it comes from. Units: lengths in Å, energies in eV.

:class:`TrainerConfig` is the user-facing description of a fit (basis, physics baseline, fitting
parameters); :meth:`TrainerConfig.to_pacemaker_parameters` renders the sections and
:meth:`TrainerConfig.from_pacemaker_input` reads an existing ``input.yaml`` back into one.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import typing as t
from collections.abc import Mapping, Sequence

import yaml
from ase.data import chemical_symbols

from aiida_pacemaker.schema import (
    ANY,
    BOOL,
    FRACTION,
    INT,
    NON_NEGATIVE,
    NON_NEGATIVE_INT,
    POSITIVE,
    POSITIVE_INT,
    REAL,
    STRING,
    Checker,
    ConfigError,
    bad_value,
    check_section,
    join,
    list_of,
    mapping,
    number,
    of_type,
    one_of,
    section,
)
from aiida_pacemaker.tools.yaml_files import load_yaml

__all__ = (
    'DEFAULTS',
    'SECTIONS',
    'ConfigError',
    'TrainerConfig',
    'active_set_full',
    'active_set_rows',
    'validate_pacemaker_parameters',
)


# top-level keys of input.yaml: pyace/cli/pacemaker.py (`main`); `cutoff` is deprecated and ignored by
# pacemaker 0.4 (the neighbour cutoff is the largest `potential.bonds.*.rcut`), `metadata` is copied
# into the potential section and not read further.
SECTIONS = ('cutoff', 'seed', 'metadata', 'potential', 'fit', 'backend', 'data')

BASELINES = ('none', 'zbl', 'lj')

DEFAULTS: dict[str, t.Any] = {
    'cutoff': 5.0,  # Å, outer cutoff `rcut` of all bonds
    'number_of_functions_per_element': 30,
    'embeddings': {
        'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1, 1, 0.5], 'ndensity': 2}
    },
    'bonds': {'ALL': {'radbase': 'SBessel', 'radparameters': [5.25], 'dcut': 0.01}},  # plus rcut = cutoff
    'functions': {'ALL': {'nradmax_by_orders': [15, 3, 2, 1], 'lmax_by_orders': [0, 3, 2, 1]}},
    # maxiter 100 and BFGS are pacemaker's own defaults (pyace/generalfit.py)
    'fit': {
        'loss': {'kappa': 0.3, 'L1_coeffs': 1e-8, 'L2_coeffs': 1e-8},
        'optimizer': 'BFGS',
        'maxiter': 100,
    },
    'evaluator': 'tensorpot',
    'backend': {  # per evaluator; pyace's parallel_mode `process` segfaults with ZBL potentials
        'tensorpot': {'batch_size': 100, 'display_step': 50},
        'pyace': {'parallel_mode': 'serial', 'display_step': 50},
    },
    'data': {'reference_energy': 0},  # eV; the training set stores total energies in `energy`
    # what `fit: repulsion: auto` sets (pyace/generalfit.py, setup_zbl_inner_core_repulsion), r_in aside
    'zbl_bond': {'delta_in': 0.1, 'inner_cutoff_type': 'zbl', 'core-repulsion': [1, 1]},  # delta_in in Å
    'zbl_embedding': {'rho_core_cut': 1, 'drho_core_cut': 1},
}

# file names: the CalcJob stages the training/test data and potentials itself
_STAGED_DATA_KEYS = ('filename', 'test_filename', 'datapath')
_DATA_STAGED = 'the pacemaker.train CalcJob stages the training and test data itself: remove it'
_POTENTIAL_FILE = (
    'potential files are staged by the pacemaker.train CalcJob: use its `initial_potential` input'
)

#: a radial cutoff (Å): below 1 Å no bond is inside it; beyond 15 Å the neighbour lists explode
MIN_CUTOFF, MAX_CUTOFF = 1.0, 15.0


_checked_cutoff = number(
    minimum=MIN_CUTOFF,
    maximum=MAX_CUTOFF,
    noun=f'a cutoff radius between {MIN_CUTOFF} and {MAX_CUTOFF} Å (ACE potentials use 4 to 8 Å)',
)


# ---------------------------------------------------------------- potential

# pyace/multispecies_basisextension.py, create_species_block_without_funcs (and
# single_to_multispecies_converter for which keys belong to embeddings, bonds and functions); the valid
# `npot` and `radbase` names are those of the C++ evaluator (pyace/basis*.so)
EMBEDDING_SCHEMA: dict[str, Checker] = {
    'npot': one_of('FinnisSinclair', 'FinnisSinclairShiftedScaled'),
    'fs_parameters': list_of(REAL, non_empty=True),
    'ndensity': POSITIVE_INT,
    'rho_core_cut': NON_NEGATIVE,
    'drho_core_cut': NON_NEGATIVE,
}
BOND_SCHEMA: dict[str, Checker] = {
    'radbase': one_of('ChebExpCos', 'ChebPow', 'ChebLinear', 'SBessel'),
    'radparameters': list_of(REAL),
    'rcut': _checked_cutoff,
    'dcut': NON_NEGATIVE,
    'NameOfCutoffFunction': STRING,
    'nradbase': NON_NEGATIVE_INT,
    'nradmax': NON_NEGATIVE_INT,
    'lmax': NON_NEGATIVE_INT,
    'r_in': NON_NEGATIVE,
    'delta_in': NON_NEGATIVE,
    'inner_cutoff_type': one_of('distance', 'density', 'zbl'),
    'core-repulsion': list_of(REAL, length=2),
}
FUNCTION_SCHEMA: dict[str, Checker] = {
    'nradmax_by_orders': list_of(NON_NEGATIVE_INT, non_empty=True),
    'lmax_by_orders': list_of(NON_NEGATIVE_INT, non_empty=True),
    'coefs_init': one_of('zero', 'random'),
}
# block names: pyace/multispecies_basisextension.py (KEYWORDS, generate_{embeddings,bonds,functions}_ext)
EMBEDDING_BLOCKS = ('ALL', 'UNARY')
BOND_BLOCKS = ('ALL', 'UNARY', 'BINARY')
FUNCTION_BLOCKS = ('ALL', 'UNARY', 'BINARY', 'TERNARY', 'QUATERNARY', 'QUINARY')

# pyace/multispecies_basisextension.py (create_multispecies_basis_config) and pyace/generalfit.py
POTENTIAL_SCHEMA: dict[str, Checker] = {
    'elements': ANY,  # checked in _check_potential
    'deltaSplineBins': POSITIVE,
    'embeddings': ANY,
    'bonds': ANY,
    'functions': ANY,
}
POTENTIAL_REFUSED = {
    'filename': _POTENTIAL_FILE,
    'initial_potential': _POTENTIAL_FILE,
    'reset': f'it only applies to `potential.filename`; {_POTENTIAL_FILE}',
    'overwrite_blocks_from_initial_bbasis': f'it goes with `potential.initial_potential`; {_POTENTIAL_FILE}',
    'element': 'the single-species format of pacemaker 1.0: use `elements: [...]` instead',
}


def _check_elements(value: t.Any, path: str) -> list[str]:
    if not isinstance(value, list | tuple) or not value:
        raise ConfigError(f'`{path}` must be a non-empty list of chemical symbols, got {value!r}')
    for index, symbol in enumerate(value):
        if symbol not in chemical_symbols[1:]:
            raise ConfigError(f'`{path}[{index}]` = {symbol!r} is not a chemical symbol')
    if len(set(value)) != len(value):
        raise ConfigError(f'`{path}` lists an element more than once: {value!r}')
    return list(value)


def _block_elements(
    name: str, path: str, elements: Sequence[str], keywords: Sequence[str], max_n: int
) -> None:
    """Check a block name: a keyword or 1..``max_n`` symbols of ``elements`` (``Al``, ``Al Ni``, ``AlNi``)."""
    if name in keywords:
        return
    symbols = re.findall('[A-Z][a-z]?', name)
    if (
        ''.join(symbols) != name.replace(' ', '')
        or not 1 <= len(symbols) <= max_n
        or not set(symbols) <= set(chemical_symbols[1:])
    ):
        raise bad_value(path, name, [*keywords, *elements], 'block name')
    for symbol in symbols:
        if symbol not in elements:
            raise ConfigError(
                f'`{path}`: block `{name}` names {symbol}, which is not in `potential.elements`'
            )
    # functions blocks: the central element, then the others sorted, each once (generate_species_keys)
    if max_n > 2 and (len(set(symbols)) != len(symbols) or symbols[1:] != sorted(symbols[1:])):
        raise ConfigError(
            f'`{path}` is not a block pacemaker builds: name the central element, then the other '
            'elements sorted, each once (e.g. `Ni Al Cu`)'
        )


def _check_blocks(
    value: t.Any,
    path: str,
    schema: Mapping[str, Checker],
    elements: Sequence[str],
    keywords: Sequence[str],
    max_n: int,
    extra: Mapping[str, Checker] = {},
) -> None:
    mapping(value, path)
    for name, block in value.items():
        if name in extra:
            extra[name](block, join(path, name))
            continue
        _block_elements(name, join(path, name), elements, [*keywords, *extra], max_n)
        check_section(block, join(path, name), schema)


def _check_potential(potential: t.Any, data_elements: Sequence[str] | None) -> None:
    if isinstance(potential, str | os.PathLike):
        raise ConfigError(
            f'`potential` is a file name ({potential!r}); this plugin takes the potential section '
            f'as a dict: {_POTENTIAL_FILE}'
        )
    check_section(potential, 'potential', POTENTIAL_SCHEMA, POTENTIAL_REFUSED)
    for key in ('elements', 'embeddings', 'bonds', 'functions'):
        if key not in potential:  # otherwise pacemaker falls back to its old format and fails with a KeyError
            raise ConfigError(
                f'`potential.{key}` is missing (elements, embeddings, bonds and functions are needed)'
            )
    elements = _check_elements(potential['elements'], 'potential.elements')
    missing = sorted(set(data_elements or ()) - set(elements))
    if missing:
        raise ConfigError(
            f'the training data contain {", ".join(missing)}, missing from `potential.elements` {elements}'
        )

    embeddings, bonds, functions = potential['embeddings'], potential['bonds'], potential['functions']
    _check_blocks(embeddings, 'potential.embeddings', EMBEDDING_SCHEMA, elements, EMBEDDING_BLOCKS, 1)
    _check_blocks(bonds, 'potential.bonds', BOND_SCHEMA, elements, BOND_BLOCKS, 2)
    _check_blocks(
        functions,
        'potential.functions',
        FUNCTION_SCHEMA,
        elements,
        FUNCTION_BLOCKS,
        5,
        extra={'number_of_functions_per_element': POSITIVE_INT},
    )

    for element in elements:  # pyace: len(fs_parameters) == 2 * ndensity, checked per element
        merged = {**embeddings.get('ALL', {}), **embeddings.get('UNARY', {}), **embeddings.get(element, {})}
        if (
            'fs_parameters' in merged
            and 'ndensity' in merged
            and len(merged['fs_parameters']) != 2 * merged['ndensity']
        ):
            raise ConfigError(
                f'`potential.embeddings`: {element} has {len(merged["fs_parameters"])} fs_parameters, '
                f'but needs 2 * ndensity = {2 * merged["ndensity"]}'
            )
    for name, block in bonds.items():
        if 'r_in' in block and 'rcut' in block and block['r_in'] >= block['rcut']:
            raise ConfigError(
                f'`potential.bonds.{name}.r_in` ({block["r_in"]} Å) must be smaller than its rcut'
            )
    for name, block in functions.items():
        if name == 'number_of_functions_per_element':
            continue
        orders = [block[key] for key in ('nradmax_by_orders', 'lmax_by_orders') if key in block]
        if (name == 'ALL' and len(orders) != 2) or len({len(order) for order in orders}) > 1:
            raise ConfigError(
                f'`potential.functions.{name}` needs nradmax_by_orders and lmax_by_orders of the same length'
            )


# ---------------------------------------------------------------- fit, backend, data

# pyace/lossfuncspec.py (LossFunctionSpecification.__init__); pacemaker silently accepts other keys
LOSS_SCHEMA: dict[str, Checker] = {
    'kappa': lambda value, path: None if value == 'auto' else FRACTION(value, path),
    'L1_coeffs': NON_NEGATIVE,
    'L2_coeffs': NON_NEGATIVE,
    'w0_rad': NON_NEGATIVE,
    'w1_rad': NON_NEGATIVE,
    'w2_rad': NON_NEGATIVE,
    'w_orth': NON_NEGATIVE,
}
# pyace/preparedata.py: get_weighting_policy and EnergyBasedWeightingPolicy.__init__
WEIGHTING_SCHEMA: dict[str, Checker] = {
    'type': ANY,
    'nfit': POSITIVE_INT,
    'n_lower': NON_NEGATIVE_INT,
    'n_upper': NON_NEGATIVE_INT,
    'cutoff': ANY,  # accepted and ignored by pacemaker
    'DElow': NON_NEGATIVE,
    'DEup': NON_NEGATIVE,
    'DFup': POSITIVE,
    'DE': POSITIVE,
    'DF': POSITIVE,
    'wlow': lambda value, path: (
        None if value is None or str(value).lower() == 'none' else FRACTION(value, path)
    ),
    'reftype': one_of('all', 'bulk', 'cluster'),
    'seed': INT,
    'energy': one_of('convex_hull', 'cohesive'),
}
WEIGHTING_TYPES = ('EnergyBasedWeightingPolicy', 'ExternalWeightingPolicy')


def _check_weighting(value: t.Any, path: str) -> None:
    mapping(value, path)
    kind = value.get('type')
    if kind == 'UniformWeightingPolicy':
        raise ConfigError(
            f"`{path}.type` UniformWeightingPolicy is pacemaker's default but not accepted as a "
            f'type: leave `{path}` out for uniform weights'
        )
    if kind == 'ExternalWeightingPolicy':
        raise ConfigError(
            f'`{path}.type` ExternalWeightingPolicy reads a weights file, which the CalcJob does '
            'not stage: put per-structure weights (w_energy, w_forces) into the training set'
        )
    if kind not in WEIGHTING_TYPES:
        raise bad_value(f'{path}.type', kind, WEIGHTING_TYPES, 'weighting type')
    check_section(value, path, WEIGHTING_SCHEMA)


def _check_ladder_step(value: t.Any, path: str) -> None:
    """pyace/basisextension.py (get_actual_ladder_step): an int >= 1, a fraction in (0, 1) or both."""
    items = value if isinstance(value, list | tuple) and 1 <= len(value) <= 2 else [value]
    for item in items:
        if isinstance(item, bool) or not (
            (isinstance(item, int) and item >= 1) or (isinstance(item, float) and 0 < item < 1)
        ):
            raise ConfigError(
                f'`{path}` must be an integer >= 1, a fraction in (0, 1) or a list of both, got {value!r}'
            )


# optimizers: tensorpotential/compat/pace/fit.py (NUMPY_OPTIMIZERS + TF_OPTIMIZERS); the pyace backend
# calls scipy.optimize.minimize without a gradient (pyace/pyacefit.py), so the methods that need none
OPTIMIZERS = {
    'tensorpot': ('BFGS', 'L-BFGS-B', 'CG', 'trf', 'dogbox', 'lm', 'dual_annealing', 'Adam', 'SGD'),
    'pyace': (
        'Nelder-Mead',
        'Powell',
        'CG',
        'BFGS',
        'L-BFGS-B',
        'TNC',
        'COBYLA',
        'COBYQA',
        'SLSQP',
        'trust-constr',
    ),
}
# pyace/generalfit.py (GeneralACEFit: fit_config), pyace/const.py (FIT_*_KW), pyace/fitadapter.py
FIT_SCHEMA: dict[str, Checker] = {
    'loss': section(LOSS_SCHEMA),
    'optimizer': STRING,  # checked against the evaluator in validate_pacemaker_parameters
    'options': mapping,  # scipy.optimize.minimize options
    'maxiter': POSITIVE_INT,
    'repulsion': one_of('auto'),
    'ladder_step': _check_ladder_step,
    'ladder_type': one_of('body_order', 'power_order'),  # pyace/basisextension.py, sort_funcspecs_list
    'weighting': _check_weighting,
    'fit_cycles': POSITIVE_INT,
    'noise_relative_sigma': NON_NEGATIVE,
    'noise_absolute_sigma': NON_NEGATIVE,
    'randomize_func_coeffs': NON_NEGATIVE,
    'trainable_parameters': of_type((str, list, dict), 'a string, list or dict'),
    'callbacks': list_of(STRING),
    'early_stopping_patience': POSITIVE_INT,
    'min_relative_train_loss_per_iter': POSITIVE,
    'min_relative_test_loss_per_iter': POSITIVE,
}
# pyace/fitadapter.py, pyace/const.py (BACKEND_*_KW), pyace/cli/pacemaker.py (imagetype),
# pyace/paralleldataexecutor.py (parallel modes), tensorpotential/compat/pace/constants.py (gpu_config)
BACKEND_SCHEMA: dict[str, Checker] = {
    'evaluator': one_of('tensorpot', 'pyace'),
    'batch_size': POSITIVE_INT,
    'batch_size_reduction': BOOL,
    'batch_size_reduction_factor': number(minimum=1, strict=True),
    'display_step': POSITIVE_INT,
    'gpu_config': section({'gpu_ind': INT, 'mem_limit': NON_NEGATIVE_INT}),
    'n_workers': POSITIVE_INT,
    'parallel_mode': one_of('serial', 'process', 'mpi'),
    'imagetype': STRING,
}


def _check_test_size(value: t.Any, path: str) -> None:
    """pyace/preparedata.py (train_test_split): a fraction in (0, 1) or a number of structures >= 1."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        raise ConfigError(
            f'`{path}` = 0 crashes pacemaker; to fit without a test set, leave the key out instead'
        )
    fraction = isinstance(value, float) and 0 < value < 1
    count = isinstance(value, int) and not isinstance(value, bool) and value >= 1
    if not (fraction or count):
        raise ConfigError(
            f'`{path}` must be a fraction in (0, 1) or a number of structures >= 1, got {value!r}'
        )


def _check_reference_energy(value: t.Any, path: str) -> None:
    """pyace/preparedata.py (ACEDataset.process_dataset): eV, `auto`, a preset or {element: eV, shift: eV}."""
    if isinstance(value, str):
        one_of('auto', 'VASP_PBE_500_0.125_0.1_NM')(value, path)  # presets: pyace/process_df.py
    elif isinstance(value, Mapping):
        check_section(value, path, {symbol: REAL for symbol in [*chemical_symbols[1:], 'shift']})
    else:
        REAL(value, path)


# pyace/preparedata.py (ACEDataset), pyace/cli/pacemaker.py (data `seed`)
DATA_SCHEMA: dict[str, Checker] = {
    'test_size': _check_test_size,
    'reference_energy': _check_reference_energy,
    'ignore_weights': BOOL,
    'aug_factor': NON_NEGATIVE,
    'seed': INT,
}
DATA_REFUSED = dict.fromkeys(_STAGED_DATA_KEYS, _DATA_STAGED)


def _metadata(value: t.Any, path: str) -> None:
    mapping(value, path)
    for key, item in value.items():
        if not isinstance(item, str | int | float):
            raise ConfigError(f'`{path}.{key}` must be a string or a number, got {item!r}')


TOP_SCHEMA: dict[str, Checker] = {
    'cutoff': _checked_cutoff,
    'seed': INT,
    'metadata': _metadata,
    'potential': ANY,
    'fit': section(FIT_SCHEMA),
    'backend': section(BACKEND_SCHEMA),
    'data': section(DATA_SCHEMA, DATA_REFUSED),
}


def _zbl_configured(parameters: Mapping[str, t.Any]) -> str | None:
    """Return where ZBL core repulsion is configured (a key path), or None."""
    if parameters.get('fit', {}).get('repulsion') == 'auto':
        return 'fit.repulsion'
    for name, block in parameters.get('potential', {}).get('bonds', {}).items():
        if block.get('inner_cutoff_type') == 'zbl':
            return f'potential.bonds.{name}.inner_cutoff_type'
    return None


def validate_pacemaker_parameters(
    parameters: dict[str, t.Any], data_elements: Sequence[str] | None = None
) -> None:
    """Validate the sections of pacemaker's ``input.yaml`` as the ``pacemaker.train`` CalcJob receives them.

    :param parameters: dict with the top-level keys of :data:`SECTIONS`; ``backend`` is required (pacemaker
        0.4.0rc1 crashes without it), ``potential`` is not (with ``-p``, pacemaker reads a potential file);
        data file names are refused (the CalcJob sets them).
    :param data_elements: chemical symbols in the training data; each must be in ``potential.elements``.
    :raises ConfigError: naming the key path, and for a misspelt key the closest valid one.
    """
    if not isinstance(parameters, Mapping):
        raise ConfigError(f'pacemaker parameters must be a dict, got {type(parameters).__name__}')
    check_section(parameters, '', TOP_SCHEMA)
    if (
        'backend' not in parameters
    ):  # pacemaker 0.4.0rc1: AttributeError `query_data` (pyace/cli/pacemaker.py)
        raise ConfigError('the `backend` section is missing (pacemaker crashes without it): add `evaluator`')
    if 'potential' in parameters:  # without it, pacemaker needs a potential file (`-p`)
        _check_potential(parameters['potential'], data_elements)

    fit, backend = parameters.get('fit', {}), parameters['backend']
    evaluator = backend.get('evaluator', 'pyace')  # pacemaker's default
    if 'optimizer' in fit and fit['optimizer'] not in OPTIMIZERS[evaluator]:
        raise bad_value('fit.optimizer', fit['optimizer'], OPTIMIZERS[evaluator], f'{evaluator} optimizer')
    zbl = _zbl_configured(parameters)
    if evaluator == 'pyace' and backend.get('parallel_mode') == 'process' and zbl:
        raise ConfigError(
            f'`backend.parallel_mode: process` with the pyace evaluator segfaults when ZBL is '
            f'configured (`{zbl}`): use `parallel_mode: serial`'
        )


# ---------------------------------------------------------------- the size of the active set


def active_set_rows(potential: Mapping[str, t.Any]) -> dict[str, tuple[int, int]]:
    """The number of atomic environments per element in pace_activeset's active sets of a rendered basis.

    The active set of an element is a square MaxVol matrix with one row, an atomic environment of the
    training data, per projection (pyace/activelearning.py, ``compute_B_projections``): one per basis
    function of the element in the linear active set, and ``ndensity`` (of the element's embedding) per
    function in the full one (``pace_activeset -f``). pacemaker builds at most
    ``functions.number_of_functions_per_element`` functions per element (N; fewer when the ``nradmax``
    and ``lmax`` of the functions allow fewer), so this returns, per element of ``potential['elements']``,
    the upper bounds ``(N, N * ndensity)``.

    :param potential: pacemaker's ``potential`` section, as :meth:`TrainerConfig.to_pacemaker_parameters`
        renders it (``elements``, ``embeddings``, ``functions``).
    :raises ConfigError: if ``functions`` has no ``number_of_functions_per_element`` (the basis then has
        no size known before pacemaker builds it).
    """
    count = (potential.get('functions') or {}).get('number_of_functions_per_element')
    if count is None:
        raise ConfigError(
            '`active_set_size` needs `number_of_functions_per_element` in the functions of the basis (the '
            'active set has one row per function): give it in `ace_basis_config`, or leave `active_set_size` '
            "out and set the active set's `full` option"
        )
    POSITIVE_INT(count, 'functions.number_of_functions_per_element')
    embeddings = potential.get('embeddings') or {}
    rows = {}
    for element in potential.get('elements') or []:
        # pyace/multispecies_basisextension.py (generate_embeddings_ext): ALL, then UNARY, then the element
        ndensity = 1
        for key in ('ALL', 'UNARY', element):
            ndensity = int((embeddings.get(key) or {}).get('ndensity', ndensity))
        rows[element] = (int(count), int(count) * ndensity)
    return rows


def active_set_full(size: int, potential: Mapping[str, t.Any]) -> bool:
    """Whether ``active_set_size`` = ``size`` asks for pace_activeset's full active set (``-f``).

    ``size`` is the number of atomic environments per element that the active set should hold. The
    linear active set holds one per basis function (at most ``number_of_functions_per_element``, N), the
    full one ``ndensity`` times as many (see :func:`active_set_rows`): a size up to N gives the linear
    set, a larger one the full set, the largest that pace_activeset builds.

    :raises ConfigError: if ``size`` is not a positive integer, or the basis has no
        ``number_of_functions_per_element``.
    """
    POSITIVE_INT(size, 'active_set_size')
    active_set_rows(potential)  # checks that the size of the basis is known
    return size > int(potential['functions']['number_of_functions_per_element'])


# ---------------------------------------------------------------- TrainerConfig

# convenience keys of TrainerConfig.ace_basis_config besides pacemaker's own `potential` keys
_BASIS_SHORTCUTS = ('cutoff', 'number_of_functions_per_element', 'nradmax_by_orders', 'lmax_by_orders')
# flat keys of TrainerConfig.fitting_params -> where they go in the rendered parameters
_FLAT_ROUTES: dict[str, tuple[str, ...]] = {
    **{key: ('fit', 'loss', key) for key in LOSS_SCHEMA},
    **{key: ('fit', key) for key in FIT_SCHEMA},
    **{key: ('backend', key) for key in BACKEND_SCHEMA},
    **{key: ('data', key) for key in DATA_SCHEMA},
    'seed': ('seed',),
    'metadata': ('metadata',),
}
_VERBATIM_SECTIONS = ('fit', 'backend', 'data')
_ZBL_PARAMETERS = {'r_in': POSITIVE, 'delta_in': NON_NEGATIVE}  # Å


_YAML12_FLOAT = re.compile(r'^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$')


def _yaml12_floats(value: t.Any) -> t.Any:
    """Read ``1e-8`` and ``1.0e5`` as floats, as YAML 1.2 (and pacemaker) does; YAML 1.1 leaves them strings."""
    if isinstance(value, dict):
        return {key: _yaml12_floats(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_yaml12_floats(item) for item in value]
    if isinstance(value, str) and _YAML12_FLOAT.match(value):
        return float(value)
    return value


def _load_yaml(source: str | os.PathLike[str]) -> t.Any:
    """YAML text, or the path of a YAML file (a ``PathLike`` or a one-line string naming an existing file)."""
    if isinstance(source, os.PathLike) or ('\n' not in source and os.path.isfile(source)):
        with open(source, encoding='utf-8') as handle:
            source = handle.read()
    try:
        return _yaml12_floats(load_yaml(source))
    except yaml.YAMLError as exception:
        raise ConfigError(f'invalid YAML: {exception}') from exception


@dataclasses.dataclass
class TrainerConfig:
    """What to fit, and how: renders pacemaker's input sections.

    :param ace_basis_config: pacemaker's ``potential`` section (``elements``, ``embeddings``, ``bonds``,
        ``functions``, ``deltaSplineBins``) plus the shortcuts ``cutoff`` (Å; rcut of the default bonds and
        the top-level ``cutoff``), ``number_of_functions_per_element``, ``nradmax_by_orders`` and
        ``lmax_by_orders`` (of the ``ALL`` functions block). Missing embeddings, bonds or functions get
        :data:`DEFAULTS`; given ones are rendered as they are.
    :param physics_baseline: ``'none'``, ``'zbl'`` (ZBL core repulsion at short range) or ``'lj'`` (a
        Lennard-Jones baseline subtracted from the labels by :mod:`aiida_pacemaker.baselines`: plain ACE).
    :param baseline_parameters: for ``zbl`` optional ``r_in`` (Å; ZBL below, ACE above) and ``delta_in`` (Å;
        the width of the switch); for ``lj`` stored for :mod:`aiida_pacemaker.baselines`. ZBL is rendered
        as explicit ``bonds``/``embeddings`` keys when ``r_in`` is given (either backend) or with pyace
        (``r_in`` = ``min_distance``), else as ``fit.repulsion: auto`` (tensorpot).
    :param fitting_params: flat keys of pacemaker's ``fit.loss`` (``kappa``, ``L1_coeffs``, ...), ``fit``
        (``optimizer``, ``maxiter``, ``weighting``, ...), ``backend`` (``evaluator``, ``batch_size``, ...),
        ``data`` (``reference_energy``, ``test_size``, ...), and ``seed``, ``metadata``. The keys ``fit``,
        ``backend`` and ``data`` hold whole sections, rendered as they are (no defaults) under the flat keys.
    :param active_set_size: not rendered; the number of atomic environments per element that the active set
        of the fitted potential should hold (None: pace_activeset's default, the linear set). The linear
        active set holds one per basis function of the element, at most ``number_of_functions_per_element``
        (N) of the rendered basis, the full one ``ndensity`` times as many: a size above N asks for the full
        set (see :func:`active_set_full`, which the active-learning workchain uses to set the active set's
        ``full`` option). Needs ``number_of_functions_per_element`` in the basis.
    """

    ace_basis_config: dict[str, t.Any]
    physics_baseline: str = 'none'
    baseline_parameters: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    fitting_params: dict[str, t.Any] = dataclasses.field(default_factory=dict)
    active_set_size: int | None = None

    def __post_init__(self) -> None:
        blocks = dict.fromkeys(('embeddings', 'bonds', 'functions'), mapping)
        basis_schema = {**dict.fromkeys([*POTENTIAL_SCHEMA, *_BASIS_SHORTCUTS], ANY), **blocks}
        basis_schema['cutoff'] = _checked_cutoff
        check_section(self.ace_basis_config, 'ace_basis_config', basis_schema)
        if self.physics_baseline not in BASELINES:
            raise bad_value('physics_baseline', self.physics_baseline, BASELINES, 'baseline')
        if self.physics_baseline == 'zbl':
            check_section(self.baseline_parameters, 'baseline_parameters', _ZBL_PARAMETERS)
        else:
            mapping(self.baseline_parameters, 'baseline_parameters')
        params_schema = {
            **dict.fromkeys(_FLAT_ROUTES, ANY),
            **dict.fromkeys([*_VERBATIM_SECTIONS, 'loss'], mapping),
        }
        check_section(self.fitting_params, 'fitting_params', params_schema)
        if self.active_set_size is not None:
            active_set_full(self.active_set_size, self._render_potential()[1])
        try:
            json.dumps(self.to_dict(), allow_nan=False)
        except (TypeError, ValueError) as exception:
            raise ConfigError(f'TrainerConfig must be JSON-serialisable: {exception}') from exception

    def to_pacemaker_parameters(self, min_distance: float | None = None) -> dict[str, t.Any]:
        """Render the sections ``cutoff`` (if known), ``seed`` and ``metadata`` (if given), ``potential``,
        ``fit``, ``backend`` and ``data`` (without file names), validated.

        :param min_distance: the shortest interatomic distance in the training data (Å): ``r_in`` of ZBL with
            the pyace backend when ``baseline_parameters`` has none.
        """
        cutoff, potential = self._render_potential()
        parameters = {'cutoff': cutoff, 'potential': potential, **self._render_fit_backend_data()}
        if cutoff is None:
            del parameters['cutoff']
        validate_pacemaker_parameters(parameters)  # before adding ZBL, for errors about the user's own keys
        self._render_baseline(parameters, min_distance)
        validate_pacemaker_parameters(parameters)
        return {key: parameters[key] for key in SECTIONS if key in parameters}

    def _render_potential(self) -> tuple[float | None, dict[str, t.Any]]:
        """The top-level ``cutoff`` (Å, None if unknown) and ``potential`` from ``ace_basis_config``."""
        basis = copy.deepcopy(self.ace_basis_config)
        shortcuts = {key: basis.pop(key) for key in _BASIS_SHORTCUTS if key in basis}
        if 'bonds' not in basis:
            shortcuts.setdefault('cutoff', DEFAULTS['cutoff'])
            basis['bonds'] = copy.deepcopy(DEFAULTS['bonds'])
            basis['bonds']['ALL']['rcut'] = shortcuts['cutoff']
        basis.setdefault('embeddings', copy.deepcopy(DEFAULTS['embeddings']))
        if 'functions' not in basis:
            basis['functions'] = {
                'number_of_functions_per_element': DEFAULTS['number_of_functions_per_element']
            }
            basis['functions'].update(copy.deepcopy(DEFAULTS['functions']))
        functions = basis['functions']
        if 'number_of_functions_per_element' in shortcuts:
            functions['number_of_functions_per_element'] = shortcuts['number_of_functions_per_element']
        for key in ('nradmax_by_orders', 'lmax_by_orders'):
            if key in shortcuts:
                functions['ALL'] = {**functions.get('ALL', {}), key: shortcuts[key]}
        order = ('elements', 'deltaSplineBins', 'embeddings', 'bonds', 'functions')
        potential = {key: basis[key] for key in order if key in basis}
        return shortcuts.get('cutoff'), potential

    def _render_fit_backend_data(self) -> dict[str, t.Any]:
        """Sections ``fit``, ``backend``, ``data`` (and ``seed``, ``metadata``) from ``fitting_params``."""
        flat = copy.deepcopy(self.fitting_params)
        evaluator = flat.get('evaluator', DEFAULTS['evaluator'])
        parameters = {
            'fit': flat.pop('fit', copy.deepcopy(DEFAULTS['fit'])),
            'backend': flat.pop(
                'backend', {'evaluator': evaluator, **DEFAULTS['backend'].get(evaluator, {})}
            ),
            'data': flat.pop('data', copy.deepcopy(DEFAULTS['data'])),
        }
        if 'loss' in flat:  # merged into the (default or given) loss, before the flat loss keys
            parameters['fit']['loss'] = {**parameters['fit'].get('loss', {}), **flat.pop('loss')}
        for key, value in flat.items():
            *parents, last = _FLAT_ROUTES[key]
            target = parameters
            for parent in parents:
                target = target.setdefault(parent, {})
            target[last] = value
        return parameters

    def _render_baseline(self, parameters: dict[str, t.Any], min_distance: float | None) -> None:
        """Add ZBL for ``physics_baseline='zbl'`` (in place) unless the sections configure it already."""
        configured = _zbl_configured(parameters)
        if self.physics_baseline != 'zbl':
            if configured:
                raise ConfigError(
                    f'`{configured}` configures ZBL, but physics_baseline is '
                    f"'{self.physics_baseline}': set physics_baseline='zbl'"
                )
            return
        if configured:
            return
        backend = parameters['backend']
        r_in = self.baseline_parameters.get('r_in')
        if r_in is None and backend.get('evaluator') == 'tensorpot':
            # ZBL is added after the fit, with r_in = the shortest distance in the training data
            parameters['fit']['repulsion'] = 'auto'
            return
        if r_in is None:
            r_in = min_distance
        if r_in is None:
            raise ConfigError(
                'ZBL with the pyace backend needs r_in: give baseline_parameters r_in (Å) or the '
                "training data's shortest interatomic distance as min_distance"
            )
        POSITIVE(r_in, 'r_in')
        bond = {**DEFAULTS['zbl_bond'], 'r_in': r_in}
        if 'delta_in' in self.baseline_parameters:
            bond['delta_in'] = self.baseline_parameters['delta_in']
        parameters['potential']['bonds'].setdefault('ALL', {}).update(copy.deepcopy(bond))
        parameters['potential']['embeddings'].setdefault('ALL', {}).update(DEFAULTS['zbl_embedding'])
        if backend.get('evaluator', 'pyace') == 'pyace':
            backend.setdefault('parallel_mode', 'serial')

    @classmethod
    def from_pacemaker_input(cls, source: dict[str, t.Any] | str | os.PathLike[str]) -> TrainerConfig:
        """Read pacemaker's input (a dict, YAML text or the path of an ``input.yaml``).

        Rendering the result gives the input back, less ``data.filename``, ``data.test_filename`` and
        ``data.datapath`` (the CalcJob stages the data); an absent ``fit`` section renders as ``fit: {}``
        (pacemaker's defaults). ZBL (``fit.repulsion: auto`` or ``inner_cutoff_type: zbl``) gives
        ``physics_baseline='zbl'``.
        """
        parameters = copy.deepcopy(source) if isinstance(source, Mapping) else _load_yaml(source)
        if not isinstance(parameters, Mapping):
            raise ConfigError(f'pacemaker input must be a mapping (or an existing file), got {parameters!r}')
        parameters = dict(parameters)
        if isinstance(parameters.get('data'), Mapping):
            parameters['data'] = {k: v for k, v in parameters['data'].items() if k not in _STAGED_DATA_KEYS}
        validate_pacemaker_parameters(parameters)
        if 'potential' not in parameters:
            raise ConfigError('the `potential` section is missing')

        basis = dict(parameters['potential'])
        if 'cutoff' in parameters:
            basis['cutoff'] = parameters['cutoff']
        fitting_params = {key: parameters.get(key, {}) for key in _VERBATIM_SECTIONS}
        fitting_params.update({key: parameters[key] for key in ('seed', 'metadata') if key in parameters})
        baseline = 'zbl' if _zbl_configured(parameters) else 'none'
        return cls(ace_basis_config=basis, physics_baseline=baseline, fitting_params=fitting_params)

    def to_dict(self) -> dict[str, t.Any]:
        """A JSON-serialisable dict of the fields (for an AiiDA ``Dict``)."""
        return dataclasses.asdict(self)  # deep copies

    @classmethod
    def from_dict(cls, dictionary: Mapping[str, t.Any]) -> TrainerConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused with the closest field name."""
        fields = [field.name for field in dataclasses.fields(cls)]
        check_section(dictionary, 'TrainerConfig', dict.fromkeys(fields, ANY))
        if 'ace_basis_config' not in dictionary:
            raise ConfigError('`TrainerConfig.ace_basis_config` is missing')
        return cls(**copy.deepcopy(dict(dictionary)))
