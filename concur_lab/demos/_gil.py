"""Private helpers for the GIL and timing demos: traced workers and what their traces show.

A traced worker timestamps every short chunk of its work with :func:`time.monotonic` (one
system-wide clock on Linux, so threads and processes are comparable). Whenever two consecutive
timestamps are further apart than a small gap, the worker was not running in between. For
threads under a GIL, a gap while a sibling thread was running means "waiting for the GIL"
(``"waiting-gil"``); a gap while no worker of the run was running, and every gap of a process,
means the worker was ready but had no free core: other programs had it (``"waiting-cpu"``).
The trace is therefore a list of spans that a Gantt chart can draw and that the demos summarise
as CPU-to-wall ratios and overlaps. Each worker also samples the machine's busy time, so a run
knows how many cores other programs took meanwhile.
"""

from __future__ import annotations

import bisect
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from concur_lab import Mode, raise_for_outcomes, run_outcomes, worker_index
from concur_lab._i18n import gettext
from concur_lab.demos import _machine

__all__ = [
    "GAP",
    "MAX_SPANS",
    "RETRY_PAUSE",
    "Run",
    "Trace",
    "busy_chart_note",
    "cpu_traced",
    "free_threading_note",
    "gil_enabled",
    "io_traced",
    "machine_others",
    "needed_cores",
    "overlap",
    "run_best",
    "run_traced",
    "timeline",
]

GAP = 0.0005
"""Seconds between two timestamps beyond which a worker counts as not running in between."""

RETRY_PAUSE = 0.3
"""Seconds :func:`run_best` waits before trying a busy run again."""

MAX_SPANS = 4000
"""Cap on the spans of one run, shared by its workers, so that a noisy machine or many workers
cannot flood a timeline."""

_TIMEOUT = 60.0
# Generous: spawn start-up of several interpreters on a loaded 2-core machine takes seconds.


@dataclass
class Trace:
    """What one traced worker did, in absolute :func:`time.monotonic` seconds.

    :ivar worker: Index of the worker, from 0.
    :ivar name: ``"pid <pid>, thread <native id>"`` or ``"process <pid>"``.
    :ivar pid: Process id the worker ran in.
    :ivar launched: When the caller started the run (set by :func:`run_traced`).
    :ivar gate: When the workers were released together: for threads the last one's arrival at
        the run's own start gate, so that the time until the worker's first timestamp is known to
        be spent waiting (for the GIL), not starting up; for processes the same as *start*.
    :ivar start: When the measured work began (its first timestamp).
    :ivar end: When the measured work ended.
    :ivar cpu: CPU seconds this thread used between *start* and *end*.
    :ivar units: Chunks of work done.
    :ivar spans: ``(start, end, kind)`` triples.
    :ivar cap: How many spans this worker may record (its share of :data:`MAX_SPANS`).
    :ivar truncated: Whether *cap* cut the span list short.
    :ivar busy_before: The machine's busy CPU seconds just before *start* (``None`` if unknown).
    :ivar busy_after: The same just after *end*.
    """

    worker: int
    name: str
    pid: int
    launched: float = 0.0
    gate: float = 0.0
    start: float = 0.0
    end: float = 0.0
    cpu: float = 0.0
    units: int = 0
    spans: list[tuple[float, float, str]] = field(default_factory=list)
    cap: int = MAX_SPANS
    truncated: bool = False
    busy_before: float | None = None
    busy_after: float | None = None


def gil_enabled() -> bool:
    """Return whether this interpreter runs with a GIL (``False`` only on free-threaded builds)."""
    check: Callable[[], bool] | None = getattr(sys, "_is_gil_enabled", None)
    return True if check is None else bool(check())


def free_threading_note() -> str:
    """Describe how the GIL lessons depend on the build of this interpreter."""
    version = sys.version.split()[0]
    if gil_enabled():
        return gettext(
            "Python {version} with the GIL: threads of one process run Python code one at a "
            "time. On a free-threaded build (3.13t/3.14t, GIL disabled) CPU-bound threads run "
            "side by side like processes."
        ).format(version=version)
    return gettext(
        "Python {version} free-threaded, GIL disabled: threads run Python code in parallel "
        "here, so thread mode looks like process mode. With the GIL they take turns."
    ).format(version=version)


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
    trace.busy_before = _machine.busy_cpu_seconds()
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
    trace.busy_after = _machine.busy_cpu_seconds()
    trace.units = units


