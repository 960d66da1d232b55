"""The plugin's own layer on aiida-core's processes: output links looked up only when an output was emitted
(`NewOutputLinksOnly`), and the foreground runner whose workchains go on as soon as their child ends."""

from __future__ import annotations

import time

import pytest
from aiida import engine, orm
from aiida.engine.processes.process import Process

from aiida_pacemaker.cli.launch import foreground_runner
from aiida_pacemaker.processes import NewOutputLinksOnly


class Child(NewOutputLinksOnly, engine.WorkChain):
    """Emits one output in its first step, another in its third."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.first, cls.second, cls.third)
        spec.output('a', valid_type=orm.Int)
        spec.output_namespace('more', valid_type=orm.Int, dynamic=True)

    def first(self):
        self.out('a', orm.Int(1).store())

    def second(self):
        pass  # a state change with nothing new

    def third(self):
        self.out('more.b', orm.Int(2).store())


class Parent(NewOutputLinksOnly, engine.WorkChain):
    """Waits on a `Child` and returns its outputs."""

    @classmethod
    def define(cls, spec):
        super().define(spec)
        spec.outline(cls.launch, cls.collect)
        spec.output('a', valid_type=orm.Int)

    def launch(self):
        return engine.ToContext(child=self.submit(Child))

    def collect(self):
        self.out('a', self.ctx.child.outputs.a)


@pytest.fixture
def lookups(monkeypatch):
    """Counts aiida-core's `update_outputs` (each queries all of the node's outgoing links)."""
    calls = []
    original = Process.update_outputs

    def counted(self):
        calls.append(type(self).__name__)
        return original(self)

    monkeypatch.setattr(Process, 'update_outputs', counted)
    return calls


def test_outputs_are_linked_and_looked_up_only_after_one_was_emitted(aiida_profile, lookups):
    results, node = engine.run_get_node(Child)
    assert node.is_finished_ok
    assert results['a'].value == 1 and results['more']['b'].value == 2
    links = {link.link_label: link.node.value for link in node.base.links.get_outgoing().all()}
    assert links == {'a': 1, 'more__b': 2}
    # the first state change looks (the flag starts set), then one look after each of the two outputs; the
    # other state changes (created, running x3, finished: 6 in all) look no more
    assert lookups.count('Child') == 3


def test_foreground_runner_wakes_the_parent_as_its_child_ends(aiida_profile):
    """The parent goes on as soon as its child ends, not at aiida-core's next look at the child's node, which
    comes every `runner.poll.interval` (here 30 s: the run would take that long without the hook)."""
    runner = foreground_runner(poll_interval=30.0)
    assert runner.communicator is None  # no broker needed
    began = time.monotonic()
    process = runner.instantiate_process(Parent)
    runner.loop.run_until_complete(process.step_until_terminated())
    assert process.node.is_finished_ok, process.node.exit_message
    assert process.node.outputs.a.value == 1
    assert time.monotonic() - began < 20
