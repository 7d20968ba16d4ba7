"""Joining a process before reading what it put on a queue can deadlock.

A process does not exit until its queue's feeder thread has flushed everything into the pipe, so
with a big item the child waits for the parent to read while the parent waits in ``join()``: a
deadlock. Read first, then join; a thread's ``queue.Queue`` has no pipe, so threads are safe.

Details: a ``multiprocess`` queue sends items through a pipe from a background "feeder" thread;
the deadlock needs an item bigger than the pipe's buffer (64 KiB on Linux) and is caught here by
``join(timeout)``.
"""

from __future__ import annotations

import time
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import PROBE, WAIT, Kit, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "queue-join-deadlock"
TITLE = N_("join() before get(): the queue deadlock")
THEME = "hazards"
ORDER = 170
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_("A process cannot exit until its queue's data is read: get() before join()")

PAYLOAD = 1_000_000
"""Bytes put on the queue: far more than a pipe buffers."""


def _produce(inbox: Any, put_done: Any, size: int) -> None:
    inbox.put(b"x" * size)
    # put() has returned: from here on the worker only has to exit.
    put_done.set()


def _join_first(kit: Kit, size: int) -> dict[str, Any]:
    inbox, put_done = kit.inbox(), kit.Event()
    try:
        with kit.workers() as crew:
            worker = crew.start(_produce, inbox, put_done, size, name="producer")
            put_done.wait(WAIT)
            start = time.monotonic()
            worker.join(2 * PROBE)
            seen: dict[str, Any] = {
                "put_returned": put_done.is_set(),
                "alive_after_join_timeout": worker.is_alive(),
                "exitcode_after_join_timeout": getattr(worker, "exitcode", None),
                "join_waited_s": round(time.monotonic() - start, 3),
            }
            # Unblock it: reading the item lets the feeder finish and the worker exit.
            seen["received_bytes"] = len(inbox.get(WAIT))
            worker.join(WAIT)
            seen["alive_after_get"] = worker.is_alive()
            seen["exitcode_after_get"] = getattr(worker, "exitcode", None)
    finally:
        inbox.close()
    return seen


def _get_first(kit: Kit, size: int) -> dict[str, Any]:
    inbox, put_done = kit.inbox(), kit.Event()
    try:
        with kit.workers() as crew:
            worker = crew.start(_produce, inbox, put_done, size, name="producer")
            received = len(inbox.get(WAIT, watch=[worker]))
            worker.join(WAIT)
            seen = {
                "received_bytes": received,
                "alive_after_join": worker.is_alive(),
                "exitcode": getattr(worker, "exitcode", None),
            }
    finally:
        inbox.close()
    return seen


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Put a large item on a queue in a worker; join before reading it (broken), then after (fixed).

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs one worker at a time.
    :returns: Observations for the broken order (join, then get: still alive after the join
        timed out) and the fixed order (get, then join).
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    broken = _join_first(kit, PAYLOAD)
    fixed = _get_first(kit, PAYLOAD)
    deadlock = broken["alive_after_join_timeout"]
    if deadlock:
        summary = gettext(
            "join() before get() waits for ever (stopped by a timeout here); get() first works"
        )
    else:
        summary = gettext("join() returns at once: a thread's queue holds the item in memory")
    return {
        "payload_bytes": PAYLOAD,
        "broken_join_then_get": broken,
        "fixed_get_then_join": fixed,
        "would_deadlock": deadlock,
        "summary": summary,
    }
