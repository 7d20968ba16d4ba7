"""The pid-report demo: pids, ppids and parent_process() in threads and processes."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

# Under pytest-xdist on Python 3.12+ other threads run while the engine forks its workers, and
# the engine says so once with a DeprecationWarning; that is the engine's message, not this demo's.
pytestmark = pytest.mark.filterwarnings("ignore:This process is multi-threaded:DeprecationWarning")

DEMO = get_demo("pid-report")


def test_pids(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Five threads share the caller's pid; five processes have five pids of their own."""
    assert len(observed["workers"]) == 5
    assert observed["distinct_native_ids"] == 5
    if concur_mode == "thread":
        assert (observed["distinct_pids"], observed["same_pid_as_caller"]) == (1, 5)
    else:
        assert (observed["distinct_pids"], observed["same_pid_as_caller"]) == (5, 0)


@pytest.mark.parametrize("method", available_start_methods())
def test_shared_thread_ident_is_explained(method: str) -> None:
    """When processes share a thread ident, the observations say why instead of a bare count."""
    observed = observe(DEMO, Mode.process(method))
    idents = {worker["thread_ident"] for worker in observed["workers"]}
    assert ("thread_ident_is" in observed) is (len(idents) < len(observed["workers"]))
    assert "distinct_thread_idents" not in observed


def test_parent(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Threads have no parent process of their own; a process's parent_process() is the caller."""
    if concur_mode == "thread":
        assert observed["getppid_is"] == ["the caller's own parent"]
        assert observed["parent_process_is"][0].startswith("None")
    else:
        assert observed["parent_process_is"] == ["the caller"]


def test_workers_answer_in_index_order(observed: dict[str, Any]) -> None:
    """Answers come back through the engine in worker order, whatever order they ran in."""
    assert [w["index"] for w in observed["workers"]] == [0, 1, 2, 3, 4]
    assert len(observed["timeline"]) == 5


@pytest.mark.parametrize("method", available_start_methods())
def test_getppid_by_start_method(method: str) -> None:
    """Getppid() is the caller under fork and spawn, the fork server under forkserver."""
    observed = observe(DEMO, Mode.process(method))
    expected = "the fork server" if method == "forkserver" else "the caller"
    assert observed["getppid_is"] == [expected]
    assert observed["parent_process_is"] == ["the caller"]
    assert "forkserver" in observed["varies"]


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
