"""A module global bumped by five workers: threads share it, processes each bump their own copy.

Five threads each add one to the same global and read back 1, 2, 3, 4 and 5 (in some order);
five processes each add one to a copy of their own and all read back 1, and the caller's global
never changes. Which copy a process starts from depends on the start method: ``fork`` copies the
caller's memory as it is at ``start()`` (a value the caller set late is seen), ``spawn`` and
``forkserver`` import the module afresh (the value from the module's source is seen).

What the blog post got wrong: it presents "1 2 3 4 5" printed by the threads as *the* output, but
only the set of values is reliable: the order and even the line breaks of the printed output vary
from run to run (see print-interleaving), so here each worker returns its value instead.
"""

from __future__ import annotations

import threading
from typing import Any

from concur_lab import Mode, run_outcomes
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, SpanRecorder, values, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "shared-global"
TITLE = N_("Five workers bump a module global")
THEME = "basics"
ORDER = 30
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_("Threads share a module global (1..5); each process bumps its own copy (1 five times)")

counter = 0
"""The module global the workers bump; the module's own value is 0."""

LATE_VALUE = 100
"""The value the caller gives :data:`counter` after import, just before starting workers."""

_lock = threading.Lock()  # makes bump-and-read one step for threads, even without a GIL


def _bump() -> int:
    """Add one to the module global and return the value this worker saw after its increment."""
    global counter
    with _lock:
        counter += 1
        return counter


def _round(mode: Mode, n: int, start: int, spans: SpanRecorder, name: str) -> dict[str, Any]:
    global counter
    counter = start
    outcomes = run_outcomes(_bump, n, mode=mode, timeout=4 * WAIT)
    seen = values(outcomes)
    spans.add_outcomes(outcomes, name)
    return {
        "caller_set": start,
        "values": seen,
        "sorted_values": sorted(seen),
        "caller_after": counter,
    }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let *workers* workers (default 5) bump the global from 0, then two from a late value.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers (default 5, as in the blog post).
    :returns: ``{"from_zero": ..., "late_set": ..., "summary": ...}``; each round has the values
        the workers saw (in worker order and sorted) and the caller's value afterwards.
    """
    global counter
    n = worker_count(workers, 5)
    spans = SpanRecorder()
    try:
        result: dict[str, Any] = {
            "from_zero": _round(mode, n, 0, spans, "bump"),
            # Two workers are enough to show where a process's copy starts from, and spawn
            # start-ups are what this demo's run time is made of.
            "late_set": _round(mode, min(n, 2), LATE_VALUE, spans, "bump (late-set global)"),
        }
    finally:
        counter = 0  # leave the module as it was imported
    result["timeline"] = spans.sorted()
    if mode.kind == "process":
        result["varies"] = gettext(
            "with the start method: fork copies the caller's late-set value "
            "({late} + 1), spawn and forkserver re-import the module (0 + 1)"
        ).format(late=LATE_VALUE)
    zero = result["from_zero"]
    late = result["late_set"]
    result["summary"] = gettext(
        "the workers saw {seen} and the caller's global ended at {after}; set to {late} first, "
        "they saw {late_seen}"
    ).format(
        seen=_short(zero["sorted_values"]), after=zero["caller_after"], late=LATE_VALUE,
        late_seen=_short(late["sorted_values"]),
    )
    return result


def _short(seen: list[int]) -> str:
    if len(set(seen)) == 1:
        return gettext("{value} ({count} times)").format(value=seen[0], count=len(seen))
    return ", ".join(str(v) for v in seen)
