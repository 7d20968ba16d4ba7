"""Recording: the spans a demo's workers leave, checked, and one run's timeline per mode.

What the other modules read: :class:`Span` (one interval of one worker), :func:`parse_spans` (a
demo's ``"timeline"`` list checked and converted) and :class:`ModeTimeline` (one run's spans with
its drawing hints and the measures a headline is judged by). Nothing here draws or exports.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["BLOCKING_KINDS", "KIND_LABELS", "WAITING_KINDS", "ModeTimeline", "Span", "parse_spans"]

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

# The kinds in which a worker was ready to run but could not.
WAITING_KINDS = ("waiting", "waiting-gil", "waiting-cpu")
# The kinds in which a worker waited for I/O or a timer, needing no CPU.
BLOCKING_KINDS = ("blocked", "sleeping")


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

    def waiting_fraction(self, kinds: Collection[str] = WAITING_KINDS) -> float:
        """Return the share of the workers' running plus waiting time spent waiting.

        :param kinds: The waiting kinds that count, by default all three (``"waiting"``,
            ``"waiting-gil"`` and ``"waiting-cpu"``).
        :returns: A fraction from 0 to 1, 0.0 without running or waiting spans.
        """
        running = self.time_in(("running",))
        total = running + self.time_in(WAITING_KINDS)
        return self.time_in(kinds) / total if total > 0 else 0.0
