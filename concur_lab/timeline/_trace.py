"""Trace export: timelines as Chrome trace-event JSON, for https://ui.perfetto.dev."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from concur_lab.timeline._spans import ModeTimeline

__all__ = ["to_trace_events", "write_trace"]

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
