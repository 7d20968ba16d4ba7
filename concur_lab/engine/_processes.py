"""Run a callable in N child processes of a start method, supervised from the calling thread.

One loop waits on every child's result pipe, output pipes and process sentinel together (one
``poll``), so a child that dies, hangs or sends something unreadable can never block the parent:
there is no bare ``Queue.get()`` anywhere, and no helper thread, so the engine itself never forks
a multi-threaded parent. Each descriptor is registered once and removed when it closes: building
the whole set again for every wait (as ``multiprocess.connection.wait`` does) cost time in
proportion to the workers at every event, a quarter of the engine's overhead over hand-written
code at 20 fork workers.
Children report "ready" and then block on a shared gate pipe; the parent opens the gate (writes
one byte per worker) once all are ready, or closes it, which every waiting child reads as
end-of-file, when one of them failed to start (or timed out or died before all were ready).
Results arrive as length-prefixed frames (see :mod:`concur_lab.engine._child`) read in pieces as
they come, so a child that stalls half-way through sending a large result cannot hold the parent
past its deadline.
"""

from __future__ import annotations

import dataclasses
import errno
import math
import os
import pickle
import select
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import multiprocess
from multiprocess import connection as mp_connection
from multiprocess import process as mp_process

from concur_lab.engine import _child, _descendants, _hooks
from concur_lab.engine._outcome import WorkerOutcome, WorkerWarning
from concur_lab.engine._payload import (
    DeferredPayload,
    Manifest,
    SendError,
    dumps_payload,
    needs_inheritance,
)
from concur_lab.engine._remote_errors import (
    ExceptionState,
    RemoteError,
    _resolve,
    restore_exception,
)
from concur_lab.engine._run_plan import Plan

__all__ = ["run_processes"]

