"""Private helpers for the GIL and timing demos: traced workers and what their traces show.

A traced worker timestamps every short chunk of its work with :func:`time.monotonic` (one
system-wide clock on Linux, so threads and processes are comparable). Whenever two consecutive
timestamps are further apart than a small gap, the worker was not running in between: it waited
for the GIL or for a CPU. The trace is therefore a list of spans, "running" and "waiting",
that a Gantt chart can draw and that the demos summarise as CPU-to-wall ratios and overlaps.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from concur_lab._context import worker_index
from concur_lab._engine import run_outcomes
from concur_lab._modes import Mode
from concur_lab._outcome import raise_for_outcomes

__all__ = [
    "GAP",
    "MAX_SPANS",
    "Trace",
    "cpu_traced",
    "free_threading_note",
    "gil_enabled",
    "io_traced",
    "overlap",
    "run_traced",
    "timeline",
]

GAP = 0.0005
"""Seconds between two timestamps beyond which a worker counts as not running in between."""

MAX_SPANS = 4000
"""Cap on the spans of one run, shared by its workers, so that a noisy machine or many workers
cannot flood a timeline."""

_TIMEOUT = 60.0
# Generous: spawn start-up of several interpreters on a loaded 2-core machine takes seconds.


@dataclass
class Trace:
    """What one traced worker did, in absolute :func:`time.monotonic` seconds.

    :ivar worker: Index of the worker, from 0.
    :ivar name: Thread name or ``"process <pid>"``.
    :ivar pid: Process id the worker ran in.
    :ivar launched: When the caller started the run (set by :func:`run_traced`).
    :ivar start: When the measured work began (all workers leave a barrier together).
    :ivar end: When the measured work ended.
    :ivar cpu: CPU seconds this thread used between *start* and *end*.
    :ivar units: Chunks of work done.
    :ivar spans: ``(start, end, kind)`` triples.
    :ivar cap: How many spans this worker may record (its share of :data:`MAX_SPANS`).
    :ivar truncated: Whether *cap* cut the span list short.
    """

    worker: int
    name: str
    pid: int
    launched: float = 0.0
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    units: int = 0
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    cap: int = MAX_SPANS
    truncated: bool = False


def gil_enabled() -> bool:
    """Return whether this interpreter runs with a GIL (``False`` only on free-threaded builds)."""
    check: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def free_threading_note() -> str:
    """Describe how the GIL lessons depend on the build of this interpreter."""
    if gil_enabled():
        return (
            f"Python {sys.version.split()[0]} with the GIL: threads of one process run Python "
            "code one at a time. On a free-threaded build (3.13t/3.14t, GIL disabled) CPU-bound "
            "threads run side by side like processes."
        )
    return (
        f"Python {sys.version.split()[0]} free-threaded, GIL disabled: threads run Python code "
        "in parallel here, so thread mode looks like process mode. With the GIL they take turns."
    )


def _spin() -> int:
    # One short chunk of pure-Python work (a few microseconds): short enough that a pause of
    # GAP seconds between two chunks can only mean the worker was not running.
    total = 0
    for i in range(40):
        total += i * i
    return total


class _SpanRecorder:
    """Build running/waiting spans online from a stream of timestamps."""

    def __init__(self, trace: Trace, now: float) -> None:
        self.trace = trace
        self.span_start = now
        self.last = now

    def tick(self, now: float) -> None:
        if now - self.last > GAP and not self.trace.truncated:
            self.close(self.last)
            spans = self.trace.spans
            if spans and spans[-1][2] == "waiting" and spans[-1][1] == self.last:
                # A single timestamp between two gaps: one longer wait, not two.
                spans[-1] = (spans[-1][0], now, "waiting")
            else:
                self.add(self.last, now, "waiting")
            self.span_start = now
        self.last = now

    def add(self, start: float, end: float, kind: str) -> None:
        if len(self.trace.spans) >= self.trace.cap:
            self.trace.truncated = True
            return
        self.trace.spans.append((start, end, kind))

    def close(self, end: float) -> None:
        if end > self.span_start:
            self.add(self.span_start, end, "running")


def cpu_traced(trace: Trace, duration: float) -> None:
    """Do pure-Python work for *duration* wall seconds, recording when this worker ran.

    :param trace: The worker's trace, filled in place (*start*, *end*, *cpu*, *units*, *spans*).
    :param duration: Wall-clock seconds to keep working, so every mode costs the same time.
    """
    cpu0 = time.thread_time()
    start = time.monotonic()
    trace.start = start
    recorder = _SpanRecorder(trace, start)
    deadline = start + duration
    units = 0
    while True:
        now = time.monotonic()
        recorder.tick(now)
        if now >= deadline:
            break
        _spin()
        units += 1
    recorder.close(recorder.last)
    trace.end = recorder.last
    trace.cpu = time.thread_time() - cpu0
    trace.units = units


def io_traced(trace: Trace, rounds: int, work: float, block: float) -> None:
    """Alternate *work* seconds of computing with *block* seconds of blocking, *rounds* times.

    The blocking call is :func:`time.sleep`, which releases the GIL like a socket read would.

    :param trace: The worker's trace, filled in place.
    :param rounds: How many compute-then-block rounds to do.
    :param work: Wall seconds of pure-Python work per round.
    :param block: Seconds blocked per round.
    """
    cpu0 = time.thread_time()
    trace.start = time.monotonic()
    units = 0
    for _ in range(rounds):
        now = time.monotonic()
        recorder = _SpanRecorder(trace, now)
        deadline = now + work
        while now < deadline:
            _spin()
            units += 1
            now = time.monotonic()
            recorder.tick(now)
        recorder.close(recorder.last)
        before = time.monotonic()
        time.sleep(block)
        recorder.add(before, time.monotonic(), "sleeping")
    trace.end = time.monotonic()
    trace.cpu = time.thread_time() - cpu0
    trace.units = units


def _traced(
    body: Callable[..., None], kwargs: dict[str, Any], caller_pid: int, cap: int
) -> dict[str, Any]:
    # Runs in the worker thread or process; a module-level function so spawn can import it.
    pid = os.getpid()
    name = threading.current_thread().name if pid == caller_pid else f"process {pid}"
    trace = Trace(worker=worker_index(), name=name, pid=pid, cap=cap)
    body(trace, **kwargs)
    return asdict(trace)


def _settle_threads(timeout: float = 0.5) -> None:
    # A joined thread's OS thread may still be exiting for a moment; Python 3.12+ counts it
    # and warns that forking a multi-threaded process may deadlock. Let such threads finish.
    if not sys.platform.startswith("linux"):
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if len(os.listdir("/proc/self/task")) <= threading.active_count():
                return
        except OSError:
            return
        time.sleep(0.002)


def run_traced(
    mode: Mode,
    body: Callable[..., None],
    workers: int,
    **kwargs: Any,
) -> tuple[float, list[Trace]]:
    """Run *body* in *workers* threads or processes of the engine, which start them together.

    :param mode: Thread mode, or process mode with its start method.
    :param body: :func:`cpu_traced` or :func:`io_traced`.
    :param workers: How many workers.
    :param kwargs: Passed to *body* after the trace.
    :returns: The run's start time (before the first worker was started) and one trace per
        worker, in worker order.
    :raises Exception: What a worker raised, or :class:`concur_lab.WorkerError` if one crashed,
        hung or did not start, as :func:`concur_lab.run_workers` does.
    """
    if mode.start_method == "fork":
        _settle_threads()
    t0 = time.monotonic()
    outcomes = run_outcomes(
        _traced,
        workers,
        mode=mode,
        args=(body, kwargs, os.getpid(), max(50, MAX_SPANS // workers)),
        timeout=_TIMEOUT,
    )
    raise_for_outcomes(outcomes)
    traces = []
    for outcome in outcomes:
        payload = dict(outcome.value or {})
        spans = [(start, end, kind) for start, end, kind in payload.pop("spans")]
        payload["launched"] = t0
        traces.append(Trace(**payload, spans=spans))
    return t0, traces


def timeline(t0: float, traces: Sequence[Trace]) -> list[dict[str, Any]]:
    """Return the traces as timeline spans, in seconds from *t0*, with a start-up span each.

    :param t0: The run's start time.
    :param traces: One trace per worker.
    :returns: Spans ``{"worker", "name", "start", "end", "kind"}``; *kind* is ``"starting"``
        (from the start of the run until the worker's work began), ``"running"``,
        ``"waiting"`` (ready but not running: no GIL or no free CPU) or ``"sleeping"``
        (blocked, as in I/O).
    """
    spans: list[dict[str, Any]] = []
    for trace in traces:

        def span(start: float, end: float, kind: str, trace: Trace = trace) -> dict[str, Any]:
            return {
                "worker": trace.worker,
                "name": trace.name,
                "start": round(start - t0, 6),
                "end": round(end - t0, 6),
                "kind": kind,
            }

        spans.append(span(trace.launched, trace.start, "starting"))
        spans.extend(span(start, end, kind) for start, end, kind in trace.spans)
    return spans


def overlap(traces: Sequence[Trace], kind: str = "running") -> float:
    """Return the seconds during which at least two workers were in spans of *kind* at once."""
    events: list[tuple[float, int]] = []
    for trace in traces:
        for start, end, span_kind in trace.spans:
            if span_kind == kind:
                events.append((start, 1))
                events.append((end, -1))
    events.sort()
    active = 0
    since = 0.0
    total = 0.0
    for moment, delta in events:
        if active >= 2:
            total += moment - since
        active += delta
        since = moment
    return total
