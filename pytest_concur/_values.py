"""One option value parsed and checked: the parsers that every option, ini key and marker share.

Each takes the raw value and *where* it came from ("from command line --concur-workers", "from
ini concur_workers", "from marker on test_x") and raises :class:`ConcurUsageError` naming both,
so the user can find and fix the value without a traceback. Precedence between the sources is
:mod:`pytest_concur._options`'s job.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Iterable

from pytest_concur._engine import available_start_methods

__all__ = [
    "KINDS",
    "ConcurUsageError",
    "cpu_count",
    "parse_bool",
    "parse_count",
    "parse_fixtures",
    "parse_functions",
    "parse_mode",
    "parse_modes_argument",
    "parse_report_path",
    "parse_start_method",
    "parse_switch_interval",
    "parse_timeout",
    "parse_workers",
]


KINDS: tuple[str, ...] = ("thread", "process")
"""The modes a concurrency test can run in, in the order their items are made."""


class ConcurUsageError(ValueError):
    """A concur option, ini key or marker argument with an invalid value."""


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


def cpu_count() -> int:
    """Return how many CPUs this process may use, at least 1.

    ``os.process_cpu_count()`` where it exists (3.13+), else the affinity mask, else
    ``os.cpu_count()``.
    """
    counter = getattr(os, "process_cpu_count", None)
    count = counter() if callable(counter) else None
    if count is None and hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    return max(1, count or os.cpu_count() or 1)


def parse_workers(value: object, where: str, *, auto: bool = True) -> int:
    """Parse a worker count: an integer of at least 1, or ``auto`` (:func:`cpu_count`).

    :raises ConcurUsageError: If *value* is neither.
    """
    if auto and isinstance(value, str) and value.strip().lower() == "auto":
        return cpu_count()
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
            + (" or auto" if auto else "")
        )
    return number


def parse_count(value: object, where: str, what: str, minimum: int = 1) -> int:
    """Parse a whole number of at least *minimum* (iterations, the detection depth).

    :raises ConcurUsageError: If *value* is not one.
    """
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            number = None
    if number is None or number < minimum:
        raise ConcurUsageError(
            f"invalid concur {what} {value!r} {where}: expected an integer of at least {minimum}"
        )
    return number


def parse_bool(value: object, where: str, what: str) -> bool:
    """Parse an ini boolean the way pytest spells them (true/false, yes/no, on/off, 1/0).

    :raises ConcurUsageError: If *value* is none of them.
    """
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ConcurUsageError(f"invalid concur {what} {value!r} {where}: expected true or false")


def parse_switch_interval(value: object, where: str) -> float:
    """Parse a switch interval: a positive, finite number of seconds.

    :raises ConcurUsageError: If *value* is not one.
    """
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not number > 0:
        raise ConcurUsageError(
            f"invalid concur switch interval {value!r} {where}: expected a number of seconds "
            "greater than 0 (e.g. 1e-6)"
        )
    if not math.isfinite(number):
        raise ConcurUsageError(
            f"invalid concur switch interval {value!r} {where}: it is infinite; expected a "
            "finite number of seconds greater than 0 (e.g. 1e-6)"
        )
    try:
        # The interpreter's own check, without changing anything: it rejects only <= 0.
        previous = sys.getswitchinterval()
        sys.setswitchinterval(number)
        sys.setswitchinterval(previous)
    except (ValueError, OverflowError) as exc:
        raise ConcurUsageError(f"invalid concur switch interval {value!r} {where}: {exc}") from None
    return number


def parse_report_path(value: object, where: str) -> str:
    """Parse the JSON report's path: its folder must exist.

    :raises ConcurUsageError: If the folder does not exist or the path is a folder.
    """
    path = os.path.abspath(os.fspath(str(value).strip()))
    if not str(value).strip():
        raise ConcurUsageError(f"invalid concur report path {value!r} {where}: it is empty")
    if os.path.isdir(path):
        raise ConcurUsageError(
            f"invalid concur report path {value!r} {where}: it is a folder; name a file"
        )
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise ConcurUsageError(
            f"invalid concur report path {value!r} {where}: its folder {folder!r} does not exist"
        )
    return path


def parse_functions(values: Iterable[str], where: str) -> frozenset[str]:
    entries = set()
    for value in values:
        text = value.strip()
        module, dot, name = text.rpartition(".")
        if (
            not (dot and module and name)
            or not all(part.isidentifier() for part in module.split("."))
            or not (name == "*" or name.isidentifier())
        ):
            raise ConcurUsageError(
                f"invalid entry {value!r} {where}: expected module.function or module.* "
                "(e.g. os.chdir, unittest.mock.*)"
            )
        entries.add(text)
    return frozenset(entries)


def parse_fixtures(values: Iterable[str], where: str) -> frozenset[str]:
    names = set()
    for value in values:
        text = value.strip()
        if not text.isidentifier():
            raise ConcurUsageError(f"invalid entry {value!r} {where}: expected a fixture name")
        names.add(text)
    return frozenset(names)


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


def parse_modes_argument(value: object, where: str) -> tuple[str, ...]:
    """Parse a marker's ``modes``: ``"thread"``, ``"process"`` or a list of them.

    :raises ConcurUsageError: If it is anything else.
    """
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