# After a child exits: how long its output pipes may stay open (a grandchild may hold them).
_DRAIN_GRACE = 0.5
_READ_SIZE = 65536
# The longest single wait: selectors cannot wait much more than 24 days at once (poll() takes
# milliseconds in a C int), so a longer deadline is waited for in slices.
_MAX_WAIT = 86400.0
_FORK_WARNING = "use of fork() may lead to deadlocks"
# concur_lab itself, not just the engine: a demo that starts processes is not the caller either.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _Worker:
    """The parent's view of one child: its process, pipe ends and what arrived so far."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.process: Any = None
        self.result: Any = None
        self.streams: dict[str, Any] = {}
        self.data: dict[str, bytearray] = {
            "out": bytearray(),
            "err": bytearray(),
            "fault": bytearray(),
        }
        self.ready = False
        # The child's ("ready", pid, thread ident, thread name).
        self.ready_info: tuple[Any, ...] = ()
        # Bytes of the result pipe not yet making up a whole frame.
        self.pending = bytearray()
        self.reply: tuple[Any, ...] | None = None
        self.start_error: str = ""
        # Set on the worker whose failed start aborted the others: why, naming it.
        self.abort_reason: str = ""
        self.exited_at: float | None = None
        self.timed_out = False
        self.killed_how = ""
        # Descendants killed with the worker at the deadline (or on an interrupt).
        self.descendants: list[tuple[int, str]] = []
        self.pid: int | None = None
        self.exitcode: int | None = None
        # What tells the parent that the child has exited: a pidfd where there is one, else
        # the process's sentinel (see _exit_handle).
        self.exit_fd: Any = None

        # What the supervisor waits on for this worker; closed ends must leave it first.
        self.poller: _Poller | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.exited_at is None

    def mark_exited(self) -> None:
        if self.poller is not None and self.exited_at is None and self.exit_fd is not None:
            self.poller.discard(self.exit_fd)
        self.exited_at = time.monotonic()

    def close_exit_fd(self) -> None:
        if isinstance(self.exit_fd, int) and self.exit_fd != self.process.sentinel:
            with suppress(OSError):
                os.close(self.exit_fd)
        self.exit_fd = None

    def close_result(self) -> None:
        if self.poller is not None:
            self.poller.discard(self.result.fileno())
        self.result.close()
        self.result = None

    def close_stream(self, name: str) -> None:
        conn = self.streams.pop(name)
        if self.poller is not None:
            self.poller.discard(conn.fileno())
        conn.close()

    def close(self) -> None:
        for conn in [self.result, *self.streams.values()]:
            if conn is not None:
                with suppress(OSError):
                    conn.close()
        self.result = None
        self.streams.clear()


class _Poller:
    """Every open pipe end and live sentinel of a run, each registered once, waited on together."""

    def __init__(self) -> None:
        # poll() keeps no kernel object (nothing for a child to inherit) and has no FD_SETSIZE
        # limit; where it is missing (Windows) the connections are waited on as a list.
        self._poll = select.poll() if hasattr(select, "poll") else None
        self._by_fd: dict[int, tuple[_Worker, str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_fd)

    def add(self, obj: Any, worker: _Worker, what: str) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()
        self._by_fd[fd] = (worker, what, obj)
        if self._poll is not None:
            self._poll.register(fd, select.POLLIN)

    def discard(self, fd: int) -> None:
        if self._by_fd.pop(fd, None) is not None and self._poll is not None:
            self._poll.unregister(fd)

    def wait(self, timeout: float) -> list[tuple[_Worker, str]]:
        """Return (worker, what) for each ready object, waiting at most *timeout* seconds."""
        if self._poll is None:
            objs = {obj: (worker, what) for worker, what, obj in self._by_fd.values()}
            return [objs[obj] for obj in mp_connection.wait(list(objs), timeout)]
        # Rounded up: a wait of 0 ms just before the deadline would spin.
        events = self._poll.poll(math.ceil(timeout * 1000))
        by_fd = self._by_fd
        return [by_fd[fd][:2] for fd, _ in events if fd in by_fd]


_preloaded = False


def _context(method: str) -> Any:
    global _preloaded
    ctx = multiprocess.get_context(method)
    if method == "forkserver" and not _preloaded:
        # What every child needs is imported once in the server instead of once per child.
        # The engine too: test code that calls it would otherwise import it again in every child.
        preload = ["concur_lab.engine._child", "concur_lab.engine._api"]
        for hooks in _hooks.registered():
            # What the packages the engine serves know their children import (pytest's own).
            preload += hooks.forkserver_preload()
        ctx.set_forkserver_preload(_keep_user_preloads(preload))
        _preloaded = True
    return ctx


def _keep_user_preloads(ours: list[str]) -> list[str]:
    """Add *ours* to what the caller already asked the fork server to preload.

    ``"__main__"`` (multiprocess's default entry) is left out on purpose: on 3.13+ the server
    imports the main script with ``sys.argv`` reduced to its path, so a script that reads its
    arguments at import time would crash the server; children then run it as ``__mp_main__``.
    """
    from multiprocess import forkserver

    theirs = getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or []
    merged = [name for name in theirs if name != "__main__"]
    return merged + [name for name in ours if name not in merged]


def _os_thread_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def _other_threads() -> list[str]:
    """Name the threads besides this one that a fork would copy the process with."""
    me = threading.current_thread()
    names = [t.name for t in threading.enumerate() if t is not me]
    if sys.platform != "linux":
        return names
    # The interpreter counts OS threads, which includes threads Python did not start, and a
    # thread that was just joined can linger there for a moment while it exits: give those
    # (ours after a thread-mode run, typically) up to 100 ms to go.
    settle = time.monotonic() + 0.1
    while True:
        count = _os_thread_count()
        extra = 0 if count is None else count - 1 - len(names)
        if extra <= 0 or names or time.monotonic() > settle:
            break
        time.sleep(0.001)
    if extra > 0:
        names.append(f"{extra} thread(s) not started by Python")
    return names


def _warn_if_forking_threads(method: str, n: int) -> bool:
    """Explain, once per run, the interpreter's warning about forking a multi-threaded process.

    Called directly from :func:`run_processes` (not from a context manager) so that the warning
    points at the caller's line.
    Returns whether the interpreter's own per-fork copies should be silenced.
    """
    others = _other_threads() if method == "fork" and sys.version_info >= (3, 12) else []
    if not others:
        return False
    # No pid in the text: one message for every process, so pytest's summary groups them.
    warnings.warn(
        f"This process is multi-threaded, {_FORK_WARNING} in the child. "
        f"concur_lab forks {n} worker process(es) while other threads run "
        f"({', '.join(others)}): a lock one of them holds at that instant stays locked forever "
        "in the child. Use the 'forkserver' start method (or 'spawn') to avoid this.",
        DeprecationWarning,
        skip_file_prefixes=(_PACKAGE_DIR,),  # type: ignore[call-overload,unused-ignore]
    )
    return True


@contextmanager
def _interpreter_fork_warning_silenced(silence: bool) -> Iterator[None]:
    if not silence:
        yield
        return
    with warnings.catch_warnings():
        # Said once, with the reason, by _warn_if_forking_threads; the interpreter would repeat
        # it for every worker.
        warnings.filterwarnings(
            "ignore", message=r".*use of fork\(\) may lead", category=DeprecationWarning
        )
        yield


def run_processes(plan: Plan) -> list[WorkerOutcome[Any]]:
    """Run *plan* in child processes; every child has been joined on return."""
    method = plan.mode.start_method
    assert method is not None
    ctx = _context(method)
    plan = dataclasses.replace(plan, warning_filters=_child.picklable_filters())
    if method == "fork":
        payload: bytes | Plan | DeferredPayload = plan
        manifest = Manifest()
    else:
        describe: dict[str, Any] = {
            "target": plan.target,
            "args": plan.args,
            "kwargs": plan.kwargs,
            "worker_args": plan.worker_args or (),
            "start_method": method,
        }
        try:
            payload, manifest = dumps_payload(plan, **describe)
        except SendError as exc:
            if not needs_inheritance(exc):
                raise
            payload, manifest = DeferredPayload(plan, **describe), Manifest()
    workers = [_Worker(i) for i in range(plan.n)]
    gate_r, gate_w = ctx.Pipe(duplex=False)
    if plan.n == 1:
        # One worker has nobody to start together with: its gate is open from the start,
        # which spares a round trip through the parent per run (every test, in the plugin).
        os.write(gate_w.fileno(), b"g")
    began = time.monotonic()
    deadline = None if plan.timeout is None else began + plan.timeout
    try:
        silence = _warn_if_forking_threads(method, plan.n)
        with _interpreter_fork_warning_silenced(silence):
            _start_all(ctx, plan, workers, payload, manifest, gate_r, gate_w, deadline)
        gate_r.close()
        _supervise(plan, workers, gate_w, deadline)
    finally:
        with suppress(OSError):
            gate_w.close()
        with suppress(OSError):
            gate_r.close()
        for worker in workers:
            _reap(worker)
            worker.close()
    return [_outcome(plan, w) for w in workers]


def _start_all(
    ctx: Any,
    plan: Plan,
    workers: list[_Worker],
    payload: bytes | Plan | DeferredPayload,
    manifest: Manifest,
    gate_r: Any,
    gate_w: Any,
    deadline: float | None = None,
) -> None:
    fork = plan.mode.start_method == "fork"
    # Everything is made before the first fork: after it, every page the parent writes to is
    # copied (copy-on-write) while a child still shares it, and the engine's bookkeeping
    # between forks cost ~9 % of a 20-worker run (measured against creating it as it went).
    child_ends: list[list[Any]] = []
    for worker in workers:
        parent_ends: list[Any] = []
        ends: list[Any] = []
        try:
            for _ in range(4):  # result, out, err, fault
                if fork:
                    # A bare descriptor, inherited: closing it in the parent touches no object.
                    read_fd, write_fd = os.pipe()
                    parent_ends.append(mp_connection.Connection(read_fd, writable=False))
                    ends.append(write_fd)
                else:
                    # Connections, which pickle for a child that inherits nothing.
                    read_end, write_end = mp_connection.Pipe(duplex=False)
                    parent_ends.append(read_end)
                    ends.append(write_end)
        except OSError as exc:
            # Out of descriptors (most often): this worker and the later ones cannot start,
            # and the ones that have their pipes are started only to be told so at the gate.
            _close_ends(ends)
            for end in parent_ends:
                with suppress(OSError):
                    end.close()
            _refuse_from(workers, worker.index, exc)
            break
        worker.result = parent_ends[0]
        worker.streams = dict(zip(("out", "err", "fault"), parent_ends[1:], strict=True))
        child_ends.append(ends)
    processes = []
    for worker, ends in zip(workers, child_ends, strict=False):
        # Under fork a child inherits whatever the parent has open, the write ends of the
        # workers forked after it included: it closes those, and the gate's write end.
        later = child_ends[worker.index + 1 :]
        inherited = (gate_w.fileno(), *(fd for other in later for fd in other)) if fork else ()
        result_w, out_w, err_w, fault_w = ends
        pipes = _child.WorkerPipes(result_w, out_w, err_w, fault_w, gate_r)
        processes.append(
            ctx.Process(
                target=_child.main,
                args=(worker.index, payload, manifest, pipes, inherited),
                name=f"concur-worker-{worker.index}",
            )
        )
    with _set_aside_while_starting() as set_aside:
        _start_each(workers[: len(child_ends)], processes, child_ends, set_aside, plan, deadline)


class _StartDeadline(Exception):
    """The run's deadline passed before every worker process was started."""


def _start_failure(exc: BaseException) -> str:
    """Describe why a worker could not start, naming the descriptor limit when it was hit."""
    if isinstance(exc, _StartDeadline):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        limit = _open_files_limit()
        text += (
            f" (this process may have {limit} open files, see ulimit -n; each process "
            "worker needs 4 pipes while it starts)"
            if limit is not None
            else " (the limit of open files was reached; each process worker needs 4 pipes)"
        )
    return text


def _open_files_limit() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _refuse_from(workers: list[_Worker], index: int, exc: BaseException) -> None:
    """Mark worker *index* as unable to start because of *exc*, and every later one with it."""
    reason = f"worker {index} could not start: {_start_failure(exc)}"
    workers[index].start_error = f"could not start: {_start_failure(exc)}"
    workers[index].abort_reason = reason
    for later_worker in workers[index + 1 :]:
        later_worker.start_error = f"not started because {reason}"


@contextmanager
def _set_aside_while_starting() -> Iterator[Callable[[Any], None]]:
    """Keep the workers started so far out of multiprocess's set of children until all are.

    ``Process.start()`` first polls every child in that set (``process._cleanup``): quadratic in
    a run's workers, which wait at the gate, and under forkserver each poll builds a selector
    (a fifth of the parent's extra CPU time over a hand-written run at 20 workers, measured).
    The supervisor reaps them; they are back in the set, for ``active_children()``, on return.
    """
    children = getattr(mp_process, "_children", None)
    if not isinstance(children, set):
        # Another multiprocess layout: start as it does, polling included.
        yield lambda process: None
        return
    started: list[Any] = []

    def set_aside(process: Any) -> None:
        started.append(process)
        children.discard(process)

    try:
        yield set_aside
    finally:
        children.update(started)


def _start_each(
    workers: list[_Worker],
    processes: list[Any],
    child_ends: list[list[Any]],
    set_aside: Callable[[Any], None],
    plan: Plan | None = None,
    deadline: float | None = None,
) -> None:
    for worker, process, ends in zip(workers, processes, child_ends, strict=True):
        try:
            if deadline is not None and plan is not None and time.monotonic() >= deadline:
                raise _StartDeadline(
                    f"the deadline of {plan.timeout:g} s passed while starting the workers: "
                    f"{worker.index} of {plan.n} processes had started"
                )
            process.start()
            set_aside(process)
        except BaseException as exc:
            for unstarted, their_ends in zip(
                workers[worker.index :], child_ends[worker.index :], strict=True
            ):
                unstarted.close()
                if unstarted is not worker:
                    _close_ends(their_ends)
            _refuse_from(workers, worker.index, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit, SendError)):
                # A payload pickled at start names what it could not send: say it as such.
                raise
            return
        finally:
            # The child has its own copies now (inherited, or sent along with the process).
            _close_ends(ends)
        worker.process = process


