"""Launch a process: in the foreground with its PK shown at once, or on the daemon."""

from __future__ import annotations

import signal
import typing as t

from aiida import orm
from aiida.cmdline.utils import echo

__all__ = ('foreground_runner', 'run_in_foreground', 'submit_to_daemon')


def foreground_runner(poll_interval: float | None = None) -> t.Any:
    """A runner without a broker connection whose workchains go on as soon as the child they wait on ends.

    Without a broker, aiida-core's runner learns that a child ended by looking at the child's node every
    `runner.poll.interval` (1 s on a `verdi presto` profile): half a second on average after every child,
    8 such waits in the example run (benchmarks/RESULTS.md section 6). The children of a foreground run
    run in this interpreter, so this runner hooks the wait onto the child's own future instead, which is
    resolved when its process ends (its done-callbacks are not part of any checkpoint); the look at the
    node stays as the fallback, for a child this runner did not start.

    :param poll_interval: seconds between those looks (default: the profile's `runner.poll.interval`).
    """
    import weakref

    from aiida.engine.runners import Runner
    from aiida.manage import get_manager

    class ForegroundRunner(Runner):
        """See :func:`foreground_runner`."""

        def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
            super().__init__(*args, **kwargs)
            self._started: weakref.WeakValueDictionary[int, t.Any] = weakref.WeakValueDictionary()

        def instantiate_process(self, process: t.Any, **inputs: t.Any) -> t.Any:
            instance = super().instantiate_process(process, **inputs)
            self._started[instance.node.pk] = instance
            return instance

        def call_on_process_finish(self, pk: int, callback: t.Callable[[], t.Any]) -> None:
            process = self._started.get(pk)
            if process is None:
                super().call_on_process_finish(pk, callback)
                return
            called: list[bool] = []

            def once(*_: t.Any) -> None:
                if not called:
                    called.append(True)
                    callback()

            process.future().add_done_callback(once)
            super().call_on_process_finish(pk, once)

    manager = get_manager()
    if poll_interval is None:  # as aiida-core's runners: the profile's option (0 on a test profile)
        profile = manager.get_profile()
        test = profile is not None and profile.is_test_profile
        poll_interval = 0.0 if test else manager.get_option('runner.poll.interval')
    return ForegroundRunner(
        poll_interval=poll_interval, broker_submit=False, communicator=None, persister=manager.get_persister()
    )


def run_in_foreground(builder: t.Any) -> orm.ProcessNode:
    """Run the process of ``builder`` to its end in this interpreter and return its node.

    What :func:`aiida.engine.run_get_node` does, with the process PK printed as soon as the node
    exists (its reports follow as it runs). The runner has no broker connection (as for process
    functions), so a foreground run needs no broker or daemon; a workchain goes on as soon as the process
    it waits on ends (:func:`foreground_runner`). Ctrl-C (or SIGTERM) stops it: the
    scheduler jobs it started are killed, the unfinished processes marked killed, and one line says
    what was killed.
    """
    from aiida.engine.utils import loop_scope

    runner = foreground_runner()
    with loop_scope(runner.loop):
        process = runner.instantiate_process(builder)
        echo.echo_report(
            f'running {process.node.process_label}<{process.node.pk}> in the foreground (Ctrl-C kills it); '
            f'follow it in another shell with `verdi process report {process.node.pk}`'
        )

        def stop() -> None:
            raise KeyboardInterrupt  # from the event loop, so that it leaves `execute` (not some callback)

        def interrupt(_signal: int, _frame: t.Any) -> None:
            runner.loop.call_soon_threadsafe(stop)

        handlers = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
        try:
            for number in handlers:
                signal.signal(number, interrupt)
            process.execute()
        except KeyboardInterrupt:
            for number in handlers:  # a second Ctrl-C during the clean-up is ignored
                signal.signal(number, signal.SIG_IGN)
            killed = kill_unfinished(process.node, 'killed from the command line (interrupt)')
            echo.echo_critical(f'interrupted: killed {", ".join(killed)}')
        finally:
            for number, handler in handlers.items():
                signal.signal(number, handler)
    return t.cast(orm.ProcessNode, process.node)


def kill_unfinished(node: orm.ProcessNode, message: str) -> list[str]:
    """Kill the scheduler jobs of the unfinished calculations under ``node`` and mark every unfinished
    process of the tree (``node`` included) as killed; return what was killed, for the user.

    For a run in the foreground whose runner is about to stop: the processes cannot be asked to kill
    themselves (there is no broker), so their nodes are set to killed here and their jobs killed
    through the computer's scheduler (the direct scheduler kills the job's whole process tree).
    """
    from aiida.engine import ProcessState

    nodes = [child for child in node.called_descendants if not child.is_terminated]
    killed = []
    for child in sorted(nodes, key=lambda n: n.pk or 0, reverse=True):  # the deepest (newest) first
        description = f'{child.process_label}<{child.pk}>'
        if (
            isinstance(child, orm.CalcJobNode)
            and child.get_job_id() is not None
            and child.computer is not None
        ):
            description += f' (job {child.get_job_id()} on {child.computer.label}: {_kill_job(child)})'
        _mark_killed(child, message, ProcessState.KILLED)
        killed.append(description)
    if not node.is_terminated:
        _mark_killed(node, message, ProcessState.KILLED)
    return [f'{node.process_label}<{node.pk}>', *killed]


def _kill_job(node: orm.CalcJobNode) -> str:
    try:
        computer = node.computer
        assert computer is not None
        with computer.get_transport() as transport:
            scheduler = computer.get_scheduler()
            scheduler.set_transport(transport)
            return (
                'stopped'
                if scheduler.kill_job(str(node.get_job_id()))
                else 'the scheduler refused to kill it'
            )
    except Exception as exception:  # the job may have ended meanwhile; say so, do not stop the clean-up
        return f'not killed: {" ".join(str(exception).split())}'


def _mark_killed(node: orm.ProcessNode, message: str, state: t.Any) -> None:
    node.set_process_state(state)
    node.set_process_status(message)
    if not node.is_sealed:
        node.seal()


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
        node = _submit_retrying_locks(submit, builder)
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


#: waits (s) between attempts when SQLite says that the database is locked
LOCKED_RETRY_WAITS = (0.5, 1.0, 2.0, 4.0, 8.0)


def _submit_retrying_locks(submit: t.Callable[[t.Any], orm.ProcessNode], builder: t.Any) -> orm.ProcessNode:
    """``submit(builder)``, retried while SQLite reports ``database is locked``.

    A ``core.sqlite_dos`` profile (what ``verdi presto`` makes) allows one writer at a time: while the
    daemon's workers write (a cycle's labels, say), a submission may find the database locked. The lock
    is short, so the submission waits and tries again; when it stays locked, the message says why and
    what to do.
    """
    import time

    from sqlalchemy.exc import OperationalError

    for wait in (*LOCKED_RETRY_WAITS, None):
        try:
            return submit(builder)
        except OperationalError as exception:
            if 'database is locked' not in str(exception):
                raise
            if wait is None:
                echo.echo_critical(
                    'the SQLite database stayed locked by another writer (the daemon, or another command) for '
                    f'{sum(LOCKED_RETRY_WAITS):.0f} s: try again, or use a PostgreSQL profile for many concurrent '
                    'runs'
                )
            echo.echo_warning(f'the database is locked by another writer; trying again in {wait:g} s')
            time.sleep(wait)
    raise AssertionError('unreachable')
