"""pytest-concur: run tests in thread mode and process mode, and show where they differ.

The plugin itself is :mod:`pytest_concur.plugin`, loaded by the ``pytest11`` entry point
``concur``. This package exports the types tests and other plugins use in annotations, and
:func:`isolation_results`, the per-mode outcomes behind the isolation report.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pytest

    from pytest_concur._engine import Mode, SharedCounter, WorkerOutcome
    from pytest_concur._report import ModeOutcome
    from pytest_concur._spawn import WorkerSpawner

__all__ = [
    "Mode",
    "ModeOutcome",
    "SharedCounter",
    "WorkerOutcome",
    "WorkerSpawner",
    "isolation_results",
]


def isolation_results(config: pytest.Config) -> Mapping[str, Mapping[str, ModeOutcome]]:
    """Return the per-mode outcome of every concurrency test reported so far.

    Keys are node ids without the mode id (``"tests/test_x.py::test_y"``), then ``"thread"`` /
    ``"process"``. Under pytest-xdist the controller holds every worker's results, gathered from
    their reports. Read it in ``pytest_terminal_summary`` or ``pytest_sessionfinish`` (use
    ``trylast=True`` if you also want what pytest-concur records in those hooks).

    :param config: The pytest config of the session.
    :returns: A read-only view; empty when no concurrency test has finished.
    """
    from pytest_concur._report import RESULTS_KEY

    return config.stash.get(RESULTS_KEY, {})


# Public name -> the module that defines it, imported on first use (PEP 562): a process worker
# that runs a rewritten test module imports pytest_concur._assert_helpers, and with it this
# package, which must not import pytest and the engine for it.
_WHERE = {
    "Mode": "_engine",
    "SharedCounter": "_engine",
    "WorkerOutcome": "_engine",
    "ModeOutcome": "_report",
    "WorkerSpawner": "_spawn",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
