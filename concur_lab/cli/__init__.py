"""The ``concur-lab`` command line: list the demos, run one in both modes, take the tour.

``python -m concur_lab list`` shows every demo's slug and lesson by theme;
``python -m concur_lab run SLUG`` runs one demo in thread mode and in process mode and puts the
observations side by side (``--json`` for a machine-readable object, ``--timeline``/``--plot`` for
pictures); ``python -m concur_lab tour`` runs every demo in both modes and ends with a table of
what differed.

Exit status: 0 on success, 1 if a demo broke (raised or returned malformed observations), 2 for a
usage error (unknown slug, bad option value), 130 after Ctrl-C.

Language: ``--lang zh`` or ``--lang en``, by default the locale's (``LANG=zh_CN.UTF-8`` gives
Chinese, see :func:`concur_lab._i18n.language_from_environment`). Every message, the demos'
titles, lessons and observation labels are translated; ``--json`` keys, slugs and the observed
values stay English, so scripts read one format, and its ``title`` and ``lesson`` are in the
chosen language. Tables are laid out by display width (:mod:`concur_lab._display`).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import faulthandler
import functools
import importlib.util
import json
import math
import os
import pkgutil
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from concur_lab import _display, demos
from concur_lab._i18n import (
    LANGUAGES,
    N_,
    language_from_environment,
    ngettext,
    use_language,
)
from concur_lab._i18n import gettext as _
from concur_lab._modes import Mode, ModeError, available_start_methods, default_start_method
from concur_lab.timeline import (
    ModeTimeline,
    PlotUnavailableError,
    headline,
    parse_spans,
    plot_gantt,
    write_trace,
)

__all__ = ["build_parser", "main"]

_PROG = "concur-lab"
_PLOT_SUFFIXES = (".png", ".svg", ".pdf")
_DEMO_TIMEOUT = 60.0
# Each worker may be a process: a typo like 1000 should not fork-bomb a laptop.
_MAX_WORKERS = 64
# Keys of the observations that get their own treatment instead of a table row.
_SPECIAL_KEYS = ("summary", "varies", "timeline", "chart")
# The tour's marks on a demo's row, explained once under the table.
_CHANCE_MARK = N_("(may differ)")
# A closing-table cell for a demo whose modes agreed.
_SAME = N_("same in both modes")
_BUSY_MARK = N_("(busy)")
# Columns narrower than this are hard to read: the tour stacks the modes instead.
_MIN_COLUMN = 30


class _UsageError(Exception):
    """A user error found after parsing; reported like argparse does, exit status 2."""


# -- argument types: each error names the bad value, argparse adds the option's name ----------


def _worker_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= _MAX_WORKERS:
        raise argparse.ArgumentTypeError(
            _("invalid worker count {value!r}: expected a whole number from 1 to {most}").format(
                value=text, most=_MAX_WORKERS
            )
        )
    return value


_START_METHODS = ("fork", "forkserver", "spawn")
_MODE_CHOICES = ("thread", "process", "both")
# What a learner is likely to type for a mode: the plural, as in "run it in threads".
_MODE_ALIASES = {"threads": "thread", "processes": "process"}


def _did_you_mean(text: str, choices: Sequence[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest of *choices*, or "" if none is close."""
    close = difflib.get_close_matches(text.lower(), list(choices), n=1, cutoff=0.6)
    return _(" (did you mean {choice!r}?)").format(choice=close[0]) if close else ""


def _start_method(text: str) -> str:
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
            value=text, hint=_did_you_mean(text, methods), methods=", ".join(methods)
        )
    )


