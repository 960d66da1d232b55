"""Tests for `aiida_pacemaker.config`: validation of pacemaker's input and `TrainerConfig`."""

from __future__ import annotations

import copy
import json
import math
import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

from aiida_pacemaker.config import (
    DEFAULTS,
    SECTIONS,
    ConfigError,
    TrainerConfig,
    validate_pacemaker_parameters,
)

DELETE = object()

# a hand-written input that uses most of what pacemaker reads (explicit ZBL, so physics_baseline 'zbl')
FULL_INPUT = """\
cutoff: 6.0
seed: 7
metadata: {origin: hand-written, purpose: round trip}
potential:
  deltaSplineBins: 0.001
  elements: [Al, Ni]
  embeddings:
    ALL: {npot: FinnisSinclairShiftedScaled, fs_parameters: [1, 1, 1, 0.5], ndensity: 2,
          rho_core_cut: 3000, drho_core_cut: 500}
    Ni: {npot: FinnisSinclair, fs_parameters: [1, 1], ndensity: 1}
  bonds:
    ALL: {radbase: SBessel, radparameters: [5.25], rcut: 6.0, dcut: 0.01, NameOfCutoffFunction: cos,
          r_in: 1.8, delta_in: 0.2, inner_cutoff_type: zbl, core-repulsion: [0.0, 5.0]}
    Al Ni: {radbase: ChebExpCos, radparameters: [3.0], rcut: 5.5, dcut: 0.02}
  functions:
    number_of_functions_per_element: 40
    UNARY: {nradmax_by_orders: [15, 3, 2, 1], lmax_by_orders: [0, 3, 2, 1]}
    BINARY: {nradmax_by_orders: [15, 2, 1], lmax_by_orders: [0, 2, 1], coefs_init: zero}
    Ni Al: {nradmax_by_orders: [6, 2], lmax_by_orders: [0, 1]}
fit:
  loss: {kappa: auto, L1_coeffs: 1e-8, L2_coeffs: 1.0e-8, w0_rad: 1e-8, w1_rad: 0, w2_rad: 0, w_orth: 0}
  weighting: {type: EnergyBasedWeightingPolicy, DElow: 1.0, DEup: 10.0, DFup: 50.0, DE: 1.0, DF: 1.0,
              wlow: 0.75, energy: cohesive, reftype: bulk, seed: 42}
  optimizer: L-BFGS-B
  options: {maxcor: 100}
  maxiter: 500
  ladder_step: [10, 0.2]
  ladder_type: power_order
  fit_cycles: 2
  noise_relative_sigma: 0.01
  trainable_parameters: ALL
  min_relative_train_loss_per_iter: 5e-5
  early_stopping_patience: 50
backend: {evaluator: pyace, parallel_mode: serial, display_step: 10, imagetype: svg}
data:
  filename: train.pckl.gzip
  test_filename: test.pckl.gzip
  reference_energy: {Al: -0.1, Ni: -0.2, shift: 0.5}
  aug_factor: 1e-4
  ignore_weights: false
"""


def cu_parameters() -> dict:
    """Valid parameters for Cu (the rendered defaults)."""
    return TrainerConfig({'elements': ['Cu']}).to_pacemaker_parameters()


def put(parameters: dict, path: str, value: object) -> dict:
    """Set (or with DELETE remove) the value at a dotted key path, in place."""
    *parents, last = path.split('.')
    target = parameters
    for parent in parents:
        target = target[parent]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return parameters


def without_data_files(parameters: dict) -> dict:
    parameters = copy.deepcopy(parameters)
    for key in ('filename', 'test_filename'):
        parameters.get('data', {}).pop(key, None)
    return parameters


# ---------------------------------------------------------------- rendering

