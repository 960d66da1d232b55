"""Structures already in the training set, or given twice, are never sent to the labeller."""

from __future__ import annotations

from aiida import orm
from aiida.common import AttributeDict

from aiida_pacemaker.data import TrainingSetData
from aiida_pacemaker.tools.examples import emt_label, random_bulk_structures
from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain


class FakeWorkChain:
    """What :meth:`PaceActiveLearningWorkChain._drop_known_structures` uses: the context and ``report``."""

    def __init__(self, training_set: TrainingSetData | None) -> None:
        self.ctx = AttributeDict({'training_set': training_set})
        self.reports: list[str] = []

    def report(self, message: str) -> None:
        self.reports.append(message)


def drop_known(workchain: FakeWorkChain, structures: dict) -> dict:
    return PaceActiveLearningWorkChain._drop_known_structures(workchain, structures)  # type: ignore[arg-type]


def test_known_and_repeated_geometries_are_dropped(aiida_profile):
    labelled = emt_label(random_bulk_structures(4, seed=1))
    training_set = TrainingSetData.from_ase(labelled).store()
    fresh = random_bulk_structures(3, seed=2)
    candidates = {
        'a_known': orm.StructureData(ase=labelled[2]),  # in the training set (labels don't matter)
        'b_new': orm.StructureData(ase=fresh[0]),
        'c_new': orm.StructureData(ase=fresh[1]),
        'd_repeat': orm.StructureData(ase=fresh[0]),  # b_new's geometry again
    }
    workchain = FakeWorkChain(training_set)
    kept = drop_known(workchain, candidates)
    assert list(kept) == ['b_new', 'c_new']
    assert kept['b_new'] is candidates['b_new']
    (message,) = workchain.reports
    assert message.startswith('2 structures are already in the training set or repeat another one')
    assert 'a_known, d_repeat' in message


def test_nothing_dropped_without_a_training_set_or_repeats(aiida_profile):
    fresh = random_bulk_structures(3, seed=5)
    candidates = {f's{i}': orm.StructureData(ase=atoms) for i, atoms in enumerate(fresh)}
    workchain = FakeWorkChain(None)
    assert drop_known(workchain, candidates) == candidates
    assert workchain.reports == []


def test_a_moved_atom_is_a_new_structure(aiida_profile):
    atoms = random_bulk_structures(1, seed=7)[0]
    moved = atoms.copy()
    moved.positions[0, 0] += 0.01  # Å
    training_set = TrainingSetData.from_ase(emt_label([atoms])).store()
    kept = drop_known(FakeWorkChain(training_set), {'moved': orm.StructureData(ase=moved)})
    assert list(kept) == ['moved']
