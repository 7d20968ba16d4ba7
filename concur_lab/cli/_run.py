"""The ``run`` command: one demo in each mode side by side, as a table, JSON or pictures."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from concur_lab import _display, demos
from concur_lab._i18n import gettext as _
from concur_lab._i18n import ngettext, use_language
from concur_lab.cli._arguments import UsageError, program_name
from concur_lab.cli._catalogue import find_demo
from concur_lab.cli._layout import print_table, terminal_width
from concur_lab.cli._render import cell_lines, timeline_note, tree_rows
from concur_lab.cli._running import Run, chosen_modes, run_demo
from concur_lab.demos._observations import label, mode_label
from concur_lab.timeline import (
    ModeTimeline,
    PlotUnavailableError,
    headline,
    plot_gantt,
    write_trace,
)

__all__ = ["cmd_run"]


def cmd_run(args: argparse.Namespace) -> int:
    """Run ``run SLUG``: the demo in each chosen mode, side by side; 1 if it broke."""
    prog = program_name(args)
    demo = find_demo(args.slug, prog)
    if args.start_method is not None and args.mode == "thread":
        raise UsageError(
            _("argument {option}: {value!r} applies to process mode, not to --mode thread").format(
                option="--start-method", value=args.start_method
            )
        )
    if args.plot is not None and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(
            _('argument {option}: drawing needs matplotlib: pip install "concur-lab[plot]"').format(
                option="--plot"
            )
        )
    _check_demo_options(args, demo)
    modes = chosen_modes(args.mode, args.start_method)
    # Observations are data: --json gets them in English whatever the language, like its keys.
    with use_language("en") if args.json else contextlib.nullcontext():
        runs = [run_demo(demo, mode, args.workers, args.demo_timeout) for mode in modes]
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
            _display.fill(note, terminal_width(), subsequent_indent="  "),
            file=sys.stderr if args.json else sys.stdout,
        )
    for run in runs:
        if not run.ok:
            print(
                _("{prog}: demo {slug!r} broke in {mode} mode:").format(
                    prog=prog, slug=demo.slug, mode=mode_label(run.mode)
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
        raise UsageError(
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
        catalogue, _errors = demos.load_catalogue()
        drawable = [d.slug for d in catalogue if d.records_timeline]
        raise UsageError(
            _("argument {option}: demo {slug!r} records no timeline, so there is nothing "
              "to draw; these do: {drawable}").format(
                option=option, slug=demo.slug, drawable=", ".join(drawable)
            )
        )


def _write_pictures(
    args: argparse.Namespace, demo: demos.Demo, runs: Sequence[Run]
) -> tuple[int, list[str], list[str]]:
    """Write the --timeline and --plot files.

    :returns: The exit status, the notes to show and the errors to report.
    """
    timelines = [
        ModeTimeline.from_observations(run.mode.label, run.observed)
        for run in runs
        if run.observed is not None and "timeline" in run.observed
    ]
    prog = program_name(args)
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


def _print_side_by_side(demo: demos.Demo, runs: Sequence[Run], out: TextIO) -> None:
    width = terminal_width()
    print(f"{demo.slug}: {_(demo.title)}", file=out)
    rows: list[tuple[str, list[list[str]]]] = []
    if not all(run.ok for run in runs):
        rows.append((_("BROKE"), [[run.error] if run.error else [] for run in runs]))
    observed = [run.observed if run.observed is not None else {} for run in runs]
    if any("summary" in o for o in observed):
        rows.append(
            (label("summary"),
             [cell_lines(o["summary"]) if "summary" in o else [] for o in observed])
        )
    rows.extend(tree_rows(observed, depth=0))
    timelines = [run.observed.get("timeline") if run.observed else None for run in runs]
    if any(timelines):
        rows.append((label("timeline"), [[timeline_note(t)] if t else ["-"] for t in timelines]))
    header = [
        _("{mode} ({time})").format(mode=mode_label(run.mode), time=run.time_text())
        for run in runs
    ]
    differ = len(runs) > 1
    print_table(rows, header, width, out, mark_differences=differ)
    varies = [run.observed.get("varies") for run in runs if run.observed]
    for note in dict.fromkeys(v for v in varies if v):
        print(_display.fill(_("Varies: {note}").format(note=_(note)), width,
                            subsequent_indent="  "), file=out)
    print(_display.fill(_("Lesson: {lesson}").format(lesson=_(demo.lesson)), width,
                        subsequent_indent="  "), file=out)
    if differ:
        print(_("(* marks what differed between the modes)"), file=out)
