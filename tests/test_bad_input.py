"""Bad input is refused before anything runs, with a message that names the problem.

Every case builds what it needs first (stored nodes, codes, files), then counts the nodes in
the database, does the one bad thing, and checks that it raised with the expected message and
that nothing was stored meanwhile: no process node, no training set, no node at all.
"""

from __future__ import annotations

import functools
import math
import typing as t

import numpy as np
import pytest
from aiida import engine, orm
from aiida.engine import calcfunction
from ase import Atoms
from ase.build import bulk
from ase.calculators.singlepoint import SinglePointCalculator

from aiida_pacemaker.calculations.explore import PaceExploreCalculation
from aiida_pacemaker.calculations.select import PaceSelectCalculation
from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.cli.run_config import RunConfigError, read_config
from aiida_pacemaker.config import ConfigError, TrainerConfig, validate_pacemaker_parameters
from aiida_pacemaker.data import ActiveSetData, PacePotentialData, StructurePoolData, TrainingSetData
from aiida_pacemaker.data.potential import PotentialError
from aiida_pacemaker.data.training_set import TrainingSetError
from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
from aiida_pacemaker.tools.io import read_labelled_structures
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain
from aiida_pacemaker.workflows.protocols import ProtocolError, get_protocol

from .conftest import DUMMY_POTENTIAL, DUMMY_YACE, fast_parameters


@calcfunction
def atoms_labeller(atoms: orm.StructureData):
    """A labeller that names its input `atoms` instead of `structure`: refused by the convention."""
    return {'total_energy': orm.Float(0.0)}


# ---------------------------------------------------------------------------- what the cases use
class Kit:
    """Valid ingredients, made (and stored) on first use, before the nodes are counted."""

    def __init__(self, computer: orm.Computer, tmp_path) -> None:
        self.computer = computer
        self.tmp_path = tmp_path

    @functools.cached_property
    def code(self) -> orm.InstalledCode:
        return orm.InstalledCode(
            computer=self.computer, filepath_executable='/opt/pace/bin/pacemaker'
        ).store()

    @functools.cached_property
    def training_set(self) -> TrainingSetData:
        return TrainingSetData.from_ase(emt_label(random_bulk_structures(4, seed=0))).store()

    @functools.cached_property
    def alloy_training_set(self) -> TrainingSetData:
        structures = random_bulk_structures(2, element='Al', lattice_constant=4.05)
        return TrainingSetData.from_ase(emt_label(structures)).store()

    @functools.cached_property
    def potential(self) -> PacePotentialData:
        return PacePotentialData(DUMMY_POTENTIAL).store()

    @functools.cached_property
    def other_potential(self) -> PacePotentialData:
        return PacePotentialData(DUMMY_POTENTIAL.replace('c: [0.1]', 'c: [0.2]')).store()

    @functools.cached_property
    def active_set(self) -> ActiveSetData:
        return ActiveSetData(asi=b'not read here', potential=self.potential).store()

    def structures(self, count: int = 2, seed: int = 0, **kwargs: t.Any) -> dict[str, orm.StructureData]:
        atoms_list = random_bulk_structures(count, seed=seed, **kwargs)
        return {f's{i}': orm.StructureData(ase=atoms).store() for i, atoms in enumerate(atoms_list)}

    def train_inputs(self, **changes: t.Any) -> dict[str, t.Any]:
        inputs = {
            'code': self.code,
            'training_set': self.training_set,
            'parameters': orm.Dict(fast_parameters()),
        }
        return {**inputs, **changes}

    def active_learning_inputs(self, **changes: t.Any) -> dict[str, t.Any]:
        inputs = {
            'training_set': self.training_set,
            'pool': self.structures(2, seed=5),
            'labeller': {
                'process': orm.Str('pacemaker.label_ase'),
                'inputs': {'calculator': orm.Str('ase.calculators.emt.EMT')},
            },
            'train': self.fit_inputs(),
            'activeset': {'code': self.code},
            'select': {'code': self.code},
        }
        for key, value in changes.items():
            if value is None:
                inputs.pop(key, None)
            else:
                inputs[key] = value
        return inputs

    def fit_inputs(self, **changes: t.Any) -> dict[str, t.Any]:
        """The active learning's `train` namespace: the code and :func:`parameters` with ``changes``."""
        return {'train': {'code': self.code, 'parameters': orm.Dict(parameters(**changes))}}

    def file(self, name: str, content: str):
        path = self.tmp_path / name
        path.write_text(content)
        return path


