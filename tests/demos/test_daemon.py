"""The daemon demo: daemonic processes may not have children; daemons at interpreter exit."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("daemon")


@pytest.mark.skipif(bool(sys.flags.optimize), reason="python -O strips the assert")
def test_daemonic_worker_starting_a_child(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A daemon thread may start a thread; a daemonic process may not start a process."""
    start = observed["daemonic"]["start_child"]
    if concur_mode == "thread":
        assert start == {"started": True}
    else:
        assert start == {
            "raised": "AssertionError",
            "message": "daemonic processes are not allowed to have children",
        }
        assert observed["daemonic"]["os_fork_allowed"] is True


def test_non_daemonic_worker_starting_a_child(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A non-daemonic worker starts its child in both modes."""
    start = observed["non_daemonic"]["start_child"]
    assert start["started"] is True
    if concur_mode == "process":
        assert start["exitcode"] == 0


def test_daemon_flag_is_inherited(observed: dict[str, Any]) -> None:
    """A worker created inside a daemon is daemonic by default, inside a non-daemon it is not."""
    assert observed["daemonic"]["child_daemon_by_default"] is True
    assert observed["non_daemonic"]["child_daemon_by_default"] is False


def test_daemons_at_exit(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """At exit a daemon dies without running finally; a non-daemon is waited for."""
    at_exit = observed["at_exit"]
    assert at_exit["returncode"] == 0
    assert at_exit["daemon_finally_ran"] is False
    assert at_exit["non_daemon_finally_ran"] is True
    if concur_mode == "process":
        assert at_exit["daemon_alive_after_exit"] is False


@pytest.mark.skipif("fork" not in available_start_methods(), reason="needs the fork start method")
def test_under_python_o_a_daemon_has_children() -> None:
    """Under python -O the assert is stripped and a daemonic process starts its child."""
    code = (
        "import json; from concur_lab.demos import get_demo; "
        "print(json.dumps(get_demo('daemon').observe('process:fork')['daemonic']['start_child']))"
    )
    done = subprocess.run(
        [sys.executable, "-O", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == {"started": True, "exitcode": 0}


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
