"""Options, ini keys and marker arguments: parsing, validation and precedence.

Every value is resolved as marker argument > command line > ini > default, and every invalid value
is reported with where it came from ("from command line --concur-workers", "from ini
concur_workers", "from marker on test_x"), so that the user can find and fix it without a traceback.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_concur._engine import Mode, default_start_method
from pytest_concur._leaks import GRACE_HELP, GRACE_SECONDS, parse_grace
from pytest_concur._values import (
    KINDS,
    ConcurUsageError,
    parse_bool,
    parse_count,
    parse_fixtures,
    parse_functions,
    parse_mode,
    parse_modes_argument,
    parse_report_path,
    parse_start_method,
    parse_switch_interval,
    parse_timeout,
    parse_workers,
)

__all__ = [
    "ALL_TESTS_SWITCH_INTERVAL",
    "DEFAULT_UNSAFE_DEPTH",
    "SETTINGS_KEY",
    "ItemSettings",
    "Settings",
    "add_options",
    "item_settings",
    "settings_from_config",
]


# pytest 9.2 added type expressions (int | str) for ini keys.
_INI_UNION_TYPES = pytest.version_tuple[:2] >= (9, 2)

DEFAULT_WORKERS = 4
DEFAULT_TIMEOUT = 60.0
DEFAULT_UNSAFE_DEPTH = 2

# 'Help' formatting follows pytest's: capitalised, no final period for a single phrase.
MODE_HELP = "Modes to run concurrency tests in: thread, process or both (default: thread)"
WORKERS_HELP = (
    "Workers per concur-marked test, and the default n of spawn_workers: a number, or auto for "
    f"the CPUs this process may use (default: {DEFAULT_WORKERS})"
)
ALL_HELP = (
    "Run every collected Python test (functions, methods, unittest.TestCase methods) as a "
    "concurrency test: its body in --concur-workers workers of each selected mode"
)
ITERATIONS_HELP = (
    "Times each worker runs a concurrency test's body, all workers meeting at a barrier before "
    "each iteration (default: 1)"
)
SKIP_UNSAFE_HELP = (
    "Skip tests that are unsafe to run concurrently in a mode (concur_unsafe, thread_unsafe, "
    "detected) instead of running their body once"
)
ALL_TESTS_SWITCH_INTERVAL = 1e-6
"""The switch interval of thread-mode bodies under ``--concur-all`` unless one is given."""

SWITCH_INTERVAL_HELP = (
    "sys.setswitchinterval while thread-mode bodies run, to make races under the GIL more likely "
    "(e.g. 1e-6; default: 1e-6 with --concur-all, as pytest-run-parallel does; else unchanged)"
)
IGNORE_GIL_HELP = (
    "On a free-threaded build, do not fail a test during which the GIL was enabled again"
)
REPORT_HELP = "Write the suite report as JSON to this file"
UNSAFE_INI = {
    "concur_thread_unsafe_fixtures": "Fixtures that make a test unsafe in thread mode, added "
    "to the built-in ones",
    "concur_thread_unsafe_functions": "Functions (module.name or module.*) whose call makes a "
    "test unsafe in thread mode, added to the built-in ones",
    "concur_process_unsafe_fixtures": "Fixtures that make a test unsafe in process mode, added "
    "to the built-in ones",
    "concur_process_unsafe_functions": "Functions (module.name or module.*) whose call makes a "
    "test unsafe in process mode, added to the built-in ones",
}
DEPTH_HELP = (
    "How deep the unsafe-call detection follows the test's calls into functions of the same "
    f"project (default: {DEFAULT_UNSAFE_DEPTH}; 0: the test function only)"
)
START_METHOD_HELP = (
    "Start method of process workers: fork, forkserver or spawn (default: the standard "
    f"library's default here, {default_start_method()})"
)
TIMEOUT_HELP = (
    f"Seconds a concurrency test's workers may run before they fail as hung (default: "
    f"{DEFAULT_TIMEOUT:g}; 0 disables)"
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The session's concur settings, after command line > ini > default.

    :ivar modes: The selected modes, a non-empty subset of :data:`KINDS` in that order.
    :ivar workers: Workers per marked test and default ``n`` of ``spawn_workers``.
    :ivar start_method: Start method of process workers.
    :ivar timeout: Seconds before workers fail as hung, or ``None`` for no limit.
    :ivar concur_all: Whether every Python test is a concurrency test (``--concur-all``).
    :ivar iterations: Times each worker runs the body (``--concur-iterations``).
    :ivar skip_unsafe: Skip unsafe tests instead of running them once.
    :ivar switch_interval: ``sys.setswitchinterval`` for thread-mode bodies, or ``None``.
    :ivar ignore_gil_enabled: Do not fail tests during which the GIL was enabled again.
    :ivar report_path: Where to write the JSON suite report, or ``None``.
    :ivar leak_grace: Seconds the leak check waits for what is just finishing.
    :ivar workers_auto: Whether *workers* came from ``auto``.
    :ivar unsafe_fixtures: Per mode, fixtures the ini adds to the built-in unsafe ones.
    :ivar unsafe_functions: Per mode, ``module.name`` entries the ini adds.
    :ivar unsafe_depth: How deep the call detection follows same-project functions.
    """

    modes: tuple[str, ...]
    workers: int
    start_method: str
    timeout: float | None
    concur_all: bool = False
    iterations: int = 1
    skip_unsafe: bool = False
    switch_interval: float | None = None
    ignore_gil_enabled: bool = False
    report_path: str | None = None
    leak_grace: float = GRACE_SECONDS
    workers_auto: bool = False
    unsafe_fixtures: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unsafe_functions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    unsafe_depth: int = DEFAULT_UNSAFE_DEPTH

    def describe(self) -> str:
        """Return the one-line summary shown in the report header."""
        timeout = "none" if self.timeout is None else f"{self.timeout:g}s"
        workers = f"auto ({self.workers})" if self.workers_auto else str(self.workers)
        parts = [
            f"modes {', '.join(self.modes)}",
            f"start method {self.start_method}",
            f"workers {workers}",
            f"timeout {timeout}",
        ]
        if self.iterations != 1:
            parts.append(f"iterations {self.iterations}")
        if self.concur_all:
            parts.append("all tests" + (", unsafe ones skipped" if self.skip_unsafe else ""))
        if self.switch_interval is not None:
            parts.append(f"switch interval {self.switch_interval:g}s")
        return " | ".join(parts)


