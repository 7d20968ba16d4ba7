"""Signal handlers belong to the main thread of each process.

``signal.signal()`` may only be called in the main thread, so a worker thread that tries raises
``ValueError``; a signal sent to the process runs its Python handler in the main thread, and only
the main thread ever gets ``KeyboardInterrupt``. The fix in thread mode: install the handler in
the main thread and let it tell the workers, for example by setting an ``Event``. A worker
process *is* the main thread of its own process, so it can install its own handlers and receives
``KeyboardInterrupt`` itself (Ctrl-C in a terminal reaches every process of the foreground group).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "signals"
TITLE = N_("Signals and KeyboardInterrupt go to the main thread")
THEME = "hazards"
ORDER = 210
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_("Only a process's main thread installs handlers and gets KeyboardInterrupt")

_usr1_thread: list[str] = []


def _on_usr1(signum: int, frame: FrameType | None) -> None:
    # No locks here (Event.set takes one): the handler interrupts the main thread between two
    # bytecodes, possibly while that thread holds the very lock, and would deadlock on it.
    _usr1_thread.append(threading.current_thread().name)


def _install() -> dict[str, Any]:
    # The hazard: installing handlers from a worker. Fine only in a process's main thread.
    try:
        signal.signal(signal.SIGUSR1, _on_usr1)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    except ValueError as exc:
        return {"ok": False, "error": f"ValueError: {exc}"}
    return {"ok": True, "error": None}


def _process_worker(inbox: Any) -> None:
    # A worker process: its main thread installs handlers, then waits for the parent's signals.
    _usr1_thread.clear()  # a forked child inherits the caller's list
    inbox.put(("installed", _install()))
    try:
        deadline = time.monotonic() + WAIT
        while not _usr1_thread and time.monotonic() < deadline:
            time.sleep(0.005)
        if not _usr1_thread:
            inbox.put(("usr1", None))
            return
        inbox.put(("usr1", _usr1_thread[-1]))
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            time.sleep(0.01)
        inbox.put(("sigint", None))
        inbox.put(("kept_running", True))
    except KeyboardInterrupt:
        # The worker's own main thread was interrupted: its loop did not go on.
        inbox.put(("sigint", threading.current_thread().name))
        inbox.put(("kept_running", False))


def _thread_worker(inbox: Any, stop: threading.Event, ready: threading.Event) -> None:
    # A worker thread: cannot install handlers; signals its own process and sees who handles them.
    inbox.put(("worker_name", threading.current_thread().name))
    inbox.put(("installed", _install()))
    os.kill(os.getpid(), signal.SIGUSR1)
    # The fix: the main thread's handler sets an Event that this worker watches.
    inbox.put(("notified", stop.wait(WAIT)))
    ready.wait(WAIT)
    interrupted = False
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
    except KeyboardInterrupt:
        interrupted = True
    inbox.put(("interrupted_here", interrupted))
    inbox.put(("kept_running", not interrupted))


@contextmanager
def _main_thread_handlers(stop: threading.Event) -> Iterator[None]:
    def on_usr1(signum: int, frame: FrameType | None) -> None:
        _on_usr1(signum, frame)
        # Safe: only the worker thread ever waits on (and so holds the lock of) this Event.
        stop.set()

    old_usr1 = signal.signal(signal.SIGUSR1, on_usr1)
    old_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR1, old_usr1)
        signal.signal(signal.SIGINT, old_int)


def _run_threads(kit: Kit) -> dict[str, Any]:
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the signals demo must run in the main thread in thread mode")
    inbox = kit.inbox()
    stop, ready = threading.Event(), threading.Event()
    _usr1_thread.clear()
    interrupted_in = None
    with _main_thread_handlers(stop), kit.workers() as crew:
        worker = crew.start(_thread_worker, inbox, stop, ready, name="signal-worker")
        seen = dict(inbox.collect(3, WAIT, watch=[worker]))
        try:
            ready.set()
            deadline = time.monotonic() + WAIT
            # The handler runs here, in the main thread, between two of its bytecodes.
            while time.monotonic() < deadline:
                time.sleep(0.01)
        except KeyboardInterrupt:
            interrupted_in = threading.current_thread().name
        seen.update(dict(inbox.collect(2, WAIT, watch=[worker])))
    handled_by = _usr1_thread[-1] if _usr1_thread else None
    return {
        "install_in_worker": seen["installed"],
        "usr1_handled_by": handled_by,
        "usr1_handled_in_worker": handled_by == seen["worker_name"],
        "worker_notified": seen["notified"],
        "keyboard_interrupt_in": interrupted_in,
        "keyboard_interrupt_in_worker": seen["interrupted_here"],
        "worker_kept_running": seen["kept_running"],
    }


def _run_processes(kit: Kit) -> dict[str, Any]:
    inbox = kit.inbox()
    try:
        with kit.workers() as crew:
            worker = crew.start(_process_worker, inbox, name="signal-worker")
            seen = dict([inbox.get(WAIT, watch=[worker])])
            os.kill(worker.pid, signal.SIGUSR1)
            seen.update([inbox.get(WAIT, watch=[worker])])
            os.kill(worker.pid, signal.SIGINT)
            seen.update([inbox.get(WAIT, watch=[worker])])
            seen.update([inbox.get(WAIT, watch=[worker])])
    finally:
        inbox.close()
    return {
        "install_in_worker": seen["installed"],
        "usr1_handled_by": seen["usr1"],
        "usr1_handled_in_worker": seen["usr1"] is not None,
        "worker_notified": seen["usr1"] is not None,
        "keyboard_interrupt_in": seen["sigint"],
        "keyboard_interrupt_in_worker": seen["sigint"] is not None,
        "worker_kept_running": seen["kept_running"],
    }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Install handlers in a worker, send it SIGUSR1 and SIGINT, and see who handles them.

    In thread mode the worker signals its own process (the caller's), so :func:`run` must be
    called from the main thread; it installs temporary handlers there and restores the old ones.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs one worker.
    :returns: Observations: whether the worker could install handlers (the hazard), which thread
        ran the SIGUSR1 handler and whether it was the worker, whether the worker learned of the
        signal (the fix: an Event set by the main thread's handler), where ``KeyboardInterrupt``
        was raised, and whether a worker thread kept running through it.
    :raises RuntimeError: In thread mode, if not called from the main thread; on platforms
        without POSIX signals.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    if not hasattr(signal, "SIGUSR1"):
        raise RuntimeError(f"the signals demo needs POSIX signals, which {sys.platform} lacks")
    kit = Kit.of(mode)
    seen = _run_threads(kit) if kit.threads else _run_processes(kit)
    if seen["install_in_worker"]["ok"]:
        summary = gettext("the worker set its own signal handlers and got Ctrl-C itself")
    else:
        summary = gettext(
            "a thread cannot set signal handlers (ValueError); only the main thread "
            "runs them and gets Ctrl-C"
        )
    return {**seen, "summary": summary}