RENDERED = {
    'none': TrainerConfig({'elements': ['Cu'], 'cutoff': 5.5, 'number_of_functions_per_element': 20}),
    'zbl_tensorpot': TrainerConfig(
        {'elements': ['Al', 'Ni']}, physics_baseline='zbl', fitting_params={'test_size': 0.1, 'seed': 3}
    ),
    'zbl_pyace': TrainerConfig(
        {'elements': ['Cu'], 'cutoff': 5.0},
        physics_baseline='zbl',
        fitting_params={'evaluator': 'pyace', 'maxiter': 50, 'kappa': 0.5},
    ),
}


@pytest.mark.parametrize('name', RENDERED)
def test_rendered_sections(name, data_regression):
    parameters = RENDERED[name].to_pacemaker_parameters(min_distance=2.1)
    assert list(parameters) == [key for key in SECTIONS if key in parameters]
    assert 'filename' not in parameters['data']
    data_regression.check(parameters)


def test_rendered_zbl_pyace_mirrors_repulsion_auto():
    """The explicit ZBL keys are those that `fit: repulsion: auto` writes into the potential."""
    parameters = RENDERED['zbl_pyace'].to_pacemaker_parameters(min_distance=2.1)
    bond, embedding = parameters['potential']['bonds']['ALL'], parameters['potential']['embeddings']['ALL']
    expected = {'r_in': 2.1, 'delta_in': 0.1, 'inner_cutoff_type': 'zbl', 'core-repulsion': [1, 1]}
    assert expected.items() <= bond.items()
    assert {'rho_core_cut': 1, 'drho_core_cut': 1}.items() <= embedding.items()
    assert parameters['backend']['parallel_mode'] == 'serial'
    assert 'repulsion' not in parameters['fit']


def test_zbl_r_in_from_baseline_parameters():
    config = TrainerConfig(
        {'elements': ['Cu']}, physics_baseline='zbl', baseline_parameters={'r_in': 1.5, 'delta_in': 0.3}
    )
    parameters = config.to_pacemaker_parameters(min_distance=2.1)  # r_in given: explicit keys, tensorpot too
    assert {'r_in': 1.5, 'delta_in': 0.3, 'inner_cutoff_type': 'zbl'}.items() <= parameters['potential'][
        'bonds'
    ]['ALL'].items()
    assert 'repulsion' not in parameters['fit']


def test_zbl_pyace_needs_r_in():
    config = TrainerConfig(
        {'elements': ['Cu']}, physics_baseline='zbl', fitting_params={'evaluator': 'pyace'}
    )
    with pytest.raises(ConfigError, match='needs r_in'):
        config.to_pacemaker_parameters()


def test_zbl_pyace_process_mode_refused():
    config = TrainerConfig(
        {'elements': ['Cu']},
        physics_baseline='zbl',
        fitting_params={'evaluator': 'pyace', 'parallel_mode': 'process'},
    )
    with pytest.raises(ConfigError, match='use `parallel_mode: serial`'):
        config.to_pacemaker_parameters(min_distance=2.0)


def test_lj_renders_plain_ace():
    plain = TrainerConfig({'elements': ['Cu']}).to_pacemaker_parameters()
    lj = TrainerConfig({'elements': ['Cu']}, 'lj', {'epsilon': 0.4, 'sigma': 2.3}).to_pacemaker_parameters()
    assert lj == plain


@pytest.mark.parametrize('baseline', ['none', 'lj'])
def test_zbl_keys_need_zbl_baseline(baseline):
    config = TrainerConfig({'elements': ['Cu']}, baseline, fitting_params={'repulsion': 'auto'})
    with pytest.raises(ConfigError, match=r"`fit\.repulsion` configures ZBL.*physics_baseline='zbl'"):
        config.to_pacemaker_parameters()


def test_unknown_baseline():
    with pytest.raises(ConfigError, match='not a valid baseline; valid: lj, none, zbl'):
        TrainerConfig({'elements': ['Cu']}, physics_baseline='morse')


