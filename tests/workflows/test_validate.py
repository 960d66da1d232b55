"""`PaceValidateWorkChain`, its calcfunctions, plots and CLI: a real potential against EMT Cu.

The harness is checked on EMT's own Cu numbers first (measured with ASE 3.29: a0 3.5898 Å,
B 134.3 GPa, C11/C12/C44 172.6/115.4/89.9 GPa, vacancy 1.224 eV, top phonon 8.14 THz), then the
workchain runs once (module fixture) with the `fitted` potential against EMT, and the CLI once.
"""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
from aiida import engine, orm
from ase.build import bulk
from click.testing import CliRunner

from aiida_pacemaker.tools import properties, property_settings

from ..conftest import DUMMY_POTENTIAL

EMT = 'ase.calculators.emt.EMT'

#: EMT's own Cu values (ASE 3.29), the harness must reproduce them
EMT_CU = {
    'lattice_constant': 3.5898,  # Å
    'bulk_modulus': 134.3,  # GPa
    'C11': 172.6,
    'C12': 115.4,
    'C44': 89.9,  # GPa
    'vacancy': 1.224,  # eV, relaxed, 3x3x3 cubic cells (107 atoms)
    'max_frequency': 8.14,  # THz
}

#: small but real settings: few strains, a short MD, a coarse DOS mesh
PARAMETERS = {
    'eos': {'points': 7, 'volume_range': 0.06},
    'elastic': {'points': 2},
    'vacancy': {},  # the default supercell: 3x3x3, the smallest twice the 5 Å cutoff wide
    'phonons': {'mesh': [8, 8, 8], 'npoints': 60},
    'md': {'supercell': [2, 2, 2], 'temperatures': [300.0, 1200.0], 'steps': 60, 'interval': 5},
}


def cu_fcc(a: float = 3.61):
    return bulk('Cu', 'fcc', a=a, cubic=True)


# ---------------------------------------------------------------------------------------------- EMT itself
@pytest.fixture(scope='module')
def emt_cu() -> dict:
    """EMT's Cu properties computed by the pure-ASE helpers (no AiiDA): the reference harness."""
    from ase.calculators.emt import EMT as Emt

    relaxed = properties.relax(cu_fcc(), Emt())
    atoms = relaxed.atoms
    phonon_summary, phonon_arrays = properties.phonons(atoms, Emt(), supercell=[3, 3, 3], mesh=[8, 8, 8])
    return {
        'relax': relaxed,
        'eos': properties.equation_of_state(atoms, Emt()),
        'stress': properties.elastic_constants(atoms, Emt()),
        'energy': properties.elastic_constants(atoms, Emt(), method='energy', strain=0.01),
        'vacancy': properties.vacancy_formation_energy(atoms, Emt(), supercell=[3, 3, 3]),
        'phonons': phonon_summary,
        'phonon_arrays': phonon_arrays,
    }


def test_emt_cu_equation_of_state(emt_cu):
    relaxed, eos = emt_cu['relax'], emt_cu['eos']
    assert relaxed.converged and relaxed.max_force < 1e-3
    assert relaxed.atoms.cell[0, 0] == pytest.approx(EMT_CU['lattice_constant'], abs=2e-3)
    assert 3.585 < eos['lattice_constant'] < 3.61
    assert eos['lattice_constant'] == pytest.approx(
        relaxed.atoms.cell[0, 0], abs=1e-3
    )  # E(V) minimum = relaxed
    assert eos['bulk_modulus'] == pytest.approx(EMT_CU['bulk_modulus'], abs=1.5)
    assert eos['equilibrium_volume'] == pytest.approx(EMT_CU['lattice_constant'] ** 3 / 4, rel=2e-3)
    assert len(eos['volumes']) == 7 and np.argmin(eos['energies']) == 3  # the minimum is in the middle


def test_emt_cu_elastic_constants(emt_cu):
    stress, energy = emt_cu['stress'], emt_cu['energy']
    for key in ('C11', 'C12', 'C44'):
        assert stress[key] == pytest.approx(EMT_CU[key], abs=1.5), key
        assert energy[key] == pytest.approx(stress[key], rel=0.01), key  # both methods agree
    assert stress['cubic_deviation'] < 0.5  # GPa: C22 = C11, C13 = C12, C14 = 0, ...
    # the bulk modulus from the elastic constants is the one from E(V)
    assert stress['bulk_modulus'] == pytest.approx(emt_cu['eos']['bulk_modulus'], rel=0.01)
    assert stress['converged']


