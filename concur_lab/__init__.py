"""See and test how Python threads and processes differ.

The engine runs a callable in N workers, threads or processes, and reports each worker's outcome;
:class:`SharedCounter` counts across them; :mod:`concur_lab.demos` holds the lessons.
"""

from __future__ import annotations

from concur_lab._context import worker_index
from concur_lab._counter import SharedCounter
from concur_lab._engine import map_workers, run_outcomes, run_workers
from concur_lab._excship import RemoteError
from concur_lab._modes import (
    PROCESS,
    THREAD,
    Mode,
    ModeError,
    available_start_methods,
    default_start_method,
)
from concur_lab._outcome import (
    WorkerCrashed,
    WorkerError,
    WorkerOutcome,
    WorkerStartError,
    WorkerTimeout,
    outcome_of,
    raise_for_outcomes,
)
from concur_lab._shipping import SendError

__all__ = [
    "PROCESS",
    "THREAD",
    "Mode",
    "ModeError",
    "RemoteError",
    "SendError",
    "SharedCounter",
    "WorkerCrashed",
    "WorkerError",
    "WorkerOutcome",
    "WorkerStartError",
    "WorkerTimeout",
    "available_start_methods",
    "default_start_method",
    "map_workers",
    "outcome_of",
    "raise_for_outcomes",
    "run_outcomes",
    "run_workers",
    "worker_index",
]

__version__ = "0.1.0.dev0"