def test_defaults_and_overrides():
    config = TrainerConfig(
        {'elements': ['Cu'], 'nradmax_by_orders': [8, 2], 'lmax_by_orders': [0, 1]},
        fitting_params={
            'kappa': 0.1,
            'loss': {'kappa': 0.9, 'w_orth': 1.0},
            'batch_size': 20,
            'test_size': 0.2,
        },
    )
    parameters = config.to_pacemaker_parameters()
    assert parameters['cutoff'] == DEFAULTS['cutoff']
    assert parameters['potential']['bonds']['ALL']['rcut'] == DEFAULTS['cutoff']
    assert parameters['potential']['functions']['ALL'] == {
        'nradmax_by_orders': [8, 2],
        'lmax_by_orders': [0, 1],
    }
    assert parameters['fit']['loss'] == {'kappa': 0.1, 'L1_coeffs': 1e-8, 'L2_coeffs': 1e-8, 'w_orth': 1.0}
    assert parameters['backend'] == {'evaluator': 'tensorpot', 'batch_size': 20, 'display_step': 50}
    assert parameters['data'] == {'reference_energy': 0, 'test_size': 0.2}


def test_given_sections_are_rendered_without_defaults():
    bonds = {'ALL': {'rcut': 4.0, 'radbase': 'ChebPow', 'radparameters': [2.0]}}
    config = TrainerConfig(
        {'elements': ['Cu'], 'bonds': bonds, 'number_of_functions_per_element': 7},
        fitting_params={'fit': {'maxiter': 5}, 'data': {}, 'optimizer': 'L-BFGS-B'},
    )
    parameters = config.to_pacemaker_parameters()
    assert 'cutoff' not in parameters  # no cutoff given: pacemaker 0.4 uses the largest bonds rcut anyway
    assert parameters['potential']['bonds'] == bonds
    assert parameters['potential']['functions']['number_of_functions_per_element'] == 7
    assert parameters['fit'] == {'maxiter': 5, 'optimizer': 'L-BFGS-B'}
    assert parameters['data'] == {}


# ---------------------------------------------------------------- reading pacemaker's input


def template_input(elements: list[str], weighting: bool, test_size: bool) -> str:
    """pacemaker's `input.yaml` template filled in as `pacemaker -t` does (pyace/cli/pacemaker.py)."""
    from importlib.resources import files

    text = files('pyace.data').joinpath('input_template.yaml').read_text()
    weighting_text = (
        'weighting: { type: EnergyBasedWeightingPolicy, DElow: 1.0, DEup: 10.0, DFup: 50.0, DE: 1.0, '
        'DF: 1.0, wlow: 0.75, energy: convex_hull, reftype: all,seed: 42}'
    )
    replacements = {
        '{{ELEMENTS}}': str(elements),
        '{{RCUT}}': '7.0',
        '{{DATAFILENAME}}': 'data.pckl.gzip',
        '{{number_of_functions_per_element}}': 'number_of_functions_per_element: 700',
        '{{WEIGHTING}}': weighting_text if weighting else '',
        '{{test_size}}': 'test_size: 0.05' if test_size else '',
    }
    for old, new in replacements.items():
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize('elements', [['Cu'], ['Al', 'Ni']])
@pytest.mark.parametrize('weighting', [False, True])
@pytest.mark.parametrize('test_size', [False, True])
def test_round_trip_of_pacemaker_template(elements, weighting, test_size):
    pytest.importorskip('pyace')
    text = template_input(elements, weighting, test_size)
    original = yaml.load(text, Loader=yaml.SafeLoader)
    original['fit']['loss'] = {
        'kappa': 0.3,
        'L1_coeffs': 1e-8,
        'L2_coeffs': 1e-8,
    }  # YAML 1.1 reads `1e-8` as str

    config = TrainerConfig.from_pacemaker_input(text)
    assert config.physics_baseline == 'zbl'  # the template has `repulsion: auto`
    assert config.to_pacemaker_parameters() == without_data_files(original)
    if weighting:
        assert original['fit']['weighting']['reftype'] == 'all'


