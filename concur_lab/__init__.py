"""See and test how Python threads and processes differ.

The engine runs a callable in N workers, threads or processes, and reports each worker's outcome;
:class:`SharedCounter` counts across them; :mod:`concur_lab.demos` holds the lessons.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concur_lab.counter._shared_counter import SharedCounter
    from concur_lab.engine._api import map_workers, run_outcomes, run_workers
    from concur_lab.engine._modes import (
        PROCESS,
        THREAD,
        Mode,
        ModeError,
        available_start_methods,
        default_start_method,
    )
    from concur_lab.engine._outcome import (
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
    from concur_lab.engine._remote_errors import RemoteError
    from concur_lab.engine._send_error import SendError
    from concur_lab.engine._worker_context import iteration_index, worker_index

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

# Public name -> the private module (under concur_lab) that defines it. Imported on first use
# (PEP 562): every spawn and forkserver worker imports this package to reach its bootstrap, and
# should not pay for the engine, the counter and ctypes it does not use.
_WHERE = {
    "worker_index": "engine._worker_context",
    "iteration_index": "engine._worker_context",
    "SharedCounter": "counter._shared_counter",
    "map_workers": "engine._api",
    "run_outcomes": "engine._api",
    "run_workers": "engine._api",
    "RemoteError": "engine._remote_errors",
    "PROCESS": "engine._modes",
    "THREAD": "engine._modes",
    "Mode": "engine._modes",
    "ModeError": "engine._modes",
    "available_start_methods": "engine._modes",
    "default_start_method": "engine._modes",
    "WorkerCrashed": "engine._outcome",
    "WorkerError": "engine._outcome",
    "WorkerOutcome": "engine._outcome",
    "WorkerStartError": "engine._outcome",
    "WorkerTimeout": "engine._outcome",
    "WorkerWarning": "engine._outcome",
    "outcome_of": "engine._outcome",
    "raise_for_outcomes": "engine._outcome",
    "reemit_warnings": "engine._outcome",
    "SendError": "engine._send_error",
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
