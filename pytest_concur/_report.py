"""What the plugin reports: the header line, per-mode outcomes and the isolation report.

Each concurrency item's outcome is decided where the item runs (in a pytest-xdist worker too) and
written into its teardown report's ``user_properties`` (``concur_outcome``, ``concur_failure``),
next to the tags added at collection (``concur_mode``, ``concur_test``). Reports carry them to the
pytest-xdist controller and into ``--junitxml``, so the isolation report is built from reports
alone and reads the same with or without ``-n``.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pytest

from pytest_concur._collect import (
    BY_DESIGN_PROPERTY,
    MODE_PROPERTY,
    NOT_CONCURRENT_PROPERTY,
    PLAIN_ITEM_PROPERTY,
    TEST_PROPERTY,
)
from pytest_concur._options import SETTINGS_KEY, Settings
from pytest_concur._values import KINDS

__all__ = [
    "FAILURE_PROPERTY",
    "OUTCOME_PROPERTY",
    "PLAIN_ITEMS_KEY",
    "REPORT_SCHEMA_VERSION",
    "RESTORED_PROPERTY",
    "RESULTS_KEY",
    "RUN_PROPERTY",
    "ModeOutcome",
    "gil_status",
    "header_lines",
    "isolation_lines",
    "item_outcome",
    "likely_cause",
    "record_report",
    "suite_lines",
    "suite_report",
    "terminal_summary",
    "write_json_report",
]

OUTCOME_PROPERTY = "concur_outcome"
FAILURE_PROPERTY = "concur_failure"
#: "n/failed": how many workers ran the body and how many of them failed.
RUN_PROPERTY = "concur_workers_run"
#: Newline-separated names of shared state a thread-mode run left changed (and was put back).
RESTORED_PROPERTY = "concur_restored"
REPORT_SCHEMA_VERSION = 1

_COMPACT_LIMIT = 5
_FAILURE_WIDTH = 200


@dataclass(frozen=True, slots=True)
class ModeOutcome:
    """How one concurrency test ended in one mode.

    :ivar outcome: ``"passed"``, ``"failed"``, ``"error"``, ``"skipped"``, ``"xfailed"`` or
        ``"xpassed"``.
    :ivar failure: The first line of the failure, error or skip reason (``""`` if it passed).
    :ivar by_design: Whether it was skipped because its marker's ``modes`` leave this mode out.
    :ivar workers: How many workers ran its body (``None``: the body did not run in workers).
    :ivar failed_workers: How many of them failed.
    :ivar not_concurrent: Why its body did not run in several workers (``""``: it did, or it is
        not a test whose body runs in workers).
    :ivar restored: Shared state its thread-mode run left changed and the plugin put back
        (dotted names such as ``click._compat.should_strip_ansi``).
    """

    outcome: str
    failure: str = ""
    by_design: bool = False
    workers: int | None = None
    failed_workers: int = 0
    not_concurrent: str = ""
    restored: tuple[str, ...] = ()


RESULTS_KEY = pytest.StashKey[dict[str, dict[str, ModeOutcome]]]()
"""``config.stash[RESULTS_KEY][test_id][mode]``, read by :func:`pytest_concur.isolation_results`."""

PLAIN_ITEMS_KEY = pytest.StashKey[dict[str, tuple[str, str]]]()
"""Under ``--concur-all``: node id -> (why it ran once, outcome) of items that are not Python
tests."""

_PHASES_KEY = pytest.StashKey[list[pytest.TestReport]]()


def gil_status() -> str:
    """Return ``"GIL enabled"`` or ``"GIL disabled"`` for the running interpreter."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    enabled = True if is_enabled is None else bool(is_enabled())
    return "GIL enabled" if enabled else "GIL disabled"


def header_lines(settings: Settings, distributed: bool = False) -> list[str]:
    """Return the report header lines for *settings*.

    :param distributed: Whether tests run in pytest-xdist workers, whose communication threads
        make forking warn on Python 3.12+; the header says so once, with the way out.
    """
    lines = [f"concur: {settings.describe()} | {gil_status()}"]
    if (
        distributed
        and "process" in settings.modes
        and settings.start_method == "fork"
        and sys.version_info >= (3, 12)
    ):
        lines.append(
            "concur: note: pytest-xdist workers run threads, so forking process workers in them "
            "raises Python's DeprecationWarning about fork() in a multi-threaded process (an "
            "error under -W error); use --concur-start-method=forkserver to avoid it"
        )
    return lines