def io_traced(trace: Trace, rounds: int, work: float, block: float) -> None:
    """Alternate *work* seconds of computing with *block* seconds of blocking, *rounds* times.

    The blocking call is :func:`time.sleep`, which releases the GIL like a socket read would.

    :param trace: The worker's trace, filled in place.
    :param rounds: How many compute-then-block rounds to do.
    :param work: Wall seconds of pure-Python work per round.
    :param block: Seconds blocked per round.
    """
    trace.busy_before = _machine.busy_cpu_seconds()
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
    trace.busy_after = _machine.busy_cpu_seconds()
    trace.units = units


def _traced(
    body: Callable[..., None],
    kwargs: dict[str, Any],
    caller_pid: int,
    cap: int,
    gate: threading.Barrier | None,
) -> dict[str, Any]:
    # Runs in the worker thread or process; a module-level function so spawn can import it.
    pid = os.getpid()
    # Thread rows show the pid too: two threads with the same pid is half the lesson.
    thread = f"pid {pid}, thread {threading.get_native_id()}"
    name = thread if pid == caller_pid else f"process {pid}"
    trace = Trace(worker=worker_index(), name=name, pid=pid, cap=cap)
    if gate is not None:
        # The last thread to arrive holds the GIL when it takes this timestamp and releases the
        # others: the latest arrival is when the gate opened. The engine has its own gate, but
        # does not say when it opened.
        trace.gate = time.monotonic()
        gate.wait(_TIMEOUT)
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
    threads = mode.kind == "thread"
    gate = threading.Barrier(workers) if threads and workers > 1 else None
    t0 = time.monotonic()
    outcomes = run_outcomes(
        _traced,
        workers,
        mode=mode,
        args=(body, kwargs, os.getpid(), max(50, MAX_SPANS // workers), gate),
        timeout=_TIMEOUT,
    )
    raise_for_outcomes(outcomes)
    traces = []
    for outcome in outcomes:
        payload = dict(outcome.value or {})
        spans = [(start, end, kind) for start, end, kind in payload.pop("spans")]
        payload["launched"] = t0
        traces.append(Trace(**payload, spans=spans))
    opened = max(t.gate for t in traces) if gate is not None else None
    for trace in traces:
        trace.gate = trace.start if opened is None else min(opened, trace.start)
        if trace.start - trace.gate > GAP:
            # Released but not yet running: the same kind of gap as any later one.
            trace.spans.insert(0, (trace.gate, trace.start, "waiting"))
    _classify_waits(traces, gil_turns=threads and gil_enabled())
    return t0, traces


@dataclass
class Run:
    """The run :func:`run_best` kept, with what else the machine was doing meanwhile.

    :ivar t0: When the run started.
    :ivar traces: One trace per worker.
    :ivar others_cores: Cores other programs used on average while the workers ran (``None``
        if unknown: not Linux).
    :ivar attempts: How many runs were made to find one on a quiet machine.
    :ivar busy: Whether other programs left fewer free cores than the run needed.
    :ivar seconds: How long this run took, start-up included; the other attempts not counted.
    """

    t0: float
    traces: list[Trace]
    others_cores: float | None
    attempts: int
    busy: bool = False
    seconds: float = 0.0

    @property
    def wall(self) -> float:
        """Seconds from the first worker's start to the last one's end."""
        return max(t.end for t in self.traces) - min(t.start for t in self.traces)


def machine_others(traces: Sequence[Trace]) -> float | None:
    """Return the cores other programs used while *traces* ran, from the workers' samples."""
    before = [t.busy_before for t in traces]
    after = [t.busy_after for t in traces]
    if any(v is None for v in before + after):
        return None
    wall = max(t.end for t in traces) - min(t.start for t in traces)
    ours = sum(t.cpu for t in traces)
    return _machine.others_cores(
        min(v for v in before if v is not None), max(v for v in after if v is not None), wall, ours
    )


def needed_cores(mode: Mode, workers: int) -> int:
    """Return how many cores *workers* CPU-bound workers in *mode* could use at once."""
    cores = os.cpu_count() or 1
    return min(workers, cores) if mode.kind == "process" or not gil_enabled() else 1


def run_best(
    mode: Mode, body: Callable[..., None], workers: int, *, attempts: int = 3, **kwargs: Any
) -> Run:
    """Call :func:`run_traced` until other programs left the cores alone, at most *attempts* times.

    A busy machine takes cores away from the workers, which hides the lesson (processes run side
    by side) behind other programs' work. A run is tried again while other programs left fewer
    free cores than the run needed (:func:`concur_lab.demos._machine.is_busy`); the quietest run
    is kept.

    :param attempts: The most runs to make, at least 1.
    :returns: The quietest run, with the number of runs made and its own duration.
    """
    cores, needed = os.cpu_count() or 1, needed_cores(mode, workers)
    best: Run | None = None
    for attempt in range(1, max(attempts, 1) + 1):
        started = time.perf_counter()
        t0, traces = run_traced(mode, body, workers, **kwargs)
        seconds = time.perf_counter() - started
        others = machine_others(traces)
        if best is None or (
            others is not None and (best.others_cores is None or others < best.others_cores)
        ):
            best = Run(t0, traces, others, attempt, seconds=seconds)
        if not _machine.is_busy(others, cores, needed):
            break
        if attempt < attempts:
            time.sleep(RETRY_PAUSE)  # let a burst of other work pass
    assert best is not None
    best.attempts = attempt
    best.busy = _machine.is_busy(best.others_cores, cores, needed)
    return best


def busy_chart_note(run: Run) -> str | None:
    """Say for a chart how much other programs used during *run*, or ``None`` if it was quiet."""
    if not run.busy or run.others_cores is None:
        return None
    return f"{run.others_cores:.1f} of {os.cpu_count() or 1} cores"


def _merged_running(traces: Sequence[Trace]) -> list[tuple[float, float]]:
    intervals = sorted(
        (start, end) for t in traces for start, end, kind in t.spans if kind == "running"
    )
    merged: list[tuple[float, float]] = []
    for start, end in intervals:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _split_wait(
    start: float, end: float, siblings: list[tuple[float, float]]
) -> list[tuple[float, float, str]]:
    """Cut a wait into the parts a sibling ran (the GIL) and the parts none did (no free CPU)."""
    pieces: list[tuple[float, float, str]] = []
    cursor = start
    index = bisect.bisect_left(siblings, (start, start)) - 1
    for s_start, s_end in siblings[max(index, 0) :]:
        if s_start >= end:
            break
        if s_end <= cursor:
            continue
        if s_start > cursor:
            pieces.append((cursor, s_start, "waiting-cpu"))
        pieces.append((max(cursor, s_start), min(end, s_end), "waiting-gil"))
        cursor = min(end, s_end)
    if cursor < end:
        pieces.append((cursor, end, "waiting-cpu"))
    # Slivers shorter than GAP are timing noise (a sibling's last chunk): they join a neighbour.
    kept: list[tuple[float, float, str]] = []
    for piece in pieces:
        if kept and (piece[1] - piece[0] < GAP or kept[-1][2] == piece[2]):
            kept[-1] = (kept[-1][0], piece[1], kept[-1][2])
        elif kept and kept[-1][1] - kept[-1][0] < GAP:
            kept[-1] = (kept[-1][0], piece[1], piece[2])
        else:
            kept.append(piece)
    return kept


def _classify_waits(traces: Sequence[Trace], *, gil_turns: bool) -> None:
    """Replace each trace's ``"waiting"`` spans by ``"waiting-gil"`` and ``"waiting-cpu"``.

    :param gil_turns: Whether the workers share a GIL (threads of a GIL build): only then can a
        sibling's running keep a worker waiting. Processes wait only for a free core.
    """
    for trace in traces:
        siblings = _merged_running([t for t in traces if t is not trace]) if gil_turns else []
        spans: list[tuple[float, float, str]] = []
        for start, end, kind in trace.spans:
            if kind != "waiting":
                spans.append((start, end, kind))
            elif gil_turns:
                spans.extend(_split_wait(start, end, siblings))
            else:
                spans.append((start, end, "waiting-cpu"))
        trace.spans = spans


def timeline(t0: float, traces: Sequence[Trace]) -> list[dict[str, Any]]:
    """Return the traces as timeline spans, in seconds from *t0*, with a start-up span each.

    :param t0: The run's start time.
    :param traces: One trace per worker.
    :returns: Spans ``{"worker", "name", "start", "end", "kind"}``; *kind* is ``"starting"``
        (from the start of the run until the workers were released together), ``"running"``,
        ``"waiting-gil"`` (ready, but a sibling thread held the GIL), ``"waiting-cpu"`` (ready,
        but no free core: other programs ran) or ``"sleeping"`` (blocked, as in I/O).
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

        spans.append(span(trace.launched, trace.gate or trace.start, "starting"))
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
