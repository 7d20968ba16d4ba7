"""Timelines of worker activity: spans, Chrome trace-event JSON and Gantt charts.

A demo records what its workers did as *spans* (``observations["timeline"]``): one
``{"worker": 0, "name": "countdown", "start": 0.012, "end": 0.017, "kind": "running"}`` per
interval, with times in seconds since the run started. This module turns the spans of one run per
mode into

* Chrome trace-event JSON (:func:`write_trace`), which opens in https://ui.perfetto.dev and
  ``chrome://tracing``: one trace "process" per mode, one "thread" per worker; and
* a Gantt chart (:func:`plot_gantt`): one panel per mode on a shared time axis, one row per
  worker, bars coloured by kind. It needs matplotlib, the optional ``plot`` extra
  (``pip install "concur-lab[plot]"``), which is imported only when a chart is drawn.

Kinds with a shared meaning: ``"running"`` (executing on a CPU, e.g. holding the GIL),
``"waiting-gil"`` (ready, but a sibling thread held the GIL), ``"waiting-cpu"`` (ready, but no
core was free: other programs had them), ``"waiting"`` (for something else, e.g. a lock or a
barrier), ``"blocked"`` or ``"sleeping"`` (in I/O or ``sleep``) and ``"starting"`` (start-up
before the worker's own code). Any other kind is drawn and exported under its own name.

Observations may also carry a ``"chart"`` dict that tunes the drawing of their run (see
:meth:`ModeTimeline.from_observations`): facts to print on the panel, whether the work was
time-boxed (then no "all done" marker), a window to zoom into, gridlines, and a note that the
machine was busy.
"""

from __future__ import annotations

import json
import math
import os
import textwrap
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KIND_LABELS",
    "ModeTimeline",
    "PlotUnavailableError",
    "Span",
    "coalesce",
    "headline",
    "parse_spans",
    "plot_gantt",
    "to_trace_events",
    "write_trace",
]

KIND_LABELS: Mapping[str, str] = {
    "running": "running (on a CPU)",
    "waiting-gil": "waiting for the GIL (another thread ran)",
    "waiting-cpu": "no free CPU (other programs ran)",
    "waiting": "waiting (for a lock, a barrier or a CPU)",
    "sleeping": "sleeping or blocked on I/O",
    "blocked": "blocked (sleeping or on I/O)",
    "starting": "starting up",
}
"""Legend text for the kinds with a shared meaning, in legend order."""

_KIND_COLOURS: Mapping[str, str] = {
    "running": "#1f6fb4",
    "waiting-gil": "#bdbdbd",
    "waiting-cpu": "#fde0dd",
    "waiting": "#d4d4d4",
    "sleeping": "#9ecae1",
    "blocked": "#9ecae1",
    "starting": "#fdae6b",
}
# Hatched, so "no free CPU" stays distinct from the GIL's grey in print and for colour-blind eyes.
_KIND_HATCHES: Mapping[str, tuple[str, str]] = {"waiting-cpu": ("////", "#d6604d")}
_WAITING = ("waiting", "waiting-gil", "waiting-cpu")
# For kinds without a shared meaning: distinct from the colours above, colour-blind friendly.
_EXTRA_COLOURS = ("#2ca25f", "#8856a7", "#e6550d", "#636363", "#c51b8a", "#31a354")

# Reserved colour names of the legacy chrome://tracing viewer (Perfetto ignores them).
_TRACE_CNAMES: Mapping[str, str] = {
    "running": "thread_state_running",
    "waiting-gil": "thread_state_runnable",
    "waiting-cpu": "terrible",
    "waiting": "thread_state_runnable",
    "sleeping": "thread_state_sleeping",
    "blocked": "thread_state_iowait",
    "starting": "thread_state_unknown",
}

_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_INSTALL_HINT = 'pip install "concur-lab[plot]"'


class PlotUnavailableError(ImportError):
    """matplotlib, needed to draw charts, is not installed."""


