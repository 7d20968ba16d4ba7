"""Forking while another thread holds a lock leaves the child a lock that nobody can release.

``fork`` copies the parent's memory, locked locks included, but only the thread that called it,
so in the child nobody can ever release the lock. The fix: do not fork while other threads run,
or re-create such locks in the child with :func:`os.register_at_fork` (as :mod:`logging` does).

Details: the child's ``acquire()`` would block forever, even after the parent's thread has
released its own copy. ``spawn`` and ``forkserver`` children import the module afresh and get a
new, free lock; threads share the one real lock and simply wait for it. Python 3.12+ warns about
forking a multi-threaded process for exactly this reason.
"""

from __future__ import annotations

import os
import threading
import time
import warnings
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import PROBE, WAIT, Kit, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "fork-with-lock"
TITLE = N_("Forking while another thread holds a lock")
THEME = "hazards"
ORDER = 150
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_("A forked child inherits locked locks whose owner thread does not exist: deadlock")

_PLAIN = threading.Lock()
_FIXED = threading.Lock()


def _renew_fixed_lock() -> None:
    # The fix: a forked child starts with a fresh, free lock (the parent's thread owns the old).
    global _FIXED
    _FIXED = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX only; Windows cannot fork anyway
    os.register_at_fork(after_in_child=_renew_fixed_lock)


def _try(lock: threading.Lock, timeout: float) -> bool:
    got = lock.acquire(timeout=timeout)
    if got:
        lock.release()
    return got


def _probe(probed: Any, released: Any, inbox: Any) -> None:
    # Runs in the worker: try both locks while the parent's holder thread has them, then again
    # after it has let go. Every acquire has a timeout: a False here is "would block forever".
    seen: dict[str, Any] = {}
    seen["while_held"] = {"plain": _try(_PLAIN, PROBE), "fixed": _try(_FIXED, PROBE)}
    probed.set()
    released.wait(WAIT)
    seen["after_release"] = {"plain": _try(_PLAIN, 3 * PROBE), "fixed": _try(_FIXED, 3 * PROBE)}
    inbox.put(seen)


def _hold(held: threading.Event, release: threading.Event) -> None:
    with _PLAIN, _FIXED:
        held.set()
        release.wait(WAIT)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Start a worker while a background thread holds two locks; see whether it can take them.

    One lock is plain (broken under ``fork``), the other is re-created in forked children
    (the fix).

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs exactly one worker.
    :returns: Observations: whether the worker got each lock while the parent's thread held it
        and after that thread released it, whether it would deadlock, and any fork warning.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    held, release = threading.Event(), threading.Event()
    probed, released = kit.Event(), kit.Event()
    inbox = kit.inbox()
    holder = threading.Thread(target=_hold, args=(held, release), name="lock-holder", daemon=True)
    holder.start()
    caught: list[warnings.WarningMessage] = []
    try:
        if not held.wait(WAIT):
            raise RuntimeError("the lock-holder thread did not take the locks")
        with kit.workers() as crew:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                worker = crew.start(_probe, probed, released, inbox, name="prober")
            start = time.monotonic()
            probed.wait(WAIT)
            release.set()
            holder.join(WAIT)
            released.set()
            seen = inbox.get(WAIT, watch=[worker])
            elapsed = time.monotonic() - start
    finally:
        release.set()
        holder.join(WAIT)
        inbox.close()
    fork_warnings = [str(w.message) for w in caught if "fork" in str(w.message)]
    deadlock = not seen["after_release"]["plain"]
    if deadlock:
        summary = (
            gettext(
                "the child's copy of the lock stays held for ever, so the child would hang; "
                "re-creating the lock after the fork works"
            )
            if seen["after_release"]["fixed"]
            else gettext(
                "the child's copy of the lock stays held for ever, so the child would hang; "
                "re-creating the lock after the fork did not work"
            )
        )
    elif not seen["while_held"]["plain"]:
        summary = gettext("the worker waited until the holder let go, then took the lock")
    else:
        summary = gettext("a fresh interpreter has a fresh lock: free at once")
    return {
        "while_held": seen["while_held"],
        "after_release": seen["after_release"],
        "would_deadlock": deadlock,
        "fixed_lock_ok": seen["after_release"]["fixed"],
        "fork_warning": fork_warnings[0] if fork_warnings else None,
        "probe_s": round(elapsed, 3),
        "summary": summary,
        "varies": N_(
            "Depends on the start method: only fork copies a held lock. Python 3.12+ "
            "also warns (DeprecationWarning) when a multi-threaded process forks."
        ),
    }