def _first_line(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple):  # a skip: (path, lineno, "Skipped: reason")
        text = str(longrepr[2])
        return text.removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    text = message if isinstance(message, str) else str(longrepr)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    return first if len(first) <= _FAILURE_WIDTH else first[: _FAILURE_WIDTH - 3] + "..."


def item_outcome(reports: list[pytest.TestReport]) -> tuple[str, str]:
    """Combine an item's setup, call and teardown reports into ``(outcome, first line)``.

    The categories are those of pytest's summary line, in its words.
    """
    outcome, failure = "passed", ""
    for report in reports:
        wasxfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.failed:
                outcome, failure = "failed", _first_line(report)
            elif report.skipped:
                outcome = "xfailed" if wasxfail else "skipped"
                # pytest < 9 prefixes an imperative xfail's reason with "reason: ".
                reason = str(getattr(report, "wasxfail", "")).removeprefix("reason: ")
                failure = reason or _first_line(report)
            elif wasxfail:
                outcome = "xpassed"
        elif report.failed:
            # A setup or teardown failure is pytest's "error", unless the call already failed.
            if outcome != "failed":
                outcome, failure = "error", _first_line(report)
        elif report.skipped and report.when == "setup":
            outcome = "xfailed" if wasxfail else "skipped"
            failure = _first_line(report)
    return outcome, failure


def record_report(item: pytest.Item, report: pytest.TestReport) -> None:
    """Keep *item*'s phase reports; on teardown, write its outcome into the report's properties."""
    if not any(name in (MODE_PROPERTY, PLAIN_ITEM_PROPERTY) for name, _ in item.user_properties):
        return
    phases = item.stash.setdefault(_PHASES_KEY, [])
    phases.append(report)
    if report.when != "teardown":
        return
    outcome, failure = item_outcome(phases)
    del item.stash[_PHASES_KEY]
    report.user_properties.append((OUTCOME_PROPERTY, outcome))
    if failure:
        report.user_properties.append((FAILURE_PROPERTY, failure))


def collect_result(config: pytest.Config, report: pytest.TestReport) -> None:
    """Store a teardown report's per-mode outcome (called wherever reports are logged)."""
    if report.when != "teardown":
        return
    props = {str(name): value for name, value in report.user_properties}
    kind, test, outcome = (props.get(p) for p in (MODE_PROPERTY, TEST_PROPERTY, OUTCOME_PROPERTY))
    plain = props.get(PLAIN_ITEM_PROPERTY)
    if isinstance(plain, str) and isinstance(test, str) and isinstance(outcome, str):
        config.stash.setdefault(PLAIN_ITEMS_KEY, {})[test] = (plain, outcome)
        return
    if not (isinstance(kind, str) and isinstance(test, str) and isinstance(outcome, str)):
        return
    workers, failed = None, 0
    ran = props.get(RUN_PROPERTY)
    if isinstance(ran, str) and "/" in ran:
        total, _, bad = ran.partition("/")
        workers, failed = int(total), int(bad)
    results = config.stash.setdefault(RESULTS_KEY, {})
    results.setdefault(test, {})[kind] = ModeOutcome(
        outcome=outcome,
        failure=str(props.get(FAILURE_PROPERTY, "")),
        by_design=BY_DESIGN_PROPERTY in props,
        workers=workers,
        failed_workers=failed,
        not_concurrent=str(props.get(NOT_CONCURRENT_PROPERTY, "")),
        restored=tuple(str(props.get(RESTORED_PROPERTY, "")).split("\n"))
        if RESTORED_PROPERTY in props
        else (),
    )


def _differs(modes: Mapping[str, ModeOutcome]) -> bool:
    return len({modes[kind].outcome for kind in KINDS}) > 1


