"""The job-side script ``dataframe_to_npz.py`` and the calcfunctions that read what it writes, without
the tools: a DataFrame shaped like pace_augment's, VASP files that pace_collect could not read."""

from __future__ import annotations

import ast
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from ..conftest import DUMMY_POTENTIAL
from .test_collect import KILLED_AT, emt_relaxation, write_vasprun

SCRIPT = pathlib.Path(__file__).parents[2] / 'aiida_pacemaker' / 'scripts' / 'dataframe_to_npz.py'


def run_script(folder: pathlib.Path, *arguments: str) -> None:
    subprocess.run([sys.executable, str(SCRIPT), *arguments], cwd=folder, check=True, capture_output=True)


def test_the_script_imports_only_what_pacemakers_environment_has():
    tree = ast.parse(SCRIPT.read_text())
    imported = {
        alias.name.split('.')[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or '')])
    }
    allowed = {
        '__future__',
        'json',
        'os',
        'sys',
        'typing',
        'xml',
        'numpy',
        'pandas',
        'ase',
    }  # stdlib's typing too
    assert imported <= allowed, imported


@pytest.fixture
def augmented_pickle(tmp_path):
    """What pace_augment writes (its columns, an index not reset), for two compressed Cu cells."""
    import pandas as pd
    from ase.build import bulk

    atoms = [bulk('Cu', 'fcc', a=2.6, cubic=True), bulk('Cu', 'fcc', a=2.8)]
    frame = pd.DataFrame(
        {
            'name': ['augmented/zbl/Cu4', 'augmented/zbl/Cu'],
            'ase_atoms': atoms,
            'energy_corrected': [120.5, 14.25],
            'energy_corrected_per_atom': [30.125, 14.25],
            'z': [1.84, 1.98],
            'forces': [np.full((4, 3), 0.5), np.zeros((1, 3))],
            'w_forces_mask': [np.ones(4), np.ones(1)],
        },
        index=[3, 0],
    )
    frame.to_pickle(tmp_path / 'augmented.pkl.gz')
    return tmp_path


def test_augment_conversion_and_reference_energies(augmented_pickle, aiida_profile):
    """The script writes plain arrays; the calcfunction adds the potential's reference energies back."""
    from aiida import orm

    from aiida_pacemaker.calculations.functions.utilities import training_set_from_augmented
    from aiida_pacemaker.data.potential import PacePotentialData

    run_script(augmented_pickle, 'augment', 'augmented.pkl.gz', 'augmented.npz')
    with np.load(augmented_pickle / 'augmented.npz', allow_pickle=False) as archive:
        arrays = dict(archive)
    assert arrays['names'].tolist() == ['augmented/zbl/Cu4/0/nn1.84', 'augmented/zbl/Cu/1/nn1.98']
    assert arrays['natoms'].tolist() == [4, 1] and arrays['energy'].tolist() == [120.5, 14.25]
    assert np.all(arrays['forces'][:4] == 0.5) and np.all(arrays['forces'][4:] == 0.0)
    assert 'w_forces_mask' not in arrays and 'stress' not in arrays

    potential = PacePotentialData(
        DUMMY_POTENTIAL.replace('reference_energy: "{}"', 'reference_energy: "{\\"Cu\\": -0.5}"')
    ).store()
    assert potential.reference_energies == {'Cu': -0.5}
    npz = orm.SinglefileData(augmented_pickle / 'augmented.npz').store()
    results = training_set_from_augmented(potential=potential, arrays=npz)
    training_set = results['training_set']
    assert training_set.get_arrays()['energy'].tolist() == [120.5 - 4 * 0.5, 14.25 - 0.5]
    assert training_set.names == arrays['names'].tolist()


