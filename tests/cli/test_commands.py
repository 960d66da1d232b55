"""The ``aiida-pacemaker`` command line and ``verdi data pacemaker``, every command run for real."""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import yaml
from aiida import orm
from click.testing import CliRunner

from aiida_pacemaker.calculations.functions import num_extrapolating
from aiida_pacemaker.cli import cmd_root
from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.tools import provenance

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / 'docs' / 'examples'


def run_cli(args: list[str], ok: bool = True, command=cmd_root) -> str:
    """Invoke the command line in this process; check the exit code; return stdout and stderr."""
    result = CliRunner().invoke(command, [str(arg) for arg in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code != 0, result.output
    return result.output


def assert_one_line_error(output: str, *fragments: str) -> None:
    """The output is a single ``Critical:`` line holding every fragment (no traceback)."""
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    assert lines[0].startswith('Critical:'), output
    assert 'Traceback' not in output
    for fragment in fragments:
        assert fragment in lines[0], output


def last_pk(output: str) -> int:
    return int(output.strip().splitlines()[-1])


@pytest.fixture
def extxyz_file(tmp_path, emt_structures):
    """A file of 6 EMT-labelled Cu cells, extended XYZ."""
    from ase.io import write

    path = tmp_path / 'cu.extxyz'
    write(path, emt_structures(6, seed=7), format='extxyz')
    return path


# ---------------------------------------------------------------- root, setup


def test_console_script_help():
    executable = shutil.which('aiida-pacemaker', path=str(pathlib.Path(sys.executable).parent))
    assert executable, 'the console script is not installed'
    output = subprocess.run([executable, '--help'], capture_output=True, text=True, check=True).stdout
    for command in ('setup', 'run', 'dataset', 'potential', 'report', 'plot', 'provenance'):
        assert command in output
    assert '--profile' in output


def test_setup_is_idempotent(aiida_profile):
    first = run_cli(['setup'])
    second = run_cli(['setup', '--computer', 'localhost-pacemaker'])
    for label in ('pacemaker', 'pace_activeset', 'pace_select', 'pace_yaml2yace', 'pace_explore'):
        assert label in first
    assert first == second  # the same codes, the same PKs
    computer = orm.load_computer('localhost-pacemaker')  # the plugin's own: cheap polls, no login shell
    assert computer.get_minimum_job_poll_interval() == 1.0
    assert computer.get_configuration()['use_login_shell'] is False


def test_setup_on_a_computer_with_a_login_shell_says_how_to_tune_it(aiida_profile, aiida_localhost):
    aiida_localhost.configure(use_login_shell=True)  # as `verdi presto` sets up its `localhost`
    output = run_cli(['setup', '--computer', aiida_localhost.label])
    assert f'computer `{aiida_localhost.label}` polls its jobs through a login shell' in output
    assert f'verdi computer configure core.local {aiida_localhost.label} --no-use-login-shell' in output
    assert aiida_localhost.get_configuration()['use_login_shell'] is True  # the user's computer is left alone


def test_setup_bad_bin_dir(aiida_profile, tmp_path):
    output = run_cli(['setup', '--bin-dir', tmp_path], ok=False)
    assert_one_line_error(output, 'pace')


# ---------------------------------------------------------------- dataset


def test_dataset_import_export_round_trip(aiida_profile, extxyz_file, tmp_path):
    from ase.io import read

    output = run_cli(['dataset', 'import', extxyz_file, '--label', 'cu six'])
    training_set = orm.load_node(last_pk(output))
    assert isinstance(training_set, TrainingSetData)
    assert training_set.label == 'cu six' and training_set.num_structures == 6

    exported = tmp_path / 'out.extxyz'
    run_cli(['dataset', 'export', training_set.pk, exported])
    original, again = read(extxyz_file, index=':'), read(exported, index=':')
    for a, b in zip(original, again, strict=True):
        assert np.allclose(a.positions, b.positions)
        assert np.isclose(a.get_potential_energy(), b.get_potential_energy())
        assert np.allclose(a.get_forces(), b.get_forces())
    reimported = orm.load_node(last_pk(run_cli(['dataset', 'import', exported])))
    assert reimported.structure_hashes() == training_set.structure_hashes()

    run_cli(['dataset', 'export', training_set.pk, exported], ok=False)  # exists: needs --force
    run_cli(['dataset', 'export', training_set.pk, exported, '--force'])


def test_dataset_import_several_files(aiida_profile, extxyz_file, tmp_path, emt_structures):
    from ase.io import write

    second = tmp_path / 'more.xyz'
    write(second, emt_structures(2, seed=8), format='extxyz')
    training_set = orm.load_node(last_pk(run_cli(['dataset', 'import', extxyz_file, second])))
    assert training_set.num_structures == 8


def test_dataset_pickle_needs_trust(aiida_profile, emt_structures, tmp_path):
    source = TrainingSetData.from_ase(emt_structures(4, seed=11)).store()
    path = tmp_path / 'data.pckl.gzip'
    run_cli(['dataset', 'export', source.pk, path])
    output = run_cli(['dataset', 'import', path], ok=False)
    assert_one_line_error(output, 'pickle', 'runs code', '--trust-pickle')

    imported = orm.load_node(last_pk(run_cli(['dataset', 'import', path, '--trust-pickle'])))
    assert imported.content_hash == source.content_hash
    assert imported.uuid != source.uuid


def test_dataset_import_refuses_unlabelled_structures(aiida_profile, tmp_path):
    from ase.build import bulk
    from ase.io import write

    path = tmp_path / 'bare.extxyz'
    write(path, [bulk('Cu', 'fcc', a=3.6)], format='extxyz')
    assert_one_line_error(run_cli(['dataset', 'import', path], ok=False), 'no energy')


def test_dataset_show(aiida_profile, emt_structures):
    atoms_list = emt_structures(5, seed=12)
    training_set = TrainingSetData.from_ase(atoms_list).store()
    output = run_cli(['dataset', 'show', training_set.pk])
    per_atom = [a.get_potential_energy() / len(a) for a in atoms_list]
    max_force = max(np.linalg.norm(a.get_forces(), axis=1).max() for a in atoms_list)
    assert f'{min(per_atom):.4f} to {max(per_atom):.4f} eV/atom' in output
    assert f'{max_force:.4f} eV/Å' in output
    assert 'structures:' in output and ' 5' in output
    assert 'elements:' in output and 'Cu' in output
    assert 'has stress:' in output


def test_dataset_export_unknown_extension(aiida_profile, emt_structures, tmp_path):
    training_set = TrainingSetData.from_ase(emt_structures(2)).store()
    output = run_cli(['dataset', 'export', training_set.pk, tmp_path / 'data.cif'], ok=False)
    assert_one_line_error(output, 'unknown extension', '.extxyz')


def assert_bad_argument(output: str, *fragments: str) -> None:
    """Refused by aiida's own parameter type: click's usage line and one error line, no traceback."""
    assert 'Traceback' not in output
    (error,) = [line for line in output.splitlines() if line.startswith('Error:')]
    for fragment in fragments:
        assert fragment in error, output


@pytest.mark.parametrize(
    ('args', 'fragments'),
    [
        (['dataset', 'show', '987654321'], ('no TrainingSetData found with ID<987654321>',)),
        (['potential', 'show', '987654321'], ('no PacePotentialData found with ID<987654321>',)),
        (['report', '987654321'], ('found with ID<987654321>',)),
        (['provenance', '987654321'], ('found with ID<987654321>',)),
    ],
)
def test_unknown_pk(aiida_profile, args, fragments):
    assert_bad_argument(run_cli(args, ok=False), *fragments)


def test_wrong_node_type(aiida_profile, emt_structures):
    training_set = TrainingSetData.from_ase(emt_structures(2)).store()
    output = run_cli(['potential', 'show', training_set.pk], ok=False)
    assert_bad_argument(output, f'no PacePotentialData found with ID<{training_set.pk}>')
    output = run_cli(['provenance', orm.Int(3).store().pk], ok=False)
    assert_one_line_error(output, 'is a Int, not a PacePotentialData or TrainingSetData')
    output = run_cli(['report', training_set.pk], ok=False)
    assert_bad_argument(output, f'found with ID<{training_set.pk}>')


# ---------------------------------------------------------------- potential, verdi data pacemaker


@pytest.mark.pacemaker
def test_potential_show_and_export(al_graph, tmp_path):
    workchain = al_graph['workchain']
    potential = workchain.outputs.potential
    output = run_cli(['potential', 'show', potential.pk])
    assert 'elements:' in output and 'Cu' in output
    assert f'TrainingSetData<{workchain.outputs.training_set.pk}>' in output
    assert f'ActiveSetData<{workchain.outputs.active_set.pk}>' in output
    assert 'test RMSE' in output and 'meV/Å' in output

    run_cli(['potential', 'export', potential.pk, tmp_path / 'out'])
    files = {path.name: path for path in (tmp_path / 'out').iterdir()}
    assert {'potential.yaml', 'potential.yace', 'potential.asi', 'lammps.in'} <= set(files)
    assert files['potential.yaml'].read_bytes() == potential.get_yaml_content()
    assert files['potential.asi'].read_bytes() == workchain.outputs.active_set.get_asi_content()
    lammps = files['lammps.in'].read_text()
    assert 'pair_style pace' in lammps and 'pair_coeff * * potential.yace Cu' in lammps
    output = run_cli(['potential', 'export', potential.pk, tmp_path / 'out'], ok=False)
    assert_one_line_error(output, 'potential.yaml exists', '--force')
    run_cli(['potential', 'export', potential.pk, tmp_path / 'out', '--force'])


@pytest.mark.pacemaker
def test_verdi_data_pacemaker(al_graph, tmp_path):
    from aiida.cmdline.commands.cmd_verdi import verdi

    from aiida_pacemaker.cli.data import data_pacemaker

    workchain = al_graph['workchain']
    training_set, potential = workchain.outputs.training_set, workchain.outputs.potential
    active_set = workchain.outputs.active_set
    # registered under `verdi data` through the entry point
    shown = run_cli(['data', 'pacemaker', 'show', training_set.pk], command=verdi)
    assert shown == run_cli(['dataset', 'show', training_set.pk])  # one implementation, two entry points
    assert run_cli(['show', potential.pk], command=data_pacemaker) == run_cli(
        ['potential', 'show', potential.pk]
    )
    assert active_set.potential_uuid in run_cli(['show', active_set.pk], command=data_pacemaker)

    run_cli(['export', active_set.pk, tmp_path / 'set.asi'], command=data_pacemaker)
    assert (tmp_path / 'set.asi').read_bytes() == active_set.get_asi_content()
    run_cli(['export', training_set.pk, tmp_path / 'set.extxyz'], command=data_pacemaker)
    assert len((tmp_path / 'set.extxyz').read_text().splitlines()) > training_set.num_atoms
    run_cli(['export', potential.pk, tmp_path / 'potential'], command=data_pacemaker)
    assert (tmp_path / 'potential' / 'lammps.in').is_file()
    assert_bad_argument(
        run_cli(['show', workchain.pk], command=data_pacemaker, ok=False), f'found with ID<{workchain.pk}>'
    )


# ---------------------------------------------------------------- report, plot, provenance


@pytest.mark.pacemaker
def test_report(al_graph):
    workchain = al_graph['workchain']
    output = run_cli(['report', workchain.pk])
    curve = provenance.learning_curve(workchain)
    assert 'finished' in output and f'PacePotentialData<{workchain.outputs.potential.pk}>' in output
    for header in (
        'cycle',
        'structures',
        'train E RMSE',
        'test F RMSE',
        'extrapolating',
        'max gamma',
        'selected',
        'labelled',
    ):
        assert header in output
    rows = [line.split() for line in output.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ['1', '2']
    for row, expected in zip(rows, curve, strict=True):
        assert row[1] == str(expected['num_structures'])
        assert row[5] == f'{expected["test_force_rmse"]:.1f}'
        assert row[7] == str(num_extrapolating(expected))
        assert row[8] == f'{expected["max_gamma"]:.2f}'
        assert row[9] == str(expected['num_selected'])
        assert row[10] == str(expected['num_labelled'])
        assert row[11] == str(orm.load_node(expected['potential_uuid']).pk)
        assert row[12] == str(orm.load_node(expected['training_set_uuid']).pk)
    assert rows[-1][11] == str(workchain.outputs.potential.pk)
    assert 'selected not labelled (last cycle: no later fit would use them)' in output
    summary = json.loads(run_cli(['report', workchain.pk, '--json']))
    assert [row['potential_pk'] for row in summary['learning_curve']] == [row[11] for row in rows]
    assert summary['state'] == 'finished' and summary['failed_steps'] == []
    # what the labels cost: the one labelled selection (cycle 1, one batch of 3), its time from the graph
    (batch,) = [
        link.node
        for link in workchain.base.links.get_outgoing().all()
        if link.link_label.startswith('label_batch')
    ]
    ((step),) = summary['labelling_cost']  # fmt: skip
    assert step['step'] == 1 and step['processes'] == 1 and step['labels'] == 3
    assert step['wall_seconds'] == pytest.approx((batch.mtime - batch.ctime).total_seconds())
    assert step['wall_seconds'] > 0  # the batch's node starts when its labelling starts, as a calcfunction's
    assert 'labels (step: labels in labelling time): 1: 3 in' in output


@pytest.mark.pacemaker
def test_plot(al_graph, tmp_path):
    import matplotlib.image

    workchain = al_graph['workchain']
    output = run_cli(['plot', workchain.pk, '--output', tmp_path])
    for name in ('learning_curve.png', 'parity.png', 'gamma_histogram.png', 'labelling_cost.png'):
        path = tmp_path / name
        assert path.is_file() and path.stat().st_size > 20_000, name
        assert str(path) in output
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 400 and image.shape[1] > 700
        assert image[..., :3].std() > 0.05  # not a blank canvas

    run_cli(['plot', workchain.outputs.potential.pk, '--output', tmp_path / 'potential'])
    assert [p.name for p in (tmp_path / 'potential').iterdir()] == ['parity.png']


@pytest.mark.pacemaker
def test_provenance_of_potential(al_graph):
    workchain = al_graph['workchain']
    potential = workchain.outputs.potential
    output = run_cli(['provenance', potential.pk])
    assert f'TrainingSetData<{workchain.outputs.training_set.pk}>' in output
    origins = provenance.structure_origins(workchain.outputs.training_set)
    lines = output.splitlines()
    for origin in origins:
        line = next(line for line in lines if origin.name in line)
        if origin.cycle == 'initial':
            assert line.split()[-1] == 'initial'
        else:
            assert line.split()[-1] == '1'
            assert f'label_batch_with_ase<{origin.labeller.pk}>' in line
            assert f'StructureData<{origin.structure.pk}>' in line
    # the workchain's PK (what `report` and `plot` take) gives the same table, of its latest potential
    by_workchain = run_cli(['provenance', workchain.pk])
    assert (
        by_workchain.splitlines()[0] == f'PaceActiveLearningWorkChain<{workchain.pk}>: its latest potential'
    )
    assert by_workchain.splitlines()[1:] == lines


@pytest.mark.pacemaker
def test_provenance_of_structure(al_graph):
    workchain = al_graph['workchain']
    origins = provenance.structure_origins(workchain.outputs.training_set)
    structure = next(o.structure for o in origins if o.cycle == 1)
    output = run_cli(['provenance', structure.pk])
    assert 'trained 1 potential(s)' in output
    assert f'PacePotentialData<{workchain.outputs.potentials.cycle_2.pk}>' in output


# ---------------------------------------------------------------- run


def write_config(tmp_path: pathlib.Path, config: dict, name: str = 'config.yaml') -> pathlib.Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(config))
    return path


def test_run_refuses_unknown_key(aiida_profile, tmp_path):
    config = write_config(tmp_path, {'trainig_set': 1, 'protocol': 'fast'})
    output = run_cli(['run', 'active-learning', config], ok=False)
    assert_one_line_error(output, 'unknown key `trainig_set`', 'did you mean `training_set`?')
    output = run_cli(
        ['run', 'train', write_config(tmp_path, {'data': 'x.extxyz', 'pool': 'y.extxyz'})], ok=False
    )
    assert_one_line_error(output, 'unknown key `pool`')


@pytest.mark.parametrize(
    ('command', 'config', 'fragments'),
    [
        ('train', 'data: [unclosed', ('invalid YAML',)),
        ('train', {'data': 'missing.extxyz'}, ('missing.extxyz', 'no such file')),
        (
            'train',
            {'data': 'data.pckl.gzip'},
            ('not read from a run configuration', 'dataset import FILE --trust-pickle'),
        ),
        (
            'active-learning',
            {
                'data': {'example': {}},
                'pool': 'p.pkl.gz',
                'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
            },
            ('p.pkl.gz', 'unpickling runs code'),
        ),
        ('train', {'data': {'example': {}}, 'overrides': {'max_cycles': 2}}, ('only the `trainer` section',)),
        ('train', {'data': {'example': {}}, 'protocol': 'quick'}, ('unknown protocol `quick`',)),
        ('train', {'training_set': 987654321}, ('`training_set`', 'no node')),
        ('active-learning', {'data': {'example': {}}, 'pool': {'example': {}}}, ('give a `labeller`',)),
        (
            'active-learning',
            {
                'data': {'example': {}},
                'pool': {'example': {}},
                'labeller': {'ase': {'calculator': 'ase.nope.X'}},
            },
            ('labeller.ase', 'cannot import'),
        ),
        (
            'active-learning',
            {
                'data': {'example': {}},
                'pool': {'example': {}},
                'labeller': {'process': 'core.arithmetic.add'},
            },
            ('labeller.process',),
        ),
        (
            'active-learning',
            {
                'data': {'example': {}},
                'pool': {'example': {'cuont': 3}},
                'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
            },
            ('unknown key `cuont`', 'did you mean `count`?'),
        ),
        (
            'active-learning',
            {
                'data': {'example': {}},
                'pool': {'example': {}},
                'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
                'overrides': {'max_cycle': 2},
            },
            ('max_cycle', 'did you mean `max_cycles`?'),
        ),
    ],
)
def test_run_config_errors(aiida_profile, tmp_path, command, config, fragments):
    path = tmp_path / 'config.yaml'
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config))
    assert_one_line_error(run_cli(['run', command, path], ok=False), *fragments)