@dataclass(frozen=True, slots=True)
class Span:
    """One interval of one worker's activity.

    :ivar worker: The worker's index (0-based), one chart row per worker.
    :ivar name: What the worker was doing, e.g. ``"countdown"``.
    :ivar start: Seconds since the run started.
    :ivar end: Seconds since the run started, not before *start*.
    :ivar kind: ``"running"``, ``"waiting"``, ``"blocked"``, ``"starting"`` or any other word.
    """

    worker: int
    name: str
    start: float
    end: float
    kind: str = "running"

    def __post_init__(self) -> None:
        if not math.isfinite(self.start) or not math.isfinite(self.end):
            raise ValueError(f"span times must be finite numbers, got {self.start}..{self.end}")
        if self.end < self.start:
            raise ValueError(f"span ends before it starts: {self.start} > {self.end}")

    @property
    def duration(self) -> float:
        """Seconds from *start* to *end*."""
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        """Return the span as the JSON-serialisable dict demos record."""
        return {
            "worker": self.worker,
            "name": self.name,
            "start": self.start,
            "end": self.end,
            "kind": self.kind,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "span") -> Span:
        """Build a span from a demo's dict, checking every field.

        :param data: ``{"worker", "name", "start", "end"}`` and optionally ``"kind"``.
        :param where: Names the span in error messages, e.g. ``"timeline[3]"``.
        :raises ValueError: If a field is missing or has the wrong type or value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"{where}: a span must be a dict, not {type(data).__name__}")
        missing = [key for key in ("worker", "name", "start", "end") if key not in data]
        if missing:
            raise ValueError(f"{where}: span lacks {', '.join(map(repr, missing))}: {data!r}")
        worker, name, kind = data["worker"], data["name"], data.get("kind", "running")
        if isinstance(worker, bool) or not isinstance(worker, int):
            raise ValueError(f"{where}: 'worker' must be an int, got {worker!r}")
        if not isinstance(name, str) or not isinstance(kind, str):
            raise ValueError(f"{where}: 'name' and 'kind' must be strings: {data!r}")
        times = []
        for key in ("start", "end"):
            value = data[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{where}: {key!r} must be a number of seconds, got {value!r}")
            times.append(float(value))
        try:
            return cls(worker, name, times[0], times[1], kind)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None


def parse_spans(raw: object, *, where: str = "timeline") -> tuple[Span, ...]:
    """Check and convert a demo's ``"timeline"`` list into spans.

    :param raw: A list of span dicts (or :class:`Span` objects).
    :param where: Names the list in error messages.
    :returns: The spans, in the order given.
    :raises ValueError: If *raw* is not a list of valid spans.
    """
    if isinstance(raw, str | bytes) or not isinstance(raw, Sequence):
        raise ValueError(f"{where} must be a list of spans, not {type(raw).__name__}")
    return tuple(
        item if isinstance(item, Span) else Span.from_dict(item, where=f"{where}[{i}]")
        for i, item in enumerate(raw)
    )


@dataclass(frozen=True)
class ModeTimeline:
    """The spans of one run in one mode: one panel of a chart, one process of a trace.

    :ivar label: The mode's label, e.g. ``"thread"`` or ``"process[fork]"``.
    :ivar spans: What the workers did.
    :ivar facts: Short texts the chart prints on the panel, e.g. ``"CPU/wall 0.98"``.
    :ivar time_boxed: Whether the workers worked for a fixed time: then when they were done
        says nothing, and the chart draws no "all done" marker.
    :ivar window: ``(start, end)`` seconds to zoom the chart into, or ``None`` for all.
    :ivar gridlines: Seconds between labelled vertical gridlines, or ``None``.
    :ivar gridline_label: What the gridlines mark, e.g. ``"switch interval"``.
    :ivar busy: How much of the machine other programs used during the run, e.g. ``"1.3 of 2
        cores"``, or ``None`` if the machine was not busy.
    """

    label: str
    spans: tuple[Span, ...]
    facts: tuple[str, ...] = ()
    time_boxed: bool = False
    window: tuple[float, float] | None = None
    gridlines: float | None = None
    gridline_label: str = ""
    busy: str | None = None

    @classmethod
    def from_observations(cls, label: str, observed: Mapping[str, Any]) -> ModeTimeline:
        """Build the timeline of a demo run from its observations.

        :param label: The mode's label.
        :param observed: The dict the demo returned; its ``"timeline"`` key holds the spans, an
            optional ``"chart"`` dict the drawing hints: ``"facts"`` (list of str),
            ``"time_boxed"`` (bool), ``"window"`` (``[start, end]`` seconds), ``"gridlines"``
            (seconds), ``"gridline_label"`` (str) and ``"busy"`` (str).
        :raises ValueError: If there is no ``"timeline"`` key, it is not a list of spans, or a
            ``"chart"`` hint has the wrong type.
        """
        if "timeline" not in observed:
            raise ValueError(f"the {label} run recorded no timeline (no 'timeline' key)")
        spans = parse_spans(observed["timeline"], where=f"{label} timeline")
        chart = observed.get("chart") or {}
        where = f"{label} observations['chart']"
        if not isinstance(chart, Mapping):
            raise ValueError(f"{where} must be a dict, not {type(chart).__name__}")
        facts = chart.get("facts", [])
        if isinstance(facts, str) or not all(isinstance(f, str) for f in facts):
            raise ValueError(f"{where}['facts'] must be a list of strings, got {facts!r}")
        window = chart.get("window")
        if window is not None:
            if (
                not isinstance(window, Sequence)
                or len(window) != 2
                or not all(isinstance(v, int | float) and math.isfinite(v) for v in window)
                or not window[0] < window[1]
            ):
                raise ValueError(f"{where}['window'] must be [start, end] seconds, got {window!r}")
            window = (float(window[0]), float(window[1]))
        gridlines = chart.get("gridlines")
        if gridlines is not None and not (
            isinstance(gridlines, int | float) and math.isfinite(gridlines) and gridlines > 0
        ):
            raise ValueError(f"{where}['gridlines'] must be positive seconds, got {gridlines!r}")
        busy = chart.get("busy")
        if busy is not None and not isinstance(busy, str):
            raise ValueError(f"{where}['busy'] must be a string, got {busy!r}")
        return cls(
            label,
            spans,
            facts=tuple(facts),
            time_boxed=bool(chart.get("time_boxed", False)),
            window=window,
            gridlines=None if gridlines is None else float(gridlines),
            gridline_label=str(chart.get("gridline_label", "")),
            busy=busy,
        )

    @property
    def is_thread(self) -> bool:
        """Whether the workers were threads (judged by the label)."""
        return self.label.startswith("thread")

    @property
    def workers(self) -> tuple[int, ...]:
        """The worker indices that have spans, sorted."""
        return tuple(sorted({span.worker for span in self.spans}))

    def worker_name(self, worker: int) -> str:
        """Return ``"worker N"``, plus the worker's own name when its spans identify it.

        E.g. ``"worker 1 (process 4242)"``: telling PIDs apart is half the lesson. A name is
        shown only if all the worker's spans carry it and no other worker's do (a shared name
        like ``"countdown"`` names the task, not the worker), and not if it only repeats the
        index, like ``"worker-1"`` or ``"concur-worker-1"``.
        """
        label = f"worker {worker}"
        names = {span.name for span in self.spans if span.worker == worker}
        if len(names) != 1:
            return label
        (name,) = names
        shared = any(span.name == name for span in self.spans if span.worker != worker)
        repeats_index = "".join(ch for ch in name.lower() if ch.isalnum()).endswith(
            f"worker{worker}"
        )
        return label if shared or repeats_index else f"{label} ({name})"

    @property
    def end(self) -> float:
        """Seconds from the run start to the end of the last span (0 without spans)."""
        return max((span.end for span in self.spans), default=0.0)

    def mean_running(self) -> float:
        """Return how many workers were ``"running"`` at once, on average.

        It is the total running time divided by the time from the first running span's start to
        the last one's end: about 1 when workers take turns (threads under the GIL), about the
        number of workers when they run side by side (processes on enough cores).

        :returns: The average, 0.0 if nothing ran.
        """
        running = [span for span in self.spans if span.kind == "running"]
        if not running:
            return 0.0
        wall = max(s.end for s in running) - min(s.start for s in running)
        busy = sum(s.duration for s in running)
        return busy / wall if wall > 0 else 0.0

    def overlap_fraction(self, kinds: Collection[str] = ("running",)) -> float:
        """Return the share of the time any worker was in *kinds* that two or more were.

        For ``"running"``: about 0 for threads under the GIL, which never run Python code at
        the same time; near 1 for processes on enough idle cores.

        :param kinds: The span kinds that count, by default only ``"running"``.
        :returns: A fraction from 0 to 1, 0.0 if no span has one of *kinds*.
        """
        edges: list[tuple[float, int]] = []
        for span in self.spans:
            if span.kind in kinds and span.end > span.start:
                edges += [(span.start, 1), (span.end, -1)]
        edges.sort()
        active, since, busy, together = 0, 0.0, 0.0, 0.0
        for moment, step in edges:
            if active >= 1:
                busy += moment - since
            if active >= 2:
                together += moment - since
            active += step
            since = moment
        return together / busy if busy > 0 else 0.0

    def time_in(self, kinds: Collection[str]) -> float:
        """Return the seconds all workers together spent in spans of *kinds*."""
        return sum(span.duration for span in self.spans if span.kind in kinds)

    def waiting_fraction(self, kinds: Collection[str] = _WAITING) -> float:
        """Return the share of the workers' running plus waiting time spent waiting.

        :param kinds: The waiting kinds that count, by default all three (``"waiting"``,
            ``"waiting-gil"`` and ``"waiting-cpu"``).
        :returns: A fraction from 0 to 1, 0.0 without running or waiting spans.
        """
        running = self.time_in(("running",))
        total = running + self.time_in(_WAITING)
        return self.time_in(kinds) / total if total > 0 else 0.0


_BLOCKING = ("blocked", "sleeping")


def _is_io_bound(timeline: ModeTimeline) -> bool:
    blocked = timeline.time_in(_BLOCKING)
    return blocked > 0.3 * (blocked + timeline.time_in(("running",)))


def _describe(timeline: ModeTimeline) -> str:
    """Say in a few words how a mode's workers shared the CPUs (and their I/O waits)."""
    if len(timeline.workers) < 2 or not timeline.time_in(("running", *_BLOCKING)):
        return "ran"
    together = timeline.overlap_fraction()
    io_bound = _is_io_bound(timeline)
    # Processes need no permission to run: if they waited, the CPUs were busy elsewhere. (For
    # I/O-bound work the waits are short next to the blocking, and the blocking is the lesson.)
    starved = timeline.waiting_fraction(("waiting-cpu",)) > 0.3 or (
        not (timeline.is_thread or io_bound) and timeline.waiting_fraction() > 0.3
    )
    if together >= 0.6:
        cpu = "run side by side"
    elif starved and together >= 0.05:
        cpu = "partly overlap (they often waited for a free CPU: the machine was busy)"
    elif together >= 0.05:
        cpu = "partly overlap on the CPU" if io_bound else "partly overlap"
    elif starved and timeline.is_thread:
        # Their turns are the GIL's; the gaps between them were the busy machine's.
        cpu = "take turns, one at a time"
    elif starved:
        cpu = "waited for a free CPU (the machine was busy)"
    else:
        cpu = "take turns on the CPU" if io_bound else "take turns, one at a time"
    if not io_bound:
        return cpu
    blocked_together = timeline.overlap_fraction(_BLOCKING)
    if blocked_together >= 0.6:
        if cpu == "run side by side":
            return "run and wait for I/O side by side"
        return f"{cpu} but wait for I/O side by side"
    if blocked_together >= 0.05:
        return f"{cpu} and partly overlap their I/O waits"
    return f"{cpu} and wait for I/O one at a time"