def _close_ends(ends: list[Any]) -> None:
    for end in ends:
        with suppress(OSError):
            _child.close_end(end)


def _supervise(plan: Plan, workers: list[_Worker], gate_w: Any, deadline: float | None) -> None:
    started = [w for w in workers if w.process is not None]
    gate_open = plan.n == 1
    gate_closed = False
    abort_reason = next((w.abort_reason for w in workers if w.abort_reason), "")
    poller = _Poller()
    for worker in started:
        worker.poller = poller
        for name, conn in worker.streams.items():
            poller.add(conn, worker, name)
        poller.add(worker.result, worker, "result")
        worker.exit_fd = _exit_handle(worker.process, plan.mode.start_method)
        poller.add(worker.exit_fd, worker, "exit")
    draining = False
    while True:
        if not poller:
            return
        now = time.monotonic()
        if all(not w.alive for w in started):
            last_exit = max((w.exited_at or now) for w in started)
            if now - last_exit > _DRAIN_GRACE:
                return
            # Everything the workers wrote is in their pipes by now: read what is there, and
            # stop as soon as nothing is. A descendant that inherited a write end (and keeps
            # it open, or keeps writing) must not hold the run open, nor count as the worker's.
            draining = True
            wait_for = 0.0
        elif deadline is not None:
            if now >= deadline:
                _expire(plan, [w for w in started if w.alive])
                continue
            wait_for = min(deadline - now, _MAX_WAIT)
        else:
            wait_for = _MAX_WAIT
        ready = poller.wait(wait_for)
        if draining and not ready:
            return
        for worker, what in ready:
            if what == "exit":
                # Reaps the child if it has exited (as join(0) would, without building a
                # selector for its sentinel, which is already known to be ready).
                worker.process.is_alive()
                worker.mark_exited()
            elif what == "result":
                _receive(worker)
            else:
                _read_stream(worker, what)
        if not gate_open and not gate_closed:
            failed = next((w for w in started if _failed_before_ready(w)), None)
            if abort_reason or failed is not None:
                if failed is not None and not abort_reason:
                    abort_reason = f"worker {failed.index} failed to start"
                gate_w.close()
                gate_closed = True
                for worker in started:
                    if worker is failed or worker.start_error:
                        continue
                    worker.start_error = f"start aborted because {abort_reason}"
            elif any(w.timed_out or w.exited_at is not None for w in started):
                # The deadline passed (or a worker died) while others were still getting ready:
                # nobody is left to start together with; closing lets the living ones end.
                gate_w.close()
                gate_closed = True
            elif all(w.ready for w in started):
                # BrokenPipeError: every reader is gone already; their outcomes say why.
                with suppress(BrokenPipeError):
                    os.write(gate_w.fileno(), b"g" * len(started))
                gate_open = True


