"""What became of one worker process, from what the supervisor saw of it."""

from __future__ import annotations

import sys
from typing import Any

from concur_lab.engine import _child
from concur_lab.engine._outcome import WorkerOutcome, WorkerWarning
from concur_lab.engine._remote_errors import (
    ExceptionState,
    RemoteError,
    _resolve,
    restore_exception,
)
from concur_lab.engine._run_plan import Plan
from concur_lab.engine._supervisor import Worker

__all__ = ["worker_outcome"]


def _text(data: bytearray) -> str:
    return data.decode("utf-8", errors="backslashreplace")


def _worker_stack(dump: str) -> str:
    """Drop the engine's bootstrap frames from faulthandler's dump (most recent call first)."""
    marker = f'File "{_child.__file__}"'
    kept: list[str] = []
    skipping = False
    for line in dump.splitlines():
        if not line.startswith(" "):
            skipping = False  # a thread header or a blank line starts a new block
        elif marker in line:
            skipping = True
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + ("\n" if kept else "")


def _warning(
    ref: tuple[str, str] | None, message: str, filename: str, lineno: int
) -> WorkerWarning:
    category: Any = None
    if ref is not None:
        module = sys.modules.get("__main__" if ref[0] == "__mp_main__" else ref[0])
        category = _resolve(module, ref[1]) if module is not None else None
    if not (isinstance(category, type) and issubclass(category, Warning)):
        category = UserWarning
    return WorkerWarning(category, message, filename, lineno)


def worker_outcome(plan: Plan, worker: Worker) -> WorkerOutcome[Any]:
    outcome: WorkerOutcome[Any] = WorkerOutcome(worker.index, plan.n, plan.mode)
    outcome.stdout, outcome.stderr = _text(worker.data["out"]), _text(worker.data["err"])
    fault = _text(worker.data["fault"])
    if worker.process is not None:
        outcome.pid, outcome.exitcode = worker.pid, worker.exitcode
    if worker.ready_info:
        _, outcome.pid, outcome.thread_ident, outcome.thread_name = worker.ready_info
    reply = worker.reply
    if reply is not None and reply[0] == "done":
        _, status, value, times, info = reply
        outcome.warnings = tuple(_warning(*record) for record in info.get("warnings", ()))
        outcome.leaked_threads = tuple(info.get("leaked_threads", ()))
        outcome.descendants = tuple(info.get("descendants", ()))
        if times is not None:
            outcome.started, outcome.finished, outcome.cpu_time = times
        if status == "ok":
            outcome.status, outcome.value = "ok", value
        elif status == "raised" and isinstance(value, ExceptionState):
            outcome.status, outcome.exception = "raised", restore_exception(value)
        else:
            outcome.status = "raised"
            outcome.exception = RemoteError("UnreadableResult", str(value), "")
        return outcome
    if worker.timed_out:
        outcome.status = "timed_out"
        outcome.stack = _worker_stack(fault)
        outcome.message = (
            f"timed out after {plan.timeout:g} s; the process was {worker.killed_how or 'stopped'}"
        )
        if worker.descendants:
            outcome.descendants = tuple(worker.descendants)
            outcome.message += f", and {len(worker.descendants)} process(es) it started were killed"
        return outcome
    if reply is not None and reply[0] == "start_failed":
        outcome.status = "not_started"
        outcome.exception = restore_exception(reply[1])
        outcome.message = (
            f"could not start: {type(outcome.exception).__name__}: {outcome.exception}"
        )
        return outcome
    if worker.start_error or (reply is not None and reply[0] == "aborted"):
        outcome.status = "not_started"
        outcome.message = worker.start_error or "start aborted"
        return outcome
    outcome.status = "crashed"
    outcome.stack = _worker_stack(fault)
    code = outcome.exitcode
    if code is not None and code < 0:
        outcome.message = f"was killed by {outcome.signal} (exit code {code})"
    else:
        outcome.message = f"exited with code {code} without returning"
    if not worker.ready:
        outcome.message += " before it was ready to start"
    return outcome
