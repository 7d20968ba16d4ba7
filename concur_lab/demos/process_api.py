"""The ``Process`` and ``Thread`` API: constructor parameters, methods and attributes, observed.

``Process(group=None, target=None, name=None, args=(), kwargs={}, *, daemon=None)`` mirrors
``Thread``: ``group`` must be ``None`` (an ``assert``, so ``AssertionError``, and nothing at all
under ``python -O``), ``args`` is turned into a tuple at once (``args=(5)`` fails in the
constructor), and only processes have ``pid``, ``exitcode``, ``authkey``, ``terminate()`` and
``kill()``: a thread has no exit code and cannot be stopped from outside.

What the blog post got wrong: its parameter list omits the keyword-only ``daemon``, its method
and attribute lists omit ``kill()``, ``close()``, ``sentinel`` and ``ident``, and its code used a
fullwidth comma (``，``) and curly quotes, which are syntax errors in Python (the demo compiles
such a line and records the ``SyntaxError``); here the calls are made for real and the results
recorded.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
import time
from typing import Any

import multiprocess

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, attempt, thread_exceptions, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "process-api"
TITLE = N_("The Process and Thread API")
THEME = "basics"
ORDER = 20
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Process and Thread take the same parameters (group must be None); "
    "only processes have pid, exitcode, authkey and terminate()"
)

_NAMES = (
    "start",
    "run",
    "join",
    "is_alive",
    "terminate",
    "kill",
    "close",
    "name",
    "daemon",
    "ident",
    "native_id",
    "pid",
    "exitcode",
    "authkey",
    "sentinel",
)
# What the blog post listed; everything else the class has, it left out.
_POST_LISTED = {
    "start",
    "run",
    "join",
    "is_alive",
    "terminate",
    "name",
    "daemon",
    "pid",
    "exitcode",
    "authkey",
}


def _noop(*args: Any, **kwargs: Any) -> None:
    """Do nothing (a target that accepts anything)."""


def _report(inbox: Any, expected_authkey: bytes | None, *args: Any, **kwargs: Any) -> None:
    """Send back what the worker sees of itself and of the arguments it received."""
    if expected_authkey is None:
        me: Any = threading.current_thread()
        authkey_matches = None
    else:
        me = multiprocess.current_process()
        authkey_matches = bytes(me.authkey) == expected_authkey
    inbox.put(
        {
            "pid": os.getpid(),
            "name": me.name,
            "daemon": me.daemon,
            "args": list(args),
            "kwargs": kwargs,
            "authkey_matches_parent": authkey_matches,
        }
    )


def _linger() -> None:
    """Stay alive for a while (bounded) until stopped from outside.

    Not ``Event.wait()``: setting a multiprocess Event one of whose waiters was killed hangs for
    ever, since ``notify_all`` waits for every sleeper to wake (a killed sleeper never wakes).
    """
    time.sleep(WAIT)


def _snapshot(worker: Any, threads: bool) -> dict[str, Any]:
    """Return the worker's observable state from the outside."""
    state: dict[str, Any] = {"is_alive": worker.is_alive(), "name": worker.name}
    if threads:
        state["ident_set"] = worker.ident is not None
    else:
        state["pid_set"] = worker.pid is not None
        state["exitcode"] = worker.exitcode
    return state