def isolation_lines(
    results: Mapping[str, Mapping[str, ModeOutcome]], verbosity: int
) -> tuple[list[str], str]:
    """Return the isolation report's body lines and its closing count line.

    Only tests that ran in both modes count; a mode skipped by design does not. Tests are listed
    in node id order, so the report does not depend on the order tests finished (pytest-xdist).
    """
    both = {
        test: modes
        for test, modes in sorted(results.items())
        if all(kind in modes and not modes[kind].by_design for kind in KINDS)
    }
    differing = {test: modes for test, modes in both.items() if _differs(modes)}
    lines: list[str] = []
    shown = list(differing.items())
    if verbosity < 0:
        for test, modes in shown[:_COMPACT_LIMIT]:
            outcomes = ", ".join(f"{kind} {modes[kind].outcome}" for kind in KINDS)
            lines.append(f"{test}: {outcomes}")
        if len(shown) > _COMPACT_LIMIT:
            lines.append(f"... and {len(shown) - _COMPACT_LIMIT} more (run without -q to list all)")
    else:
        for test, modes in shown:
            lines.append(test)
            for kind in KINDS:
                mode = modes[kind]
                detail = f": {mode.failure}" if mode.failure else ""
                lines.append(f"    {kind + ':':<8} {mode.outcome}{detail}")
            cause = likely_cause(modes)
            if cause:
                lines.append(f"    {'why:':<8} {cause}")
    agree = len(both) - len(differing)
    noun = "test" if len(both) == 1 else "tests"
    count = f"{len(both)} {noun} ran in both modes: {agree} agree, {len(differing)} differ"
    return lines, count


_BAD = ("failed", "error")


def likely_cause(modes: Mapping[str, ModeOutcome]) -> str:
    """Return one line naming the likely cause of a thread/process difference, and its demo.

    Decided by the direction of the difference: what fails only in process mode usually relied
    on sharing memory, what fails only in thread mode on not sharing it.
    """
    thread, process = modes["thread"].outcome, modes["process"].outcome
    if process in _BAD and thread not in _BAD:
        return (
            "failed only in process mode: each worker changed its own copy of a global or "
            "fixture object, which never reaches the parent or the other workers (python -m "
            "concur_lab run shared-global; run mutating-args)"
        )
    if thread in _BAD and process not in _BAD and modes["thread"].restored:
        names = ", ".join(modes["thread"].restored[:2])
        return (
            "failed only in thread mode: the workers replaced shared state at the same time "
            f"({names}), so one used or put back another's replacement (python -m concur_lab "
            "run lost-update)"
        )
    if thread in _BAD and process not in _BAD:
        return (
            "failed only in thread mode: the workers shared an object without a lock, or state "
            "that is one per process (cwd, environment, warnings, sys.stdout) (python -m "
            "concur_lab run lost-update; run value-race)"
        )
    return ""


@dataclass(frozen=True, slots=True)
class _ModeCounts:
    concurrent_passed: int
    concurrent_failed: list[tuple[str, ModeOutcome]]
    once: dict[str, int]
    once_failed: list[tuple[str, ModeOutcome]]
    skipped_unsafe: dict[str, int]
    other: dict[str, int]
    other_failed: list[tuple[str, ModeOutcome]]
    total: int


def _group(reason: str) -> str:
    # "calls os.chdir (through helper): why" and "calls os.chdir: why" are one group.
    head, _, why = reason.partition(": ")
    head = head.split(" (through ")[0]
    return f"{head}: {why}" if why else head


def _count_mode(results: Mapping[str, Mapping[str, ModeOutcome]], kind: str) -> _ModeCounts:
    passed = 0
    failed: list[tuple[str, ModeOutcome]] = []
    once: Counter[str] = Counter()
    once_failed: list[tuple[str, ModeOutcome]] = []
    skipped: Counter[str] = Counter()
    other: Counter[str] = Counter()
    other_failed: list[tuple[str, ModeOutcome]] = []
    total = 0
    for test, modes in sorted(results.items()):
        mode = modes.get(kind)
        if mode is None or mode.by_design:
            continue
        total += 1
        if mode.not_concurrent:
            if mode.outcome == "skipped" and mode.failure.startswith("concur: unsafe"):
                skipped[_group(mode.not_concurrent)] += 1
                continue
            once[_group(mode.not_concurrent)] += 1
            if mode.outcome in _BAD:
                once_failed.append((test, mode))
        elif mode.workers is not None:
            if mode.outcome in _BAD:
                failed.append((test, mode))
            elif mode.outcome in ("passed", "xfailed", "xpassed"):
                passed += 1
            else:
                other[mode.outcome] += 1
        else:
            other[mode.outcome] += 1
            if mode.outcome in _BAD:
                other_failed.append((test, mode))
    return _ModeCounts(
        passed, failed, dict(once), once_failed, dict(skipped), dict(other), other_failed, total
    )