def full_input_dict() -> dict:
    """FULL_INPUT as pacemaker reads it (YAML 1.2: `1e-8` is a float; PyYAML's YAML 1.1 reads a string)."""
    parameters = yaml.load(FULL_INPUT, Loader=yaml.SafeLoader)
    parameters['fit']['loss'] |= {'L1_coeffs': 1e-8, 'w0_rad': 1e-8}
    parameters['fit']['min_relative_train_loss_per_iter'] = 5e-5
    parameters['data']['aug_factor'] = 1e-4
    return parameters


def test_round_trip_of_full_input(tmp_path):
    path = tmp_path / 'input.yaml'
    path.write_text(FULL_INPUT)
    expected = without_data_files(full_input_dict())
    assert set(expected) == set(SECTIONS)
    assert 'filename' not in expected['data'] and 'test_filename' not in expected['data']
    for source in (FULL_INPUT, path, str(path), full_input_dict()):
        config = TrainerConfig.from_pacemaker_input(source)
        assert config.physics_baseline == 'zbl'  # explicit `inner_cutoff_type: zbl`
        assert config.ace_basis_config['cutoff'] == 6.0
        assert config.to_pacemaker_parameters() == expected


def test_input_without_fit_section():
    parameters = without_data_files(cu_parameters())
    del parameters['fit']
    assert TrainerConfig.from_pacemaker_input(parameters).to_pacemaker_parameters() == parameters | {
        'fit': {}
    }


