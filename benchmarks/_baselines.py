"""What a user would write instead of the engine, and the bare start/join floor.

The targets live at module level so that spawn and forkserver children can import them by name.
"""

from __future__ import annotations

import threading
from typing import Any

import multiprocess

__all__ = [
    "JOIN_TIMEOUT",
    "bare_processes",
    "bare_threads",
    "hand_processes",
    "hand_threads",
    "trivial",
]

# Generous: a shared 2-core machine can stall a child for seconds; a hang still ends.
JOIN_TIMEOUT = 120.0


def trivial() -> int:
    """The work every worker does: nothing measurable, so only the machinery is timed."""
    return 1


def _send_result(conn: Any) -> None:
    conn.send(trivial())
    conn.close()


def hand_threads(n: int) -> list[Any]:
    """*n* threads that wait on one barrier and store their result in a list; all joined."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def work(i: int) -> None:
        barrier.wait(JOIN_TIMEOUT)
        results[i] = trivial()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
    return results


def bare_threads(n: int) -> None:
    """The floor: start and join *n* threads running :func:`trivial`, nothing else."""
    threads = [threading.Thread(target=trivial) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)


def hand_processes(method: str, n: int) -> list[Any]:
    """*n* ``multiprocess`` children of *method*, each sending its result through a Pipe; joined.

    :raises RuntimeError: If a child did not answer in time.
    """
    ctx = multiprocess.get_context(method)
    pipes = [ctx.Pipe(duplex=False) for _ in range(n)]
    procs = [ctx.Process(target=_send_result, args=(w,)) for _, w in pipes]
    try:
        for proc in procs:
            proc.start()
        for _, w in pipes:
            w.close()
        results = []
        for r, _ in pipes:
            if not r.poll(JOIN_TIMEOUT):
                raise RuntimeError("a hand-written benchmark child did not answer in time")
            results.append(r.recv())
            r.close()
    finally:
        for proc in procs:
            proc.join(JOIN_TIMEOUT)
            if proc.is_alive():
                proc.kill()
                proc.join()
    return results


def bare_processes(method: str, n: int) -> None:
    """The floor: start and join *n* ``multiprocess`` children running :func:`trivial`."""
    ctx = multiprocess.get_context(method)
    procs = [ctx.Process(target=trivial) for _ in range(n)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(JOIN_TIMEOUT)
        if proc.is_alive():
            proc.kill()
            proc.join()
