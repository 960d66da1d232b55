"""Launch a process: in the foreground with its PK shown at once, or on the daemon."""

from __future__ import annotations

import signal
import typing as t

from aiida import orm
from aiida.cmdline.utils import echo

__all__ = ('run_in_foreground', 'submit_to_daemon')


def run_in_foreground(builder: t.Any) -> orm.ProcessNode:
    """Run the process of ``builder`` to its end in this interpreter and return its node.

    What :func:`aiida.engine.run_get_node` does, with the process PK printed as soon as the node
    exists (its reports follow as it runs); Ctrl-C kills the process cleanly. The runner has no
    broker connection (as for process functions), so a foreground run needs no broker or daemon.
    """
    from aiida.engine.utils import loop_scope
    from aiida.manage import get_manager

    runner = get_manager().create_runner(communicator=None)
    with loop_scope(runner.loop):
        process = runner.instantiate_process(builder)
        echo.echo_report(
            f'running {process.node.process_label}<{process.node.pk}> in the foreground (Ctrl-C kills it); '
            f'follow it in another shell with `verdi process report {process.node.pk}`'
        )

        def kill(_signal: int, _frame: t.Any) -> None:
            if not process.is_killing:
                echo.echo_warning(f'interrupted: killing {process.node.process_label}<{process.node.pk}>')
                process.kill(msg_text='killed from the command line (interrupt)')

        handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for number in handlers:
                signal.signal(number, kill)
            process.execute()
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
    return process.node


def submit_to_daemon(builder: t.Any) -> orm.ProcessNode:
    """Submit the process of ``builder`` to the daemon; warn if no daemon is running.

    Exits with one line if the profile has no broker (then only foreground runs work).
    """
    from aiida.engine import submit
    from aiida.engine.daemon.client import get_daemon_client
    from aiida.manage import get_manager

    profile = get_manager().get_profile()
    if profile is None or profile.process_control_backend is None:
        name = profile.name if profile is not None else '?'
        echo.echo_critical(f'profile `{name}` has no broker, so there is no daemon: run without --daemon')
    from aiida.common.exceptions import InvalidOperation

    try:
        node = submit(builder)
    except (InvalidOperation, ConnectionError) as exception:  # no daemon (ZeroMQ) or no broker reachable
        echo.echo_critical(' '.join(str(exception).split()))
    echo.echo_success(f'submitted {node.process_label}<{node.pk}>')
    try:
        running = get_daemon_client().is_daemon_running
    except Exception:  # a daemon client that cannot be made means no daemon
        running = False
    if not running:
        echo.echo_warning('the daemon is not running: start it with `verdi daemon start`')
    return node
