"""pace_collect through aiida-shell, for real: VASP outputs written from EMT results -> TrainingSetData.

ASE reads ``vasprun.xml`` but cannot write it, so the tests write the parts that ASE's reader (and
hence pace_collect) uses: the species, the initial structure, and one ``calculation`` block per ionic
step with its electronic steps, cell, positions, forces (eV/Å), stress (kBar, VASP's sign) and
energies (eV).
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
import pytest
from ase import Atoms
from ase.units import GPa

pytestmark = pytest.mark.pacemaker

#: VASP writes stress in kBar with the opposite sign to ASE: ASE stress = -0.1 GPa * VASP stress
KBAR = 0.1 * GPa


def _rows(name: str, rows: np.ndarray) -> str:
    lines = ''.join(f'   <v> {" ".join(f"{x:16.8f}" for x in row)} </v>\n' for row in rows)
    return f'  <varray name="{name}" >\n{lines}  </varray>\n'


def _structure(atoms: Atoms, name: str | None = None) -> str:
    label = f' name="{name}"' if name else ''
    return (
        f' <structure{label}>\n  <crystal>\n{_rows("basis", atoms.cell.array)}'
        f'   <i name="volume">{atoms.get_volume():16.8f} </i>\n  </crystal>\n'
        f'{_rows("positions", atoms.get_scaled_positions(wrap=False))} </structure>\n'
    )


def _energy(energy: float) -> str:
    return (
        f'   <energy>\n    <i name="e_fr_energy">{energy:16.8f} </i>\n'
        f'    <i name="e_wo_entrp">{energy:16.8f} </i>\n    <i name="e_0_energy">{energy:16.8f} </i>\n'
        '   </energy>\n'
    )


def vasprun_text(images: Sequence[Atoms], electronic_steps: int = 3, nelm: int = 60) -> str:
    """The ``vasprun.xml`` of a run whose ionic steps are ``images`` (ASE Atoms with a calculator
    holding energy, forces and stress), each after ``electronic_steps`` SCF steps."""
    first = images[0]
    symbols = first.get_chemical_symbols()
    kinds = list(dict.fromkeys(symbols))
    species = ''.join(f'    <rc><c>{s:2}</c><c>{kinds.index(s) + 1:4d}</c></rc>\n' for s in symbols)
    text = (
        '<?xml version="1.0" encoding="ISO-8859-1"?>\n<modeling>\n'
        ' <generator>\n  <i name="program" type="string">vasp </i>\n'
        '  <i name="version" type="string">6.4.2  </i>\n </generator>\n'
        ' <incar>\n  <i type="string" name="PREC">accurate</i>\n  <i name="ENCUT">    400.00000000</i>\n </incar>\n'
        ' <kpoints>\n  <generation param="Gamma">\n   <v type="int" name="divisions">       1        1        1 </v>\n'
        '  </generation>\n  <varray name="kpointlist" >\n   <v>       0.00000000       0.00000000       0.00000000 </v>\n'
        '  </varray>\n  <varray name="weights" >\n   <v>       1.00000000 </v>\n  </varray>\n </kpoints>\n'
        ' <parameters>\n  <separator name="electronic" >\n'
        f'   <i type="int" name="NELM">    {nelm}</i>\n  </separator>\n </parameters>\n'
        f' <atominfo>\n  <atoms>      {len(symbols)} </atoms>\n  <types>       {len(kinds)} </types>\n'
        '  <array name="atoms" >\n   <dimension dim="1">ion</dimension>\n   <dimension dim="2">field</dimension>\n'
        '   <field type="string">element</field>\n   <field type="int">atomtype</field>\n'
        f'   <set>\n{species}   </set>\n  </array>\n </atominfo>\n'
        f'{_structure(first, "initialpos")}'
    )
    for atoms in images:
        results = atoms.calc.results
        energy = float(results['energy'])
        stress = np.asarray(results['stress'], dtype=float)  # ASE Voigt xx yy zz yz xz xy, eV/Å³
        xx, yy, zz, yz, xz, xy = stress
        tensor = -np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]]) / KBAR
        energies = [energy + 0.01 * 2.0**-k for k in range(electronic_steps - 1)] + [energy]
        scf = ''.join(f'  <scstep>\n{_energy(e)}  </scstep>\n' for e in energies)
        text += (
            f' <calculation>\n{scf}{_structure(atoms)}'
            f'{_rows("forces", np.asarray(results["forces"]))}{_rows("stress", tensor)}'
            f'  <energy>\n   <i name="e_fr_energy">{energy:16.8f} </i>\n   <i name="e_wo_entrp">{energy:16.8f} </i>\n'
            f'   <i name="e_0_energy">{energy:16.8f} </i>\n  </energy>\n </calculation>\n'
        )
    return text + f'{_structure(images[-1], "finalpos")}</modeling>\n'


def write_vasprun(
    directory: pathlib.Path, images: Sequence[Atoms], truncate: str | None = None, **kwargs: int
) -> pathlib.Path:
    """Write ``directory/vasprun.xml`` for ``images`` (``kwargs`` go to :func:`vasprun_text`) and return its path.

    :param truncate: cut the file just before the last occurrence of this text, as a run that was
        killed there leaves it (e.g. ``'<varray name="forces"'`` inside the last ionic step).
    """
    directory.mkdir(parents=True, exist_ok=True)
    text = vasprun_text(images, **kwargs)
    if truncate is not None:
        text = text[: text.rindex(truncate)]
    path = directory / 'vasprun.xml'
    path.write_text(text)
    return path


def emt_relaxation(atoms: Atoms, steps: int) -> list[Atoms]:
    """``steps`` images of ``atoms`` relaxing under EMT (FIRE), each with a SinglePointCalculator
    holding energy (eV), forces (eV/Å) and stress (eV/Å³)."""
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.optimize import FIRE

    atoms = atoms.copy()
    atoms.calc = EMT()
    images: list[Atoms] = []

    def record() -> None:
        image = atoms.copy()
        image.calc = SinglePointCalculator(
            image,
            energy=atoms.get_potential_energy(),
            forces=atoms.get_forces(),
            stress=atoms.get_stress(),
        )
        images.append(image)

    optimizer = FIRE(atoms, logfile=None)
    optimizer.attach(record)
    optimizer.run(fmax=1e-6, steps=steps - 1)
    return images[:steps]


# ---------------------------------------------------------------------------------------------- fixtures
#: where a run killed inside its last ionic step leaves the file: before that step's forces
KILLED_AT = '<varray name="forces"'


@pytest.fixture(scope='module')
def vasp_runs(tmp_path_factory):
    """VASP outputs of EMT Cu runs: ``relax`` (3 ionic steps, finished), ``single/vasprun.xml`` (1 step),
    and ``batch/`` with a run killed in its 2nd step (``killed``), one killed in its 1st (``crashed``)
    and one whose electronic loop hit NELM (``unconverged``). Returns the root and the images."""
    from aiida_pacemaker.tools.examples import random_bulk_structures

    root = tmp_path_factory.mktemp('vasp')
    seeds = random_bulk_structures(5, seed=11, strain=0.04)
    images = {
        'relax': emt_relaxation(seeds[0], 3),
        'single': emt_relaxation(seeds[1], 1),
        'killed': emt_relaxation(seeds[2], 2),
        'crashed': emt_relaxation(seeds[3], 1),
        'unconverged': emt_relaxation(seeds[4], 1),
    }
    write_vasprun(root / 'relax', images['relax'])
    write_vasprun(root / 'single', images['single'])
    write_vasprun(root / 'batch' / 'killed', images['killed'], truncate=KILLED_AT)
    write_vasprun(root / 'batch' / 'crashed', images['crashed'], truncate=KILLED_AT)
    write_vasprun(root / 'batch' / 'unconverged', images['unconverged'], electronic_steps=8, nelm=8)
    (root / 'batch' / 'killed' / 'WAVECAR').write_bytes(b'\0' * 64)  # what a VASP folder also holds
    return root, images


@pytest.fixture(scope='module')
def collected(vasp_runs, utility_codes):
    """One real pace_collect run on a folder, a single file and a folder of folders."""
    from aiida_pacemaker.utilities import collect_vasp

    root, _ = vasp_runs
    sources = [root / 'relax', root / 'single' / 'vasprun.xml', root / 'batch']
    return collect_vasp(sources, code=utility_codes['pace_collect'])


# ---------------------------------------------------------------------------------------------- tests
def test_written_vasprun_reads_back_in_ase(vasp_runs):
    """The test files are valid: ASE gives back every ionic step's energy, forces and stress."""
    from ase.io import read

    root, images = vasp_runs
    steps = read(root / 'relax' / 'vasprun.xml', index=':', format='vasp-xml')
    assert len(steps) == 3
    for step, image in zip(steps, images['relax'], strict=True):
        assert step.get_potential_energy() == pytest.approx(image.get_potential_energy(), abs=1e-7)
        assert np.allclose(step.get_forces(), image.get_forces(), atol=1e-7)
        assert np.allclose(step.get_stress(), image.get_stress(), atol=1e-8)
        assert np.allclose(step.positions, image.positions, atol=1e-6)
    # a run killed before its first ionic step ended: ASE gives the initial structure, unlabelled
    (crashed,) = read(root / 'batch' / 'crashed' / 'vasprun.xml', index=':', format='vasp-xml')
    assert crashed.calc is None


