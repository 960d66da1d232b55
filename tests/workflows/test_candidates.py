"""The active-learning workchain's candidates: the pool input and the explored structures, less those taken."""

from __future__ import annotations

from aiida.common import AttributeDict

from aiida_pacemaker.workflows.active_learning import PaceActiveLearningWorkChain


class FakeWorkChain:
    """The inputs and the context that the candidate bookkeeping reads (strings stand for structures)."""

    _upgrade_context = PaceActiveLearningWorkChain._upgrade_context
    _candidates = PaceActiveLearningWorkChain._candidates
    _take_candidates = PaceActiveLearningWorkChain._take_candidates

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