SETTINGS_KEY = pytest.StashKey[Settings]()


@dataclass(frozen=True, slots=True)
class ItemSettings:
    """One test's settings: its marker's arguments over the session's :class:`Settings`.

    :ivar modes: The modes the test supports (its marker's ``modes``, else all of :data:`KINDS`).
    :ivar workers: Workers that run the body of a marked test.
    :ivar start_method: Start method of process workers.
    :ivar timeout: Seconds before workers fail as hung, or ``None``.
    :ivar marked: Whether the test's body runs in workers: it carries the ``concur`` marker, or
        ``--concur-all`` is on.
    :ivar iterations: Times each worker runs the body.
    """

    modes: tuple[str, ...]
    workers: int
    start_method: str
    timeout: float | None
    marked: bool
    iterations: int = 1

    def mode(self, kind: str) -> Mode:
        """Return the :class:`~concur_lab.Mode` of *kind* with this test's start method."""
        key = "thread" if kind == "thread" else self.start_method
        mode = _MODES.get(key)
        if mode is None:
            mode = _MODES[key] = Mode.thread() if kind == "thread" else Mode.process(key)
        return mode


# Modes are immutable, and asked for twice per test: each new one checks its start method
# against the platform's (a multiprocessing call) and sets frozen fields one by one.
_MODES: dict[str, Mode] = {}


