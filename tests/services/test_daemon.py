"""The active-learning WorkChain through ``submit`` and a real daemon, on each backend of DESIGN.md.

An undisturbed run on ``sqlite_zeromq`` is the reference. On each backend (see ``services_profile``)
the same inputs run again while the whole daemon is killed with SIGKILL during the second fit and
started again after: the run must finish with the very training set of the reference (see
``summary`` for what is compared).
"""

from __future__ import annotations

import pathlib
import signal
import time
import typing as t

import psutil
import pytest
from aiida import engine, orm

from ..conftest import fast_parameters
from .conftest import pacemaker_codes, running_daemon

pytestmark = [pytest.mark.services, pytest.mark.pacemaker]

#: wall-clock bound of one active-learning run on the daemon
RUN_TIMEOUT = 300
TRAIN = 'aiida.calculations:pacemaker.train'
SELECT = 'aiida.calculations:pacemaker.select'
#: the undisturbed run, filled by test_submit_undisturbed
REFERENCE: dict[str, t.Any] = {}


def make_inputs(codes: dict) -> dict[str, t.Any]:
    """The stored inputs of a small active-learning run (both runs of a backend share these nodes)."""
    from aiida_pacemaker.data import TrainingSetData
    from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures

    initial = TrainingSetData.from_ase(emt_label(random_bulk_structures(8, seed=21, strain=0.03))).store()
    pool = random_bulk_structures(12, seed=5, strain=0.12, rattle=(0.05, 0.3))
    return {
        'training_set': initial,
        'pool': {f'p{i:03d}': orm.StructureData(ase=atoms).store() for i, atoms in enumerate(pool)},
        'labeller': {'process': orm.Str('pacemaker.label_ase').store(), 'inputs': {}},
        'calculator': orm.Str('ase.calculators.emt.EMT').store(),
        'parameters': orm.Dict(fast_parameters(maxiter=10)).store(),
        'max_cycles': orm.Int(2).store(),
        'max_new_structures_per_cycle': orm.Int(3).store(),
        'gamma_select': orm.Float(1.0).store(),
        'codes': codes,
    }


def make_builder(inputs: dict[str, t.Any]) -> t.Any:
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    builder = PaceActiveLearningWorkChain.get_builder()
    builder.training_set = inputs['training_set']
    builder.pool = inputs['pool']
    builder.labeller.process = inputs['labeller']['process']
    builder.labeller.inputs = {'calculator': inputs['calculator']}
    builder.train.train.code = inputs['codes']['pacemaker']
    builder.train.train.parameters = inputs['parameters']
    builder.activeset.code = inputs['codes']['pace_activeset']
    builder.select.code = inputs['codes']['pace_select']
    builder.max_cycles = inputs['max_cycles']
    builder.max_new_structures_per_cycle = inputs['max_new_structures_per_cycle']
    builder.gamma_select = inputs['gamma_select']
    builder.refit_tolerance = 1e9  # one fit per cycle: the tests find a cycle's fit by its position
    return builder


def diagnose(node: orm.ProcessNode, client: t.Any) -> str:
    """The process reports and the tail of the daemon log, for a failure message."""
    from aiida.cmdline.utils.common import get_workchain_report

    log = pathlib.Path(client.daemon_log_file)
    tail = log.read_text(errors='replace')[-4000:] if log.is_file() else '(no daemon log)'
    return (
        f'{node.process_label}<{node.pk}> {node.process_state}, exit {node.exit_status}: {node.exit_message}\n'
        f'report:\n{get_workchain_report(node, "REPORT")}\ndaemon log ({log}):\n{tail}'
    )