def _failed_before_ready(worker: _Worker) -> bool:
    if worker.ready:
        return False
    if worker.reply is not None and worker.reply[0] == "start_failed":
        return True
    return worker.exited_at is not None


def _receive(worker: _Worker) -> None:
    """Read what the result pipe has now; handle every message completed by it."""
    try:
        chunk = os.read(worker.result.fileno(), _READ_SIZE)
    except OSError:
        chunk = b""
    if not chunk:
        worker.close_result()
        return
    pending = worker.pending
    pending += chunk
    header = _child.FRAME_HEADER.size
    while len(pending) >= header:
        (size,) = _child.FRAME_HEADER.unpack_from(pending)
        if len(pending) < header + size:
            return
        data = bytes(pending[header : header + size])
        del pending[: header + size]
        _handle(worker, data)


def _handle(worker: _Worker, data: bytes) -> None:
    try:
        message = pickle.loads(data)
    except Exception as exc:
        message = (
            "done",
            "unreadable",
            f"the parent could not unpickle what the worker sent: {type(exc).__name__}: {exc}",
            None,
            {},
        )
    if message[0] == "ready":
        worker.ready = True
        worker.ready_info = tuple(message)
    else:
        worker.reply = message


def _read_stream(worker: _Worker, name: str) -> None:
    conn = worker.streams[name]
    try:
        chunk = os.read(conn.fileno(), _READ_SIZE)
    except OSError:
        chunk = b""
    if chunk:
        worker.data[name] += chunk
    else:
        worker.close_stream(name)


