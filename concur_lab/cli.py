"""The ``concur-lab`` command line: list the demos, run one in both modes, take the tour.

``python -m concur_lab list`` shows every demo's slug and lesson by theme;
``python -m concur_lab run SLUG`` runs one demo in thread mode and in process mode and puts the
observations side by side (``--json`` for a machine-readable object, ``--timeline``/``--plot`` for
pictures); ``python -m concur_lab tour`` runs every demo in both modes and ends with a table of
what differed.

Exit status: 0 on success, 1 if a demo broke (raised or returned malformed observations), 2 for a
usage error (unknown slug, bad option value), 130 after Ctrl-C.
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
import textwrap
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from concur_lab import demos
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
_CHANCE_MARK = "(may differ)"
# A closing-table cell for a demo whose modes agreed.
_SAME = "same in both modes"
_BUSY_MARK = "(busy)"
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
            f"invalid worker count {text!r}: expected a whole number from 1 to {_MAX_WORKERS}"
        )
    return value


_START_METHODS = ("fork", "forkserver", "spawn")
_MODE_CHOICES = ("thread", "process", "both")
# What a learner is likely to type for a mode: the plural, as in "run it in threads".
_MODE_ALIASES = {"threads": "thread", "processes": "process"}


def _did_you_mean(text: str, choices: Sequence[str]) -> str:
    """Return " (did you mean 'x'?)" for the closest of *choices*, or "" if none is close."""
    close = difflib.get_close_matches(text.lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _start_method(text: str) -> str:
    methods = available_start_methods()
    if text in methods:
        return text
    if text in _START_METHODS:
        raise argparse.ArgumentTypeError(
            f"start method {text!r} is not available on {sys.platform}: "
            f"choose from {', '.join(methods)}"
        )
    raise argparse.ArgumentTypeError(
        f"{text!r} is not a start method{_did_you_mean(text, methods)}; "
        f"the start methods are {', '.join(methods)}"
    )


def _mode_choice(text: str) -> str:
    wanted = text.strip().lower()
    wanted = _MODE_ALIASES.get(wanted, wanted)
    if wanted in _MODE_CHOICES:
        return wanted
    raise argparse.ArgumentTypeError(
        f"invalid choice: {text!r}{_did_you_mean(wanted, _MODE_CHOICES)}; "
        f"choose from {', '.join(_MODE_CHOICES)}"
    )


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(
            f"invalid timeout {text!r}: expected a positive number of seconds"
        )
    return value


def _output_path(suffixes: Sequence[str]) -> Callable[[str], str]:
    def check(text: str) -> str:
        if os.path.splitext(text)[1].lower() not in suffixes:
            raise argparse.ArgumentTypeError(
                f"cannot write {text!r}: the file name must end in {', '.join(suffixes)}"
            )
        folder = os.path.dirname(os.path.abspath(text))
        if not os.path.isdir(folder):
            raise argparse.ArgumentTypeError(
                f"cannot write {text!r}: folder {folder!r} does not exist"
            )
        if os.path.isdir(text):
            raise argparse.ArgumentTypeError(f"cannot write {text!r}: it is a folder")
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
            f"cannot write {path!r}: {exc.strerror or exc}"
        ) from None
    if not existed:
        with contextlib.suppress(OSError):
            os.unlink(path)


# -- the parser -----------------------------------------------------------------------------


class _HelpFormatter(argparse.HelpFormatter):
    """Wrap help text without breaking at hyphens, so 'concur-lab[plot]' stays copyable."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the ``concur-lab`` command.

    :param prog: The program name shown in usage lines; default ``concur-lab``.
    """
    prog = prog or _PROG
    parser = argparse.ArgumentParser(
        prog=prog,
        formatter_class=_HelpFormatter,
        description="See how Python threads and processes differ: run the demos side by side.",
        epilog=f"Start with '{prog} tour', or '{prog} list' and then '{prog} run SLUG'.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    # Sub-parsers are ArgumentParsers too; each gets the same formatter.
    subparser: Callable[..., argparse.ArgumentParser] = functools.partial(
        commands.add_parser, formatter_class=_HelpFormatter
    )

    listing = subparser(
        "list", help="List the demos with their lessons, by theme",
        description="List every demo: its slug and its lesson in one line, grouped by theme.",
    )
    listing.add_argument("--json", action="store_true", help="Print a JSON list instead")
    listing.set_defaults(handler=_cmd_list, parser=listing)

    run = subparser(
        "run", help="Run one demo in thread and process mode, side by side",
        description="Run one demo and show what each mode observed, side by side.",
        epilog="Example: %(prog)s gil-cpu-bound --plot gil.png",
    )
    run.add_argument("slug", metavar="SLUG", help=f"The demo to run (see '{prog} list')")
    run.add_argument(
        "--mode", type=_mode_choice, default="both", metavar="{thread,process,both}",
        help="Run in threads, in processes, or both, threads first (default: both)",
    )
    _add_start_method(run)
    run.add_argument(
        "--workers", type=_worker_count, metavar="N",
        help=f"How many workers the demo starts, 1 to {_MAX_WORKERS} (default: the demo's choice)",
    )
    run.add_argument(
        "--json", action="store_true",
        help='Print one JSON object {"demo": SLUG, "runs": [...]} instead of the table',
    )
    run.add_argument(
        "--timeline", type=_output_path((".json",)), metavar="FILE.json",
        help="Write the workers' timeline as Chrome trace-event JSON "
        "(open it in https://ui.perfetto.dev or chrome://tracing)",
    )
    run.add_argument(
        "--plot", type=_output_path(_PLOT_SUFFIXES), metavar="FILE.png",
        help="Draw the timeline as a Gantt chart (.png, .svg or .pdf; needs matplotlib: "
        'pip install "concur-lab[plot]")',
    )
    _add_demo_timeout(run)
    run.set_defaults(handler=_cmd_run, parser=run)

    tour = subparser(
        "tour", help="Run every demo in both modes and show what differed",
        description="Run every demo in thread mode and in process mode, one progress line "
        "each, then a table of what differed. Exit status 1 if a demo broke.",
    )
    _add_start_method(tour)
    tour.add_argument(
        "--json", action="store_true",
        help="Print one JSON object with every run (progress goes to stderr)",
    )
    _add_demo_timeout(tour)
    tour.set_defaults(handler=_cmd_tour, parser=tour)
    return parser


def _add_start_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-method", type=_start_method, metavar="METHOD",
        help=f"How process mode starts workers: {', '.join(available_start_methods())} "
        f"(default: {default_start_method()}, as multiprocessing would)",
    )


def _add_demo_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo-timeout", type=_positive_seconds, default=_DEMO_TIMEOUT, metavar="SECONDS",
        help="Interrupt a demo run that takes longer than this and report it as broken "
        f"(default: {_DEMO_TIMEOUT:g})",
    )


# -- entry point ----------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Run the ``concur-lab`` command line.

    :param argv: The arguments, without the program name; default ``sys.argv[1:]``.
    :param prog: The program name for usage lines; default ``concur-lab``.
    :returns: The exit status: 0 success, 1 a demo broke, 2 usage error, 130 interrupted.
    """
    parser = build_parser(prog)
    try:
        arguments = list(sys.argv[1:] if argv is None else argv)
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
        print(f"\n{parser.prog}: interrupted", file=sys.stderr)
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
        catalogue, _ = _catalogue()
        slug = word.strip().lower().replace("_", "-")
        if any(demo.slug == slug for demo in catalogue):
            hint = f" (did you mean 'run {slug}'?)"
    if not hint:
        hint = f"; new here? start with '{parser.prog} tour'"
    parser.error(f"unknown command {word!r}{hint}; the commands are {', '.join(_COMMANDS)}")


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
        return f"demo module {self.module!r} failed to load: {self.error}"


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
                raise ValueError(f"THEME {demo.theme!r} is not one of {', '.join(demos.THEMES)}")
        except Exception as exc:  # reported like a broken demo
            errors.append(_LoadError(info.name, _one_line(f"{type(exc).__name__}: {exc}")))
            continue
        found.append(demo)
    rank = {theme: i for i, theme in enumerate(demos.THEMES)}
    found.sort(key=lambda d: (rank[d.theme], d.order, d.slug))
    return tuple(found), tuple(errors)


