"""An exception in a worker never reaches the code that started it, unless you carry it there.

In a thread, an uncaught exception goes to ``threading.excepthook``, which prints it; ``join()``
returns normally and the caller learns nothing, and ``sys.exit()`` in a thread is ignored
silently. In a process, the traceback goes to the child's stderr and only ``exitcode`` (1, or the
code given to ``sys.exit()``) tells the parent. The fix is a channel back to the caller: a
``Future`` whose ``result()`` re-raises, or :func:`concur_lab.run_workers`, which re-raises the
worker's own exception (its original type) with a note naming the worker, in both modes.
"""

from __future__ import annotations

import sys
from typing import Any

from concur_lab import Mode, run_outcomes
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import (
    WAIT,
    Kit,
    describe,
    scratch_file,
    thread_exceptions,
    worker_count,
)

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "exceptions"
TITLE = N_("Exceptions in workers")
THEME = "lifecycle"
ORDER = 200
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_("A worker's exception is printed, not raised: join() succeeds; carry it back yourself")


def _fail(how: str) -> None:
    if how == "raise":
        raise ValueError("bad input 3")
    sys.exit(3)


def _fail_with_stderr(how: str, stderr_path: str | None) -> None:
    # In a process, send the child's stderr (where the traceback is printed) to a file we read.
    if stderr_path is not None:
        # Left open on purpose: the process flushes and closes it as it exits.
        sys.stderr = open(stderr_path, "w", encoding="utf-8")  # noqa: SIM115
    _fail(how)


def _plain(kit: Kit, how: str) -> dict[str, Any]:
    # The broken way: a plain Thread or Process, then join() and look at what is left.
    with scratch_file() as path, thread_exceptions() as hooked:
        worker = kit.worker(_fail_with_stderr, how, None if kit.threads else path, name="failing")
        worker.start()
        worker.join(WAIT)
        alive = worker.is_alive()
        exitcode = getattr(worker, "exitcode", None)
        if not kit.threads:
            if alive:
                worker.kill()
                worker.join(WAIT)
            worker.close()
        with open(path, encoding="utf-8") as f:
            stderr = [line for line in f.read().splitlines() if line.strip()]
    return {
        "join_returned": not alive,
        "exitcode": exitcode,
        "excepthook_saw": hooked,
        "stderr_first_last": [stderr[0], stderr[-1]] if stderr else [],
    }


def _engine(mode: Mode, how: str) -> dict[str, Any]:
    # The fix: the engine ships the exception back and re-raises it in the caller.
    (outcome,) = run_outcomes(_fail, 1, mode=mode, args=(how,), timeout=WAIT)
    error = outcome.error
    return {
        "status": outcome.status,
        "raised_in_caller": None if error is None else describe(error),
        "note": None if error is None else getattr(error, "__notes__", [None])[-1],
        "exitcode": outcome.exitcode,
    }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let a worker raise ``ValueError``, another call ``sys.exit(3)``; plainly and via the engine.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs one worker at a time.
    :returns: For each failure: what a plain Thread/Process left behind (join result, exit
        code, what ``threading.excepthook`` saw, the first and last line of the child's stderr)
        and what the caller gets from :func:`concur_lab.run_outcomes` (the fix).
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    plain_raise = _plain(kit, "raise")
    plain_exit = _plain(kit, "exit")
    fixed_raise = _engine(mode, "raise")
    if kit.threads:
        summary = gettext("the caller never sees the error: join() returns as usual")
    else:
        summary = gettext(
            "the caller sees only exit code {code} ({exit_code} after sys.exit(3)); the "
            "traceback is printed by the child"
        ).format(code=plain_raise["exitcode"], exit_code=plain_exit["exitcode"])
    return {
        "plain_raise": plain_raise,
        "plain_sys_exit": plain_exit,
        "engine_raise": fixed_raise,
        "summary": summary + gettext("; run_workers raises it again in the caller"),
    }
