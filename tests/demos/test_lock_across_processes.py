"""The lock-across-processes demo: a threading.Lock excludes threads, not processes."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("lock-across-processes")


def test_threading_lock(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A threading.Lock keeps a second thread out but not a second process."""
    excludes = observed["threading.Lock"]["mutual_exclusion"]
    assert excludes is (concur_mode == "thread")


def test_multiprocess_lock_excludes_everywhere(observed: dict[str, Any]) -> None:
    """The context's Lock keeps the second worker out in both modes."""
    assert observed["multiprocess Lock"] == {
        "second_worker_took_it_while_held": False,
        "mutual_exclusion": True,
    }


@pytest.mark.parametrize("method", available_start_methods())
def test_no_exclusion_under_any_start_method(method: str) -> None:
    """Copied at fork or rebuilt from a pickle, each process's threading.Lock is its own."""
    observed = observe(DEMO, Mode.process(method))
    assert observed["threading.Lock"]["second_worker_took_it_while_held"] is True
    assert observed["multiprocess Lock"]["mutual_exclusion"] is True
    how = observed["threading.Lock"]["how_each_process_got_it"]
    assert ("fork" in how) is (method == "fork")


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)


def test_stdlib_refuses_a_threading_lock_argument(
    concur_mode: Mode, observed: dict[str, Any]
) -> None:
    """Standard-library spawn/forkserver raise TypeError in start(); multiprocess does not."""
    if concur_mode == "thread":
        assert "stdlib_multiprocessing_lock_argument" not in observed
        return
    seen = observed["stdlib_multiprocessing_lock_argument"]
    for method in ("spawn", "forkserver"):
        if method in available_start_methods():
            assert seen[method] == "start() raised TypeError: cannot pickle '_thread.lock' object"
    assert "library" in observed["varies"]
