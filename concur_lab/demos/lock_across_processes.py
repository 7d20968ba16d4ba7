"""A ``threading.Lock`` does not lock across processes; a ``multiprocess`` Lock does.

Threads share one ``threading.Lock``, so while one worker holds it another is refused.
Processes each get a lock of their own, so the second takes "the" lock while the first holds it:
no mutual exclusion, and no error to warn you. A lock made by the process context
(``ctx.Lock()``, a named semaphore) excludes across processes and threads.

Details: one worker takes a lock and holds it; a second tries to take it without waiting. Under
``fork`` each process has a copy made with its memory; under ``spawn`` and ``forkserver``
``multiprocess`` (dill) builds a new lock from the pickle, while the standard library's
``multiprocessing`` refuses in ``start()``: ``TypeError: cannot pickle '_thread.lock' object``,
which the demo observes in a fresh interpreter.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import multiprocess

from concur_lab import Mode, default_start_method
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, stdlib_start, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "lock-across-processes"
TITLE = N_("threading.Lock does not cross processes")
THEME = "hazards"
ORDER = 10
FIXED_WORKERS = 2
"""The demo always uses 2 workers (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Each process gets its own copy of a threading.Lock, so it excludes nobody; "
    "use the context's Lock"
)

KINDS = ("threading.Lock", "multiprocess Lock")


def _holder(locks: list[Any], held: list[Any], probed: list[Any], inbox: Any) -> None:
    """Take each lock in turn and hold it until the prober has tried it."""
    for lock, is_held, was_probed in zip(locks, held, probed, strict=True):
        got = lock.acquire(timeout=WAIT)
        is_held.set()
        was_probed.wait(WAIT)
        if got:
            lock.release()
    inbox.put(("holder", None))


def _prober(locks: list[Any], held: list[Any], probed: list[Any], inbox: Any) -> None:
    """While the holder holds each lock, try to take it without waiting."""
    results = []
    for lock, is_held, was_probed in zip(locks, held, probed, strict=True):
        is_held.wait(WAIT)
        got = lock.acquire(False)  # positional: threading says blocking=, multiprocess block=
        if got:
            lock.release()
        results.append(got)
        was_probed.set()
    inbox.put(("prober", results))


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Hold a ``threading.Lock`` and a ``multiprocess`` Lock in one worker, probe from another.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs exactly two workers, a holder and a prober.
    :returns: Per lock kind whether the prober took the lock while the holder held it.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    # Thread mode has no start method; any context's Lock works across threads, so take the
    # platform's default explicitly.
    ctx = kit.ctx or multiprocess.get_context(default_start_method())
    locks = [threading.Lock(), ctx.Lock()]
    held = [kit.Event() for _ in KINDS]
    probed = [kit.Event() for _ in KINDS]
    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        for role in (_holder, _prober):
            crew.start(role, locks, held, probed, inbox, name=role.__name__.strip("_"))
        reports = dict(inbox.collect(2, watch=crew.handles))
    taken = reports["prober"]
    result: dict[str, Any] = {
        kind: {
            "second_worker_took_it_while_held": got,
            "mutual_exclusion": not got,
        }
        for kind, got in zip(KINDS, taken, strict=True)
    }
    if mode.kind == "process":
        result["threading.Lock"]["how_each_process_got_it"] = (
            "copied with the memory at fork"
            if mode.start_method == "fork"
            else "rebuilt from a pickle (dill) as a new lock"
        )
        result["stdlib_multiprocessing_lock_argument"] = stdlib_start("lock")
        result["varies"] = N_(
            "Depends on the library and start method: fork copies the lock with the memory; "
            "under spawn and forkserver multiprocess (dill) rebuilds a new lock, while the "
            "standard library's multiprocessing raises TypeError in start()."
        )
    result["summary"] = gettext("; ").join(
        (
            gettext("{kind} keeps the others out")
            if result[kind]["mutual_exclusion"]
            else gettext("{kind} does not keep the others out")
        ).format(kind=kind)
        for kind in KINDS
    )
    return result