def headline(timelines: Sequence[ModeTimeline]) -> str:
    """Sum up in plain words, from the spans, how each mode's workers shared the CPUs.

    :returns: E.g. ``"Threads take turns, one at a time — processes run side by side"``, one
        clause per timeline, judged by :meth:`ModeTimeline.overlap_fraction`; one clause for
        both (``"Threads and processes both …"``) when they behaved alike.
    """
    subjects = ["threads" if timeline.is_thread else "processes" for timeline in timelines]
    descriptions = [_describe(timeline) for timeline in timelines]
    if len(set(subjects)) == len(subjects) > 1 and len(set(descriptions)) == 1:
        # Saying the same thing twice hides that the sameness is the point.
        text = f"{' and '.join(subjects)} both {descriptions[0]}"
    else:
        text = " — ".join(f"{s} {d}" for s, d in zip(subjects, descriptions, strict=True))
    return text[:1].upper() + text[1:]


def to_trace_events(
    timelines: Sequence[ModeTimeline], *, name: str | None = None
) -> dict[str, Any]:
    """Return the timelines as a Chrome trace-event JSON object.

    Each mode becomes a trace process (``pid`` 1, 2, … in the given order) named after its label,
    each worker a thread (``tid`` = worker index) named by :meth:`ModeTimeline.worker_name`, each
    span a complete (``"X"``) event with microsecond ``ts``/``dur``, named after its kind (the
    viewers colour slices by name) with the span's own name in ``args.span``. Both modes start
    at time 0, so they line up for comparison.

    :param name: Stored as ``otherData.demo``, shown by the trace viewers.
    """
    events: list[dict[str, Any]] = []
    for pid, timeline in enumerate(timelines, start=1):
        events.append(
            {"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
             "args": {"name": f"{timeline.label} mode"}}
        )
        events.append(
            {"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
             "args": {"sort_index": pid}}
        )
        for worker in timeline.workers:
            events.append(
                {"ph": "M", "name": "thread_name", "pid": pid, "tid": worker,
                 "args": {"name": timeline.worker_name(worker)}}
            )
            events.append(
                {"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": worker,
                 "args": {"sort_index": worker}}
            )
        for span in sorted(timeline.spans, key=lambda s: (s.worker, s.start)):
            # Named by kind: Perfetto colours slices by name, so running and waiting differ.
            event: dict[str, Any] = {
                "ph": "X",
                "name": span.kind,
                "cat": span.kind,
                "pid": pid,
                "tid": span.worker,
                "ts": round(span.start * 1e6, 3),
                "dur": round(span.duration * 1e6, 3),
                "args": {"span": span.name},
            }
            if span.kind in _TRACE_CNAMES:
                event["cname"] = _TRACE_CNAMES[span.kind]
            events.append(event)
    trace: dict[str, Any] = {"traceEvents": events, "displayTimeUnit": "ms"}
    if name is not None:
        trace["otherData"] = {"demo": name}
    return trace


