"""The startup-cost demo: threads start far faster than spawned processes."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("startup-cost")

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def test_every_start_is_timed(observed: dict[str, Any]) -> None:
    """Each of the three workers reports a positive start-up time and two timeline spans."""
    assert len(observed["startup_ms"]) == 3
    assert all(ms > 0 for ms in observed["startup_ms"])
    assert observed["median_startup_ms"] in observed["startup_ms"]
    kinds = [(s["worker"], s["kind"]) for s in observed["timeline"]]
    assert kinds == [(i, k) for i in range(3) for k in ("starting", "exiting")]


def test_thread_starts_before_spawn() -> None:
    """The one robust ordering: a thread starts faster than a spawned process."""
    if "spawn" not in available_start_methods():
        pytest.skip("needs spawn")
    thread = observe(DEMO, Mode.thread())["median_startup_ms"]
    spawn = observe(DEMO, Mode.process("spawn"))["median_startup_ms"]
    assert thread < spawn


@linux_only
@pytest.mark.parametrize("start_method", ["spawn", "forkserver"])
def test_helper_processes(start_method: str) -> None:
    """Spawn leaves a resource tracker running, forkserver also its fork server."""
    if start_method not in available_start_methods():
        pytest.skip(f"needs {start_method}")
    helpers = observe(DEMO, Mode.process(start_method))["helper_processes"]
    assert "resource_tracker" in helpers
    if start_method == "forkserver":
        assert "forkserver" in helpers


def test_threads_have_no_helpers() -> None:
    """Thread mode reports no helper processes at all."""
    assert observe(DEMO, Mode.thread())["helper_processes"] is None


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", workers=0)
