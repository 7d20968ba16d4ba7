"""Observations as table cells, in the current language.

Nested observations become indented rows and values short text. Which keys are rows, in what
order and under what label, is the demos' observation model (``concur_lab.demos._observations``),
which the docs' demo pages render too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from concur_lab._i18n import gettext as _
from concur_lab.demos._observations import SPECIAL_KEYS, label, merge_orders
from concur_lab.timeline import parse_spans

__all__ = ["cell_lines", "colon", "scalar", "timeline_note", "tree_rows"]


def timeline_note(raw: object) -> str:
    """Sum a run's timeline up in one cell: its spans, workers and length."""
    spans = parse_spans(raw)
    workers = len({span.worker for span in spans})
    end = max((span.end for span in spans), default=0.0)
    return _("{spans} spans, {workers} workers, {end:.2f} s (draw it with --plot FILE.png)").format(
        spans=len(spans), workers=workers, end=end
    )


_MISSING = object()


def tree_rows(values: Sequence[object], depth: int) -> list[tuple[str, list[list[str]]]]:
    """Lay out the runs' observations as table rows, nested dicts as indented sub-rows."""
    rows: list[tuple[str, list[list[str]]]] = []
    for key in merge_orders(v for v in values if isinstance(v, Mapping)):
        if depth == 0 and key in SPECIAL_KEYS:
            continue
        children = [v.get(key, _MISSING) if isinstance(v, Mapping) else _MISSING for v in values]
        children = _key_records(children)
        row_label = "  " * depth + label(key)
        nested = [c for c in children if c is not _MISSING]
        if all(isinstance(c, Mapping) and c for c in nested):
            rows.append((row_label, [[] for _value in values]))
            rows.extend(tree_rows(children, depth + 1))
        else:
            rows.append((row_label, [[] if c is _MISSING else cell_lines(c) for c in children]))
    return rows


def _key_records(values: list[Any]) -> list[Any]:
    """Turn lists of records that name themselves by their first field into dicts by that name.

    ``[{"case": "exit(3)", "exitcode": 3}, ...]`` becomes ``{"exit(3)": "exitcode=3", ...}``, so
    each record gets its own row and the same record sits side by side in both columns.
    """
    present = [v for v in values if v is not _MISSING]
    if not present or not all(
        isinstance(v, list) and v and all(isinstance(r, Mapping) and len(r) >= 2 for r in v)
        for v in present
    ):
        return values
    first_keys = {next(iter(record)) for v in present for record in v}
    if len(first_keys) != 1:
        return values
    (field,) = first_keys
    names = [[record[field] for record in v] for v in present]
    if not all(
        all(isinstance(n, str | int) and not isinstance(n, bool) for n in ns)
        and len(set(ns)) == len(ns)
        for ns in names
    ):
        return values
    return [
        v if v is _MISSING else {
            str(record[field]): _(", ").join(
                f"{label(k)}{colon()}{scalar(x)}" for k, x in record.items() if k != field
            )
            for record in v
        }
        for v in values
    ]


def cell_lines(value: Any) -> list[str]:
    """Format one observation as lines: lists of dicts one item a line, the rest compactly."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [
            _(", ").join(f"{label(k)}{colon()}{scalar(v)}" for k, v in item.items())
            for item in value
        ]
    return [scalar(value)]


def colon() -> str:
    """Return the separator between a label and its value: ``": "``, or a fullwidth colon."""
    return _(": ")


def scalar(value: Any) -> str:
    """Format one observed value compactly, a fixed message in the current language."""
    if isinstance(value, str):
        # A demo's fixed message (marked N_ in its module) is shown in the current language.
        return _(value)
    if isinstance(value, float):
        if math.isfinite(value) and 1e-3 <= abs(value) < 1e9:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    return repr(value)