def test_collect_gives_the_finished_structures(collected, vasp_runs):
    _, images = vasp_runs
    assert collected.ok, collected.message
    training_set = collected.outputs['training_set']
    assert training_set.is_stored
    # pace_collect's default selection is the last ionic step of each run; in the order of the files
    assert training_set.names == ['relax/vasprun.xml##2', 'single/vasprun.xml##0']
    expected = [images['relax'][-1], images['single'][0]]
    for atoms, image in zip(training_set.to_ase(), expected, strict=True):
        assert atoms.get_potential_energy() == pytest.approx(image.get_potential_energy(), abs=1e-7)
        assert np.allclose(atoms.get_forces(), image.get_forces(), atol=1e-7)
        assert np.allclose(atoms.calc.results['stress'], image.get_stress(), atol=1e-8)
        assert np.allclose(atoms.cell.array, image.cell.array, atol=1e-7)
        assert np.allclose(atoms.positions, image.positions, atol=1e-6)
    assert training_set.base.attributes.get('has_stress') is True
    assert collected.message.startswith(f'TrainingSetData<{training_set.pk}>: 2 structures')


def test_collect_says_what_it_left_out_and_why(collected):
    report = collected.outputs['report'].get_dict()
    assert report['num_structures'] == 2
    assert sorted(entry['file'] for entry in report['files']) == [
        'batch/crashed/vasprun.xml',
        'batch/killed/vasprun.xml',
        'batch/unconverged/vasprun.xml',
        'relax/vasprun.xml',
        'single/vasprun.xml',
    ]
    assert report['skipped_files'] == [
        {'file': 'batch/crashed/vasprun.xml', 'reason': 'RuntimeError: Atoms object has no calculator.'}
    ]
    dropped = {entry['name']: entry['reason'] for entry in report['dropped_structures']}
    assert sorted(dropped) == ['batch/killed/vasprun.xml##0', 'batch/unconverged/vasprun.xml##0']
    assert 'did not finish' in dropped['batch/killed/vasprun.xml##0']
    assert 'NELM = 8' in dropped['batch/unconverged/vasprun.xml##0']
    assert len(collected.warnings) == 3
    assert any(w.startswith('batch/crashed/vasprun.xml: RuntimeError') for w in collected.warnings)