def _expire(plan: Plan, alive: list[_Worker]) -> None:
    """At the deadline: dump each live child's stack, then terminate it, then kill it.

    The plan's grace bounds the wait for the stacks, and again the wait after SIGTERM.
    """
    signalled = []
    for worker in alive:
        worker.timed_out = True
        if worker.ready and _child.DUMP_SIGNAL is not None:
            with suppress(OSError):
                os.kill(worker.process.pid, _child.DUMP_SIGNAL)
                signalled.append(worker)
    # Only a signalled child can answer with a stack: do not wait for the others.
    _drain_faults(signalled, plan.grace)
    for worker in alive:
        if worker.process.is_alive():
            # First, while the worker (their subreaper) still holds them together.
            worker.descendants = _descendants.kill_tree(worker.process.pid)
            worker.process.terminate()
            worker.killed_how = "terminated"
    end = time.monotonic() + plan.grace
    for worker in alive:
        _wait_exit(worker, max(end - time.monotonic(), 0.0))
        if worker.process.is_alive():
            worker.process.kill()
            worker.killed_how = "killed"
            _wait_exit(worker, 5.0)
        worker.mark_exited()


def _exit_handle(process: Any, method: str | None) -> Any:
    """Return what becomes readable when *process* exits: a pidfd, or else its sentinel.

    Under fork and spawn the sentinel is a pipe whose write end the child holds until it
    exits, and so does every descendant it forks: a grandchild that outlives the worker would
    hold the run open until its own end (or the deadline). A pidfd (Linux 5.3+) is readable
    when the process itself has exited, whatever its descendants hold. Under forkserver the
    sentinel is the server's report of the exit, which descendants cannot delay, and the server
    (not this process) reaps the child: its sentinel is kept.
    """
    pidfd_open = getattr(os, "pidfd_open", None)
    if method != "forkserver" and pidfd_open is not None and process.pid is not None:
        with suppress(OSError):
            return pidfd_open(process.pid)
    return process.sentinel


