"""The demos the command line offers, and the demo a slug names (or the closest ones)."""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from concur_lab import demos
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import UsageError
from concur_lab.cli._running import one_line

__all__ = ["LoadError", "find_demo", "load_catalogue", "warn_load_errors"]


@dataclass(frozen=True)
class LoadError:
    """A demo module that could not be imported or lacks what the catalogue needs."""

    module: str
    error: str

    def __str__(self) -> str:
        return _("demo module {module!r} failed to load: {error}").format(
            module=self.module, error=self.error
        )


def load_catalogue() -> tuple[tuple[demos.Demo, ...], tuple[LoadError, ...]]:
    """Return the demos and the demo modules that failed to load.

    The registry loads all modules or fails as a whole; one broken module must not hide the
    others (the tour goes on past a broken demo), so on failure the modules are loaded one by one.
    """
    try:
        return demos.all_demos(), ()
    except Exception:
        return _load_one_by_one()


def _load_one_by_one() -> tuple[tuple[demos.Demo, ...], tuple[LoadError, ...]]:
    found: list[demos.Demo] = []
    errors: list[LoadError] = []
    for info in pkgutil.iter_modules(demos.__path__):
        if info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{demos.__name__}.{info.name}")
            demo = demos.Demo(
                slug=module.SLUG, title=module.TITLE, theme=module.THEME, order=module.ORDER,
                lesson=module.LESSON, module=module,
            )
            if demo.theme not in demos.THEMES:
                raise ValueError(
                    f"THEME {demo.theme!r} is not one of {', '.join(demos.THEMES)}"
                )
        except Exception as exc:  # reported like a broken demo
            errors.append(LoadError(info.name, one_line(f"{type(exc).__name__}: {exc}")))
            continue
        found.append(demo)
    rank = {theme: i for i, theme in enumerate(demos.THEMES)}
    found.sort(key=lambda d: (rank[d.theme], d.order, d.slug))
    return tuple(found), tuple(errors)


def warn_load_errors(errors: Sequence[LoadError], prog: str) -> None:
    for error in errors:
        print(_("{prog}: warning: {error}").format(prog=prog, error=error), file=sys.stderr)


def find_demo(slug: str, prog: str) -> demos.Demo:
    """Return the demo called *slug* (case and ``_``/``-`` forgiven), or say which are close."""
    wanted = slug.strip().lower().replace("_", "-")
    catalogue, errors = load_catalogue()
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