def test_collect_report_when_pace_collect_wrote_nothing(tmp_path):
    """pace_collect failed (no pickle): the script still reports every file it would read, and why ASE
    cannot; an OUTCAR takes precedence over the vasprun.xml next to it, as in pace_collect."""
    from aiida_pacemaker.tools.examples import random_bulk_structures

    data = tmp_path / 'data'
    write_vasprun(data / 'a', emt_relaxation(random_bulk_structures(1)[0], 1), truncate=KILLED_AT)
    (data / 'b').mkdir()
    (data / 'b' / 'OUTCAR').write_text(' vasp.6.4.2\n')
    (data / 'b' / 'vasprun.xml').write_text('<modeling>\n</modeling>\n')
    run_script(tmp_path, 'collect', 'collected.pckl.gzip', 'data', 'collected.npz', 'collected.json')
    import json

    report = json.loads((tmp_path / 'collected.json').read_text())
    files = {entry['file']: entry for entry in report['files']}
    assert sorted(files) == ['a/vasprun.xml', 'b/OUTCAR']
    assert files['a/vasprun.xml']['finished'] is False and files['a/vasprun.xml']['collected'] == 0
    assert files['a/vasprun.xml']['reason'] == 'RuntimeError: Atoms object has no calculator.'
    assert files['b/OUTCAR']['finished'] is False and files['b/OUTCAR']['reason']
    assert report['structures'] == []
    assert not (tmp_path / 'collected.npz').exists()


def test_merge_skips_structures_already_in_the_set(training_set, emt_structures):
    from aiida_pacemaker.calculations.functions.utilities import merge_training_sets
    from aiida_pacemaker.data import TrainingSetData

    extra = TrainingSetData.from_ase(emt_structures(24)[:2] + emt_structures(3, seed=7)).store()
    results = merge_training_sets(training_set, extra)
    assert results['merged'].get_dict() == {'added': 3, 'duplicates': 2}
    merged = results['training_set']
    assert merged.num_structures == training_set.num_structures + 3
    assert merged.structure_hashes()[: training_set.num_structures] == training_set.structure_hashes()
    assert merged.structure_hashes()[training_set.num_structures :] == extra.structure_hashes()[2:]


def test_setup_registers_the_utilities_once(aiida_profile):
    """`utilities setup` registers the five tools of this environment as aiida-shell codes; again, it
    reuses them."""
    from aiida import orm
    from click.testing import CliRunner

    from aiida_pacemaker.cli.utilities import cmd_utilities
    from aiida_pacemaker.utilities import UTILITIES

    first = CliRunner().invoke(cmd_utilities, ['setup'], catch_exceptions=False)
    again = CliRunner().invoke(cmd_utilities, ['setup'], catch_exceptions=False)
    assert first.exit_code == 0, first.output
    assert first.output == again.output
    lines = first.output.strip().splitlines()
    assert [line.split(':')[0] for line in lines] == list(UTILITIES)
    for line, utility in zip(lines, UTILITIES, strict=True):
        code = orm.load_code(int(line.split('(PK ')[1].split(')')[0]))
        assert code.default_calc_job_plugin == 'core.shell'
        assert code.filepath_executable.name == utility
        assert code.computer.label == 'localhost-pacemaker'


@pytest.mark.parametrize(
    ('options', 'message'),
    [
        ({'max_seed_structures': 2.5}, '`max_seed_structures` must be an integer >= -1, got 2.5'),
        ({'nn_distance_step': 0}, '`nn_distance_step` must be a number > 0, got 0'),
        ({'max_energy_per_atom': 'high'}, "`max_energy_per_atom` must be a number, got 'high'"),
    ],
)
def test_augment_refuses_bad_options_before_storing_anything(training_set, options, message):
    """A bad pace_augment option is one line naming it, and no node (code, files, job) is stored."""
    from aiida import orm

    from aiida_pacemaker.data import PacePotentialData
    from aiida_pacemaker.utilities import augment_training_set

    potential = PacePotentialData(DUMMY_POTENTIAL).store()
    before = orm.QueryBuilder().append(orm.Node).count()
    with pytest.raises(ValueError, match=f'^{re.escape(message)}$'):
        augment_training_set(potential, training_set=training_set, **options)
    assert orm.QueryBuilder().append(orm.Node).count() == before


def test_tool_options_in_the_order_given_with_flags():
    from aiida_pacemaker.utilities.augment import AUGMENT_OPTIONS
    from aiida_pacemaker.utilities.jobs import tool_options

    assert tool_options(AUGMENT_OPTIONS, max_atoms=-1, nn_distance_min=0.8, max_seed_structures=None) == [
        '-mnat',
        '-1',
        '-nnmin',
        '0.8',
    ]