def write_trace(
    path: str | os.PathLike[str], timelines: Sequence[ModeTimeline], *, name: str | None = None
) -> None:
    """Write :func:`to_trace_events` to *path*, for https://ui.perfetto.dev or chrome://tracing.

    :raises OSError: If *path* cannot be written.
    """
    with open(path, "w", encoding="utf-8") as file:
        json.dump(to_trace_events(timelines, name=name), file)
        file.write("\n")


def coalesce(spans: Iterable[Span], resolution: float) -> tuple[Span, ...]:
    """Redraw *spans* on a grid of *resolution* seconds, so that no bar is thinner than a cell.

    A chart cannot show activity shorter than a pixel: thousands of sub-pixel bars only blur into
    a grey smear. Each worker's time is cut into cells of *resolution* seconds; a cell takes the
    kind that covers most of it (or stays empty if idle time does), and neighbouring cells of the
    same kind merge into one span named after the longest span it absorbed.

    :param resolution: The cell size in seconds (the duration of one pixel), greater than 0.
    :returns: The merged spans, per worker in time order.
    :raises ValueError: If *resolution* is not positive.
    """
    if not resolution > 0:
        raise ValueError(f"resolution must be a positive number of seconds, got {resolution}")
    by_worker: dict[int, list[Span]] = {}
    for span in spans:
        by_worker.setdefault(span.worker, []).append(span)
    merged: list[Span] = []
    for worker in sorted(by_worker):
        merged.extend(_coalesce_worker(worker, by_worker[worker], resolution))
    return tuple(merged)