def add_options(parser: pytest.Parser) -> None:
    """Add the ``concur`` option group and its ini keys (same names with ``_``, same help)."""
    group = parser.getgroup("concur", "thread and process concurrency tests (pytest-concur)")
    for flag, help_text, metavar, numeric in (
        ("--concur-mode", MODE_HELP, "MODE", None),
        ("--concur-workers", WORKERS_HELP, "N", int | str),
        ("--concur-start-method", START_METHOD_HELP, "METHOD", None),
        ("--concur-timeout", TIMEOUT_HELP, "SECONDS", int | float | str),
    ):
        dest = flag[2:].replace("-", "_")
        # No argparse choices/type: every source is validated by the same code, with its label.
        group.addoption(flag, dest=dest, default=None, metavar=metavar, help=help_text)
        # A native [tool.pytest] table may hold a TOML number; pytest >= 9.2 accepts it when the
        # key's type is a union with str (str keeps bad values ours to report, with their source).
        ini_type: Any = numeric if numeric is not None and _INI_UNION_TYPES else "string"
        parser.addini(dest, help_text, type=ini_type, default="")
    for flag, help_text, metavar, numeric in (
        ("--concur-iterations", ITERATIONS_HELP, "N", int | str),
        ("--concur-switch-interval", SWITCH_INTERVAL_HELP, "SECONDS", int | float | str),
        ("--concur-report", REPORT_HELP, "FILE", None),
        ("--concur-leak-grace", GRACE_HELP, "SECONDS", int | float | str),
    ):
        dest = flag[2:].replace("-", "_")
        group.addoption(flag, dest=dest, default=None, metavar=metavar, help=help_text)
        ini_type = numeric if numeric is not None and _INI_UNION_TYPES else "string"
        parser.addini(dest, help_text, type=ini_type, default="")
    for flag, help_text in (
        ("--concur-all", ALL_HELP),
        ("--concur-skip-unsafe", SKIP_UNSAFE_HELP),
        ("--concur-ignore-gil-enabled", IGNORE_GIL_HELP),
    ):
        dest = flag[2:].replace("-", "_")
        group.addoption(flag, dest=dest, action="store_true", default=None, help=help_text)
        # A string, not pytest's "bool": a bad value is then ours to report, naming the key.
        ini_type = bool | str if _INI_UNION_TYPES else "string"
        parser.addini(dest, help_text, type=ini_type, default="")
    for name, help_text in UNSAFE_INI.items():
        parser.addini(name, help_text, type="linelist", default=[])
    depth_type: Any = int | str if _INI_UNION_TYPES else "string"
    parser.addini("concur_unsafe_depth", DEPTH_HELP, type=depth_type, default="")


def _raw(config: pytest.Config, name: str) -> tuple[object, str] | None:
    """Return the command line or else ini value of *name* with its source label, if set."""
    value = config.getoption(name)
    if value is not None:
        return value, f"from command line --{name.replace('_', '-')}"
    ini = config.getini(name)
    if ini not in ("", None, []):
        return ini, f"from ini {name}"
    return None


