"""Options, ini keys and marker arguments: parsing, validation and precedence.

Every value is resolved as marker argument > command line > ini > default, and every invalid value
is reported with where it came from ("from command line --concur-workers", "from ini
concur_workers", "from marker on test_x"), so that the user can find and fix it without a traceback.
"""

from __future__ import annotations

import inspect
import math
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from pytest_concur._engine import Mode, available_start_methods, default_start_method

__all__ = [
    "KINDS",
    "SETTINGS_KEY",
    "ConcurUsageError",
    "ItemSettings",
    "Settings",
    "add_options",
    "item_settings",
    "settings_from_config",
]

KINDS: tuple[str, ...] = ("thread", "process")
"""The modes a concurrency test can run in, in the order their items are made."""

# pytest 9.2 added type expressions (int | str) for ini keys.
_INI_UNION_TYPES = pytest.version_tuple[:2] >= (9, 2)

DEFAULT_WORKERS = 4
DEFAULT_TIMEOUT = 60.0

# 'Help' formatting follows pytest's: capitalised, no final period for a single phrase.
MODE_HELP = "Modes to run concurrency tests in: thread, process or both (default: thread)"
WORKERS_HELP = (
    "Workers per concur-marked test, and the default n of spawn_workers (default: "
    f"{DEFAULT_WORKERS})"
)
START_METHOD_HELP = (
    "Start method of process workers: fork, forkserver or spawn (default: the standard "
    f"library's default here, {default_start_method()})"
)
TIMEOUT_HELP = (
    f"Seconds a concurrency test's workers may run before they fail as hung (default: "
    f"{DEFAULT_TIMEOUT:g}; 0 disables)"
)


class ConcurUsageError(ValueError):
    """A concur option, ini key or marker argument with an invalid value."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The session's concur settings, after command line > ini > default.

    :ivar modes: The selected modes, a non-empty subset of :data:`KINDS` in that order.
    :ivar workers: Workers per marked test and default ``n`` of ``spawn_workers``.
    :ivar start_method: Start method of process workers.
    :ivar timeout: Seconds before workers fail as hung, or ``None`` for no limit.
    """

    modes: tuple[str, ...]
    workers: int
    start_method: str
    timeout: float | None

    def describe(self) -> str:
        """Return the one-line summary shown in the report header."""
        timeout = "none" if self.timeout is None else f"{self.timeout:g}s"
        return (
            f"modes {', '.join(self.modes)} | start method {self.start_method} | "
            f"workers {self.workers} | timeout {timeout}"
        )


SETTINGS_KEY = pytest.StashKey[Settings]()


@dataclass(frozen=True, slots=True)
class ItemSettings:
    """One test's settings: its marker's arguments over the session's :class:`Settings`.

    :ivar modes: The modes the test supports (its marker's ``modes``, else all of :data:`KINDS`).
    :ivar workers: Workers that run the body of a marked test.
    :ivar start_method: Start method of process workers.
    :ivar timeout: Seconds before workers fail as hung, or ``None``.
    :ivar marked: Whether the test carries the ``concur`` marker (its body runs in workers).
    """

    modes: tuple[str, ...]
    workers: int
    start_method: str
    timeout: float | None
    marked: bool

    def mode(self, kind: str) -> Mode:
        """Return the :class:`~concur_lab.Mode` of *kind* with this test's start method."""
        return Mode.thread() if kind == "thread" else Mode.process(self.start_method)


def add_options(parser: pytest.Parser) -> None:
    """Add the ``concur`` option group and its ini keys (same names with ``_``, same help)."""
    group = parser.getgroup("concur", "thread and process concurrency tests (pytest-concur)")
    for flag, help_text, metavar, numeric in (
        ("--concur-mode", MODE_HELP, "MODE", None),
        ("--concur-workers", WORKERS_HELP, "N", int | str),
        ("--concur-start-method", START_METHOD_HELP, "METHOD", None),
        ("--concur-timeout", TIMEOUT_HELP, "SECONDS", int | float | str),
    ):
        dest = flag[2:].replace("-", "_")
        # No argparse choices/type: every source is validated by the same code, with its label.
        group.addoption(flag, dest=dest, default=None, metavar=metavar, help=help_text)
        # A native [tool.pytest] table may hold a TOML number; pytest >= 9.2 accepts it when the
        # key's type is a union with str (str keeps bad values ours to report, with their source).
        ini_type: Any = numeric if numeric is not None and _INI_UNION_TYPES else "string"
        parser.addini(dest, help_text, type=ini_type, default="")


def parse_mode(value: object, where: str) -> tuple[str, ...]:
    """Parse a ``--concur-mode`` value into the selected modes.

    :raises ConcurUsageError: If *value* is not ``thread``, ``process`` or ``both``.
    """
    text = str(value).strip().lower()
    if text == "both":
        return KINDS
    if text in KINDS:
        return (text,)
    raise ConcurUsageError(
        f"invalid concur mode {value!r} {where}: expected thread, process or both"
    )


def parse_workers(value: object, where: str) -> int:
    """Parse a worker count.

    :raises ConcurUsageError: If *value* is not an integer of at least 1.
    """
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    else:
        try:
            number = int(str(value).strip())
        except ValueError:
            number = None
    if number is None or number < 1:
        raise ConcurUsageError(
            f"invalid concur workers {value!r} {where}: expected an integer of at least 1"
        )
    return number


