"""The value-race demo: += on a shared value loses updates unless get_lock() wraps it."""

from __future__ import annotations

from typing import Any

import pytest

from concur_lab.demos import get_demo

DEMO = get_demo("value-race")


def test_unlocked_loop_never_gains(observed: dict[str, Any]) -> None:
    """The unlocked loop may lose increments (timing decides) but never counts too many."""
    unlocked = observed["unlocked"]
    assert unlocked["expected"] == 4 * observed["per_worker"]
    assert 0 < unlocked["result"] <= unlocked["expected"]
    assert "varies" in observed


def test_locked_loop_is_exact(observed: dict[str, Any]) -> None:
    """With get_lock() around the read-modify-write nothing is lost."""
    assert observed["locked"]["result"] == observed["locked"]["expected"]


def test_scheduled_race_is_exact(observed: dict[str, Any]) -> None:
    """A locked read, a barrier, then a locked write: four increments leave exactly 1."""
    assert observed["scheduled"] == {"expected": 4, "result": 1}


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
