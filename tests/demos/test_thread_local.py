"""The thread-local demo: per-thread state for threads, private state for processes."""

from __future__ import annotations

import sys
from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo, thread_local

DEMO = get_demo("thread-local")


def test_threads_share_only_the_plain_global(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """After all wrote, threads read one shared plain value but their own local and context."""
    if concur_mode != "thread":
        pytest.skip("threads only")
    assert len(observed["plain_after_all_wrote"]) == 1
    assert observed["kept_own_value"] == {"plain": False, "local": True, "context": True}
    assert observed["caller_after"]["plain"] == observed["plain_after_all_wrote"][0]
    assert observed["caller_after"]["local"] == observed["caller_after"]["context"] == "caller"


def test_new_threads_start_empty(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A new thread sees no thread-local value, and the caller's context only if inherited."""
    if concur_mode != "thread":
        pytest.skip("threads only")
    assert observed["seen_before_writing"]["local"] == [thread_local.UNSET]
    inherits = bool(getattr(sys.flags, "thread_inherit_context", False))
    expected = "caller" if inherits else thread_local.UNSET
    assert observed["seen_before_writing"]["context"] == [expected]


def test_processes_keep_everything_private(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Each process keeps its own value of all three, and the caller's stay untouched."""
    if concur_mode != "process":
        pytest.skip("processes only")
    assert observed["kept_own_value"] == {"plain": True, "local": True, "context": True}
    assert observed["caller_after"] == {"plain": "caller", "local": "caller", "context": "caller"}


@pytest.mark.parametrize("start_method", available_start_methods())
def test_what_a_child_starts_with(start_method: str) -> None:
    """A fork child starts with the caller's three values; spawn and forkserver with none."""
    before = observe(DEMO, Mode.process(start_method))["seen_before_writing"]
    value = "caller" if start_method == "fork" else thread_local.UNSET
    assert before == {"plain": [value], "local": [value], "context": [value]}


def test_caller_state_restored(concur_mode: Mode) -> None:
    """After a run the module's global, thread-local and context variable are unset again."""
    observe(DEMO, concur_mode)
    assert thread_local._read() == {
        "plain": thread_local.UNSET,
        "local": thread_local.UNSET,
        "context": thread_local.UNSET,
    }


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", workers=0)