def _wait_exit(worker: _Worker, timeout: float) -> None:
    """Wait up to *timeout* seconds for *worker*'s process to exit, and reap it if it has."""
    handle = worker.exit_fd
    if isinstance(handle, int) and handle != worker.process.sentinel and hasattr(select, "poll"):
        waiter = select.poll()
        waiter.register(handle, select.POLLIN)
        if waiter.poll(math.ceil(timeout * 1000)):
            worker.process.is_alive()  # reaps it (fork and spawn children are ours)
        return
    worker.process.join(timeout)


def _drain_faults(workers: list[_Worker], grace: float) -> None:
    # Read stack dumps until each fault pipe has been quiet for a moment or the grace is over.
    end = time.monotonic() + grace
    quiet = 0.2
    while True:
        conns = {w.streams["fault"]: w for w in workers if "fault" in w.streams}
        left = end - time.monotonic()
        if not conns or left <= 0:
            return
        ready = mp_connection.wait(list(conns), min(quiet, left))
        if not ready and any(w.data["fault"] for w in workers):
            return
        for conn in ready:
            _read_stream(conns[conn], "fault")


def _reap(worker: _Worker) -> None:
    process = worker.process
    if process is None:
        return
    if process.is_alive():
        # Only reached when the supervisor was interrupted (KeyboardInterrupt): leave nothing.
        worker.descendants = _descendants.kill_tree(process.pid)
        process.kill()
        _wait_exit(worker, 5.0)
    process.join(5.0)
    worker.close_exit_fd()
    worker.pid, worker.exitcode = process.pid, process.exitcode
    with suppress(ValueError):
        process.close()


