"""The one place that touches :mod:`concur_lab`: modes, the worker engine and the shared counter.

Keeping every engine import here means an engine API change is absorbed in one module.
"""

from __future__ import annotations

from concur_lab import (
    Mode,
    ModeError,
    SendError,
    SharedCounter,
    WorkerOutcome,
    available_start_methods,
    default_start_method,
    iteration_index,
    map_workers,
    raise_for_outcomes,
    reemit_warnings,
    run_outcomes,
    run_workers,
)
from concur_lab.engine._descendants import children, command_line, read_proc_file

__all__ = [
    "Mode",
    "ModeError",
    "SendError",
    "SharedCounter",
    "WorkerOutcome",
    "available_start_methods",
    "children",
    "command_line",
    "default_start_method",
    "iteration_index",
    "make_counter",
    "map_workers",
    "raise_for_outcomes",
    "read_proc_file",
    "reemit_warnings",
    "run_outcomes",
    "run_workers",
]


def make_counter(mode: Mode) -> SharedCounter:
    """Return a fresh :class:`~concur_lab.SharedCounter` for *mode*, starting at 0."""
    return SharedCounter(mode)