def test_emt_cu_vacancy(emt_cu):
    vacancy = emt_cu['vacancy']
    assert vacancy['num_atoms'] == 108 and vacancy['converged']
    assert vacancy['formation_energy'] == pytest.approx(EMT_CU['vacancy'], abs=0.02)
    assert 0 < vacancy['unrelaxed_formation_energy'] - vacancy['formation_energy'] < 0.1  # relaxing lowers it


def test_emt_cu_phonons(emt_cu):
    summary, arrays = emt_cu['phonons'], emt_cu['phonon_arrays']
    assert not summary['imaginary_modes']
    assert abs(summary['min_frequency_at_gamma']) < 0.01  # acoustic modes at Γ: zero
    assert summary['min_frequency'] > -0.01
    assert summary['max_frequency'] == pytest.approx(EMT_CU['max_frequency'], abs=0.1)
    assert summary['path'] == 'GXWKGLUWLK,UX' and summary['labels'][0] == 'G'
    assert arrays['frequencies'].shape == (100, 3)  # one atom per primitive cell: 3 branches
    # the DOS integrates to 3 branches per primitive cell
    assert np.trapezoid(arrays['dos'], arrays['dos_frequencies']) == pytest.approx(3.0, rel=0.05)


def test_emt_cu3au_binary():
    """A cubic binary (L1_2 Cu3Au): elastic constants accepted and consistent with E(V); a vacancy refused."""
    from ase import Atoms
    from ase.calculators.emt import EMT as Emt

    positions = [[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]]
    atoms = Atoms('AuCu3', scaled_positions=positions, cell=[3.75] * 3, pbc=True)
    settings = property_settings.settings_with_defaults({'elastic': {}, 'vacancy': {'supercell': [3, 3, 3]}})
    assert (
        property_settings.check_structure_for_property('elastic', 'l12', atoms, settings['elastic'], 5.0)
        is None
    )
    message = property_settings.check_structure_for_property(
        'vacancy', 'l12', atoms, settings['vacancy'], 5.0
    )
    assert message == (
        '`structures.l12` holds Au, Cu: the vacancy formation energy is computed for elemental crystals only '
        '(the chemical potential is the bulk energy per atom)'
    )
    relaxed = properties.relax(atoms, Emt()).atoms
    assert properties.is_cubic_cell(relaxed)  # relaxed isotropically: still cubic
    elastic = properties.elastic_constants(relaxed, Emt())
    eos = properties.equation_of_state(relaxed, Emt())
    assert elastic['cubic_deviation'] < 1.0
    assert elastic['C11'] > elastic['C12'] > 0 and elastic['C44'] > 0
    assert elastic['bulk_modulus'] == pytest.approx(eos['bulk_modulus'], rel=0.02)


def test_md_stops_on_close_atoms():
    """A run whose atoms come closer than `min_distance` stops there and says so."""
    from ase.calculators.emt import EMT as Emt

    summary, arrays = properties.md_stability(
        cu_fcc(), Emt(), supercell=[1, 1, 1], temperatures=[300.0], steps=20, min_distance=2.6
    )
    run = summary['runs'][0]
    assert not run['completed'] and run['steps_survived'] == 0
    assert 'closer than 2.60 Å at step 0' in run['stop_reason']
    assert run['max_gamma'] is None and np.isnan(arrays['trace_0_max_gamma']).all()


def test_supercell_for_width():
    cell = cu_fcc().cell
    assert properties.supercell_for_width(cell, 10.0) == [3, 3, 3]
    assert properties.supercell_for_width(cell, 7.22) == [2, 2, 2]
    assert properties.supercell_for_width(bulk('Cu', 'fcc', a=3.61).cell, 10.0) == [
        5,
        5,
        5,
    ]  # primitive: 2.08 Å wide


# ---------------------------------------------------------------------------------------------- bad input
@pytest.fixture
def dummy_potential(aiida_profile):
    from aiida_pacemaker.data import PacePotentialData

    return PacePotentialData(DUMMY_POTENTIAL).store()  # Cu, cutoff 5 Å


