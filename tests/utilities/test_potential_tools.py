"""pace_corerep, pace_augment, pace_info and pace_timing through aiida-shell, for real, on the potential
the test session fits (``fitted``) and its active set: values, provenance, the CLI and the failures."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.pacemaker

#: Cu-Cu distances (Å) for the dimer check: inside the core, around it, and well beyond it
SHORT = [0.6, 1.0, 1.4]
FAR = [3.0, 4.0]


@pytest.fixture(scope='module')
def corerep(fitted, fitted_active_set, utility_codes):
    """pace_corerep tuned from the active set and training set (few structures, coarse scan: seconds)."""
    from aiida_pacemaker.utilities import add_core_repulsion

    return add_core_repulsion(
        fitted['potential'], num_structures=4, nn_distance_step=0.1, code=utility_codes['pace_corerep']
    )


@pytest.fixture(scope='module')
def augmented(fitted, fitted_active_set, utility_codes):
    """pace_augment from 3 seed structures, merged into the training set."""
    from aiida_pacemaker.utilities import augment_training_set

    return augment_training_set(
        fitted['potential'], max_seed_structures=3, merge=True, code=utility_codes['pace_augment']
    )


@pytest.fixture(scope='module')
def timing(fitted, utility_codes):
    from aiida_pacemaker.utilities import potential_timing

    return potential_timing(fitted['potential'], num_structures=2, code=utility_codes['pace_timing'])


def invoke(command, arguments):
    from click.testing import CliRunner

    return CliRunner().invoke(command, [str(a) for a in arguments], catch_exceptions=False)


# ------------------------------------------------------------------------------------------- pace_corerep
def test_corerep_makes_a_repulsive_potential_where_the_fit_is_not(corerep, fitted):
    from aiida_pacemaker.baselines import dimer_curve

    assert corerep.ok, corerep.message
    plain, new = fitted['potential'], corerep.outputs['potential']
    (r_in,) = corerep.outputs['inner_cutoffs'].get_dict().values()
    assert list(corerep.outputs['inner_cutoffs'].get_dict()) == ['Cu-Cu']
    assert 0.5 < r_in < 2.6  # within the scanned nearest-neighbour distances
    assert new.physics_baseline == 'zbl' and plain.physics_baseline == 'none'
    assert new.has_yace  # pace_yaml2yace ran in the same job
    assert (new.elements, new.number_of_functions, new.cutoff) == (
        plain.elements,
        plain.number_of_functions,
        plain.cutoff,
    )
    e_plain, f_plain = dimer_curve(plain.get_ase_calculator(), ('Cu', 'Cu'), SHORT + FAR)
    e_new, f_new = dimer_curve(new.get_ase_calculator(), ('Cu', 'Cu'), SHORT + FAR)
    # ZBL for Cu2: ~843 / 135 / 31 eV at 0.6 / 1.0 / 1.4 Å (PACEMAKER.md); the plain fit stays near 1 eV
    assert e_new[0] > 500 and e_new[1] > 100
    assert np.all(np.abs(e_plain[:2]) < 20)
    assert np.all(f_new[:2] > 100)  # pushes the atoms apart
    # beyond r_in the potential is the plain fit, unchanged
    assert np.allclose(e_new[len(SHORT) :], e_plain[len(SHORT) :], atol=1e-8)
    assert np.allclose(f_new[len(SHORT) :], f_plain[len(SHORT) :], atol=1e-8)


def test_corerep_provenance_links_the_new_potential_to_its_origin(corerep, fitted, fitted_active_set):
    new = corerep.outputs['potential']
    function = new.creator
    assert function.process_label == 'potential_with_core_repulsion'
    assert function.inputs.potential.uuid == fitted['potential'].uuid
    job = function.inputs.potential_yaml.creator
    assert job.uuid == corerep.job.uuid and job.exit_status == 0
    assert job.inputs.code.label == 'pace_corerep'
    assert function.inputs.potential_yace.creator.uuid == job.uuid
    staged = job.inputs.nodes
    export = staged.potential.creator
    assert export.process_label == 'utility_input_files'
    assert export.uuid == staged.active_set.creator.uuid == staged.training_set.creator.uuid
    assert export.inputs.potential.uuid == fitted['potential'].uuid
    assert export.inputs.active_set.uuid == fitted_active_set.uuid
    assert export.inputs.training_set.uuid == fitted['training_set'].uuid
    assert job.inputs.arguments.get_list()[:7] == [
        '{potential}',
        '-d',
        '{training_set}',
        '-a',
        '{active_set}',
        '-o',
        'corerep.yaml',
    ]


def test_corerep_at_a_given_inner_cutoff_from_the_cli(corerep, utility_codes):
    """``--inner-cutoff`` sets r_in as given; the tuned potential has no active set or training set of
    its own, which pace_corerep does not read in this mode."""
    from aiida import orm

    from aiida_pacemaker.cli.utilities import cmd_utilities
    from aiida_pacemaker.utilities.corerep import core_repulsion_potentials

    tuned = corerep.outputs['potential']
    code = utility_codes['pace_corerep']
    result = invoke(cmd_utilities, ['corerep', tuned.pk, '--inner-cutoff', 'Cu:1.5', '-X', code.pk])
    assert result.exit_code == 0, result.output
    again = orm.load_node(int(result.output.strip().splitlines()[-1]))
    assert core_repulsion_potentials(tuned) == [(again, {'Cu-Cu': 1.5})]
    assert 'r_in Cu-Cu 1.500 Å' in result.output
    job = again.creator.inputs.potential_yaml.creator
    arguments = job.inputs.arguments.get_list()
    assert arguments[1:5] == ['-d', 'unused.pckl.gzip', '-a', 'unused.asi']
    assert arguments[-2:] == ['--inner-cutoff', 'Cu:1.5']


def test_corerep_refuses_what_cannot_work(corerep):
    from aiida_pacemaker.utilities import add_core_repulsion

    tuned = corerep.outputs['potential']  # made by a calcfunction: no training set, no active set
    with pytest.raises(ValueError, match='give the active set and training set'):
        add_core_repulsion(tuned)
    with pytest.raises(ValueError, match="inner cutoff 'Au'"):
        add_core_repulsion(tuned, inner_cutoff={'Au': 1.5})
    with pytest.raises(ValueError, match='not positive'):
        add_core_repulsion(tuned, inner_cutoff={'Cu': -1.0})


# ------------------------------------------------------------------------------------------- pace_augment
def test_augment_labels_compressed_structures_with_zbl(augmented, fitted):
    from pyace.data_aug import ZBLCalculator

    from aiida_pacemaker.baselines import min_interatomic_distance

    assert augmented.ok, augmented.message
    training_set = augmented.outputs['training_set']
    assert training_set.num_structures >= 1
    assert all(name.startswith('augmented/zbl/Cu') for name in training_set.names)
    shortest = min_interatomic_distance(fitted['training_set'].get_arrays())
    assert min_interatomic_distance(training_set.get_arrays()) < shortest
    for atoms in training_set.to_ase():
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        assert 0 < energy / len(atoms) <= 150  # eV/atom: pace_augment's default ceiling
        atoms.calc = ZBLCalculator(cut_in=0, cutoff=4)  # what pace_augment labels with
        assert energy == pytest.approx(atoms.get_potential_energy(), rel=1e-9)
        assert np.allclose(forces, atoms.get_forces(), atol=1e-9)


def test_augment_merge_and_provenance(augmented, fitted, fitted_active_set):
    training_set, merged = augmented.outputs['training_set'], augmented.outputs['merged']
    original = fitted['training_set']
    assert merged.num_structures == original.num_structures + training_set.num_structures
    assert merged.names == original.names + training_set.names
    merge = merged.creator
    assert merge.process_label == 'merge_training_sets'
    assert merge.inputs.first.uuid == original.uuid and merge.inputs.second.uuid == training_set.uuid
    function = training_set.creator
    assert function.process_label == 'training_set_from_augmented'
    assert function.inputs.potential.uuid == fitted['potential'].uuid
    job = function.inputs.arrays.creator
    assert job.uuid == augmented.job.uuid and job.inputs.code.label == 'pace_augment'
    export = job.inputs.nodes.training_set.creator
    assert export.inputs.training_set.uuid == original.uuid
    assert export.inputs.active_set.uuid == fitted_active_set.uuid
    assert job.inputs.nodes.script.filename == 'dataframe_to_npz.py'
    assert 'augmented_pkl_gz' not in job.outputs


# ----------------------------------------------------------------------------------- pace_info, pace_timing
def test_info_from_the_cli_matches_the_potential(corerep, utility_codes):
    """pace_info on the core-repulsion potential: its basis is the fitted one's, and its ZBL switch is
    where pace_corerep put it."""
    from aiida import orm

    from aiida_pacemaker.cli.utilities import cmd_utilities

    potential = corerep.outputs['potential']
    result = invoke(cmd_utilities, ['info', potential.pk, '-X', utility_codes['pace_info'].pk])
    assert result.exit_code == 0, result.output
    info = orm.load_node(int(result.output.strip().splitlines()[-1])).get_dict()
    assert info['elements'] == potential.elements == ['Cu']
    assert info['number_of_functions'] == potential.number_of_functions == 12
    assert info['number_of_functions_per_element'] == {'Cu': 12}
    assert sum(info['functions']['Cu']['nfuncs']) == 12
    assert info['cutoff'] == potential.cutoff
    (r_in,) = corerep.outputs['inner_cutoffs'].get_dict().values()
    bond = info['bonds']['Cu-Cu']
    assert bond['inner_cutoff_type'] == 'zbl'
    assert bond['r_in'] == pytest.approx(r_in, abs=1e-3)  # pace_info prints 3 decimals
    assert bond['delta_in'] == pytest.approx(0.1)
    assert 'basis functions: ' in result.output and '12 (Cu 12)' in result.output


def test_timing_measures_microseconds_per_atom(timing, fitted):
    assert timing.ok, timing.message
    measured = timing.outputs['timing'].get_dict()
    assert measured['num_structures'] == 2
    assert len(measured['per_structure_us']) == 2
    assert set(measured['prototypes']) <= {'fcc', 'bcc'}
    assert measured['functions_per_element'] == {'Cu': {'order_1': 6, 'higher_orders': 6}}
    assert 0 < measured['time_per_atom_us'] < 1e4
    means = [row['time_per_atom_us'] for row in measured['prototypes'].values()]
    assert measured['time_per_atom_us'] == pytest.approx(np.mean(means), abs=1.0)  # printed rounded
    assert timing.outputs['timing'].creator.inputs.potential.uuid == fitted['potential'].uuid


def test_show_prints_what_the_utilities_reported(corerep, timing, fitted):
    from aiida_pacemaker.cli.utilities import cmd_utilities

    result = invoke(cmd_utilities, ['show', fitted['potential'].pk])
    assert result.exit_code == 0, result.output
    measured = timing.outputs['timing'].get_dict()
    assert 'pace_timing: ' in result.output and f'Dict<{timing.outputs["timing"].pk}>' in result.output
    assert f'{measured["time_per_atom_us"]:.0f}' in result.output
    assert f'PacePotentialData<{corerep.outputs["potential"].pk}>' in result.output
    # the core-repulsion potential shows the pace_info run of the test above
    new = corerep.outputs['potential']
    result = invoke(cmd_utilities, ['show', new.pk])
    (r_in,) = corerep.outputs['inner_cutoffs'].get_dict().values()
    assert f'bond Cu-Cu: SBessel, rcut 5.000 Å, ZBL below r_in {r_in:.3f} Å' in ' '.join(
        result.output.split()
    )


# ------------------------------------------------------------------------------------------------ failures
def test_a_tool_that_prints_nothing_useful_gives_an_exit_code(fitted, fake_executable, aiida_profile):
    from aiida_pacemaker.codes import get_or_create_code, get_or_create_localhost
    from aiida_pacemaker.utilities import potential_info

    computer = get_or_create_localhost('localhost-utilities')
    silent = get_or_create_code(
        'pace_info', computer, fake_executable('pace_info', '#!/bin/bash\necho "loading..."\n'), 'core.shell'
    )
    run = potential_info(fitted['potential'], code=silent)
    assert not run.ok and run.outputs == {}
    assert run.job.exit_status == 0  # the command itself succeeded
    summary = run.job.outputs.stdout.base.links.get_outgoing().one().node
    assert summary.process_label == 'potential_info_summary' and summary.exit_status == 340
    assert run.message == (
        f'ShellJob<{run.job.pk}>: pace_info printed nothing useful (no `Available element(s):` line); '
        'its last line: loading...'
    )


def test_a_tool_that_fails_gives_its_exit_code_and_last_line(fitted, fake_executable, aiida_profile):
    from aiida_pacemaker.cli.utilities import cmd_utilities
    from aiida_pacemaker.codes import get_or_create_code, get_or_create_localhost

    computer = get_or_create_localhost('localhost-utilities')
    failing = get_or_create_code(
        'pace_timing',
        computer,
        fake_executable(
            'pace_timing',
            '#!/bin/bash\necho "Traceback (most recent call last):" >&2\necho "ValueError: boom" >&2\nexit 3\n',
        ),
        'core.shell',
    )
    result = invoke(cmd_utilities, ['timing', fitted['potential'].pk, '-n', 1, '-X', failing.pk])
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith('Critical')]
    assert 'pace_timing failed (ShellJob<' in line
    assert 'exit status 400: The command exited with a non-zero status: 3): ValueError: boom' in line
