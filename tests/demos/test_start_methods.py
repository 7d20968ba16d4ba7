"""The start-methods demo: live globals, a fork-time copy, or a fresh import."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo, start_methods

DEMO = get_demo("start-methods")

EXPECTED = {
    "fork": (start_methods.BEFORE_START, start_methods.BEFORE_START),
    "spawn": (start_methods.MODULE_VALUE, start_methods.MODULE_VALUE),
    "forkserver": (start_methods.MODULE_VALUE, start_methods.MODULE_VALUE),
}


@functools.cache
def _observe(mode: Mode) -> dict[str, Any]:
    return DEMO.observe(mode)


def _seen(mode: Mode) -> tuple[int, int]:
    observed = _observe(mode)
    return observed["worker_saw_at_start"], observed["worker_saw_later"]


def test_worker_view_of_the_callers_global(concur_mode: Mode) -> None:
    """A thread sees both changes; a process sees what its start method gives it."""
    if concur_mode == "thread":
        assert _seen(concur_mode) == (start_methods.BEFORE_START, start_methods.AFTER_START)
    else:
        assert concur_mode.start_method is not None
        assert _seen(concur_mode) == EXPECTED[concur_mode.start_method]


@pytest.mark.parametrize("start_method", available_start_methods())
def test_start_methods(start_method: str) -> None:
    """Fork copies the value set before start(); spawn and forkserver re-import the module."""
    assert _seen(Mode.process(start_method)) == EXPECTED[start_method]


def test_caller_global_restored(concur_mode: Mode) -> None:
    """After a run the module global is back to the module's own value."""
    _observe(concur_mode)
    assert start_methods._setting == start_methods.MODULE_VALUE
