"""The gil-cpu-bound demo: CPU/wall ≈ 1 for GIL threads, ≈ min(workers, cores) for processes."""

from __future__ import annotations

import os
import sys
from typing import Any

import pytest
from _cpu_load import require_side_by_side

from concur_lab import Mode
from concur_lab.demos import _gil, get_demo, gil_cpu_bound
from concur_lab.demos._machine import is_busy

DEMO = get_demo("gil-cpu-bound")


def test_threads_take_turns(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """With the GIL, threads' CPU seconds add up to about the wall time and never overlap."""
    if concur_mode != "thread" or not _gil.gil_enabled():
        pytest.skip("only threads under a GIL take turns")
    assert observed["cpu_wall_ratio"] < 1.3
    assert observed["parallel_fraction"] < 0.05


def test_processes_run_side_by_side(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Processes on two idle cores use close to two CPU seconds per wall second."""
    if concur_mode == "thread" and _gil.gil_enabled():
        pytest.skip("GIL threads cannot run side by side")
    if (os.cpu_count() or 1) < 2:
        pytest.skip("needs at least 2 cores")
    require_side_by_side(observed, "cpu_wall_ratio", 1.3)


def test_theory_is_not_an_observation(observed: dict[str, Any]) -> None:
    """The expected ratio sits under 'expected', apart from what was measured."""
    assert "expected_ratio" not in observed
    assert set(observed["expected"]) == {"cpu_wall_ratio", "why"}


def test_other_programs_cpu_is_measured(observed: dict[str, Any]) -> None:
    """The run records other programs' cores (on Linux) and how many tries it took."""
    if sys.platform.startswith("linux"):
        assert isinstance(observed["others_cores"], float)
        assert observed["others_cores"] >= 0
    assert 1 <= observed["attempts"] <= 3
    if observed["attempts"] > 1:
        # Only a busy machine makes the demo try again.
        assert observed["others_cores"] is not None


def test_kept_run_has_its_own_time(observed: dict[str, Any]) -> None:
    """The observations give the kept run's own duration, which includes its measured window."""
    assert isinstance(observed["attempt_s"], float)
    assert observed["attempt_s"] >= observed["duration_s"]


BUSY = "machine busy: other programs used 1.9 of 2 cores"


@pytest.mark.parametrize("together", [0.0, 0.01, 0.3])
def test_busy_processes_never_look_like_threads(together: float) -> None:
    """On a busy machine the processes' summary never says they ran one at a time."""
    summary = gil_cpu_bound._summary(0.98, 2, together, threads=False, busy=BUSY)
    assert "one at a time" not in summary
    assert BUSY in summary


def test_busy_processes_show_the_overlap_they_had() -> None:
    """Processes that overlapped despite the load say for how much of the run."""
    summary = gil_cpu_bound._summary(1.02, 2, 0.3, threads=False, busy=BUSY)
    assert "still ran side by side 30% of the time" in summary


def test_busy_processes_without_overlap_say_what_is_missing() -> None:
    """Processes that never overlapped on a busy machine say the run could not show it."""
    summary = gil_cpu_bound._summary(0.9, 2, 0.0, threads=False, busy=BUSY)
    assert summary.startswith(f"{BUSY}, so no core was free to show the processes side by side")


def test_idle_threads_take_turns() -> None:
    """GIL threads that never overlapped are said to take turns."""
    summary = gil_cpu_bound._summary(1.0, 2, 0.0, threads=True, busy=None)
    assert summary == "CPU/wall 1.00: the 2 threads took turns, one at a time"


def test_busy_machine_is_said(observed: dict[str, Any]) -> None:
    """A run short of the cores it needed says so in its summary and chart; a quiet one does not."""
    needed = observed["expected"]["cpu_wall_ratio"]  # 1 for GIL threads, else min(workers, cores)
    busy = is_busy(observed["others_cores"], observed["cores"], needed)
    assert observed["machine_busy"] is busy
    assert ("machine busy" in observed["summary"]) is busy
    assert (observed["chart"]["busy"] is not None) is busy


def test_chart_shows_work_done_not_a_finish_line(observed: dict[str, Any]) -> None:
    """Time-boxed work gets no 'all done' marker; the chart states the ratio and work done."""
    chart = observed["chart"]
    assert chart["time_boxed"] is True
    assert chart["facts"][0] == f"CPU/wall {observed['cpu_wall_ratio']:.2f}"
    assert f"{sum(observed['work_units']):,} chunks" in chart["facts"][1]


def test_each_worker_computed(observed: dict[str, Any]) -> None:
    """Every worker did work, and none used more CPU than the window lasted."""
    assert len(observed["cpu_s"]) == observed["workers"] == 2
    assert all(units > 0 for units in observed["work_units"])
    assert all(0 < cpu <= observed["wall_s"] * 1.05 for cpu in observed["cpu_s"])


def test_timeline_shows_running_spans(observed: dict[str, Any]) -> None:
    """The timeline has start-up and running spans for both workers, inside the run."""
    spans = observed["timeline"]
    assert {s["kind"] for s in spans} <= {"starting", "running", "waiting-gil", "waiting-cpu"}
    assert {s["worker"] for s in spans if s["kind"] == "running"} == {0, 1}
    assert all(0 <= s["start"] <= s["end"] for s in spans)
    assert len(spans) <= _gil.MAX_SPANS + 2  # plus one start-up span per worker


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", workers=0)


def test_thread_start_up_ends_when_the_gate_opened(
    concur_mode: Mode, observed: dict[str, Any]
) -> None:
    """Threads' start-up bars end together, at the gate; any later delay is a wait, not start-up."""
    if concur_mode != "thread":
        pytest.skip("processes start up one interpreter each")
    ends = {s["end"] for s in observed["timeline"] if s["kind"] == "starting"}
    assert len(ends) == 1


def test_process_waits_are_never_for_the_gil(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A process has its own GIL: every gap in its timeline is a wait for a free core."""
    if concur_mode != "process":
        pytest.skip("threads do wait for the GIL")
    assert "waiting-gil" not in {s["kind"] for s in observed["timeline"]}
