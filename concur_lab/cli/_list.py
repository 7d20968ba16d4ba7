"""The ``list`` command: every demo's slug and lesson, by theme."""

from __future__ import annotations

import argparse
import json
import sys

from concur_lab import _display, demos
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import program_name
from concur_lab.cli._catalogue import warn_load_errors
from concur_lab.cli._layout import terminal_width

__all__ = ["cmd_list"]


def cmd_list(args: argparse.Namespace) -> int:
    """Run ``list``: print every demo by theme, or a JSON list; 1 if a module did not load."""
    catalogue, errors = demos.load_catalogue()
    prog = program_name(args)
    warn_load_errors(errors, prog)
    status = 1 if errors else 0
    out = sys.stdout
    if args.json:
        entries = [
            {"slug": d.slug, "title": _(d.title), "theme": d.theme, "lesson": _(d.lesson)}
            for d in catalogue
        ]
        print(json.dumps(entries, indent=2), file=out)
        return status
    width = terminal_width()
    slug_width = max((len(d.slug) for d in catalogue), default=0) + 2
    for theme, heading in demos.THEMES.items():
        members = [d for d in catalogue if d.theme == theme]
        if not members:
            continue
        print(f"\n{_(heading)}", file=out)
        for demo in members:
            print(
                _display.fill(
                    _(demo.lesson), width, initial_indent=f"  {demo.slug:<{slug_width}}",
                    subsequent_indent=" " * (slug_width + 2),
                ),
                file=out,
            )
    print(file=out)
    print(
        _display.fill(
            _("{count} demos. Run one with '{prog} run SLUG', or all with '{prog} tour'.").format(
                count=len(catalogue), prog=prog
            ),
            width,
        ),
        file=out,
    )
    return status
