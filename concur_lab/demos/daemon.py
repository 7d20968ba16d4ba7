"""Daemon workers: what ``daemon=True`` means for threads and for processes.

A daemonic process may not start child processes (``AssertionError: daemonic processes are not
allowed to have children``): at the parent's exit daemons are terminated, and their children
would be left behind as orphans. A daemon thread may start threads freely. At exit both kinds of
daemon die without running their ``finally`` blocks (the thread abruptly, the process by
SIGTERM from the parent's exit handler), while non-daemonic workers are waited for.

What the blog post got wrong: "a daemon process cannot create children" holds only for
``multiprocessing`` children and only as an ``assert``: under ``python -O`` the check vanishes,
and ``os.fork()`` or ``subprocess`` are never checked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from typing import Any

import multiprocess

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, attempt, proc_stat, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "daemon"
TITLE = N_("Daemon threads and daemon processes")
THEME = "lifecycle"
ORDER = 50
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Daemonic processes may not have children, daemon threads may; "
    "at exit daemons die without running finally"
)


def _noop() -> None:
    """Do nothing: the grandchild's whole job is to be started."""


def _try_children(inbox: Any, method: str | None) -> None:
    """Try to start a child of the current worker and report how it went."""
    if method is None:
        child: Any = threading.Thread(target=_noop)
    else:
        child = multiprocess.get_context(method).Process(target=_noop)
    report: dict[str, Any] = {"child_daemon_by_default": child.daemon}
    started = attempt(child.start)
    if "raised" not in started:
        child.join(WAIT)
        started = {"started": True}
        if method is not None:
            started["exitcode"] = child.exitcode
    report["start_child"] = started
    if method is not None and hasattr(os, "fork"):
        report["os_fork_allowed"] = _fork_and_reap()
    inbox.put(report)


def _fork_and_reap() -> bool:
    """Fork directly: the daemon rule is an assert in ``Process.start()``, nothing more."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let a daemonic and a non-daemonic worker start children; then watch daemons at exit.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: one worker per case.
    :returns: ``{"daemonic", "non_daemonic", "at_exit", "optimized", "summary"}``.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    result: dict[str, Any] = {"optimized": bool(sys.flags.optimize)}
    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        for key, daemon in (("daemonic", True), ("non_daemonic", False)):
            worker = crew.start(_try_children, inbox, mode.start_method, daemon=daemon)
            result[key] = inbox.get(watch=[worker])
    result["at_exit"] = _at_exit(mode)
    result["summary"] = _summary(result)
    result["varies"] = N_(
        "Depends on python -O: the check that a daemonic process starts no children of its own "
        "is an assert, which -O strips."
    )
    return result


# What happens at exit can only be seen from outside: run a small program and read its output.
_EXIT_SCENE = (
    "from concur_lab.demos.daemon import _exit_scene\n"
    "if __name__ == '__main__':\n"
    "    _exit_scene({method!r})\n"
)


def _at_exit_worker(label: str, ready: Any, linger: float) -> None:
    """Signal *ready*, linger, and say so in ``finally`` (if it gets to run)."""
    try:
        ready.set()
        time.sleep(linger)
    finally:
        print(f"finally ran: {label}", flush=True)


def _exit_scene(method: str | None) -> None:
    """Start a daemon and a non-daemon worker, then let the interpreter exit under them."""
    kit = Kit.of(Mode.thread() if method is None else Mode.process(method))
    for label, daemon, linger in (("daemon", True, WAIT), ("non-daemon", False, 0.05)):
        ready = kit.Event()
        worker = kit.worker(_at_exit_worker, label, ready, linger, daemon=daemon)
        worker.start()
        ready.wait(WAIT)
        if daemon and method is not None:
            print(f"daemon pid: {worker.pid}", flush=True)
    print("main: exiting", flush=True)


def _at_exit(mode: Mode) -> dict[str, Any]:
    code = _EXIT_SCENE.format(method=mode.start_method)
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=4 * WAIT,
        check=False,
    )
    lines = done.stdout.splitlines()
    observed: dict[str, Any] = {
        "returncode": done.returncode,
        "daemon_finally_ran": "finally ran: daemon" in lines,
        "non_daemon_finally_ran": "finally ran: non-daemon" in lines,
    }
    pids = [int(line.split(":")[1]) for line in lines if line.startswith("daemon pid:")]
    if pids:
        observed["daemon_alive_after_exit"] = proc_stat(pids[0]) is not None
    return observed


def _summary(result: dict[str, Any]) -> str:
    start = result["daemonic"]["start_child"]
    child = (
        gettext("refused ({error})").format(error=start["raised"])
        if "raised" in start
        else gettext("allowed")
    )
    at_exit = result["at_exit"]

    def ran(flag: object) -> str:
        return gettext("ran") if flag else gettext("did not run")

    return gettext(
        "a daemon starting a child: {child}; at exit, a daemon's finally {daemon}, "
        "a non-daemon's {other}"
    ).format(
        child=child, daemon=ran(at_exit["daemon_finally_ran"]),
        other=ran(at_exit["non_daemon_finally_ran"]),
    )
