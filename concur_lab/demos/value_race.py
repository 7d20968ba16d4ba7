"""``value.value += 1`` on a shared ``Value`` is not atomic, even though each access is locked.

A synchronized ``multiprocess.Value`` takes its lock for the read and again for the write, so
``v.value += 1`` is two critical sections with a gap between them: workers that run at the same
time (processes on several cores, or threads switched between the two) lose increments. Holding
``v.get_lock()`` around the whole read-modify-write makes the count exact. The loop's losses
depend on timing and cores; the scheduled version (locked read, barrier, locked write) loses all
increments but one every time.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import Kit, SpanRecorder, worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "value-race"
TITLE = N_("Value.value += 1 across workers")
THEME = "races"
ORDER = 30
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "A locked read plus a locked write is not a locked increment: hold get_lock() around +="
)

PER_WORKER = 50_000
"""Increments per worker in the loops."""


def _worker(
    index: int, inbox: Any, per_worker: int, unlocked: Any, locked: Any, forced: Any, barrier: Any
) -> None:
    """Increment three shared values three ways, phase by phase, and report when each ran."""
    times = []
    barrier.wait()
    start = time.monotonic()
    for _ in range(per_worker):
        unlocked.value += 1  # locked read, then locked write: two critical sections
    times.append(("value.value += 1", start, time.monotonic()))
    barrier.wait()
    start = time.monotonic()
    for _ in range(per_worker):
        with locked.get_lock():  # one critical section around the read-modify-write
            locked.value += 1
    times.append(("with get_lock(): value.value += 1", start, time.monotonic()))
    barrier.wait()
    with forced.get_lock():
        seen = forced.value
    barrier.wait()  # everybody has read before anybody writes
    with forced.get_lock():
        forced.value = seen + 1
    inbox.put((index, times))


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let *workers* workers (default 4) increment shared values unlocked, locked and scheduled.

    :param mode: Thread mode (a lock-per-access cell), or process mode (``Value``) with its start
        method.
    :param workers: How many workers (default 4).
    :returns: ``{"unlocked", "locked", "scheduled"}`` each with ``result`` and ``expected``, and a
        timeline.
    """
    n = worker_count(workers, 4)
    kit = Kit.of(mode)
    unlocked, locked, forced = kit.Value(0), kit.Value(0), kit.Value(0)
    barrier = kit.Barrier(n)
    spans = SpanRecorder()
    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        for i in range(n):
            crew.start(
                _worker, i, inbox, PER_WORKER, unlocked, locked, forced, barrier, name=f"vr-{i}"
            )
        reports = inbox.collect(n, watch=crew.handles)
    for index, times in reports:
        for name, start, end in times:
            spans.add(index, name, start, end)
    expected = n * PER_WORKER
    result: dict[str, Any] = {
        "workers": n,
        "per_worker": PER_WORKER,
        "unlocked": {
            "expected": expected,
            "result": unlocked.value,
            "lost": expected - unlocked.value,
        },
        "locked": {"expected": expected, "result": locked.value, "lost": expected - locked.value},
        "scheduled": {"expected": n, "result": forced.value},
        "timeline": spans.sorted(),
        "varies": N_(
            "the unlocked loop's losses depend on timing, cores and load: likely, never certain "
            "(threads lose only when a switch falls between the read and the write); the locked "
            "loop and the scheduled race are exact"
        ),
    }
    result["summary"] = gettext(
        "value += 1 without the lock lost {unlocked} of {expected} updates, with get_lock() "
        "{locked}; forced to clash, {n} workers left {forced}"
    ).format(
        unlocked=result["unlocked"]["lost"], expected=expected, locked=result["locked"]["lost"],
        n=n, forced=forced.value,
    )
    return result
