"""Real CP2K labels through aiida-cp2k: units, forces against a finite difference, failures, one
active-learning run with CP2K as the labeller, and the provenance of every training structure."""

from __future__ import annotations

import time

import numpy as np
import pytest
from aiida import engine, orm

from aiida_pacemaker.labellers.cp2k import HARTREE_EV, Cp2kLabelWorkChain

from .conftest import CP2K_OPTIONS, assert_forces_match_energy, small_cu_cells

pytestmark = pytest.mark.dft

LABELLER = 'aiida_pacemaker.labellers.cp2k:Cp2kLabelWorkChain'
CP2K_PROCESS_TYPE = 'aiida.calculations:cp2k'


def label(inputs: dict, atoms, **extra) -> orm.WorkChainNode:
    start = time.monotonic()
    _, node = engine.run_get_node(
        Cp2kLabelWorkChain, structure=orm.StructureData(ase=atoms), **inputs, **extra
    )
    print(f'CP2K label of {atoms.get_chemical_formula()}: {time.monotonic() - start:.1f} s')
    return node


def cp2k_calculation(workchain: orm.WorkflowNode) -> orm.CalcJobNode:
    (calculation,) = [node for node in workchain.called if isinstance(node, orm.CalcJobNode)]
    assert calculation.process_type == CP2K_PROCESS_TYPE
    return calculation


def test_cp2k_energy_and_forces(cp2k_labeller_inputs):
    """A rattled 2-atom Cu cell: finite labels in eV and eV/Å, the forces are -dE/dx of CP2K's own energy."""
    from ase.calculators.emt import EMT

    (atoms,) = small_cu_cells(1, seed=7, rattle=0.06)
    node = label(cp2k_labeller_inputs, atoms)
    assert node.is_finished_ok, node.exit_message
    energy = node.outputs.total_energy.value
    forces = node.outputs.forces.get_array('forces')
    assert forces.shape == (2, 3)
    assert np.isfinite(energy) and np.all(np.isfinite(forces))
    assert -1400 < energy / len(atoms) < -1250  # eV/atom: Cu with 11 valence electrons (GTH-PBE-q11)
    assert 'stress' not in node.outputs  # the fast protocol computes no stress

    # units: aiida-cp2k's own parser reads the same energy, in Hartree
    calculation = cp2k_calculation(node)
    assert calculation.outputs.output_parameters['energy_units'] == 'a.u.'
    assert energy == pytest.approx(calculation.outputs.output_parameters['energy'] * HARTREE_EV, abs=1e-6)

    # the net force vanishes up to the egg-box effect of the grid (~0.05 eV/Å at 400 Ry; ~1 eV/Å at 200 Ry)
    net = np.abs(forces.sum(axis=0)).max()
    print(f'net force {net:.4f} eV/Å, largest force {np.abs(forces).max():.3f} eV/Å')
    assert net < 0.15

    # magnitudes comparable with EMT's on the same cell (both well below 5 eV/Å)
    atoms.calc = EMT()
    emt = atoms.get_forces()
    assert np.abs(forces).max() < 5.0 and np.abs(emt).max() < 5.0

    # forces against a central finite difference of CP2K's energy: atom 0 along its largest component
    def energy_of(displaced) -> float:
        result = label(cp2k_labeller_inputs, displaced)
        assert result.is_finished_ok, result.exit_message
        return result.outputs.total_energy.value

    assert_forces_match_energy(atoms, forces, energy_of)


def test_cp2k_stress_of_a_compressed_cell(cp2k_labeller_inputs):
    """With `stress: true` the stress comes in eV/Å³ with ASE's sign: negative for a compressed cell."""
    (atoms,) = small_cu_cells(1, seed=3, strain=0.0, rattle=0.0)
    atoms.set_cell(atoms.cell * 0.94, scale_atoms=True)
    node = label(cp2k_labeller_inputs, atoms, overrides=orm.Dict({'stress': True}))
    assert node.is_finished_ok, node.exit_message
    stress = node.outputs.stress.get_array('stress')
    assert stress.shape == (6,)
    assert np.all(stress[:3] < 0), stress
    assert np.abs(stress[3:]).max() < 0.05 * np.abs(stress[:3]).max()


