"""Running one demo in one mode, within a time limit.

An exception or a malformed result becomes the run's error: a broken demo is reported, not fatal.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from concur_lab import Mode, ModeError, demos
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import UsageError
from concur_lab.timeline import (
    parse_spans,
)

__all__ = ["Run", "check_observations", "chosen_modes", "run_demo"]


@dataclass
class Run:
    """One demo run in one mode: the observations, or what went wrong."""

    mode: Mode
    seconds: float
    observed: dict[str, Any] | None = None
    error: str | None = None
    details: str | None = None  # the traceback, for `run`

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def attempts(self) -> int:
        """How many times the demo ran to get the run it reports (1 for most demos)."""
        count = self.observed.get("attempts") if self.observed else None
        return count if isinstance(count, int) and not isinstance(count, bool) else 1

    @property
    def shown_seconds(self) -> float:
        """The time of the reported run: a demo that retried says how long its kept run took."""
        own = self.observed.get("attempt_s") if self.observed else None
        if isinstance(own, int | float) and not isinstance(own, bool) and own >= 0:
            return float(own)
        return self.seconds

    def time_text(self) -> str:
        """The reported run's time, and the number of runs if there were several."""
        text = _("{seconds:.2f} s").format(seconds=self.shown_seconds)
        if self.attempts > 1:
            text += _(", best of {count} tries").format(count=self.attempts)
        return text

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "mode": self.mode.kind,
            "start_method": self.mode.start_method,
            "seconds": round(self.seconds, 3),
            "attempt_seconds": round(self.shown_seconds, 3),
            "attempts": self.attempts,
            "observed": self.observed,
        }
        if self.error is not None:
            data["error"] = self.error
            data["traceback"] = self.details
        return data


class _DemoHung(BaseException):
    """Raised into a demo that ran past its time limit.

    A BaseException, so that a demo's ``except Exception`` cannot swallow it.
    """


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block with :class:`_DemoHung` after *seconds*; exit if even that fails.

    Demos bound all their waits, so this only fires on a bug, and then the tour can go on. On
    POSIX, in the main thread and when no other timer is armed (pytest-timeout arms one), an
    interval timer raises :class:`_DemoHung` from the blocked call. As a last resort,
    :mod:`faulthandler` dumps every thread's stack and exits a little later: a demo stuck
    where signals cannot reach it must not hang the command forever.
    """
    alarm = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    previous: Any = None
    if alarm:

        def on_alarm(signum: int, frame: object) -> None:
            raise _DemoHung(seconds)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        with _last_resort(seconds + min(seconds, 30.0) if alarm else seconds):
            yield
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous if previous is not None else signal.SIG_DFL)


@contextlib.contextmanager
def _last_resort(seconds: float) -> Iterator[None]:
    # The stacks go to the real stderr: a redirected sys.stderr may have no file descriptor.
    stream = sys.__stderr__
    try:
        if stream is None:
            raise ValueError("no stderr")
        faulthandler.dump_traceback_later(seconds, exit=True, file=stream)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def run_demo(
    demo: demos.Demo, mode: Mode, workers: int | None, timeout: float
) -> Run:
    """Run *demo* once in *mode*; an exception or malformed result becomes the run's error."""
    started = time.perf_counter()
    try:
        with _time_limit(timeout):
            observed = demo.observe(mode, workers=workers)
        check_observations(observed)
    except (_DemoHung, Exception) as exc:  # a broken demo is reported, not fatal
        if _raised_during(exc, KeyboardInterrupt):
            # Ctrl-C hit the demo, whose clean-up may then have failed: the interrupt wins.
            raise KeyboardInterrupt from exc
        if _raised_during(exc, _DemoHung):
            error = _("hung: no result after {seconds:g} s, interrupted").format(seconds=timeout)
        else:
            error = _one_line(f"{type(exc).__name__}: {exc}")
        details = "".join(traceback.format_exception(exc))
        return Run(mode, time.perf_counter() - started, error=error, details=details)
    return Run(mode, time.perf_counter() - started, observed=observed)


def _raised_during(exc: BaseException, kind: type[BaseException]) -> bool:
    """Whether *exc* is a *kind*, or was raised while one was being handled."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, kind):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def check_observations(observed: object) -> None:
    """Raise if *observed* is not a JSON-serialisable dict with valid spans."""
    if not isinstance(observed, dict):
        raise TypeError(f"run() returned {type(observed).__name__}, not a dict of observations")
    try:
        json.dumps(observed)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the observations are not JSON-serialisable: {exc}") from None
    if "timeline" in observed:
        parse_spans(observed["timeline"], where="observations['timeline']")


def _one_line(text: str) -> str:
    """Collapse *text* (an error message, say) into one line."""
    return " ".join(text.split())


def chosen_modes(kind: str, start_method: str | None) -> list[Mode]:
    """Return the modes *kind* names, process mode with *start_method*."""
    modes = []
    if kind in ("thread", "both"):
        modes.append(Mode.thread())
    if kind in ("process", "both"):
        try:
            modes.append(Mode.process(start_method))
        except ModeError as exc:
            raise UsageError(
                _("argument {option}: {message}").format(option="--start-method", message=exc)
            ) from None
    return modes
