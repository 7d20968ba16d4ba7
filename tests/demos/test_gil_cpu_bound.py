"""The gil-cpu-bound demo: CPU/wall ≈ 1 for GIL threads, ≈ min(workers, cores) for processes."""

from __future__ import annotations

import os
from typing import Any

import pytest
from _cpu_load import require_side_by_side

from concur_lab import Mode
from concur_lab.demos import _gil, get_demo

DEMO = get_demo("gil-cpu-bound")


def test_threads_take_turns(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """With the GIL, threads' CPU seconds add up to about the wall time and never overlap."""
    if concur_mode != "thread" or not _gil.gil_enabled():
        pytest.skip("only threads under a GIL take turns")
    assert observed["cpu_wall_ratio"] < 1.3
    assert observed["parallel_fraction"] < 0.05
    assert observed["expected_ratio"] == 1


def test_processes_run_side_by_side(concur_mode: Mode) -> None:
    """Processes on two idle cores use close to two CPU seconds per wall second."""
    if concur_mode == "thread" and _gil.gil_enabled():
        pytest.skip("GIL threads cannot run side by side")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs at least 2 cores")
    require_side_by_side(DEMO, concur_mode, "cpu_wall_ratio", 1.3)


def test_each_worker_computed(observed: dict[str, Any]) -> None:
    """Every worker did work, and none used more CPU than the window lasted."""
    assert len(observed["cpu_s"]) == observed["workers"] == 2
    assert all(units > 0 for units in observed["work_units"])
    assert all(0 < cpu <= observed["wall_s"] * 1.05 for cpu in observed["cpu_s"])


def test_timeline_shows_running_spans(observed: dict[str, Any]) -> None:
    """The timeline has start-up and running spans for both workers, inside the run."""
    spans = observed["timeline"]
    assert {s["kind"] for s in spans} <= {"starting", "running", "waiting"}
    assert {s["worker"] for s in spans if s["kind"] == "running"} == {0, 1}
    assert all(0 <= s["start"] <= s["end"] for s in spans)
    assert len(spans) <= _gil.MAX_SPANS + 2  # plus one start-up span per worker


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="workers=0"):
        DEMO.observe("thread", workers=0)
