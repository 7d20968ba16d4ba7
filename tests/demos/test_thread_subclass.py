"""The thread-subclass demo: run() reads a global late; passing the value in fixes it."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo, thread_subclass

DEMO = get_demo("thread-subclass")


@functools.cache
def _observe(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    return DEMO.observe(mode, workers)


@pytest.fixture
def observed(concur_mode: Mode) -> dict[str, Any]:
    return _observe(concur_mode)


def test_late_read_of_the_global(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads released after the loop all read its last value, 4; processes read their own."""
    if concur_mode == "thread":
        assert observed["late"] == [{"saw": 4}] * 5
    elif concur_mode.start_method == "fork":
        assert observed["late"] == [{"saw": i} for i in range(5)]
    else:
        assert [obs["raised"] for obs in observed["late"]] == ["NameError"] * 5


def test_value_passed_to_the_constructor(observed: dict[str, Any]) -> None:
    """Each worker keeps the value it was given, 0..4, in every mode."""
    assert observed["bound"] == [{"saw": i} for i in range(5)]


@pytest.mark.parametrize("method", available_start_methods())
def test_late_read_by_start_method(method: str) -> None:
    """Fork children read their start-time copy; spawn/forkserver children raise NameError."""
    observed = _observe(Mode.process(method), 3)
    if method == "fork":
        assert observed["late"] == [{"saw": i} for i in range(3)]
    else:
        assert [obs["raised"] for obs in observed["late"]] == ["NameError"] * 3
        assert "'num' is not defined" in observed["late"][0]["message"]
    assert observed["bound"] == [{"saw": i} for i in range(3)]


def test_module_left_without_num(observed: dict[str, Any]) -> None:
    """The loop variable does not outlive the run: the module is left as imported."""
    assert not hasattr(thread_subclass, "num")


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
