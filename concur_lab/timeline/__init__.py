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

The package parts by job: recording (``_spans``: :class:`Span`, :func:`parse_spans`,
:class:`ModeTimeline`), reading (``_headline``), trace export (``_trace``) and drawing
(``_coalesce`` and ``_gantt``). Its boundary: it knows spans, not workers; the engine and the
demos record the spans, and nothing here imports them.
"""

from __future__ import annotations

from concur_lab.timeline._coalesce import coalesce
from concur_lab.timeline._gantt import PlotUnavailableError, plot_gantt
from concur_lab.timeline._headline import headline
from concur_lab.timeline._spans import KIND_LABELS, ModeTimeline, Span, parse_spans
from concur_lab.timeline._trace import to_trace_events, write_trace

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