def labelled(
    energy: float | None = -3.5,
    forces: t.Any = 'zeros',
    stress: t.Any = None,
    cell: t.Any = None,
    pbc: t.Any = True,
    info: dict | None = None,
) -> Atoms:
    """A 4-atom Cu cell with a SinglePointCalculator holding the given labels (None: label absent)."""
    atoms = bulk('Cu', 'fcc', a=3.61, cubic=True)
    if cell is not None:
        atoms.set_cell(cell)
    atoms.pbc = pbc
    atoms.info.update(info or {})
    labels: dict[str, t.Any] = {}
    if energy is not None:
        labels['energy'] = energy
    if forces is not None:
        labels['forces'] = np.zeros((len(atoms), 3)) if isinstance(forces, str) else forces
    if stress is not None:
        labels['stress'] = stress
    atoms.calc = SinglePointCalculator(atoms, **labels)
    return atoms


def slab():
    """A Cu(100) slab: periodic in x and y only."""
    from ase.build import fcc100

    return fcc100('Cu', size=(1, 1, 3), vacuum=5.0)


def parameters(**changes: t.Any) -> dict[str, t.Any]:
    """fast_parameters() with ``changes`` applied at dotted key paths (``fit.loss.kappa``)."""
    result = fast_parameters()
    for path, value in changes.items():
        *parents, last = path.split('__')
        target = result
        for parent in parents:
            target = target.setdefault(parent, {})
        target[last] = value
    return result


def trainer(**fitting_params: t.Any) -> TrainerConfig:
    return TrainerConfig(ace_basis_config={'elements': ['Cu'], 'cutoff': 5.0}, fitting_params=fitting_params)


def run_train(kit: Kit, **changes: t.Any) -> t.Callable[[], t.Any]:
    inputs = kit.train_inputs(**changes)
    return lambda: engine.run(PaceTrainCalculation, **inputs)


def run_with_potential(process: type, kit: Kit, inputs: dict[str, t.Any]) -> t.Callable[[], t.Any]:
    """Run ``process`` (explore, select) with the kit's code, potential and active set and ``inputs``."""
    inputs = {'code': kit.code, 'potential': kit.potential, 'active_set': kit.active_set, **inputs}
    return lambda: engine.run(process, **inputs)


def run_explore(kit: Kit, **changes: t.Any) -> t.Callable[[], t.Any]:
    return run_with_potential(PaceExploreCalculation, kit, {'structures': kit.structures(1), **changes})


def builder_from_protocol(kit: Kit, **kwargs: t.Any) -> t.Callable[[], t.Any]:
    codes = {'pacemaker': kit.code, 'pace_activeset': kit.code, 'pace_select': kit.code}
    kwargs = {'training_set': kit.training_set, 'pool': kit.structures(2), **kwargs}
    return lambda: PaceActiveLearningWorkChain.get_builder_from_protocol(codes, **kwargs)


def run_select(kit: Kit, **changes: t.Any) -> t.Callable[[], t.Any]:
    return run_with_potential(PaceSelectCalculation, kit, {'candidates': kit.structures(2), **changes})


def kit_atoms(kit: Kit, count: int) -> list[Atoms]:
    return [structure.get_ase() for structure in kit.structures(count).values()]


def pool_of(*atoms: Atoms) -> StructurePoolData:
    return StructurePoolData.from_ase(list(atoms)).store()


def run_active_learning(kit: Kit, **changes: t.Any) -> t.Callable[[], t.Any]:
    inputs = kit.active_learning_inputs(**changes)
    return lambda: engine.run(PaceActiveLearningWorkChain, **inputs)


# ---------------------------------------------------------------------------- the cases
# (id, build(kit) -> the bad action, exception class, regular expression the message must match)
Case = tuple[str, t.Callable[[Kit], t.Callable[[], t.Any]], type[Exception], str]
NAN, INF = math.nan, math.inf