AL_BASE = {
    'data': {'example': {'count': 4}},
    'pool': {'example': {'count': 3, 'seed': 9}},
    'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
    'protocol': 'fast',
}


@pytest.mark.parametrize(
    ('changes', 'fragments'),
    [
        ({'overrides': {'gamma_select': 5.0, 'gamma_max': 2.0}}, ('the gamma window is empty',)),
        ({'overrides': {'max_new_structures_per_cycle': 0}}, ('`max_new_structures_per_cycle` must be',)),
        ({'overrides': {'max_cycles': 0}}, ('`max_cycles` must be an integer of at least 1', 'got 0')),
        ({'overrides': {'max_cycles': 'two'}}, ('`max_cycles` must be an integer', "got 'two'")),
        ({'overrides': {'select_in_fit': 'maybe'}}, ('`select_in_fit` must be true or false', "got 'maybe'")),
        ({'overrides': {'gamma_select': -5}}, ('`gamma_select` must be a non-negative number',)),
        (
            {'elements': ['Al']},
            ("holds Cu, which the potential's elements ['Al'] do not include",),
        ),
        ({'overrides': {'trainer': {'ace_basis_config': {'cutoff': 0.1}}}}, ('must be a cutoff radius',)),
        (
            {'labeller': {'ase': {'calculator': 'os.system', 'kwargs': {'command': 'touch /tmp/pwned'}}}},
            ('`os.system` is not an ASE calculator class',),
        ),
        (
            {'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT', 'kwargs': {'asap_cutof': True}}}},
            ('takes no argument `asap_cutof`', 'did you mean `asap_cutoff`?'),
        ),
        (
            {'augment': {'max_seed_structures': 'all'}},
            ("`augment`: `max_seed_structures` must be an integer >= -1, got 'all'",),
        ),
        (
            {'augment': {'nn_distance_mn': 1.0}},
            ('unknown key `nn_distance_mn` in `augment`', 'did you mean `nn_distance_min`?'),
        ),
    ],
)
def test_refused_run_stores_nothing(aiida_profile, tmp_path, changes, fragments):
    """Settings that cannot work are refused in one line before anything runs, and nothing is stored (the
    tools registered as codes on localhost are set-up, not data, and stay)."""
    not_a_code = {'node_type': {'!like': 'data.core.code.%'}}
    before = orm.QueryBuilder().append(orm.Node, filters=not_a_code).count()
    config = write_config(tmp_path, {**AL_BASE, **changes})
    assert_one_line_error(run_cli(['run', 'active-learning', config], ok=False), *fragments)
    assert orm.QueryBuilder().append(orm.Node, filters=not_a_code).count() == before