@pytest.mark.parametrize(
    ('source', 'match'),
    [
        ('no-such-file.yaml', 'must be a mapping'),
        ('potential: [unclosed', 'invalid YAML'),
        ('backend: {evaluator: pyace}', 'the `potential` section is missing'),
        ('potential: output_potential.yaml\nbackend: {evaluator: pyace}\n', '`initial_potential` input'),
    ],
)
def test_bad_pacemaker_input(source, match):
    with pytest.raises(ConfigError, match=match):
        TrainerConfig.from_pacemaker_input(source)


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ('path', 'value', 'match'),
    [
        # unknown keys, with the closest valid one
        ('fit.loss.kapa', 0.3, r'unknown key `fit\.loss\.kapa`; did you mean `kappa`\?'),
        ('fitt', {}, r'unknown key `fitt`; did you mean `fit`\?'),
        ('backend.batchsize', 10, r'`backend\.batchsize`; did you mean `batch_size`\?'),
        ('potential.bonds.ALL.rcutt', 5.0, r'`potential\.bonds\.ALL\.rcutt`; did you mean `rcut`\?'),
        (
            'potential.embeddings.ALL.ndensty',
            2,
            r'`potential\.embeddings\.ALL\.ndensty`; did you mean `ndensity`',
        ),
        ('potential.functions.ALL.lmax_by_order', [0], r'did you mean `lmax_by_orders`\?'),
        ('potential.element', 'Cu', r'`potential\.element` is not allowed.*`elements: \[\.\.\.\]`'),
        ('data.test_sise', 0.1, r'`data\.test_sise`; did you mean `test_size`\?'),
        ('fit.maxiterations', 10, r'did you mean `maxiter`\?'),
        (
            'fit.weighting',
            {'type': 'EnergyBasedWeightingPolicy', 'DElo': 1},
            r'`fit\.weighting\.DElo`.*`DElow`',
        ),
        ('potential.bonds.AL', {'rcut': 4.0}, r'`potential\.bonds\.AL`.*block name; did you mean `ALL`\?'),
        ('potential.bonds.Al', {'rcut': 4.0}, r'block `Al` names Al, which is not in `potential\.elements`'),
        ('potential.embeddings.Ni', {'ndensity': 2}, r'Ni, which is not in `potential\.elements`'),
        (
            'potential.embeddings.Cu Cu',
            {'ndensity': 2},
            r'`potential\.embeddings\.Cu Cu`.*not a valid block name',
        ),
        (
            'potential.functions.CuCu',
            {'lmax_by_orders': [0]},
            r'`potential\.functions\.CuCu` is not a block pacemaker',
        ),
        # file names: the CalcJob stages data and potentials
        ('data.filename', 'x.pckl.gzip', r'`data\.filename` is not allowed.*stages the training'),
        ('data.test_filename', 'y.pckl.gzip', r'`data\.test_filename` is not allowed.*stages'),
        ('data.datapath', '/data', r'`data\.datapath` is not allowed'),
        ('potential', 'output_potential.yaml', r'`potential` is a file name.*`initial_potential` input'),
        (
            'potential.initial_potential',
            'p.yaml',
            r'`potential\.initial_potential`.*`initial_potential` input',
        ),
        ('potential.filename', 'p.yaml', r'`potential\.filename`.*`initial_potential` input'),
        # test_size
        ('data.test_size', 0, r'`data\.test_size` = 0 crashes pacemaker.*leave the key out instead'),
        ('data.test_size', 0.0, r'leave the key out instead'),
        ('data.test_size', 1.0, r'`data\.test_size` must be a fraction in \(0, 1\)'),
        ('data.test_size', 1.5, r'fraction in \(0, 1\)'),
        ('data.test_size', -0.1, r'fraction in \(0, 1\)'),
        ('data.test_size', '10%', r'fraction in \(0, 1\)'),
        # non-positive numbers
        ('cutoff', 0, r'`cutoff` must be a cutoff radius between 1\.0 and 15\.0 Å .*got 0'),
        ('cutoff', -5.0, r'`cutoff` must be a cutoff radius between'),
        ('cutoff', 40.0, r'`cutoff` must be a cutoff radius between 1\.0 and 15\.0 Å .*got 40\.0'),
        ('potential.bonds.ALL.rcut', 0.0, r'`potential\.bonds\.ALL\.rcut` must be a cutoff radius between'),
        ('potential.bonds.ALL.dcut', -0.01, r'`potential\.bonds\.ALL\.dcut` must be a number >= 0'),
        ('fit.maxiter', 0, r'`fit\.maxiter` must be an integer > 0, got 0'),
        ('fit.maxiter', 10.5, r'`fit\.maxiter` must be an integer > 0'),
        ('backend.batch_size', 0, r'`backend\.batch_size` must be an integer > 0'),
        (
            'potential.functions.number_of_functions_per_element',
            0,
            r'number_of_functions_per_element` must be',
        ),
        ('fit.fit_cycles', -1, r'`fit\.fit_cycles` must be an integer > 0'),
        # types, NaN, inf
        ('fit', [1, 2], r'`fit` must be a dict'),
        ('backend', 'tensorpot', r'`backend` must be a dict'),
        ('fit.loss', 'default', r'`fit\.loss` must be a dict'),
        ('fit.loss.kappa', 'high', r'`fit\.loss\.kappa` must be a number >= 0 and <= 1'),
        ('fit.loss.kappa', 1.5, r'`fit\.loss\.kappa` must be a number >= 0 and <= 1'),
        ('fit.loss.kappa', math.nan, r'`fit\.loss\.kappa` must be a number'),
        ('fit.loss.L1_coeffs', math.inf, r'`fit\.loss\.L1_coeffs` must be a number >= 0'),
        ('fit.loss.L2_coeffs', '1e-8', r'`fit\.loss\.L2_coeffs` must be a number'),
        ('cutoff', True, r'`cutoff` must be a cutoff radius .*got True'),
        ('seed', 'abc', r'`seed` must be an integer'),
        ('metadata', ['x'], r'`metadata` must be a dict'),
        ('potential.bonds.ALL.radparameters', 5.25, r'`potential\.bonds\.ALL\.radparameters` must be a list'),
        ('potential.bonds.ALL.core-repulsion', [1, 2, 3], r'must be a list of 2'),
        # choices
        (
            'backend.evaluator',
            'tensorflow',
            r'`backend\.evaluator` = .tensorflow. .*did you mean `tensorpot`\?',
        ),
        ('backend.evaluator', 'jax', r'`backend\.evaluator`.*valid: pyace, tensorpot'),
        ('backend.parallel_mode', 'threads', r'`backend\.parallel_mode`.*valid: mpi, process, serial'),
        (
            'fit.optimizer',
            'BGFS',
            r'`fit\.optimizer` = .BGFS. is not a valid tensorpot optimizer; did you mean `BFGS`',
        ),
        ('fit.optimizer', 'Nelder-Mead', r'not a valid tensorpot optimizer'),
        ('fit.ladder_type', 'body-order', r'`fit\.ladder_type`.*did you mean `body_order`\?'),
        ('fit.ladder_step', 0, r'`fit\.ladder_step` must be an integer >= 1, a fraction in \(0, 1\)'),
        ('fit.ladder_step', [1, 2, 3], r'`fit\.ladder_step` must be'),
        ('fit.repulsion', 'zbl', r'`fit\.repulsion` = .zbl. is not a valid value; valid: auto'),
        (
            'fit.weighting',
            {'type': 'UniformWeightingPolicy'},
            r'leave `fit\.weighting` out for uniform weights',
        ),
        (
            'fit.weighting',
            {'type': 'EnergyBasedWeightingPolicie'},
            r'`fit\.weighting\.type`.*did you mean `EnergyBasedWeightingPolicy`',
        ),
        ('fit.weighting', {'DE': 1.0}, r'`fit\.weighting\.type` = None is not a valid weighting type'),
        ('fit.weighting', {'type': 'EnergyBasedWeightingPolicy', 'energy': 'convex'}, r'`convex_hull`'),
        ('fit.weighting', {'type': 'EnergyBasedWeightingPolicy', 'reftype': 'bulks'}, r'did you mean `bulk`'),
        (
            'fit.weighting',
            {'type': 'ExternalWeightingPolicy', 'filename_or_df': 'w.pckl'},
            r'w_energy, w_forces',
        ),
        ('potential.bonds.ALL.radbase', 'SBesel', r'did you mean `SBessel`\?'),
        ('potential.bonds.ALL.inner_cutoff_type', 'zbll', r'did you mean `zbl`\?'),
        ('potential.embeddings.ALL.npot', 'FinnisSinclairShifted', r'did you mean `FinnisSinclair'),
        ('data.reference_energy', 'automatic', r'`data\.reference_energy`.*did you mean `auto`\?'),
        ('data.reference_energy', {'Cu': 'x'}, r'`data\.reference_energy\.Cu` must be a number'),
        ('data.reference_energy', {'Cux': -1.0}, r'unknown key `data\.reference_energy\.Cux`'),
        # elements
        ('potential.elements', [], r'`potential\.elements` must be a non-empty list of chemical symbols'),
        ('potential.elements', 'Cu', r'`potential\.elements` must be a non-empty list'),
        ('potential.elements', ['Cu', 'Xx'], r'`potential\.elements\[1\]` = .Xx. is not a chemical symbol'),
        ('potential.elements', ['Cu', 'Cu'], r'lists an element more than once'),
        # consistency of the basis
        (
            'potential.embeddings.ALL.fs_parameters',
            [1, 1, 1],
            r'Cu has 3 fs_parameters, but needs 2 \* ndensity',
        ),
        (
            'potential.functions.ALL.lmax_by_orders',
            [0, 3],
            r'`potential\.functions\.ALL` needs .* same length',
        ),
        (
            'potential.bonds.ALL.r_in',
            6.0,
            r'`potential\.bonds\.ALL\.r_in` \(6\.0 Å\) must be smaller than its rcut',
        ),
        # missing sections
        ('backend', DELETE, r'the `backend` section is missing'),
        ('potential.bonds', DELETE, r'`potential\.bonds` is missing'),
        ('potential.embeddings', DELETE, r'`potential\.embeddings` is missing'),
    ],
)
def test_invalid_parameters(path, value, match):
    parameters = put(cu_parameters(), path, value)
    with pytest.raises(ConfigError, match=match):
        validate_pacemaker_parameters(parameters)


