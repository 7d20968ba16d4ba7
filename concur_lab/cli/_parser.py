"""The argument parser: the commands, their options and argparse speaking the chosen language."""

from __future__ import annotations

import argparse
import contextlib
import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from concur_lab import _display, available_start_methods, default_start_method, demos
from concur_lab._i18n import LANGUAGES, N_
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import (
    DEMO_TIMEOUT,
    MAX_WORKERS,
    PLOT_SUFFIXES,
    did_you_mean,
    language_choice,
    mode_choice,
    output_path,
    positive_seconds,
    start_method_choice,
    worker_count,
)
from concur_lab.cli._list import cmd_list
from concur_lab.cli._run import cmd_run
from concur_lab.cli._tour import cmd_tour

__all__ = ["COMMANDS", "PROG", "argparse_speaks", "build_parser", "check_command", "make_parser"]

PROG = "concur-lab"


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
# line looks them up in its own catalog while it parses (see argparse_speaks).
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
def argparse_speaks() -> Iterator[None]:
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


def _add_lang(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: a sub-command without --lang must not reset the one given before it.
    parser.add_argument(
        "--lang", type=language_choice, default=argparse.SUPPRESS,
        metavar="{" + ",".join(LANGUAGES) + "}",
        help=_("The language of the output: en (English) or zh (简体中文); default: the "
               "locale's (LC_ALL, LC_MESSAGES, LANG, LANGUAGE), else English"),
    )


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    """Return the argument parser of the ``concur-lab`` command, in the current language.

    :param prog: The program name shown in usage lines; default ``concur-lab``.
    """
    prog = prog or PROG
    with argparse_speaks():
        return make_parser(prog)


def make_parser(prog: str) -> argparse.ArgumentParser:
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
    listing.set_defaults(handler=cmd_list, parser=listing)

    run = subparser(
        "run", help=_("Run one demo in thread and process mode, side by side"),
        description=_("Run one demo and show what each mode observed, side by side."),
        epilog=_("Example: %(prog)s gil-cpu-bound --plot gil.png"),
    )
    run.add_argument(
        "slug", metavar="SLUG", help=_("The demo to run (see '{prog} list')").format(prog=prog)
    )
    run.add_argument(
        "--mode", type=mode_choice, default="both", metavar="{thread,process,both}",
        help=_("Run in threads, in processes, or both, threads first (default: both)"),
    )
    _add_start_method(run)
    run.add_argument(
        "--workers", type=worker_count, metavar="N",
        help=_("How many workers the demo starts, 1 to {most} (default: the demo's choice)").format(
            most=MAX_WORKERS
        ),
    )
    run.add_argument(
        "--json", action="store_true",
        help=_('Print one JSON object {"demo": SLUG, "runs": [...]} instead of the table'),
    )
    run.add_argument(
        "--timeline", type=output_path((".json",)), metavar="FILE.json",
        help=_("Write the workers' timeline as Chrome trace-event JSON "
               "(open it in https://ui.perfetto.dev or chrome://tracing)"),
    )
    run.add_argument(
        "--plot", type=output_path(PLOT_SUFFIXES), metavar="FILE.png",
        help=_("Draw the timeline as a Gantt chart (.png, .svg or .pdf; needs matplotlib: "
               'pip install "concur-lab[plot]")'),
    )
    _add_demo_timeout(run)
    _add_lang(run)
    run.set_defaults(handler=cmd_run, parser=run)

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
    tour.set_defaults(handler=cmd_tour, parser=tour)
    return parser


def _add_start_method(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--start-method", type=start_method_choice, metavar="METHOD",
        help=_("How process mode starts workers: {methods} "
               "(default: {default}, as multiprocessing would)").format(
            methods=", ".join(available_start_methods()), default=default_start_method()
        ),
    )


def _add_demo_timeout(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--demo-timeout", type=positive_seconds, default=DEMO_TIMEOUT, metavar="SECONDS",
        help=_("Interrupt a demo run that takes longer than this and report it as broken "
               "(default: {seconds:g})").format(seconds=DEMO_TIMEOUT),
    )


COMMANDS = ("list", "run", "tour")


def check_command(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    """Refuse an unknown command with a suggestion, as an unknown demo is refused."""
    if not argv or argv[0].startswith("-") or argv[0] in COMMANDS:
        return
    word = argv[0]
    hint = did_you_mean(word, COMMANDS)
    if not hint:
        catalogue, _errors = demos.load_catalogue()
        slug = word.strip().lower().replace("_", "-")
        if any(demo.slug == slug for demo in catalogue):
            hint = _(" (did you mean 'run {slug}'?)").format(slug=slug)
    if not hint:
        hint = _("; new here? start with '{prog} tour'").format(prog=parser.prog)
    parser.error(
        _("unknown command {word!r}{hint}; the commands are {commands}").format(
            word=word, hint=hint, commands=", ".join(COMMANDS)
        )
    )