def _builder(potential, structures=None, parameters=None, **labeller):
    from aiida_pacemaker.workflows.validate import PaceValidateWorkChain

    builder = PaceValidateWorkChain.get_builder()
    builder.potential = potential
    builder.labeller.calculator = labeller.pop('calculator', EMT)
    if labeller:
        builder.labeller.calculator_kwargs = orm.Dict(labeller['calculator_kwargs'])
    builder.structures = structures or {'fcc': orm.StructureData(ase=cu_fcc())}
    builder.parameters = parameters if parameters is not None else {'eos': {}}
    return builder


def _refused(builder) -> str:
    """The validator's message; nothing ran (no process node was made)."""
    before = orm.QueryBuilder().append(orm.ProcessNode).count()
    with pytest.raises(ValueError) as error:
        engine.run(builder)
    assert orm.QueryBuilder().append(orm.ProcessNode).count() == before
    return str(error.value)


def _not_periodic():
    atoms = cu_fcc()
    atoms.pbc = False
    return atoms


def _cubic_but_not_cubic_crystal():
    atoms = cu_fcc()
    atoms.positions[0] += [0.1, 0.0, 0.0]
    return atoms


@pytest.mark.parametrize(
    ('structures', 'parameters', 'fragments'),
    [
        (
            {'fcc': bulk('Cu', 'fcc', a=3.61, cubic=True), 'alloy': bulk('Al', 'fcc', a=4.05, cubic=True)},
            {'eos': {}},
            ['`structures.alloy` holds Al', "potential's elements ['Cu']"],
        ),
        (
            {'fcc': bulk('Cu', 'fcc', a=3.61)},
            {'elastic': {}},
            ['`structures.fcc` is not a cubic cell along x, y, z'],
        ),
        ({'fcc': _cubic_but_not_cubic_crystal()}, {'elastic': {}}, ['not a cubic crystal (space group']),
        (
            None,
            {'vacancy': {'supercell': [2, 2, 2]}},
            [
                'vacancy supercell [2, 2, 2] of `structures.fcc` is 7.22 Å wide',
                'twice the cutoff (10.00 Å)',
                '[3, 3, 3]',
            ],
        ),
        (None, {'vacancy': {'site': 200}}, ['`parameters.vacancy.site` 200 is not an atom of the supercell']),
        (None, {'elastc': {}}, ['unknown property `elastc`: did you mean `elastic`?']),
        (
            None,
            {'eos': {'point': 9}},
            ['unknown key `parameters.eos.point`; did you mean `points`?'],
        ),
        (None, {'eos': {'points': 3}}, ['`parameters.eos.points` must be an integer of at least 5, got 3']),
        (
            None,
            {'md': {'temperatures': [300, -5]}},
            ['`parameters.md.temperatures` must be a list of positive'],
        ),
        (None, {'relax': {}}, ['asks for no property']),
        (
            None,
            {'eos': {'structures': ['fc']}},
            ['names `fc`, which is not in `structures`: did you mean `fcc`?'],
        ),
        (None, {'phonons': {'path': 'GXQ'}}, ['`parameters.phonons.path` names Q, not special points']),
        ({'cluster': _not_periodic()}, {'eos': {}}, ['`structures.cluster` must be periodic in all three']),
    ],
)
def test_bad_input_refused(dummy_potential, structures, parameters, fragments):
    if structures is not None:
        structures = {key: orm.StructureData(ase=atoms) for key, atoms in structures.items()}
    message = _refused(_builder(dummy_potential, structures, parameters))
    for fragment in fragments:
        assert fragment in message, message


@pytest.mark.parametrize(
    ('labeller', 'fragment'),
    [
        ({'calculator': 'os.system'}, '`os.system` is not an ASE calculator class'),
        (
            {'calculator_kwargs': {'asap_cutof': True}},
            'takes no argument `asap_cutof`; did you mean `asap_cutoff`?',
        ),
    ],
)
def test_bad_labeller_refused(dummy_potential, labeller, fragment):
    message = _refused(_builder(dummy_potential, **labeller))
    assert '`labeller.calculator`' in message and fragment in message, message


def test_missing_reference_refused(dummy_potential):
    builder = _builder(dummy_potential)
    del builder.labeller['calculator']
    assert 'give the reference calculator as `labeller.calculator`' in _refused(builder)


def test_active_set_of_another_potential_refused(dummy_potential):
    from aiida_pacemaker.data import ActiveSetData, PacePotentialData

    other = PacePotentialData(DUMMY_POTENTIAL.replace('c: [0.1]', 'c: [0.2]')).store()
    builder = _builder(dummy_potential)
    builder.active_set = ActiveSetData(b'not used', potential=other).store()
    assert '`active_set`: ActiveSetData' in _refused(builder)