def _restored(
    results: Mapping[str, Mapping[str, ModeOutcome]], kind: str
) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (test, modes[kind].restored)
        for test, modes in sorted(results.items())
        if kind in modes and modes[kind].restored
    ]


def _failure_line(test: str, kind: str, mode: ModeOutcome) -> str:
    workers = (
        f"{mode.failed_workers} of {mode.workers} workers: "
        if mode.workers and mode.failed_workers
        else ""
    )
    return f"{test}[{kind}]: {workers}{mode.failure or mode.outcome}"


def suite_lines(
    results: Mapping[str, Mapping[str, ModeOutcome]],
    plain_items: Mapping[str, tuple[str, str]],
    modes: Iterable[str],
    verbosity: int,
) -> list[str]:
    """Return the suite report's lines: per mode, what ran concurrently and what did not, why."""
    lines: list[str] = []
    for kind in modes:
        counts = _count_mode(results, kind)
        if not counts.total:
            continue
        once = sum(counts.once.values())
        skipped = sum(counts.skipped_unsafe.values())
        restored = _restored(results, kind)
        other = sum(counts.other.values())
        if verbosity < 0:
            parts = [
                f"{counts.concurrent_passed} passed concurrently",
                f"{len(counts.concurrent_failed)} failed concurrently",
                f"{once} ran once",
            ]
            if skipped:
                parts.append(f"{skipped} skipped as unsafe")
            if other:
                parts.append(f"{other} other")
            if restored:
                parts.append(f"{len(restored)} left shared state changed (put back)")
            lines.append(f"{kind} mode: " + ", ".join(parts))
            for test, mode in counts.concurrent_failed[:_COMPACT_LIMIT]:
                lines.append(f"  {_failure_line(test, kind, mode)}")
            if len(counts.concurrent_failed) > _COMPACT_LIMIT:
                extra = len(counts.concurrent_failed) - _COMPACT_LIMIT
                lines.append(f"  ... and {extra} more (run without -q to list all)")
            continue
        noun = "test" if counts.total == 1 else "tests"
        lines.append(f"{kind} mode: {counts.total} {noun}")
        lines.append(f"  {counts.concurrent_passed} ran concurrently and passed")
        lines.append(f"  {len(counts.concurrent_failed)} failed when run concurrently")
        for test, mode in counts.concurrent_failed:
            lines.append(f"    {_failure_line(test, kind, mode)}")
        lines.append(f"  {once} not run concurrently (body ran once)")
        for reason, number in sorted(counts.once.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"    {number} {reason}")
        for test, mode in counts.once_failed:
            lines.append(f"    failed when run once: {_failure_line(test, kind, mode)}")
        if skipped:
            lines.append(f"  {skipped} skipped as unsafe (--concur-skip-unsafe)")
            for reason, number in sorted(
                counts.skipped_unsafe.items(), key=lambda kv: (-kv[1], kv[0])
            ):
                lines.append(f"    {number} {reason}")
        if other:
            detail = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.other.items()))
            lines.append(f"  {other} other (body not run in workers): {detail}")
            for test, mode in counts.other_failed:
                lines.append(f"    {_failure_line(test, kind, mode)}")
        if restored:
            lines.append(
                f"  {len(restored)} left shared state changed when run concurrently; it was put "
                "back before the next test:"
            )
            for test, names in restored:
                shown = ", ".join(names[:_COMPACT_LIMIT])
                more = (
                    f" and {len(names) - _COMPACT_LIMIT} more"
                    if len(names) > _COMPACT_LIMIT
                    else ""
                )
                lines.append(f"    {test}[{kind}]: {shown}{more}")
    if plain_items:
        reasons = Counter(reason for reason, _ in plain_items.values())
        detail = "; ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        lines.append(f"not run concurrently, ran once unchanged: {len(plain_items)} ({detail})")
    return lines