def _coalesce_worker(worker: int, spans: list[Span], resolution: float) -> list[Span]:
    origin = min(span.start for span in spans)
    # cells[i][kind] = seconds of *kind* in cell i; names[i][kind][name] the same per span name.
    cells: dict[int, dict[str, float]] = {}
    names: dict[int, dict[str, dict[str, float]]] = {}
    for span in spans:
        first = int((span.start - origin) / resolution)
        last = max(first, math.ceil((span.end - origin) / resolution) - 1)
        for cell in range(first, last + 1):
            lo = max(span.start, origin + cell * resolution)
            hi = min(span.end, origin + (cell + 1) * resolution)
            # A zero-length span still claims its cell: every activity stays visible.
            covered = max(hi - lo, 1e-12)
            kinds = cells.setdefault(cell, {})
            kinds[span.kind] = kinds.get(span.kind, 0.0) + covered
            per_name = names.setdefault(cell, {}).setdefault(span.kind, {})
            per_name[span.name] = per_name.get(span.name, 0.0) + covered
    result: list[Span] = []
    run: tuple[str, int, int, dict[str, float]] | None = None  # kind, first, last cell, names
    for cell in sorted(cells):
        kind = max(cells[cell].items(), key=lambda item: item[1])[0]
        cell_names = names[cell][kind]
        if run is not None and run[0] == kind and run[2] == cell - 1:
            for name, weight in cell_names.items():
                run[3][name] = run[3].get(name, 0.0) + weight
            run = (kind, run[1], cell, run[3])
            continue
        if run is not None:
            result.append(_cells_to_span(worker, origin, resolution, run))
        run = (kind, cell, cell, dict(cell_names))
    if run is not None:
        result.append(_cells_to_span(worker, origin, resolution, run))
    return result


