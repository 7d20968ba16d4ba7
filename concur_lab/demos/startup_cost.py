"""Starting a worker costs microseconds for a thread and milliseconds or more for a process.

A thread is ready almost at once; ``fork`` copies the caller's process, and ``spawn`` starts a
new interpreter that must import ``concur_lab`` first, typically the slowest. Only the order is a
robust observation: the milliseconds depend on the machine and its load.

Details: the caller starts workers one after another; each reports the moment its own code
begins. ``forkserver`` forks a small server process that was started (once, on first use) for the
purpose. spawn and forkserver also leave helper processes running (the resource tracker, the fork
server), which explains the "extra" PIDs in ``ps``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "startup-cost"
TITLE = N_("Start-up cost: thread vs fork vs forkserver vs spawn")
THEME = "performance"
ORDER = 250
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "Threads start in microseconds; fork, forkserver and especially spawn take milliseconds"
)


def _report_in(inbox: Any) -> None:
    began = time.monotonic()
    inbox.put((began, os.getpid()))


def _helpers() -> list[str]:
    # Children of this process that multiprocess started as helpers, read from /proc (Linux).
    found = []
    me = str(os.getpid())
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except (OSError, IndexError):
            continue
        if ppid != me:
            continue
        if "forkserver" in cmdline:
            found.append("forkserver")
        elif "resource_tracker" in cmdline:
            found.append("resource_tracker")
    return sorted(found)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Start *workers* (default 3) workers one at a time and time each until its code runs.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers to start, one after another.
    :returns: Observations: milliseconds from ``start()`` to the worker's first line, for each
        worker, their median, the helper processes left running, and a timeline.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 3)
    kit = Kit.of(mode)
    inbox = kit.inbox()
    t0 = time.monotonic()
    startups: list[float] = []
    timeline: list[dict[str, Any]] = []
    try:
        for i in range(n):
            with kit.workers() as crew:
                called = time.monotonic()
                worker = crew.start(_report_in, inbox, name=f"worker-{i}")
                began, pid = inbox.get(WAIT, watch=[worker])
                worker.join(WAIT)
                joined = time.monotonic()
            startups.append(began - called)
            name = worker.name if kit.threads else f"process {pid}"
            for start, end, kind in ((called, began, "starting"), (began, joined, "exiting")):
                timeline.append(
                    {
                        "worker": i,
                        "name": name,
                        "start": round(start - t0, 6),
                        "end": round(end - t0, 6),
                        "kind": kind,
                    }
                )
    finally:
        inbox.close()
    ms = [round(s * 1000, 3) for s in startups]
    median = statistics.median(ms)
    helpers = _helpers() if kit.ctx is not None and sys.platform.startswith("linux") else None
    return {
        "workers": n,
        "startup_ms": ms,
        "median_startup_ms": median,
        "helper_processes": helpers,
        "summary": gettext(
            "from start() to the worker's first line: {median:.2f} ms (median of {n})"
        ).format(median=median, n=n),
        "varies": N_(
            "The milliseconds depend on the machine, its load and what the caller has "
            "imported; the first forkserver start also launches the server."
        ),
        "timeline": timeline,
    }
