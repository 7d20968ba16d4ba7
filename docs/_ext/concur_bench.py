"""Sphinx extension: show sections of the committed benchmark report on a docs page.

``python -m benchmarks`` writes ``benchmarks/results/latest.md``; the performance page shows its
tables with ``.. benchmark-report:: <heading prefix>`` instead of copies typed by hand, so the page
can never disagree with the results committed next to the code.

The report is plain Markdown of a known shape (headings, pipe tables, bullet and plain lines), made
by ``benchmarks/_report.py``; that much is turned into reST here, nothing more.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

__all__ = ["BenchmarkReport", "markdown_to_rest", "report_section", "setup"]

#: The report, relative to the documentation's source folder.
REPORT = Path("..") / "benchmarks" / "results" / "latest.md"

_HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?$")
# Markdown's `code` is reST's ``code``; a doubled backtick in the report is left alone.
_CODE = re.compile(r"(?<!`)`([^`]+)`(?!`)")


def report_section(text: str, prefix: str) -> tuple[str, list[str]]:
    """Return the heading and the lines of the section of *text* whose heading starts with *prefix*.

    A section runs to the next heading of the same or a higher level; sub-sections are kept.

    :raises LookupError: If no heading starts with *prefix*.
    """
    lines = text.splitlines()
    for start, line in enumerate(lines):
        match = _HEADING.match(line)
        if match and match.group(2).startswith(prefix):
            level = len(match.group(1))
            end = len(lines)
            for stop in range(start + 1, len(lines)):
                other = _HEADING.match(lines[stop])
                if other and len(other.group(1)) <= level:
                    end = stop
                    break
            return match.group(2), lines[start + 1 : end]
    raise LookupError(f"no heading starting with {prefix!r}")


def _inline(text: str) -> str:
    return _CODE.sub(r"``\1``", text)


def _cells(row: str) -> list[str]:
    return [_inline(cell.strip()) or "\\ " for cell in row.strip().strip("|").split("|")]


def markdown_to_rest(lines: list[str]) -> list[str]:
    """Turn the report's Markdown (headings, pipe tables, bullets, paragraphs) into reST lines."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        heading = _HEADING.match(line)
        if heading:
            out += [f".. rubric:: {_inline(heading.group(2))}", ""]
            index += 1
            continue
        if line.startswith("|"):
            table = []
            while index < len(lines) and lines[index].startswith("|"):
                table.append(lines[index])
                index += 1
            rows = [_cells(row) for row in table if not _RULE.match(row.strip())]
            out += [".. list-table::", "   :header-rows: 1", ""]
            for row in rows:
                out.append(f"   * - {row[0]}")
                out += [f"     - {cell}" for cell in row[1:]]
            out.append("")
            continue
        out.append(_inline(line))
        index += 1
    return out


class BenchmarkReport(SphinxDirective):
    """``.. benchmark-report:: 1. Engine`` shows that section of the latest benchmark report.

    Option ``:title:`` shows the section's own heading as a rubric above it.
    """

    required_arguments = 1
    final_argument_whitespace = True
    option_spec: dict[str, Any] = {"title": lambda value: True}  # noqa: RUF012

    def run(self) -> list[nodes.Node]:
        path = (Path(self.env.srcdir) / REPORT).resolve()
        self.env.note_dependency(str(path))
        try:
            heading, lines = report_section(path.read_text(encoding="utf-8"), self.arguments[0])
        except (OSError, LookupError) as exc:
            raise self.error(f"benchmark-report: {path}: {exc}") from None
        rest = markdown_to_rest(lines)
        if "title" in self.options:
            rest = [f".. rubric:: {_inline(heading)}", "", *rest]
        container = nodes.container(classes=["benchmark-report"])
        # Measured data, rewritten by every run: the translated editions show it as it is
        # (see concur_i18n).
        container["concur-data"] = True
        self.state.nested_parse(StringList(rest, source=str(path)), self.content_offset, container)
        return [container]


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``benchmark-report`` directive."""
    app.add_directive("benchmark-report", BenchmarkReport)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
