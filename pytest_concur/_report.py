"""What the plugin reports: the header line, per-mode outcomes and the isolation report.

Each concurrency item's outcome is decided where the item runs (in a pytest-xdist worker too) and
written into its teardown report's ``user_properties`` (``concur_outcome``, ``concur_failure``),
next to the tags added at collection (``concur_mode``, ``concur_test``). Reports carry them to the
pytest-xdist controller and into ``--junitxml``, so the isolation report is built from reports
alone and reads the same with or without ``-n``.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass

import pytest

from pytest_concur._collect import BY_DESIGN_PROPERTY, MODE_PROPERTY, TEST_PROPERTY
from pytest_concur._options import KINDS, Settings

__all__ = [
    "FAILURE_PROPERTY",
    "OUTCOME_PROPERTY",
    "RESULTS_KEY",
    "ModeOutcome",
    "gil_status",
    "header_lines",
    "isolation_lines",
    "item_outcome",
    "record_report",
]

OUTCOME_PROPERTY = "concur_outcome"
FAILURE_PROPERTY = "concur_failure"

_COMPACT_LIMIT = 5
_FAILURE_WIDTH = 200


@dataclass(frozen=True, slots=True)
class ModeOutcome:
    """How one concurrency test ended in one mode.

    :ivar outcome: ``"passed"``, ``"failed"``, ``"error"``, ``"skipped"``, ``"xfailed"`` or
        ``"xpassed"``.
    :ivar failure: The first line of the failure, error or skip reason (``""`` if it passed).
    :ivar by_design: Whether it was skipped because its marker's ``modes`` leave this mode out.
    """

    outcome: str
    failure: str = ""
    by_design: bool = False


RESULTS_KEY = pytest.StashKey[dict[str, dict[str, ModeOutcome]]]()
"""``config.stash[RESULTS_KEY][test_id][mode]``, read by :func:`pytest_concur.isolation_results`."""

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
    if not any(name == MODE_PROPERTY for name, _ in item.user_properties):
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
    if not (isinstance(kind, str) and isinstance(test, str) and isinstance(outcome, str)):
        return
    results = config.stash.setdefault(RESULTS_KEY, {})
    results.setdefault(test, {})[kind] = ModeOutcome(
        outcome=outcome,
        failure=str(props.get(FAILURE_PROPERTY, "")),
        by_design=BY_DESIGN_PROPERTY in props,
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
    agree = len(both) - len(differing)
    noun = "test" if len(both) == 1 else "tests"
    count = f"{len(both)} {noun} ran in both modes: {agree} agree, {len(differing)} differ"
    return lines, count