def parse_timeout(value: object, where: str) -> float | None:
    """Parse a timeout in seconds; ``0`` means no timeout.

    :returns: The timeout, or ``None`` when disabled.
    :raises ConcurUsageError: If *value* is not a number from 0 to :data:`threading.TIMEOUT_MAX`.
    """
    number: float | None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            number = None
    if number is not None and number == math.inf:
        # inf, and numbers too large for a float (1e400), are not "below 0": say what they are.
        raise ConcurUsageError(
            f"invalid concur timeout {value!r} {where}: it is infinite; expected at most "
            f"{threading.TIMEOUT_MAX:.0f} seconds, the longest wait this platform supports "
            "(0 disables the timeout)"
        )
    if number is None or not math.isfinite(number) or number < 0:
        raise ConcurUsageError(
            f"invalid concur timeout {value!r} {where}: expected a number of seconds "
            "of at least 0 (0 disables the timeout)"
        )
    if number > threading.TIMEOUT_MAX:
        # Waiting on a thread for longer raises OverflowError, in the middle of a test.
        raise ConcurUsageError(
            f"invalid concur timeout {value!r} {where}: expected at most "
            f"{threading.TIMEOUT_MAX:.0f} seconds, the longest wait this platform supports "
            "(0 disables the timeout)"
        )
    return number or None


def parse_start_method(value: object, where: str) -> str:
    """Parse a start method and check that this platform offers it.

    :raises ConcurUsageError: If *value* is unknown or unavailable here.
    """
    text = str(value).strip().lower()
    available = available_start_methods()
    if text not in available:
        known = text in ("fork", "forkserver", "spawn")
        problem = "is not available on this platform" if known else "is not a start method"
        raise ConcurUsageError(
            f"invalid concur start method {value!r} {where}: it {problem}; "
            f"choose one of {', '.join(available)}"
        )
    return text


def _raw(config: pytest.Config, name: str) -> tuple[object, str] | None:
    """Return the command line or else ini value of *name* with its source label, if set."""
    value = config.getoption(name)
    if value is not None:
        return value, f"from command line --{name.replace('_', '-')}"
    ini = config.getini(name)
    if ini not in ("", None, []):
        return ini, f"from ini {name}"
    return None


def settings_from_config(config: pytest.Config) -> Settings:
    """Resolve the session's settings: command line > ini > default.

    :raises ConcurUsageError: If any value is invalid; the message names the value and its source.
    """
    found = _raw(config, "concur_mode")
    modes = parse_mode(*found) if found else ("thread",)
    found = _raw(config, "concur_workers")
    workers = parse_workers(*found) if found else DEFAULT_WORKERS
    found = _raw(config, "concur_start_method")
    start_method = parse_start_method(*found) if found else default_start_method()
    found = _raw(config, "concur_timeout")
    timeout = parse_timeout(*found) if found else DEFAULT_TIMEOUT
    return Settings(modes=modes, workers=workers, start_method=start_method, timeout=timeout)


def _marker_signature(
    workers: object = None,
    modes: object = None,
    timeout: object = None,
    start_method: object = None,
) -> None:
    """Carry the ``concur`` marker's signature, for binding its arguments."""


_MARKER_SIGNATURE = inspect.signature(_marker_signature)


def _parse_modes_argument(value: object, where: str) -> tuple[str, ...]:
    items: Iterable[object] = [value] if isinstance(value, str) else value  # type: ignore[assignment]
    try:
        names = [str(item).strip().lower() for item in items]
    except TypeError:
        names = []
    if not names or any(name not in KINDS for name in names):
        raise ConcurUsageError(
            f"invalid concur modes {value!r} {where}: expected 'thread', 'process' or a list "
            "of them"
        )
    return tuple(kind for kind in KINDS if kind in names)


def item_settings(
    node: pytest.Item | pytest.Function, settings: Settings, name: str
) -> ItemSettings:
    """Resolve one test's settings: its ``concur`` marker's arguments over *settings*.

    :param node: The test item (or its definition at collection time).
    :param settings: The session's settings.
    :param name: The test's name, for error messages.
    :raises ConcurUsageError: If a marker argument is invalid.
    """
    marker = node.get_closest_marker("concur")
    if marker is None:
        return ItemSettings(
            modes=KINDS,
            workers=settings.workers,
            start_method=settings.start_method,
            timeout=settings.timeout,
            marked=False,
        )
    where = f"from marker on {name}"
    try:
        bound = _MARKER_SIGNATURE.bind(*marker.args, **marker.kwargs)
    except TypeError as exc:
        raise ConcurUsageError(
            f"invalid concur marker arguments {where}: {exc}; the marker takes "
            "workers=None, modes=None, timeout=None, start_method=None"
        ) from None
    args = bound.arguments
    workers = args.get("workers")
    modes = args.get("modes")
    timeout = args.get("timeout")
    start_method = args.get("start_method")
    return ItemSettings(
        modes=KINDS if modes is None else _parse_modes_argument(modes, where),
        workers=settings.workers if workers is None else parse_workers(workers, where),
        start_method=(
            settings.start_method
            if start_method is None
            else parse_start_method(start_method, where)
        ),
        timeout=settings.timeout if timeout is None else parse_timeout(timeout, where),
        marked=True,
    )
