"""The object behind the ``spawn_workers`` fixture: the engine bound to the test's mode."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from pytest_concur._engine import (
    Mode,
    WorkerOutcome,
    raise_for_outcomes,
    reemit_warnings,
    run_outcomes,
)

__all__ = ["WorkerSpawner"]

T = TypeVar("T")


class WorkerSpawner:
    """Run callables in workers of one test's mode (the ``spawn_workers`` fixture).

    ``spawn_workers(target, n=None, args=(), kwargs=None, timeout=None)`` runs ``target`` in *n*
    workers and returns their return values in worker order; a failure raises as
    :func:`concur_lab.run_workers` does (one failed worker: its own exception; several: an
    exception group). :meth:`outcomes` returns every worker's outcome instead of raising, and
    :meth:`map` runs one worker per item of an iterable.

    *n* defaults to ``--concur-workers``; *timeout* to ``--concur-timeout`` (``0`` for none).
    The spawner can be sent to process workers, so it also works inside a ``concur``-marked test.

    :ivar mode: The mode workers run in.
    :ivar workers: The default number of workers.
    :ivar timeout: The default timeout in seconds, or ``None`` for none.
    """

    def __init__(self, mode: Mode, workers: int, timeout: float | None) -> None:
        self.mode = mode
        self.workers = workers
        self.timeout = timeout
        # Outcomes of the runs started here: the leak check needs to know which hung workers
        # were already reported. Parent-only; never sent to workers.
        self.history: list[WorkerOutcome[Any]] = []

    def __getstate__(self) -> dict[str, Any]:
        return {"mode": self.mode, "workers": self.workers, "timeout": self.timeout}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["mode"], state["workers"], state["timeout"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"<spawn_workers mode={self.mode.label} workers={self.workers}>"

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return self.timeout
        return timeout or None

    def outcomes(
        self,
        target: Callable[..., T],
        n: int | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        *,
        worker_args: Iterable[Sequence[Any]] | None = None,
    ) -> list[WorkerOutcome[T]]:
        """Run *target* in *n* workers and return every worker's outcome; never raise for them.

        :param target: Called as ``target(*args, *worker_args[i], **kwargs)`` in each worker.
        :param n: How many workers (default: ``--concur-workers``, or ``len(worker_args)``).
        :param args: Positional arguments for every worker.
        :param kwargs: Keyword arguments for every worker.
        :param timeout: Seconds for the whole run (default ``--concur-timeout``; ``0``: none).
        :param worker_args: One tuple of extra positional arguments per worker.
        :returns: One :class:`concur_lab.WorkerOutcome` per worker, in worker order.
        :raises concur_lab.SendError: If *target* or an argument cannot reach process workers.
        :raises Warning: If the test's warning filters turn a warning a process worker recorded
            into an error (warnings are issued again in the test, see
            :func:`concur_lab.reemit_warnings`).
        """
        if n is None and worker_args is None:
            n = self.workers
        outcomes = run_outcomes(
            target,
            n,
            mode=self.mode,
            args=args,
            kwargs=kwargs,
            worker_args=worker_args,
            timeout=self._timeout(timeout),
        )
        self.history.extend(outcomes)
        # What process workers warned, issued again here under the test's filters, so that
        # pytest's warnings summary shows it as it shows thread workers' warnings.
        reemit_warnings(outcomes)
        return outcomes

    def __call__(
        self,
        target: Callable[..., T],
        n: int | None = None,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> list[T]:
        """Run *target* in *n* workers and return their return values in worker order.

        Arguments are those of :meth:`outcomes`.

        :raises BaseException: The failed worker's own exception, or an exception group when
            several failed; :class:`concur_lab.WorkerCrashed` / :class:`concur_lab.WorkerTimeout`
            for a crash or a hang.
        """
        outcomes = self.outcomes(target, n, args, kwargs, timeout)
        raise_for_outcomes(outcomes)
        return [o.value for o in outcomes]  # type: ignore[misc]

    def map(
        self, target: Callable[[Any], T], items: Iterable[Any], timeout: float | None = None
    ) -> list[T]:
        """Call ``target(item)`` in one worker per item, all at once; return results in order.

        :raises BaseException: As :meth:`__call__` does.
        """
        worker_args = [(item,) for item in items]
        if not worker_args:
            return []
        outcomes = self.outcomes(target, worker_args=worker_args, timeout=timeout)
        raise_for_outcomes(outcomes)
        return [o.value for o in outcomes]  # type: ignore[misc]
