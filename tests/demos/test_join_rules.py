"""The join-rules demo: join before start, from inside, with a timeout, twice, after close."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("join-rules")


@pytest.mark.skipif(bool(sys.flags.optimize), reason="python -O strips the process asserts")
def test_join_before_start(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Joining an unstarted worker fails: RuntimeError (thread), AssertionError (process)."""
    if concur_mode == "thread":
        expected = {"raised": "RuntimeError", "message": "cannot join thread before it is started"}
    else:
        expected = {"raised": "AssertionError", "message": "can only join a started process"}
    assert observed["before_start"] == expected


@pytest.mark.skipif(bool(sys.flags.optimize), reason="python -O strips the process asserts")
def test_worker_cannot_join_itself(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A thread cannot join itself; a process can only be joined by its creator."""
    if concur_mode == "thread":
        expected = {"raised": "RuntimeError", "message": "cannot join current thread"}
    else:
        expected = {"raised": "AssertionError", "message": "can only join a child process"}
    assert observed["from_inside"] == expected


def test_join_timeout_returns_none_while_running(
    concur_mode: Mode, observed: dict[str, Any]
) -> None:
    """Join(timeout) returns None with the worker still alive; only is_alive() tells."""
    seen = observed["timeout_while_running"]
    assert seen["returned"] is None
    assert seen["is_alive"] is True
    if concur_mode == "process":
        assert seen["exitcode"] is None


def test_join_after_end_and_again(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """After the worker ends it is not alive, and joining it a second time is harmless."""
    assert observed["after_end"]["is_alive"] is False
    assert observed["join_again"] == {"returned": None}
    if concur_mode == "process":
        assert observed["after_end"]["exitcode"] == 0
        assert observed["after_close"] == {
            "raised": "ValueError",
            "message": "process object is closed",
        }


@pytest.mark.skipif("fork" not in available_start_methods(), reason="needs the fork start method")
def test_under_python_o_the_assert_vanishes() -> None:
    """Under python -O a process joined before start fails with AttributeError, not the assert."""
    code = (
        "import json; from concur_lab.demos import get_demo; "
        "print(json.dumps(get_demo('join-rules').observe('process:fork')['before_start']))"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["raised"] == "AttributeError"


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
