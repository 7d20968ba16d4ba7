"""The queue-join-deadlock demo: join() before get() hangs a process, not a thread."""

from __future__ import annotations

from typing import Any

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("queue-join-deadlock")


def test_join_before_get(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Join(timeout) leaves a process alive with no exit code; a thread has already finished."""
    broken = observed["broken_join_then_get"]
    assert broken["put_returned"] is True
    if concur_mode == "thread":
        assert broken["alive_after_join_timeout"] is False
        assert observed["would_deadlock"] is False
    else:
        assert broken["alive_after_join_timeout"] is True
        assert broken["exitcode_after_join_timeout"] is None
        assert observed["would_deadlock"] is True


def test_reading_unblocks_the_worker(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """After get() the stuck worker exits normally and the whole item arrived."""
    broken = observed["broken_join_then_get"]
    assert broken["received_bytes"] == observed["payload_bytes"]
    assert broken["alive_after_get"] is False
    assert broken["exitcode_after_get"] == (None if concur_mode == "thread" else 0)


def test_get_then_join(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The fixed order, get() then join(), ends cleanly in every mode."""
    fixed = observed["fixed_get_then_join"]
    assert fixed["received_bytes"] == observed["payload_bytes"]
    assert fixed["alive_after_join"] is False
    assert fixed["exitcode"] == (None if concur_mode == "thread" else 0)
