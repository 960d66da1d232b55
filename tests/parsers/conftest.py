"""Parser tests on stored outputs of the real tools (see record_outputs.py): no tool runs here."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

OUTPUTS = pathlib.Path(__file__).resolve().parent / 'outputs'


@pytest.fixture
def recorded_calculation(aiida_profile, aiida_localhost):
    """Factory: the stored CalcJobNode of the recorded case ``calculation/case``, with its inputs and the
    ``retrieved`` folder as the real run left them; returns (node, parse) where ``parse()`` runs the
    calculation's parser on it and returns (outputs, exit status, exit message)."""
    from aiida import orm
    from aiida.common import LinkType
    from aiida.plugins import CalculationFactory, ParserFactory
    from ase.io import read

    from aiida_pacemaker.data import PacePotentialData, TrainingSetData

    def factory(calculation: str, case: str, replace: dict[str, bytes] | None = None):
        """:param replace: retrieved files to replace (name -> content), to break a real output on purpose."""
        folder = OUTPUTS / calculation / case
        inputs: dict[str, orm.Data] = {}
        for path in sorted((folder / 'inputs').iterdir()):
            if path.name == 'parameters.json':
                inputs['parameters'] = orm.Dict(json.loads(path.read_text()))
            elif path.name == 'training_set.npz':
                with np.load(path, allow_pickle=False) as archive:
                    inputs['training_set'] = TrainingSetData(
                        arrays={key: archive[key] for key in archive.files}
                    )
            elif path.name == 'potential.yaml':
                inputs['potential'] = PacePotentialData(path.read_bytes())
            elif path.suffix == '.extxyz':
                for atoms in read(path, index=':', format='extxyz'):
                    key = atoms.info.pop('key')
                    inputs[f'{path.stem}__{key}'] = orm.StructureData(ase=atoms)
        entry_point = f'pacemaker.{calculation}'
        node = orm.CalcJobNode(computer=aiida_localhost, process_type=f'aiida.calculations:{entry_point}')
        node.set_option('resources', {'num_machines': 1, 'num_mpiprocs_per_machine': 1})
        port = CalculationFactory(entry_point).spec_options['output_filename']
        if port.has_default():
            node.set_option('output_filename', port.default)
        for label, data in inputs.items():
            node.base.links.add_incoming(data.store(), LinkType.INPUT_CALC, label)
        node.store()
        retrieved = orm.FolderData(tree=folder / 'retrieved')
        for name, content in (replace or {}).items():
            retrieved.base.repository.put_object_from_bytes(content, name)
        retrieved.base.links.add_incoming(node, LinkType.CREATE, 'retrieved')
        retrieved.store()

        def parse():
            results, function = ParserFactory(entry_point).parse_from_node(node, store_provenance=False)
            return results, function.exit_status, function.exit_message

        return node, parse

    return factory
