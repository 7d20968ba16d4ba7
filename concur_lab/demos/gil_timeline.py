"""The GIL on a timeline: CPU-bound threads run in turns of about the switch interval.

Threads of one process show alternating slices of at least ``sys.getswitchinterval()`` (5 ms by
default: a minimum, not a period) and never overlap; processes run side by side and wait only
for a free core. On a free-threaded build the threads' slices overlap too.

Each worker timestamps every few microseconds of pure-Python work; a pause between two
timestamps means it was not running. The chart zooms into 60 ms of the run (``WINDOW``) with
a gridline every switch interval, so the slices can be measured by eye; the demo also measures
how many cores other programs took (``others_cores``) and retries when the machine was busy.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos import _gil, _machine
from concur_lab.demos._support import worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "gil-timeline"
TITLE = N_("GIL time slices on a timeline")
THEME = "performance"
ORDER = 240
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "CPU-bound threads hand the GIL over after a switch interval (5 ms) or more; "
    "processes wait only for a free core"
)

DURATION = 0.3
"""Wall-clock seconds each worker computes for."""

WINDOW = (0.1, 0.16)
"""The part of the work, in seconds after the first worker began, that the chart zooms into."""


def _handoffs(traces: list[_gil.Trace]) -> int:
    # How often the running worker changed, reading all running spans in time order.
    spans = sorted(
        (start, trace.worker)
        for trace in traces
        for start, _end, kind in trace.spans
        if kind == "running"
    )
    return sum(1 for a, b in itertools.pairwise(spans) if a[1] != b[1])


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Run *workers* (default 2) CPU-bound workers and record when each one actually ran.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers compute at once.
    :returns: Observations: the switch interval, per-worker slice counts and median slice
        length, hand-overs between workers, the fraction of time several ran at once, and the
        timeline.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 2)
    best = _gil.run_best(mode, _gil.cpu_traced, n, duration=DURATION)
    t0, traces, wall = best.t0, best.traces, best.wall
    slices = [[end - start for start, end, kind in t.spans if kind == "running"] for t in traces]
    medians = [statistics.median(s) * 1000 if s else 0.0 for s in slices]
    interval_ms = sys.getswitchinterval() * 1000
    parallel = _gil.overlap(traces) / wall
    if parallel < 0.1 and mode.kind == "thread":
        summary = gettext(
            "turns: median slice {slice} ms (switch interval {interval} ms), no overlap"
        ).format(slice=f"{statistics.median(medians):.1f}", interval=f"{interval_ms:g}")
    elif parallel < 0.1:
        summary = gettext(
            "no free core: the OS gave turns of {slice} ms (load average {load})"
        ).format(slice=f"{statistics.median(medians):.1f}", load=f"{os.getloadavg()[0]:.1f}")
    else:
        summary = gettext("side by side: several workers running {share} of the time").format(
            share=f"{parallel:.0%}"
        )
    busy = _machine.busy_note(best.others_cores, os.cpu_count() or 1, _gil.needed_cores(mode, n))
    if busy is not None:
        summary = gettext("{text} ({busy})").format(text=summary, busy=busy)
    median_ms = statistics.median(medians)
    begun = min(t.start for t in traces) - t0
    slice_fact = (
        f"median slice {median_ms:.1f} ms (switch interval {interval_ms:g} ms: "
        "a minimum, not a period)"
        if mode.kind == "thread"
        else f"median run {median_ms:.1f} ms"
    )
    pauses = sum(1 for t in traces for _s, _e, kind in t.spans if kind == "waiting-cpu")
    turn_fact = (
        f"{_handoffs(traces)} hand-overs"
        if mode.kind == "thread"
        else f"{pauses} pause{'' if pauses == 1 else 's'} for a free core"
    )
    return {
        "workers": n,
        "gil_enabled": _gil.gil_enabled(),
        "switch_interval_ms": interval_ms,
        "duration_s": DURATION,
        "cpu_s": [round(t.cpu, 4) for t in traces],
        "slices": [len(s) for s in slices],
        "median_slice_ms": [round(m, 2) for m in medians],
        "handoffs": _handoffs(traces),
        "parallel_fraction": round(parallel, 3),
        "gap_ms": _gil.GAP * 1000,
        "others_cores": best.others_cores,
        "machine_busy": best.busy,
        "attempts": best.attempts,
        "attempt_s": round(best.seconds, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "truncated": any(t.truncated for t in traces),
        "summary": summary,
        "chart": {
            "time_boxed": True,
            "window": [round(begun + WINDOW[0], 6), round(begun + WINDOW[1], 6)],
            # The switch interval only rules threads; for processes it would suggest a rhythm.
            "gridlines": sys.getswitchinterval() if mode.kind == "thread" else None,
            "gridline_label": "switch interval",
            "facts": [slice_fact, turn_fact],
            "busy": _gil.busy_chart_note(best),
        },
        "varies": gettext(
            "{note} Process slices depend on the OS scheduler and on what else the machine is "
            "doing."
        ).format(note=_gil.free_threading_note()),
        "timeline": _gil.timeline(t0, traces),
    }