def _warn_load_errors(errors: Sequence[_LoadError], prog: str) -> None:
    for error in errors:
        print(f"{prog}: warning: {error}", file=sys.stderr)


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
        raise _UsageError(f"unknown demo {slug!r}; closest: {', '.join(close[:5])}")
    raise _UsageError(f"unknown demo {slug!r}; '{prog} list' shows all {len(slugs)} demos")


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
        text = f"{self.shown_seconds:.2f} s"
        if self.attempts > 1:
            text += f", best of {self.attempts} tries"
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
            error = f"hung: no result after {timeout:g} s, interrupted"
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
            raise _UsageError(f"argument --start-method: {exc}") from None
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
            {"slug": d.slug, "title": d.title, "theme": d.theme, "lesson": d.lesson}
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
        print(f"\n{heading}", file=out)
        for demo in members:
            print(
                textwrap.fill(
                    demo.lesson, width=width, initial_indent=f"  {demo.slug:<{slug_width}}",
                    subsequent_indent=" " * (slug_width + 2),
                ),
                file=out,
            )
    print(file=out)
    print(
        textwrap.fill(
            f"{len(catalogue)} demos. Run one with '{prog} run SLUG', or all with '{prog} tour'.",
            width=width,
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
            f"argument --start-method: {args.start_method!r} applies to process mode, "
            "not to --mode thread"
        )
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise _UsageError(
            'argument --plot: drawing needs matplotlib: pip install "concur-lab[plot]"'
        )
    _check_demo_options(args, demo)
    modes = _modes(args.mode, args.start_method)
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
            "title": demo.title,
            "lesson": demo.lesson,
            "runs": [run.to_json() for run in runs],
        }
        print(json.dumps(document, indent=2))
    else:
        _print_side_by_side(demo, runs, sys.stdout)
    for note in notes:
        print(
            textwrap.fill(note, width=_width(), subsequent_indent="  ", break_on_hyphens=False),
            file=sys.stderr if args.json else sys.stdout,
        )
    for run in runs:
        if not run.ok:
            print(
                f"{prog}: demo {demo.slug!r} broke in {run.mode.label} mode:\n{run.details}",
                file=sys.stderr,
                end="",
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
            f"argument --workers: does not apply to demo {demo.slug!r}: it always uses "
            f"{fixed} worker{'' if fixed == 1 else 's'} (per case)"
        )
    if (args.timeline is not None or args.plot is not None) and not demo.records_timeline:
        option = "--timeline" if args.timeline is not None else "--plot"
        catalogue, _ = _catalogue()
        drawable = [d.slug for d in catalogue if d.records_timeline]
        raise _UsageError(
            f"argument {option}: demo {demo.slug!r} records no timeline, so there is nothing "
            f"to draw; these do: {', '.join(drawable)}"
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
            f"{prog} run: error: {option}: demo {demo.slug!r} records no timeline "
            "(its observations have no 'timeline' key), so there is nothing to draw"
        ]
    notes: list[str] = []
    try:
        if args.timeline is not None:
            write_trace(args.timeline, timelines, name=demo.slug)
            notes.append(
                f"timeline written to {args.timeline} "
                "(open it in https://ui.perfetto.dev or chrome://tracing)"
            )
        if args.plot is not None:
            plot_gantt(args.plot, timelines, title=headline(timelines), subtitle=demo.lesson)
            notes.append(f"chart written to {args.plot}")
    except PlotUnavailableError as exc:
        return 2, notes, [f"{prog} run: error: --plot: {exc}"]
    except OSError as exc:
        where = exc.filename if exc.filename is not None else (args.plot or args.timeline)
        return 1, notes, [f"{prog} run: error: cannot write {where!r}: {exc.strerror or exc}"]
    return 0, notes, []


