"""The terminate demo: forced, interrupted and cooperative stops; zombies and orphans."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("terminate")


def test_forced_stop(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Terminate() skips finally and leaves the lock held; threads cannot be stopped at all."""
    forced = observed["forced"]
    if concur_mode == "thread":
        assert "impossible" in forced["how"]
    else:
        assert forced["holding"] is True
        assert forced["exitcode"] == -15
        assert forced["finally_ran"] is False
        assert forced["lock_free_afterwards"] is False
        assert "would_deadlock" in forced


def test_sigint_runs_clean_up(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """SIGINT raises KeyboardInterrupt in the child: exitcode 1, finally ran, lock released."""
    interrupted = observed["interrupted"]
    if concur_mode == "thread":
        assert "impossible" in interrupted["how"]
    else:
        assert interrupted["exitcode"] == 1
        assert interrupted["finally_ran"] is True
        assert interrupted["lock_free_afterwards"] is True


def test_cooperative_stop_releases_the_lock(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A stop event lets the worker leave its with block: finally runs and the lock is free."""
    coop = observed["cooperative"]
    assert (coop["finally_ran"], coop["lock_free_afterwards"]) == (True, True)
    if concur_mode == "process":
        assert coop["exitcode"] == 0


def test_what_outlives_the_starter(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A thread's threads outlive it in the process; a killed child's child is adopted."""
    orphans = observed["orphans"]
    if concur_mode == "thread":
        assert orphans["starter_alive"] is False
        assert orphans["started_thread_alive"] is True
        return
    if not orphans["observed"]:
        pytest.skip(orphans["why"])
    assert orphans["grandchild_parent_before"] == "the child"
    assert orphans["grandchild_alive_after_parent_died"] is True
    if orphans["subreaper"]:
        assert orphans["grandchild_adopted_by"] == "this process (a subreaper)"
    assert orphans["child_exitcode"] == -15
    assert orphans["child_state_after_join"] == "gone"


@pytest.mark.parametrize("method", available_start_methods())
def test_zombie_until_joined(method: str) -> None:
    """Fork/spawn: the dead child stays a zombie, join() waits for the orphan; forkserver: not."""
    orphans = observe(DEMO, Mode.process(method))["orphans"]
    if not orphans["observed"]:
        pytest.skip(orphans["why"])
    if method == "forkserver":
        assert orphans["join_would_wait_for_orphan"] is False
    else:
        assert orphans["child_state_before_join"] == "Z"
        assert orphans["join_would_wait_for_orphan"] is True
    assert "varies" in observe(DEMO, Mode.process(method))


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)
