"""Who am I: threads share their process's pid, processes each have their own, and a parent.

Every thread reports the caller's ``os.getpid()`` and a thread ident of its own; every process
reports a pid of its own. ``threading.get_ident()`` is unique only inside one process (forked
processes often share their main thread's), so workers are told apart by ``native_id``, the
operating system's thread id. ``multiprocess.parent_process().pid`` names the process that started a
worker under every start method, while ``os.getppid()`` names whoever forked it: the caller under
``fork`` and ``spawn``, but the fork server under ``forkserver`` (the default on Linux from
Python 3.14).

What the blog post got wrong: its "print getpid() and getppid() of five children" demo assumes
``getppid()`` is the script's pid, which stops being true under ``forkserver``, and it presents
the printed order as fixed; here each worker sends its answer back, so the order of output is
not part of the lesson.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import multiprocess

from concur_lab import Mode, run_outcomes, worker_index
from concur_lab._i18n import N_, gettext, ngettext
from concur_lab.demos._support import WAIT, SpanRecorder, values, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "pid-report"
TITLE = N_("Who am I: pid, ppid and parent_process()")
THEME = "basics"
ORDER = 10
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "Threads share one pid, processes have their own; parent_process() names the real parent, "
    "getppid() may name the fork server"
)


def _whoami() -> dict[str, Any]:
    """Return what this worker knows about itself and its parent."""
    parent = multiprocess.parent_process()
    return {
        "index": worker_index(),
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "parent_process_pid": None if parent is None else parent.pid,
        "thread_ident": threading.get_ident(),
        "native_id": threading.get_native_id(),
    }


def _describe_pid(pid: int, caller: int) -> str:
    if pid == caller:
        return N_("the caller")
    if pid == os.getppid():
        return N_("the caller's own parent")
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except OSError:
        return N_("another process")
    return N_("the fork server") if b"forkserver" in cmdline else N_("another process")


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Ask *workers* workers (default 5) who they are.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers (default 5, as in the blog post).
    :returns: The caller's pid, each worker's answer, and what they have in common.
    """
    n = worker_count(workers, 5)
    caller = os.getpid()
    spans = SpanRecorder()
    outcomes = run_outcomes(_whoami, n, mode=mode, timeout=4 * WAIT)
    reports = values(outcomes)
    spans.add_outcomes(outcomes, "whoami")
    ppids = {_describe_pid(r["ppid"], caller) for r in reports}
    parents = {r["parent_process_pid"] for r in reports}
    result: dict[str, Any] = {
        "caller_pid": caller,
        "workers": reports,
        "distinct_pids": len({r["pid"] for r in reports}),
        "same_pid_as_caller": sum(r["pid"] == caller for r in reports),
        # native_id is the operating system's thread id, unique on the whole machine, so the
        # learner can check the count in the rows; thread_ident is unique only inside one
        # process, and forked processes often share their main thread's.
        "distinct_native_ids": len({r["native_id"] for r in reports}),
        "getppid_is": sorted(ppids),
        "parent_process_is": sorted(
            "None (no parent process: the workers run inside the caller)"
            if p is None
            else _describe_pid(p, caller)
            for p in parents
        ),
        "timeline": spans.sorted(),
    }
    if len({r["thread_ident"] for r in reports}) < n:
        result["thread_ident_is"] = (
            "the same in several workers: threading.get_ident() is unique only inside one "
            "process; the native id, the system's thread id, is unique on the machine"
        )
    if mode.kind == "process":
        result["varies"] = N_(
            "with the start method: getppid() is the caller under fork and spawn, "
            "the fork server under forkserver; parent_process() is the caller under all three"
        )
    result["summary"] = ngettext(
        "{n} workers in {count} process; getppid() names {names}",
        "{n} workers in {count} processes; getppid() names {names}",
        result["distinct_pids"],
    ).format(
        n=n, count=result["distinct_pids"],
        names=gettext(" and ").join(gettext(name) for name in result["getppid_is"]),
    )
    return result