@pytest.mark.parametrize(
    ('path', 'value'),
    [
        ('data.test_size', 0.1),
        ('data.test_size', 20),  # a number of test structures (pyace/preparedata.py, train_test_split)
        ('fit.loss.kappa', 'auto'),
        ('fit.optimizer', 'L-BFGS-B'),
        ('fit.ladder_step', 0.25),
        ('fit.ladder_step', [20, 0.1]),
        ('data.reference_energy', 'auto'),
        ('data.reference_energy', {'Cu': -0.5}),
        ('potential.bonds.Cu', {'rcut': 4.5}),
        ('potential.functions.Cu', {'nradmax_by_orders': [4], 'lmax_by_orders': [0]}),
        ('potential.bonds.CuCu', {'rcut': 4.5}),
        ('potential', DELETE),  # pacemaker then needs `-p` (the CalcJob's initial_potential)
        ('fit', DELETE),
    ],
)
def test_valid_parameters(path, value):
    validate_pacemaker_parameters(put(cu_parameters(), path, value), data_elements=['Cu'])


def test_pyace_optimizers():
    parameters = put(cu_parameters(), 'backend', {'evaluator': 'pyace', 'parallel_mode': 'serial'})
    validate_pacemaker_parameters(put(parameters, 'fit.optimizer', 'Nelder-Mead'))
    with pytest.raises(ConfigError, match=r'not a valid pyace optimizer; did you mean `SLSQP`'):
        validate_pacemaker_parameters(put(parameters, 'fit.optimizer', 'SLSQ'))


