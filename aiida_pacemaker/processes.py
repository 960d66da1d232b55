"""What the plugin's processes share on top of aiida-core's `Process`."""

from __future__ import annotations

import typing as t

__all__ = ('NewOutputLinksOnly',)


class NewOutputLinksOnly:
    """Process mixin: at a state change, look for outputs to link only when one was emitted since the last look.

    aiida-core's ``Process.update_outputs`` runs at every state change of every process and queries all of the
    node's outgoing links to find the outputs not linked yet: 25-30 ms a time on an SQLite profile, some 130
    times in the example active-learning run, mostly with nothing new (benchmarks/RESULTS.md section 6). An
    output is emitted through ``out``, which calls ``on_output_emitting`` first: that sets the flag, and the
    next ``update_outputs`` links as before. A process restored from a checkpoint starts with the flag set
    (the class default), so it looks once, as aiida-core does.

    List it before the aiida-core base class: ``class PaceTrainCalculation(NewOutputLinksOnly, CalcJob)``.
    """

    _outputs_emitted_since_update: bool = True

    def on_output_emitting(self, output_port: str, value: t.Any) -> None:
        """Note that an output was emitted (after aiida-core's checks of it)."""
        super().on_output_emitting(output_port, value)  # type: ignore[misc]  # a mixin of aiida's Process
        self._outputs_emitted_since_update = True

    def update_outputs(self) -> None:
        """Link the new outputs (aiida-core's ``update_outputs``), only if one was emitted since the last time."""
        if not self._outputs_emitted_since_update:
            return
        super().update_outputs()  # type: ignore[misc]  # a mixin of aiida's Process
        self._outputs_emitted_since_update = False
