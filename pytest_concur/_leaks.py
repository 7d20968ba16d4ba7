"""The leak check: after a concurrency test, no thread or process it started may still be alive.

A snapshot of this process's threads and child processes is taken before the test's setup, and
what module-, class-, package- and session-scoped fixtures start is set aside (they may keep their
helpers until the end of their scope); after its teardown, anything new that is still alive
(after a short grace period, for workers that are just finishing) makes the test error at
teardown, naming each one. So a thread that the test, or one of its function-scoped fixtures,
forgot to join is reported. Leaked processes are killed so that the session goes on clean;
threads cannot be killed and are only named. Workers that the test's own failure already reported
as hung are not reported again. The helpers that multiprocessing keeps for the whole session (the
forkserver, the resource tracker) are not leaks.

Processes are followed beyond this process's own children through the worker outcomes: a process
worker names the descendants it left running (``WorkerOutcome.descendants``), which are no
children of this process, and those still running after the grace are reported and killed like
the others. So a test that starts a subprocess and leaves it running fails in both modes alike:
in thread mode the subprocess is a child of this process; in process mode, a descendant of a
worker. What neither sees is said in ``concur_lab.engine._descendants`` (a worker that crashed, a
double fork in thread mode whose middle process exited: its orphan belongs to init).
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass, field

from pytest_concur._engine import children, command_line, read_proc_file

__all__ = [
    "GRACE_HELP",
    "GRACE_SECONDS",
    "Leak",
    "Snapshot",
    "describe_leak",
    "find_leaks",
    "may_have_children",
    "parse_grace",
    "take_snapshot",
]

#: How long the check waits, by default, for threads and processes that are just finishing.
GRACE_SECONDS = 2.0
GRACE_HELP = (
    "Seconds the leak check after a concurrency test waits for its threads and processes to "
    f"end before it reports them (default: {GRACE_SECONDS:g})"
)
_POLL_SECONDS = 0.02


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The threads and child processes alive at one moment."""

    threads: frozenset[int]
    children: frozenset[int]