def suite_report(config: pytest.Config) -> dict[str, Any]:
    """Return the suite report as the JSON object ``--concur-report`` writes (schema in docs)."""
    settings: Settings = config.stash[SETTINGS_KEY]
    results = config.stash.get(RESULTS_KEY, {})
    plain_items = config.stash.get(PLAIN_ITEMS_KEY, {})
    summary: dict[str, Any] = {}
    for kind in settings.modes:
        counts = _count_mode(results, kind)
        summary[kind] = {
            "tests": counts.total,
            "concurrent_passed": counts.concurrent_passed,
            "concurrent_failed": len(counts.concurrent_failed),
            "ran_once": sum(counts.once.values()),
            "ran_once_by_reason": counts.once,
            "skipped_unsafe": sum(counts.skipped_unsafe.values()),
            "skipped_unsafe_by_reason": counts.skipped_unsafe,
            "other": counts.other,
            "state_restored": len(_restored(results, kind)),
        }
    tests = {
        test: {kind: asdict(mode) for kind, mode in modes.items()}
        for test, modes in sorted(results.items())
    }
    differing = [
        {
            "test": test,
            **{kind: modes[kind].outcome for kind in KINDS},
            "likely_cause": likely_cause(modes),
        }
        for test, modes in sorted(results.items())
        if all(kind in modes and not modes[kind].by_design for kind in KINDS) and _differs(modes)
    ]
    return {
        "schema": REPORT_SCHEMA_VERSION,
        "settings": {
            "modes": list(settings.modes),
            "workers": settings.workers,
            "start_method": settings.start_method,
            "timeout": settings.timeout,
            "iterations": settings.iterations,
            "concur_all": settings.concur_all,
            "skip_unsafe": settings.skip_unsafe,
            "switch_interval": settings.switch_interval,
            "gil": gil_status(),
        },
        "summary": summary,
        "tests": tests,
        "not_python_tests": {
            test: {"reason": reason, "outcome": outcome}
            for test, (reason, outcome) in sorted(plain_items.items())
        },
        "differing": differing,
    }


def write_json_report(config: pytest.Config, path: str) -> None:
    """Write :func:`suite_report` to *path*, whole or not at all (through a temporary file)."""
    data = json.dumps(suite_report(config), indent=2, sort_keys=True)
    folder = os.path.dirname(path)
    fd, temporary = tempfile.mkstemp(prefix=".concur-report-", suffix=".json", dir=folder)
    try:
        # mkstemp makes the file private (0600); a report is an ordinary file for CI to keep.
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temporary, 0o666 & ~mask)
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(data + "\n")
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Write the suite report, the isolation report (both modes) or the one-mode note."""
    settings: Settings = config.stash[SETTINGS_KEY]
    results = config.stash.get(RESULTS_KEY, {})
    plain_items = config.stash.get(PLAIN_ITEMS_KEY, {})
    verbosity = config.get_verbosity()
    wanted = settings.concur_all or any(
        mode.not_concurrent or mode.workers is not None
        for modes in results.values()
        for mode in modes.values()
    )
    if wanted and (results or plain_items):
        terminalreporter.write_sep("=", "concur: suite report")
        for line in suite_lines(results, plain_items, settings.modes, verbosity):
            terminalreporter.write_line(line)
    if not results:
        return
    if settings.modes == KINDS:
        lines, count = isolation_lines(results, verbosity)
        terminalreporter.write_sep("=", "concur: thread vs process (isolation report)")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(count)
        return
    noun = "test" if len(results) == 1 else "tests"
    terminalreporter.write_line(
        f"concur: {len(results)} concurrency {noun} ran in one mode only ({settings.modes[0]}), "
        "so no outcome was compared across modes: a test that is wrong in the other mode "
        "passed unnoticed; run both with --concur-mode=both (ini: concur_mode = both)"
    )
