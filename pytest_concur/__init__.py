"""pytest-concur: run tests in thread mode and process mode, and show where they differ.

The plugin itself is :mod:`pytest_concur.plugin`, loaded by the ``pytest11`` entry point
``concur``. This package exports the types tests and other plugins use in annotations, and
:func:`isolation_results`, the per-mode outcomes behind the isolation report.
"""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from pytest_concur._engine import Mode, SharedCounter, WorkerOutcome
from pytest_concur._report import RESULTS_KEY, ModeOutcome
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
    return config.stash.get(RESULTS_KEY, {})
