"""A worker that mutates its argument changes the caller's object only if it is a thread.

Threads receive the very list the caller passed, so every ``append`` lands in the caller's list.
A process receives a copy (pickled under spawn and forkserver, copy-on-write memory under fork),
so its appends vanish when it exits and the caller's list stays empty. The fix is to send results
back (return values), or to share through a ``Manager``; but a Manager hands out copies too
whenever you index it: ``d["items"].append(x)`` mutates a temporary copy and is lost, while
reading, changing and reassigning ``d["items"]`` under a lock works.
"""

from __future__ import annotations

from typing import Any

import multiprocess

from concur_lab import Mode, run_workers, worker_index
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "mutating-args"
TITLE = N_("Mutating an argument in a worker")
THEME = "sharing"
ORDER = 80
LESSON = N_(
    "Threads mutate the caller's object; processes mutate a copy, and Manager indexing copies"
)


def _append(items: list[int], broken: Any, fixed: Any, lock: Any) -> tuple[int, int]:
    me = worker_index()
    items.append(me)
    seen = len(items)
    if broken is not None:
        broken["items"].append(me)  # appends to a copy the proxy returned
        with lock:  # the fix: read, change, reassign, under a lock
            mine = fixed["items"]
            mine.append(me)
            fixed["items"] = mine
    return me, seen


def _run(mode: Mode, n: int, items: list[int]) -> tuple[list[tuple[int, int]], Any]:
    if mode.kind == "thread":
        return run_workers(
            _append, n, mode=mode, args=(items, None, None, None), timeout=WAIT
        ), None
    ctx = multiprocess.get_context(mode.start_method)
    with ctx.Manager() as manager:
        broken = manager.dict({"items": []})
        fixed = manager.dict({"items": []})
        args = (items, broken, fixed, manager.Lock())
        returned = run_workers(_append, n, mode=mode, args=args, timeout=WAIT)
        return returned, {
            "append_through_index": sorted(broken["items"]),
            "reassign_under_lock": sorted(fixed["items"]),
        }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Pass one list to *workers* (default 3) workers that each append their index to it.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers append.
    :returns: Observations: the caller's list afterwards, the length each worker saw after its
        own append, the indexes returned (the fix) and, in process mode, what a Manager dict
        kept of an append through indexing versus a reassignment under a lock.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 3)
    items: list[int] = []
    returned, manager = _run(mode, n, items)
    if items:
        summary = gettext(
            "{n} workers appended to the caller's list: it now holds {items}"
        ).format(n=n, items=sorted(items))
    else:
        summary = gettext(
            "{n} workers appended to their own copies: the caller's list stays empty"
        ).format(n=n)
    if manager is not None:
        through = manager["append_through_index"]
        summary += (
            gettext("; through a Manager dict, .append() on d['items'] is lost too")
            if not through
            else gettext("; through a Manager dict, d['items'] got {items}").format(items=through)
        )
    return {
        "workers": n,
        "callers_list": sorted(items),
        "lengths_seen": sorted(length for _, length in returned),
        "returned": sorted(index for index, _ in returned),
        "manager": manager,
        "summary": summary,
    }