def _cells_to_span(
    worker: int, origin: float, resolution: float, run: tuple[str, int, int, dict[str, float]]
) -> Span:
    kind, first, last, weights = run
    name = max(weights, key=lambda n: weights[n])
    return Span(worker, name, origin + first * resolution, origin + (last + 1) * resolution, kind)


def _check_plot_path(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    suffix = os.path.splitext(text)[1].lower()
    if suffix not in _PLOT_SUFFIXES:
        raise ValueError(
            f"cannot draw {text!r}: the file name must end in {', '.join(_PLOT_SUFFIXES)}"
        )
    return text


def _new_figure(**kwargs: Any) -> Any:
    """Return a matplotlib figure drawn by the Agg canvas, or explain how to install matplotlib.

    The figure is made without :mod:`matplotlib.pyplot`: no global backend switch, no GUI window,
    nothing to close, so drawing a chart cannot disturb a notebook or an application's figures.
    """
    try:
        import matplotlib  # noqa: F401  (the package itself first: its absence is the message)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise PlotUnavailableError(
            f"drawing charts needs matplotlib, which is not installed: {_INSTALL_HINT}"
        ) from exc
    figure = Figure(**kwargs)
    FigureCanvasAgg(figure)
    return figure


def plot_gantt(
    path: str | os.PathLike[str],
    timelines: Sequence[ModeTimeline],
    *,
    title: str | None = None,
    subtitle: str | None = None,
) -> None:
    """Draw the timelines as a Gantt chart into *path* (``.png``, ``.svg`` or ``.pdf``).

    One panel per mode, stacked, on a shared time axis; one row per worker; bars coloured by
    kind, with a legend. Spans shorter than a pixel are merged (:func:`coalesce`). Each panel
    states how many workers ran at once on average, plus its timeline's *facts*. A timeline with
    a *window* is drawn zoomed into it (each panel on its own axis), with its *gridlines*; a
    *busy* note is printed under the headline; time-boxed work gets no "all done" marker.

    :param title: The chart's headline; default :func:`headline`, which says in words what the
        spans show.
    :param subtitle: A second, smaller line, e.g. the demo's lesson.
    :raises PlotUnavailableError: If matplotlib is not installed.
    :raises ValueError: If *path* has another suffix or there is nothing to draw.
    :raises OSError: If *path* cannot be written.
    """
    text_path = _check_plot_path(path)
    if not timelines or not any(timeline.spans for timeline in timelines):
        raise ValueError("nothing to draw: the timelines hold no spans")
    views = [timeline.window or (0.0, timeline.end) for timeline in timelines]
    zoomed = any(timeline.window for timeline in timelines)
    if not zoomed:
        views = [(0.0, max(timeline.end for timeline in timelines))] * len(timelines)
    longest = max(hi - lo for lo, hi in views)
    # Milliseconds read better than "0.004 s" for the short runs demos make.
    scale, unit = (1e3, "ms") if max(hi for _, hi in views) < 2.0 else (1.0, "s")
    rows = [max(len(timeline.workers), 1) for timeline in timelines]
    width_in, dpi = 11.0, 150
    heading = textwrap.fill(title if title is not None else headline(timelines), 78)
    busy = [f"{t.busy} during the {t.label} run" for t in timelines if t.busy]
    warning = ""
    if busy:
        warning = textwrap.fill(
            f"Machine busy: other programs used {', '.join(busy)}. The workers had to wait for a"
            " free core (hatched): rerun on an idle machine for the clean picture.",
            120,
        )
    lesson = textwrap.fill(subtitle, 125) if subtitle else ""
    # Each block of the header sits right under the previous one: points of height per line.
    blocks = [(heading, 15.0, "#000000", "bold")]
    if warning:
        blocks.append((warning, 10.5, "#b2182b", "bold"))
    if lesson:
        blocks.append((lesson, 10.5, "#444444", "normal"))
    line_pt = [size * 1.3 * (text.count("\n") + 1) for text, size, _, _ in blocks]
    header_in = (sum(line_pt) + 4.0 * (len(blocks) - 1)) / 72 + 0.2
    panels_in = [0.45 * r + 0.75 for r in rows]
    fig = _new_figure(
        figsize=(width_in, header_in + sum(panels_in) + 0.3 * len(rows) + 0.6),
        dpi=dpi,
        layout="constrained",
    )
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib.transforms import blended_transform_factory

    grid = fig.add_gridspec(len(timelines) + 1, 1, height_ratios=[header_in, *panels_in])
    header = fig.add_subplot(grid[0])
    header.axis("off")
    # Left-aligned with the figure, not with the panels, whose y labels vary in width.
    place = blended_transform_factory(fig.transFigure, header.transAxes)
    offset = 0.0
    for (text, size, colour, weight), height in zip(blocks, line_pt, strict=True):
        note = header.annotate(
            text, (0.012, 1.0), xycoords=place, xytext=(0, -offset), textcoords="offset points",
            fontsize=size, fontweight=weight, color=colour, va="top", ha="left",
        )
        # The header row has a fixed height: its text must not squeeze the panels sideways.
        note.set_in_layout(False)
        offset += height + 4.0
    # About one plot-area pixel: finer detail would only blur.
    resolution = max(longest, 1e-9) / (width_in * dpi * 0.85)
    kinds_seen: list[str] = []
    gridline_labels: list[str] = []
    first_ax = None
    for index, (timeline, (lo, hi)) in enumerate(zip(timelines, views, strict=True)):
        ax = fig.add_subplot(grid[index + 1], sharex=None if zoomed else first_ax)
        first_ax = first_ax or ax
        visible = _clip(timeline.spans, lo, hi) if timeline.window else timeline.spans
        _draw_panel(
            ax, timeline, coalesce(visible, resolution) if visible else (), scale, hi, kinds_seen
        )
        ax.set_xlim(lo * scale, lo * scale + longest * scale * 1.02)
        if timeline.gridlines:
            label = timeline.gridline_label or "gridline"
            label = f"{label}: every {_format_time(timeline.gridlines, scale)}"
            if label not in gridline_labels:
                gridline_labels.append(label)
            moment = lo + timeline.gridlines
            while moment < hi:
                ax.axvline(moment * scale, color="#7b3294", linestyle=":", linewidth=1.1)
                moment += timeline.gridlines
        if index < len(timelines) - 1 and not zoomed:
            ax.tick_params(labelbottom=False)
    ax.set_xlabel(f"time since the run started ({unit})")
    handles: list[Any] = [
        Patch(facecolor=_colour(kind, kinds_seen), edgecolor=_HATCH_EDGE.get(kind, "#555555"),
              hatch=_KIND_HATCHES[kind][0] if kind in _KIND_HATCHES else None, linewidth=0.5,
              label=KIND_LABELS.get(kind, kind))
        for kind in _legend_order(kinds_seen)
    ]
    handles += [
        Line2D([], [], color="#7b3294", linestyle=":", linewidth=1.1, label=label)
        for label in gridline_labels
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 3),
               frameon=False, fontsize=10)
    fig.savefig(text_path, dpi=dpi)


