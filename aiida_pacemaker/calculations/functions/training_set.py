"""Training-set operations as calcfunctions: each derived set is a node that shows where it came from."""

from __future__ import annotations

import typing as t

from aiida import orm
from aiida.engine import calcfunction

from aiida_pacemaker.data.training_set import (
    TrainingSetData,
    _Builder,
    atoms_hash,
    concatenate_arrays,
    subset_arrays,
)

__all__ = ('extend_training_set', 'remove_structures')


@calcfunction
def extend_training_set(**kwargs: t.Any) -> dict[str, orm.Data]:
    """Add labelled structures to a training set (or make a first one), skipping duplicates.

    Inputs: optional ``training_set``; for each key K: ``structure_K`` (StructureData),
    ``energy_K`` (Float, eV), ``forces_K`` (ArrayData ``forces``, eV/Å), optional
    ``stress_K`` (ArrayData ``stress``, eV/Å³). Each new structure is named by the UUID of
    its StructureData, so a training structure leads back to its node and labeller.

    Outputs: ``training_set`` and ``added`` (Dict: the added keys and the skipped duplicates).
    """
    previous = kwargs.get('training_set')
    keys = sorted(label[len('structure_') :] for label in kwargs if label.startswith('structure_'))
    builder = _Builder()
    seen: set[str] = set(previous.structure_hashes()) if previous is not None else set()
    added, duplicates = [], []
    for key in keys:
        structure = kwargs[f'structure_{key}']
        atoms = structure.get_ase()
        digest = atoms_hash(atoms)
        if digest in seen:
            duplicates.append(key)
            continue
        seen.add(digest)
        stress = kwargs.get(f'stress_{key}')
        builder.add(
            (previous.num_structures if previous is not None else 0) + len(builder.energy),
            atoms,
            kwargs[f'energy_{key}'].value,
            kwargs[f'forces_{key}'].get_array('forces'),
            stress.get_array('stress') if stress is not None else None,
            structure.uuid,
        )
        added.append(key)
    if previous is None:
        arrays = builder.arrays()
    elif added:
        arrays = concatenate_arrays(previous.get_arrays(), builder.arrays())
    else:
        arrays = dict(previous.get_arrays())
    return {
        'training_set': TrainingSetData(arrays=arrays),
        'added': orm.Dict({'added': added, 'duplicates': duplicates}),
    }


@calcfunction
def remove_structures(training_set: TrainingSetData, names: orm.List) -> TrainingSetData:
    """The training set without the structures called ``names`` (labels found wrong, say): a new node
    that leads back to the set it came from. Names it does not hold are ignored; removing every
    structure is refused (an empty training set cannot be stored).
    """
    drop = set(names.get_list())
    keep = [index for index, name in enumerate(training_set.names) if name not in drop]
    if not keep:
        raise ValueError(
            f'removing {len(drop)} structures would leave TrainingSetData<{training_set.pk}> empty'
        )
    return TrainingSetData(arrays=subset_arrays(training_set.get_arrays(), keep))
