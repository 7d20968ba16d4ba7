"""The print-interleaving demo: print() is two writes; one write per line keeps lines whole."""

from __future__ import annotations

from typing import Any

import pytest

from concur_lab.demos import get_demo

DEMO = get_demo("print-interleaving")


def test_print_makes_two_writes(observed: dict[str, Any]) -> None:
    """Print(value) writes the value and the newline in two calls, in every mode."""
    assert observed["broken"]["writes_per_line"] == [2]
    assert observed["fixed"]["writes_per_line"] == [1]


def test_values_before_newlines(observed: dict[str, Any]) -> None:
    """With the gap between the two writes filled, all five values run together on one line."""
    broken = observed["broken"]
    assert sorted(broken["lines"][0]) == ["1", "2", "3", "4", "5"]
    assert broken["lines"][1:] == [""] * 4
    assert broken["intact_lines"] == 0
    assert broken["same_characters"] is True


def test_one_write_per_line_stays_whole(observed: dict[str, Any]) -> None:
    """Writing the whole line at once keeps every line intact; only their order varies."""
    fixed = observed["fixed"]
    assert sorted(fixed["lines"]) == ["1", "2", "3", "4", "5"]
    assert fixed["intact_lines"] == 5


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
