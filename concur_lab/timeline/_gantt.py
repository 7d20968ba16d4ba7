"""Drawing: Gantt charts of the timelines with matplotlib, imported only when a chart is drawn."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from concur_lab.timeline._coalesce import coalesce
from concur_lab.timeline._headline import headline, is_io_bound
from concur_lab.timeline._spans import BLOCKING_KINDS, KIND_LABELS, ModeTimeline, Span

__all__ = ["PlotUnavailableError", "plot_gantt"]

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
# For kinds without a shared meaning: distinct from the colours above, colour-blind friendly.
_EXTRA_COLOURS = ("#2ca25f", "#8856a7", "#e6550d", "#636363", "#c51b8a", "#31a354")

_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_INSTALL_HINT = 'pip install "concur-lab[plot]"'


class PlotUnavailableError(ImportError):
    """matplotlib, needed to draw charts, is not installed."""


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
    if count >= 2 and timeline.time_in(("running", *BLOCKING_KINDS)):
        facts.append(f"2+ running at once: {timeline.overlap_fraction():.0%} of the time")
        if is_io_bound(timeline):
            facts.append(f"2+ blocked at once: {timeline.overlap_fraction(BLOCKING_KINDS):.0%}")
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