def _print_side_by_side(demo: demos.Demo, runs: Sequence[_Run], out: TextIO) -> None:
    width = _width()
    print(f"{demo.slug}: {demo.title}", file=out)
    rows: list[tuple[str, list[list[str]]]] = []
    if not all(run.ok for run in runs):
        rows.append(("BROKE", [[run.error] if run.error else [] for run in runs]))
    observed = [run.observed if run.observed is not None else {} for run in runs]
    if any("summary" in o for o in observed):
        rows.append(
            ("summary", [_cell_lines(o["summary"]) if "summary" in o else [] for o in observed])
        )
    rows.extend(_tree_rows(observed, depth=0))
    timelines = [run.observed.get("timeline") if run.observed else None for run in runs]
    if any(timelines):
        rows.append(("timeline", [[_timeline_note(t)] if t else ["-"] for t in timelines]))
    header = [f"{run.mode.label} ({run.time_text()})" for run in runs]
    differ = len(runs) > 1
    _print_table(rows, header, width, out, mark_differences=differ)
    varies = [run.observed.get("varies") for run in runs if run.observed]
    for note in dict.fromkeys(v for v in varies if v):
        print(textwrap.fill(f"Varies: {note}", width=width, subsequent_indent="  "), file=out)
    print(textwrap.fill(f"Lesson: {demo.lesson}", width=width, subsequent_indent="  "), file=out)
    if differ:
        print("(* marks what differed between the modes)", file=out)


