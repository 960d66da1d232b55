"""Shared fixtures: a temporary AiiDA profile, pacemaker codes and EMT-labelled data."""

from __future__ import annotations

import os
import pathlib
import tempfile

# keep AiiDA's configuration out of ~/.aiida before aiida is imported anywhere
os.environ.setdefault('AIIDA_PATH', tempfile.mkdtemp(prefix='aiida_pacemaker_tests_'))
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import pytest

pytest_plugins = ['aiida.tools.pytest_fixtures']

FAST_POTENTIAL = {
    'elements': ['Cu'],
    'embeddings': {
        'ALL': {'npot': 'FinnisSinclairShiftedScaled', 'fs_parameters': [1, 1, 1, 0.5], 'ndensity': 2}
    },
    'bonds': {'ALL': {'radbase': 'SBessel', 'radparameters': [5.25], 'rcut': 5.0, 'dcut': 0.01}},
    'functions': {
        'number_of_functions_per_element': 12,
        'ALL': {'nradmax_by_orders': [6, 3, 2], 'lmax_by_orders': [0, 2, 1]},
    },
}


def fast_parameters(maxiter: int = 15, **fit: object) -> dict:
    """pacemaker parameters for a fit of a few seconds (tensorpot backend)."""
    import copy

    return {
        'cutoff': 5.0,
        'seed': 42,
        'potential': copy.deepcopy(FAST_POTENTIAL),
        'fit': {
            'loss': {'kappa': 0.3, 'L1_coeffs': 1e-8, 'L2_coeffs': 1e-8},
            'optimizer': 'BFGS',
            'maxiter': maxiter,
        }
        | fit,
        'backend': {'evaluator': 'tensorpot', 'batch_size': 100, 'display_step': 50},
        'data': {'reference_energy': 0},
    }


def run_train(code, training_set, parameters: dict, **inputs):
    """Fit for real: ``pacemaker.train`` with ``parameters`` (the input.yaml sections) and any other
    ``inputs``, checked to finish ok: ``(results, node)``."""
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.train'),
        code=code,
        training_set=training_set,
        parameters=orm.Dict(parameters),
        **inputs,
    )
    assert node.is_finished_ok, node.exit_message
    return results, node


def run_activeset(code, potential, training_set):
    """The active set of ``potential``, built for real by pace_activeset from all atoms of ``training_set``."""
    from aiida import engine, orm
    from aiida.plugins import CalculationFactory

    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.activeset'),
        code=code,
        potential=potential,
        training_set=training_set,
        parameters=orm.Dict({'all_atoms': True}),
    )
    assert node.is_finished_ok, node.exit_message
    return results['active_set']


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the services tier last.

    Its profiles are loaded with ``aiida_profile_factory``, which closes the storage of the test
    profile and opens a new one when it restores it: a node held by a session- or module-scoped
    fixture (a fitted potential shared by several test modules) would then belong to a closed
    storage. Tests of every other folder keep their order.
    """
    services = pathlib.Path(__file__).parent / 'services'
    items.sort(key=lambda item: services in pathlib.Path(str(item.path)).parents)


@pytest.fixture
def emt_structures():
    """Factory: ``n`` distorted fcc Cu cells labelled with EMT (ASE Atoms)."""
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    def factory(count: int = 20, seed: int = 0, **kwargs):
        return emt_label(random_bulk_structures(count, seed=seed, **kwargs))

    return factory


@pytest.fixture
def training_set(aiida_profile, emt_structures):
    """A stored TrainingSetData of 24 EMT Cu structures."""
    from aiida_pacemaker.data import TrainingSetData

    return TrainingSetData.from_ase(emt_structures(24)).store()


@pytest.fixture
def pacemaker_codes(aiida_profile, aiida_localhost):
    """The real pacemaker tools of this environment registered as codes on localhost."""
    from aiida_pacemaker.codes import setup_codes

    # real fits take seconds: polling every 0.5 s without a login shell leaves the cores to them
    # (back-to-back polls take about a quarter of a core, benchmarks/RESULTS.md)
    aiida_localhost.set_minimum_job_poll_interval(0.5)
    aiida_localhost.configure(safe_interval=0.0, use_login_shell=False)
    return setup_codes(aiida_localhost)


@pytest.fixture
def fake_executable(tmp_path):
    """Factory: write an executable script into ``tmp_path`` and return its path."""

    def factory(name: str, body: str) -> pathlib.Path:
        path = tmp_path / 'bin' / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(body)
        path.chmod(0o755)
        return path

    return factory


@pytest.fixture
def generate_calc_job(tmp_path):
    """Factory: run ``prepare_for_submission`` of a CalcJob on ``inputs``; returns (folder, calcinfo)."""

    def factory(entry_point: str, inputs: dict):
        from aiida.common.folders import Folder
        from aiida.engine.utils import instantiate_process
        from aiida.manage.manager import get_manager
        from aiida.plugins import CalculationFactory

        process = instantiate_process(get_manager().get_runner(), CalculationFactory(entry_point), **inputs)
        sandbox = tmp_path / f'sandbox_{len(list(tmp_path.glob("sandbox*")))}'  # a fresh one per call
        sandbox.mkdir()
        folder = Folder(str(sandbox))
        return folder, process.prepare_for_submission(folder)

    return factory


DUMMY_POTENTIAL = """\
metadata:
  reference_energy: "{}"
global:
  DeltaSplineBins: 0.001