def _parameters(cls: Any) -> list[str]:
    """Return the constructor's parameters, keyword-only ones marked with a leading ``*``."""
    params = inspect.signature(cls).parameters.values()
    return [("*" if p.kind is p.KEYWORD_ONLY else "") + p.name for p in params]


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Exercise the Thread or Process API of *mode* and return what each call did.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo always uses one worker at a time.
    :returns: Observations: parameters, the ``group`` check, ``args`` handling, lifecycle states,
        what the worker saw, and (processes) how ``terminate()``/``kill()``/``close()`` behave.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    cls: Any = threading.Thread if kit.threads else kit.ctx.Process
    result: dict[str, Any] = {
        "class": cls.__name__,
        "parameters": _parameters(cls),
        "optimized": bool(sys.flags.optimize),  # -O strips the assert that checks group
        "has": {name: hasattr(cls, name) for name in _NAMES},
    }
    if not kit.threads:
        # Learners expect "Process": say what the class is and how it relates.
        base = multiprocess.process.BaseProcess
        result["class_is"] = {
            "what": f"get_context({mode.start_method!r}).Process",
            "same_as_multiprocess.Process": cls is multiprocess.Process,
            "both_derive_from_BaseProcess": issubclass(cls, base)
            and issubclass(multiprocess.Process, base),
        }
    result["missing_from_post"] = [n for n in _NAMES if result["has"][n] and n not in _POST_LISTED]
    result["post_typos"] = _post_typos(cls.__name__)
    result["group_none"] = attempt(cls, group=None, target=_noop)
    result["group_other"] = attempt(cls, group="workers", target=_noop)
    result["args_not_a_tuple"] = _args_not_a_tuple(kit, cls)

    with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
        authkey = None if kit.threads else bytes(multiprocess.current_process().authkey)
        worker = cls(
            target=_report,
            name="api-demo",
            args=(inbox, authkey, 5, "x"),
            kwargs={"flag": True},
        )
        lifecycle = {"before_start": _snapshot(worker, kit.threads)}
        crew.adopt(worker).start()
        result["start_twice"] = attempt(worker.start)
        seen = inbox.get(watch=[worker])
        worker.join(WAIT)
        lifecycle["after_join"] = _snapshot(worker, kit.threads)
        result["join_again"] = attempt(worker.join, WAIT)
        result["lifecycle"] = lifecycle
        result["worker_saw"] = {
            **seen,
            "pid": "same as caller" if seen["pid"] == os.getpid() else "its own",
        }

        direct = cls(target=_report, args=(inbox, authkey, "direct"))
        direct.run()  # run() is the body start() executes elsewhere: here it runs in the caller
        ran = inbox.get()
        result["run_called_directly"] = {
            "ran_in_caller": ran["pid"] == os.getpid(),
            "started": direct.is_alive(),
        }

        if kit.threads:
            result["stopping"] = {
                "terminate": "no such method: threads cannot be stopped from outside",
            }
        else:
            result["stopping"] = _stop_processes(kit)
            if hasattr(worker, "close"):
                worker.close()
                result["after_close"] = attempt(lambda: worker.pid)
    result["summary"] = _summary(result, mode)
    result["varies"] = (
        N_(
            "Depends on the start method (the class is ForkProcess, SpawnProcess or "
            "ForkServerProcess) and on python -O, which strips the assert that checks group."
        )
        if not kit.threads
        else N_(
            "Depends on python -O for processes: it strips the assert that checks group; "
            "Thread's check is a real error. From Python 3.14 Thread also takes a keyword-only "
            "context (the contextvars.Context the thread runs in)."
        )
    )
    return result


def _post_typos(name: str) -> dict[str, Any]:
    """Compile a call with the kinds of typo the blog post's code had: what Python says."""
    snippets = {
        "fullwidth comma": f"{name}(target=print\uff0c args=(1,))",
        "curly quotes": f"{name}(target=print, name=\u201cworker\u201d)",
        "ascii": f'{name}(target=print, name="worker", args=(1,))',
    }
    return {
        label: attempt(compile, code, "<post>", "eval") | {"code": code}
        for label, code in snippets.items()
    }


def _args_not_a_tuple(kit: Kit, cls: Any) -> dict[str, Any]:
    """Pass ``args=(5)`` (an int: the parentheses do not make a tuple) and see where it fails."""
    made = attempt(cls, target=_noop, args=5)
    observed: dict[str, Any] = {"construct": made}
    if "raised" in made:
        return observed
    # A Thread accepts it and fails only when run() unpacks *args, inside the new thread.
    thread = cls(target=_noop, args=5, name="args-demo")
    with thread_exceptions() as caught:
        thread.start()
        thread.join(WAIT)
    observed["in_thread"] = caught[0] if caught else None
    return observed


def _stop_processes(kit: Kit) -> dict[str, Any]:
    """Terminate one waiting child and kill another; report their exit codes."""
    stopped: dict[str, Any] = {}
    with kit.workers() as crew:
        for how in ("terminate", "kill"):
            child = crew.start(_linger, name=f"api-{how}")
            getattr(child, how)()
            child.join(WAIT)
            stopped[how] = {"exitcode": child.exitcode, "is_alive": child.is_alive()}
    return stopped


def _summary(result: dict[str, Any], mode: Mode) -> str:
    group = result["group_other"]
    refused = gettext("refused") if "raised" in group else gettext("accepted")
    if mode.kind == "thread":
        return gettext(
            "group= is {refused}; a thread has no pid, no exit code, no terminate()"
        ).format(refused=refused)
    stopped = result["stopping"]
    return gettext(
        "group= is {refused}; terminate() gives exit code {terminated}, kill() gives {killed}"
    ).format(
        refused=refused, terminated=stopped["terminate"]["exitcode"],
        killed=stopped["kill"]["exitcode"],
    )
