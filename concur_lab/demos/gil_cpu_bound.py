"""CPU-bound Python code: threads take turns, processes run side by side.

Every worker computes in pure Python for the same wall-clock window. With the GIL only one
thread of a process runs Python at a time, so the threads' CPU time adds up to about the window
once (CPU ÷ wall ≈ 1); processes each have their own interpreter and add up to about
min(workers, cores) windows, if those cores are free.

The ratio, not a speed-up in seconds, is the observation, because it does not depend on how fast
the machine is. It does depend on how busy it is: other programs that take the cores leave the
processes waiting too, so the demo measures other programs' CPU use during the run
(``others_cores``), tries up to three times to find a quiet moment, and says so when it found
none. Two workers running at the same moment is the evidence a busy machine cannot fake, so on
a busy machine the summary gives that share of the run instead of the ratio's verdict. On a
free-threaded build (3.13t/3.14t with the GIL disabled) threads behave like processes.
"""

from __future__ import annotations

import os
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos import _gil, _machine
from concur_lab.demos._support import worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "gil-cpu-bound"
TITLE = N_("CPU-bound work: threads take turns, processes run in parallel")
THEME = "performance"
ORDER = 220
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "With the GIL, CPU-bound threads add up to one core (CPU/wall ≈ 1); processes use them all"
)

DURATION = 0.4
"""Wall-clock seconds each worker computes for."""


SIDE_BY_SIDE = 0.05
"""Share of the run during which workers must have run at once to count as side by side."""


def _summary(ratio: float, n: int, together: float, *, threads: bool, busy: str | None) -> str:
    """Say what the run showed, never more than it measured.

    A busy machine takes cores from the processes, so their CPU/wall ratio falls towards 1; it
    cannot make two workers run at the same moment, though, so the time they did is the
    evidence that survives load. Only a run with no such time says it could not show it.

    :param ratio: CPU seconds of all workers per wall second.
    :param together: Share of the run during which at least two workers were running.
    :param busy: :func:`concur_lab.demos._machine.busy_note`'s note, or ``None``.
    """
    kind = gettext("threads") if threads else gettext("processes")
    cpu = f"{ratio:.2f}"
    if n < 2:
        text = gettext("CPU/wall {cpu} with 1 worker").format(cpu=cpu)
    elif together < SIDE_BY_SIDE and (busy is None or threads):
        text = gettext("CPU/wall {cpu}: the {n} {kind} took turns, one at a time").format(
            cpu=cpu, n=n, kind=kind
        )
    elif together < SIDE_BY_SIDE and busy is not None:
        return gettext(
            "{busy}, so no core was free to show the {kind} side by side; "
            "try again when it is idle (CPU/wall {cpu})"
        ).format(busy=busy, kind=kind, cpu=cpu)
    elif busy is None:
        text = gettext("CPU/wall {cpu}: about {at_once} of the {n} {kind} ran at once").format(
            cpu=cpu, at_once=f"{ratio:.1f}", n=n, kind=kind
        )
    else:
        text = gettext(
            "CPU/wall {cpu}: the {n} {kind} still ran side by side {share} of the time"
        ).format(cpu=cpu, n=n, kind=kind, share=f"{together:.0%}")
    return text if busy is None else gettext("{text} ({busy})").format(text=text, busy=busy)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Run *workers* (default 2) CPU-bound workers in *mode* for :data:`DURATION` seconds.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers compute at once.
    :returns: Observations: per-worker CPU seconds and work done, the work done per wall
        second by all workers together, the CPU/wall ratio of the common window, how much of it
        several workers ran at once, how many cores other programs took meanwhile (and how many
        runs it took to find a quiet moment), what theory expects, and the timeline.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 2)
    best = _gil.run_best(mode, _gil.cpu_traced, n, duration=DURATION)
    traces, wall = best.traces, best.wall
    cpu = sum(t.cpu for t in traces)
    # Rounded once, so that the summary, the chart and the observation agree to the digit.
    ratio = round(cpu / wall, 3)
    cores = os.cpu_count() or 1
    parallel = mode.kind == "process" or not _gil.gil_enabled()
    expected = min(n, cores) if parallel else 1
    units = sum(t.units for t in traces)
    together = round(_gil.overlap(traces) / wall, 3)
    busy = _machine.busy_note(best.others_cores, cores, _gil.needed_cores(mode, n))
    summary = _summary(ratio, n, together, threads=mode.kind == "thread", busy=busy)
    return {
        "workers": n,
        "cores": cores,
        "gil_enabled": _gil.gil_enabled(),
        "duration_s": DURATION,
        "wall_s": round(wall, 4),
        "cpu_s": [round(t.cpu, 4) for t in traces],
        "cpu_wall_ratio": ratio,
        "parallel_fraction": together,
        "work_units": [t.units for t in traces],
        "work_units_per_s": round(units / wall),
        "others_cores": best.others_cores,
        "machine_busy": best.busy,
        "attempts": best.attempts,
        "attempt_s": round(best.seconds, 3),
        "load_average": round(os.getloadavg()[0], 2),
        "truncated": any(t.truncated for t in traces),
        "expected": {
            "cpu_wall_ratio": expected,
            # N_: the data stay English (--json); the tables translate them when shown.
            "why": N_("processes: min(workers, free cores)")
            if parallel
            else N_("GIL threads: one at a time"),
        },
        "summary": summary,
        "varies": gettext(
            "{note} Processes reach min(workers, cores) only when the cores are idle."
        ).format(note=_gil.free_threading_note()),
        "chart": {
            "time_boxed": True,
            "facts": [
                f"CPU/wall {ratio:.2f}",
                f"work done: {units:,} chunks ({round(units / wall):,}/s)",
            ],
            "busy": _gil.busy_chart_note(best),
        },
        "timeline": _gil.timeline(best.t0, traces),
    }