species:
  - speciesblock: Cu
    ndensityi: 1
    npoti: FinnisSinclair
    parameters: [1, 1]
    rcutij: 5
    dcutij: 0.01
    nradbaseij: 1
    radbase: SBessel
    radparameters: [5.25]
    radcoefficients: [[[1]]]
    nbody:
      - {type: Cu Cu, nr: [1], nl: [0], c: [0.1]}
"""

#: what a fake ``pace_yaml2yace`` writes: the sections of a real ``.yace`` for DUMMY_POTENTIAL's element
DUMMY_YACE = """\
elements: [Cu]
E0: [0]
deltaSplineBins: 0.001
embeddings:
  0: {ndensity: 1, FS_parameters: [1, 1], npoti: FinnisSinclair, rho_core_cutoff: 100000, drho_core_cutoff: 250}
bonds:
  [0, 0]: {nradmax: 1, lmax: 0, nradbasemax: 1, radbasename: SBessel, radparameters: [5.25], rcut: 5, dcut: 0.01}
functions:
  0:
    - {mu0: 0, rank: 1, ndensity: 1, num_ms_combs: 1, mus: [0], ns: [1], ls: [0], ms_combs: [0], ctildes: [0.1]}
"""

#: a fake ``pace_yaml2yace`` (``pace_yaml2yace IN -o OUT``): writes DUMMY_YACE to OUT
FAKE_YAML2YACE = f'#!/bin/bash\ncat > "$3" <<\'EOF\'\n{DUMMY_YACE}EOF\n'

METRICS_HEADER = 'ladder_step cycle_step iter_num loss rmse_epa rmse_f_comp mae_f_comp nfuncs\n'


_GRAPH: dict[str, str] = {}


def _build_graph() -> dict[str, str]:
    """Run a small active-learning loop for real: 8 initial structures, a pool of 16 and MD
    exploration, a held-out test set, EMT labels, 2 cycles."""
    from aiida import engine, orm

    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    codes = setup_codes(get_or_create_localhost('localhost'))
    initial = TrainingSetData.from_ase(emt_label(random_bulk_structures(8, seed=21, strain=0.03))).store()
    test_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(4, seed=99, strain=0.1))).store()
    pool = random_bulk_structures(16, seed=5, strain=0.12, rattle=(0.05, 0.3))
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.training_set = initial
    builder.test_set = test_set
    builder.pool = {f'p{i:03d}': orm.StructureData(ase=atoms) for i, atoms in enumerate(pool)}
    builder.labeller.process = 'pacemaker.label_ase'
    builder.labeller.inputs = {'calculator': orm.Str('ase.calculators.emt.EMT')}
    builder.train.train.code = codes['pacemaker']
    builder.train.train.parameters = orm.Dict(fast_parameters(maxiter=15))
    builder.activeset.code = codes['pace_activeset']
    builder.select.code = codes['pace_select']
    builder.explore.code = codes['pace_explore']
    builder.explore.structures = {'hot': orm.StructureData(ase=random_bulk_structures(1, seed=2)[0])}
    builder.explore.parameters = orm.Dict({'temperatures': [1500.0], 'steps': 60, 'gamma_select': 1.2})
    builder.max_cycles = 2
    builder.max_new_structures_per_cycle = 3
    builder.gamma_select = 1.0
    builder.refit_tolerance = 1e9  # one fit per cycle here (the refit is tested with the baseline run)
    _, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return {'workchain': node.uuid, 'initial': initial.uuid, 'test_set': test_set.uuid}


def active_learning_graph() -> dict:
    """The nodes of one real active-learning run: ``workchain``, ``initial`` and ``test_set``.

    Built once per session (the workflow, CLI and provenance tests use it); rebuilt only if another test wiped the storage.
    """
    from aiida import orm

    try:
        nodes = {key: orm.load_node(uuid) for key, uuid in _GRAPH.items()}
    except Exception:  # NotExistent after a storage reset
        nodes = {}
    if not nodes:
        _GRAPH.clear()
        _GRAPH.update(_build_graph())
        nodes = {key: orm.load_node(uuid) for key, uuid in _GRAPH.items()}
    return nodes


@pytest.fixture(scope='session')
def al_graph(aiida_profile) -> dict:
    """See :func:`active_learning_graph`."""
    return active_learning_graph()


@pytest.fixture(scope='session')
def fitted(aiida_profile):
    """A potential fitted for real on 30 EMT Cu cells, with its codes and data (fitted once)."""
    from aiida_pacemaker.codes import get_or_create_localhost, setup_codes
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    computer = get_or_create_localhost('localhost-fitted')
    computer.set_minimum_job_poll_interval(0.5)
    codes = setup_codes(computer)
    structures = emt_label(random_bulk_structures(30, seed=3))
    training_set = TrainingSetData.from_ase(structures).store()
    results, _ = run_train(codes['pacemaker'], training_set, fast_parameters(maxiter=40))
    return {
        'codes': codes,
        'training_set': training_set,
        'structures': structures,
        'potential': results['potential'],
    }


@pytest.fixture(scope='session')
def fitted_active_set(fitted):
    """The active set of the `fitted` potential, built for real by pace_activeset from all atoms."""
    return run_activeset(fitted['codes']['pace_activeset'], fitted['potential'], fitted['training_set'])


@pytest.fixture(autouse=True)
def _restore_orm_logging():
    """A `verdi`-style command run in-process (CliRunner) reconfigures logging for the CLI, which drops
    the handler that stores process reports in the database; restore it for the tests that follow."""
    yield
    from aiida.common import log

    if log.CLI_ACTIVE:
        log.CLI_ACTIVE = False
        log.CLI_LOG_LEVEL = None
        log.configure_logging(with_orm=True)
