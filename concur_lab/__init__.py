"""See and test how Python threads and processes differ.

The engine runs a callable in N workers, threads or processes, and reports each worker's outcome;
:class:`SharedCounter` counts across them; :mod:`concur_lab.demos` holds the lessons.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concur_lab._context import iteration_index, worker_index
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
        WorkerWarning,
        outcome_of,
        raise_for_outcomes,
        reemit_warnings,
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
    "WorkerWarning",
    "available_start_methods",
    "default_start_method",
    "iteration_index",
    "map_workers",
    "outcome_of",
    "raise_for_outcomes",
    "reemit_warnings",
    "run_outcomes",
    "run_workers",
    "worker_index",
]

# Public name -> the private module that defines it. Imported on first use (PEP 562): every
# spawn and forkserver worker imports this package to reach its bootstrap, and should not pay
# for the engine, the counter and ctypes it does not use.
_WHERE = {
    "worker_index": "_context",
    "iteration_index": "_context",
    "SharedCounter": "_counter",
    "map_workers": "_engine",
    "run_outcomes": "_engine",
    "run_workers": "_engine",
    "RemoteError": "_excship",
    "PROCESS": "_modes",
    "THREAD": "_modes",
    "Mode": "_modes",
    "ModeError": "_modes",
    "available_start_methods": "_modes",
    "default_start_method": "_modes",
    "WorkerCrashed": "_outcome",
    "WorkerError": "_outcome",
    "WorkerOutcome": "_outcome",
    "WorkerStartError": "_outcome",
    "WorkerTimeout": "_outcome",
    "WorkerWarning": "_outcome",
    "outcome_of": "_outcome",
    "raise_for_outcomes": "_outcome",
    "reemit_warnings": "_outcome",
    "SendError": "_shipping",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    if name != "PROCESS":
        # PROCESS follows the current default start method: looked up each time.
        globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])


__version__ = "0.1.0.dev0"
