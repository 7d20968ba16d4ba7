"""Coalescing: spans redrawn on a grid, so that a chart has no bar thinner than a pixel."""

from __future__ import annotations

import math
from collections.abc import Iterable

from concur_lab.timeline._spans import Span

__all__ = ["coalesce"]


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
