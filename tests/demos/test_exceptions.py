"""The exceptions demo: a worker's exception is printed, not raised, unless carried back."""

from __future__ import annotations

from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("exceptions")


def test_join_returns_normally(observed: dict[str, Any]) -> None:
    """Join() after a failing worker returns as if nothing happened, in both modes."""
    assert observed["plain_raise"]["join_returned"] is True
    assert observed["plain_sys_exit"]["join_returned"] is True


def test_thread_exception_goes_to_excepthook(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A thread's ValueError and SystemExit reach threading.excepthook and nothing else."""
    if concur_mode != "thread":
        pytest.skip("threads only")
    assert observed["plain_raise"]["excepthook_saw"] == [
        {"thread": "failing", "type": "ValueError", "message": "bad input 3"}
    ]
    assert observed["plain_sys_exit"]["excepthook_saw"][0]["type"] == "SystemExit"
    assert observed["plain_raise"]["exitcode"] is None


def test_process_exception_sets_exitcode(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A process's ValueError gives exitcode 1 and a stderr traceback; sys.exit(3) gives 3."""
    if concur_mode != "process":
        pytest.skip("processes only")
    assert observed["plain_raise"]["exitcode"] == 1
    assert observed["plain_raise"]["stderr_first_last"] == [
        "Process failing:",
        "ValueError: bad input 3",
    ]
    assert observed["plain_raise"]["excepthook_saw"] == []
    assert observed["plain_sys_exit"]["exitcode"] == 3


def test_engine_reraises_in_the_caller(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The fix: run_outcomes reports the original ValueError with a note naming the worker."""
    fixed = observed["engine_raise"]
    assert fixed["status"] == "raised"
    assert fixed["raised_in_caller"] == {"type": "ValueError", "message": "bad input 3"}
    assert fixed["note"].startswith(f"raised in worker 0 of 1 ({concur_mode.label}")
