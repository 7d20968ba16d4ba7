"""The command line's argument types and usage errors: each error names the bad value."""

from __future__ import annotations

import argparse
import contextlib
import difflib
import math
import os
import sys
from collections.abc import Callable, Sequence

from concur_lab import available_start_methods
from concur_lab._i18n import LANGUAGES
from concur_lab._i18n import gettext as _

__all__ = [
    "DEMO_TIMEOUT",
    "MAX_WORKERS",
    "PLOT_SUFFIXES",
    "UsageError",
    "did_you_mean",
    "language_choice",
    "mode_choice",
    "output_path",
    "positive_seconds",
    "program_name",
    "start_method_choice",
    "worker_count",
]

PLOT_SUFFIXES = (".png", ".svg", ".pdf")
DEMO_TIMEOUT = 60.0
# Each worker may be a process: a typo like 1000 should not fork-bomb a laptop.
MAX_WORKERS = 64


class UsageError(Exception):
    """A user error found after parsing; reported like argparse does, exit status 2."""


def worker_count(text: str) -> int:
    """Parse ``--workers``: a whole number from 1 to :data:`MAX_WORKERS`."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            _("invalid worker count {value!r}: expected a whole number from 1 to {most}").format(
                value=text, most=MAX_WORKERS
            )
        )
    return value


_START_METHODS = ("fork", "forkserver", "spawn")
_MODE_CHOICES = ("thread", "process", "both")
# What a learner is likely to type for a mode: the plural, as in "run it in threads".
_MODE_ALIASES = {"threads": "thread", "processes": "process"}


def did_you_mean(text: str, choices: Sequence[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest of *choices*, or "" if none is close."""
    close = difflib.get_close_matches(text.lower(), list(choices), n=1, cutoff=0.6)
    return _(" (did you mean {choice!r}?)").format(choice=close[0]) if close else ""


def start_method_choice(text: str) -> str:
    """Parse ``--start-method``: one this platform has, else say which it has."""
    methods = available_start_methods()
    if text in methods:
        return text
    if text in _START_METHODS:
        raise argparse.ArgumentTypeError(
            _(
                "start method {value!r} is not available on {platform}: choose from {methods}"
            ).format(value=text, platform=sys.platform, methods=", ".join(methods))
        )
    raise argparse.ArgumentTypeError(
        _("{value!r} is not a start method{hint}; the start methods are {methods}").format(
            value=text, hint=did_you_mean(text, methods), methods=", ".join(methods)
        )
    )


def mode_choice(text: str) -> str:
    """Parse ``--mode``: thread, process or both (plurals accepted)."""
    wanted = text.strip().lower()
    wanted = _MODE_ALIASES.get(wanted, wanted)
    if wanted in _MODE_CHOICES:
        return wanted
    raise argparse.ArgumentTypeError(
        _("invalid choice: {value!r}{hint}; choose from {choices}").format(
            value=text, hint=did_you_mean(wanted, _MODE_CHOICES), choices=", ".join(_MODE_CHOICES)
        )
    )


def positive_seconds(text: str) -> float:
    """Parse ``--demo-timeout``: a finite number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(
            _("invalid timeout {value!r}: expected a positive number of seconds").format(value=text)
        )
    return value


def output_path(suffixes: Sequence[str]) -> Callable[[str], str]:
    """Return an argument type for a file to write, ending in one of *suffixes*."""
    def check(text: str) -> str:
        if os.path.splitext(text)[1].lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                _("cannot write {path!r}: the file name must end in {suffixes}").format(
                    path=text, suffixes=", ".join(suffixes)
                )
            )
        folder = os.path.dirname(os.path.abspath(text))
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(
                _("cannot write {path!r}: folder {folder!r} does not exist").format(
                    path=text, folder=folder
                )
            )
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(
                _("cannot write {path!r}: it is a folder").format(path=text)
            )
        _try_writing(text)
        return text

    return check


def _try_writing(path: str) -> None:
    """Check that *path* can be written, before a demo spends its time; leave no file behind.

    An existing file is opened for appending (which changes nothing); a new one is created and
    removed again. Trying is the only reliable test: permissions, read-only mounts and special
    file systems like /proc all refuse in their own way, and os.access misleads root.
    """
    existed = os.path.exists(path)
    try:
        with open(path, "a" if existed else "x", encoding="utf-8"):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            _("cannot write {path!r}: {reason}").format(path=path, reason=exc.strerror or exc)
        ) from None
    if not existed:
        with contextlib.suppress(OSError):
            os.unlink(path)


def language_choice(text: str) -> str:
    """Parse ``--lang``: one of the languages the command line speaks."""
    wanted = text.strip().lower()
    if wanted in LANGUAGES:
        return wanted
    raise argparse.ArgumentTypeError(
        _("unknown language {value!r}: the languages are {languages}").format(
            value=text, languages=", ".join(LANGUAGES)
        )
    )


def program_name(args: argparse.Namespace) -> str:
    """Return the program name ("concur-lab") from the sub-command's "concur-lab run"."""
    parser: argparse.ArgumentParser = args.parser
    return parser.prog.rsplit(" ", 1)[0]