CASES: list[Case] = [
    # ---- TrainingSetData
    (
        'data-nan-energy',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(energy=NAN)]),
        TrainingSetError,
        r'structure 0 .* non-finite energy: nan',
    ),
    (
        'data-inf-forces',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(), labelled(forces=np.full((4, 3), INF))]),
        TrainingSetError,
        r'structure 1 .* non-finite forces',
    ),
    (
        'data-force-shape',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(forces=np.zeros((3, 3)))]),
        TrainingSetError,
        r'forces of shape \(3, 3\), expected \(4, 3\) for 4 atoms',
    ),
    (
        'data-missing-energy',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(energy=None)]),
        TrainingSetError,
        r'structure 0 has no energy label',
    ),
    (
        'data-missing-forces',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(forces=None)]),
        TrainingSetError,
        r'structure 0 has no force labels',
    ),
    (
        'data-no-calculator',
        lambda kit: lambda: TrainingSetData.from_ase([bulk('Cu', 'fcc', a=3.61)]),
        TrainingSetError,
        r'no calculator holding its labels',
    ),
    (
        'data-empty',
        lambda kit: lambda: TrainingSetData.from_ase([]),
        TrainingSetError,
        r'the training set is empty',
    ),
    (
        'data-zero-volume-cell',
        lambda kit: (
            lambda: TrainingSetData.from_ase([labelled(cell=[[3.61, 0, 0], [0, 3.61, 0], [0, 0, 0]])])
        ),
        TrainingSetError,
        r'periodic but its cell has zero volume',
    ),
    (
        'data-partial-pbc',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(pbc=[True, True, False])]),
        TrainingSetError,
        r'periodic in only some directions \(pbc=\[True, True, False\]\)',
    ),
    (
        'data-huge-forces',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(forces=np.full((4, 3), 2.0e5))]),
        TrainingSetError,
        r'force component of 2e\+05 eV/Å .* are the forces in eV/Å\?',
    ),
    (
        'data-non-finite-stress',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(stress=[0, 0, 0, 0, 0, NAN])]),
        TrainingSetError,
        r'non-finite stress',
    ),
    (
        'data-negative-weight',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(info={'w_energy': -1.0})]),
        TrainingSetError,
        r'invalid weight w_energy=-1\.0',
    ),
    (
        'data-nan-weight',
        lambda kit: lambda: TrainingSetData.from_ase([labelled(info={'w_forces': NAN})]),
        TrainingSetError,
        r'invalid weight w_forces=nan',
    ),
    # ---- TrainerConfig and validate_pacemaker_parameters
    (
        'config-unknown-key',
        lambda kit: lambda: TrainerConfig(ace_basis_config={'elements': ['Cu'], 'cutof': 5.0}),
        ConfigError,
        r'unknown key `ace_basis_config\.cutof`; did you mean `cutoff`\?',
    ),
    (
        'config-unknown-section',
        lambda kit: lambda: validate_pacemaker_parameters({**fast_parameters(), 'fitt': {}}),
        ConfigError,
        r'unknown key `fitt`; did you mean `fit`\?',
    ),
    (
        'config-misspelled-loss-key',
        lambda kit: lambda: validate_pacemaker_parameters(parameters(fit__loss__kapa=0.3)),
        ConfigError,
        r'unknown key `fit\.loss\.kapa`; did you mean `kappa`\?',
    ),
    (
        'config-misspelled-flat-loss-key',
        lambda kit: lambda: trainer(L2_coefs=1e-8),
        ConfigError,
        r'unknown key `fitting_params\.L2_coefs`; did you mean `L2_coeffs`\?',
    ),
    (
        'config-test-size-zero',
        lambda kit: lambda: trainer(test_size=0).to_pacemaker_parameters(),
        ConfigError,
        r'`data\.test_size` = 0 crashes pacemaker; .* leave the key out',
    ),
    (
        'config-negative-cutoff',
        lambda kit: (
            lambda: TrainerConfig(
                ace_basis_config={'elements': ['Cu'], 'cutoff': -5.0}
            ).to_pacemaker_parameters()
        ),
        ConfigError,
        r'`ace_basis_config\.cutoff` must be a cutoff radius between 1\.0 and 15\.0 Å .*got -5\.0',
    ),
    (
        'config-zero-cutoff',
        lambda kit: (
            lambda: TrainerConfig(
                ace_basis_config={'elements': ['Cu'], 'cutoff': 0}
            ).to_pacemaker_parameters()
        ),
        ConfigError,
        r'`ace_basis_config\.cutoff` must be a cutoff radius between 1\.0 and 15\.0 Å .*got 0',
    ),
    (
        'config-zero-rcut',
        lambda kit: lambda: validate_pacemaker_parameters(parameters(potential__bonds__ALL__rcut=0.0)),
        ConfigError,
        r'`potential\.bonds\.ALL\.rcut` must be a cutoff radius between 1\.0 and 15\.0 Å .*got 0\.0',
    ),
    (
        'config-unknown-optimizer',
        lambda kit: lambda: trainer(optimizer='BFSG').to_pacemaker_parameters(),
        ConfigError,
        r'`fit\.optimizer` = \'BFSG\' is not a valid tensorpot optimizer; did you mean `BFGS`\?',
    ),
    (
        'config-optimizer-of-other-backend',
        lambda kit: lambda: trainer(evaluator='tensorpot', optimizer='Nelder-Mead').to_pacemaker_parameters(),
        ConfigError,
        r'`fit\.optimizer` = \'Nelder-Mead\' is not a valid tensorpot optimizer',
    ),
    (
        'config-unknown-evaluator',
        lambda kit: lambda: validate_pacemaker_parameters(parameters(backend__evaluator='tensorpott')),
        ConfigError,
        r'`backend\.evaluator` = \'tensorpott\' is not a valid value; did you mean `tensorpot`\?',
    ),
    (
        'config-data-elements-not-in-potential',
        lambda kit: lambda: validate_pacemaker_parameters(fast_parameters(), data_elements=['Al', 'Cu']),
        ConfigError,
        r'the training data contain Al, missing from `potential\.elements` \[\'Cu\'\]',
    ),
    (
        'config-filename-in-data',
        lambda kit: (
            lambda: validate_pacemaker_parameters(parameters(data__filename='/home/me/data.pckl.gzip'))
        ),
        ConfigError,
        r'`data\.filename` is not allowed: the pacemaker\.train CalcJob stages the training and test data',
    ),
    (
        'config-potential-filename',
        lambda kit: lambda: validate_pacemaker_parameters({**fast_parameters(), 'potential': 'pot.yaml'}),
        ConfigError,
        r'`potential` is a file name .* use its `initial_potential` input',
    ),
    (
        'config-section-not-a-dict',
        lambda kit: lambda: validate_pacemaker_parameters({**fast_parameters(), 'fit': 'BFGS'}),
        ConfigError,
        r'`fit` must be a dict, got str',
    ),
    (
        'config-nan-value',
        lambda kit: lambda: validate_pacemaker_parameters(parameters(fit__loss__L1_coeffs=NAN)),
        ConfigError,
        r'`fit\.loss\.L1_coeffs` must be a number >= 0, got nan',
    ),
    (
        'config-nan-in-trainer',
        lambda kit: lambda: trainer(kappa=NAN),
        ConfigError,
        r'TrainerConfig must be JSON-serialisable',
    ),
    (
        'config-unknown-baseline',
        lambda kit: lambda: TrainerConfig(ace_basis_config={'elements': ['Cu']}, physics_baseline='ljj'),
        ConfigError,
        r'`physics_baseline` = \'ljj\' is not a valid baseline; did you mean `lj`\?',
    ),
    # ---- CalcJob inputs
    (
        'train-initial-potential-lacks-element',
        lambda kit: run_train(kit, training_set=kit.alloy_training_set, initial_potential=kit.potential),
        ValueError,
        r'the training data hold elements \[\'Al\'\] that the initial potential PacePotentialData<\d+>',
    ),
    (
        'train-test-set-and-test-size',
        lambda kit: run_train(
            kit, test_set=kit.training_set, parameters=orm.Dict(parameters(data__test_size=0.1))
        ),
        ValueError,
        r'give either a `test_set` or `data\.test_size`',
    ),
    (
        'train-invalid-parameters',
        lambda kit: run_train(kit, parameters=orm.Dict(parameters(fit__optimizer='BFSG'))),
        ValueError,
        r'invalid `parameters`: `fit\.optimizer` = \'BFSG\'',
    ),
    (
        'train-ladder-with-initial-potential',
        lambda kit: run_train(
            kit, parameters=orm.Dict(parameters(fit__ladder_step=10)), initial_potential=kit.potential
        ),
        ValueError,
        r'`fit\.ladder_step` with an `initial_potential` makes pacemaker discard the initial potential',
    ),
    (
        'trainer-active-set-size-without-function-count',
        lambda kit: (
            lambda: TrainerConfig(
                ace_basis_config={'elements': ['Cu'], 'functions': {'ALL': {'nradmax_by_orders': [6, 3]}}},
                active_set_size=50,
            )
        ),
        ConfigError,
        r'`active_set_size` needs `number_of_functions_per_element` in the functions of the basis',
    ),
    (
        'select-mismatched-active-set',
        lambda kit: run_select(kit, potential=kit.other_potential),
        ValueError,
        r'ActiveSetData<\d+> belongs to potential .* build an active set for this potential',
    ),
    (
        'select-memory-limit-injection',
        lambda kit: run_select(kit, parameters=orm.Dict({'memory_limit': '2GB; rm -rf ~'})),
        ValueError,
        r'`memory_limit` must be `auto` or a size like `2GB`',
    ),
    (
        'select-unknown-option',
        lambda kit: run_select(kit, parameters=orm.Dict({'max_structure': 3})),
        ValueError,
        r'unknown key `max_structure`; did you mean `max_structures`\?',
    ),
    (
        'select-fill-without-budget',
        lambda kit: run_select(kit, parameters=orm.Dict({'fill_to_max': True})),
        ValueError,
        r'`fill_to_max` needs `max_structures`',
    ),
    (
        'select-fill-by-without-fill',
        lambda kit: run_select(kit, parameters=orm.Dict({'fill_by': 'random', 'max_structures': 2})),
        ValueError,
        r'`fill_by` chooses how `fill_to_max` fills: set `fill_to_max: true` as well',
    ),
    (
        'select-fill-by-unknown',
        lambda kit: run_select(
            kit, parameters=orm.Dict({'fill_to_max': True, 'fill_by': 'diversity', 'max_structures': 2})
        ),
        ValueError,
        r'`fill_by` = \'diversity\' is not a valid value; valid: grade, random',
    ),
    (
        'select-fill-not-bool',
        lambda kit: run_select(kit, parameters=orm.Dict({'fill_to_max': 'yes', 'max_structures': 2})),
        ValueError,
        r'`fill_to_max` must be true or false',
    ),
    (
        'select-candidate-element-unknown',
        lambda kit: run_select(kit, candidates=kit.structures(1, element='Al', lattice_constant=4.05)),
        ValueError,
        r'candidate `s0` holds elements \[\'Al\'\] that the potential does not know',
    ),
    (
        'select-empty-candidates',
        lambda kit: run_select(kit, candidates={}),
        ValueError,
        r'give at least one structure in `candidates`',
    ),
    (
        'select-candidate-named-like-a-pool-structure',
        lambda kit: run_select(kit, pool=StructurePoolData.from_ase(kit_atoms(kit, 1), ['s0']).store()),
        ValueError,
        r'`candidates\.s0` has the name of a `pool` structure: rename it',
    ),
    (
        'select-exclude-without-pool',
        lambda kit: run_select(kit, exclude=orm.List(['p000000'])),
        ValueError,
        r'`exclude` names structures of the `pool`: give the `pool`, or drop `exclude`',
    ),
    (
        'select-exclude-everything',
        lambda kit: run_select(
            kit,
            candidates={},
            pool=pool_of(bulk('Cu', 'fcc', a=3.6, cubic=True)),
            exclude=orm.List(['p000000']),
        ),
        ValueError,
        r'`exclude` leaves out every structure of the `pool`: nothing is left to select from',
    ),
    (
        'select-pool-element-unknown',
        lambda kit: run_select(kit, candidates={}, pool=pool_of(bulk('Al', 'fcc', a=4.05, cubic=True))),
        ValueError,
        r"the `pool` holds elements \['Al'\] that the potential does not know",
    ),
    (
        'explore-gamma-select-above-stop',
        lambda kit: run_explore(kit, parameters=orm.Dict({'gamma_select': 10.0, 'gamma_stop': 5.0})),
        ValueError,
        r'`gamma_select` must be smaller than `gamma_stop`',
    ),
    # ---- WorkChain inputs
    (
        'workchain-no-training-data',
        lambda kit: run_active_learning(kit, training_set=None),
        ValueError,
        r'give an initial labelled `training_set` or unlabelled `structures`',
    ),
    (
        'workchain-no-pool-or-explore',
        lambda kit: run_active_learning(kit, pool=None),
        ValueError,
        r'give a candidate `pool` of structures \(or a `structure_pool`\) and/or `explore\.structures`',
    ),
    (
        'workchain-pool-and-structure-pool',
        lambda kit: run_active_learning(kit, structure_pool=pool_of(bulk('Cu', 'fcc', a=3.6, cubic=True))),
        ValueError,
        r'give the candidates either as StructureData nodes \(`pool`\) or as one node \(`structure_pool`\)',
    ),
    (
        'workchain-structure-pool-unknown-element',
        lambda kit: run_active_learning(
            kit, pool=None, structure_pool=pool_of(bulk('Al', 'fcc', a=4.05, cubic=True))
        ),
        ValueError,
        r"`structure_pool` holds Al, which the potential's elements \['Cu'\] do not include",
    ),
    (
        'workchain-unknown-labeller',
        lambda kit: run_active_learning(
            kit, labeller={'process': orm.Str('pacemaker.label_dft'), 'inputs': {}}
        ),
        ValueError,
        r'no labeller `pacemaker\.label_dft`',
    ),
    (
        'workchain-labeller-not-importable',
        lambda kit: run_active_learning(
            kit, labeller={'process': orm.Str('my_labs.dft:Labeller'), 'inputs': {}}
        ),
        ValueError,
        r'cannot import the labeller `my_labs\.dft:Labeller`',
    ),
    (
        'workchain-labeller-without-structure',
        lambda kit: run_active_learning(
            kit, labeller={'process': orm.Str(f'{__name__}:atoms_labeller'), 'inputs': {}}
        ),
        ValueError,
        r'takes no `structure` input',
    ),
    (
        'workchain-test-set-overlaps-training-set',
        lambda kit: run_active_learning(kit, test_set=kit.training_set),
        ValueError,
        r'4 structure\(s\) of the `test_set` are also in the `training_set`',
    ),
    # ---- protocols
    (
        'protocol-unknown-name',
        lambda kit: lambda: get_protocol('fastest'),
        ProtocolError,
        r'unknown protocol `fastest`; choose one of fast, balanced, precise',
    ),
    (
        'protocol-unknown-override',
        lambda kit: lambda: get_protocol('fast', overrides={'max_cycle': 2}),
        ProtocolError,
        r'unknown override `max_cycle`; did you mean `max_cycles`\?',
    ),
    (
        'protocol-unknown-nested-override',
        lambda kit: lambda: get_protocol('fast', overrides={'trainer': {'fiting_params': {}}}),
        ProtocolError,
        r'unknown override `trainer\.fiting_params`; did you mean `fitting_params`\?',
    ),
    (
        'protocol-builder-bad-fitting-param',
        lambda kit: builder_from_protocol(
            kit, protocol='fast', overrides={'trainer': {'fitting_params': {'maxiterr': 5}}}
        ),
        ConfigError,
        r'unknown key `fitting_params\.maxiterr`; did you mean `maxiter`\?',
    ),
    # ---- files
    (
        'potential-file-not-a-potential',
        lambda kit: lambda: PacePotentialData(kit.file('input.yaml', 'cutoff: 5\nfit: {maxiter: 10}\n')),
        PotentialError,
        r'not a pacemaker B-basis potential: it has no `species` blocks',
    ),
    (
        'potential-malformed-yaml',
        lambda kit: lambda: PacePotentialData(kit.file('broken.yaml', 'species: [\n  - speciesblock: Cu\n')),
        PotentialError,
        r'the potential is not valid YAML',
    ),
    (
        'potential-empty-yace',
        lambda kit: lambda: PacePotentialData(DUMMY_POTENTIAL, potential_yace=b'  \n'),
        PotentialError,
        r'the \.yace file is empty',
    ),
    (
        'potential-garbage-yace',
        lambda kit: lambda: PacePotentialData(DUMMY_POTENTIAL, potential_yace=b'not an ACE potential at all'),
        PotentialError,
        r'the \.yace is not a pace_yaml2yace file',
    ),
    (
        'potential-yace-of-other-elements',
        lambda kit: (
            lambda: PacePotentialData(DUMMY_POTENTIAL, potential_yace=DUMMY_YACE.replace('[Cu]', '[Al]'))
        ),
        PotentialError,
        r"the \.yace is for elements \['Al'\], the \.yaml for \['Cu'\]",
    ),
    (
        'potential-path-that-is-not-a-file',
        lambda kit: lambda: PacePotentialData('no/such/potential.yaml'),
        PotentialError,
        r'no file `no/such/potential\.yaml`: give the path of a potential file',
    ),
    (
        'pacemaker-input-malformed-yaml',
        lambda kit: lambda: TrainerConfig.from_pacemaker_input(kit.file('input.yaml', 'fit: {maxiter: 10\n')),
        ConfigError,
        r'invalid YAML',
    ),
    (
        'extxyz-malformed',
        lambda kit: (
            lambda: read_labelled_structures(
                kit.file('bad.extxyz', '3\nProperties=species:S:1:pos:R:3 energy=1.0 pbc="T T T"\nCu 0 0 0\n')
            )
        ),
        ValueError,
        r'ASE cannot read it',
    ),
    (
        'extxyz-without-forces',
        lambda kit: (
            lambda: read_labelled_structures(
                kit.file(
                    'noforces.extxyz',
                    '1\nProperties=species:S:1:pos:R:3 energy=1.0 pbc="T T T" Lattice="4 0 0 0 4 0 0 0 4"\nCu 0 0 0\n',
                )
            )
        ),
        ValueError,
        r'structure 0 \(Cu\) has no forces',
    ),
    # ---- active learning: refused before the first process starts
    (
        'al-empty-gamma-window',
        lambda kit: run_active_learning(kit, gamma_select=orm.Float(5.0), gamma_max=orm.Float(2.0)),
        ValueError,
        r'the gamma window is empty: `gamma_max` \(2.0\) must be larger than `gamma_select` \(5\)',
    ),
    (
        'al-ungraded-candidates',
        lambda kit: run_active_learning(
            kit, select={'code': kit.code, 'parameters': orm.Dict({'grade_candidates': False})}
        ),
        ValueError,
        r'`select.parameters.grade_candidates: false` leaves the candidates ungraded.*: remove it',
    ),
    (
        'al-two-distance-floors',
        lambda kit: run_active_learning(
            kit,
            select={
                'code': kit.code,
                'parameters': orm.Dict({'min_distance': 1.8, 'min_distance_factor': 0.8}),
            },
        ),
        ValueError,
        r'`min_distance` \(Å\) and `min_distance_factor` .* set the same floor: give one of them',
    ),
    (
        'al-zero-budget',
        lambda kit: run_active_learning(kit, max_new_structures_per_cycle=orm.Int(0)),
        ValueError,
        r'`max_new_structures_per_cycle` must be an integer of at least 1 .* got 0',
    ),
    (
        'al-zero-cycles',
        lambda kit: run_active_learning(kit, max_cycles=orm.Int(0)),
        ValueError,
        r'`max_cycles` must be an integer of at least 1 .* got 0',
    ),
    (
        'al-negative-cycles',
        lambda kit: run_active_learning(kit, max_cycles=orm.Int(-1)),
        ValueError,
        r'`max_cycles` must be an integer of at least 1 .* got -1',
    ),
    (
        'al-negative-gamma',
        lambda kit: run_active_learning(kit, gamma_select=orm.Float(-5.0)),
        ValueError,
        r'`gamma_select` must be a non-negative number .* got -5.0',
    ),
    (
        'al-elements-miss-the-data',
        lambda kit: run_active_learning(
            kit,
            train={
                'train': {
                    'code': kit.code,
                    'parameters': orm.Dict(
                        fast_parameters()
                        | {'potential': {**fast_parameters()['potential'], 'elements': ['Al']}}
                    ),
                }
            },
        ),
        ValueError,
        r"`training_set` holds Cu, which the potential's elements \['Al'\] do not include",
    ),
    (
        'al-pool-unknown-element',
        lambda kit: run_active_learning(kit, pool={'al': orm.StructureData(ase=bulk('Al', 'fcc', a=4.05))}),
        ValueError,
        r"`pool.al` holds Al, which the potential's elements \['Cu'\] do not include",
    ),
    (
        'al-slab-in-pool',
        lambda kit: run_active_learning(kit, pool={'slab': orm.StructureData(ase=slab())}),
        ValueError,
        r'`pool.slab` is periodic in only some directions .* add vacuum wider than the cutoff',
    ),
    (
        'al-slab-in-structures',
        lambda kit: run_active_learning(kit, structures={'slab': orm.StructureData(ase=slab())}),
        ValueError,
        r'`structures.slab` is periodic in only some directions',
    ),
    (
        'al-ladder-with-fine-tuning',
        lambda kit: run_active_learning(
            kit,
            train=kit.fit_inputs(fit__ladder_step=[10, 0.2]),
        ),
        ValueError,
        r'`fit.ladder_step` grows the basis from an empty potential, which fine-tuning cannot continue',
    ),
    (
        'al-initial-potential-of-other-elements',
        lambda kit: run_active_learning(
            kit,
            training_set=kit.alloy_training_set,
            pool={'p': orm.StructureData(ase=bulk('Al', 'fcc', a=4.05, cubic=True)).store()},
            initial_potential=kit.potential,
            train=kit.fit_inputs(potential__elements=['Al']),
        ),
        ValueError,
        r"`initial_potential` PacePotentialData<\d+> has the elements \['Cu'\], the fit \['Al'\]",
    ),
    (
        'al-initial-potential-with-ladder',
        lambda kit: run_active_learning(
            kit,
            initial_potential=kit.potential,
            fine_tune=orm.Bool(False),
            train=kit.fit_inputs(fit__ladder_step=[10, 0.2]),
        ),
        ValueError,
        r'`fit.ladder_step` grows a new basis from an empty potential, which would discard the `initial_potential`',
    ),
    (
        'al-validate-non-cubic-elastic',
        lambda kit: run_active_learning(
            kit,
            validate={
                'structures': {'hcp': orm.StructureData(ase=bulk('Cu', 'hcp', a=2.56)).store()},
                'parameters': orm.Dict({'elastic': {}}),
            },
        ),
        ValueError,
        r'`validate`: .*cubic',
    ),
    (
        'al-validate-element-of-no-potential',
        lambda kit: run_active_learning(
            kit,
            validate={
                'structures': {'al': orm.StructureData(ase=bulk('Al', 'fcc', a=4.05, cubic=True)).store()},
                'parameters': orm.Dict({'eos': {}}),
            },
        ),
        ValueError,
        r'`validate`: .*Al',
    ),
    (
        'al-refit-tolerance',
        lambda kit: run_active_learning(kit, refit_tolerance=orm.Float(-2.0)),
        ValueError,
        r'`refit_tolerance` must be a number of at least -1',
    ),
    (
        'al-calculator-is-not-a-calculator',
        lambda kit: run_active_learning(
            kit,
            labeller={
                'process': orm.Str('pacemaker.label_ase'),
                'inputs': {
                    'calculator': orm.Str('os.system'),
                    'calculator_kwargs': orm.Dict({'command': 'true'}),
                },
            },
        ),
        ValueError,
        r'`os.system` is not an ASE calculator class',
    ),
    (
        'al-ase-labeller-without-calculator',
        lambda kit: run_active_learning(kit, labeller={'process': orm.Str('pacemaker.label_ase')}),
        ValueError,
        r'the labeller `pacemaker\.label_ase` needs `labeller\.inputs\.calculator` \(the same for every structure\)',
    ),
    (
        'al-active-set-options',
        lambda kit: run_active_learning(
            kit, activeset={'code': kit.code, 'parameters': orm.Dict({'batch_size': 10})}
        ),
        ValueError,
        r'pace_activeset needs `all_atoms: true` when a `batch_size` is given',
    ),
    (
        'train-active-set-options',
        lambda kit: run_train(kit, active_set_parameters=orm.Dict({'maxvol_iter': 5})),
        ValueError,
        r'invalid `active_set_parameters`: unknown key `maxvol_iter`; did you mean `maxvol_iters`\?',
    ),
    (
        'al-calculator-unknown-kwarg',
        lambda kit: run_active_learning(
            kit,
            labeller={
                'process': orm.Str('pacemaker.label_ase'),
                'inputs': {
                    'calculator': orm.Str('ase.calculators.emt.EMT'),
                    'calculator_kwargs': orm.Dict({'asap_cutof': True}),
                },
            },
        ),
        ValueError,
        r'`EMT` takes no argument `asap_cutof`; did you mean `asap_cutoff`\?',
    ),
    (
        'trainer-cutoff-too-small',
        lambda kit: (
            lambda: TrainerConfig(
                ace_basis_config={'elements': ['Cu'], 'cutoff': 0.1}
            ).to_pacemaker_parameters()
        ),
        ConfigError,
        r'`ace_basis_config.cutoff` must be a cutoff radius between 1.0 and 15.0 Å',
    ),
    (
        'trainer-cutoff-huge',
        lambda kit: (
            lambda: TrainerConfig(
                ace_basis_config={'elements': ['Cu'], 'cutoff': 1e9}
            ).to_pacemaker_parameters()
        ),
        ConfigError,
        r'`ace_basis_config.cutoff` must be a cutoff radius between 1.0 and 15.0 Å',
    ),
    (
        'yaml-duplicate-key',
        lambda kit: (
            lambda: read_config(kit.file('run.yaml', 'protocol: fast\nprotocol: precise\n'), ['protocol'])
        ),
        RunConfigError,
        r'the key `protocol` is given twice \(lines 1 and 2\): keep one of them',
    ),
    (
        'pickle-without-trust',
        lambda kit: lambda: read_labelled_structures(kit.file('data.pckl.gzip', 'not read')),
        ValueError,
        r'unpickling runs code',
    ),
]


def _case_id(case: t.Any) -> str:
    return case.values[0] if hasattr(case, 'marks') else case[0]


def counts() -> dict[str, int]:
    return {
        cls.__name__: orm.QueryBuilder().append(cls).count()
        for cls in (orm.Node, orm.ProcessNode, TrainingSetData)
    }


@pytest.fixture
def kit(aiida_localhost, tmp_path) -> Kit:
    return Kit(aiida_localhost, tmp_path)


@pytest.mark.parametrize(('name', 'build', 'exception', 'match'), CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input(kit, name, build, exception, match):
    action = build(kit)  # stores the valid ingredients
    before = counts()
    with pytest.raises(exception, match=match):
        action()
    assert counts() == before, f'{name}: something was stored before the input was refused'