_HATCH_EDGE = {kind: edge for kind, (_, edge) in _KIND_HATCHES.items()}


def _clip(spans: Iterable[Span], lo: float, hi: float) -> tuple[Span, ...]:
    """Return the parts of *spans* inside ``[lo, hi]``."""
    return tuple(
        Span(s.worker, s.name, max(s.start, lo), min(s.end, hi), s.kind)
        for s in spans
        if s.end > lo and s.start < hi
    )


def _legend_order(kinds: Sequence[str]) -> list[str]:
    known = [kind for kind in KIND_LABELS if kind in kinds]
    return known + [kind for kind in kinds if kind not in KIND_LABELS]


def _colour(kind: str, kinds_seen: Sequence[str]) -> str:
    if kind in _KIND_COLOURS:
        return _KIND_COLOURS[kind]
    extra = [k for k in kinds_seen if k not in _KIND_COLOURS]
    return _EXTRA_COLOURS[extra.index(kind) % len(_EXTRA_COLOURS)]


def _draw_panel(
    ax: Any,
    timeline: ModeTimeline,
    spans: Sequence[Span],
    scale: float,
    end: float,
    kinds_seen: list[str],
) -> None:
    """Draw one mode's rows of bars on *ax*; record the kinds drawn in *kinds_seen*."""
    workers = timeline.workers
    for span in spans:
        if span.kind not in kinds_seen:
            kinds_seen.append(span.kind)
    for row, worker in enumerate(workers):
        for kind in kinds_seen:
            bars = [
                (span.start * scale, span.duration * scale)
                for span in spans
                if span.worker == worker and span.kind == kind
            ]
            if not bars:
                continue
            if kind in _KIND_HATCHES:
                hatch, edge = _KIND_HATCHES[kind]
                ax.broken_barh(bars, (row - 0.38, 0.76), facecolors=_colour(kind, kinds_seen),
                               edgecolors=edge, hatch=hatch, linewidth=0)
            else:
                ax.broken_barh(bars, (row - 0.38, 0.76), facecolors=_colour(kind, kinds_seen),
                               linewidth=0)
    ax.set_yticks(
        range(len(workers)),
        [timeline.worker_name(w).replace(" (", "\n(", 1) for w in workers],
    )
    ax.set_ylim(len(workers) - 0.5 if workers else 0.5, -0.5)
    ax.grid(axis="x", color="#e8e8e8", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    subject = "Threads" if timeline.is_thread else "Processes"
    mode = "thread mode"
    if not timeline.is_thread:
        mode = timeline.label.replace("process[", "process mode, ").rstrip("]")
    count = len(workers)
    detail = f"{count} worker{'s' if count != 1 else ''}" if timeline.spans else "no spans"
    if timeline.is_thread and timeline.spans:
        detail += " in one process"
    else:
        detail += ", one process each" if timeline.spans and count > 1 else ""
    if timeline.window:
        lo, hi = timeline.window
        whole = _format_time(timeline.end, scale)
        detail += f" — zoom: {lo * scale:.0f}–{_format_time(hi, scale)} of {whole}"
    facts: list[str] = []
    if count >= 2 and timeline.time_in(("running", *_BLOCKING)):
        facts.append(f"2+ running at once: {timeline.overlap_fraction():.0%} of the time")
        if _is_io_bound(timeline):
            facts.append(f"2+ blocked at once: {timeline.overlap_fraction(_BLOCKING):.0%}")
        elif not timeline.facts:
            facts.append(f"on average {timeline.mean_running():.1f} running")
    facts += timeline.facts
    # The facts get their own line under the panel's title: side by side they would collide.
    ax.set_title(f"{subject} ({mode}), {detail}", loc="left", fontsize=11.5,
                 pad=17 if facts else 6)
    if facts:
        ax.annotate("  ·  ".join(facts), (0.0, 1.0), xycoords="axes fraction", xytext=(0, 4),
                    textcoords="offset points", fontsize=10, color="#333333", va="bottom",
                    ha="left")
    if timeline.spans and not timeline.time_boxed and not timeline.window:
        # Where the mode's work ended: comparing these marks is comparing the modes' wall time.
        done = timeline.end * scale
        ax.axvline(done, color="#b22222", linestyle="--", linewidth=1.2)
        # Near the right edge the note goes left of the line, so it never leaves the panel.
        left = timeline.end > 0.75 * end
        ax.annotate(
            f"all done: {_format_time(timeline.end, scale)}",
            (done, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4 if left else 4, -2),
            textcoords="offset points",
            color="#b22222",
            fontsize=9.5,
            ha="right" if left else "left",
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1.0},
        )


def _format_time(seconds: float, scale: float) -> str:
    if scale != 1e3:
        return f"{seconds:.2f} s"
    return f"{seconds * 1e3:.0f} ms" if seconds >= 0.01 else f"{seconds * 1e3:.1f} ms".replace(
        ".0 ms", " ms"
    )
