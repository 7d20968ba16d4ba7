"""The io-bound demo: blocked workers overlap in both modes."""

from __future__ import annotations

from typing import Any

import pytest

from concur_lab.demos import get_demo, io_bound

DEMO = get_demo("io-bound")


def test_waits_overlap(observed: dict[str, Any]) -> None:
    """Four workers that mostly block are busy at once for most of the run, threads included."""
    assert observed["workers"] == 4
    assert observed["concurrency"] > 2.0
    assert observed["blocked_overlap_s"] > 0.5 * io_bound.ROUNDS * io_bound.BLOCK


def test_each_worker_blocked_every_round(observed: dict[str, Any]) -> None:
    """Every worker slept ROUNDS times, at least BLOCK seconds each."""
    for worker in range(4):
        sleeps = [
            s for s in observed["timeline"] if s["worker"] == worker and s["kind"] == "sleeping"
        ]
        assert len(sleeps) == io_bound.ROUNDS
        assert all(s["end"] - s["start"] >= io_bound.BLOCK * 0.95 for s in sleeps)


def test_little_cpu_is_used(observed: dict[str, Any]) -> None:
    """Blocked workers use little CPU: far less than one core for the run."""
    assert observed["cpu_wall_ratio"] < 0.8


def test_rejects_negative_workers() -> None:
    """Workers=-1 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got -1"):
        DEMO.observe("thread", workers=-1)