@pytest.mark.parametrize('zbl', [('fit.repulsion', 'auto'), ('potential.bonds.ALL.inner_cutoff_type', 'zbl')])
def test_pyace_process_mode_with_zbl(zbl):
    parameters = put(cu_parameters(), 'backend', {'evaluator': 'pyace', 'parallel_mode': 'process'})
    validate_pacemaker_parameters(parameters)  # fine without ZBL
    with pytest.raises(ConfigError, match=rf'segfaults .*`{zbl[0]}`.*use `parallel_mode: serial`'):
        validate_pacemaker_parameters(put(parameters, *zbl))


def test_data_elements_must_be_in_potential():
    parameters = cu_parameters()
    validate_pacemaker_parameters(parameters, data_elements=['Cu'])
    with pytest.raises(
        ConfigError, match=r'training data contain Al, Ni, missing from `potential\.elements`'
    ):
        validate_pacemaker_parameters(parameters, data_elements=['Ni', 'Cu', 'Al'])


def test_parameters_must_be_a_dict():
    with pytest.raises(ConfigError, match='must be a dict'):
        validate_pacemaker_parameters(['potential'])


# ---------------------------------------------------------------- TrainerConfig fields


def test_to_dict_from_dict_round_trip():
    config = TrainerConfig(
        {'elements': ['Al', 'Ni'], 'cutoff': 6.0},
        physics_baseline='zbl',
        baseline_parameters={'r_in': 1.7},
        fitting_params={'evaluator': 'pyace', 'weighting': {'type': 'EnergyBasedWeightingPolicy'}},
        active_set_size=50,
    )
    dictionary = config.to_dict()
    assert json.loads(json.dumps(dictionary)) == dictionary
    assert TrainerConfig.from_dict(dictionary) == config
    assert TrainerConfig.from_dict(dictionary).to_pacemaker_parameters() == config.to_pacemaker_parameters()
    loaded = TrainerConfig.from_pacemaker_input(full_input_dict())
    assert TrainerConfig.from_dict(json.loads(json.dumps(loaded.to_dict()))) == loaded


