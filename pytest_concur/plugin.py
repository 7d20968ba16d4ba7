"""The pytest plugin, loaded by the ``pytest11`` entry point ``concur``: hooks and fixtures.

Hooks stay thin: options live in :mod:`pytest_concur._options`, collection in
:mod:`pytest_concur._collect`, marker-driven runs in :mod:`pytest_concur._run` and the reports in
:mod:`pytest_concur._report`.
"""

from __future__ import annotations

import pytest

from pytest_concur._collect import generate_tests, mark_unsupported_modes, settings_for
from pytest_concur._engine import Mode
from pytest_concur._options import (
    SETTINGS_KEY,
    ConcurUsageError,
    add_options,
    settings_from_config,
)
from pytest_concur._report import header_lines

__all__ = ["concur_mode"]

MARKER_HELP = (
    "concur(workers=None, modes=None, timeout=None, start_method=None): run the test body "
    "concurrently in `workers` workers (default --concur-workers) of the item's mode; `modes` "
    "lists the modes the test supports (others are skipped); `timeout` and `start_method` "
    "override --concur-timeout and --concur-start-method"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``concur`` options and ini keys."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Validate the options, store the settings and register the ``concur`` marker."""
    config.addinivalue_line("markers", MARKER_HELP)
    try:
        config.stash[SETTINGS_KEY] = settings_from_config(config)
    except ConcurUsageError as exc:
        raise pytest.UsageError(str(exc)) from None


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the modes, start method, workers, timeout and whether the GIL is enabled."""
    return header_lines(config.stash[SETTINGS_KEY])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize concurrency tests over the selected modes (ids ``thread``/``process``)."""
    generate_tests(metafunc)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip items in modes their marker leaves out; tag concurrency items for the reports."""
    mark_unsupported_modes(items)


@pytest.fixture
def concur_mode(request: pytest.FixtureRequest) -> Mode:
    """Return the mode this test runs in: threads of this process, or child processes.

    Requesting it makes the test a concurrency test: it runs once per mode selected with
    ``--concur-mode`` (ids ``thread`` and ``process``). The value compares equal to ``"thread"``
    or ``"process"`` and has ``shares_memory`` (true only for threads) and ``start_method``
    (``fork``, ``forkserver`` or ``spawn`` for processes, ``None`` for threads).
    """
    settings = settings_for(request.node) if isinstance(request.node, pytest.Item) else None
    kind = getattr(request, "param", None)
    if kind is None:
        # Reached only through request.getfixturevalue, which pytest cannot parametrize.
        kind = request.config.stash[SETTINGS_KEY].modes[0]
    if settings is None:
        start_method = request.config.stash[SETTINGS_KEY].start_method
        return Mode.thread() if kind == "thread" else Mode.process(start_method)
    return settings.mode(kind)
