"""``python -m benchmarks [--quick] [--out DIR]``: run every benchmark, write Markdown and JSON.

Sections: ``engine`` (the engine against hand-written threads and processes), ``gate`` (how much
of that the start gate costs process workers), ``scaling`` (per-worker cost as n grows),
``start-methods`` (forkserver and spawn inside a pytest parent), ``suite`` (plugin overhead on a
generated suite, against pytest-run-parallel and pytest-forked), ``counter`` (SharedCounter,
from ``benchmarks/counter.py``) and ``whole-suite`` (``--concur-all`` on a generated mixed suite
and on real third-party suites fetched as sdists, against the peers) and ``in-pytest``
(``spawn_workers`` against hand-written children inside one pytest test, per start method). Peers
come from the
``bench`` extra; a peer that is not installed is left out, with a note.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks import counter as counter_bench
from benchmarks._machine import machine_info
from benchmarks._report import render_markdown, verdicts
from benchmarks.engine import measure_scaling, measure_vs_hand, powers
from benchmarks.gate import measure_gate
from benchmarks.in_pytest import measure_in_pytest
from benchmarks.stackcache import measure_with_stack_cache
from benchmarks.startmethods import CONFIGS, measure_start_methods
from benchmarks.suite import VARIANTS, measure_suite
from benchmarks.whole_suite import (
    REAL_SUITES,
    REAL_VARIANTS,
    SYNTHETIC_VARIANTS,
    measure_real_suites,
    measure_synthetic,
)
from concur_lab import Mode, available_start_methods

__all__ = ["PRESETS", "SECTIONS", "main", "run"]

SECTIONS = (
    "engine", "gate", "scaling", "start-methods", "suite", "counter", "whole-suite", "in-pytest",
)  # fmt: skip
DEFAULT_OUT = Path(__file__).resolve().parent / "results"

# Sizes and rounds per preset. "smoke" exists for the test suite: its numbers mean nothing.
PRESETS: dict[str, dict[str, Any]] = {
    "full": {
        "vs_hand_sizes": (1, 5, 20),
        # 11 rounds of fork and forkserver rows gave the same code 1.05 and 1.29 (fork, n=1)
        # in two runs 20 minutes apart on the shared 2-core machine: more rounds, steadier medians.
        "vs_hand_rounds": {"*": 25, "thread": 21, "process[spawn]": 7},
        "gate_sizes": (5, 20),
        "gate_rounds": 15,
        "gate_methods": 2,
        "scaling": {"thread": 64, "fork": 64, "forkserver": 16},
        "scaling_rounds": {"*": 9, "thread": 15},
        "start_sizes": (1, 4),
        "start_rounds": 9,
        "start_configs": CONFIGS,
        "start_padding": 60,
        "suite_tests": 200,
        "suite_rounds": 9,
        "suite_xdist": (0, 2),
        "counter_quick": False,
        "whole_tests": 1000,
        "whole_rounds": 7,
        "real_suites": REAL_SUITES,
        "real_rounds": 3,
        # Issue 14 measured this pair with 15 interleaved rounds.
        "in_pytest_rounds": 15,
        "in_pytest_methods": ("fork", "forkserver", "spawn"),
        "in_pytest_padding": 60,
    },
    "quick": {
        "vs_hand_sizes": (1, 5, 20),
        "vs_hand_rounds": {"*": 3, "thread": 5, "process[spawn]": 2},
        "gate_sizes": (20,),
        "gate_rounds": 3,
        "gate_methods": 2,
        "scaling": {"thread": 64, "fork": 32, "forkserver": 8},
        "scaling_rounds": {"*": 2},
        "start_sizes": (1, 4),
        "start_rounds": 2,
        "start_configs": ("engine",),
        "start_padding": 60,
        "suite_tests": 100,
        "suite_rounds": 1,
        "suite_xdist": (0, 2),
        "counter_quick": True,
        "whole_tests": 300,
        "whole_rounds": 2,
        "real_suites": REAL_SUITES[:1],
        "real_rounds": 1,
        "in_pytest_rounds": 5,
        "in_pytest_methods": ("fork", "forkserver", "spawn"),
        "in_pytest_padding": 60,
    },
    "smoke": {
        "vs_hand_sizes": (1, 2),
        "vs_hand_rounds": {"*": 1},
        "gate_sizes": (2,),
        "gate_rounds": 1,
        "gate_methods": 1,
        "scaling": {"thread": 4, "fork": 4},
        "scaling_rounds": {"*": 1},
        "start_sizes": (1,),
        "start_rounds": 1,
        "start_configs": CONFIGS,
        "start_padding": 2,
        "suite_tests": 4,
        "suite_rounds": 1,
        "suite_xdist": (0,),
        "counter_quick": True,
        "whole_tests": 12,
        "whole_rounds": 1,
        # The test suite must not need a package index.
        "real_suites": (),
        "real_rounds": 1,
        # spawn only: the row held to a target, at the least that still runs it.
        "in_pytest_rounds": 1,
        "in_pytest_methods": ("spawn",),
        "in_pytest_padding": 2,
    },
}


def _modes(preset: str) -> list[Mode]:
    methods = available_start_methods()
    if preset == "smoke":
        methods = tuple(m for m in methods if m == "fork") or methods[:1]
    return [Mode.thread(), *(Mode.process(m) for m in methods)]


def _scaling(plan: list[tuple[Mode, list[int]]], p: dict[str, Any]) -> list[dict[str, Any]]:
    rows = measure_scaling(plan, p["scaling_rounds"])
    if "thread" in p["scaling"]:
        rounds = p["scaling_rounds"].get("thread", p["scaling_rounds"]["*"])
        row = measure_with_stack_cache(p["scaling"]["thread"], rounds)
        if row is not None:
            rows.append(row)
    return rows


def _suite(p: dict[str, Any]) -> dict[str, Any]:
    plugins = {"run-parallel": "pytest_run_parallel", "forked": "pytest_forked"}
    missing = {k for k, module in plugins.items() if importlib.util.find_spec(module) is None}
    variants = [v for v in VARIANTS if v.plugin not in missing]
    result = measure_suite(
        p["suite_tests"], p["suite_rounds"], xdist_values=p["suite_xdist"], variants=variants
    )
    notes = [f"{name} is not installed (pip install -e .[bench]): left out" for name in missing]
    if "forked" not in missing:
        notes.append(
            "pytest-forked 1.7.5 fails every test under pytest 9.2 (its reports carry a NodeId "
            "under `_id`, which marshal refuses); it ran with a 10-line benchmark-local shim "
            "that sends the id as a string (benchmarks/suite.py, FORKED_SHIM)."
        )
    result["notes"] = notes
    return result


def _whole_suite(p: dict[str, Any]) -> dict[str, Any]:
    plugins = {"run-parallel": "pytest_run_parallel", "forked": "pytest_forked"}
    missing = {k for k, module in plugins.items() if importlib.util.find_spec(module) is None}
    synthetic = [v for v in SYNTHETIC_VARIANTS if v.plugin not in missing]
    real = [v for v in REAL_VARIANTS if v.plugin not in missing]
    return {
        "synthetic": measure_synthetic(p["whole_tests"], p["whole_rounds"], synthetic),
        "real": measure_real_suites(p["real_suites"], p["real_rounds"], real),
        "notes": [
            f"{name} is not installed (pip install -e .[bench]): left out"
            for name in sorted(missing)
        ],
    }


def _ensure_bytecode() -> str:
    """Give our own packages cached bytecode, as an installed package has; say what was done.

    With ``PYTHONDONTWRITEBYTECODE`` set (as on the development machines), nothing in the source
    tree ever gets a ``.pyc``: every spawn child, fork-server child and pytest run compiled
    concur_lab and pytest_concur from source (~40 ms a process, measured), while the
    hand-written baselines and the peer plugins, installed in site-packages, loaded theirs. That
    measured the environment, not the engine. :mod:`compileall` writes the ``__pycache__``
    folders (ignored by git) that a normal import would have written.
    """
    if not sys.dont_write_bytecode:
        return "cached by imports as usual"
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in ("concur_lab", "pytest_concur", "benchmarks"):
        if not compileall.compile_dir(root / package, quiet=1):
            return "PYTHONDONTWRITEBYTECODE is set and compiling failed: imports compile source"
    return "PYTHONDONTWRITEBYTECODE is set: our packages were compiled first (compileall)"


def run(preset: str, sections: tuple[str, ...] = SECTIONS) -> dict[str, Any]:
    """Run *sections* at the sizes of *preset* and return every number, JSON-serialisable.

    A section that fails is recorded under ``"errors"`` and the others still run.

    :param preset: ``"full"``, ``"quick"`` or ``"smoke"``.
    :param sections: Names from :data:`SECTIONS`.
    :returns: The results, with ``"machine"``, ``"preset"`` and ``"elapsed_s"``.
    :raises ValueError: If *preset* or a section is unknown.
    """
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {sorted(PRESETS)}")
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; known: {list(SECTIONS)}")
    p = PRESETS[preset]
    available = available_start_methods()
    scaling_plan = [
        (Mode.parse(name if name == "thread" else f"process:{name}"), powers(limit))
        for name, limit in p["scaling"].items()
        if name == "thread" or name in available
    ]
    jobs: dict[str, tuple[str, Callable[[], Any]]] = {
        "engine": (
            "vs_hand",
            lambda: measure_vs_hand(_modes(preset), p["vs_hand_sizes"], p["vs_hand_rounds"]),
        ),
        "gate": (
            "gate",
            lambda: measure_gate(
                [m for m in ("fork", "forkserver") if m in available][: p["gate_methods"]],
                p["gate_sizes"],
                p["gate_rounds"],
            ),
        ),
        "scaling": ("scaling", lambda: _scaling(scaling_plan, p)),
        "start-methods": (
            "start_methods",
            lambda: measure_start_methods(
                p["start_sizes"],
                p["start_rounds"],
                configs=p["start_configs"],
                padding=p["start_padding"],
                methods=("fork", "forkserver")
                if preset == "smoke"
                else ("fork", "forkserver", "spawn"),
            ),
        ),
        "suite": ("suite", lambda: _suite(p)),
        "counter": ("counter", lambda: counter_bench.measure(quick=p["counter_quick"])),
        "whole-suite": ("whole_suite", lambda: _whole_suite(p)),
        "in-pytest": (
            "in_pytest",
            lambda: measure_in_pytest(
                [m for m in p["in_pytest_methods"] if m in available],
                p["in_pytest_rounds"],
                padding=p["in_pytest_padding"],
            ),
        ),
    }
    began = time.monotonic()
    results: dict[str, Any] = {"machine": machine_info(), "preset": preset, "errors": {}}
    results["machine"]["bytecode"] = _ensure_bytecode() if preset != "smoke" else "as found"
    for section in sections:
        key, job = jobs[section]
        print(f"benchmarks: {section}...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            results[key] = job()
        except Exception as exc:
            results["errors"][section] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        results.setdefault("section_seconds", {})[section] = round(time.monotonic() - started, 1)
    results["elapsed_s"] = time.monotonic() - began
    return results


def _merged(path: Path, new: dict[str, Any], sections: tuple[str, ...]) -> dict[str, Any]:
    """Put the *sections* of *new* into the report at *path*; note when they were measured."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"benchmarks: --update needs a readable {path}: {exc}") from exc
    keys = {
        "engine": "vs_hand",
        "start-methods": "start_methods",
        "whole-suite": "whole_suite",
        "in-pytest": "in_pytest",
    }
    merged = dict(old)
    for section in sections:
        key = keys.get(section, section)
        if key in new:
            merged[key] = new[key]
        merged["errors"] = {k: v for k, v in old.get("errors", {}).items() if k != section}
        merged["errors"].update({k: v for k, v in new["errors"].items() if k == section})
        merged.setdefault("updated", {})[section] = {
            "date_utc": new["machine"]["date_utc"],
            "preset": new["preset"],
            "loadavg_at_start": new["machine"]["loadavg_at_start"],
            "packages": new["machine"]["packages"],
            # The machine may not be the one the rest of the report was measured on.
            "cpu": new["machine"]["cpu"],
            "cores": new["machine"]["cores"],
        }
    merged["elapsed_s"] = old.get("elapsed_s", 0.0) + new["elapsed_s"]
    return merged


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns 1 if a section failed, else 0 (missed targets too)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Run the concur-lab benchmarks; write the tables as Markdown and JSON.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="Fewer rounds: about a minute, noisier")
    size.add_argument(
        "--smoke", action="store_true", help="Tiny sizes for the test suite; numbers mean nothing"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="DIR",
        help=f"Folder for latest.md and latest.json (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--sections",
        default=",".join(SECTIONS),
        help=f"Comma-separated subset of {','.join(SECTIONS)} (default: all)",
    )
    parser.add_argument(
        "--update",
        action="store_true",
        help="Keep the other sections of DIR/latest.json and replace only these (the report "
        "says which sections were measured when)",
    )
    options = parser.parse_args(argv)
    preset = "smoke" if options.smoke else "quick" if options.quick else "full"
    sections = tuple(s.strip() for s in options.sections.split(",") if s.strip())
    try:
        results = run(preset, sections)
    except ValueError as exc:
        parser.error(str(exc))
    options.out.mkdir(parents=True, exist_ok=True)
    if options.update:
        results = _merged(options.out / "latest.json", results, sections)
    markdown = render_markdown(results)
    (options.out / "latest.md").write_text(markdown, encoding="utf-8")
    (options.out / "latest.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    print(f"benchmarks: wrote {options.out / 'latest.md'} and latest.json", file=sys.stderr)
    missed = [text for text, ok in verdicts(results) if not ok]
    if missed:
        print(f"benchmarks: {len(missed)} target(s) missed", file=sys.stderr)
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