def await_terminated(node: orm.ProcessNode, client: t.Any, timeout: float = RUN_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not node.is_terminated:
        if time.monotonic() > deadline:
            pytest.fail(f'not done within {timeout} s:\n{diagnose(node, client)}', pytrace=False)
        time.sleep(0.5)
    assert node.is_finished_ok, diagnose(node, client)


def labelling_processes(node: orm.ProcessNode) -> set[str]:
    """Process labels of the labelling processes the workchain called (batch by default: bulk-written)."""
    return {child.process_label for child in node.called if child.process_label.startswith('label')}


def train_calcs(node: orm.ProcessNode) -> list[orm.CalcJobNode]:
    calcs = [child for child in node.called_descendants if child.process_type == TRAIN]
    return sorted(calcs, key=lambda calc: calc.ctime)


def running_fit(node: orm.ProcessNode, cycle: int) -> tuple[orm.CalcJobNode, psutil.Process] | None:
    """The train CalcJob of ``cycle`` and its job's process, while that job runs."""
    calcs = train_calcs(node)
    if len(calcs) < cycle:
        return None
    calc = calcs[cycle - 1]
    job_id = calc.get_job_id()
    if job_id is None or calc.is_terminated:
        return None
    try:
        job = psutil.Process(int(job_id))  # the direct scheduler's job id is the job script's pid
    except psutil.NoSuchProcess:
        return None
    return (calc, job) if is_alive(job) else None


def is_alive(process: psutil.Process) -> bool:
    """Whether ``process`` runs (a zombie does not: PID 1 of a container may never reap it)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_daemon_hard(client: t.Any) -> list[int]:
    """SIGKILL the circus arbiter (first, so that it cannot respawn a worker), then its children: the
    workers and circus' stats process. The jobs of the direct scheduler are not its children: they run on.
    """
    arbiter = psutil.Process(client.get_daemon_pid())
    workers = [int(pid) for pid in client.get_worker_info()['info']]
    assert workers, 'the daemon has no worker'
    children = arbiter.children()
    assert set(workers) <= {child.pid for child in children}
    for process in [arbiter, *children]:
        process.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 30
    while alive := [process for process in [arbiter, *children] if is_alive(process)]:
        assert time.monotonic() < deadline, f'survived SIGKILL: {alive}'
        time.sleep(0.1)
    return workers


def summary(node: orm.WorkflowNode) -> dict[str, t.Any]:
    """What an active-learning run ends with, to compare runs.

    A structure added by a cycle is named by the UUID of the StructureData that pace_select made for
    it (a clone of the candidate): ``sources`` maps those names back to the candidates' pool keys,
    which are the same in every run, whereas the names and so the ``content_hash`` differ.
    """
    training_set = node.outputs.training_set
    arrays = training_set.get_arrays()
    pool_keys = {
        structure.uuid: key
        for child in node.called_descendants
        for key, structure in _selected(child).items()
    }
    return {
        'sources': [pool_keys.get(name, name) for name in training_set.names],
        'structure_hashes': training_set.structure_hashes(),
        'arrays': {key: value.tolist() for key, value in arrays.items() if key != 'names'},
        'sizes': [row['num_structures'] for row in node.outputs.learning_curve.get_list()],
        'potentials': [
            potential_digest(node.outputs.potentials[f'cycle_{k}'])
            for k in range(1, len(node.outputs.potentials) + 1)
        ],
    }


def _selected(process: orm.ProcessNode) -> dict[str, orm.StructureData]:
    """The structures a selection job returned: a `pacemaker.select` job, or a fit's job that selected."""
    if process.process_type == SELECT and 'selected' in process.outputs:
        return dict(process.outputs.selected)
    if isinstance(process, orm.CalcJobNode) and 'selection' in process.outputs:
        return dict(process.outputs.selection.get('selected', {}))
    return {}


def potential_digest(potential: t.Any) -> str:
    """SHA-256 of a potential's content without the times pacemaker writes into its metadata."""
    import hashlib
    import json

    import yaml

    content = yaml.safe_load(potential.get_yaml_content())
    for key in ('starttime', 'intermediate_time', 'finishtime', 'user'):
        content.get('metadata', {}).pop(key, None)
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def timeline(node: orm.ProcessNode) -> str:
    """Seconds from the start of ``node`` to the end of each process it called, for the log."""
    start = node.ctime
    rows = [
        f'{(child.mtime - start).total_seconds():6.1f} s {child.process_label} ({(child.mtime - child.ctime).total_seconds():.1f} s)'
        for child in sorted(node.called_descendants, key=lambda child: child.ctime)
        if isinstance(child, (orm.CalcJobNode, orm.WorkflowNode))
    ]
    return '\n'.join(rows)


@pytest.fixture(scope='module')
def services_run(services_profile, tmp_path_factory):
    """Codes, stored inputs and a running daemon (one worker) for the backend of ``services_profile``."""
    codes = pacemaker_codes(tmp_path_factory.mktemp('work'))
    inputs = make_inputs(codes)
    with running_daemon(services_profile) as client:
        yield {'inputs': inputs, 'client': client}


def backend_of(request) -> str:
    return request.node.callspec.params['services_profile']


@pytest.mark.parametrize('services_profile', ['sqlite_zeromq'], indirect=True)
def test_submit_undisturbed(services_run, request):
    """The WorkChain runs to the end on the daemon, through the ZeroMQ broker, from ``submit``."""
    client, inputs = services_run['client'], services_run['inputs']
    start = time.monotonic()
    node = engine.submit(make_builder(inputs))
    await_terminated(node, client)
    result = summary(node)
    assert result['sizes'][0] == 8 and result['sizes'] == sorted(result['sizes']) and result['sizes'][-1] > 8
    assert len(set(result['structure_hashes'])) == len(result['structure_hashes'])
    assert len(train_calcs(node)) == 2 and all(calc.is_finished_ok for calc in train_calcs(node))
    assert labelling_processes(node) == {'label_batch_with_ase'}  # bulk inserts from a daemon worker
    REFERENCE.update(result, backend=backend_of(request))
    print(f'\nundisturbed run {time.monotonic() - start:.0f} s, sizes {result["sizes"]}\n{timeline(node)}')


# on the production stack only: the ZeroMQ profile's undisturbed run above is the reference (one run fewer)
@pytest.mark.parametrize('services_profile', ['psql_rabbitmq'], indirect=True)
def test_sigkill_daemon_during_fit(services_run, request):
    """SIGKILL the daemon while the second fit runs, start it again: the reference's training set."""
    if not REFERENCE:
        pytest.fail('the undisturbed reference run failed or did not run: nothing to compare', pytrace=False)
    client, inputs = services_run['client'], services_run['inputs']
    start = time.monotonic()
    node = engine.submit(make_builder(inputs))

    deadline = time.monotonic() + RUN_TIMEOUT
    while (found := running_fit(node, cycle=2)) is None:
        if node.is_terminated or time.monotonic() > deadline:
            pytest.fail(f'never saw the fit of cycle 2 running:\n{diagnose(node, client)}', pytrace=False)
        time.sleep(0.1)
    calc, job = found
    killed = kill_daemon_hard(client)
    fit_survived = is_alive(job)
    client.start_daemon(number_workers=1)
    await_terminated(node, client, timeout=RUN_TIMEOUT - (time.monotonic() - start))
    result = summary(node)

    # the killed CalcJob was taken up again by the new worker (not resubmitted) and finished
    assert calc.is_finished_ok, diagnose(calc, client)
    assert [c.pk for c in train_calcs(node)] == [train_calcs(node)[0].pk, calc.pk]
    assert not {int(pid) for pid in client.get_worker_info()['info']} & set(killed)

    # the training set of the undisturbed run: the same structures from the same candidates, in the same
    # order, with bit-identical geometries and labels (only the UUID names differ: see `summary`)
    assert result['structure_hashes'] == REFERENCE['structure_hashes']
    assert result['sources'] == REFERENCE['sources']
    assert result['arrays'] == REFERENCE['arrays']
    assert result['sizes'] == REFERENCE['sizes']
    assert labelling_processes(node) == {'label_batch_with_ase'}  # bulk inserts on PostgreSQL
    print(
        f'\n{backend_of(request)}: killed run {time.monotonic() - start:.0f} s; worker(s) {killed} killed during '
        f'the fit of {calc.process_label}<{calc.pk}> (job {calc.get_job_id()}, running on after the kill: '
        f'{fit_survived}); potentials (less their times) identical to the reference: '
        f'{result["potentials"] == REFERENCE["potentials"]}\n{timeline(node)}'
    )
