"""The callable each worker runs for a concurrency test: the test's body with its own fixtures.

:class:`Body` is what the engine sends to workers. It is called as ``body(worker, **testargs)``:
it swaps in the worker's own values for the fixtures in :mod:`pytest_concur._worker_fixtures`,
calls the test function, and undoes the swap, also when the function raised.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_concur._engine import iteration_index
from pytest_concur._worker_fixtures import (
    INDEX_FIXTURES,
    FdCapture,
    IndexValue,
    SysCapture,
    TmpPath,
    WorkerValue,
    WorkerWarnings,
)

__all__ = ["Body", "worker_values"]

# Fixtures that record per process: replaced in process workers only (in thread mode they make
# the test unsafe, and its body runs in the test's own thread).
_PROCESS_ONLY: Mapping[str, Callable[[], WorkerValue]] = {
    "capsys": SysCapture,
    "capsysbinary": lambda: SysCapture(binary=True),
    "capteesys": lambda: SysCapture(tee=True),
    "capfd": FdCapture,
    "capfdbinary": lambda: FdCapture(binary=True),
    "recwarn": WorkerWarnings,
}


def worker_values(
    testargs: Mapping[str, Any], kind: str, iterations: int, index_names: frozenset[str]
) -> dict[str, WorkerValue]:
    """Return the fixtures among *testargs* that each worker makes for itself, by name.

    :param index_names: The index fixtures the plugin defines in this session (pytest-run-parallel's
        names only when that plugin is not loaded: then they are its values, left alone).
    """
    values: dict[str, WorkerValue] = {}
    for name, value in testargs.items():
        if name in ("tmp_path", "tmpdir"):
            legacy = None if name == "tmp_path" else type(value)
            values[name] = TmpPath(str(Path(str(value))), legacy, iterations)
        elif name in index_names:
            values[name] = IndexValue(INDEX_FIXTURES[name])
        elif kind == "process" and name in _PROCESS_ONLY:
            values[name] = _PROCESS_ONLY[name]()
    return values


class Body:
    """A test's body as one worker runs it.

    :ivar function: The test function (or a unittest test method, with its instance).
    :ivar values: Fixtures the worker makes for itself, by argument name.
    :ivar workers: How many workers run the body.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        values: Mapping[str, WorkerValue],
        workers: int,
        instance: object = None,
    ) -> None:
        self.function = function
        self.values = dict(values)
        self.workers = workers
        self.instance = instance

    def __call__(self, worker: int, **testargs: Any) -> Any:
        __tracebackhide__ = True
        started: list[WorkerValue] = []
        try:
            # Most tests have no value of the worker's own: they skip the iteration lookup.
            if self.values:
                iteration = iteration_index()
                for name, value in self.values.items():
                    testargs[name] = value.start(worker, iteration, self.workers)
                    started.append(value)
            if self.instance is not None:
                return self.function(self.instance, **testargs)
            return self.function(**testargs)
        finally:
            for value in reversed(started):
                value.stop()
