"""Tables laid out by display width, one column per mode.

When the columns would be too narrow to read, the modes are stacked under each row's label.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from typing import TextIO

from concur_lab import _display
from concur_lab._i18n import gettext as _

__all__ = ["print_table", "terminal_width", "wrap_lines"]

# Columns narrower than this are hard to read: the tour stacks the modes instead.
_MIN_COLUMN = 30


def print_table(
    rows: Sequence[tuple[str, Sequence[Sequence[str]]]],
    header: Sequence[str],
    width: int,
    out: TextIO,
    *,
    mark_differences: bool,
    spaced: bool = False,
) -> None:
    """Print *rows* with one column per mode, or one block per row when columns would be narrow.

    Every line fits in *width*: cells and titles wrap inside their column, and when the columns
    would be too narrow to read (an 80-column terminal with long cells) the modes are stacked
    under each row's label instead.
    """
    key_width = min(
        max((_display.width(key) for key, _cells in rows), default=0) + 3, max(width * 2 // 5, 20)
    )
    gap = 3
    column = max((width - key_width - gap * len(header)) // max(len(header), 1), 8)
    if spaced and len(header) > 1 and column < _MIN_COLUMN:
        _print_stacked(rows, header, width, out, mark_differences=mark_differences)
        return
    # A title too wide for its column breaks before its time: "process[spawn]" / "(0.40 s)".
    titles = [wrap_lines(_title_lines(title, column), column) for title in header]
    for line in range(max(len(t) for t in titles)):
        text = " " * key_width + "".join(
            " " * gap + _display.ljust(t[line] if line < len(t) else "", column) for t in titles
        )
        print(text.rstrip(), file=out)
    print(
        " " * key_width
        + "".join(
            " " * gap + _display.ljust("-" * max(_display.width(x) for x in t), column)
            for t in titles
        ).rstrip(),
        file=out,
    )
    line_count = 0
    for key, cells in rows:
        differs = _differs(cells) if mark_differences else False
        if len(cells) == 1 < len(header):
            # One cell for all columns: the modes agreed, and saying it twice would hide that.
            wrapped = [wrap_lines(cells[0], column * len(header) + gap * (len(header) - 1))]
        else:
            wrapped = [wrap_lines(cell, column) for cell in cells]
        label = _key_label(key, "* " if differs else "  ", key_width - 1)
        height = max([len(label), *(len(w) for w in wrapped)])
        if spaced and line_count:
            # Rows of several lines run together without a gap.
            print(file=out)
        line_count += height
        for line in range(height):
            left = label[line] if line < len(label) else ""
            text = _display.ljust(left, key_width) + "".join(
                " " * gap + _display.ljust(w[line] if line < len(w) else "", column)
                for w in wrapped
            )
            print(text.rstrip(), file=out)


def _title_lines(title: str, width: int) -> list[str]:
    """Split a column title that does not fit before its time: ``mode`` / ``(0.40 s)``."""
    name, paren, rest = title.partition(" (")
    if _display.width(title) <= width or not paren:
        return [title]
    return [name, f"({rest}"]


def _differs(cells: Sequence[Sequence[str]]) -> bool:
    return any(list(c) != list(cells[0]) for c in cells[1:])


def _print_stacked(
    rows: Sequence[tuple[str, Sequence[Sequence[str]]]],
    header: Sequence[str],
    width: int,
    out: TextIO,
    *,
    mark_differences: bool,
) -> None:
    """Print each row as its label, then one indented line per mode, wrapped to *width*."""
    title_width = max(_display.width(title) for title in header) + 2
    for number, (key, cells) in enumerate(rows):
        if number:
            print(file=out)
        differs = mark_differences and _differs(cells)
        print(_display.fill(("* " if differs else "  ") + key.strip(), width), file=out)
        if len(cells) == 1 < len(header):
            # The modes agreed: the cell says so, once, under the label.
            pairs = [("", cells[0])]
        else:
            pairs = list(zip(header, cells, strict=False))
        indent = " " * 4
        for title, cell in pairs:
            colon = _(":")
            lead = indent + _display.ljust(title + colon, title_width) if title else indent
            if _display.width(lead) > width // 2:
                lead = f"{indent}{title}{colon} "
            lead_width = _display.width(lead)
            body = wrap_lines(cell, max(width - lead_width, 20))
            for i, line in enumerate(body):
                print(((lead if i == 0 else " " * lead_width) + line).rstrip(), file=out)


def _key_label(key: str, mark: str, width: int) -> list[str]:
    """Wrap a row's key (indented by depth) inside the key column, the mark in front."""
    depth = len(key) - len(key.lstrip(" "))
    prefix = mark + " " * depth
    parts = _display.wrap(key.strip(), max(width - len(prefix), 8), subsequent_indent="  ") or [""]
    return [prefix + parts[0]] + [" " * len(prefix) + part for part in parts[1:]]


def wrap_lines(lines: Sequence[str], width: int) -> list[str]:
    """Wrap each of *lines* to *width*, continuation lines indented."""
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(_display.wrap(line, width, subsequent_indent="  ") or [""])
    return wrapped


def terminal_width() -> int:
    """Return the width to lay out for: the terminal's, at least 60 columns."""
    return max(shutil.get_terminal_size((100, 24)).columns, 60)