def test_refused_config_with_a_duplicate_key_or_a_slab(aiida_profile, tmp_path):
    from ase.build import fcc100
    from ase.io import write

    path = tmp_path / 'config.yaml'
    path.write_text(yaml.safe_dump(AL_BASE) + 'protocol: precise\n')
    assert_one_line_error(
        run_cli(['run', 'active-learning', path], ok=False), 'the key `protocol` is given twice'
    )
    write(tmp_path / 'slab.extxyz', fcc100('Cu', size=(1, 1, 3), vacuum=5.0))
    before = orm.QueryBuilder().append(orm.Node).count()
    config = write_config(tmp_path, {**AL_BASE, 'pool': 'slab.extxyz'})
    assert_one_line_error(
        run_cli(['run', 'active-learning', config], ok=False), 'is periodic in only some directions'
    )
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_run_daemon_needs_a_broker(aiida_profile, tmp_path):
    """The test profile has no broker: --daemon says so in one line instead of failing somewhere deep."""
    config = write_config(tmp_path, {'data': {'example': {'count': 4}}, 'protocol': 'fast'})
    assert_one_line_error(
        run_cli(['run', 'train', config, '--daemon'], ok=False), 'no broker', 'without --daemon'
    )


def test_examples_are_valid(aiida_profile):
    """Both example configs build a process builder (nothing runs)."""
    from aiida_pacemaker.cli import run_config

    config = run_config.read_config(EXAMPLES / 'train_emt.yaml', run_config.TRAIN_KEYS)
    builder = run_config.train_builder(config, EXAMPLES)
    assert builder.train.parameters['potential']['elements'] == ['Cu']
    config = run_config.read_config(EXAMPLES / 'active_learning_emt.yaml', run_config.ACTIVE_LEARNING_KEYS)
    builder = run_config.active_learning_builder(config, EXAMPLES)
    assert builder.labeller.process.value == 'pacemaker.label_ase'
    assert builder.structure_pool.num_structures == config['pool']['example']['count']  # one node

    # `augment`: pace_augment's options and its aiida-shell code
    builder = run_config.active_learning_builder({**config, 'augment': {'max_seed_structures': 20}}, EXAMPLES)
    assert builder.augment.get_dict() == {'max_seed_structures': 20}
    assert builder.augment_code.default_calc_job_plugin == 'core.shell'
    assert builder.augment_code.filepath_executable.name == 'pace_augment'
    assert run_config.active_learning_builder({**config, 'augment': True}, EXAMPLES).augment.get_dict() == {}


