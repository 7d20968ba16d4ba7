"""The rules of ``join()``: when it may be called, by whom, and what a timeout tells you.

A worker can be joined only after ``start()``; a thread cannot join itself and a process can be
joined only by the process that created it. ``join(timeout)`` returns ``None`` whether or not the
worker ended, so the only reliable pattern is "join with a timeout, then check ``is_alive()``"
(it also keeps a test from hanging); joining a finished worker again is harmless.

What the blog post got wrong: "join() only works on a started process" is true, but for
processes it is an ``assert`` (``AssertionError: can only join a started process``, or an
``AttributeError`` under ``python -O``), while threads raise ``RuntimeError``; and it leaves out
that only the creating process may join.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from typing import Any

import multiprocess

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import PROBE, WAIT, Kit, attempt, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "join-rules"
TITLE = N_("The rules of join()")
THEME = "lifecycle"
ORDER = 10
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Joining needs a started worker and (processes) its creator; join(timeout) returns None "
    "either way, so check is_alive()"
)


def _self_join(inbox: Any, go: Any, threads: bool) -> None:
    """Try to join the current worker from inside it, report, then wait for the go signal."""
    me = threading.current_thread() if threads else multiprocess.current_process()
    inbox.put(attempt(me.join, PROBE))
    go.wait(WAIT)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Break each rule of ``join()`` once in *mode* and record what happens.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: one worker is enough.
    :returns: Observations: joining before start, from inside the worker, with a timeout while the
        worker runs, after it ended, twice, and (processes) after ``close()``.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    go = kit.Event()
    result: dict[str, Any] = {"optimized": bool(sys.flags.optimize)}
    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        worker = crew.adopt(kit.worker(_self_join, inbox, go, kit.threads, name="join-demo"))
        result["before_start"] = attempt(worker.join)
        worker.start()
        result["from_inside"] = inbox.get(watch=[worker])
        # The worker now waits for `go`: a join with a timeout comes back with it still running.
        returned = worker.join(PROBE)
        result["timeout_while_running"] = {
            "returned": returned,
            "is_alive": worker.is_alive(),
            "exitcode": getattr(worker, "exitcode", "no such attribute"),
        }
        go.set()
        worker.join(WAIT)
        result["after_end"] = {
            "is_alive": worker.is_alive(),
            "exitcode": getattr(worker, "exitcode", "no such attribute"),
        }
        result["join_again"] = attempt(worker.join, WAIT)
        if not kit.threads:
            worker.close()
            result["after_close"] = attempt(worker.join)
    result["summary"] = _summary(result)
    result["varies"] = N_(
        "Depends on python -O for processes: joining one that was never started, or one that "
        "is not yours, is checked by an assert, which -O strips; threads raise RuntimeError."
    )
    return result


def _summary(result: dict[str, Any]) -> str:
    before = result["before_start"].get("raised", gettext("no error"))
    inside = result["from_inside"].get("raised", gettext("no error"))
    alive = result["timeout_while_running"]["is_alive"]
    still = gettext("still running") if alive else gettext("finished")
    return gettext(
        "join() before start() raises {before}; joining itself raises {inside}; "
        "after join(timeout) the worker is {still}"
    ).format(before=before, inside=inside, still=still)