# ---------------------------------------------------------------------------------------------- the workchain
@pytest.fixture(scope='module')
def validation(fitted, fitted_active_set):
    """One PaceValidateWorkChain of the `fitted` potential (with its active set) against EMT Cu."""
    from aiida_pacemaker.workflows.validate import PaceValidateWorkChain

    builder = PaceValidateWorkChain.get_builder()
    builder.potential = fitted['potential']
    builder.active_set = fitted_active_set
    builder.labeller.calculator = EMT
    builder.structures = {'fcc': orm.StructureData(ase=cu_fcc())}
    builder.parameters = PARAMETERS
    _, node = engine.run_get_node(builder)
    assert node.is_finished_ok, node.exit_message
    return node


def _rows(node) -> dict[str, dict]:
    return {row['property']: row for row in node.outputs.table.get_list()}


@pytest.mark.pacemaker
def test_table_emt_column_is_emt(validation, emt_cu):
    """The reference column is EMT's own numbers (the harness inside the workchain = outside it)."""
    rows = _rows(validation)
    assert rows['lattice constant']['reference'] == pytest.approx(emt_cu['eos']['lattice_constant'], abs=1e-4)
    assert rows['bulk modulus']['reference'] == pytest.approx(emt_cu['eos']['bulk_modulus'], abs=0.5)
    for key in ('C11', 'C12', 'C44'):
        assert rows[key]['reference'] == pytest.approx(EMT_CU[key], abs=1.5)
    assert rows['vacancy formation energy']['reference'] == pytest.approx(EMT_CU['vacancy'], abs=0.02)
    assert rows['max phonon frequency']['reference'] == pytest.approx(EMT_CU['max_frequency'], abs=0.1)


@pytest.mark.pacemaker
def test_table_potential_against_emt(validation):
    """A 12-function ACE fitted for 40 iterations on 30 EMT cells: close on what its data covers (the
    lattice, phonons), loose on what it never saw (a vacancy). Measured: lattice +0.1%, B -12%, C11 +14%,
    C12 -31%, C44 -9%, vacancy 0.72 against 1.22 eV, top phonon +3%."""
    rows = _rows(validation)
    assert {row['structure'] for row in rows.values()} == {'fcc'}
    for row in rows.values():
        if row['potential'] is not None and row['reference'] is not None:
            assert row['difference'] == pytest.approx(row['potential'] - row['reference'], abs=1e-9)
            if row['property'] == 'equilibrium energy':  # an energy's zero is arbitrary
                assert row['relative_difference'] is None
            elif row['reference']:
                assert row['relative_difference'] == pytest.approx(row['difference'] / abs(row['reference']))
    assert abs(rows['lattice constant']['relative_difference']) < 0.01
    assert abs(rows['equilibrium volume']['relative_difference']) < 0.03
    assert abs(rows['equilibrium energy']['difference']) < 0.01  # eV/atom
    assert abs(rows['bulk modulus']['relative_difference']) < 0.25
    for key in ('C11', 'C12', 'C44'):
        assert abs(rows[key]['relative_difference']) < 0.45, key
        assert rows[key]['potential'] > 50, key
    assert rows['C11']['potential'] > rows['C12']['potential']  # mechanically stable
    assert 0.3 < rows['vacancy formation energy']['potential'] < 1.5
    assert abs(rows['max phonon frequency']['relative_difference']) < 0.1
    assert abs(rows['mean phonon frequency']['relative_difference']) < 0.1
    assert rows['bulk modulus']['unit'] == 'GPa' and rows['vacancy formation energy']['unit'] == 'eV'


@pytest.mark.pacemaker
def test_md_stability(validation):
    rows = _rows(validation)
    for temperature in (300, 1200):
        survived = rows[f'MD {temperature} K steps survived']
        assert survived['potential'] == survived['reference'] == 60
        assert 1.8 < rows[f'MD {temperature} K min distance']['potential'] < 2.55
        grade = rows[f'MD {temperature} K max extrapolation grade']
        assert grade['reference'] is None and 0 < grade['potential'] < 25
    # hotter: closer contacts and a higher grade
    assert rows['MD 1200 K min distance']['potential'] < rows['MD 300 K min distance']['potential']
    assert (
        rows['MD 1200 K max extrapolation grade']['potential']
        > rows['MD 300 K max extrapolation grade']['potential']
    )
    result = validation.outputs.md.fcc.potential.result.get_dict()
    assert result['num_atoms'] == 32 and [run['completed'] for run in result['runs']] == [True, True]
    trace = validation.outputs.md.fcc.potential.arrays
    assert list(trace.get_array('trace_0_step')) == list(range(0, 61, 5))
    assert np.isfinite(trace.get_array('trace_1_max_gamma')).all()
    assert np.isnan(validation.outputs.md.fcc.reference.arrays.get_array('trace_0_max_gamma')).all()


