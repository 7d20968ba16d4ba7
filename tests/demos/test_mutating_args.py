"""The mutating-args demo: threads mutate the caller's list, processes a copy."""

from __future__ import annotations

from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("mutating-args")


def test_callers_list(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads' appends land in the caller's list; processes' appends vanish with their copies."""
    if concur_mode == "thread":
        assert observed["callers_list"] == [0, 1, 2]
        assert max(observed["lengths_seen"]) == 3
    else:
        assert observed["callers_list"] == []
        assert observed["lengths_seen"] == [1, 1, 1]


def test_return_values_reach_the_caller(observed: dict[str, Any]) -> None:
    """The fix, returning results, works the same in both modes."""
    assert observed["returned"] == [0, 1, 2]


def test_manager_indexing_copies(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Appending through d["items"] is lost; reassigning under a lock keeps every item."""
    if concur_mode == "thread":
        assert observed["manager"] is None
    else:
        assert observed["manager"] == {
            "append_through_index": [],
            "reassign_under_lock": [0, 1, 2],
        }


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", workers=0)
