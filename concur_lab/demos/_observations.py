"""The demos' observations as their readers see them: which keys are rows, in what order, named how.

Both renderers of the observations, the command line's tables and the docs' demo pages, take
their rows from here, so that a learner meets one name for one observation wherever it is shown
and a label fixed once is fixed everywhere. Rendering the values stays each renderer's own (the
docs show Python literals, the command line compact text).

The labels are looked up in the ``concur_lab`` catalog in the current language (see
:mod:`concur_lab._i18n`); the demos' labels are marked for translation in
:mod:`concur_lab.demos._labels`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TypeVar

from concur_lab import Mode
from concur_lab._i18n import gettext as _

__all__ = [
    "SPECIAL_KEYS",
    "dotted_label",
    "flatten",
    "label",
    "merge_orders",
    "mode_kind",
    "mode_label",
]

SPECIAL_KEYS = ("summary", "varies", "timeline", "chart")
"""Top-level keys with a shared meaning (see :mod:`concur_lab.demos`), shown on their own.

They are never a row of an observations table: the summary and the varies note are lines of
their own, the timeline and its chart hints are drawn.
"""

_Key = TypeVar("_Key", bound=Hashable)


def label(key: object) -> str:
    """Return an observation key as a label in the current language.

    ``wall_s`` becomes ``wall (s)``, an underscore a space, and the result is looked up in the
    catalog, so ``caller_set`` reads 调用方设置的值 in Chinese.
    """
    text = str(key)
    if text.endswith("_s") and len(text) > 2:
        text = text[:-2] + " (s)"
    return _(text.replace("_", " "))


def dotted_label(key: str, separator: str) -> str:
    """Return a dotted key of :func:`flatten` as its parts' labels joined by *separator*."""
    return separator.join(label(part) for part in key.split("."))


def mode_label(mode: Mode | str) -> str:
    """Return the mode's label in the current language: ``thread`` or ``process[fork]``."""
    parsed = Mode.parse(mode)
    if parsed.kind == "thread":
        return _("thread")
    return _("process[{method}]").format(method=parsed.start_method)


def mode_kind(mode: Mode | str) -> str:
    """Return ``thread`` or ``process`` in the current language."""
    return _("thread") if Mode.parse(mode).kind == "thread" else _("process")


def flatten(observed: Mapping[str, Any], *, depth: int | None = None) -> dict[str, Any]:
    """Turn nested dicts into dotted keys (``lifecycle.after_join.exitcode``), to compare leaves.

    A top-level :data:`SPECIAL_KEYS` value and an empty dict stay whole.

    :param depth: How many levels of nesting to open; ``None`` opens them all.
    """
    return _flatten(observed, "", depth)


def _flatten(observed: Mapping[str, Any], prefix: str, depth: int | None) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in observed.items():
        name = f"{prefix}{key}"
        opened = depth is None or depth > 0
        if isinstance(value, Mapping) and value and opened and name not in SPECIAL_KEYS:
            flat.update(_flatten(value, f"{name}.", None if depth is None else depth - 1))
        else:
            flat[name] = value
    return flat


def merge_orders(orders: Iterable[Iterable[_Key]], *, dotted: bool = False) -> list[_Key]:
    """Merge the key orders of several runs into one, each key once.

    A key that only some runs report is placed right after the key it follows there, so that
    it sits next to its neighbours in every run's column.

    :param dotted: Whether the keys are :func:`flatten`'s dotted keys: then a new key also goes
        after the keys already placed there that share its parent, keeping groups together.
    """
    merged: list[_Key] = []
    for order in orders:
        previous = -1  # where the run's previous key sits in *merged*
        for key in order:
            if key in merged:
                previous = merged.index(key)
                continue
            at = previous + 1
            while dotted and at < len(merged) and _parent(merged[at]) == _parent(key):
                at += 1
            merged.insert(at, key)
            previous = at
    return merged


def _parent(key: object) -> str:
    return str(key).rsplit(".", 1)[0]
