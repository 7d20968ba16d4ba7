"""The demo catalogue: one module per lesson, found by slug.

Each demo module in this package defines:

* a module docstring that states the lesson in two or three sentences (and, for the blog post's
  own material, what the original text got wrong);
* ``SLUG`` (``"shared-global"``), ``TITLE``, ``THEME`` (one of :data:`THEMES`), ``ORDER`` (sort key
  inside the theme) and ``LESSON`` (one line);
* optionally ``TIMELINE = True`` if its observations include a ``"timeline"`` (the CLI refuses
  ``--timeline``/``--plot`` for the others before running them), and ``FIXED_WORKERS = N`` if it
  always uses *N* workers (per case), so that ``--workers`` does not apply, and ``BY_CHANCE =
  True`` if timing decides its numbers, so that a learner's run may well show others (the tour
  marks only these; a result that depends on the interpreter or start method is not chance);
* ``run(mode, workers=None) -> dict``: runs the demo in *mode* (a :class:`concur_lab.Mode`) and
  returns JSON-serialisable observations. Optional keys with a shared meaning: ``"timeline"`` (a
  list of spans, see :mod:`concur_lab.timeline`), ``"varies"`` (why the outcome depends on the
  interpreter, build, start method or library), ``"summary"`` (one short line for side-by-side
  display), ``"chart"`` (drawing hints for the timeline, see
  :meth:`concur_lab.timeline.ModeTimeline.from_observations`), ``"others_cores"`` (how many
  cores other programs used meanwhile, for the demos whose lesson needs free cores), and
  ``"attempts"`` with ``"attempt_s"`` (a demo that ran several times to find a quiet moment:
  how many runs it made, and how long the run it reports took; the CLI shows that time, not
  the sum).

:func:`all_demos` and :func:`get_demo` fail if a module does not load; :func:`load_catalogue`
returns what loads and names what does not. How the observations are shown (which keys are rows,
their order and their labels) is one model, ``_observations``, that the command line and the
docs both render.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext

__all__ = ["THEMES", "Demo", "LoadError", "all_demos", "get_demo", "load_catalogue"]

THEMES: Mapping[str, str] = {
    "basics": N_("Processes and threads: the blog post's ground"),
    "lifecycle": N_("Starting, joining, stopping"),
    "races": N_("Races and lost updates"),
    "hazards": N_("Hazards and how to avoid them"),
    "sharing": N_("Sharing state between workers"),
    "performance": N_("The GIL and performance"),
}
"""Theme keys in presentation order, with their headings."""


@dataclass(frozen=True)
class Demo:
    """One demo of the catalogue."""

    slug: str
    title: str
    theme: str
    order: int
    lesson: str
    module: ModuleType

    @property
    def run(self) -> Callable[..., dict[str, Any]]:
        """The demo's ``run(mode, workers=None)`` function."""
        return self.module.run  # type: ignore[no-any-return]

    def observe(self, mode: Mode | str, workers: int | None = None) -> dict[str, Any]:
        """Run the demo in *mode* and return its observations."""
        return self.run(Mode.parse(mode), workers=workers)

    @property
    def records_timeline(self) -> bool:
        """Whether the demo's observations include a ``"timeline"`` (its ``TIMELINE`` flag)."""
        return bool(getattr(self.module, "TIMELINE", False))

    @property
    def fixed_workers(self) -> int | None:
        """How many workers the demo always uses (its ``FIXED_WORKERS``), or ``None``.

        ``None`` means the demo takes its worker count from the *workers* argument.
        """
        fixed = getattr(self.module, "FIXED_WORKERS", None)
        return fixed if isinstance(fixed, int) else None

    @property
    def by_chance(self) -> bool:
        """Whether timing decides the demo's numbers, so another run may show others."""
        return bool(getattr(self.module, "BY_CHANCE", False))

    @property
    def doc(self) -> str:
        """The module docstring: the lesson in full."""
        return self.module.__doc__ or ""


@cache
def _load() -> tuple[Demo, ...]:
    """Import every demo module; fail as a whole if one does not load."""
    return _sorted(_demo_of(module) for module in map(_import, _module_names()))


def _module_names() -> list[str]:
    return [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


def _import(name: str) -> ModuleType:
    return importlib.import_module(f"{__name__}.{name}")


def _demo_of(module: ModuleType) -> Demo:
    """Return the catalogue entry of a demo module.

    :raises AttributeError: If the module lacks one of the names a demo defines.
    :raises ValueError: If its ``THEME`` is not one of :data:`THEMES`.
    """
    demo = Demo(
        slug=module.SLUG,
        title=module.TITLE,
        theme=module.THEME,
        order=module.ORDER,
        lesson=module.LESSON,
        module=module,
    )
    if demo.theme not in THEMES:
        raise ValueError(f"THEME {demo.theme!r} is not one of {', '.join(THEMES)}")
    return demo


def _sorted(demos: Iterable[Demo]) -> tuple[Demo, ...]:
    theme_rank = {theme: i for i, theme in enumerate(THEMES)}
    return tuple(sorted(demos, key=lambda d: (theme_rank[d.theme], d.order, d.slug)))


@dataclass(frozen=True)
class LoadError:
    """A demo module that could not be imported, or lacks what the catalogue needs.

    :ivar module: The module's name in this package, e.g. ``"shared_global"``.
    :ivar error: What went wrong, in one line: the exception's type and message.
    """

    module: str
    error: str

    def __str__(self) -> str:
        return gettext("demo module {module!r} failed to load: {error}").format(
            module=self.module, error=self.error
        )


def load_catalogue() -> tuple[tuple[Demo, ...], tuple[LoadError, ...]]:
    """Return the demos that load, and the demo modules that do not.

    :func:`all_demos` loads every module or fails as a whole; a reader that goes on past a
    broken demo (the command line's tour) must not lose the others to it, so on failure the
    modules are loaded one by one and each that fails becomes a :class:`LoadError`.
    """
    try:
        return _load(), ()
    except Exception:
        return _load_one_by_one()


def _load_one_by_one() -> tuple[tuple[Demo, ...], tuple[LoadError, ...]]:
    found: list[Demo] = []
    errors: list[LoadError] = []
    for name in _module_names():
        try:
            found.append(_demo_of(_import(name)))
        except Exception as exc:  # reported like a broken demo
            errors.append(LoadError(name, " ".join(f"{type(exc).__name__}: {exc}".split())))
    return _sorted(found), tuple(errors)


def all_demos() -> tuple[Demo, ...]:
    """Return every demo, grouped by theme in :data:`THEMES` order."""
    return _load()


def get_demo(slug: str) -> Demo:
    """Return the demo called *slug*.

    :raises KeyError: If no demo has that slug.
    """
    for demo in _load():
        if demo.slug == slug:
            return demo
    raise KeyError(slug)
