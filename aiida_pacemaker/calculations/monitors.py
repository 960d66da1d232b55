"""CalcJob monitors: what a running fit is doing, read on the computer where it runs.

``pacemaker.fit_progress`` (give it to a `pacemaker.train` calculation as
``monitors = {'progress': Dict({'entry_point': 'pacemaker.fit_progress', 'minimum_poll_interval': 30})}``;
the protocols do) reads pacemaker's ``metrics.txt`` in the remote working directory through the
calculation's transport, reports the iteration, the loss and the training errors in the process
log (``verdi process report``, and the console of a foreground ``aiida-pacemaker run``), and stops
a fit whose loss diverges (non-finite, or ``divergence_factor`` times its lowest value so far).
"""

from __future__ import annotations

import math
import pathlib
import tempfile
import typing as t

from aiida import orm

__all__ = ('PROGRESS_POLL_INTERVAL', 'fit_progress', 'progress_monitors')

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
            f'fit: iteration {iteration} of at most {maxiter}, loss {last["loss"]:.4g}, train RMSE '
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