@pytest.mark.pacemaker
def test_phonons_no_imaginary_modes(validation):
    for model in ('potential', 'reference'):
        result = validation.outputs.phonons.fcc[model].result.get_dict()
        assert not result['imaginary_modes'], model
        assert abs(result['min_frequency_at_gamma']) < 0.05, model
        assert result['supercell'] == [3, 3, 3]  # the default: twice the 5 Å cutoff
        arrays = validation.outputs.phonons.fcc[model].arrays
        assert arrays.get_array('frequencies').shape == (60, 3)
    assert not any(row['notes'] for row in validation.outputs.table.get_list())


@pytest.mark.pacemaker
def test_provenance(validation, fitted):
    """Each number comes from a calcfunction whose inputs are the potential (or EMT), the structure the same
    model relaxed, and the settings; the table from those results."""
    from aiida.common.links import LinkType

    potential = fitted['potential']
    structure = validation.inputs.structures.fcc
    for name in ('eos', 'elastic', 'vacancy', 'phonons', 'md'):
        for model in ('potential', 'reference'):
            result = validation.outputs[name].fcc[model].result
            call = result.creator
            assert call.process_label in {
                'compute_equation_of_state',
                'compute_elastic_constants',
                'compute_vacancy_formation_energy',
                'compute_phonons',
                'run_md_stability',
            }
            inputs = call.base.links.get_incoming(link_type=LinkType.INPUT_CALC).nested()
            relaxed = inputs['structure']
            assert relaxed.creator.process_label == 'relax_structure'
            relax_inputs = relaxed.creator.base.links.get_incoming(link_type=LinkType.INPUT_CALC).nested()
            assert relax_inputs['structure'].uuid == structure.uuid
            if model == 'potential':
                assert inputs['potential'].uuid == potential.uuid
                assert ('active_set' in inputs) == (name == 'md')
            else:
                assert inputs['calculator'].value == EMT and 'potential' not in inputs
    table_inputs = validation.outputs.table.creator.base.links.get_incoming().all_link_labels()
    assert 'potential_eos_fcc' in table_inputs and 'reference_md_fcc' in table_inputs
    supercell = validation.outputs.vacancy.fcc.potential.result.creator.inputs.parameters['supercell']
    assert supercell == [3, 3, 3]  # the resolved default is recorded


@pytest.mark.pacemaker
def test_plots(validation, tmp_path):
    import matplotlib.image

    from aiida_pacemaker.tools.validation_plots import write_validation_plots

    written = write_validation_plots(validation, tmp_path)
    assert sorted(path.name for path in written) == ['eos_fcc.png', 'md_fcc.png', 'phonons_fcc.png']
    for path in written:
        image = matplotlib.image.imread(path)
        assert image.shape[0] > 350 and image.shape[1] > 600, path.name
        assert image[..., :3].std() > 0.05, path.name  # not a blank canvas


