"""Text laid out by terminal columns, not by characters: the command line's tables and wrapping.

A Chinese character takes two columns of a terminal and a combining mark none, so ``len()``,
``str.ljust`` and :mod:`textwrap` misalign tables and overflow an 80-column screen as soon as a
message is translated. The widths come from ``wcwidth``, a maintained implementation of the
Unicode East Asian Width and line-breaking rules (a runtime dependency for that reason): it knows
which characters are wide, and its ``wrap`` breaks Chinese text between characters, where it has
no spaces, without starting a line with a closing punctuation mark.
"""

from __future__ import annotations

import wcwidth

__all__ = ["fill", "ljust", "rjust", "width", "wrap"]


def width(text: str) -> int:
    """Return how many terminal columns *text* takes (wide characters count two)."""
    return int(wcwidth.width(text))


def ljust(text: str, columns: int) -> str:
    """Pad *text* with spaces on the right to *columns* display columns (never truncate)."""
    return text + " " * max(columns - width(text), 0)


def rjust(text: str, columns: int) -> str:
    """Pad *text* with spaces on the left to *columns* display columns (never truncate)."""
    return " " * max(columns - width(text), 0) + text


def wrap(
    text: str, columns: int, *, initial_indent: str = "", subsequent_indent: str = ""
) -> list[str]:
    """Wrap *text* into lines of at most *columns* display columns.

    Like :func:`textwrap.wrap` with ``break_on_hyphens=False`` (so ``concur-lab[plot]`` and slugs
    stay whole), but measured in display columns, and Chinese text breaks between characters.
    """
    lines: list[str] = wcwidth.wrap(
        text, columns, initial_indent=initial_indent, subsequent_indent=subsequent_indent,
        break_on_hyphens=False,
    )
    return lines


def fill(
    text: str, columns: int, *, initial_indent: str = "", subsequent_indent: str = ""
) -> str:
    """Return :func:`wrap`'s lines joined by newlines."""
    return "\n".join(
        wrap(text, columns, initial_indent=initial_indent, subsequent_indent=subsequent_indent)
    )