def _text(data: bytearray) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _worker_stack(dump: str) -> str:
    """Drop the engine's bootstrap frames from faulthandler's dump (most recent call first)."""
    marker = f'File "{_child.__file__}"'
    kept: list[str] = []
    skipping = False
    for line in dump.splitlines():
        if not line.startswith(" "):
            skipping = False  # a thread header or a blank line starts a new block
        elif marker in line:
            skipping = True
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + ("\n" if kept else "")


def _warning(
    ref: tuple[str, str] | None, message: str, filename: str, lineno: int
) -> WorkerWarning:
    category: Any = None
    if ref is not None:
        module = sys.modules.get("__main__" if ref[0] == "__mp_main__" else ref[0])
        category = _resolve(module, ref[1]) if module is not None else None
    if not (isinstance(category, type) and issubclass(category, Warning)):
        category = UserWarning
    return WorkerWarning(category, message, filename, lineno)


def _outcome(plan: Plan, worker: _Worker) -> WorkerOutcome[Any]:
    outcome: WorkerOutcome[Any] = WorkerOutcome(worker.index, plan.n, plan.mode)
    outcome.stdout, outcome.stderr = _text(worker.data["out"]), _text(worker.data["err"])
    fault = _text(worker.data["fault"])
    if worker.process is not None:
        outcome.pid, outcome.exitcode = worker.pid, worker.exitcode
    if worker.ready_info:
        _, outcome.pid, outcome.thread_ident, outcome.thread_name = worker.ready_info
    reply = worker.reply
    if reply is not None and reply[0] == "done":
        _, status, value, times, info = reply
        outcome.warnings = tuple(_warning(*record) for record in info.get("warnings", ()))
        outcome.leaked_threads = tuple(info.get("leaked_threads", ()))
        outcome.descendants = tuple(info.get("descendants", ()))
        if times is not None:
            outcome.started, outcome.finished, outcome.cpu_time = times
        if status == "ok":
            outcome.status, outcome.value = "ok", value
        elif status == "raised" and isinstance(value, ExceptionState):
            outcome.status, outcome.exception = "raised", restore_exception(value)
        else:
            outcome.status = "raised"
            outcome.exception = RemoteError("UnreadableResult", str(value), "")
        return outcome
    if worker.timed_out:
        outcome.status = "timed_out"
        outcome.stack = _worker_stack(fault)
        outcome.message = (
            f"timed out after {plan.timeout:g} s; the process was {worker.killed_how or 'stopped'}"
        )
        if worker.descendants:
            outcome.descendants = tuple(worker.descendants)
            outcome.message += f", and {len(worker.descendants)} process(es) it started were killed"
        return outcome
    if reply is not None and reply[0] == "start_failed":
        outcome.status = "not_started"
        outcome.exception = restore_exception(reply[1])
        outcome.message = (
            f"could not start: {type(outcome.exception).__name__}: {outcome.exception}"
        )
        return outcome
    if worker.start_error or (reply is not None and reply[0] == "aborted"):
        outcome.status = "not_started"
        outcome.message = worker.start_error or "start aborted"
        return outcome
    outcome.status = "crashed"
    outcome.stack = _worker_stack(fault)
    code = outcome.exitcode
    if code is not None and code < 0:
        outcome.message = f"was killed by {outcome.signal} (exit code {code})"
    else:
        outcome.message = f"exited with code {code} without returning"
    if not worker.ready:
        outcome.message += " before it was ready to start"
    return outcome
