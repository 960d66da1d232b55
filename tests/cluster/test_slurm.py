"""The plugin's CalcJobs and one active-learning run through SLURM over SSH (``core.ssh`` + ``core.slurm``).

Every job is staged by the CalcJob machinery into the remote work directory over SFTP, submitted with
``sbatch``, polled with ``squeue`` and retrieved over SFTP: nothing is read from a local path.
"""

from __future__ import annotations

import copy

import pytest
from aiida import engine, orm

from ..conftest import fast_parameters
from .conftest import OPTIONS

pytestmark = [pytest.mark.cluster, pytest.mark.pacemaker]


def options() -> dict:
    return copy.deepcopy(OPTIONS)


@pytest.fixture(scope='session')
def slurm_fit(slurm_codes):
    """A short fit on 16 EMT Cu cells through SLURM: (results, node)."""
    from aiida.plugins import CalculationFactory

    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    training_set = TrainingSetData.from_ase(emt_label(random_bulk_structures(16, seed=11))).store()
    return engine.run_get_node(
        CalculationFactory('pacemaker.train'),
        code=slurm_codes['pacemaker'],
        training_set=training_set,
        parameters=orm.Dict(fast_parameters(maxiter=10)),
        metadata={'options': options(), 'label': 'cluster tier fit'},
    )


def test_train(slurm_fit, assert_ran_on_slurm):
    results, node = slurm_fit
    assert node.is_finished_ok, f'{node.exit_status}: {node.exit_message}'
    assert_ran_on_slurm(node)
    potential = results['potential']
    assert potential.elements == ['Cu']
    assert potential.number_of_functions > 0
    metrics = results['metrics'].get_dict()
    assert metrics['iterations'] > 0
    assert metrics['train_energy_rmse'] >= 0 and metrics['train_force_rmse'] >= 0
    # pace_yaml2yace ran in the job, next to pacemaker on the "remote"
    assert 'output_potential.yace' in node.outputs.retrieved.base.repository.list_object_names()


@pytest.fixture(scope='session')
def slurm_active_set(slurm_fit, slurm_codes):
    """The active set of the `slurm_fit` potential, built through SLURM: (results, node)."""
    from aiida.plugins import CalculationFactory

    fit_results, fit_node = slurm_fit
    if not fit_node.is_finished_ok:
        pytest.fail(f'the fit failed (see test_train): {fit_node.exit_message}', pytrace=False)
    return engine.run_get_node(
        CalculationFactory('pacemaker.activeset'),
        code=slurm_codes['pace_activeset'],
        potential=fit_results['potential'],
        training_set=fit_node.inputs.training_set,
        parameters=orm.Dict({'all_atoms': True}),
        metadata={'options': options()},
    )


def test_activeset(slurm_fit, slurm_active_set, assert_ran_on_slurm):
    results, node = slurm_active_set
    assert node.is_finished_ok, f'{node.exit_status}: {node.exit_message}'
    assert_ran_on_slurm(node)
    assert results['active_set'].potential_uuid == slurm_fit[0]['potential'].uuid


def test_explore(slurm_fit, slurm_active_set, slurm_codes, assert_ran_on_slurm):
    """A short hot MD run graded against the active set: its script is staged and run by the job."""
    from aiida.plugins import CalculationFactory
    from ase.build import bulk

    active_set, activeset_node = slurm_active_set
    if not activeset_node.is_finished_ok:
        pytest.fail(
            f'the active set failed (see test_activeset): {activeset_node.exit_message}', pytrace=False
        )
    seed = bulk('Cu', 'fcc', a=3.61, cubic=True)
    parameters = {
        'temperatures': [1500.0],
        'steps': 40,
        'timestep': 2.0,
        'gamma_select': 1.0,
        'gamma_stop': 5.0,
    }
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.explore'),
        code=slurm_codes['pace_explore'],
        potential=slurm_fit[0]['potential'],
        active_set=active_set['active_set'],
        structures={'hot': orm.StructureData(ase=seed)},
        parameters=orm.Dict(parameters),
        metadata={'options': options()},
    )
    assert node.is_finished_ok, f'{node.exit_status}: {node.exit_message}'
    assert_ran_on_slurm(node)
    report = results['report'].get_dict()
    assert report['trajectories'][0]['steps'] > 0
    assert len(results.get('candidates', {})) == report['num_candidates']


def test_active_learning(slurm_codes, assert_ran_on_slurm):
    """Two cycles: train, active set, select, label (EMT, here), merge, train again, ... all jobs on SLURM."""
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    initial = TrainingSetData.from_ase(emt_label(random_bulk_structures(8, seed=21, strain=0.03))).store()
    pool = random_bulk_structures(10, seed=5, strain=0.12, rattle=(0.05, 0.3))
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        slurm_codes,
        training_set=initial,
        pool={f'p{i:03d}': orm.StructureData(ase=atoms) for i, atoms in enumerate(pool)},
        protocol='fast',
        overrides={
            'max_cycles': 2,
            'max_new_structures_per_cycle': 3,
            'gamma_select': 1.0,
            'trainer': {'fitting_params': {'maxiter': 10}},
            'refit_tolerance': 1e9,  # one fit per cycle (10 iterations stall by design)
        },
    )
    # the options of each kind of job, as on a real cluster
    builder.train.train.metadata.options = options()
    builder.activeset.metadata.options = options()
    builder.select.metadata.options = options()
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, f'{node.exit_status}: {node.exit_message}'

    curve = results['learning_curve'].get_list()
    assert [row['cycle'] for row in curve] == [1, 2]
    assert curve[1]['num_structures'] > curve[0]['num_structures'] == 8  # cycle 1 labelled and merged
    assert results['active_set'].potential_uuid == results['potential'].uuid

    jobs = [descendant for descendant in node.called_descendants if isinstance(descendant, orm.CalcJobNode)]
    kinds = sorted(job.process_type.rsplit(':', 1)[-1] for job in jobs)
    # each cycle's active set and selection were made at the end of its fit's SLURM job (`active_set_in_fit`,
    # `select_in_fit`): no job of their own
    assert kinds == ['pacemaker.train'] * 2
    assert results['active_set'].creator.process_label == 'PaceTrainCalculation'
    assert all('selection' in job.outputs for job in jobs)
    for job in jobs:
        assert_ran_on_slurm(job)