def settings_from_config(config: pytest.Config) -> Settings:
    """Resolve the session's settings: command line > ini > default.

    :raises ConcurUsageError: If any value is invalid; the message names the value and its source.
    """
    found = _raw(config, "concur_mode")
    modes = parse_mode(*found) if found else ("thread",)
    found = _raw(config, "concur_workers")
    workers = parse_workers(*found) if found else DEFAULT_WORKERS
    workers_auto = found is not None and str(found[0]).strip().lower() == "auto"
    found = _raw(config, "concur_start_method")
    start_method = parse_start_method(*found) if found else default_start_method()
    found = _raw(config, "concur_timeout")
    timeout = parse_timeout(*found) if found else DEFAULT_TIMEOUT
    found = _raw(config, "concur_iterations")
    iterations = parse_count(*found, "iterations") if found else 1
    found = _raw(config, "concur_switch_interval")
    switch_interval = parse_switch_interval(*found) if found else None
    found = _raw(config, "concur_report")
    report_path = parse_report_path(*found) if found else None
    found = _raw(config, "concur_leak_grace")
    try:
        leak_grace = parse_grace(*found) if found else GRACE_SECONDS
    except ValueError as exc:
        raise ConcurUsageError(str(exc)) from None
    flags = {}
    for name in ("concur_all", "concur_skip_unsafe", "concur_ignore_gil_enabled"):
        found = _raw(config, name)
        flags[name] = (
            parse_bool(*found, name[len("concur_") :].replace("_", " ")) if found else False
        )
    fixtures: dict[str, frozenset[str]] = {}
    functions: dict[str, frozenset[str]] = {}
    for kind in KINDS:
        key = f"concur_{kind}_unsafe_fixtures"
        fixtures[kind] = parse_fixtures(config.getini(key), f"in ini {key}")
        key = f"concur_{kind}_unsafe_functions"
        functions[kind] = parse_functions(config.getini(key), f"in ini {key}")
    if switch_interval is None and flags["concur_all"]:
        # Stressing a whole suite is a hunt for races: a thread switch every microsecond
        # instead of every 5 ms makes short bodies interleave at all (pytest-run-parallel does
        # the same for every test it runs).
        switch_interval = ALL_TESTS_SWITCH_INTERVAL
    depth_ini = config.getini("concur_unsafe_depth")
    depth = (
        parse_count(depth_ini, "from ini concur_unsafe_depth", "unsafe depth", minimum=0)
        if depth_ini not in ("", None)
        else DEFAULT_UNSAFE_DEPTH
    )
    return Settings(
        modes=modes,
        workers=workers,
        start_method=start_method,
        timeout=timeout,
        concur_all=flags["concur_all"],
        iterations=iterations,
        skip_unsafe=flags["concur_skip_unsafe"],
        switch_interval=switch_interval,
        ignore_gil_enabled=flags["concur_ignore_gil_enabled"],
        report_path=report_path,
        leak_grace=leak_grace,
        workers_auto=workers_auto,
        unsafe_fixtures=fixtures,
        unsafe_functions=functions,
        unsafe_depth=depth,
    )


def _marker_signature(
    workers: object = None,
    modes: object = None,
    timeout: object = None,
    start_method: object = None,
    iterations: object = None,
) -> None:
    """Carry the ``concur`` marker's signature, for binding its arguments."""


_MARKER_SIGNATURE = inspect.signature(_marker_signature)


def item_settings(
    node: pytest.Item | pytest.Function, settings: Settings, name: str
) -> ItemSettings:
    """Resolve one test's settings: its ``concur`` marker's arguments over *settings*.

    :param node: The test item (or its definition at collection time).
    :param settings: The session's settings.
    :param name: The test's name, for error messages.
    :raises ConcurUsageError: If a marker argument is invalid.
    """
    marker = node.get_closest_marker("concur")
    # pytest-run-parallel's iterations(n), for a suite annotated for that plugin.
    peer = node.get_closest_marker("iterations")
    default_iterations = settings.iterations
    if peer is not None and peer.args:
        default_iterations = parse_count(
            peer.args[0], f"from iterations marker on {name}", "iterations"
        )
    if marker is None:
        return ItemSettings(
            modes=KINDS,
            workers=settings.workers,
            start_method=settings.start_method,
            timeout=settings.timeout,
            marked=settings.concur_all,
            iterations=default_iterations,
        )
    where = f"from marker on {name}"
    try:
        bound = _MARKER_SIGNATURE.bind(*marker.args, **marker.kwargs)
    except TypeError as exc:
        raise ConcurUsageError(
            f"invalid concur marker arguments {where}: {exc}; the marker takes "
            "workers=None, modes=None, timeout=None, start_method=None, iterations=None"
        ) from None
    args = bound.arguments
    workers = args.get("workers")
    modes = args.get("modes")
    timeout = args.get("timeout")
    start_method = args.get("start_method")
    iterations = args.get("iterations")
    return ItemSettings(
        modes=KINDS if modes is None else parse_modes_argument(modes, where),
        workers=settings.workers if workers is None else parse_workers(workers, where),
        start_method=(
            settings.start_method
            if start_method is None
            else parse_start_method(start_method, where)
        ),
        timeout=settings.timeout if timeout is None else parse_timeout(timeout, where),
        marked=True,
        iterations=(
            default_iterations
            if iterations is None
            else parse_count(iterations, where, "iterations")
        ),
    )
