"""Which worker is running, and which iteration: the current worker's indexes, in both modes."""

from __future__ import annotations

import threading

__all__ = ["iteration_index", "worker_index"]


class _ThreadWorker(threading.local):
    index: int | None = None
    iteration: int | None = None


_thread_worker = _ThreadWorker()
# Set once in a worker process by its bootstrap; threads the worker starts belong to it too.
_process_worker_index: int | None = None
_process_iteration: int | None = None


def worker_index() -> int:
    """Return the index (0 to n-1) of the worker that calls this.

    Works in both modes: in a worker thread it is that thread's index, in a worker process (and in
    threads that process starts) it is the process's index.
    The modes differ for threads a worker starts: in process mode they belong to the worker's
    process and get its index, but in thread mode the index is per thread, so a thread started
    by a worker thread is outside any worker and gets the :exc:`RuntimeError` (pass the index
    to it as an argument instead).

    :raises RuntimeError: If called outside a worker.
    """
    index = _thread_worker.index
    if index is None:
        index = _process_worker_index
    if index is None:
        raise RuntimeError("worker_index() was called outside a concur_lab worker")
    return index


def _set_thread_worker(index: int | None) -> None:
    _thread_worker.index = index


def _set_process_worker(index: int) -> None:
    global _process_worker_index
    _process_worker_index = index
    # A process forked from a worker thread inherits that thread's local data.
    _thread_worker.index = None
    _thread_worker.iteration = None


def iteration_index() -> int:
    """Return the iteration (0 to iterations-1) the calling worker is in.

    Runs started with ``iterations=N`` (:func:`~concur_lab.run_outcomes`, or the plugin's
    ``--concur-iterations``) call each worker's target N times; a run without it has one
    iteration, 0. Threads a process worker starts see its iteration, as for
    :func:`worker_index`.

    :raises RuntimeError: If called outside a worker.
    """
    iteration = _thread_worker.iteration
    if iteration is None:
        iteration = _process_iteration
    if iteration is not None:
        return iteration
    worker_index()  # raises outside a worker
    return 0


def _set_iteration(iteration: int | None) -> None:
    global _process_iteration
    if _thread_worker.index is not None:
        _thread_worker.iteration = iteration
    else:
        _process_iteration = iteration
