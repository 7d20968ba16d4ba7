"""The lost-update demo: read, barrier, write gives 1; the locked fix gives N."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("lost-update")


def test_scheduled_race_loses_all_but_one(observed: dict[str, Any]) -> None:
    """Every worker reads 0 before any writes, so four increments leave 1, in every mode."""
    racy = observed["racy"]
    assert (racy["expected"], racy["result"]) == (4, 1)
    assert racy["every_read_saw"] == [0]
    assert racy["all_reads_before_any_write"] is True


def test_locked_read_modify_write_counts_all(observed: dict[str, Any]) -> None:
    """One critical section per increment: the total is exactly 4 and sections never overlap."""
    locked = observed["locked"]
    assert (locked["expected"], locked["result"]) == (4, 4)
    assert locked["critical_sections_overlap"] is False


def test_lock_held_across_barrier_deadlocks(observed: dict[str, Any]) -> None:
    """A lock held while waiting at a barrier keeps the others out: the barrier breaks."""
    across = observed["lock_across_barrier"]
    assert across["deadlocked"] is True
    assert across["outcomes"] == ["BrokenBarrierError"] * 4


def test_timeline_has_every_step(observed: dict[str, Any]) -> None:
    """The timeline holds three spans per worker, waiting ones among them."""
    spans = observed["timeline"]
    assert len(spans) == 12
    assert {s["kind"] for s in spans} == {"busy", "waiting"}


@pytest.mark.parametrize("method", available_start_methods())
def test_same_numbers_under_every_start_method(method: str) -> None:
    """The schedule, not the start method, decides: 1 and N with fork, spawn and forkserver."""
    observed = observe(DEMO, Mode.process(method))
    assert (observed["racy"]["result"], observed["locked"]["result"]) == (1, 4)


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
