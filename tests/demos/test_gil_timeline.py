"""The gil-timeline demo: GIL threads alternate in slices, processes overlap."""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest
from _cpu_load import require_side_by_side

from concur_lab import Mode
from concur_lab.demos import _gil, get_demo

DEMO = get_demo("gil-timeline")


def test_threads_alternate_without_overlap(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """GIL threads hand over many times and are never running at the same moment."""
    if concur_mode != "thread" or not _gil.gil_enabled():
        pytest.skip("only threads under a GIL take turns")
    assert observed["parallel_fraction"] < 0.05
    assert observed["handoffs"] >= 5
    assert all(n >= 3 for n in observed["slices"])


def test_thread_slices_last_about_the_switch_interval(
    concur_mode: Mode, observed: dict[str, Any]
) -> None:
    """Some thread slice lasts at least half the switch interval (a minimum, not a period)."""
    if concur_mode != "thread" or not _gil.gil_enabled():
        pytest.skip("only threads under a GIL take turns")
    longest = max(s["end"] - s["start"] for s in observed["timeline"] if s["kind"] == "running")
    assert longest * 1000 >= 0.5 * observed["switch_interval_ms"]


def test_processes_overlap(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Processes on two idle cores spend much of the window running at the same time."""
    if concur_mode == "thread" and _gil.gil_enabled():
        pytest.skip("GIL threads cannot run side by side")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs at least 2 cores")
    require_side_by_side(observed, "parallel_fraction", 0.3)


def test_waiting_spans_fill_the_gaps(observed: dict[str, Any]) -> None:
    """Each waiting span of a worker starts where its previous running span ended."""
    for worker in (0, 1):
        spans = [s for s in observed["timeline"] if s["worker"] == worker]
        spans = [s for s in spans if s["kind"] != "starting"]
        # The first span may be a wait: a thread released at the gate may find its sibling
        # holding the GIL, and a loaded machine can preempt any worker before its first chunk.
        assert any(s["kind"] == "running" for s in spans)
        for before, after in itertools.pairwise(spans):
            assert before["end"] == after["start"]
            assert before["kind"] != after["kind"]
            assert "running" in {before["kind"], after["kind"]} or {
                before["kind"], after["kind"]
            } == {"waiting-gil", "waiting-cpu"}


def test_thread_waits_are_for_the_gil(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """GIL threads taking turns spend their gaps waiting for the GIL, not for a core."""
    if concur_mode != "thread" or not _gil.gil_enabled():
        pytest.skip("only threads under a GIL wait for it")
    kinds = {s["kind"] for s in observed["timeline"]}
    assert "waiting-gil" in kinds


def test_chart_zooms_in_with_switch_interval_gridlines(
    concur_mode: Mode, observed: dict[str, Any]
) -> None:
    """The chart shows a window of the run, gridlines for threads and the median slice."""
    chart = observed["chart"]
    start, end = chart["window"]
    assert 0 < end - start < observed["duration_s"]
    if concur_mode == "thread":
        assert chart["gridlines"] == pytest.approx(observed["switch_interval_ms"] / 1000)
        assert chart["facts"][0].startswith("median slice ")
        assert "a minimum, not a period" in chart["facts"][0]
    else:
        assert chart["gridlines"] is None
