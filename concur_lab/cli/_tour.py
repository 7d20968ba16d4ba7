"""The ``tour`` command: every demo in both modes, then a table of what differed."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import TextIO

from concur_lab import Mode, _display, demos
from concur_lab._i18n import N_, ngettext, use_language
from concur_lab._i18n import gettext as _
from concur_lab.cli._arguments import program_name
from concur_lab.cli._layout import print_table, terminal_width
from concur_lab.cli._render import colon, scalar
from concur_lab.cli._running import Run, chosen_modes, run_demo
from concur_lab.demos._observations import (
    SPECIAL_KEYS,
    dotted_label,
    flatten,
    mode_kind,
    mode_label,
)

__all__ = ["cmd_tour"]

# The tour's marks on a demo's row, explained once under the table.
_CHANCE_MARK = N_("(may differ)")
# A closing-table cell for a demo whose modes agreed.
_SAME = N_("same in both modes")
_BUSY_MARK = N_("(busy)")


def cmd_tour(args: argparse.Namespace) -> int:
    """Run ``tour``: every demo in both modes, then what differed; 1 if any broke."""
    catalogue, load_errors = demos.load_catalogue()
    modes = chosen_modes("both", args.start_method)
    progress = sys.stderr if args.json else sys.stdout
    prog = program_name(args)
    print(
        _("Touring {count} demos, each in {modes} mode.").format(
            count=len(catalogue), modes=_(" and ").join(mode_label(m) for m in modes)
        ),
        file=progress, flush=True,
    )
    for error in load_errors:
        print(_("BROKE: {error}").format(error=error), file=progress, flush=True)
    slug_width = max((len(d.slug) for d in catalogue), default=0)
    count_width = len(str(len(catalogue)))
    width = terminal_width()
    started = time.perf_counter()
    results: list[tuple[demos.Demo, list[Run]]] = []
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
                run = run_demo(demo, mode, None, args.demo_timeout)
            runs.append(run)
            part = f"  {mode_kind(mode)} {_display.rjust(run.time_text(), 6)}"
            if used + _display.width(part) > width:
                print(file=progress)
                part, used = " " * (count_width * 2 + 3) + part, count_width * 2 + 3
            used += _display.width(part)
            print(part, end="", file=progress, flush=True)
        broken = [run for run in runs if not run.ok]
        verdict = _("ok") if not broken else _("BROKE in {mode}: {error}").format(
            mode=mode_label(broken[0].mode), error=broken[0].error
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
    results: Sequence[tuple[demos.Demo, Sequence[Run]]], modes: Sequence[Mode], out: TextIO
) -> None:
    rows: list[tuple[str, list[list[str]]]] = []
    chance = busy = differed = 0
    for demo, runs in results:
        row_label = demo.slug
        if demo.by_chance:
            row_label += f" {_(_CHANCE_MARK)}"
            chance += 1
        if any(_was_busy(run) for run in runs):
            row_label += f" {_(_BUSY_MARK)}"
            busy += 1
        cells = _difference_cells(runs)
        differed += len(cells) > 1 and any(cell != cells[0] for cell in cells[1:])
        rows.append((row_label, cells))
    width = terminal_width()
    print("\n" + _("What differed between the modes"), file=out)
    print_table(
        rows, [mode_label(mode) for mode in modes], width, out, mark_differences=True,
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


def _was_busy(run: Run) -> bool:
    """Whether the demo found other programs taking the cores its workers needed."""
    return bool(run.observed and run.observed.get("machine_busy") is True)


def _difference_cells(runs: Sequence[Run]) -> list[list[str]]:
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
            return [[f"{_(_SAME)}{colon()}{summaries[0]}"]]
        return [[summary] for summary in summaries]
    flat = [flatten(o) for o in observed]
    for key in flat[0]:
        if key.split(".")[0] in SPECIAL_KEYS:
            continue
        values = [f.get(key, "-") for f in flat]
        if any(v != values[0] for v in values[1:]):
            name = dotted_label(key, " ")
            return [[f"{name}{colon()}{scalar(v)}"] for v in values]
    return [[_(_SAME)]]