# ---------------------------------------------------------------------------------------------- the CLI
def _invoke(args: list) -> tuple[int, str]:
    from aiida_pacemaker.cli.validate import cmd_validate

    result = CliRunner().invoke(cmd_validate, [str(arg) for arg in args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.mark.pacemaker
def test_cli_validate(fitted, tmp_path):
    """Default structure (ASE's cubic Cu), two properties, a parameters file and a temperature."""
    settings = tmp_path / 'settings.yaml'
    settings.write_text('md: {supercell: [2, 2, 2], steps: 20}\neos: {points: 5}\n')
    potential = fitted['potential']
    code, output = _invoke(
        [
            potential.pk,
            '--properties',
            'eos,md',
            '--parameters',
            settings,
            '-T',
            500,
            '--output',
            tmp_path / 'plots',
        ]
    )
    assert code == 0, output
    rows = {
        columns[0]: columns
        for columns in (re.split(r'\s{2,}', line.strip()) for line in output.splitlines())
        if len(columns) >= 7 and not columns[0].startswith('-')
    }
    assert rows['property'] == [
        'property',
        'structure',
        'potential',
        'reference',
        'difference',
        'relative',
        'unit',
        'notes',
    ]
    assert set(rows) == {
        'property',
        'lattice constant',
        'equilibrium volume',
        'equilibrium energy',
        'bulk modulus',
        'MD 500 K steps survived',
        'MD 500 K min distance',
    }  # no active set given: no extrapolation grade
    bulk_modulus = rows['bulk modulus']
    assert bulk_modulus[1] == 'Cu_fcc' and bulk_modulus[-1] == 'GPa'
    assert float(bulk_modulus[3]) == pytest.approx(EMT_CU['bulk_modulus'], abs=2)  # EOS of 5 points
    assert float(bulk_modulus[5].rstrip('%')) == pytest.approx(
        100 * (float(bulk_modulus[2]) - float(bulk_modulus[3])) / float(bulk_modulus[3]), abs=0.2
    )
    assert rows['MD 500 K steps survived'][2:4] == ['20', '20']
    assert sorted(p.name for p in (tmp_path / 'plots').iterdir()) == ['eos_Cu_fcc.png', 'md_Cu_fcc.png']


def test_cli_validate_bad_input_one_line(dummy_potential, tmp_path):
    structure = tmp_path / 'primitive.xyz'
    bulk('Cu', 'fcc', a=3.61).write(structure, format='extxyz')
    for args, fragment in (
        (['--properties', 'eos,elastc'], 'unknown property `elastc`: did you mean `elastic`?'),
        (['--properties', 'elastic', '--structure', structure], '`structures.primitive` is not a cubic cell'),
        (['--calculator', 'subprocess.run'], '`subprocess.run` is not an ASE calculator class'),
        (['--properties', 'eos', '-T', 300], '--temperature sets MD temperatures, but md is not among'),
        (['--calculator-kwargs', '{asap_cutoff: [true'], '--calculator-kwargs is not valid YAML'),
    ):
        code, output = _invoke([dummy_potential.pk, *args])
        lines = [line for line in output.splitlines() if line.strip()]
        assert code != 0 and len(lines) == 1 and lines[0].startswith('Critical:'), output
        assert fragment in lines[0], output


def test_cli_rows_format():
    from aiida_pacemaker.cli.validate import table_rows, validation_parameters

    row = {
        'property': 'C11',
        'structure': 'fcc',
        'unit': 'GPa',
        'potential': 197.39,
        'reference': 172.58,
        'difference': 24.81,
        'relative_difference': 0.1438,
        'notes': '',
    }
    assert table_rows([row]) == [['C11', 'fcc', '197.4', '172.6', '24.81', '+14.4%', 'GPa', '']]
    assert validation_parameters(None, None, []) == {name: {} for name in property_settings.PROPERTIES}
    assert validation_parameters(None, {'eos': {'points': 9}, 'relax': {'cell': False}}, []) == {
        'eos': {'points': 9},
        'relax': {'cell': False},
    }
    assert validation_parameters('eos, md', None, [300.0, 900.0]) == {
        'eos': {},
        'md': {'temperatures': [300.0, 900.0]},
    }
    with pytest.raises(ValueError, match='sets md, which --properties leaves out'):
        validation_parameters('eos', {'md': {}}, [])


def _shown(value) -> str:
    """A default as the how-to writes it."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, str):
        return f'`{value}`'
    if isinstance(value, list):
        return '[' + ', '.join(f'{item:g}' for item in value) + ']'
    return f'{value:g}'


def test_how_to_lists_every_setting_and_default():
    """docs/howto/validate.md names every setting of every property with its default."""
    text = (pathlib.Path(__file__).resolve().parents[2] / 'docs' / 'howto' / 'validate.md').read_text('utf8')
    text = text.replace('\N{MINUS SIGN}', '-')
    for name, settings in property_settings.PROPERTY_SETTINGS.items():
        entry = text[text.index(f'`{name}`\n: ') :]
        entry = entry[: entry.index('\n\n')]
        for key, setting in settings.items():
            assert f'`{key}` (' in entry, (name, key)
            if setting.default is not None:
                assert f'`{key}` ({_shown(setting.default)}' in entry, (name, key, _shown(setting.default))