def test_cp2k_balanced_protocol_with_kpoints(cp2k_code):
    """The production path: the `balanced` protocol (DZVP, 500 Ry), a k-point mesh, the stress."""
    (atoms,) = small_cu_cells(1, seed=7, rattle=0.06)
    # a coarse k-point spacing keeps this test short: a 3x3x2 mesh for this cell (0.25/Å gives 10x10x7)
    inputs = Cp2kLabelWorkChain.get_labeller_inputs(
        cp2k_code,
        protocol='balanced',
        options=CP2K_OPTIONS,
        overrides={'kpoints_distance': 1.0, 'stress': True},
    )
    node = label(inputs, atoms)
    assert node.is_finished_ok, node.exit_message
    calculation = cp2k_calculation(node)
    assert calculation.inputs.kpoints.get_kpoints_mesh()[0] == [3, 3, 2]
    parameters = calculation.inputs.parameters.get_dict()
    assert parameters['FORCE_EVAL']['DFT']['MGRID']['CUTOFF'] == 500
    assert parameters['FORCE_EVAL']['SUBSYS']['KIND'][0]['BASIS_SET'] == 'DZVP-MOLOPT-SR-GTH'
    forces = node.outputs.forces.get_array('forces')
    assert np.all(np.isfinite(forces)) and np.abs(forces.sum(axis=0)).max() < 0.05
    assert np.all(np.isfinite(node.outputs.stress.get_array('stress')))


