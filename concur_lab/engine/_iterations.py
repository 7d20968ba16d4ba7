"""Run a worker's target several times, every worker meeting the others before each iteration.

A race that shows once in a thousand runs needs many runs; ``iterations=N`` gives them without
paying N times for starting workers. Iteration 0 begins at the engine's start gate like any run;
before each later iteration every worker waits at a barrier, so the iterations overlap as much as
the first one does.

The barrier lives where the workers are: a :class:`threading.Barrier` for threads, and for
processes two :class:`~concur_lab.SharedCounter` cells (arrivals, and a "broken" flag), which reach
workers under every start method and survive a killed worker (a ``multiprocess`` semaphore held
by a killed process is never released). A worker that raises breaks the barrier, so the others
stop after their current iteration instead of waiting for it until the deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from concur_lab.engine._modes import Mode
from concur_lab.engine._worker_context import _set_iteration

__all__ = ["Iterated", "iterated"]

# A process worker waiting at the barrier polls the arrivals counter; it backs off to this.
_MAX_POLL_SECONDS = 0.002


class BarrierBroken(Exception):
    """Another worker failed: stop iterating (never leaves :class:`Iterated`)."""


class _ThreadBarrier:
    def __init__(self, n: int) -> None:
        self._barrier = threading.Barrier(n)

    def wait(self, generation: int) -> None:
        try:
            self._barrier.wait()
        except threading.BrokenBarrierError:
            raise BarrierBroken from None

    def abort(self) -> None:
        self._barrier.abort()

    def close(self) -> None:
        # Threads still waiting (their run timed out) must not wait for ever.
        self._barrier.abort()


class _ProcessBarrier:
    """A reusable barrier over shared counters: generation *g* is passed at ``n * g`` arrivals."""

    def __init__(self, n: int, mode: Mode) -> None:
        from concur_lab.counter._shared_counter import SharedCounter

        self._n = n
        self._arrivals = SharedCounter(mode)
        self._broken = SharedCounter(mode)

    def wait(self, generation: int) -> None:
        self._arrivals.increment()
        goal = self._n * generation
        pause = 0.00005
        while self._arrivals.value < goal:
            if self._broken.value:
                raise BarrierBroken
            time.sleep(pause)
            pause = min(pause * 2, _MAX_POLL_SECONDS)

    def abort(self) -> None:
        self._broken.increment()

    def close(self) -> None:
        self._arrivals.close()
        self._broken.close()


class Iterated:
    """A target called *iterations* times per worker, with a barrier before each later call.

    It returns the last call's value. ``concur_lab.iteration_index()`` tells the target which
    iteration it is in.
    """

    def __init__(
        self, target: Callable[..., Any], iterations: int, barrier: _ThreadBarrier | _ProcessBarrier
    ) -> None:
        self.target = target
        self.iterations = iterations
        self.barrier = barrier

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        value = None
        for iteration in range(self.iterations):
            if iteration:
                try:
                    self.barrier.wait(iteration)
                except BarrierBroken:
                    # Another worker failed; its outcome says so, this one just stops.
                    break
            _set_iteration(iteration)
            try:
                value = self.target(*args, **kwargs)
            except BaseException:
                self.barrier.abort()
                raise
            finally:
                _set_iteration(None)
        return value

    def close(self) -> None:
        """Release what the barrier holds (shared counters of process mode)."""
        self.barrier.close()


def iterated(target: Callable[..., Any], iterations: int, n: int, mode: Mode) -> Iterated:
    """Return *target* wrapped to run *iterations* times in each of *n* workers of *mode*."""
    barrier: _ThreadBarrier | _ProcessBarrier
    barrier = _ThreadBarrier(n) if mode.kind == "thread" else _ProcessBarrier(n, mode)
    return Iterated(target, iterations, barrier)
