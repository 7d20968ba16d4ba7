"""Exit codes: what ``Process.exitcode`` says about how a child ended, and what threads have.

``exitcode`` is ``None`` while the child runs, ``0`` after a normal return, ``1`` after an
uncaught exception, and ``-N`` when signal N killed it. On POSIX only the low 8 bits of a status
survive, so ``sys.exit(256)`` reads as 0; a thread has no exit code at all.

Details: ``exitcode`` is set as soon as the child has ended, ``join()`` or not: reading it polls
the child (``waitpid`` with ``WNOHANG``), which the demo shows by polling without joining.
``sys.exit("message")`` also gives 1, ``sys.exit(n)`` and ``os._exit(n)`` give ``n`` (mod 256,
so ``sys.exit(-1)`` reads as 255), ``terminate()`` gives ``-15`` and ``kill()`` ``-9``. A
thread's exception goes to ``threading.excepthook``, and ``sys.exit()`` ends just that thread,
quietly.

What the blog post got wrong: it states "-N means killed by signal N" without the context that
makes it usable: ``None`` while running, ``1`` for an exception, the 8-bit wrap, and that on
Windows ``terminate()`` also reports ``-15`` though no signal exists there.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, scratch_dir, thread_exceptions, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "exit-codes"
TITLE = N_("Exit codes and how a worker ended")
THEME = "lifecycle"
ORDER = 30
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "A process's exitcode is 0, 1 for an exception, n for sys.exit(n) modulo 256, -N for signal N; "
    "threads have no exit code"
)


def _return() -> int:
    return 5  # discarded: neither a Thread nor a Process keeps the target's return value


def _raise() -> None:
    raise ValueError("boom")


def _exit_3() -> None:
    sys.exit(3)


def _exit_message() -> None:
    sys.exit("a message instead of a number")


def _exit_256() -> None:
    sys.exit(256)


def _exit_257() -> None:
    sys.exit(257)


def _exit_minus_1() -> None:
    sys.exit(-1)


def _os_exit_7() -> None:
    os._exit(7)


def _own_signal() -> None:
    # Whatever handler this child inherited (faulthandler, say), the default action is the lesson.
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGUSR1)  # default action: terminate
    time.sleep(WAIT)  # not reached


def _linger() -> None:
    # Not Event.wait(): a multiprocess Event whose waiter is killed hangs the next set() for ever
    # (notify_all waits for every sleeper to wake), a hazard of killing any worker.
    time.sleep(WAIT)


_CASES: tuple[tuple[str, Callable[[], Any], bool], ...] = (
    # (what the child does, the function, whether a thread may do it too)
    ("return 5", _return, True),
    ("raise ValueError", _raise, True),
    ("sys.exit(3)", _exit_3, True),
    ('sys.exit("a message")', _exit_message, True),
    ("sys.exit(256)", _exit_256, True),
    ("sys.exit(257)", _exit_257, True),
    ("sys.exit(-1)", _exit_minus_1, True),
    ("os._exit(7)", _os_exit_7, False),
    ("os.kill(own pid, SIGUSR1)", _own_signal, False),
)
if not hasattr(signal, "SIGUSR1"):  # Windows: no such signal
    _CASES = _CASES[:-1]


def _child(fn: Callable[[], Any], stderr_path: str) -> None:
    """Run *fn* with the child's stderr going to a file, so tracebacks land there, not on screen."""
    sys.stderr = open(stderr_path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    fn()


def _first_and_last(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    return lines[:1] + lines[-1:] if len(lines) > 1 else lines


def _signal_name(code: int | None) -> str | None:
    if code is None or code >= 0:
        return None
    try:
        return signal.Signals(-code).name
    except ValueError:
        return None


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """End one worker per case and report each exit code (processes) or what happened (threads).

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: there is one worker per case.
    :returns: ``{"cases": [{"case", "exitcode", ...}, ...], "summary": ...}``.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    cases = _run_threads() if kit.threads else _run_processes(kit)
    result: dict[str, Any] = {"cases": cases}
    if kit.threads:
        result["summary"] = N_(
            "a thread has no exit code; an exception is only printed, "
            "sys.exit() ends just that thread"
        )
    else:
        codes = {c["case"]: c["exitcode"] for c in cases}
        result["summary"] = gettext(
            "exit codes: exception {exception}, sys.exit(256) {wrapped}, sys.exit(-1) {minus}, "
            "terminate() {terminated}"
        ).format(
            exception=codes["raise ValueError"], wrapped=codes["sys.exit(256)"],
            minus=codes["sys.exit(-1)"], terminated=codes["terminate()"],
        )
    return result


def _run_processes(kit: Kit) -> list[dict[str, Any]]:
    observed: list[dict[str, Any]] = []
    with scratch_dir() as tmp, kit.workers() as crew:
        started: list[tuple[str, Any, str | None, int | None]] = []
        for i, (case, fn, _) in enumerate(_CASES):
            path = os.path.join(tmp, f"stderr-{i}.txt")
            child = kit.worker(_child, fn, path, name=f"exit-{i}")
            before = child.exitcode
            crew.handles.append(child)
            child.start()
            started.append((case, child, path, before))
        # exitcode without join(): poll until the child has ended; join() comes later, in crew.
        child = crew.start(_return, name="exit-unjoined")
        deadline = time.monotonic() + WAIT
        while child.exitcode is None and time.monotonic() < deadline:
            time.sleep(0.002)
        unjoined = {"exitcode": child.exitcode, "joined": False}
        for how in ("terminate", "kill"):
            child = crew.start(_linger, name=f"exit-{how}")
            running = child.exitcode  # None: the child is alive, waiting for an event
            getattr(child, how)()
            started.append((f"{how}()", child, None, running))
        for case, child, stderr_path, before in started:
            child.join(WAIT)
            entry: dict[str, Any] = {
                "case": case,
                "exitcode": child.exitcode,
                "signal": _signal_name(child.exitcode),
            }
            if stderr_path is None:
                entry["exitcode_while_running"] = before
            else:
                entry["exitcode_before_start"] = before
                entry["stderr"] = _first_and_last(stderr_path)
            observed.append(entry)
    observed.append({"case": "return, exitcode polled without join()", **unjoined})
    return observed


def _run_threads() -> list[dict[str, Any]]:
    observed: list[dict[str, Any]] = []
    for case, fn, thread_safe in _CASES:
        if not thread_safe:
            observed.append({"case": case, "not_run": "it would end the whole process"})
            continue
        with thread_exceptions() as caught:
            thread = threading.Thread(target=fn, name=f"exit-{case}")
            thread.start()
            thread.join(WAIT)
        observed.append(
            {
                "case": case,
                "has_exitcode": hasattr(thread, "exitcode"),
                "excepthook": caught[0]["type"] if caught else None,
                "caller_still_running": True,
            }
        )
    for how in ("terminate()", "kill()"):
        observed.append({"case": how, "not_run": "threads have no such method"})
    observed.append(
        {"case": "return, exitcode polled without join()", "not_run": "threads have no exitcode"}
    )
    return observed
