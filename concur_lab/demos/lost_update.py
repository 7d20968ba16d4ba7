"""A lost update on an explicit schedule: every worker reads, then every worker writes.

Each of N workers reads a shared number, waits at a barrier until all have read, then writes
back what it read plus one: every write is based on the same stale read, so the total is 1, not
N, with threads and a plain object as with processes and a shared ``Value``, on any interpreter.
The fix makes read-modify-write one critical section (``with value.get_lock():``) and gives
exactly N; holding that lock across the barrier instead would deadlock, which the barrier's
timeout turns into an observation.

The barrier replaces the ``sleep()`` most race demos use: it forces the harmful interleaving
every time instead of making it likely, so the numbers below are exact.
"""

from __future__ import annotations

import contextlib
import itertools
import time
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import PROBE, Kit, SpanRecorder, attempt, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "lost-update"
TITLE = N_("A lost update on an explicit schedule")
THEME = "races"
ORDER = 10
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_("Read, barrier, write: N workers add 1 each and the total is 1; a lock makes it N")


def _worker(
    index: int,
    inbox: Any,
    racy: Any,
    locked: Any,
    lock: Any,
    all_read: Any,
    together: Any,
    across: Any,
) -> None:
    """Run the three scenarios in order and send back when each step happened."""
    # 1. The race, scheduled: read, wait until every worker has read, write.
    read_at = time.monotonic()
    seen = racy.value
    all_read.wait()
    write_at = time.monotonic()
    racy.value = seen + 1
    wrote_at = time.monotonic()
    # 2. The fix: read-modify-write as one critical section.
    together.wait()  # start the fix only when every worker has finished the race
    with locked.get_lock():
        fix_start = time.monotonic()
        locked.value += 1
        fix_end = time.monotonic()
    # 3. Holding a lock while waiting at a barrier: the others can never arrive.
    together.wait()
    with lock:
        deadlock = attempt(across.wait, PROBE)
    inbox.put(
        {
            "index": index,
            "read": seen,
            "read_at": read_at,
            "write_at": write_at,
            "wrote_at": wrote_at,
            "fix": (fix_start, fix_end),
            "lock_across_barrier": deadlock,
        }
    )


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Run the scheduled race, the locked fix and the lock-across-barrier deadlock in *mode*.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers (default 4).
    :returns: ``{"racy": ..., "locked": ..., "lock_across_barrier": ..., "timeline": ...}``.
    """
    n = worker_count(workers, 4)
    kit = Kit.of(mode)
    racy, locked, lock = kit.Value(0), kit.Value(0), kit.Lock()
    all_read, together, across = kit.Barrier(n), kit.Barrier(n), kit.Barrier(n)
    spans = SpanRecorder()
    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        for i in range(n):
            crew.start(
                _worker, i, inbox, racy, locked, lock, all_read, together, across, name=f"lu-{i}"
            )
        reports = sorted(inbox.collect(n, watch=crew.handles), key=lambda r: r["index"])
    for r in reports:
        spans.add(
            r["index"], "read, then wait for all reads", r["read_at"], r["write_at"], "waiting"
        )
        spans.add(r["index"], "write stale value + 1", r["write_at"], r["wrote_at"])
        spans.add(r["index"], "locked read-modify-write", *r["fix"])
    fixes = sorted(r["fix"] for r in reports)
    deadlocks = [r["lock_across_barrier"].get("raised", "passed") for r in reports]
    result: dict[str, Any] = {
        "workers": n,
        "racy": {
            "expected": n,
            "result": racy.value,
            "every_read_saw": sorted({r["read"] for r in reports}),
            "all_reads_before_any_write": max(r["read_at"] for r in reports)
            <= min(r["write_at"] for r in reports),
        },
        "locked": {
            "expected": n,
            "result": locked.value,
            "critical_sections_overlap": any(a[1] > b[0] for a, b in itertools.pairwise(fixes)),
        },
        "lock_across_barrier": {
            "outcomes": deadlocks,
            "deadlocked": n > 1 and all(d == "BrokenBarrierError" for d in deadlocks),
            "note": "without the barrier's timeout every worker would wait for ever here",
        },
        "timeline": spans.sorted(),
    }
    result["summary"] = gettext(
        "{n} workers add 1 each: without a lock the total is {racy}, with a lock {locked}"
    ).format(n=n, racy=racy.value, locked=locked.value)
    return result
