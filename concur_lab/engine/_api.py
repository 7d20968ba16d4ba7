"""Run a callable in N workers of a mode: the one entry point the demos, CLI and plugin share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from concur_lab.engine._iterations import iterated
from concur_lab.engine._modes import Mode
from concur_lab.engine._outcome import WorkerOutcome, raise_for_outcomes
from concur_lab.engine._run_plan import DEFAULT_GRACE, Plan, make_plan
from concur_lab.engine._threads import run_threads

__all__ = ["map_workers", "run_outcomes", "run_workers"]

T = TypeVar("T")


def run_outcomes(
    target: Callable[..., T],
    n: int | None = None,
    *,
    mode: Mode | str = "thread",
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    worker_args: Iterable[Sequence[Any]] | None = None,
    timeout: float | None = None,
    iterations: int = 1,
    grace: float = DEFAULT_GRACE,
    switch_interval: float | None = None,
) -> list[WorkerOutcome[T]]:
    """Run *target* in *n* workers of *mode* and return every worker's outcome, in worker order.

    Workers wait at a start gate so that they begin together.
    Nothing a worker does makes this raise: exceptions, crashes, hangs and failed starts are all
    recorded in the outcomes (see :func:`raise_for_outcomes`).
    On return every worker process has been joined and every worker thread has ended, except
    threads reported as still running at the deadline.

    :param target: What each worker calls, as ``target(*args, *worker_args[i], **kwargs)``.
    :param n: How many workers (default 4, or the length of *worker_args*).
    :param mode: A :class:`Mode` or a string :meth:`Mode.parse` accepts: ``"thread"``,
        ``"process"``, ``"process:spawn"``...
    :param args: Positional arguments for every worker.
    :param kwargs: Keyword arguments for every worker.
    :param worker_args: One tuple of extra positional arguments per worker.
    :param timeout: Seconds the whole run may take; ``None`` waits for ever.
    :param iterations: How many times each worker calls *target*; all workers meet at a barrier
        before each iteration, :func:`iteration_index` tells which one is running, and a worker's
        value is its last call's. A worker that raises ends the run's iterations: the others
        stop after their current one.
    :param grace: In process mode, seconds a worker still running at the deadline is given to
        write its stack, and then again to end after ``SIGTERM`` before it is killed (default
        1). Threads cannot be stopped, so thread mode has no use for it.
    :param switch_interval: Thread mode only: :func:`sys.setswitchinterval` while the targets
        run, from the moment the workers pass the start gate until the run ends (put back also
        after a failure or a timeout). A small value, such as ``1e-6``, makes short targets
        interleave instead of running one after the other under the GIL, so races show.
    :raises SendError: If the target or an argument cannot be sent to a worker process.
    :raises ModeError: If *mode* is unknown or names a start method the platform lacks.
    :raises TypeError: If an argument has the wrong type.
    :raises ValueError: If *n*, *timeout*, *grace* or *switch_interval* is out of range, or
        *switch_interval* is given for a process run.
    """
    plan = make_plan(
        target,
        n,
        mode=mode,
        args=args,
        kwargs=kwargs,
        worker_args=worker_args,
        timeout=timeout,
        grace=grace,
        switch_interval=switch_interval,
    )
    if isinstance(iterations, bool) or not isinstance(iterations, int):
        raise TypeError(
            f"iterations must be an int, not {type(iterations).__name__} {iterations!r}"
        )
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1 (got iterations={iterations})")
    if iterations == 1:
        return _run(plan)
    wrapped = iterated(plan.target, iterations, plan.n, plan.mode)
    plan.target = wrapped
    try:
        return _run(plan)
    finally:
        wrapped.close()


def _run(plan: Plan) -> list[WorkerOutcome[Any]]:
    if plan.mode.kind == "thread":
        return run_threads(plan)
    # Imported on first use: it brings dill and multiprocess, which thread-mode runs never need,
    # nor the plugin, which every pytest session where it is installed imports.
    from concur_lab.engine._processes import run_processes

    return run_processes(plan)


def run_workers(
    target: Callable[..., T],
    n: int | None = None,
    *,
    mode: Mode | str = "thread",
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    worker_args: Iterable[Sequence[Any]] | None = None,
    timeout: float | None = None,
    iterations: int = 1,
    grace: float = DEFAULT_GRACE,
    switch_interval: float | None = None,
) -> list[T]:
    """Run *target* in *n* workers of *mode* and return their return values, in worker order.

    Arguments are those of :func:`run_outcomes`.
    If one worker failed, its own exception is raised (its original type, so
    ``pytest.raises(ValueError)`` works) with a note naming the worker; if several failed, a
    :class:`BaseExceptionGroup` with one entry per failed worker.
    A crash raises :class:`WorkerCrashed`, a hang :class:`WorkerTimeout`, a failed start
    :class:`WorkerStartError`.

    >>> run_workers(pow, 3, args=(2, 10))
    [1024, 1024, 1024]
    """
    outcomes = run_outcomes(
        target,
        n,
        mode=mode,
        args=args,
        kwargs=kwargs,
        worker_args=worker_args,
        timeout=timeout,
        iterations=iterations,
        grace=grace,
        switch_interval=switch_interval,
    )
    raise_for_outcomes(outcomes)
    return [o.value for o in outcomes]  # type: ignore[misc]


def map_workers(
    target: Callable[[Any], T],
    items: Iterable[Any],
    *,
    mode: Mode | str = "thread",
    timeout: float | None = None,
    grace: float = DEFAULT_GRACE,
) -> list[T]:
    """Call ``target(item)`` in one worker per item, all at once, and return the results in order.

    Failures raise as in :func:`run_workers`.

    >>> map_workers(abs, [-1, 2, -3])
    [1, 2, 3]
    """
    return run_workers(
        target, mode=mode, worker_args=[(item,) for item in items], timeout=timeout, grace=grace
    )
