"""CalcJob monitors: what a running fit is doing, read on the computer where it runs.

``pacemaker.fit_progress`` (give it to a `pacemaker.train` calculation as
``monitors = {'progress': Dict({'entry_point': 'pacemaker.fit_progress', 'minimum_poll_interval': 30})}``;
the protocols do) reads pacemaker's ``metrics.txt`` in the remote working directory through the
calculation's transport, reports the iteration, the loss and the training errors in the process
log (``verdi process report``, and the console of a foreground ``aiida-pacemaker run``; a fit of an
active-learning run says its cycle: ``cycle 2: fit: iteration ...``), and stops
a fit whose loss diverges (non-finite, or ``divergence_factor`` times its lowest value so far).
"""

from __future__ import annotations

import logging
import math
import pathlib
import re
import tempfile
import typing as t

from aiida import orm
from aiida.common.links import LinkType

__all__ = ('PROGRESS_POLL_INTERVAL', 'cycle_of', 'fit_progress', 'progress_monitors')

#: seconds between two looks at a running fit's log (each is one small file transfer)
PROGRESS_POLL_INTERVAL = 15


def progress_monitors() -> dict[str, orm.Dict]:
    """The ``monitors`` input of a `pacemaker.train` calculation that reports its progress."""
    return {
        'progress': orm.Dict(
            {'entry_point': 'pacemaker.fit_progress', 'minimum_poll_interval': PROGRESS_POLL_INTERVAL}
        )
    }


_LAST_REPORTED = 'fit_progress_iteration'


class _MonitorAfterJobFilter(logging.Filter):
    """Drop aiida-core's warning that a monitor was due after its job had finished.

    aiida-core (2.x) schedules the monitor task beside the job's status poll; when the poll has just
    found the job done, the monitor finds the calculation in ``STASHING`` or ``RETRIEVING`` and logs a
    WARNING "already marked as ..., skipping task_monitor_job". Nothing is wrong (the job's files are
    retrieved and parsed as always), but every monitored fit printed it in the user's console.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return 'skipping task_monitor_job' not in record.getMessage()


_TASKS_LOGGER = logging.getLogger('aiida.engine.processes.calcjobs.tasks')
if not any(isinstance(f, _MonitorAfterJobFilter) for f in _TASKS_LOGGER.filters):
    _TASKS_LOGGER.addFilter(_MonitorAfterJobFilter())


def _remote_metrics(node: orm.CalcJobNode, transport: t.Any) -> str | None:
    workdir = node.get_remote_workdir()
    if workdir is None:
        return None
    remote = str(pathlib.PurePosixPath(workdir) / 'metrics.txt')
    if not transport.isfile(remote):
        return None
    with tempfile.TemporaryDirectory() as folder:
        local = pathlib.Path(folder) / 'metrics.txt'
        transport.getfile(remote, str(local))
        return local.read_text(encoding='utf8', errors='replace')


_TRAIN_CALL = re.compile(r'^train_cycle_(\d+)(_from_scratch)?$')


def cycle_of(node: orm.ProcessNode) -> str:
    """Where a fit runs, as a prefix for its progress lines: ``'cycle 2: '`` (``'cycle 2, refit: '``) for a fit of
    an active-learning cycle (found from the call links above it), ``''`` for any other."""
    current: orm.ProcessNode | None = node
    while current is not None:
        link = current.base.links.get_incoming(link_type=(LinkType.CALL_WORK, LinkType.CALL_CALC)).first()
        if link is None:
            return ''
        match = _TRAIN_CALL.match(link.link_label)
        if match:
            return f'cycle {match.group(1)}{", refit" if match.group(2) else ""}: '
        current = t.cast(orm.ProcessNode, link.node)
    return ''


def fit_progress(node: orm.CalcJobNode, transport: t.Any, divergence_factor: float = 1.0e3) -> str | None:
    """Report a running fit's progress; return a message (which kills the job) if its loss diverged.

    :param divergence_factor: the loss may rise to this many times its lowest value so far before the
        fit counts as diverged (BFGS's line searches go up and down; a real divergence runs away).
    """
    from aiida_pacemaker.parsers.train import parse_metrics_table

    text = _remote_metrics(node, transport)
    if not text:
        return None
    try:
        rows = parse_metrics_table(text)
    except ValueError:  # being written, or no iteration yet
        return None
    last, losses = rows[-1], [row['loss'] for row in rows]
    iteration = int(last['iter_num'])
    maxiter = (
        (node.inputs.parameters.get('fit') or {}).get('maxiter', '?') if 'parameters' in node.inputs else '?'
    )
    if iteration != node.base.extras.get(_LAST_REPORTED, None):
        node.base.extras.set(_LAST_REPORTED, iteration)
        node.logger.report(
            f'{cycle_of(node)}fit: iteration {iteration} of at most {maxiter}, loss {last["loss"]:.4g}, train RMSE '
            f'{last["rmse_epa"] * 1000:.2f} meV/atom, {last["rmse_f_comp"] * 1000:.1f} meV/Å'
        )
    finite = [loss for loss in losses if math.isfinite(loss)]
    if not math.isfinite(last['loss']):
        return f'the fit diverged: the loss is {last["loss"]} at iteration {iteration}'
    if finite and last['loss'] > divergence_factor * min(finite):
        return (
            f'the fit diverged: the loss rose to {last["loss"]:.3g} at iteration {iteration}, '
            f'{last["loss"] / min(finite):.0f} times its lowest value'
        )
    return None