@pytest.mark.pacemaker
def test_run_train_example(aiida_profile, tmp_path):
    output = run_cli(['run', 'train', EXAMPLES / 'train_emt.yaml'])
    assert 'running PaceTrainWorkChain<' in output
    pk = int(output.split('running PaceTrainWorkChain<')[1].split('>')[0])
    node = orm.load_node(pk)
    assert node.is_finished_ok
    assert f'PacePotentialData<{node.outputs.potential.pk}>' in output
    assert 'train force RMSE' in output and 'test force RMSE' in output and 'meV/Å' in output


@pytest.mark.pacemaker
def test_run_active_learning_example(aiida_profile, tmp_path):
    """The example, shortened to one cycle of a short fit so that the test stays quick."""
    config = yaml.safe_load((EXAMPLES / 'active_learning_emt.yaml').read_text())
    config['overrides']['max_cycles'] = 1
    config['overrides'].setdefault('trainer', {}).setdefault('fitting_params', {})['maxiter'] = 10
    output = run_cli(['run', 'active-learning', write_config(tmp_path, config)])
    assert 'running PaceActiveLearningWorkChain<' in output
    pk = int(output.split('running PaceActiveLearningWorkChain<')[1].split('>')[0])
    node = orm.load_node(pk)
    assert node.is_finished_ok
    assert 'train F RMSE' in output  # the learning-curve table at the end
    assert f'PacePotentialData<{node.outputs.potential.pk}>' in output
    assert node.inputs.labeller.inputs.calculator.value == 'ase.calculators.emt.EMT'
    # the example data was labelled by the run's labeller: every training structure's label is in the graph
    origins = provenance.structure_origins(node.outputs.training_set)
    assert origins and all(origin.labeller is not None for origin in origins)


