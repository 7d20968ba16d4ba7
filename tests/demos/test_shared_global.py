"""The shared-global demo: 1..5 for threads, 1 five times for processes, and the late-set value."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo, shared_global

# Under pytest-xdist on Python 3.12+ other threads run while the engine forks its workers, and
# the engine says so once with a DeprecationWarning; that is the engine's message, not this demo's.
pytestmark = pytest.mark.filterwarnings("ignore:This process is multi-threaded:DeprecationWarning")

DEMO = get_demo("shared-global")


def test_five_workers_bump_a_global(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads read back 1..5 and the caller ends at 5; processes read 1 five times, caller 0."""
    zero = observed["from_zero"]
    if concur_mode == "thread":
        assert (zero["sorted_values"], zero["caller_after"]) == ([1, 2, 3, 4, 5], 5)
    else:
        assert (zero["values"], zero["caller_after"]) == ([1] * 5, 0)


def test_global_set_late_in_default_mode(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads continue from the caller's late value; processes never change the caller's."""
    late = observed["late_set"]
    if concur_mode == "thread":
        assert late["sorted_values"] == [101, 102]
        assert late["caller_after"] == 102
    else:
        assert late["caller_after"] == shared_global.LATE_VALUE


@pytest.mark.parametrize("method", available_start_methods())
def test_global_set_late_by_start_method(method: str) -> None:
    """Fork children start from the caller's late value; spawn and forkserver re-import (0)."""
    late = observe(DEMO, Mode.process(method))["late_set"]
    expected = shared_global.LATE_VALUE + 1 if method == "fork" else 1
    assert late["values"] == [expected] * 2


def test_module_left_as_imported(observed: dict[str, Any]) -> None:
    """After a run the module global is back at its import-time value."""
    assert shared_global.counter == 0


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