def test_collect_provenance_starts_at_the_uploaded_files(collected, utility_codes):
    from aiida import orm

    training_set = collected.outputs['training_set']
    function = training_set.creator
    assert function.process_label == 'training_set_from_collected'
    job = function.inputs.arrays.creator
    assert job.uuid == collected.job.uuid
    assert job.process_label == 'ShellJob<pace_collect@localhost-utilities>'
    assert job.inputs.code.uuid == utility_codes['pace_collect'].uuid
    assert job.exit_status == 0
    folders = {key: node for key, node in job.inputs.nodes.items() if key.startswith('vasp_')}
    assert isinstance(folders['vasp_0'], orm.FolderData)
    assert folders['vasp_0'].list_object_names() == ['vasprun.xml']
    assert isinstance(folders['vasp_1'], orm.SinglefileData) and folders['vasp_1'].filename == 'vasprun.xml'
    # only the files pace_collect reads are uploaded, sub-folders kept; a WAVECAR stays behind
    assert sorted(folders['vasp_2'].list_object_names()) == ['crashed', 'killed', 'unconverged']
    assert folders['vasp_2'].list_object_names('killed') == ['vasprun.xml']
    assert job.inputs.filenames.get_dict() == {
        'vasp_0': 'data/relax',
        'vasp_1': 'data/single/vasprun.xml',
        'vasp_2': 'data/batch',
        'script': 'dataframe_to_npz.py',
    }
    # the job-side script that converted pace_collect's pickle is an input of the job, stored once
    script = job.inputs.nodes.script
    assert 'pd.read_pickle' in script.get_content()
    from aiida_pacemaker.utilities.jobs import script_node

    assert script_node('dataframe_to_npz.py').uuid == script.uuid
    # the pickle itself is never stored, only the arrays and the report
    assert 'collected_pckl_gzip' not in job.outputs
    assert {'collected_npz', 'collected_json', 'stdout'} <= set(job.outputs)