def test_run_config_from_files(aiida_profile, tmp_path, emt_structures):
    """Files relative to the config, unlabelled structures, MD exploration and a process labeller."""
    from ase.io import write

    from aiida_pacemaker.cli import run_config

    (tmp_path / 'in').mkdir()
    write(tmp_path / 'in' / 'data.extxyz', emt_structures(5, seed=1), format='extxyz')
    bare = [atoms.copy() for atoms in emt_structures(3, seed=2)]
    write(tmp_path / 'in' / 'bare.xyz', bare, format='extxyz')
    write(tmp_path / 'in' / 'seed.cif', bare[0])
    config = {
        'elements': ['Cu'],
        'data': 'in/data.extxyz',
        'structures': 'in/bare.xyz',
        'pool': ['in/bare.xyz', 'in/seed.cif'],
        'explore': {'structures': 'in/seed.cif', 'temperatures': [500.0], 'steps': 20},
        'labeller': {'process': 'pacemaker.label_ase', 'inputs': {'calculator': 'ase.calculators.emt.EMT'}},
        'protocol': 'fast',
        'overrides': {'max_cycles': 1},
        'label': 'from files',
    }
    path = write_config(tmp_path, config)
    builder = run_config.active_learning_builder(
        run_config.read_config(path, run_config.ACTIVE_LEARNING_KEYS), tmp_path
    )
    assert builder.training_set.num_structures == 5
    assert len(builder.structures) == 3 and len(builder.explore.structures) == 1
    assert builder.structure_pool.num_structures == 4 and builder.structure_pool.names == [
        f'p{i:04d}' for i in range(4)
    ]
    assert builder.explore.parameters['temperatures'] == [500.0] and builder.explore.parameters['steps'] == 20
    assert builder.labeller.inputs['calculator'].value == 'ase.calculators.emt.EMT'
    assert builder.max_cycles.value == 1 and builder.metadata.label == 'from files'
    assert builder.train.train.parameters['potential']['elements'] == ['Cu']
    # nothing is stored before the launch; once stored (as the launch does), the same data file again
    # reuses the stored training set (same content, same node)
    assert not builder.training_set.is_stored
    builder.training_set.store()
    again = run_config.active_learning_builder(
        run_config.read_config(path, run_config.ACTIVE_LEARNING_KEYS), tmp_path
    )
    assert again.training_set.uuid == builder.training_set.uuid


