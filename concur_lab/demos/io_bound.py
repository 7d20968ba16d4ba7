"""I/O-bound work: blocking calls release the GIL, so threads wait side by side.

Each worker alternates a few milliseconds of computing with a blocking call (a sleep, standing
in for a socket or file read). A thread that blocks gives up the GIL, so the others run and
their waits overlap: the whole run takes about as long as one worker, not the sum of all of
them, in thread mode just as in process mode. Only the short computing parts still take turns
under the GIL, which is why threads are the cheap, right tool for I/O-bound work.
"""

from __future__ import annotations

from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos import _gil
from concur_lab.demos._support import worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "io-bound"
TITLE = N_("I/O-bound work: blocking releases the GIL")
THEME = "performance"
ORDER = 230
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "Blocking calls release the GIL: I/O-bound threads overlap their waits like processes do"
)

ROUNDS = 4
WORK = 0.004
BLOCK = 0.05
"""Per round: seconds of computing, then seconds blocked."""


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Run *workers* (default 4) workers that compute briefly and block, :data:`ROUNDS` times.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers run at once.
    :returns: Observations: the wall time of the run, each worker's own duration and time spent
        blocked, how many workers were busy at once on average (the sum of their durations over
        the wall time), the CPU/wall ratio, and the timeline.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 4)
    t0, traces = _gil.run_traced(mode, _gil.io_traced, n, rounds=ROUNDS, work=WORK, block=BLOCK)
    wall = max(t.end for t in traces) - min(t.start for t in traces)
    durations = [t.end - t.start for t in traces]
    blocked = [sum(e - s for s, e, kind in t.spans if kind == "sleeping") for t in traces]
    concurrency = sum(durations) / wall
    return {
        "workers": n,
        "rounds": ROUNDS,
        "work_s_per_round": WORK,
        "block_s_per_round": BLOCK,
        "wall_s": round(wall, 4),
        "worker_s": [round(d, 4) for d in durations],
        "blocked_s": [round(b, 4) for b in blocked],
        "sum_worker_s": round(sum(durations), 4),
        "concurrency": round(concurrency, 2),
        "blocked_overlap_s": round(_gil.overlap(traces, "sleeping"), 4),
        "cpu_wall_ratio": round(sum(t.cpu for t in traces) / wall, 3),
        "truncated": any(t.truncated for t in traces),
        "summary": gettext(
            "{n} workers busy {busy:.2f} s in total finished in {wall:.2f} s: "
            "{concurrency:.1f} at once on average"
        ).format(n=n, busy=sum(durations), wall=wall, concurrency=concurrency),
        "varies": N_(
            "Same lesson with or without the GIL: blocking calls release it. "
            "Wall times grow on a busy machine, the overlap does not go away."
        ),
        "timeline": _gil.timeline(t0, traces),
    }
