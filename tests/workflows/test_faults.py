"""Injected faults: each ends in its documented exit code or in a handled restart.

Fake executables (shell scripts registered as `InstalledCode`) stand in for pacemaker and its
tools where a fault cannot be produced on demand; the real tools are used where it can
(selection finding nothing, a labeller failing inside a real active-learning run). The table
in ``docs/topics/faults.md`` lists every test of this module.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
import pytest
from aiida import engine, orm
from aiida.engine import calcfunction
from aiida.plugins import CalculationFactory
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT

from aiida_pacemaker.calculations.train import PaceTrainCalculation
from aiida_pacemaker.data import PacePotentialData
from aiida_pacemaker.tools.examples import random_bulk_structures
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain
from aiida_pacemaker.workflows.train import PaceTrainWorkChain

from ..conftest import DUMMY_POTENTIAL, FAKE_YAML2YACE, METRICS_HEADER, fast_parameters

TRAIN = PaceTrainCalculation.exit_codes
#: labellers of this module refuse cells with this many atoms (random_bulk_structures: 4 at even indices)
REFUSED_NATOMS = 4


# ---------------------------------------------------------------------------- fake pacemaker scripts
def metrics_lines(rows: list[tuple[int, str]]) -> str:
    """Shell lines writing metrics.txt with one row per (iteration, loss)."""
    table = METRICS_HEADER + ''.join(f'0 0 {it} {loss} 0.003 0.02 0.01 1\n' for it, loss in rows)
    return f"cat > metrics.txt <<'EOF'\n{table}EOF"


def fit_lines(
    potential: str | None = DUMMY_POTENTIAL,
    rows: tuple[tuple[int, str], ...] = ((0, '1.0'), (5, '0.01')),
    log: str = '',
    exit_status: int = 0,
) -> str:
    """Shell lines of a fake fit: log.txt, metrics.txt, output_potential.yaml, then ``exit``."""
    lines = ['echo "fake pacemaker $@" > log.txt', metrics_lines(list(rows))]
    if log:
        lines.append(f"echo '{log}' >> log.txt")
    if potential is not None:
        lines.append(f"cat > output_potential.yaml <<'EOF'\n{potential}EOF")
    lines.append(f'exit {exit_status}')
    return '\n'.join(lines)


def interim_lines() -> str:
    """Shell lines writing an interim potential, as pacemaker does every few iterations."""
    return (
        'echo "fake pacemaker $@: iteration 3" > log.txt\n'
        f"cat > interim_potential_0.yaml <<'EOF'\n{DUMMY_POTENTIAL}EOF"
    )


KILLED = interim_lines() + '\nkill -9 $$'  # pacemaker itself killed (OOM killer, kill -9)
CRASHED = (
    'echo "fake pacemaker $@" > log.txt\n'
    'echo "Traceback (most recent call last):" >> log.txt\n'
    'echo "tensorflow.errors.ResourceExhaustedError: fake OOM in tf" >> log.txt\n'
    'exit 3'
)
PRECISION_LOSS_LOG = (
    'Optimization result(success=False, status=2, message=Desired error not necessarily achieved due to '
    'precision loss., nfev=3, njev=3)'
)
PRECISION_LOSS = fit_lines(rows=((0, '1.0'), (2, '0.95')), log=PRECISION_LOSS_LOG)


def scheduler_kill(with_interim: bool) -> str:
    """The whole job killed from outside (walltime): the job script dies before it records an exit status."""
    return (interim_lines() + '\n' if with_interim else '') + 'kill -9 $PPID\nsleep 1\nexit 0'


#: the restarted fit must be called with `-p initial_potential.yaml` and find that file
FROM_INTERIM = (
    '[ "$2" = -p ] && [ "$3" = initial_potential.yaml ] && [ -s initial_potential.yaml ] || exit 7\n'
)


@pytest.fixture
def make_code(aiida_localhost, fake_executable, tmp_path):
    """Factory: an `InstalledCode` running the fake ``name`` whose body is ``first`` on the first call.

    With ``then``, later calls run ``then`` instead (a marker file in ``tmp_path`` records the first
    call). A fake ``pace_yaml2yace`` that writes a small .yace is installed beside it.
    """

    def factory(first: str, then: str | None = None, name: str = 'pacemaker') -> orm.InstalledCode:
        marker = tmp_path / f'{name}.called'
        if then is None:
            body = first
        else:
            body = f'if [ ! -e {marker} ]; then\ntouch {marker}\n{first}\nfi\n{then}'
        fake_executable('pace_yaml2yace', FAKE_YAML2YACE)
        path = fake_executable(name, '#!/bin/bash\n' + body + '\n')
        aiida_localhost.set_minimum_job_poll_interval(0.0)
        return orm.InstalledCode(computer=aiida_localhost, filepath_executable=str(path)).store()

    return factory


def run_train(code, training_set, **inputs):
    return engine.run_get_node(
        PaceTrainCalculation,
        code=code,
        training_set=training_set,
        parameters=orm.Dict(fast_parameters()),
        **inputs,
    )


def run_train_workchain(code, training_set):
    builder = PaceTrainWorkChain.get_builder()
    builder.train.code = code
    builder.train.training_set = training_set
    builder.train.parameters = orm.Dict(fast_parameters())
    results, node = engine.run_get_node(builder)
    return results, node, sorted(node.called, key=lambda n: n.ctime)


# ---------------------------------------------------------------------------- pacemaker killed mid-fit
def test_killed_mid_fit(training_set, make_code):
    _, node = run_train(make_code(KILLED), training_set)
    assert 'interim_potential' in node.outputs
    assert node.exit_status == TRAIN.ERROR_FIT_INTERRUPTED.status


def test_killed_mid_fit_keeps_interim(training_set, make_code):
    """Whatever the exit code, the interim potential of the killed fit is attached, with the log tail."""
    _, node = run_train(make_code(KILLED), training_set)
    assert node.is_failed
    assert node.outputs.interim_potential.elements == ['Cu']
    assert 'iteration 3' in node.exit_message


def test_killed_mid_fit_workchain_restarts_from_interim(training_set, make_code):
    _, node, calcs = run_train_workchain(make_code(KILLED, FROM_INTERIM + fit_lines()), training_set)
    assert node.is_finished_ok, node.exit_message
    assert len(calcs) == 2
    assert calcs[1].inputs.initial_potential.uuid == calcs[0].outputs.interim_potential.uuid


# ---------------------------------------------------------------------------- scheduler kill (walltime)
def test_walltime_with_interim(training_set, make_code):
    _, node = run_train(make_code(scheduler_kill(with_interim=True)), training_set)
    assert node.exit_status == TRAIN.ERROR_FIT_INTERRUPTED.status
    assert 'exit_status' not in node.outputs.retrieved.base.repository.list_object_names()
    assert node.outputs.interim_potential.elements == ['Cu']


def test_walltime_without_interim(training_set, make_code):
    _, node = run_train(make_code(scheduler_kill(with_interim=False)), training_set)
    assert node.exit_status == TRAIN.ERROR_NO_EXIT_STATUS.status
    assert 'killed before its command ended' in node.exit_message
    assert 'interim_potential' not in node.outputs


def test_walltime_workchain_restarts_from_interim(training_set, make_code):
    code = make_code(scheduler_kill(with_interim=True), FROM_INTERIM + fit_lines())
    results, node, calcs = run_train_workchain(code, training_set)
    assert node.is_finished_ok, node.exit_message
    assert [c.exit_status for c in calcs] == [TRAIN.ERROR_FIT_INTERRUPTED.status, 0]
    assert calcs[1].inputs.initial_potential.uuid == calcs[0].outputs.interim_potential.uuid
    assert results['potential'].uuid == calcs[1].outputs.potential.uuid


def test_walltime_without_interim_workchain_reruns(training_set, make_code):
    _, node, calcs = run_train_workchain(
        make_code(scheduler_kill(with_interim=False), fit_lines()), training_set
    )
    assert node.is_finished_ok, node.exit_message
    assert [c.exit_status for c in calcs] == [TRAIN.ERROR_NO_EXIT_STATUS.status, 0]


# ---------------------------------------------------------------------------- pacemaker's own failures
@pytest.mark.parametrize(
    ('body', 'exit_code', 'text'),
    [
        (CRASHED, TRAIN.ERROR_PACEMAKER_FAILED, 'ResourceExhaustedError: fake OOM in tf'),
        (
            fit_lines(potential=DUMMY_POTENTIAL[:120]),
            TRAIN.ERROR_OUTPUT_POTENTIAL_UNREADABLE,
            'truncated or corrupt',
        ),
        (fit_lines(potential='species: [1, 2'), TRAIN.ERROR_OUTPUT_POTENTIAL_UNREADABLE, 'not valid YAML'),
        (fit_lines(potential=None), TRAIN.ERROR_OUTPUT_POTENTIAL_MISSING, 'no output potential'),
        (fit_lines(rows=((0, '1.0'), (5, 'nan'))), TRAIN.ERROR_NON_FINITE_LOSS, 'non-finite (nan)'),
        (PRECISION_LOSS, TRAIN.ERROR_FIT_NOT_CONVERGED, 'after 2 of 15 iterations: Desired error'),
    ],
    ids=['nonzero-400', 'truncated-303', 'corrupt-303', 'missing-302', 'nan-loss-420', 'precision-loss-410'],
)
def test_pacemaker_fault(training_set, make_code, body, exit_code, text):
    _, node = run_train(make_code(body), training_set)
    assert node.exit_status == exit_code.status
    assert text in node.exit_message
    if exit_code.status == 400:  # the message carries the end of pacemaker's log
        assert node.exit_message.startswith('pacemaker exited with status 3; end of its log:')
        assert 'Traceback (most recent call last):' in node.exit_message


LBFGSB = 'grep -q "optimizer: L-BFGS-B" input.yaml || exit 7'


@pytest.mark.parametrize(
    ('first', 'checked', 'fit'),
    [
        (PRECISION_LOSS, LBFGSB, {'optimizer': 'L-BFGS-B', 'L2_coeffs': 1e-8}),
        (fit_lines(rows=((0, '1.0'), (5, 'inf'))), LBFGSB, {'optimizer': 'L-BFGS-B', 'L2_coeffs': 1e-7}),
        (CRASHED, 'true', {'optimizer': 'BFGS', 'L2_coeffs': 1e-8}),
    ],
    ids=['precision-loss-410', 'inf-loss-420', 'crash-400'],
)
def test_workchain_recovers(training_set, make_code, first, checked, fit):
    results, node, calcs = run_train_workchain(make_code(first, checked + '\n' + fit_lines()), training_set)
    assert node.is_finished_ok, node.exit_message
    assert len(calcs) == 2 and calcs[0].is_failed and calcs[1].is_finished_ok
    assert calcs[0].inputs.parameters['fit']['optimizer'] == 'BFGS'
    second = calcs[1].inputs.parameters['fit']
    assert second['optimizer'] == fit['optimizer']
    assert second['loss']['L2_coeffs'] == pytest.approx(fit['L2_coeffs'])
    assert results['potential'].uuid == calcs[1].outputs.potential.uuid


def test_workchain_crashing_twice_aborts(training_set, make_code):
    _, node, calcs = run_train_workchain(make_code(CRASHED), training_set)
    assert node.exit_status == PaceTrainWorkChain.exit_codes.ERROR_UNRECOVERABLE_FAILURE.status
    assert len(calcs) == 2
    assert 'ResourceExhaustedError' in node.exit_message


def test_workchain_missing_output_is_unhandled(training_set, make_code):
    _, node, calcs = run_train_workchain(make_code(fit_lines(potential=None)), training_set)
    assert node.exit_status == PaceTrainWorkChain.exit_codes.ERROR_UNHANDLED_FAILURE.status
    assert len(calcs) == 1


# ---------------------------------------------------------------------------- active set
@pytest.mark.parametrize(
    ('body', 'exit_status', 'text'),
    [
        ('head -c 300 /dev/urandom > potential.asi\necho done', 303, 'unreadable'),
        ('echo "wrote nothing"', 302, 'wrote no .asi'),
        ('echo "ValueError: singular matrix"\nexit 1', 400, 'singular matrix'),
    ],
    ids=['corrupt-asi-303', 'missing-asi-302', 'nonzero-400'],
)
def test_activeset_fault(training_set, make_code, body, exit_status, text):
    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    _, node = engine.run_get_node(
        CalculationFactory('pacemaker.activeset'),
        code=make_code(body, name='pace_activeset'),
        potential=potential,
        training_set=training_set,
    )
    assert node.exit_status == exit_status
    assert text in node.exit_message
    assert 'active_set' not in node.outputs


def run_one_cycle_with_a_failing_tool(pacemaker_codes, fake_executable, failing: str, body: str):
    """A one-cycle active-learning run with the real pacemaker and its tools beside it, except ``failing``,
    which the fake script ``body`` stands in for (inside the fit's job, which runs its code's siblings);
    the jobs of their own use the real codes. Returns ``(results, node)``, checked to have finished ok."""
    real = pathlib.Path(pacemaker_codes['pacemaker'].filepath_executable).parent
    for tool in {'pace_yaml2yace', 'python', 'pace_activeset', 'pace_select'} - {failing}:
        fake_executable(tool, f'#!/bin/bash\nexec {real / tool} "$@"\n')
    fake_executable(failing, body)
    wrapper = fake_executable('pacemaker', f'#!/bin/bash\nexec {real / "pacemaker"} "$@"\n')
    computer = pacemaker_codes['pacemaker'].computer
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.structures = structures(8, seed=21, strain=0.03)
    builder.pool = structures(12, seed=5, strain=0.12, rattle=(0.05, 0.3))
    builder.labeller.process = 'pacemaker.label_ase'
    builder.labeller.inputs = {'calculator': orm.Str('ase.calculators.emt.EMT')}
    builder.train.train.code = orm.InstalledCode(computer=computer, filepath_executable=str(wrapper)).store()
    builder.train.train.parameters = orm.Dict(fast_parameters(maxiter=10))
    builder.activeset.code = pacemaker_codes['pace_activeset']
    builder.activeset.parameters = orm.Dict({'all_atoms': True})
    builder.select.code = pacemaker_codes['pace_select']
    builder.max_cycles = 1
    builder.max_new_structures_per_cycle = 3
    builder.gamma_select = 0.0
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return results, node


@pytest.mark.pacemaker
def test_active_set_in_fit_fails_falls_back_to_its_own_job(aiida_profile, pacemaker_codes, fake_executable):
    """pace_activeset fails inside the fit's job: the fit stands, the cycle builds its active set in a job of its
    own (the real pace_activeset) and the run ends well. The real pacemaker, a failing pace_activeset beside it."""
    results, node = run_one_cycle_with_a_failing_tool(
        pacemaker_codes,
        fake_executable,
        'pace_activeset',
        '#!/bin/bash\necho "ValueError: singular matrix"\nexit 1\n',
    )

    (fit,) = [c for c in node.called_descendants if c.process_label == 'PaceTrainCalculation']
    assert fit.is_finished_ok and 'active_set' not in fit.outputs
    warnings = [log.message for log in orm.Log.collection.get_logs_for(fit) if log.levelname == 'WARNING']
    assert any('active set was not built' in text and 'singular matrix' in text for text in warnings), (
        warnings
    )
    (own,) = [c for c in node.called if c.process_label == 'PaceActiveSetCalculation']
    assert own.is_finished_ok and results['active_set'].creator.uuid == own.uuid
    assert results['active_set'].potential_uuid == results['potential'].uuid
    assert "the fit's job did not build the active set" in report_text(node)


@pytest.mark.pacemaker
def test_select_in_fit_fails_falls_back_to_its_own_job(aiida_profile, pacemaker_codes, fake_executable):
    """pace_select fails inside the fit's job: the fit and its active set stand, the cycle selects in a job of its
    own (the real pace_select) and the run ends well. The real pacemaker and pace_activeset, a failing pace_select
    beside them."""
    results, node = run_one_cycle_with_a_failing_tool(
        pacemaker_codes,
        fake_executable,
        'pace_select',
        '#!/bin/bash\necho "MemoryError: no room for the projections"\nexit 1\n',
    )

    (fit,) = [c for c in node.called_descendants if c.process_label == 'PaceTrainCalculation']
    assert fit.is_finished_ok and 'active_set' in fit.outputs and 'selection' not in fit.outputs
    assert sorted(fit.inputs.selection.candidates) == sorted(node.inputs.pool)  # it was asked to select
    warnings = [log.message for log in orm.Log.collection.get_logs_for(fit) if log.levelname == 'WARNING']
    assert any('the selection failed' in text and 'MemoryError' in text for text in warnings), warnings
    (own,) = [c for c in node.called if c.process_label == 'PaceSelectCalculation']
    assert own.is_finished_ok and own.inputs.active_set.uuid == fit.outputs.active_set.uuid
    assert own.outputs.report['num_selected'] == 3
    assert results['learning_curve'][0]['num_selected'] == 3
    assert "the fit's job did not select" in report_text(node)


# ---------------------------------------------------------------------------- selection
def few_candidates(fitted) -> dict[str, orm.StructureData]:
    return {f'known_{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(fitted['structures'][:4])}


@pytest.mark.pacemaker
def test_select_nothing_in_window(fitted, fitted_active_set):
    results, node = engine.run_get_node(
        CalculationFactory('pacemaker.select'),
        code=fitted['codes']['pace_select'],
        potential=fitted['potential'],
        active_set=fitted_active_set,
        candidates=few_candidates(fitted),
        parameters=orm.Dict({'max_structures': 2, 'gamma_min': 1.0e6}),
    )
    assert node.is_finished_ok, node.exit_message
    report = results['report'].get_dict()
    assert report['num_selected'] == 0 and report['selected'] == []
    assert report['num_in_window'] == 0 and report['num_candidates'] == 4
    assert 'selected' not in results or not results['selected']


@pytest.mark.pacemaker
def test_select_crash(fitted, fitted_active_set, make_code, fake_executable):
    fake_executable('python', f'#!/bin/bash\nexec {sys.executable} "$@"\n')  # the gamma script runs for real
    code = make_code('echo "pace_select: MemoryError in maxvol" >&2\nexit 1', name='pace_select')
    _, node = engine.run_get_node(
        CalculationFactory('pacemaker.select'),
        code=code,
        potential=fitted['potential'],
        active_set=fitted_active_set,
        candidates=few_candidates(fitted),
        parameters=orm.Dict({'max_structures': 2}),
    )
    assert node.exit_status == 400
    assert 'pace_select exited with status 1' in node.exit_message
    assert 'MemoryError in maxvol' in node.exit_message


# ---------------------------------------------------------------------------- labellers
def _emt_labels(structure: orm.StructureData) -> dict[str, orm.Data]:
    from ase.calculators.emt import EMT

    atoms = structure.get_ase()
    atoms.calc = EMT()
    forces = orm.ArrayData()
    forces.set_array('forces', np.asarray(atoms.get_forces()))
    return {'total_energy': orm.Float(float(atoms.get_potential_energy())), 'forces': forces}


@calcfunction
def flaky_labeller(structure: orm.StructureData):
    """EMT labels, except for cells of `REFUSED_NATOMS` atoms, where it raises (a labeller bug)."""
    natoms = len(structure.sites)
    if natoms == REFUSED_NATOMS:
        raise RuntimeError(f'flaky labeller refuses a cell of {natoms} atoms')
    return _emt_labels(structure)


class FlakyEMT(EMT):
    """An ASE calculator for the built-in (batch) labeller: EMT, except for cells of `REFUSED_NATOMS` atoms."""

    def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
        if len(atoms) == REFUSED_NATOMS:
            raise RuntimeError(f'flaky calculator refuses a cell of {len(atoms)} atoms')
        super().calculate(atoms, properties, system_changes)


class BrokenCalculator(EMT):
    """An ASE calculator that always fails."""

    def calculate(self, atoms=None, properties=('energy',), system_changes=all_changes):
        raise RuntimeError(f'broken calculator: no label for {atoms.get_chemical_formula()}')


@calcfunction
def broken_labeller(structure: orm.StructureData):
    """A labeller that always fails."""
    raise RuntimeError(f'broken labeller: no label for {structure.get_formula()}')


def structures(count: int, seed: int, **kwargs) -> dict[str, orm.StructureData]:
    return {
        f's{i:02d}': orm.StructureData(ase=a)
        for i, a in enumerate(random_bulk_structures(count, seed=seed, **kwargs))
    }


def report_text(node) -> str:
    return '\n'.join(log.message for log in orm.Log.collection.get_logs_for(node))


@pytest.mark.pacemaker
@pytest.mark.parametrize('batch', [False, True], ids=['per-structure', 'batch'])
def test_labeller_fails_for_some(aiida_profile, pacemaker_codes, batch):
    """Per structure (a labeller process each) or batch (the built-in ASE labeller, one bulk-written run)."""
    initial = structures(8, seed=21, strain=0.03)
    refused = sorted(k for k, s in initial.items() if len(s.sites) == REFUSED_NATOMS)
    assert 0 < len(refused) < len(initial)
    pool = {
        key: s
        for key, s in structures(24, seed=5, strain=0.12, rattle=(0.05, 0.3)).items()
        if len(s.sites) != REFUSED_NATOMS
    }
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.structures = initial
    builder.pool = pool
    if batch:
        builder.labeller.process = 'pacemaker.label_ase'
        builder.labeller.inputs = {'calculator': orm.Str(f'{__name__}.FlakyEMT')}
    else:
        builder.labeller.process = f'{__name__}:flaky_labeller'
    builder.train.train.code = pacemaker_codes['pacemaker']
    builder.train.train.parameters = orm.Dict(fast_parameters(maxiter=10))
    builder.activeset.code = pacemaker_codes['pace_activeset']
    builder.activeset.parameters = orm.Dict({'all_atoms': True})
    builder.select.code = pacemaker_codes['pace_select']
    builder.max_cycles = 1 if batch else 2  # batch labelling of a cycle is covered by the shared AL run
    builder.max_new_structures_per_cycle = 3
    builder.gamma_select = 0.0
    results, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message

    # the refused structures are reported, by key and with the labeller's error, and left out
    text = report_text(node)
    who = 'calculator' if batch else 'labeller'
    for key in refused:
        assert f'labelling `{key}` failed and is left out: RuntimeError: flaky {who} refuses' in text
    first = results['training_sets']['cycle_1']
    kept = {initial[k].uuid for k in initial if k not in refused}
    assert first.num_structures == len(initial) - len(refused)
    assert set(first.names) == kept  # the rest merged, each named by its StructureData's UUID
    curve = results['learning_curve'].get_list()
    if batch:
        (labelling,) = [n for n in node.called if n.process_label == 'label_batch_with_ase']
        assert len(labelling.base.links.get_incoming(link_label_filter='structures__%').all()) == len(initial)
        assert len(labelling.base.links.get_outgoing(link_label_filter='total_energy__%').all()) == len(kept)
        assert [row['cycle'] for row in curve] == [1]
    else:
        assert [row['cycle'] for row in curve] == [1, 2]
        assert results['training_set'].num_structures > first.num_structures


def test_labeller_always_fails(aiida_profile, aiida_localhost):
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.structures = structures(3, seed=1)
    builder.pool = structures(2, seed=2)
    builder.labeller.process = f'{__name__}:broken_labeller'
    builder.train.train.code = code
    builder.train.train.parameters = orm.Dict(fast_parameters())
    builder.activeset.code = code
    builder.select.code = code
    _, node = engine.run_get_node(builder)
    assert node.exit_status == PaceActiveLearningWorkChain.exit_codes.ERROR_ALL_LABELS_FAILED.status
    assert 'Every labelling process failed (3)' in node.exit_message
    assert 'broken labeller: no label for Cu4' in node.exit_message
    assert not [n for n in node.called if n.process_type and 'train' in n.process_type]  # nothing trained
    assert report_text(node).count('failed and is left out') == 3

    # `aiida-pacemaker report` says why: the exit message and the failed steps, as text and as JSON
    import json

    from click.testing import CliRunner

    from aiida_pacemaker.cli.report import cmd_report

    output = CliRunner().invoke(cmd_report, [str(node.pk)], catch_exceptions=False).output
    assert f'PaceActiveLearningWorkChain<{node.pk}>: finished, exit status 404' in output
    assert 'exit message: Every labelling process failed (3)' in output
    assert output.count('failed step: broken_labeller<') == 3 and '(label_s' in output
    assert 'has finished no cycle yet' in output
    summary = json.loads(
        CliRunner().invoke(cmd_report, [str(node.pk), '--json'], catch_exceptions=False).output
    )
    assert summary['exit_status'] == 404 and summary['learning_curve'] == [] and summary['potential'] is None
    assert len(summary['failed_steps']) == 3


def test_batch_labeller_always_fails(aiida_profile, aiida_localhost):
    """The built-in ASE labeller in batch mode: all failing -> 404 with the reasons, nothing stored."""
    code = orm.InstalledCode(computer=aiida_localhost, filepath_executable='/opt/pace/bin/pacemaker').store()
    builder = PaceActiveLearningWorkChain.get_builder()
    builder.structures = structures(3, seed=1)
    builder.pool = structures(2, seed=2)
    builder.labeller.process = 'pacemaker.label_ase'
    builder.labeller.inputs = {'calculator': orm.Str(f'{__name__}.BrokenCalculator')}
    builder.train.train.code = code
    builder.train.train.parameters = orm.Dict(fast_parameters())
    builder.activeset.code = code
    builder.select.code = code

    def count(node_class) -> int:
        return orm.QueryBuilder().append(node_class).count()

    processes_before, arrays_before = count(orm.ProcessNode), count(orm.ArrayData)
    _, node = engine.run_get_node(builder)
    assert node.exit_status == PaceActiveLearningWorkChain.exit_codes.ERROR_ALL_LABELS_FAILED.status
    assert 'Every labelling process failed (3)' in node.exit_message
    assert 'broken calculator: no label for Cu4' in node.exit_message
    assert not node.called  # no batch node, no training: nothing half-stored
    assert count(orm.ProcessNode) == processes_before + 1  # the workchain only
    assert count(orm.ArrayData) == arrays_before  # no forces, no half-stored labels
    assert report_text(node).count('failed and is left out') == 3
