"""The GIL on a timeline: CPU-bound threads run in turns of about the switch interval.

Each worker timestamps every few microseconds of pure-Python work; a pause between two
timestamps means it was not running. Threads of one process show alternating slices of about
``sys.getswitchinterval()`` (5 ms by default: a minimum, not an exact period) and never
overlap; processes run side by side, interrupted only when the machine has no free core. On a
free-threaded build the threads' slices overlap too.
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
from typing import Any

from concur_lab._modes import Mode
from concur_lab.demos import _gil

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "gil-timeline"
TITLE = "GIL time slices on a timeline"
THEME = "performance"
ORDER = 240
LESSON = "CPU-bound threads hand the GIL over every switch interval (5 ms); processes never wait"

DURATION = 0.3
"""Wall-clock seconds each worker computes for."""


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
    n = 2 if workers is None else workers
    if n < 1:
        raise ValueError(f"gil-timeline needs at least 1 worker, got workers={n}")
    t0, traces = _gil.run_traced(mode, _gil.cpu_traced, n, duration=DURATION)
    wall = max(t.end for t in traces) - min(t.start for t in traces)
    slices = [[end - start for start, end, kind in t.spans if kind == "running"] for t in traces]
    medians = [statistics.median(s) * 1000 if s else 0.0 for s in slices]
    interval_ms = sys.getswitchinterval() * 1000
    parallel = _gil.overlap(traces) / wall
    if parallel < 0.1 and mode.kind == "thread":
        summary = (
            f"turns: median slice {statistics.median(medians):.1f} ms "
            f"(switch interval {interval_ms:g} ms), no overlap"
        )
    elif parallel < 0.1:
        summary = (
            f"no free core: the OS gave turns of {statistics.median(medians):.1f} ms "
            f"(load average {os.getloadavg()[0]:.1f})"
        )
    else:
        summary = f"side by side: several workers running {parallel:.0%} of the time"
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
        "load_average": round(os.getloadavg()[0], 2),
        "truncated": any(t.truncated for t in traces),
        "summary": summary,
        "varies": _gil.free_threading_note()
        + " Process slices depend on the OS scheduler and on what else the machine is doing.",
        "timeline": _gil.timeline(t0, traces),
    }