@dataclass(slots=True)
class Leak:
    """What a test left behind."""

    threads: list[threading.Thread] = field(default_factory=list)
    processes: list[tuple[int, str]] = field(default_factory=list)
    #: Threads the test body left running in its workers, each as one sentence.
    in_workers: list[str] = field(default_factory=list)
    #: Descendants of process workers still running: (pid, command line, worker label).
    descendants: list[tuple[int, str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.threads or self.processes or self.in_workers or self.descendants)


def _children_from_multiprocessing() -> set[int]:
    pids: set[int] = set()
    for name in ("multiprocessing", "multiprocess"):
        module = sys.modules.get(name)
        if module is None:
            continue
        with suppress(Exception):
            pids.update(p.pid for p in module.active_children() if p.pid is not None)
    return pids


def _session_helpers() -> set[int]:
    """Return the pids of multiprocessing's long-lived helpers (forkserver, resource tracker)."""
    pids: set[int] = set()
    for package in ("multiprocessing", "multiprocess"):
        forkserver = sys.modules.get(f"{package}.forkserver")
        tracker = sys.modules.get(f"{package}.resource_tracker")
        for holder, attribute in (
            (getattr(forkserver, "_forkserver", None), "_forkserver_pid"),
            (getattr(tracker, "_resource_tracker", None), "_pid"),
        ):
            pid = getattr(holder, attribute, None)
            if isinstance(pid, int):
                pids.add(pid)
    return pids


def _is_running(pid: int) -> bool:
    try:
        # The state follows the parenthesised command name; Z (zombie) and X (dead) ended.
        state = read_proc_file(f"/proc/{pid}/stat").rpartition(b")")[2].split()[0].decode()
    except (OSError, IndexError):
        # No /proc (macOS, Windows): the pids come from active_children(), which lists only
        # live processes. Never probe with os.kill(pid, 0): on Windows 0 is CTRL_C_EVENT.
        return pid in _children_from_multiprocessing()
    return state not in ("Z", "X")


def may_have_children() -> bool:
    """Return False only when the kernel says this process has no child process at all.

    One system call, where the /proc scan is a listing and a read per thread of this process:
    the leak check runs twice per concurrency test, and most tests start no process. ``WNOWAIT``
    leaves an exited child for its owner to reap.
    """
    try:
        os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    except (AttributeError, OSError):  # no waitid (Windows), or it refused: look the long way
        return True
    return True


def _children() -> set[int]:
    if not may_have_children():
        return set()
    return set(children(os.getpid())) | _children_from_multiprocessing()


def parse_grace(value: object, where: str) -> float:
    """Parse the leak check's grace: a finite number of seconds, at least 0.

    :raises ValueError: If *value* is not one; the message names it and *where* it came from.
    """
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        with suppress(ValueError):
            number = float(value.strip())
    if number is not None and math.isinf(number) and number > 0:
        raise ValueError(
            f"invalid concur leak grace {value!r} {where}: it is infinite; expected a finite "
            "number of seconds of at least 0"
        )
    if number is None or not (number >= 0 and math.isfinite(number)):
        raise ValueError(
            f"invalid concur leak grace {value!r} {where}: expected a number of seconds of at "
            "least 0"
        )
    return number


def take_snapshot() -> Snapshot:
    """Return the threads and child processes alive now."""
    return Snapshot(
        threads=frozenset(t.ident for t in threading.enumerate() if t.ident is not None),
        children=frozenset(_children()),
    )


def _new_threads(before: Snapshot, reported: set[int]) -> list[threading.Thread]:
    return [
        thread
        for thread in threading.enumerate()
        if thread.ident not in before.threads and thread.ident not in reported and thread.is_alive()
    ]


def _new_processes(before: Snapshot, reported: set[int]) -> list[int]:
    new = _children() - before.children - reported
    if not new:
        # The usual case: no need to look up multiprocessing's helpers.
        return []
    new -= _session_helpers()
    return sorted(pid for pid in new if _is_running(pid))


def find_leaks(
    before: Snapshot,
    reported_threads: Iterable[int] = (),
    reported_pids: Iterable[int] = (),
    grace: float | None = None,
    descendants: Iterable[tuple[int, str, str]] = (),
) -> Leak:
    """Return what is alive now that was not in *before*, after up to *grace* seconds.

    Leaked processes are killed (and reaped when they are ours to reap) before returning.

    :param before: The snapshot taken before the test.
    :param reported_threads: Idents of threads the test's failure already reported as hung.
    :param reported_pids: Pids of processes already reported.
    :param grace: Seconds to wait for workers that are just finishing (default
        :data:`GRACE_SECONDS`).
    :param descendants: What process workers named as left running, as (pid, command line,
        worker label): those still running, as the same command, are part of the leak.
    """
    threads_seen = set(reported_threads)
    pids_seen = set(reported_pids)
    named = [d for d in descendants if d[0] not in pids_seen]
    deadline = time.monotonic() + (GRACE_SECONDS if grace is None else grace)
    while True:
        threads = _new_threads(before, threads_seen)
        pids = _new_processes(before, pids_seen)
        # The command must match too: the pid may have been reused since the worker named it.
        lingering = [d for d in named if _is_running(d[0]) and command_line(d[0]) == d[1]]
        if not (threads or pids or lingering) or time.monotonic() >= deadline:
            break
        time.sleep(_POLL_SECONDS)
    leak = Leak(
        threads=threads,
        processes=[(pid, command_line(pid)) for pid in pids],
        descendants=lingering,
    )
    _kill([*(pid for pid, _ in leak.processes), *(pid for pid, _, _ in lingering)])
    return leak


def _kill(pids: Iterable[int], timeout: float = 5.0) -> None:
    """Kill *pids* and reap them, through their Process objects when multiprocessing owns them."""
    pending = set(pids)
    if not pending:
        return
    # Windows has no SIGKILL; there os.kill with SIGTERM calls TerminateProcess.
    kill_signal = getattr(signal, "SIGKILL", signal.SIGTERM)
    for pid in pending:
        with suppress(OSError):
            os.kill(pid, kill_signal)
    for name in ("multiprocessing", "multiprocess"):
        module = sys.modules.get(name)
        if module is None:
            continue
        with suppress(Exception):
            for process in module.active_children():
                if process.pid in pending:
                    # Reaping it behind its Process object's back would leave it "alive" forever.
                    process.join(timeout)
                    pending.discard(process.pid)
    deadline = time.monotonic() + timeout
    no_hang = getattr(os, "WNOHANG", None)
    while pending and no_hang is not None and time.monotonic() < deadline:
        for pid in list(pending):
            try:
                done, _ = os.waitpid(pid, no_hang)
            except ChildProcessError:
                done = pid  # not ours to reap (or already reaped)
            if done:
                pending.discard(pid)
        if pending:
            time.sleep(_POLL_SECONDS)


def describe_leak(leak: Leak, nodeid: str) -> str:
    """Return the teardown error message for *leak*."""
    lines = [f"concur: {nodeid} left work running after its teardown:"]
    for thread in leak.threads:
        kind = "daemon thread" if thread.daemon else "thread"
        lines.append(f"  {kind} {thread.name!r} (ident {thread.ident}) is still alive")
    for pid, command in leak.processes:
        lines.append(f"  child process {pid} ({command}) was still running: killed")
    for where in leak.in_workers:
        lines.append(f"  {where}")
    for pid, command, label in leak.descendants:
        lines.append(
            f"  process {pid} ({command}), started in {label}, was still running after the "
            "run: killed"
        )
    lines.append(
        "Join every thread and process a test starts (with a timeout), or use spawn_workers, "
        "which always does."
    )
    return "\n".join(lines)