@pytest.mark.parametrize(
    ('dictionary', 'match'),
    [
        (
            {'ace_basis_config': {'elements': ['Cu']}, 'fitting_param': {}},
            r'`TrainerConfig\.fitting_param`.*`fitting_params`',
        ),
        ({'physics_baseline': 'zbl'}, r'`TrainerConfig\.ace_basis_config` is missing'),
        (
            {'ace_basis_config': {'elements': ['Cu'], 'cutof': 5.0}},
            r'`ace_basis_config\.cutof`; did you mean `cutoff`',
        ),
        ({'ace_basis_config': {'elements': ['Cu']}, 'fitting_params': {'kapa': 1}}, r'did you mean `kappa`'),
        (
            {'ace_basis_config': {'elements': ['Cu']}, 'fitting_params': {'fit': 1}},
            r'`fitting_params\.fit` must be a dict',
        ),
        (
            {
                'ace_basis_config': {'elements': ['Cu']},
                'physics_baseline': 'zbl',
                'baseline_parameters': {'rin': 1},
            },
            r'`baseline_parameters\.rin`; did you mean `r_in`',
        ),
        (
            {
                'ace_basis_config': {'elements': ['Cu']},
                'physics_baseline': 'zbl',
                'baseline_parameters': {'r_in': 0},
            },
            r'`baseline_parameters\.r_in` must be a number > 0',
        ),
        (
            {'ace_basis_config': {'elements': ['Cu']}, 'active_set_size': 0},
            r'`active_set_size` must be an integer > 0',
        ),
        (
            {'ace_basis_config': {'elements': ['Cu']}, 'fitting_params': {'kappa': math.nan}},
            r'JSON-serialisable',
        ),
    ],
)
def test_from_dict_refuses(dictionary, match):
    with pytest.raises(ConfigError, match=match):
        TrainerConfig.from_dict(dictionary)


def test_invalid_cutoff_is_refused_when_the_config_is_made():
    with pytest.raises(ConfigError, match=r'`ace_basis_config\.cutoff` must be a cutoff radius'):
        TrainerConfig({'elements': ['Cu'], 'cutoff': -1.0})


# ---------------------------------------------------------------- pacemaker itself


@pytest.mark.pacemaker
@pytest.mark.parametrize('name', [*RENDERED, 'full_input'])
def test_pacemaker_accepts_rendered_input(name, tmp_path):
    """`pacemaker --dry-run` reads the rendered input and the data (about 2-6 s each)."""
    executable = shutil.which('pacemaker', path=os.path.dirname(sys.executable)) or shutil.which('pacemaker')
    if executable is None:
        pytest.skip('pacemaker is not installed')
    pandas = pytest.importorskip('pandas')
    from ase.build import bulk
    from ase.calculators.emt import EMT

    config = RENDERED[name] if name in RENDERED else TrainerConfig.from_pacemaker_input(FULL_INPUT)
    elements = config.ace_basis_config['elements']
    rows = []
    for index in range(10):  # test_size 0.1 must leave at least one test structure
        atoms = bulk(elements[0], 'fcc', a=3.7, cubic=True)
        atoms.symbols[1:] = elements[-1]
        atoms.rattle(0.05, seed=index)
        atoms.calc = EMT()
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        rows.append({'name': f's{index}', 'ase_atoms': atoms.copy(), 'energy': energy, 'forces': forces})
    pandas.DataFrame(rows).to_pickle(tmp_path / 'data.pckl.gzip', compression='gzip')
    parameters = config.to_pacemaker_parameters(min_distance=2.1)
    parameters['data']['filename'] = 'data.pckl.gzip'
    pathlib.Path(tmp_path / 'input.yaml').write_text(yaml.safe_dump(parameters))

    result = subprocess.run(
        [executable, 'input.yaml', '--dry-run'], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
