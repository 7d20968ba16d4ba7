"""``terminate()`` is forceful: no ``finally``, no lock release, orphaned grandchildren.

``terminate()`` sends SIGTERM and the child dies where it stands: ``finally`` blocks never run, a
lock it held stays held for ever, and its own children are orphaned. Stop workers cooperatively
instead (an event they check), or at least with SIGINT, which raises ``KeyboardInterrupt`` so
clean-up runs; threads have no ``terminate()`` at all.

Details: ``with`` exits do not run either, so anyone waiting for that lock would deadlock. The
orphans are adopted by PID 1 or the nearest subreaper, and the dead child stays a zombie until it
is joined (under ``fork`` and ``spawn``; a fork server reaps its own children).

What the blog post got wrong: "terminate() leaves grandchildren orphaned / zombie" mixes two
things: the grandchildren are orphaned (re-parented), the *terminated child* is the zombie until
joined, and grandchildren become lasting zombies only if their adopter never reaps them (a
container whose PID 1 is not an init). The lock warning is right, and reaches further: queues
have locks too, and an ``Event`` that a killed child was waiting on makes the next ``set()`` hang
for ever (``notify_all`` waits for every sleeper to wake), so this demo never sets those again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from typing import Any

import multiprocess
import multiprocess.connection

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import (
    PROBE,
    WAIT,
    Kit,
    proc_stat,
    subreaper,
    wait_until,
    worker_count,
)

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "terminate"
TITLE = N_("terminate(): locks left held, clean-up skipped, orphans")
THEME = "lifecycle"
ORDER = 40
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Killing with terminate() skips finally, leaves held locks held and orphans grandchildren; "
    "stop workers cooperatively"
)


def _hold_lock(lock: Any, holding: Any, stop: Any, cleaned: Any, interruptible: bool) -> None:
    """Hold *lock* until *stop* is set (bounded), flagging *cleaned* on the way out."""
    if interruptible:
        # SIGINT must raise KeyboardInterrupt here whatever handler the parent had installed,
        # and its traceback is noise, not the observation.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    try:
        with lock:
            holding.set()
            stop.wait(WAIT)
    finally:
        cleaned.set()


def _linger() -> None:
    """Stay alive for a while (bounded) until stopped from outside."""
    time.sleep(WAIT)


def _wait_for(event: Any) -> None:
    event.wait(WAIT)


def _orphan_maker(inbox: Any, release: Any) -> None:
    """Start a grandchild, report its pid, then linger until terminated.

    The grandchild is forked whatever the demo's start method, so its parent is this process
    (a ``forkserver`` context would make a fork server of this process its parent instead).
    """
    grandchild = multiprocess.get_context("fork").Process(target=_wait_for, args=(release,))
    grandchild.start()
    inbox.put(grandchild.pid)
    _linger()


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Stop a lock-holding worker forcefully, by SIGINT and cooperatively; then orphan a process.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: one worker per scenario.
    :returns: ``{"forced", "interrupted", "cooperative", "orphans", "summary"}``; each stop
        scenario tells the exit code, whether ``finally`` ran and whether the lock is free again.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    result: dict[str, Any] = {}
    if kit.threads:
        result["forced"] = {"how": "impossible: threads have no terminate() or kill()"}
        result["interrupted"] = {"how": "impossible: signals go to the main thread only"}
        result["cooperative"] = _stop(kit, "stop event")
        result["orphans"] = _thread_orphans()
    else:
        result["forced"] = _stop(kit, "terminate()")
        if sys.platform == "win32":
            result["interrupted"] = {"how": "impossible on Windows: no SIGINT for one process"}
        else:
            result["interrupted"] = _stop(kit, "SIGINT")
        result["cooperative"] = _stop(kit, "stop event")
        result["orphans"] = _process_orphans(kit)
    if not kit.threads:
        result["varies"] = N_(
            "with the start method: under fork and spawn the terminated child stays a zombie "
            "until joined and join() waits for the orphan, which inherited the pipe join() "
            "watches; under forkserver the fork server is the child's parent, reaps it and owns "
            "that pipe"
        )
    result["summary"] = _summary(result, kit)
    return result


def _stop(kit: Kit, how: str) -> dict[str, Any]:
    """Stop a worker that holds a lock, by *how*, and see what it left behind."""
    lock, holding, stop, cleaned = kit.Lock(), kit.Event(), kit.Event(), kit.Event()
    observed: dict[str, Any] = {"how": how}
    with kit.workers() as crew:
        worker = crew.start(
            _hold_lock, lock, holding, stop, cleaned, how == "SIGINT", name=f"holder-{how}"
        )
        observed["holding"] = holding.wait(WAIT)
        if how == "terminate()":
            worker.terminate()
            # Not asserted: terminate() is asynchronous, so this is usually, not always, True.
            observed["alive_right_after"] = worker.is_alive()
        elif how == "SIGINT":
            os.kill(worker.pid, signal.SIGINT)  # what Process.interrupt() (3.14) sends
        else:
            stop.set()
        worker.join(WAIT)
        observed["exitcode"] = getattr(worker, "exitcode", "threads have none")
        observed["finally_ran"] = cleaned.is_set()
        free = lock.acquire(timeout=PROBE)
        if free:
            lock.release()
        observed["lock_free_afterwards"] = free
        if not free:
            observed["would_deadlock"] = "anyone calling lock.acquire() now waits for ever"
    return observed


def _process_orphans(kit: Kit) -> dict[str, Any]:
    """Terminate a child that has a child; watch the zombie and the orphan through /proc."""
    if proc_stat(os.getpid()) is None:
        return {"observed": False, "why": "needs Linux /proc"}
    release = kit.Event()
    observed: dict[str, Any] = {"observed": True}
    with subreaper() as adopting, contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        child = crew.start(_orphan_maker, inbox, release, name="orphan-maker")
        gpid = inbox.get(watch=[child])
        grand = proc_stat(gpid)
        observed["grandchild_parent_before"] = (
            "the child" if grand and grand[1] == child.pid else grand
        )
        child.terminate()
        # A dead child that nobody has waited for yet is a zombie ("Z"); under forkserver its
        # parent is the fork server, which reaps it itself, so it may already be gone.
        wait_until(lambda: (proc_stat(child.pid) or ("gone", 0))[0] in ("Z", "gone"))
        state = proc_stat(child.pid)
        observed["child_state_before_join"] = "gone" if state is None else state[0]
        wait_until(lambda: (proc_stat(gpid) or ("", child.pid))[1] != child.pid)
        after = proc_stat(gpid)
        new_parent = None if after is None else after[1]
        observed["grandchild_alive_after_parent_died"] = after is not None and after[0] != "Z"
        observed["grandchild_adopted_by"] = (
            "this process (a subreaper)"
            if new_parent == os.getpid()
            else "PID 1"
            if new_parent == 1
            else f"pid {new_parent}"
        )
        observed["subreaper"] = adopting
        # join() waits for the child's sentinel, a pipe end the child inherited at start and the
        # orphan inherited in turn; under fork and spawn it stays open while the orphan lives.
        ready = multiprocess.connection.wait([child.sentinel], PROBE)
        observed["join_would_wait_for_orphan"] = not ready
        release.set()  # the grandchild ends normally; we reap it if it was given to us
        if new_parent == os.getpid():
            _reap(gpid)
        child.join(WAIT)
        observed["child_exitcode"] = child.exitcode
        observed["child_state_after_join"] = (
            "gone" if proc_stat(child.pid) is None else "still there"
        )
    return observed


def _reap(pid: int) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)


def _thread_orphans() -> dict[str, Any]:
    """A thread's threads belong to the process: they outlive the thread that started them."""
    release = threading.Event()
    started: list[threading.Thread] = []

    def starter() -> None:
        inner = threading.Thread(target=release.wait, args=(WAIT,), name="started-by-starter")
        inner.start()
        started.append(inner)

    outer = threading.Thread(target=starter, name="starter")
    outer.start()
    outer.join(WAIT)
    inner = started[0]
    observed = {
        "observed": True,
        "starter_alive": outer.is_alive(),
        "started_thread_alive": inner.is_alive(),
        "started_thread_belongs_to": "the process" if inner in threading.enumerate() else "?",
    }
    release.set()
    inner.join(WAIT)
    return observed


def _summary(result: dict[str, Any], kit: Kit) -> str:
    coop = result["cooperative"]
    asked = _freed(coop["lock_free_afterwards"])
    if kit.threads:
        return gettext(
            "a thread cannot be stopped from outside; asked to stop, it {asked}"
        ).format(asked=asked)
    forced = result["forced"]
    ran = gettext("ran") if forced["finally_ran"] else gettext("did not run")
    return gettext(
        "terminate(): exit code {code}, finally {ran}, the worker {freed}; asked to stop, "
        "it {asked}"
    ).format(
        code=forced["exitcode"], ran=ran, freed=_freed(forced["lock_free_afterwards"]),
        asked=asked,
    )


def _freed(free: object) -> str:
    return gettext("released its lock") if free else gettext("left its lock held")
