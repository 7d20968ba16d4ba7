"""``threading.local`` and context variables give each thread what each process has anyway.

Threads share a plain global, so they all read the last writer's value, while a thread-local
and a context variable keep one value per thread. Processes keep all three private.

Details: workers read three things the caller has set (a plain module global, a ``threading.local``
attribute and a ``ContextVar``), set their own values, wait for each other and read again; a new
thread starts without the caller's values. A ``fork`` child is a copy of the thread that forked, so
it starts *with* the caller's thread-local and context values; ``spawn`` and ``forkserver``
children start from a fresh import. On free-threaded 3.14 builds new threads inherit the caller's
context (``sys.flags.thread_inherit_context``).
"""

from __future__ import annotations

import sys
import threading
from contextvars import ContextVar
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "thread-local"
TITLE = N_("Thread-local data and context variables")
THEME = "sharing"
ORDER = 90
LESSON = N_(
    "Both threading.local and ContextVar make per-thread state; processes have it by default"
)

UNSET = "unset"
"""What a worker reads where nothing was set."""

_plain: dict[str, str] = {"value": UNSET}
_local = threading.local()
_context: ContextVar[str] = ContextVar("concur_lab_request", default=UNSET)


def _read() -> dict[str, str]:
    return {
        "plain": _plain["value"],
        "local": getattr(_local, "value", UNSET),
        "context": _context.get(),
    }


def _worker(index: int, barrier: Any, inbox: Any) -> None:
    before = _read()
    mine = f"worker-{index}"
    _plain["value"] = mine
    _local.value = mine
    _context.set(mine)
    barrier.wait()  # every worker has written before any reads again
    inbox.put((index, before, _read()))


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Set all three in the caller, run *workers* (default 3) workers, compare what they read.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers.
    :returns: Observations: what the workers read before writing (the caller's value or
        ``"unset"``), whether each read back its own value after all had written, and what the
        caller reads afterwards.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 3)
    kit = Kit.of(mode)
    barrier, inbox = kit.Barrier(n), kit.inbox()
    _plain["value"] = "caller"
    _local.value = "caller"
    token = _context.set("caller")
    try:
        with kit.workers() as crew:
            handles = [crew.start(_worker, i, barrier, inbox, name=f"w{i}") for i in range(n)]
            reports = sorted(inbox.collect(n, WAIT, watch=handles))
        caller_after = _read()
    finally:
        _plain["value"] = UNSET
        del _local.value
        _context.reset(token)
        inbox.close()
    kinds = ("plain", "local", "context")
    before = {k: sorted({r[1][k] for r in reports}) for k in kinds}
    own = {k: all(r[2][k] == f"worker-{r[0]}" for r in reports) for k in kinds}
    private = [k for k in kinds if own[k]]
    shared = [k for k in kinds if not own[k]]
    start = (
        gettext("a copy of the caller's values")
        if before["local"] == ["caller"]
        else gettext("nothing set")
    )
    summary = gettext("each worker starts with {start}; its own: {own}").format(
        start=start, own=_names(private)
    )
    if shared:
        summary += gettext("; shared by all: {shared}").format(shared=_names(shared))
    return {
        "workers": n,
        "seen_before_writing": before,
        "kept_own_value": own,
        "plain_after_all_wrote": sorted({r[2]["plain"] for r in reports}),
        "caller_after": caller_after,
        "thread_inherit_context": bool(getattr(sys.flags, "thread_inherit_context", False)),
        "summary": summary,
        "varies": N_(
            "Depends on the start method (fork children start as a copy of the calling "
            "thread) and, for threads, on sys.flags.thread_inherit_context (on by default on "
            "free-threaded 3.14+): then new threads start with a copy of the caller's context."
        ),
    }


_KIND_NAMES = {
    "plain": N_("a plain global"), "local": "threading.local", "context": N_("a ContextVar")
}


def _names(kinds: list[str]) -> str:
    return gettext(", ").join(gettext(_KIND_NAMES[kind]) for kind in kinds) or gettext("none")
