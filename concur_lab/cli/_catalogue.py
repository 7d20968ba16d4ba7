"""The demo a slug names (or the closest ones), and the warning for modules that did not load.

The catalogue itself is the demos package's (:func:`concur_lab.demos.load_catalogue`).
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

from concur_lab import demos
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import UsageError

__all__ = ["find_demo", "warn_load_errors"]


def warn_load_errors(errors: Sequence[demos.LoadError], prog: str) -> None:
    """Say on stderr which demo modules did not load, one warning each."""
    for error in errors:
        print(_("{prog}: warning: {error}").format(prog=prog, error=error), file=sys.stderr)


def find_demo(slug: str, prog: str) -> demos.Demo:
    """Return the demo called *slug* (case and ``_``/``-`` forgiven), or say which are close."""
    wanted = slug.strip().lower().replace("_", "-")
    catalogue, errors = demos.load_catalogue()
    warn_load_errors(errors, prog)
    for demo in catalogue:
        if demo.slug == wanted:
            return demo
    slugs = [demo.slug for demo in catalogue]
    close = [s for s in slugs if wanted and wanted in s]
    similar = difflib.get_close_matches(wanted, slugs, n=5, cutoff=0.5)
    close += [s for s in similar if s not in close]
    if close:
        raise UsageError(
            _("unknown demo {slug!r}; closest: {close}").format(
                slug=slug, close=", ".join(close[:5])
            )
        )
    raise UsageError(
        _("unknown demo {slug!r}; '{prog} list' shows all {count} demos").format(
            slug=slug, prog=prog, count=len(slugs)
        )
    )