def _mode_choice(text: str) -> str:
    wanted = text.strip().lower()
    wanted = _MODE_ALIASES.get(wanted, wanted)
    if wanted in _MODE_CHOICES:
        return wanted
    raise argparse.ArgumentTypeError(
        _("invalid choice: {value!r}{hint}; choose from {choices}").format(
            value=text, hint=_did_you_mean(wanted, _MODE_CHOICES), choices=", ".join(_MODE_CHOICES)
        )
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(
            _("invalid timeout {value!r}: expected a positive number of seconds").format(value=text)
        )
    return value


def _output_path(suffixes: Sequence[str]) -> Callable[[str], str]:
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


# -- the parser -----------------------------------------------------------------------------


class _HelpFormatter(argparse.HelpFormatter):
    """Wrap help by display width, without breaking at hyphens ('concur-lab[plot]' stays whole).

    The usage prefix is translated, and the usage lines that follow it are indented by its
    display width: argparse indents by ``len()``, which is half the width of Chinese text.
    """

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _display.wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return _display.fill(
            " ".join(text.split()), width, initial_indent=indent, subsequent_indent=indent
        )

    def _format_usage(
        self, usage: str | None, actions: Any, groups: Any, prefix: str | None
    ) -> str:
        if prefix is None:
            prefix = _("usage: ")
        pad = " " * _display.width(prefix)
        text: str = super()._format_usage(usage, actions, groups, pad)
        return text.replace(pad, prefix, 1)


# argparse's own messages, which it says in English through its module's gettext: the command
# line looks them up in its own catalog while it parses (see _argparse_speaks).
_ARGPARSE_MESSAGES = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("%(prog)s: error: %(message)s\n"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("expected one argument"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("invalid %(type)s value: %(value)r"),
    N_("unknown parser %(parser_name)r (choices: %(choices)s)"),
)


@contextlib.contextmanager
def _argparse_speaks() -> Iterator[None]:
    """Let argparse say its messages (usage, errors, section titles) in the current language.

    argparse looks its module-level ``_`` up each time it says something; while the command
    line builds and runs its parser, that is this package's catalog, falling back to English.
    """
    said = argparse._  # type: ignore[attr-defined]
    argparse._ = _  # type: ignore[attr-defined]
    try:
        yield
    finally:
        argparse._ = said  # type: ignore[attr-defined]


def _language(text: str) -> str:
    wanted = text.strip().lower()
    if wanted in LANGUAGES:
        return wanted
    raise argparse.ArgumentTypeError(
        _("unknown language {value!r}: the languages are {languages}").format(
            value=text, languages=", ".join(LANGUAGES)
        )
    )


def _add_lang(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a sub-command without --lang must not reset the one given before it.
    parser.add_argument(
        "--lang", type=_language, default=argparse.SUPPRESS,
        metavar="{" + ",".join(LANGUAGES) + "}",
        help=_("The language of the output: en (English) or zh (简体中文); default: the "
               "locale's (LC_ALL, LC_MESSAGES, LANG, LANGUAGE), else English"),
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the ``concur-lab`` command, in the current language.

    :param prog: The program name shown in usage lines; default ``concur-lab``.
    """
    prog = prog or _PROG
    with _argparse_speaks():
        return _build_parser(prog)


def _build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=_HelpFormatter,
        description=_(
            "See how Python threads and processes differ: run the demos side by side."
        ),
        epilog=_("Start with '{prog} tour', or '{prog} list' and then '{prog} run SLUG'.").format(
            prog=prog
        ),
    )
    _add_lang(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Sub-parsers are ArgumentParsers too; each gets the same formatter.
    subparser: Callable[..., argparse.ArgumentParser] = functools.partial(
        commands.add_parser, formatter_class=_HelpFormatter
    )

    listing = subparser(
        "list", help=_("List the demos with their lessons, by theme"),
        description=_("List every demo: its slug and its lesson in one line, grouped by theme."),
    )
    listing.add_argument("--json", action="store_true", help=_("Print a JSON list instead"))
    _add_lang(listing)
    listing.set_defaults(handler=_cmd_list, parser=listing)

    run = subparser(
        "run", help=_("Run one demo in thread and process mode, side by side"),
        description=_("Run one demo and show what each mode observed, side by side."),
        epilog=_("Example: %(prog)s gil-cpu-bound --plot gil.png"),
    )
    run.add_argument(
        "slug", metavar="SLUG", help=_("The demo to run (see '{prog} list')").format(prog=prog)
    )
    run.add_argument(
        "--mode", type=_mode_choice, default="both", metavar="{thread,process,both}",
        help=_("Run in threads, in processes, or both, threads first (default: both)"),
    )
    _add_start_method(run)
    run.add_argument(
        "--workers", type=_worker_count, metavar="N",
        help=_("How many workers the demo starts, 1 to {most} (default: the demo's choice)").format(
            most=_MAX_WORKERS
        ),
    )
    run.add_argument(
        "--json", action="store_true",
        help=_('Print one JSON object {"demo": SLUG, "runs": [...]} instead of the table'),
    )
    run.add_argument(
        "--timeline", type=_output_path((".json",)), metavar="FILE.json",
        help=_("Write the workers' timeline as Chrome trace-event JSON "
               "(open it in https://ui.perfetto.dev or chrome://tracing)"),
    )
    run.add_argument(
        "--plot", type=_output_path(_PLOT_SUFFIXES), metavar="FILE.png",
        help=_("Draw the timeline as a Gantt chart (.png, .svg or .pdf; needs matplotlib: "
               'pip install "concur-lab[plot]")'),
    )
    _add_demo_timeout(run)
    _add_lang(run)
    run.set_defaults(handler=_cmd_run, parser=run)

    tour = subparser(
        "tour", help=_("Run every demo in both modes and show what differed"),
        description=_("Run every demo in thread mode and in process mode, one progress line "
                      "each, then a table of what differed. Exit status 1 if a demo broke."),
    )
    _add_start_method(tour)
    tour.add_argument(
        "--json", action="store_true",
        help=_("Print one JSON object with every run (progress goes to stderr)"),
    )
    _add_demo_timeout(tour)
    _add_lang(tour)
    tour.set_defaults(handler=_cmd_tour, parser=tour)
    return parser


def _add_start_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-method", type=_start_method, metavar="METHOD",
        help=_("How process mode starts workers: {methods} "
               "(default: {default}, as multiprocessing would)").format(
            methods=", ".join(available_start_methods()), default=default_start_method()
        ),
    )


def _add_demo_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo-timeout", type=_positive_seconds, default=_DEMO_TIMEOUT, metavar="SECONDS",
        help=_("Interrupt a demo run that takes longer than this and report it as broken "
               "(default: {seconds:g})").format(seconds=_DEMO_TIMEOUT),
    )


# -- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the ``concur-lab`` command line.

    :param argv: The arguments, without the program name; default ``sys.argv[1:]``.
    :param prog: The program name for usage lines; default ``concur-lab``.
    :returns: The exit status: 0 success, 1 a demo broke, 2 usage error, 130 interrupted.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    with use_language(_chosen_language(arguments, os.environ)), _argparse_speaks():
        return _main(arguments, prog)


def _chosen_language(argv: Sequence[str], environ: Mapping[str, str]) -> str:
    """Return the language of ``--lang`` in *argv*, else the locale's (English if unknown).

    The language is needed before the parser is built (its help is translated), so ``--lang``
    is looked for first; a value that is no language is left for the parser to refuse, in the
    locale's language.
    """
    for i, word in enumerate(argv):
        if word == "--":
            break
        name, equals, value = word.partition("=")
        if len(name) >= 3 and "--lang".startswith(name):
            if not equals:
                value = argv[i + 1] if i + 1 < len(argv) else ""
            with contextlib.suppress(argparse.ArgumentTypeError):
                return _language(value)
    return language_from_environment(environ)


def _main(arguments: list[str], prog: str | None) -> int:
    parser = _build_parser(prog or _PROG)
    try:
        _check_command(parser, arguments)
        args = parser.parse_args(arguments)
        handler: Callable[[argparse.Namespace], int] = args.handler
        try:
            return handler(args)
        except _UsageError as exc:
            command: argparse.ArgumentParser = args.parser
            command.error(str(exc))
    except SystemExit as exc:  # argparse: --help (0) and usage errors (2)
        return _exit_status(exc.code)
    except KeyboardInterrupt:
        print("\n" + _("{prog}: interrupted").format(prog=parser.prog), file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`concur-lab list | head`): stop quietly, without a second
        # error when Python flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


_COMMANDS = ("list", "run", "tour")


def _check_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Refuse an unknown command with a suggestion, as an unknown demo is refused."""
    if not argv or argv[0].startswith("-") or argv[0] in _COMMANDS:
        return
    word = argv[0]
    hint = _did_you_mean(word, _COMMANDS)
    if not hint:
        catalogue, _errors = _catalogue()
        slug = word.strip().lower().replace("_", "-")
        if any(demo.slug == slug for demo in catalogue):
            hint = _(" (did you mean 'run {slug}'?)").format(slug=slug)
    if not hint:
        hint = _("; new here? start with '{prog} tour'").format(prog=parser.prog)
    parser.error(
        _("unknown command {word!r}{hint}; the commands are {commands}").format(
            word=word, hint=hint, commands=", ".join(_COMMANDS)
        )
    )


def _prog(args: argparse.Namespace) -> str:
    """Return the program name ("concur-lab") from the sub-command's "concur-lab run"."""
    parser: argparse.ArgumentParser = args.parser
    return parser.prog.rsplit(" ", 1)[0]


def _exit_status(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


# -- the catalogue --------------------------------------------------------------------------


@dataclass(frozen=True)
class _LoadError:
    """A demo module that could not be imported or lacks what the catalogue needs."""

    module: str
    error: str

    def __str__(self) -> str:
        return _("demo module {module!r} failed to load: {error}").format(
            module=self.module, error=self.error
        )


def _catalogue() -> tuple[tuple[demos.Demo, ...], tuple[_LoadError, ...]]:
    """Return the demos and the demo modules that failed to load.

    The registry loads all modules or fails as a whole; one broken module must not hide the
    others (the tour goes on past a broken demo), so on failure the modules are loaded one by one.
    """
    try:
        return demos.all_demos(), ()
    except Exception:
        return _load_one_by_one()


def _load_one_by_one() -> tuple[tuple[demos.Demo, ...], tuple[_LoadError, ...]]:
    found: list[demos.Demo] = []
    errors: list[_LoadError] = []
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
            errors.append(_LoadError(info.name, _one_line(f"{type(exc).__name__}: {exc}")))
            continue
        found.append(demo)
    rank = {theme: i for i, theme in enumerate(demos.THEMES)}
    found.sort(key=lambda d: (rank[d.theme], d.order, d.slug))
    return tuple(found), tuple(errors)


def _warn_load_errors(errors: Sequence[_LoadError], prog: str) -> None:
    for error in errors:
        print(_("{prog}: warning: {error}").format(prog=prog, error=error), file=sys.stderr)


def _find_demo(slug: str, prog: str) -> demos.Demo:
    """Return the demo called *slug* (case and ``_``/``-`` forgiven), or say which are close."""
    wanted = slug.strip().lower().replace("_", "-")
    catalogue, errors = _catalogue()
    _warn_load_errors(errors, prog)
    for demo in catalogue:
        if demo.slug == wanted:
            return demo
    slugs = [demo.slug for demo in catalogue]
    close = [s for s in slugs if wanted and wanted in s]
    similar = difflib.get_close_matches(wanted, slugs, n=5, cutoff=0.5)
    close += [s for s in similar if s not in close]
    if close:
        raise _UsageError(
            _("unknown demo {slug!r}; closest: {close}").format(
                slug=slug, close=", ".join(close[:5])
            )
        )
    raise _UsageError(
        _("unknown demo {slug!r}; '{prog} list' shows all {count} demos").format(
            slug=slug, prog=prog, count=len(slugs)
        )
    )


# -- running demos --------------------------------------------------------------------------


@dataclass
class _Run:
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


def _run_demo(
    demo: demos.Demo, mode: Mode, workers: int | None, timeout: float
) -> _Run:
    """Run *demo* once in *mode*; an exception or malformed result becomes the run's error."""
    started = time.perf_counter()
    try:
        with _time_limit(timeout):
            observed = demo.observe(mode, workers=workers)
        _check_observations(observed)
    except (_DemoHung, Exception) as exc:  # a broken demo is reported, not fatal
        if _raised_during(exc, KeyboardInterrupt):
            # Ctrl-C hit the demo, whose clean-up may then have failed: the interrupt wins.
            raise KeyboardInterrupt from exc
        if _raised_during(exc, _DemoHung):
            error = _("hung: no result after {seconds:g} s, interrupted").format(seconds=timeout)
        else:
            error = _one_line(f"{type(exc).__name__}: {exc}")
        details = "".join(traceback.format_exception(exc))
        return _Run(mode, time.perf_counter() - started, error=error, details=details)
    return _Run(mode, time.perf_counter() - started, observed=observed)


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


def _check_observations(observed: object) -> None:
    if not isinstance(observed, dict):
        raise TypeError(f"run() returned {type(observed).__name__}, not a dict of observations")
    try:
        json.dumps(observed)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"the observations are not JSON-serialisable: {exc}") from None
    if "timeline" in observed:
        parse_spans(observed["timeline"], where="observations['timeline']")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _modes(kind: str, start_method: str | None) -> list[Mode]:
    modes = []
    if kind in ("thread", "both"):
        modes.append(Mode.thread())
    if kind in ("process", "both"):
        try:
            modes.append(Mode.process(start_method))
        except ModeError as exc:
            raise _UsageError(
                _("argument {option}: {message}").format(option="--start-method", message=exc)
            ) from None
    return modes


# -- list -----------------------------------------------------------------------------------


def _cmd_list(args: argparse.Namespace) -> int:
    catalogue, errors = _catalogue()
    prog = _prog(args)
    _warn_load_errors(errors, prog)
    status = 1 if errors else 0
    out = sys.stdout
    if args.json:
        entries = [
            {"slug": d.slug, "title": _(d.title), "theme": d.theme, "lesson": _(d.lesson)}
            for d in catalogue
        ]
        print(json.dumps(entries, indent=2), file=out)
        return status
    width = _width()
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


# -- run ------------------------------------------------------------------------------------


def _cmd_run(args: argparse.Namespace) -> int:
    prog = _prog(args)
    demo = _find_demo(args.slug, prog)
    if args.start_method is not None and args.mode == "thread":
        raise _UsageError(
            _("argument {option}: {value!r} applies to process mode, not to --mode thread").format(
                option="--start-method", value=args.start_method
            )
        )
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise _UsageError(
            _('argument {option}: drawing needs matplotlib: pip install "concur-lab[plot]"').format(
                option="--plot"
            )
        )
    _check_demo_options(args, demo)
    modes = _modes(args.mode, args.start_method)
    # Observations are data: --json gets them in English whatever the language, like its keys.
    with use_language("en") if args.json else contextlib.nullcontext():
        runs = [_run_demo(demo, mode, args.workers, args.demo_timeout) for mode in modes]
    # Pictures first: a reader that stops reading stdout early (`| head`) still gets them.
    status = 0
    notes: list[str] = []
    errors: list[str] = []
    if (args.timeline is not None or args.plot is not None) and any(run.ok for run in runs):
        status, notes, errors = _write_pictures(args, demo, runs)
    if args.json:
        document = {
            "demo": demo.slug,
            "title": _(demo.title),
            "lesson": _(demo.lesson),
            "runs": [run.to_json() for run in runs],
        }
        print(json.dumps(document, indent=2))
    else:
        _print_side_by_side(demo, runs, sys.stdout)
    for note in notes:
        print(
            _display.fill(note, _width(), subsequent_indent="  "),
            file=sys.stderr if args.json else sys.stdout,
        )
    for run in runs:
        if not run.ok:
            print(
                _("{prog}: demo {slug!r} broke in {mode} mode:").format(
                    prog=prog, slug=demo.slug, mode=_mode_label(run.mode)
                ),
                run.details, sep="\n", file=sys.stderr, end="",
            )
            status = max(status, 1)
    for error in errors:
        print(error, file=sys.stderr)
    return status


def _check_demo_options(args: argparse.Namespace, demo: demos.Demo) -> None:
    """Refuse options the demo cannot honour, before it runs, naming the demo."""
    fixed = demo.fixed_workers
    if args.workers is not None and fixed is not None:
        raise _UsageError(
            ngettext(
                "argument {option}: does not apply to demo {slug!r}: it always uses "
                "{count} worker (per case)",
                "argument {option}: does not apply to demo {slug!r}: it always uses "
                "{count} workers (per case)",
                fixed,
            ).format(option="--workers", slug=demo.slug, count=fixed)
        )
    if (args.timeline is not None or args.plot is not None) and not demo.records_timeline:
        option = "--timeline" if args.timeline is not None else "--plot"
        catalogue, _errors = _catalogue()
        drawable = [d.slug for d in catalogue if d.records_timeline]
        raise _UsageError(
            _("argument {option}: demo {slug!r} records no timeline, so there is nothing "
              "to draw; these do: {drawable}").format(
                option=option, slug=demo.slug, drawable=", ".join(drawable)
            )
        )


def _write_pictures(
    args: argparse.Namespace, demo: demos.Demo, runs: Sequence[_Run]
) -> tuple[int, list[str], list[str]]:
    """Write the --timeline and --plot files.

    :returns: The exit status, the notes to show and the errors to report.
    """
    timelines = [
        ModeTimeline.from_observations(run.mode.label, run.observed)
        for run in runs
        if run.observed is not None and "timeline" in run.observed
    ]
    prog = _prog(args)
    if not timelines:
        option = "--timeline" if args.plot is None else "--plot"
        return 2, [], [
            _("{prog} run: error: {option}: demo {slug!r} records no timeline "
              "(its observations have no 'timeline' key), so there is nothing to draw").format(
                prog=prog, option=option, slug=demo.slug
            )
        ]
    notes: list[str] = []
    try:
        if args.timeline is not None:
            write_trace(args.timeline, timelines, name=demo.slug)
            notes.append(
                _("timeline written to {path} "
                  "(open it in https://ui.perfetto.dev or chrome://tracing)").format(
                    path=args.timeline
                )
            )
        if args.plot is not None:
            # The figures keep English text (see docs/reference/cli.rst): no CJK font ships.
            plot_gantt(args.plot, timelines, title=headline(timelines), subtitle=demo.lesson)
            notes.append(_("chart written to {path}").format(path=args.plot))
    except PlotUnavailableError as exc:
        return 2, notes, [
            _("{prog} run: error: {option}: {message}").format(
                prog=prog, option="--plot", message=exc
            )
        ]
    except OSError as exc:
        where = exc.filename if exc.filename is not None else (args.plot or args.timeline)
        return 1, notes, [
            _("{prog} run: error: cannot write {path!r}: {reason}").format(
                prog=prog, path=where, reason=exc.strerror or exc
            )
        ]
    return 0, notes, []


def _print_side_by_side(demo: demos.Demo, runs: Sequence[_Run], out: TextIO) -> None:
    width = _width()
    print(f"{demo.slug}: {_(demo.title)}", file=out)
    rows: list[tuple[str, list[list[str]]]] = []
    if not all(run.ok for run in runs):
        rows.append((_("BROKE"), [[run.error] if run.error else [] for run in runs]))
    observed = [run.observed if run.observed is not None else {} for run in runs]
    if any("summary" in o for o in observed):
        rows.append(
            (_label("summary"),
             [_cell_lines(o["summary"]) if "summary" in o else [] for o in observed])
        )
    rows.extend(_tree_rows(observed, depth=0))
    timelines = [run.observed.get("timeline") if run.observed else None for run in runs]
    if any(timelines):
        rows.append((_label("timeline"), [[_timeline_note(t)] if t else ["-"] for t in timelines]))
    header = [
        _("{mode} ({time})").format(mode=_mode_label(run.mode), time=run.time_text())
        for run in runs
    ]
    differ = len(runs) > 1
    _print_table(rows, header, width, out, mark_differences=differ)
    varies = [run.observed.get("varies") for run in runs if run.observed]
    for note in dict.fromkeys(v for v in varies if v):
        print(_display.fill(_("Varies: {note}").format(note=_(note)), width,
                            subsequent_indent="  "), file=out)
    print(_display.fill(_("Lesson: {lesson}").format(lesson=_(demo.lesson)), width,
                        subsequent_indent="  "), file=out)
    if differ:
        print(_("(* marks what differed between the modes)"), file=out)


def _mode_label(mode: Mode) -> str:
    """Return the mode's label in the current language: ``thread`` or ``process[fork]``."""
    if mode.kind == "thread":
        return _("thread")
    return _("process[{method}]").format(method=mode.start_method)


def _mode_kind(mode: Mode) -> str:
    """Return ``thread`` or ``process`` in the current language."""
    return _("thread") if mode.kind == "thread" else _("process")


def _timeline_note(raw: object) -> str:
    spans = parse_spans(raw)
    workers = len({span.worker for span in spans})
    end = max((span.end for span in spans), default=0.0)
    return _("{spans} spans, {workers} workers, {end:.2f} s (draw it with --plot FILE.png)").format(
        spans=len(spans), workers=workers, end=end
    )


def _print_table(
    rows: Sequence[tuple[str, Sequence[Sequence[str]]]],
    header: Sequence[str],
    width: int,
    out: TextIO,
    *,
    mark_differences: bool,
    spaced: bool = False,
) -> None:
    """Print *rows* with one column per mode, or one block per row when columns would be narrow.

    Every line fits in *width*: cells and titles wrap inside their column, and when the columns
    would be too narrow to read (an 80-column terminal with long cells) the modes are stacked
    under each row's label instead.
    """
    key_width = min(
        max((_display.width(key) for key, _cells in rows), default=0) + 3, max(width * 2 // 5, 20)
    )
    gap = 3
    column = max((width - key_width - gap * len(header)) // max(len(header), 1), 8)
    if spaced and len(header) > 1 and column < _MIN_COLUMN:
        _print_stacked(rows, header, width, out, mark_differences=mark_differences)
        return
    # A title too wide for its column breaks before its time: "process[spawn]" / "(0.40 s)".
    titles = [_wrap(_title_lines(title, column), column) for title in header]
    for line in range(max(len(t) for t in titles)):
        text = " " * key_width + "".join(
            " " * gap + _display.ljust(t[line] if line < len(t) else "", column) for t in titles
        )
        print(text.rstrip(), file=out)
    print(
        " " * key_width
        + "".join(
            " " * gap + _display.ljust("-" * max(_display.width(x) for x in t), column)
            for t in titles
        ).rstrip(),
        file=out,
    )
    line_count = 0
    for key, cells in rows:
        differs = _differs(cells) if mark_differences else False
        if len(cells) == 1 < len(header):
            # One cell for all columns: the modes agreed, and saying it twice would hide that.
            wrapped = [_wrap(cells[0], column * len(header) + gap * (len(header) - 1))]
        else:
            wrapped = [_wrap(cell, column) for cell in cells]
        label = _key_label(key, "* " if differs else "  ", key_width - 1)
        height = max([len(label), *(len(w) for w in wrapped)])
        if spaced and line_count:
            # Rows of several lines run together without a gap.
            print(file=out)
        line_count += height
        for line in range(height):
            left = label[line] if line < len(label) else ""
            text = _display.ljust(left, key_width) + "".join(
                " " * gap + _display.ljust(w[line] if line < len(w) else "", column)
                for w in wrapped
            )
            print(text.rstrip(), file=out)


def _title_lines(title: str, width: int) -> list[str]:
    """Split a column title that does not fit before its time: ``mode`` / ``(0.40 s)``."""
    name, paren, rest = title.partition(" (")
    if _display.width(title) <= width or not paren:
        return [title]
    return [name, f"({rest}"]


def _differs(cells: Sequence[Sequence[str]]) -> bool:
    return any(list(c) != list(cells[0]) for c in cells[1:])


def _print_stacked(
    rows: Sequence[tuple[str, Sequence[Sequence[str]]]],
    header: Sequence[str],
    width: int,
    out: TextIO,
    *,
    mark_differences: bool,
) -> None:
    """Print each row as its label, then one indented line per mode, wrapped to *width*."""
    title_width = max(_display.width(title) for title in header) + 2
    for number, (key, cells) in enumerate(rows):
        if number:
            print(file=out)
        differs = mark_differences and _differs(cells)
        print(_display.fill(("* " if differs else "  ") + key.strip(), width), file=out)
        if len(cells) == 1 < len(header):
            # The modes agreed: the cell says so, once, under the label.
            pairs = [("", cells[0])]
        else:
            pairs = list(zip(header, cells, strict=False))
        indent = " " * 4
        for title, cell in pairs:
            colon = _(":")
            lead = indent + _display.ljust(title + colon, title_width) if title else indent
            if _display.width(lead) > width // 2:
                lead = f"{indent}{title}{colon} "
            lead_width = _display.width(lead)
            body = _wrap(cell, max(width - lead_width, 20))
            for i, line in enumerate(body):
                print(((lead if i == 0 else " " * lead_width) + line).rstrip(), file=out)


def _key_label(key: str, mark: str, width: int) -> list[str]:
    """Wrap a row's key (indented by depth) inside the key column, the mark in front."""
    depth = len(key) - len(key.lstrip(" "))
    prefix = mark + " " * depth
    parts = _display.wrap(key.strip(), max(width - len(prefix), 8), subsequent_indent="  ") or [""]
    return [prefix + parts[0]] + [" " * len(prefix) + part for part in parts[1:]]


def _wrap(lines: Sequence[str], width: int) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(_display.wrap(line, width, subsequent_indent="  ") or [""])
    return wrapped


_MISSING = object()


def _tree_rows(values: Sequence[object], depth: int) -> list[tuple[str, list[list[str]]]]:
    """Lay out the runs' observations as table rows, nested dicts as indented sub-rows."""
    rows: list[tuple[str, list[list[str]]]] = []
    for key in _union_keys([v for v in values if isinstance(v, Mapping)]):
        if depth == 0 and key in _SPECIAL_KEYS:
            continue
        children = [v.get(key, _MISSING) if isinstance(v, Mapping) else _MISSING for v in values]
        children = _key_records(children)
        label = "  " * depth + _label(key)
        nested = [c for c in children if c is not _MISSING]
        if all(isinstance(c, Mapping) and c for c in nested):
            rows.append((label, [[] for _value in values]))
            rows.extend(_tree_rows(children, depth + 1))
        else:
            rows.append((label, [[] if c is _MISSING else _cell_lines(c) for c in children]))
    return rows


def _key_records(values: list[Any]) -> list[Any]:
    """Turn lists of records that name themselves by their first field into dicts by that name.

    ``[{"case": "exit(3)", "exitcode": 3}, ...]`` becomes ``{"exit(3)": "exitcode=3", ...}``, so
    each record gets its own row and the same record sits side by side in both columns.
    """
    present = [v for v in values if v is not _MISSING]
    if not present or not all(
        isinstance(v, list) and v and all(isinstance(r, Mapping) and len(r) >= 2 for r in v)
        for v in present
    ):
        return values
    first_keys = {next(iter(record)) for v in present for record in v}
    if len(first_keys) != 1:
        return values
    (field,) = first_keys
    names = [[record[field] for record in v] for v in present]
    if not all(
        all(isinstance(n, str | int) and not isinstance(n, bool) for n in ns)
        and len(set(ns)) == len(ns)
        for ns in names
    ):
        return values
    return [
        v if v is _MISSING else {
            str(record[field]): _(", ").join(
                f"{_label(k)}{_colon()}{_scalar(x)}" for k, x in record.items() if k != field
            )
            for record in v
        }
        for v in values
    ]


def _union_keys(dicts: Sequence[Mapping[Any, Any]]) -> list[Any]:
    """Return every key of *dicts*, a key missing from the first placed after its predecessor."""
    order: list[Any] = []
    for mapping in dicts:
        position = -1
        for key in mapping:
            if key in order:
                position = order.index(key)
            else:
                position += 1
                order.insert(position, key)
    return order


def _flatten(observed: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested dicts into dotted keys, to compare the modes leaf by leaf."""
    flat: dict[str, Any] = {}
    for key, value in observed.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value and name not in _SPECIAL_KEYS:
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _cell_lines(value: Any) -> list[str]:
    """Format one observation as lines: lists of dicts one item a line, the rest compactly."""
    if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        return [
            _(", ").join(f"{_label(k)}{_colon()}{_scalar(v)}" for k, v in item.items())
            for item in value
        ]
    return [_scalar(value)]


def _colon() -> str:
    """Return the separator between a label and its value: ``": "``, or a fullwidth colon."""
    return _(": ")


def _label(key: object) -> str:
    """Turn an observation key into a label: ``wall_s`` becomes ``wall (s)``, ``_`` a space.

    The label is then looked up in the catalog (the demos' labels are marked in
    :mod:`concur_lab.demos._labels`), so ``caller_set`` reads 调用方设置的值 in Chinese.
    """
    text = str(key)
    if text.endswith("_s") and len(text) > 2:
        text = text[:-2] + " (s)"
    return _(text.replace("_", " "))


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        # A demo's fixed message (marked N_ in its module) is shown in the current language.
        return _(value)
    if isinstance(value, float):
        if math.isfinite(value) and 1e-3 <= abs(value) < 1e9:
            return f"{value:.3f}".rstrip("0").rstrip(".")
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _width() -> int:
    return max(shutil.get_terminal_size((100, 24)).columns, 60)


# -- tour -----------------------------------------------------------------------------------


def _cmd_tour(args: argparse.Namespace) -> int:
    catalogue, load_errors = _catalogue()
    modes = _modes("both", args.start_method)
    progress = sys.stderr if args.json else sys.stdout
    prog = _prog(args)
    print(
        _("Touring {count} demos, each in {modes} mode.").format(
            count=len(catalogue), modes=_(" and ").join(_mode_label(m) for m in modes)
        ),
        file=progress, flush=True,
    )
    for error in load_errors:
        print(_("BROKE: {error}").format(error=error), file=progress, flush=True)
    slug_width = max((len(d.slug) for d in catalogue), default=0)
    count_width = len(str(len(catalogue)))
    width = _width()
    started = time.perf_counter()
    results: list[tuple[demos.Demo, list[_Run]]] = []
    for number, demo in enumerate(catalogue, start=1):
        print(
            f"[{number:>{count_width}}/{len(catalogue)}] {demo.slug:<{slug_width}}",
            end="", file=progress, flush=True,
        )
        runs = []
        used = count_width * 2 + 4 + slug_width
        for mode in modes:
            # Observations are data: --json gets them in English, like its keys.
            with use_language("en") if args.json else contextlib.nullcontext():
                run = _run_demo(demo, mode, None, args.demo_timeout)
            runs.append(run)
            part = f"  {_mode_kind(mode)} {_display.rjust(run.time_text(), 6)}"
            if used + _display.width(part) > width:
                print(file=progress)
                part, used = " " * (count_width * 2 + 3) + part, count_width * 2 + 3
            used += _display.width(part)
            print(part, end="", file=progress, flush=True)
        broken = [run for run in runs if not run.ok]
        verdict = _("ok") if not broken else _("BROKE in {mode}: {error}").format(
            mode=_mode_label(broken[0].mode), error=broken[0].error
        )
        if used + 2 + _display.width(verdict) <= width:
            print(f"  {verdict}", file=progress, flush=True)
        else:
            print(file=progress)
            print(
                _display.fill(verdict, width, initial_indent="    ", subsequent_indent="      "),
                file=progress, flush=True,
            )
        results.append((demo, runs))
    elapsed = time.perf_counter() - started
    broke = [demo.slug for demo, runs in results if not all(run.ok for run in runs)]
    broke += [_("{module} (did not load)").format(module=error.module) for error in load_errors]
    if args.json:
        document = {
            "tour": [
                {"demo": demo.slug, "runs": [run.to_json() for run in runs]}
                for demo, runs in results
            ],
            "broken": broke,
            "load_errors": [{"module": e.module, "error": e.error} for e in load_errors],
            "seconds": round(elapsed, 3),
        }
        print(json.dumps(document, indent=2))
    else:
        _print_differences(results, modes, sys.stdout)
    summary = _("{count} demos in {seconds:.1f} s").format(count=len(results), seconds=elapsed)
    if broke:
        summary += _("; {count} broke: {slugs} (see the traceback with '{prog} run SLUG')").format(
            count=len(broke), slugs=", ".join(broke), prog=prog
        )
    else:
        summary += _(", none broke")
    print(_display.fill(summary, width), file=progress)
    return 1 if broke else 0


def _print_differences(
    results: Sequence[tuple[demos.Demo, Sequence[_Run]]], modes: Sequence[Mode], out: TextIO
) -> None:
    rows: list[tuple[str, list[list[str]]]] = []
    chance = busy = differed = 0
    for demo, runs in results:
        label = demo.slug
        if demo.by_chance:
            label += f" {_(_CHANCE_MARK)}"
            chance += 1
        if any(_was_busy(run) for run in runs):
            label += f" {_(_BUSY_MARK)}"
            busy += 1
        cells = _difference_cells(runs)
        differed += len(cells) > 1 and any(cell != cells[0] for cell in cells[1:])
        rows.append((label, cells))
    width = _width()
    print("\n" + _("What differed between the modes"), file=out)
    _print_table(
        rows, [_mode_label(mode) for mode in modes], width, out, mark_differences=True,
        spaced=True,
    )
    print(
        "\n" + _("{differed} of {count} demos differed between the modes (marked *).").format(
            differed=differed, count=len(results)
        ),
        file=out,
    )
    notes = []
    if chance:
        notes.append(
            _("{mark}: timing decides these numbers, so your run may show others; "
              "the lesson stays the same.").format(mark=_(_CHANCE_MARK))
        )
    if busy:
        notes.append(
            ngettext(
                "{mark}: other programs used the CPU during {count} demo that needs free cores; "
                "run it again when the machine is idle.",
                "{mark}: other programs used the CPU during {count} demos that need free cores; "
                "run them again when the machine is idle.",
                busy,
            ).format(mark=_(_BUSY_MARK), count=busy)
        )
    for note in notes:
        print(_display.fill(note, width, subsequent_indent="  "), file=out)


def _was_busy(run: _Run) -> bool:
    """Whether the demo found other programs taking the cores its workers needed."""
    return bool(run.observed and run.observed.get("machine_busy") is True)


def _difference_cells(runs: Sequence[_Run]) -> list[list[str]]:
    """Say per mode what it observed that the other mode did not: the summary, or one key.

    :returns: One cell per run, or a single cell spanning the columns when the modes agree.
    """
    if not all(run.ok for run in runs):
        return [
            [_("BROKE: {error}").format(error=run.error)] if not run.ok else [_("ok")]
            for run in runs
        ]
    observed = [run.observed or {} for run in runs]
    if all("summary" in o for o in observed):
        summaries = [_(str(o["summary"])) for o in observed]
        if len(runs) > 1 and len(set(summaries)) == 1:
            return [[f"{_(_SAME)}{_colon()}{summaries[0]}"]]
        return [[summary] for summary in summaries]
    flat = [_flatten(o) for o in observed]
    for key in flat[0]:
        if key.split(".")[0] in _SPECIAL_KEYS:
            continue
        values = [f.get(key, "-") for f in flat]
        if any(v != values[0] for v in values[1:]):
            label = " ".join(_label(part) for part in key.split("."))
            return [[f"{label}{_colon()}{_scalar(v)}"] for v in values]
    return [[_(_SAME)]]
