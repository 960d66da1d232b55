"""Accumulation: the cost of storing labelled structures one by one with full provenance, and in bulk.

Every arm labels the same N distorted Cu cells (ASE Atoms) with EMT and, except the first,
stores each structure, its energy (Float), forces and stress (ArrayData) and the process that
made them, with links from each structure to its labels:

- ``label only``: EMT on the Atoms, nothing stored: the raw baseline of the labelling work;
- ``naive``: ``StructureData(ase=...).store()`` and one ``label_with_ase`` calcfunction per
  structure (what the active-learning workchain does for each selected structure);
- ``batch calcfunction``: one ``label_batch_with_ase`` run through the engine for all N;
- ``batch calcfunction, one transaction``: the same inside ``storage.transaction()``;
- ``bulk``: ``label_in_bulk``, the same graph as the batch calcfunction written with bulk inserts
  (aiida-core's public API only: unstored ORM nodes, the repository backend, ``bulk_insert``);
- ``bulk, stored structures``: the same for StructureData that exist already (as in the
  active-learning loop, where the selected structures are outputs of the selection); the time to
  make and store the StructureData is not counted.

Runs alternate; each arm's storage cost per structure is (its time - ``label only``) / N.
Target: <= 5 ms per structure for the bulk path.
"""

from __future__ import annotations

import argparse
import statistics

import _common

CALCULATOR = 'ase.calculators.emt.EMT'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--structures', type=int, default=200)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--output', default='accumulation', help='name of the result file')
    args = parser.parse_args()

    _common.temporary_profile('bench-accumulation')
    from aiida import orm
    from aiida.manage import get_manager

    from aiida_pacemaker.labellers.ase import label_with_ase
    from aiida_pacemaker.labellers.batch import _label_all, label_batch_with_ase, label_in_bulk
    from aiida_pacemaker.tools.examples import random_bulk_structures

    atoms_list = random_bulk_structures(args.structures, seed=11)
    storage = get_manager().get_profile_storage()
    calculator = orm.Str(CALCULATOR).store()

    def label_only() -> None:
        _label_all({str(index): atoms.copy() for index, atoms in enumerate(atoms_list)}, CALCULATOR, {})

    def naive() -> None:
        for atoms in atoms_list:
            label_with_ase(orm.StructureData(ase=atoms).store(), calculator)

    def batch() -> None:
        structures = {f's{index:05d}': orm.StructureData(ase=atoms) for index, atoms in enumerate(atoms_list)}
        label_batch_with_ase(calculator=calculator, structures=structures)

    def batch_in_transaction() -> None:
        with storage.transaction():
            batch()

    def bulk() -> None:
        label_in_bulk(atoms_list, calculator)

    stored_sets = []

    def bulk_stored() -> None:
        label_in_bulk(stored_sets.pop(), calculator)

    label_only()  # imports and first-call costs out of the way
    label_in_bulk(atoms_list[:2], calculator)
    variants = {
        'label only': label_only,
        'naive': naive,
        'batch calcfunction': batch,
        'batch calcfunction, one transaction': batch_in_transaction,
        'bulk': bulk,
        'bulk, stored structures': bulk_stored,
    }
    for _ in range(args.repeats):  # made before the timing: these exist already in the loop
        stored_sets.append(
            {f's{i:05d}': orm.StructureData(ase=atoms).store() for i, atoms in enumerate(atoms_list)}
        )
    print(f'accumulation: {args.structures} structures, {args.repeats} alternating runs per variant')
    times = _common.alternate(variants, args.repeats)
    baseline = statistics.median(times['label only'])
    per_structure = {
        name: (statistics.median(values) - baseline) / args.structures * 1e3 for name, values in times.items()
    }
    print(f'\n{"variant":38s} {"median s":>9s} {"storage ms/structure":>21s} {"vs naive":>9s}')
    for name, values in times.items():
        speedup = per_structure['naive'] / per_structure[name] if per_structure[name] > 0 else float('nan')
        print(f'{name:38s} {statistics.median(values):9.2f} {per_structure[name]:21.2f} {speedup:8.1f}x')
    print(f'bulk storage cost per structure (target <= 5 ms): {per_structure["bulk"]:.2f} ms')
    print(f'bulk, stored structures (the loop): {per_structure["bulk, stored structures"]:.2f} ms')
    path = _common.write_result(
        args.output,
        {'structures': args.structures, 'times_s': times, 'storage_ms_per_structure': per_structure},
    )
    print(f'written: {path}')


if __name__ == '__main__':
    main()
