"""The CP2K labeller without CP2K: protocols, the CP2K input, the output parser and its units."""

from __future__ import annotations

import numpy as np
import pytest
from aiida import orm
from ase import Atoms

from aiida_pacemaker.labellers import cp2k, load_labeller, validate_labeller

#: the end of a real CP2K 2023.1 output (2 Cu atoms, analytical stress)
OUTPUT_2023 = """\
  *** SCF run converged in    15 steps ***
 ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:              -96.350520077937645

 ATOMIC FORCES in [a.u.]

 # Atom   Kind   Element          X              Y              Z
      1      1      Cu          0.00450661     0.00000154     0.00000135
      2      1      Cu         -0.00440521    -0.00000226     0.00000207
 SUM OF ATOMIC FORCES           0.00010140    -0.00000072     0.00000343     0.00010146

 STRESS| Analytical stress tensor [GPa]
 STRESS|                        x                   y                   z
 STRESS|      x        5.83969101754E+01   2.01080128384E-04  -1.94192573743E-04
 STRESS|      y        2.01080128384E-04   5.99683896593E+01  -5.21355298649E-05
 STRESS|      z       -1.94192573743E-04  -5.21355298649E-05   1.98018778372E+02
 STRESS| 1/3 Trace                                             1.05461359402E+02

  **** **** ******  **  PROGRAM ENDED AT                 2026-11-28 15:12:31.272
"""

#: the same numbers in the format of CP2K 2024 and later
OUTPUT_2024 = """\
 ENERGY| Total FORCE_EVAL ( QS ) energy [hartree]            -96.350520077937645

 FORCES| Atomic forces [hartree/bohr]
 FORCES| Atom x y z |f|
 FORCES|      1  4.50661000E-03  1.54000000E-06  1.35000000E-06  4.50661000E-03
 FORCES|      2 -4.40521000E-03 -2.26000000E-06  2.07000000E-06  4.40521000E-03
 FORCES| Sum     1.01400000E-04 -7.20000000E-07  3.43000000E-06  1.01460000E-04
 FORCES| Total atomic force                                      1.01460000E-04
  **** **** ******  **  PROGRAM ENDED AT                 2026-11-28 15:12:31.272
"""

NOT_CONVERGED = """\
 *** WARNING in qs_scf.F:601 :: SCF run NOT converged ***
 ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:              -96.302885017802510
"""


def cu2(pbc=True) -> orm.StructureData:
    atoms = Atoms('Cu2', positions=[[0, 0, 0], [1.28, 1.28, 1.8]], cell=[2.55, 2.55, 3.61], pbc=pbc)
    return orm.StructureData(ase=atoms)


def test_units():
    assert cp2k.HARTREE_EV == pytest.approx(27.211386, abs=1e-6)
    assert cp2k.HARTREE_PER_BOHR_EV_PER_ANGSTROM == pytest.approx(51.422067, abs=1e-6)
    assert cp2k.GPA_EV_PER_ANGSTROM3 == pytest.approx(1 / 160.21766208, rel=1e-8)


@pytest.mark.parametrize('text', [OUTPUT_2023, OUTPUT_2024], ids=['cp2k2023', 'cp2k2024'])
def test_parse_stdout(text):
    parsed = cp2k.parse_cp2k_stdout(text)
    assert parsed['scf_converged'] and parsed['completed']
    assert parsed['energy'] == pytest.approx(-96.350520077937645)
    assert parsed['forces'].shape == (2, 3)
    assert parsed['forces'][0, 0] == pytest.approx(0.00450661)
    assert parsed['forces'][1, 2] == pytest.approx(0.00000207)

    labels = cp2k.labels_from_cp2k_stdout(text, 2)
    assert labels['energy'] == pytest.approx(-96.350520077937645 * 27.211386245988)
    assert labels['forces'][1, 0] == pytest.approx(-0.00440521 * 51.42206747, rel=1e-8)


def test_stress_sign_and_order():
    """CP2K's stress is positive under compression (this cell is compressed); ASE's is the opposite."""
    labels = cp2k.labels_from_cp2k_stdout(OUTPUT_2023, 2)
    stress = labels['stress']
    assert stress.shape == (6,)
    assert stress[2] == pytest.approx(-198.018778372 / 160.21766208, rel=1e-8)  # zz, eV/Å³
    assert np.all(stress[:3] < 0)
    assert stress[5] == pytest.approx(-2.01080128384e-04 / 160.21766208, rel=1e-6)  # xy
    assert cp2k.labels_from_cp2k_stdout(OUTPUT_2024, 2)['stress'] is None


def test_parse_failures():
    with pytest.raises(cp2k.Cp2kOutputError, match='SCF did not converge'):
        cp2k.labels_from_cp2k_stdout(NOT_CONVERGED, 2)
    with pytest.raises(cp2k.Cp2kOutputError, match='no atomic forces for 3 atoms'):
        cp2k.labels_from_cp2k_stdout(OUTPUT_2023, 3)
    with pytest.raises(cp2k.Cp2kOutputError, match='ENERGY'):
        cp2k.labels_from_cp2k_stdout('nothing here', 2)
    assert not cp2k.parse_cp2k_stdout('  ENERGY| ... \n')['completed']