def _timeline_note(raw: object) -> str:
    spans = parse_spans(raw)
    workers = len({span.worker for span in spans})
    end = max((span.end for span in spans), default=0.0)
    return f"{len(spans)} spans, {workers} workers, {end:.2f} s (draw it with --plot FILE.png)"


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
    key_width = min(max((len(key) for key, _ in rows), default=0) + 3, max(width * 2 // 5, 20))
    gap = 3
    column = max((width - key_width - gap * len(header)) // max(len(header), 1), 8)
    if spaced and len(header) > 1 and column < _MIN_COLUMN:
        _print_stacked(rows, header, width, out, mark_differences=mark_differences)
        return
    # A title too wide for its column breaks before its time: "process[spawn]" / "(0.40 s)".
    titles = [_wrap(_title_lines(title, column), column) for title in header]
    for line in range(max(len(t) for t in titles)):
        text = " " * key_width + "".join(
            f"{' ' * gap}{(t[line] if line < len(t) else ''):<{column}}" for t in titles
        )
        print(text.rstrip(), file=out)
    print(
        " " * key_width
        + "".join(f"{' ' * gap}{'-' * max(len(x) for x in t):<{column}}" for t in titles).rstrip(),
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
            text = f"{left:<{key_width}}" + "".join(
                f"{' ' * gap}{(w[line] if line < len(w) else ''):<{column}}" for w in wrapped
            )
            print(text.rstrip(), file=out)


def _title_lines(title: str, width: int) -> list[str]:
    """Split a column title that does not fit before its time: ``mode`` / ``(0.40 s)``."""
    name, paren, rest = title.partition(" (")
    if len(title) <= width or not paren:
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
    title_width = max(len(title) for title in header) + 2
    for number, (key, cells) in enumerate(rows):
        if number:
            print(file=out)
        differs = mark_differences and _differs(cells)
        print(textwrap.fill(("* " if differs else "  ") + key.strip(), width=width), file=out)
        if len(cells) == 1 < len(header):
            # The modes agreed: the cell says so, once, under the label.
            pairs = [("", cells[0])]
        else:
            pairs = list(zip(header, cells, strict=False))
        indent = " " * 4
        for title, cell in pairs:
            lead = f"{indent}{title + ':':<{title_width}}" if title else indent
            if len(lead) > width // 2:
                lead = f"{indent}{title}: "
            body = _wrap(cell, max(width - len(lead), 20))
            for i, line in enumerate(body):
                print(((lead if i == 0 else " " * len(lead)) + line).rstrip(), file=out)


def _key_label(key: str, mark: str, width: int) -> list[str]:
    """Wrap a row's key (indented by depth) inside the key column, the mark in front."""
    depth = len(key) - len(key.lstrip(" "))
    prefix = mark + " " * depth
    parts = textwrap.wrap(
        key.strip(), max(width - len(prefix), 8), subsequent_indent="  ", break_on_hyphens=False
    ) or [""]
    return [prefix + parts[0]] + [" " * len(prefix) + part for part in parts[1:]]


def _wrap(lines: Sequence[str], width: int) -> list[str]:
    wrapped: list[str] = []
    for line in lines:
        wrapped.extend(
            textwrap.wrap(line, width=width, subsequent_indent="  ", break_on_hyphens=False)
            or [""]
        )
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
            rows.append((label, [[] for _ in values]))
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
            str(record[field]): ", ".join(
                f"{_label(k)}: {_scalar(x)}" for k, x in record.items() if k != field
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
        return [", ".join(f"{_label(k)}: {_scalar(v)}" for k, v in item.items()) for item in value]
    return [_scalar(value)]


def _label(key: object) -> str:
    """Turn an observation key into a label: ``wall_s`` becomes ``wall (s)``, ``_`` a space."""
    text = str(key)
    if text.endswith("_s") and len(text) > 2:
        text = text[:-2] + " (s)"
    return text.replace("_", " ")


def _scalar(value: Any) -> str:
    if isinstance(value, str):
        return value
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
        f"Touring {len(catalogue)} demos, each in {' and '.join(m.label for m in modes)} mode.",
        file=progress, flush=True,
    )
    for error in load_errors:
        print(f"BROKE: {error}", file=progress, flush=True)
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
            run = _run_demo(demo, mode, None, args.demo_timeout)
            runs.append(run)
            part = f"  {mode.kind} {run.time_text():>6}"
            if used + len(part) > width:
                print(file=progress)
                part, used = " " * (count_width * 2 + 3) + part, count_width * 2 + 3
            used += len(part)
            print(part, end="", file=progress, flush=True)
        broken = [run for run in runs if not run.ok]
        verdict = "ok" if not broken else f"BROKE in {broken[0].mode.label}: {broken[0].error}"
        if used + 2 + len(verdict) <= width:
            print(f"  {verdict}", file=progress, flush=True)
        else:
            print(file=progress)
            print(
                textwrap.fill(verdict, width=width, initial_indent="    ",
                              subsequent_indent="      ", break_on_hyphens=False),
                file=progress, flush=True,
            )
        results.append((demo, runs))
    elapsed = time.perf_counter() - started
    broke = [demo.slug for demo, runs in results if not all(run.ok for run in runs)]
    broke += [f"{error.module} (did not load)" for error in load_errors]
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
    summary = f"{len(results)} demos in {elapsed:.1f} s"
    if broke:
        summary += (
            f"; {len(broke)} broke: {', '.join(broke)} "
            f"(see the traceback with '{prog} run SLUG')"
        )
    else:
        summary += ", none broke"
    print(textwrap.fill(summary, width=width, break_on_hyphens=False), file=progress)
    return 1 if broke else 0


def _print_differences(
    results: Sequence[tuple[demos.Demo, Sequence[_Run]]], modes: Sequence[Mode], out: TextIO
) -> None:
    rows: list[tuple[str, list[list[str]]]] = []
    chance = busy = differed = 0
    for demo, runs in results:
        label = demo.slug
        if demo.by_chance:
            label += f" {_CHANCE_MARK}"
            chance += 1
        if any(_was_busy(run) for run in runs):
            label += f" {_BUSY_MARK}"
            busy += 1
        cells = _difference_cells(runs)
        differed += len(cells) > 1 and any(cell != cells[0] for cell in cells[1:])
        rows.append((label, cells))
    width = _width()
    print("\nWhat differed between the modes", file=out)
    _print_table(
        rows, [mode.label for mode in modes], width, out, mark_differences=True, spaced=True
    )
    print(
        f"\n{differed} of {len(results)} demos differed between the modes (marked *).",
        file=out,
    )
    notes = []
    if chance:
        notes.append(
            f"{_CHANCE_MARK}: timing decides these numbers, so your run may show others; "
            "the lesson stays the same."
        )
    if busy:
        notes.append(
            f"{_BUSY_MARK}: other programs used the CPU during {busy} "
            f"demo{'' if busy == 1 else 's'} that need{'s' if busy == 1 else ''} free cores; "
            f"run {'it' if busy == 1 else 'them'} again when the machine is idle."
        )
    for note in notes:
        print(textwrap.fill(note, width=width, subsequent_indent="  "), file=out)


def _was_busy(run: _Run) -> bool:
    """Whether the demo found other programs taking the cores its workers needed."""
    return bool(run.observed and run.observed.get("machine_busy") is True)


def _difference_cells(runs: Sequence[_Run]) -> list[list[str]]:
    """Say per mode what it observed that the other mode did not: the summary, or one key.

    :returns: One cell per run, or a single cell spanning the columns when the modes agree.
    """
    if not all(run.ok for run in runs):
        return [[f"BROKE: {run.error}"] if not run.ok else ["ok"] for run in runs]
    observed = [run.observed or {} for run in runs]
    if all("summary" in o for o in observed):
        summaries = [str(o["summary"]) for o in observed]
        if len(runs) > 1 and len(set(summaries)) == 1:
            return [[f"{_SAME}: {summaries[0]}"]]
        return [[summary] for summary in summaries]
    flat = [_flatten(o) for o in observed]
    for key in flat[0]:
        if key.split(".")[0] in _SPECIAL_KEYS:
            continue
        values = [f.get(key, "-") for f in flat]
        if any(v != values[0] for v in values[1:]):
            label = " ".join(_label(part) for part in key.split("."))
            return [[f"{label}: {_scalar(v)}"] for v in values]
    return [[_SAME]]
