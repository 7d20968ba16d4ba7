"""What became of one worker process, from what the supervisor saw of it."""

from __future__ import annotations

import sys
from typing import Any

from concur_lab.engine import _child
from concur_lab.engine._messages import Aborted, Done, StartFailed
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
    """What became of *worker*: its report if it made one, else why it did not."""
    outcome: WorkerOutcome[Any] = WorkerOutcome(worker.index, plan.n, plan.mode)
    outcome.stdout, outcome.stderr = _text(worker.data["out"]), _text(worker.data["err"])
    if worker.process is not None:
        outcome.pid, outcome.exitcode = worker.pid, worker.exitcode
    ready = worker.ready_message
    if ready is not None:
        outcome.pid, outcome.thread_ident, outcome.thread_name = ready
    reply = worker.reply
    if isinstance(reply, Done):
        _reported(outcome, reply)
    elif worker.timed_out:
        _timed_out(outcome, plan, worker)
    elif isinstance(reply, StartFailed):
        outcome.status = "not_started"
        outcome.exception = restore_exception(reply.error)
        outcome.message = (
            f"could not start: {type(outcome.exception).__name__}: {outcome.exception}"
        )
    elif worker.start_error or isinstance(reply, Aborted):
        outcome.status = "not_started"
        outcome.message = worker.start_error or "start aborted"
    else:
        _crashed(outcome, worker)
    return outcome


def _reported(outcome: WorkerOutcome[Any], done: Done) -> None:
    outcome.warnings = tuple(_warning(*record) for record in done.warnings)
    outcome.leaked_threads = done.leaked_threads
    outcome.descendants = done.descendants
    if done.times is not None:
        outcome.started, outcome.finished, outcome.cpu_time = done.times
    if done.status == "ok":
        outcome.status, outcome.value = "ok", done.value
    elif done.status == "raised" and isinstance(done.value, ExceptionState):
        outcome.status, outcome.exception = "raised", restore_exception(done.value)
    else:
        outcome.status = "raised"
        outcome.exception = RemoteError("UnreadableResult", str(done.value), "")


def _timed_out(outcome: WorkerOutcome[Any], plan: Plan, worker: Worker) -> None:
    outcome.status = "timed_out"
    outcome.stack = _worker_stack(_text(worker.data["fault"]))
    outcome.message = (
        f"timed out after {plan.timeout:g} s; the process was {worker.killed_how or 'stopped'}"
    )
    if worker.descendants:
        outcome.descendants = tuple(worker.descendants)
        outcome.message += f", and {len(worker.descendants)} process(es) it started were killed"


def _crashed(outcome: WorkerOutcome[Any], worker: Worker) -> None:
    outcome.status = "crashed"
    outcome.stack = _worker_stack(_text(worker.data["fault"]))
    code = outcome.exitcode
    if code is not None and code < 0:
        outcome.message = f"was killed by {outcome.signal} (exit code {code})"
    else:
        outcome.message = f"exited with code {code} without returning"
    if not worker.ready:
        outcome.message += " before it was ready to start"