def test_cp2k_scf_failure(cp2k_labeller_inputs):
    """One SCF step with a tight threshold: the labeller fails with the reason, no labels."""
    (atoms,) = small_cu_cells(1, seed=1)
    overrides = {'parameters': {'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 1, 'EPS_SCF': 1.0e-9}}}}}
    node = label(cp2k_labeller_inputs, atoms, overrides=orm.Dict(overrides))
    assert node.exit_status == Cp2kLabelWorkChain.exit_codes.ERROR_SCF_NOT_CONVERGED.status
    assert 'did not converge' in node.exit_message
    assert 'total_energy' not in node.outputs and 'forces' not in node.outputs
    cp2k_calculation(node)  # the CP2K calculation ran and is in the graph


@pytest.mark.pacemaker
def test_cp2k_scf_failures_reported_by_active_learning(aiida_profile, pacemaker_codes, cp2k_labeller_inputs):
    """Active learning with a labeller whose SCF always fails: each failure reported, none merged."""
    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    inputs = dict(cp2k_labeller_inputs)
    inputs['overrides'] = orm.Dict(
        {'parameters': {'FORCE_EVAL': {'DFT': {'SCF': {'MAX_SCF': 1, 'EPS_SCF': 1e-9}}}}}
    )
    cells = small_cu_cells(4, seed=11)
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        pacemaker_codes,
        structures={f's{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(cells[:2])},
        pool={f'p{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(cells[2:])},
        labeller=LABELLER,
        labeller_inputs=inputs,
        protocol='fast',
    )
    _, node = engine.run_get_node(builder)
    assert node.exit_status == PaceActiveLearningWorkChain.exit_codes.ERROR_ALL_LABELS_FAILED.status
    assert node.exit_message.count('did not converge') == 2, node.exit_message
    logs = [log.message for log in orm.Log.collection.get_logs_for(node)]
    assert sum('failed and is left out' in message and 'did not converge' in message for message in logs) == 2


@pytest.mark.pacemaker
def test_active_learning_with_cp2k_labels(aiida_profile, pacemaker_codes, cp2k_labeller_inputs):
    """Two cycles on CP2K labels: the initial structures and the selected ones are labelled by CP2K;
    a structure CP2K cannot label (a non-periodic dimer: the labeller needs a cell periodic in x, y and z;
    a slab is refused before the run) is reported and skipped; every training structure leads
    back to its CP2K calculation in the graph."""
    from ase import Atoms

    from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain

    initial = {f'init{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(small_cu_cells(3, seed=21))}
    dimer = Atoms('Cu2', positions=[[5, 5, 5], [5, 5, 7.3]], cell=[12.0, 12.0, 12.0], pbc=False)
    initial['dimer'] = orm.StructureData(ase=dimer)
    pool_cells = small_cu_cells(4, seed=5, strain=0.08, rattle=0.2)
    pool = {f'p{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(pool_cells)}
    builder = PaceActiveLearningWorkChain.get_builder_from_protocol(
        pacemaker_codes,
        structures=initial,
        pool=pool,
        labeller=LABELLER,
        labeller_inputs=cp2k_labeller_inputs,
        protocol='fast',
        overrides={
            'max_cycles': 2,
            'max_new_structures_per_cycle': 2,
            'gamma_select': 1.0,
            # pace_activeset needs at least as many atomic environments as basis functions per element:
            # 6 atoms here, so 5 functions instead of the 12 of the fast protocol
            'trainer': {
                'fitting_params': {'maxiter': 10, 'reference_energy': 'auto'},
                'ace_basis_config': {'number_of_functions_per_element': 5},
            },
        },
    )
    start = time.monotonic()
    results, node = engine.run_get_node(builder)
    print(f'active learning with CP2K labels: {time.monotonic() - start:.1f} s')
    assert node.is_finished_ok, node.exit_message

    logs = [log.message for log in orm.Log.collection.get_logs_for(node)]
    assert any(
        '`dimer` failed and is left out' in message and 'periodic in x, y and z' in message
        for message in logs
    )

    curve = results['learning_curve'].get_list()
    assert [row['cycle'] for row in curve] == [1, 2]
    assert curve[0]['num_structures'] == 3  # the dimer was skipped
    assert curve[0]['num_labelled'] >= 1
    final = results['training_set']
    assert final.num_structures == 3 + curve[0]['num_labelled']
    assert final.num_structures == curve[1]['num_structures']

    # every training structure: StructureData --input--> Cp2kLabelWorkChain --call--> cp2k CalcJob,
    # and the label in the training set is the workchain's output
    energies = dict(zip(final.names, (atoms.get_potential_energy() for atoms in final.to_ase()), strict=True))
    for name in final.names:
        structure = orm.load_node(name)
        labellers = [
            link.node
            for link in structure.base.links.get_outgoing(node_class=orm.WorkflowNode).all()
            if link.node.process_class is Cp2kLabelWorkChain and link.node.is_finished_ok
        ]
        assert len(labellers) == 1, name
        calculation = cp2k_calculation(labellers[0])
        assert calculation.is_finished_ok
        assert calculation.inputs.structure.uuid == name
        assert energies[name] == pytest.approx(labellers[0].outputs.total_energy.value)

    # the same through the plugin's provenance tool (`aiida-pacemaker provenance PK`)
    from aiida_pacemaker.tools.provenance import structure_origins

    origins = structure_origins(final)
    assert all(origin.labeller.process_class is Cp2kLabelWorkChain for origin in origins)
    assert sorted(str(origin.cycle) for origin in origins) == sorted(
        ['initial'] * 3 + ['1'] * curve[0]['num_labelled']
    )

    # the same, as one query (see docs/howto/dft_labels.md)
    query = orm.QueryBuilder()
    query.append(orm.StructureData, filters={'uuid': {'in': final.names}}, project='uuid', tag='structure')
    query.append(
        Cp2kLabelWorkChain, with_incoming='structure', tag='label', filters={'attributes.exit_status': 0}
    )
    query.append(
        orm.CalcJobNode, with_incoming='label', filters={'process_type': CP2K_PROCESS_TYPE}, project='uuid'
    )
    assert {uuid for uuid, _ in query.all()} == set(final.names)