def test_protocols():
    protocols = cp2k.list_cp2k_protocols()
    assert list(protocols) == ['balanced', 'fast', 'precise']
    fast = cp2k.get_cp2k_protocol('fast')
    assert fast['kpoints_distance'] is None
    assert fast['parameters']['FORCE_EVAL']['DFT']['MGRID']['CUTOFF'] == 400
    assert cp2k.get_cp2k_protocol()['kpoints_distance'] == 0.25  # balanced: the default

    merged = cp2k.get_cp2k_protocol(
        'fast',
        {'stress': True, 'parameters': {'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 3, 'MIXING': None}}}}},
    )
    scf = merged['parameters']['FORCE_EVAL']['DFT']['SCF']
    assert merged['stress'] is True
    assert scf['MAX_SCF'] == 3 and 'MIXING' not in scf and scf['EPS_SCF'] == 1.0e-5

    with pytest.raises(ValueError, match='did you mean `kpoints_distance`'):
        cp2k.get_cp2k_protocol('fast', {'kpoint_distance': 0.3})
    with pytest.raises(ValueError, match='must be upper case'):
        cp2k.get_cp2k_protocol('fast', {'parameters': {'FORCE_EVAL': {'dft': {}}}})
    with pytest.raises(ValueError, match='unknown CP2K protocol `quick`'):
        cp2k.get_cp2k_protocol('quick')


def test_build_parameters(aiida_profile):
    settings = cp2k.get_cp2k_protocol(
        'fast', {'stress': True, 'basis_set': {'default': 'DZVP-MOLOPT-SR-GTH'}}
    )
    parameters = cp2k.build_cp2k_parameters(cu2(), settings, basis_set_file='MY_BASIS')
    force_eval = parameters['FORCE_EVAL']
    assert parameters['GLOBAL']['RUN_TYPE'] == 'ENERGY_FORCE'
    assert force_eval['DFT']['BASIS_SET_FILE_NAME'] == 'MY_BASIS'
    assert force_eval['DFT']['POTENTIAL_FILE_NAME'] == 'GTH_POTENTIALS'
    assert force_eval['SUBSYS']['KIND'] == [
        {'_': 'Cu', 'ELEMENT': 'Cu', 'BASIS_SET': 'DZVP-MOLOPT-SR-GTH', 'POTENTIAL': 'GTH-PBE'}
    ]
    assert force_eval['DFT']['SCF']['ADDED_MOS'] == 10
    assert force_eval['STRESS_TENSOR'] == 'ANALYTICAL'
    assert force_eval['PRINT'] == {'FORCES': {'_': 'ON'}, 'STRESS_TENSOR': {'_': 'ON'}}

    with pytest.raises(ValueError, match='periodic in x, y and z'):
        cp2k.build_cp2k_parameters(cu2(pbc=(True, True, False)), settings)
    with pytest.raises(ValueError, match='no basis set for Cu'):
        cp2k.build_cp2k_parameters(cu2(), cp2k.get_cp2k_protocol('fast', {'basis_set': {'Ni': 'X'}}))


def test_labeller_convention_and_validation(aiida_profile):
    labeller = load_labeller('aiida_pacemaker.labellers.cp2k:Cp2kLabelWorkChain')
    validate_labeller(labeller)
    spec = labeller.spec()
    assert {'structure', 'code', 'protocol', 'overrides', 'basis_file', 'pseudo_file', 'options'} <= set(
        spec.inputs
    )
    assert {'total_energy', 'forces', 'stress'} <= set(spec.outputs)
    assert 'unknown CP2K protocol' in cp2k._validate_inputs({'protocol': orm.Str('nope')}, None)
    assert cp2k._validate_inputs({'protocol': orm.Str('fast')}, None) is None


def test_data_files_stored_once(aiida_profile, tmp_path):
    (tmp_path / 'BASIS_MOLOPT').write_text('Cu SZV-MOLOPT-SR-GTH\n')
    (tmp_path / 'GTH_POTENTIALS').write_text('Cu GTH-PBE-q11 GTH-PBE\n')
    first = cp2k.get_cp2k_data_files(tmp_path)
    again = cp2k.get_cp2k_data_files(tmp_path)
    assert {port: node.pk for port, node in first.items()} == {port: node.pk for port, node in again.items()}
    assert first['basis_file'].filename == 'BASIS_MOLOPT'
    (tmp_path / 'BASIS_MOLOPT').write_text('changed\n')
    assert cp2k.get_cp2k_data_files(tmp_path)['basis_file'].pk != first['basis_file'].pk
    with pytest.raises(FileNotFoundError, match='does not exist'):
        cp2k.get_cp2k_data_files(tmp_path, pseudo_file='MISSING')
