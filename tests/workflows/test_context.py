"""The active-learning workchain's checkpointed context: nothing in it grows with the pool or the training set.

The candidates are the pool input and the explored structures, less those taken; the learning curve is
kept as the current cycle's row without the candidates' grades; the previous training set by its size.
"""

from __future__ import annotations

import numpy as np
import pytest
from aiida.common import AttributeDict

from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain, _row_for_context


class FakeWorkChain:
    """The inputs and the context that the candidate bookkeeping reads (strings stand for structures)."""

    _upgrade_context = PaceActiveLearningWorkChain._upgrade_context
    _candidates = PaceActiveLearningWorkChain._candidates
    _take_candidates = PaceActiveLearningWorkChain._take_candidates
    _previous_force_rmse = PaceActiveLearningWorkChain._previous_force_rmse

    def __init__(self, pool: dict, context: dict) -> None:
        self.inputs = {'pool': pool} if pool else {}
        self.ctx = AttributeDict(context)


POOL = {'p0': 'structure 0', 'p1': 'structure 1', 'p2': 'structure 2'}


def test_candidates_are_the_pool_and_the_explored_less_the_taken():
    workchain = FakeWorkChain(POOL, {'explored': {'md1_0': 'snapshot'}, 'taken': []})
    assert workchain._candidates() == {**POOL, 'md1_0': 'snapshot'}
    workchain._take_candidates(['p1', 'md1_0'])
    workchain._take_candidates(['p1'])  # taking twice is harmless
    assert workchain._candidates() == {'p0': 'structure 0', 'p2': 'structure 2'}
    assert workchain.ctx.taken == ['md1_0', 'p1']  # data only, in a stable order, for the checkpoint
    assert POOL == {'p0': 'structure 0', 'p1': 'structure 1', 'p2': 'structure 2'}  # the input untouched


def test_without_a_pool_only_the_explored_are_candidates():
    workchain = FakeWorkChain({}, {'explored': {'md1_0': 'snapshot'}, 'taken': []})
    assert workchain._candidates() == {'md1_0': 'snapshot'}


def test_a_checkpoint_of_the_earlier_context_is_converted():
    """Earlier versions kept the remaining candidates as ``ctx.pool``: a run resumed from such a
    checkpoint offers the same candidates."""
    remaining = {'p0': 'structure 0', 'p2': 'structure 2', 'md1_0': 'snapshot'}
    workchain = FakeWorkChain(POOL, {'pool': dict(remaining)})
    workchain._upgrade_context()  # what `load_instance_state` does after aiida-core restored the context
    assert workchain._candidates() == remaining
    assert 'pool' not in workchain.ctx
    assert workchain.ctx.taken == ['p1'] and workchain.ctx.explored == {'md1_0': 'snapshot'}
    workchain._upgrade_context()  # a checkpoint of the current context is left as it is
    assert workchain.ctx.taken == ['p1'] and workchain.ctx.explored == {'md1_0': 'snapshot'}
    workchain._take_candidates(['p0'])
    assert workchain._candidates() == {'p2': 'structure 2', 'md1_0': 'snapshot'}


def test_the_context_keeps_the_cycles_row_without_the_grades():
    row = {'cycle': 2, 'test_force_rmse': 20.1, 'gamma': [0.5, 1.2, 3.0], 'num_candidates': 3}
    assert _row_for_context(row) == {'cycle': 2, 'test_force_rmse': 20.1, 'num_candidates': 3}
    assert row['gamma'] == [0.5, 1.2, 3.0]  # the row itself untouched


def test_a_checkpoint_with_every_row_and_the_atom_counts_is_converted():
    """Earlier versions kept every cycle's learning-curve row (with each candidate's grade) and the
    previous training set's atom counts: a resumed run keeps the last row without the grades, and the
    number of structures."""
    rows = [{'cycle': 1, 'gamma': [2.0]}, {'cycle': 2, 'gamma': [0.5, 1.5], 'test_force_rmse': 9.0}]
    workchain = FakeWorkChain(POOL, {'learning_curve': rows, 'previous_natoms': [4, 8, 4], 'taken': []})
    workchain._upgrade_context()
    assert workchain.ctx.row == {'cycle': 2, 'test_force_rmse': 9.0}
    assert workchain.ctx.previous_num_structures == 3
    assert 'learning_curve' not in workchain.ctx and 'previous_natoms' not in workchain.ctx
    workchain = FakeWorkChain(POOL, {'learning_curve': [], 'previous_natoms': None})
    workchain._upgrade_context()  # stopped before the first fit was recorded
    assert workchain.ctx.row == {} and workchain.ctx.previous_num_structures is None


class FakeErrors:
    """A fit's ``per_structure_errors``: the force RMSE of every structure (meV/Å)."""

    def __init__(self, forces: list[float]) -> None:
        self.forces = np.array(forces)

    def get_array(self, name: str) -> np.ndarray:
        assert name == 'forces'
        return self.forces


class FakeTrainingSet:
    def __init__(self, natoms: list[int]) -> None:
        self.natoms = np.array(natoms)

    def get_arrays(self) -> dict[str, np.ndarray]:
        return {'natoms': self.natoms}


def test_the_previous_structures_are_the_first_of_the_merged_set():
    """The fine-tuned fit's error on the previous cycle's structures: the first ones of this cycle's set
    (the merge appends), weighted by their atoms."""
    workchain = FakeWorkChain(
        POOL, {'previous_num_structures': 2, 'training_set': FakeTrainingSet([4, 8, 4])}
    )
    fit = AttributeDict({'outputs': AttributeDict({'per_structure_errors': FakeErrors([10.0, 20.0, 99.0])})})
    expected = np.sqrt((4 * 10.0**2 + 8 * 20.0**2) / 12)
    assert workchain._previous_force_rmse(fit) == pytest.approx(expected)
    workchain.ctx.previous_num_structures = None  # the first cycle: nothing to compare with
    assert workchain._previous_force_rmse(fit) is None
