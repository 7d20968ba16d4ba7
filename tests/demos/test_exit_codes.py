"""The exit-codes demo: exitcode values for each way a process ends, and their thread analogues."""

from __future__ import annotations

import functools
import signal
from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("exit-codes")


@functools.cache
def _observe(mode: Mode) -> dict[str, dict[str, Any]]:
    return {case["case"]: case for case in DEMO.observe(mode)["cases"]}


@pytest.fixture
def cases(concur_mode: Mode) -> dict[str, dict[str, Any]]:
    return _observe(concur_mode)


@pytest.mark.parametrize(
    ("case", "exitcode", "in_a_thread"),
    [
        ("return 5", 0, None),
        ("raise ValueError", 1, "ValueError"),
        ("sys.exit(3)", 3, "SystemExit"),
        ('sys.exit("a message")', 1, "SystemExit"),
        ("sys.exit(256)", 0, "SystemExit"),
        ("sys.exit(257)", 1, "SystemExit"),
        ("sys.exit(-1)", 255, "SystemExit"),
        ("os._exit(7)", 7, "not run"),
        pytest.param(
            "os.kill(own pid, SIGUSR1)",
            -getattr(signal, "SIGUSR1", 0),
            "not run",
            marks=pytest.mark.skipif(not hasattr(signal, "SIGUSR1"), reason="no SIGUSR1"),
        ),
        ("terminate()", -15, "not run"),
        ("kill()", -9, "not run"),
    ],
)
def test_how_a_worker_ended(
    concur_mode: Mode,
    cases: dict[str, dict[str, Any]],
    case: str,
    exitcode: int,
    in_a_thread: str | None,
) -> None:
    """A process gets its documented exitcode; a thread's exception reaches excepthook instead."""
    seen = cases[case]
    if concur_mode == "process":
        assert seen["exitcode"] == exitcode
    elif in_a_thread == "not run":
        assert "not_run" in seen
    else:
        assert seen["has_exitcode"] is False
        assert seen["excepthook"] == in_a_thread


def test_exitcode_is_none_until_the_end(
    concur_mode: Mode, cases: dict[str, dict[str, Any]]
) -> None:
    """Exitcode is None before start and while the child runs (threads have none at all)."""
    if concur_mode == "process":
        assert cases["return 5"]["exitcode_before_start"] is None
        assert cases["terminate()"]["exitcode_while_running"] is None
    else:
        assert not any(c.get("has_exitcode") for c in cases.values())


def test_what_the_worker_printed(concur_mode: Mode, cases: dict[str, dict[str, Any]]) -> None:
    """A child prints a traceback headed by its name; a thread leaves the caller running."""
    if concur_mode == "process":
        assert cases["raise ValueError"]["stderr"] == ["Process exit-1:", "ValueError: boom"]
        assert cases['sys.exit("a message")']["stderr"] == ["a message instead of a number"]
        assert cases["terminate()"]["signal"] == "SIGTERM"
    else:
        assert cases["raise ValueError"]["caller_still_running"] is True


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)


def test_exitcode_is_set_without_join(concur_mode: Mode, cases: dict[str, dict[str, Any]]) -> None:
    """A process's exitcode appears once it has ended, polled without join(); threads have none."""
    case = cases["return, exitcode polled without join()"]
    if concur_mode == "thread":
        assert case["not_run"] == "threads have no exitcode"
    else:
        assert case == {
            "case": "return, exitcode polled without join()", "exitcode": 0, "joined": False
        }
