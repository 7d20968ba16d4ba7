"""The plus-equals-loop demo: an experiment, so only what holds on every interpreter is asserted."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo, plus_equals_loop

# Under pytest-xdist on Python 3.12+ other threads run while the engine forks its workers, and
# the engine says so once with a DeprecationWarning; that is the engine's message, not this demo's.
pytestmark = pytest.mark.filterwarnings("ignore:This process is multi-threaded:DeprecationWarning")

DEMO = get_demo("plus-equals-loop")
_SWITCH_INTERVAL = sys.getswitchinterval()


def test_what_the_loops_count(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads: never more than expected, exact with the lock; processes: each its own copy."""
    variants = observed["variants"]
    if concur_mode == "thread":
        for variant in ("x += 1", "x = x + one()"):
            assert 0 < variants[variant]["counted"] <= variants[variant]["expected"]
        locked = variants["with lock: x += 1"]
        assert locked["counted"] == locked["expected"] == 4 * plus_equals_loop.PER_WORKER
    else:
        for seen in variants.values():
            assert seen["each_worker_counted"] == [plus_equals_loop.PER_WORKER] * 4
            assert seen["caller_global_after"] == 0


def test_says_that_it_varies(observed: dict[str, Any]) -> None:
    """The result names the interpreter it ran on and says the outcome depends on it."""
    assert observed["interpreter"]["version"] in observed["varies"]


def test_leaves_no_trace(observed: dict[str, Any]) -> None:
    """The module global and the switch interval are back as they were."""
    assert plus_equals_loop.x == 0
    assert sys.getswitchinterval() == _SWITCH_INTERVAL


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
