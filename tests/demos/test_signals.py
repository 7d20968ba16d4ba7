"""The signals demo: handlers and KeyboardInterrupt belong to each process's main thread."""

from __future__ import annotations

import signal
import threading
from typing import Any

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("signals")


def test_installing_handlers_in_a_worker(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A worker thread gets ValueError from signal.signal(); a worker process may install."""
    installed = observed["install_in_worker"]
    if concur_mode == "thread":
        assert installed["ok"] is False
        assert installed["error"].startswith("ValueError: signal only works in main thread")
    else:
        assert installed == {"ok": True, "error": None}


def test_handler_runs_in_a_main_thread(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The handler runs in a main thread: the caller's for threads, the worker's for processes."""
    assert observed["usr1_handled_by"] == "MainThread"
    assert observed["usr1_handled_in_worker"] is (concur_mode == "process")
    assert observed["worker_notified"] is True


def test_keyboard_interrupt_target(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """KeyboardInterrupt hits the caller's main thread for threads, the worker for processes."""
    assert observed["keyboard_interrupt_in"] == "MainThread"
    assert observed["keyboard_interrupt_in_worker"] is (concur_mode == "process")
    assert observed["worker_kept_running"] is (concur_mode == "thread")


def test_handlers_restored() -> None:
    """A thread-mode run puts the caller's SIGINT and SIGUSR1 handlers back."""
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGUSR1)
    DEMO.observe("thread")
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGUSR1)) == before


def test_thread_mode_needs_the_main_thread() -> None:
    """Called from another thread, thread mode refuses with a clear error."""
    errors: list[BaseException] = []

    def call() -> None:
        try:
            DEMO.observe("thread")
        except RuntimeError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    caller.join(30)
    assert len(errors) == 1
    assert "main thread" in str(errors[0])