# ---------------------------------------------------------------- campaigns that continue


@pytest.mark.pacemaker
def test_run_active_learning_continues_a_campaign(al_graph, tmp_path):
    """``--continue PK``: the first cycle fine-tunes the last potential on the newest training set of the
    earlier run, so the graph links the two runs; labelled candidates are never labelled again."""
    previous = al_graph['workchain']
    state = provenance.campaign_state(previous)
    assert state.cycle == 2 and state.potential.uuid == previous.outputs.potential.uuid
    assert state.training_set.uuid == previous.outputs.training_set.uuid
    # the pool of the new run: one structure the earlier run labelled, and two new ones
    labelled = previous.outputs.training_set.to_ase()[-1]
    from ase.io import write

    from aiida_pacemaker.tools.examples import random_bulk_structures

    write(
        tmp_path / 'pool.extxyz', [labelled, *random_bulk_structures(2, seed=77, strain=0.1)], format='extxyz'
    )
    config = {
        'pool': 'pool.extxyz',
        'labeller': {'ase': {'calculator': 'ase.calculators.emt.EMT'}},
        'protocol': 'fast',
        'overrides': {
            'max_cycles': 1,
            'gamma_select': 0.0,
            'trainer': {'fitting_params': {'maxiter': 10}},
        },
        # the final potential's equation of state against EMT's (the ASE labeller's calculator), in the run
        'validate': {'properties': {'eos': {'points': 5, 'volume_range': 0.04}, 'relax': {'max_steps': 30}}},
    }
    output = run_cli(['run', 'active-learning', write_config(tmp_path, config), '--continue', previous.pk])
    assert f'continuing PaceActiveLearningWorkChain<{previous.pk}>: from PacePotentialData<' in output
    pk = int(output.split('running PaceActiveLearningWorkChain<')[1].split('>')[0])
    node = orm.load_node(pk)
    assert node.is_finished_ok, node.exit_message
    assert node.inputs.initial_potential.uuid == previous.outputs.potential.uuid
    assert node.inputs.training_set.uuid == previous.outputs.training_set.uuid
    fit = node.outputs.potentials.cycle_1.base.links.get_incoming(node_class=orm.CalcJobNode).one().node
    assert (
        fit.inputs.initial_potential.uuid == previous.outputs.potential.uuid
    )  # fine-tuned, not from scratch
    # the two runs meet in the graph: the earlier run's potential is an input of the later one's fit
    assert previous.pk in {link.node.pk for link in state.potential.base.links.get_incoming().all()}
    # the labelled pool structure was never a candidate worth a label (the run's reports are in its output)
    assert '1 structures are already in the training set or repeat another one' in output
    # the validation ran last, on the final potential, against EMT, and `report` shows its table
    validation = node.base.links.get_outgoing(link_label_filter='validate').one().node
    assert validation.is_finished_ok and validation.inputs.potential.uuid == node.outputs.potential.uuid
    assert validation.inputs.labeller.calculator.value == 'ase.calculators.emt.EMT'
    assert {row['property'] for row in node.outputs.validation.get_list()} >= {'equilibrium volume'}
    report = run_cli(['report', node.pk])
    assert 'validation of the final potential against the reference' in report and 'bulk modulus' in report
    summary = json.loads(run_cli(['report', node.pk, '--json']))
    assert summary['validation'] == node.outputs.validation.get_list()


@pytest.mark.pacemaker
def test_continue_refuses_data_and_other_nodes(al_graph, tmp_path):
    previous = al_graph['workchain']
    before = orm.QueryBuilder().append(orm.Node).count()
    config = write_config(tmp_path, AL_BASE)  # gives `data`: the continued run brings its own training set
    assert_one_line_error(
        run_cli(['run', 'active-learning', config, '--continue', previous.pk], ok=False),
        '`data`: a run that continues another starts from its newest training set',
    )
    other = write_config(tmp_path, {k: v for k, v in AL_BASE.items() if k != 'data'}, name='other.yaml')
    training_set = al_graph['initial']
    output = run_cli(['run', 'active-learning', other, '--continue', training_set.pk], ok=False)
    assert 'Traceback' not in output and f'{training_set.pk}' in output
    assert orm.QueryBuilder().append(orm.Node).count() == before