def test_keep_unfinished_keeps_the_structures_of_unfinished_runs(collected):
    from aiida import orm

    from aiida_pacemaker.calculations.functions.utilities import training_set_from_collected

    job = collected.job
    results = training_set_from_collected(
        arrays=job.outputs.collected_npz, report=job.outputs.collected_json, keep_unfinished=orm.Bool(True)
    )
    assert results['training_set'].names == [
        'batch/killed/vasprun.xml##0',
        'batch/unconverged/vasprun.xml##0',
        'relax/vasprun.xml##2',
        'single/vasprun.xml##0',
    ]
    assert results['report']['dropped_structures'] == []


def test_collect_of_only_unreadable_runs_fails_with_one_line(vasp_runs, utility_codes):
    """pace_collect exits non-zero when it reads nothing: the ShellJob's exit code, and the command ends
    with one line that names the file and why ASE could not read it."""
    import re

    from aiida import orm
    from click.testing import CliRunner

    from aiida_pacemaker.cli.utilities import cmd_utilities

    root, _ = vasp_runs
    code = utility_codes['pace_collect']
    arguments = ['collect', str(root / 'batch' / 'crashed'), '-X', str(code.pk)]
    result = CliRunner().invoke(cmd_utilities, arguments, catch_exceptions=False)
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith('Critical')]
    assert 'Warning: crashed/vasprun.xml' not in result.output  # said once, in the one line
    pk = int(re.search(r'ShellJob<(\d+)>', line).group(1))
    assert line == (
        f'Critical: pace_collect read no structure (ShellJob<{pk}>, exit status 400): '
        'crashed/vasprun.xml: RuntimeError: Atoms object has no calculator.'
    )
    job = orm.load_node(pk)
    assert job.exit_status == 400  # aiida-shell's ERROR_COMMAND_FAILED: pace_collect exited with 1
    assert "KeyError: 'ase_atoms'" in job.outputs.stdout.get_content()  # what pace_collect itself said
    assert job.inputs.nodes.vasp_0.list_object_names() == ['vasprun.xml']


def test_sources_without_vasp_outputs_are_refused_before_anything_runs(tmp_path, aiida_profile):
    from aiida import orm

    from aiida_pacemaker.utilities import collect_vasp

    (tmp_path / 'empty').mkdir()
    (tmp_path / 'empty' / 'INCAR').write_text('ENCUT = 400\n')
    jobs_before = orm.QueryBuilder().append(orm.CalcJobNode).count()
    with pytest.raises(ValueError, match=r'no vasprun\.xml or OUTCAR under'):
        collect_vasp([tmp_path / 'empty'])
    with pytest.raises(ValueError, match=r'is not a vasprun\.xml or OUTCAR'):
        collect_vasp([tmp_path / 'empty' / 'INCAR'])
    with pytest.raises(ValueError, match='--selection'):
        collect_vasp([tmp_path / 'empty'], selection='final')
    assert orm.QueryBuilder().append(orm.CalcJobNode).count() == jobs_before
