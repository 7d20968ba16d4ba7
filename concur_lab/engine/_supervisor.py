"""Supervise a run's worker processes from the calling thread until each has ended.

One loop waits on every child's result pipe, output pipes and process sentinel together (one
``poll``), so a child that dies, hangs or sends something unreadable can never block the parent:
there is no bare ``Queue.get()`` anywhere, and no helper thread, so the engine itself never forks
a multi-threaded parent. Each descriptor is registered once and removed when it closes: building
the whole set again for every wait (as ``multiprocess.connection.wait`` does) cost time in
proportion to the workers at every event, a quarter of the engine's overhead over hand-written
code at 20 fork workers.
The supervisor opens the start gate (writes one byte per worker) once all are ready, or closes
it, which every waiting child reads as end-of-file, when one of them failed to start (or timed
out or died before all were ready). Results arrive as length-prefixed frames (see
:mod:`concur_lab.engine._child`) read in pieces as they come, so a child that stalls half-way
through sending a large result cannot hold the parent past its deadline. At the deadline it
dumps each live child's stack, then terminates it, then kills it.
"""

from __future__ import annotations

import math
import os
import select
import time
from contextlib import suppress
from typing import Any

from multiprocess import connection as mp_connection

from concur_lab.engine import _child, _descendants
from concur_lab.engine._messages import Aborted, Done, Ready, StartFailed, unpack_frames
from concur_lab.engine._run_plan import Plan

__all__ = ["Worker", "reap", "supervise"]


# After a child exits: how long its output pipes may stay open (a grandchild may hold them).
_DRAIN_GRACE = 0.5
_READ_SIZE = 65536
# The longest single wait: selectors cannot wait much more than 24 days at once (poll() takes
# milliseconds in a C int), so a longer deadline is waited for in slices.
_MAX_WAIT = 86400.0


