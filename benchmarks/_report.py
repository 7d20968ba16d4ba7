"""Render the results of ``python -m benchmarks`` as Markdown."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_markdown", "verdicts"]


def _r(stats: Mapping[str, float], digits: int = 2) -> str:
    """A ratio as ``median [min–max]``."""
    return f"{stats['median']:.{digits}f} [{stats['min']:.{digits}f}–{stats['max']:.{digits}f}]"


def _t(stats: Mapping[str, float], digits: int = 2) -> str:
    """A time: the median alone (min and max are in the JSON)."""
    return f"{stats['median']:.{digits}f}"


def _ok(met: bool | None) -> str:
    return "" if met is None else ("met" if met else "**missed**")


def verdicts(results: Mapping[str, Any]) -> list[tuple[str, bool]]:
    """Every target of the run with whether it was met.

    :param results: What :func:`benchmarks.__main__.run` returned.
    :returns: (description, met) pairs in report order.
    """
    out: list[tuple[str, bool]] = []
    for row in results.get("vs_hand", []):
        text = f"engine/hand {row['mode']} n={row['n']} <= {row['target']}"
        out.append((text, row["meets_target"]))
    for row in results.get("scaling", []):
        if row["target"] is not None:
            text = f"scaling {row['mode']} flatness / hand's <= {row['target']}"
            out.append((text, row["meets_target"]))
    for row in results.get("start_methods", []):
        if "meets_target" in row:
            out.append(
                (
                    f"forkserver/fork ({row['config']}) n={row['n']} <= {row['target']}",
                    row["meets_target"],
                )
            )
    for comp in results.get("suite", {}).get("comparisons", []):
        if comp["target"] is not None:
            out.append(
                (
                    f"suite {comp['ours']} / {comp['peer']} (-n {comp['xdist']}) "
                    f"<= {comp['target']}",
                    comp["meets_target"],
                )
            )
    for row in results.get("counter", []):
        out.append(
            (f"counter {row['kind']} x{row['workers']} >= {row['target']:.2f}", row["meets_target"])
        )
    for row in results.get("in_pytest", []):
        if "meets_target" in row:
            out.append(
                (
                    f"in pytest, spawn_workers/hand {row['method']} n={row['n']} "
                    f"<= {row['target']}",
                    row["meets_target"],
                )
            )
    whole = results.get("whole_suite", {})
    for comp in whole.get("synthetic", {}).get("comparisons", []):
        out.append(
            (
                f"whole suite (generated) {comp['ours']} / {comp['peer']} <= {comp['target']}",
                comp["meets_target"],
            )
        )
    for suite in whole.get("real", []):
        comp = suite.get("comparison")
        if comp is not None:
            out.append(
                (
                    f"whole suite {suite['suite']} {comp['ours']} / {comp['peer']} "
                    f"<= {comp['target']}",
                    comp["meets_target"],
                )
            )
    return out


def _header(info: Mapping[str, Any], preset: str) -> list[str]:
    packages = ", ".join(f"{k} {v}" for k, v in info["packages"].items())
    load = ", ".join(str(x) for x in info["loadavg_at_start"])
    return [
        "# concur-lab benchmarks",
        "",
        f"- Date: {info['date_utc']}; preset: `{preset}`",
        f"- Machine: {info['cores']} cores ({info['usable_cores']} usable), {info['cpu']}, "
        f"{info['os']}; load average at start: {load}",
        f"- Python: {info['python']} (GIL {'enabled' if info['gil_enabled'] else 'disabled'}); "
        f"bytecode: {info.get('bytecode', 'as found')}",
        f"- Packages: {packages}",
        "",
        "Every comparison was measured in this run, interleaved (A B A B ..., the order rotating "
        "each round). A ratio is the median of the per-round ratios, with [min–max] over the "
        "rounds; times are medians in milliseconds unless marked. Raw samples are in the JSON "
        "file.",
        "",
    ]


def _vs_hand(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 1. Engine against the same work by hand",
        "",
        "`run_workers(trivial, n)` against threads on one `threading.Barrier` storing results in "
        "a list, or `multiprocess.Process` children (same start method) sending results through "
        "a `Pipe`; *bare* is start + join alone (the floor).",
        "",
        "| mode | n | rounds | engine ms | hand ms | bare ms | engine/hand | engine/bare "
        "| hand/bare | target |",
        "|---|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for row in rows:
        digits = 3 if row["mode"] == "thread" else 1
        lines.append(
            f"| {row['mode']} | {row['n']} | {row['rounds']} | {_t(row['engine_ms'], digits)} "
            f"| {_t(row['hand_ms'], digits)} | {_t(row['bare_ms'], digits)} "
            f"| {_r(row['engine_vs_hand'])} | {_r(row['engine_vs_bare'])} "
            f"| {_r(row['hand_vs_bare'])} | ≤ {row['target']} {_ok(row['meets_target'])} |"
        )
    return [*lines, ""]


def _gate(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "### 1b. What the start gate costs process workers",
        "",
        "The engine's children wait at a gate until all are ready; the hand-written children "
        "do not, so they run and exit while the parent still forks. *no gate* is a "
        "benchmark-local prototype that opens the gate before the first child starts.",
        "",
        "| mode | n | rounds | engine ms | no gate ms | hand ms | bare ms | engine/hand "
        "| no gate/hand | engine/no gate |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['mode']} | {row['n']} | {row['rounds']} | {_t(row['engine_ms'], 1)} "
            f"| {_t(row['no_gate_ms'], 1)} | {_t(row['hand_ms'], 1)} | {_t(row['bare_ms'], 1)} "
            f"| {_r(row['engine_vs_hand'])} | {_r(row['no_gate_vs_hand'])} "
            f"| {_r(row['engine_vs_no_gate'])} |"
        )
    return [*lines, ""]


def _flat_vs_hand(row: Mapping[str, Any]) -> float:
    # Reports written before the target became relative have no such key.
    return float(row.get("flatness_vs_hand", row["flatness"] / row["hand_flatness"]))


def _scaling(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 2. Scaling: wall time per worker",
        "",
        "Milliseconds per worker, engine and hand-written; *flat* is the largest over the "
        "smallest engine value from n = 4 up (the hand-written version's in parentheses). The "
        "target is on the engine's flatness over the hand-written version's: the engine must "
        "add no growth with n of its own.",
        "",
    ]
    for row in rows:
        ns = [p["n"] for p in row["points"]]
        verdict = (
            "no target: the thread row again, in a Python whose glibc keeps up to 1 GiB of "
            "thread stacks for reuse (benchmarks/stackcache.py)"
            if row["target"] is None
            else f"engine/hand flatness {_flat_vs_hand(row):.2f}, target ≤ {row['target']} "
            f"{_ok(row['meets_target'])}"
        )
        lines += [
            f"**{row['mode']}** ({row['rounds']} rounds): flat {row['flatness']:.2f} "
            f"(hand {row['hand_flatness']:.2f}), {verdict}",
            "",
            "| n | " + " | ".join(str(n) for n in ns) + " |",
            "|---|" + "---:|" * len(ns),
            "| engine ms/worker | "
            + " | ".join(_t(p["engine_ms_per_worker"], 3) for p in row["points"])
            + " |",
            "| hand ms/worker | "
            + " | ".join(_t(p["hand_ms_per_worker"], 3) for p in row["points"])
            + " |",
            "| engine/hand | "
            + " | ".join(f"{p['engine_vs_hand']['median']:.2f}" for p in row["points"])
            + " |",
            "",
        ]
    return lines


def _start_methods(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 3. Fresh workers per start method inside a pytest parent",
        "",
        "Measured inside `python -m pytest`; the target is a function of a ~400-line test module. "
        "*first call* includes starting the fork server. Configurations: `engine` as shipped "
        "(held to the target); `no-preload`: nothing preloaded into the fork server (what the "
        "preload buys).",
        "",
        "| config | method | n | rounds | ms/worker | time/fork time | first call ms | target |",
        "|---|---|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        target = f"≤ {row['target']} {_ok(row['meets_target'])}" if "target" in row else ""
        lines.append(
            f"| {row['config']} | {row['method']} | {row['n']} | {row['rounds']} "
            f"| {_t(row['ms_per_worker'], 1)} | {_r(row['vs_fork'])} "
            f"| {row['first_call_ms']:.0f} | {target} |"
        )
    return [*lines, ""]


def _suite(suite: Mapping[str, Any]) -> list[str]:
    lines = [
        f"## 4. Plugin overhead on a suite of {suite['tests']} small tests",
        "",
        f"Wall time of whole `python -m pytest` runs ({suite['rounds']} rounds); each variant "
        "enables only its own plugin. *ms/test* is the extra time per test over plain pytest "
        "with the same `-n`.",
        "",
        "| variant | -n | seconds | vs plain | ms/test over plain |",
        "|---|---:|---:|---|---:|",
    ]
    for row in suite["rows"]:
        xdist = row["xdist"] or "–"
        lines.append(
            f"| {row['variant']} | {xdist} | {_t(row['seconds'])} | {_r(row['vs_plain'])} "
            f"| {_t(row['ms_per_test_over_plain'], 2)} |"
        )
    lines += ["", "| ours | peer | -n | ours/peer | target |", "|---|---|---:|---|---|"]
    for comp in suite["comparisons"]:
        target = "" if comp["target"] is None else f"≤ {comp['target']} {_ok(comp['meets_target'])}"
        lines.append(
            f"| {comp['ours']} | {comp['peer']} | {comp['xdist'] or '–'} "
            f"| {_r(comp['ratio'])} | {target} |"
        )
    if suite.get("notes"):
        lines += ["", *[f"- {note}" for note in suite["notes"]]]
    return [*lines, ""]


def _counter(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 5. Shared counter (benchmarks/counter.py)",
        "",
        "Increments per second (millions), SharedCounter against `int` + `threading.Lock` "
        "(thread) or `multiprocess.Value('q')` + `get_lock()` (process, fork); ratio of medians.",
        "",
        "| mode | workers | repeats | counter M/s | baseline M/s | counter/baseline | target "
        "| exact |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['kind']} | {row['workers']} | {row['repeats']} "
            f"| {row['counter_median'] / 1e6:.2f} [{row['counter_min'] / 1e6:.2f}–"
            f"{row['counter_max'] / 1e6:.2f}] "
            f"| {row['baseline_median'] / 1e6:.2f} [{row['baseline_min'] / 1e6:.2f}–"
            f"{row['baseline_max'] / 1e6:.2f}] "
            f"| {row['ratio']:.2f} | ≥ {row['target']:.2f} {_ok(row['meets_target'])} "
            f"| {'yes' if row['exact'] else '**LOST UPDATES**'} |"
        )
    return [*lines, ""]


def _counts(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {word}" for word, n in counts.items()) or "–"


def _whole_rows(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| variant | seconds | vs plain | ms/test over plain | outcome |",
        "|---|---:|---|---:|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['variant']} | {_t(row['seconds'])} | {_r(row['vs_plain'])} "
            f"| {_t(row['ms_per_test_over_plain'], 2)} | {_counts(row['counts'])} |"
        )
    return lines


def _whole_suite(whole: Mapping[str, Any]) -> list[str]:
    synthetic = whole["synthetic"]
    lines = [
        "## 6. Whole suites under --concur-all",
        "",
        f"### Generated: {synthetic['tests']} unmarked tests in mixed styles",
        "",
        "Plain functions, parametrized tests, `tmp_path` tests, test classes and "
        "`unittest.TestCase` methods, no markers; whole `python -m pytest` runs "
        f"({synthetic['rounds']} rounds, variants interleaved), each with only its own plugin "
        "enabled. Every run passed every test.",
        "",
        *_whole_rows(synthetic["rows"]),
        "",
        "| ours | peer | ours/peer | target |",
        "|---|---|---|---|",
    ]
    for comp in synthetic["comparisons"]:
        lines.append(
            f"| {comp['ours']} | {comp['peer']} | {_r(comp['ratio'])} "
            f"| ≤ {comp['target']} {_ok(comp['meets_target'])} |"
        )
    if whole.get("notes"):
        lines += ["", *[f"- {note}" for note in whole["notes"]]]
    for suite in whole.get("real", []):
        title = f"### {suite['suite']} {suite['version']} (its own suite, from the sdist)"
        if "skipped" in suite:
            lines += ["", title, "", f"skipped: {suite['skipped']}"]
            continue
        if "error" in suite:
            lines += ["", title, "", f"**failed**: `{suite['error'].splitlines()[0]}`"]
            continue
        lines += [
            "",
            title,
            "",
            f"{suite['tests']} tests run plainly; {suite['rounds']} rounds. Concurrent runs fail "
            "the tests that are not thread- or process-safe (the two plugins find different "
            "ones), so the outcome counts are part of the result.",
            "",
            *_whole_rows(suite["rows"]),
        ]
        comp = suite.get("comparison")
        if comp is not None:
            lines += [
                "",
                f"{comp['ours']} / {comp['peer']}: {_r(comp['ratio'])} "
                f"(target ≤ {comp['target']}: {_ok(comp['meets_target'])})",
            ]
        crashes = suite.get("crashes") or []
        if crashes:
            lines += ["", "Runs killed by a signal (each was run again; its time is not counted):"]
            lines += [
                f"- {c['variant']}, round {c['round']}: {c['signal']}"
                + (f" (last output: `{c['last_output'][:120]}`)" if c["last_output"] else "")
                for c in crashes
            ]
    return [*lines, ""]


def _in_pytest(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "## 7. spawn_workers against hand-written children inside one pytest test",
        "",
        f"`spawn_workers(noop, n={rows[0]['n'] if rows else 5})` against as many `multiprocess` "
        "children of the same start method sending their result through a `Pipe`, in the same "
        "test of a generated module that does not import pytest; interleaved rounds, one "
        "`python -m pytest` process per start method. Only spawn is held to the target.",
        "",
        "| method | n | rounds | ours s | hand s | ours/hand | target |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        target = f"≤ {row['target']} {_ok(row['meets_target'])}" if "target" in row else ""
        lines.append(
            f"| {row['method']} | {row['n']} | {row['rounds']} | {row['ours_s']['median']:.3f} "
            f"| {row['hand_s']['median']:.3f} | {_r(row['ours_vs_hand'])} | {target} |"
        )
    return [*lines, ""]


def render_markdown(results: Mapping[str, Any]) -> str:
    """The whole report: header, one section per measured item, then the targets.

    :param results: What :func:`benchmarks.__main__.run` returned.
    :returns: Markdown text ending in a newline.
    """
    lines = _header(results["machine"], results["preset"])
    for section, when in results.get("updated", {}).items():
        load = ", ".join(str(x) for x in when["loadavg_at_start"])
        machine = f"; {when['cores']} cores, {when['cpu']}" if "cpu" in when else ""
        lines[-3:-3] = [
            f"- Section `{section}` measured later: {when['date_utc']}; preset: "
            f"`{when['preset']}`{machine}; load average at start: {load}"
        ]
    if "vs_hand" in results:
        lines += _vs_hand(results["vs_hand"])
    if "gate" in results:
        lines += _gate(results["gate"])
    if "scaling" in results:
        lines += _scaling(results["scaling"])
    if "start_methods" in results:
        lines += _start_methods(results["start_methods"])
    if "suite" in results:
        lines += _suite(results["suite"])
    if "counter" in results:
        lines += _counter(results["counter"])
    if "whole_suite" in results:
        lines += _whole_suite(results["whole_suite"])
    if "in_pytest" in results:
        lines += _in_pytest(results["in_pytest"])
    if results.get("errors"):
        lines += ["## Sections that failed", ""]
        lines += [f"- {name}: `{error}`" for name, error in results["errors"].items()] + [""]
    checks = verdicts(results)
    met = sum(1 for _, ok in checks if ok)
    lines += [f"## Targets: {met} of {len(checks)} met", ""]
    lines += [f"- {'met' if ok else '**missed**'}: {text}" for text, ok in checks]
    lines += ["", f"Elapsed: {results['elapsed_s']:.0f} s", ""]
    return "\n".join(lines)