class Worker:
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
        # The child's Ready, once it has come.
        self.ready_message: Ready | None = None
        # Bytes of the result pipe not yet making up a whole frame.
        self.pending = bytearray()
        # What the child said instead of, or after, being ready: its last word.
        self.reply: StartFailed | Aborted | Done | None = None
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
    def ready(self) -> bool:
        return self.ready_message is not None

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
        self._by_fd: dict[int, tuple[Worker, str, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_fd)

    def add(self, obj: Any, worker: Worker, what: str) -> None:
        fd = obj if isinstance(obj, int) else obj.fileno()
        self._by_fd[fd] = (worker, what, obj)
        if self._poll is not None:
            self._poll.register(fd, select.POLLIN)

    def discard(self, fd: int) -> None:
        if self._by_fd.pop(fd, None) is not None and self._poll is not None:
            self._poll.unregister(fd)

    def wait(self, timeout: float) -> list[tuple[Worker, str]]:
        """Return (worker, what) for each ready object, waiting at most *timeout* seconds."""
        if self._poll is None:
            objs = {obj: (worker, what) for worker, what, obj in self._by_fd.values()}
            return [objs[obj] for obj in mp_connection.wait(list(objs), timeout)]
        # Rounded up: a wait of 0 ms just before the deadline would spin.
        events = self._poll.poll(math.ceil(timeout * 1000))
        by_fd = self._by_fd
        return [by_fd[fd][:2] for fd, _ in events if fd in by_fd]


def supervise(plan: Plan, workers: list[Worker], gate_w: Any, deadline: float | None) -> None:
    """Read, gate and expire *workers* until each has ended and its pipes are drained."""
    _Supervision(plan, workers, gate_w, deadline).run()


class _Supervision:
    """One run's supervision: the poll loop, and the start gate it opens or closes."""

    def __init__(
        self, plan: Plan, workers: list[Worker], gate_w: Any, deadline: float | None
    ) -> None:
        self.plan = plan
        self.deadline = deadline
        self.started = [w for w in workers if w.process is not None]
        self.gate_w = gate_w
        # One worker's gate was opened before it started (see run_processes).
        self.gate_settled = plan.n == 1
        self.abort_reason = next((w.abort_reason for w in workers if w.abort_reason), "")
        self.poller = _Poller()
        for worker in self.started:
            worker.poller = self.poller
            for name, conn in worker.streams.items():
                self.poller.add(conn, worker, name)
            self.poller.add(worker.result, worker, "result")
            worker.exit_fd = _exit_handle(worker.process, plan.mode.start_method)
            self.poller.add(worker.exit_fd, worker, "exit")
        self.draining = False

    def run(self) -> None:
        while self.poller:
            wait_for = self._wait_time()
            if wait_for is None:
                return
            ready = self.poller.wait(wait_for)
            if self.draining and not ready:
                return
            for worker, what in ready:
                _dispatch(worker, what)
            if not self.gate_settled:
                self._settle_gate()

    def _wait_time(self) -> float | None:
        """How long the next wait may be; ``None`` when the run is over."""
        now = time.monotonic()
        if all(not w.alive for w in self.started):
            last_exit = max((w.exited_at or now) for w in self.started)
            if now - last_exit > _DRAIN_GRACE:
                return None
            # Everything the workers wrote is in their pipes by now: read what is there, and
            # stop as soon as nothing is. A descendant that inherited a write end (and keeps
            # it open, or keeps writing) must not hold the run open, nor count as the worker's.
            self.draining = True
            return 0.0
        if self.deadline is None:
            return _MAX_WAIT
        if now >= self.deadline:
            # Every live worker is ended and marked exited here: what is left is the drain.
            _expire(self.plan, [w for w in self.started if w.alive])
            return self._wait_time()
        return min(self.deadline - now, _MAX_WAIT)

    def _settle_gate(self) -> None:
        """Open the gate when every worker is ready; close it when one cannot start."""
        started = self.started
        failed = next((w for w in started if _failed_before_ready(w)), None)
        if self.abort_reason or failed is not None:
            if failed is not None and not self.abort_reason:
                self.abort_reason = f"worker {failed.index} failed to start"
            self._close_gate()
            for worker in started:
                if worker is not failed and not worker.start_error:
                    worker.start_error = f"start aborted because {self.abort_reason}"
        elif any(w.timed_out or w.exited_at is not None for w in started):
            # The deadline passed (or a worker died) while others were still getting ready:
            # nobody is left to start together with; closing lets the living ones end.
            self._close_gate()
        elif all(w.ready for w in started):
            # BrokenPipeError: every reader is gone already; their outcomes say why.
            with suppress(BrokenPipeError):
                os.write(self.gate_w.fileno(), b"g" * len(started))
            self.gate_settled = True

    def _close_gate(self) -> None:
        self.gate_w.close()
        self.gate_settled = True


def _dispatch(worker: Worker, what: str) -> None:
    """Handle one ready descriptor of *worker*: its exit, its result pipe or an output pipe."""
    if what == "exit":
        # Reaps the child if it has exited (as join(0) would, without building a selector for
        # its sentinel, which is already known to be ready).
        worker.process.is_alive()
        worker.mark_exited()
    elif what == "result":
        _receive(worker)
    else:
        _read_stream(worker, what)


def _failed_before_ready(worker: Worker) -> bool:
    if worker.ready:
        return False
    return isinstance(worker.reply, StartFailed) or worker.exited_at is not None


def _receive(worker: Worker) -> None:
    """Read what the result pipe has now; handle every message completed by it."""
    try:
        chunk = os.read(worker.result.fileno(), _READ_SIZE)
    except OSError:
        chunk = b""
    if not chunk:
        worker.close_result()
        return
    worker.pending += chunk
    for message in unpack_frames(worker.pending):
        if isinstance(message, Ready):
            worker.ready_message = message
        else:
            worker.reply = message


def _read_stream(worker: Worker, name: str) -> None:
    conn = worker.streams[name]
    try:
        chunk = os.read(conn.fileno(), _READ_SIZE)
    except OSError:
        chunk = b""
    if chunk:
        worker.data[name] += chunk
    else:
        worker.close_stream(name)


def _expire(plan: Plan, alive: list[Worker]) -> None:
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


def _wait_exit(worker: Worker, timeout: float) -> None:
    """Wait up to *timeout* seconds for *worker*'s process to exit, and reap it if it has."""
    handle = worker.exit_fd
    if isinstance(handle, int) and handle != worker.process.sentinel and hasattr(select, "poll"):
        waiter = select.poll()
        waiter.register(handle, select.POLLIN)
        if waiter.poll(math.ceil(timeout * 1000)):
            worker.process.is_alive()  # reaps it (fork and spawn children are ours)
        return
    worker.process.join(timeout)


def _drain_faults(workers: list[Worker], grace: float) -> None:
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


def reap(worker: Worker) -> None:
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
