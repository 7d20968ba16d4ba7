"""The start of every worker process: wire up output, wait at the gate, run, report.

This module is what a child imports by name under every start method, and what the fork server
preloads, so it keeps its imports small.
"""

from __future__ import annotations

import faulthandler
import io
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from concur_lab._context import _set_process_worker
from concur_lab._excship import capture_exception
from concur_lab._plan import Plan
from concur_lab._shipping import Manifest, SendError, Shipped, loads_payload

__all__ = ["WorkerPipes", "dumps_message", "main"]

# The parent sends this signal at the deadline; faulthandler answers with every thread's stack.
DUMP_SIGNAL = signal.SIGUSR1


class WorkerPipes:
    """The write ends a child reports through, and the read end of the start gate."""

    def __init__(self, result: Any, out: Any, err: Any, fault: Any, gate: Any) -> None:
        self.result = result
        self.out = out
        self.err = err
        self.fault = fault
        self.gate = gate


def dumps_message(message: object) -> bytes:
    """Pickle a message to the parent: the C pickler when it can, dill otherwise."""
    try:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import dill

        return dill.dumps(message, protocol=dill.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def _redirect(conn: Any, fd: int, name: str) -> None:
    os.dup2(conn.fileno(), fd)
    conn.close()
    stream = io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding="utf-8",
        errors="backslashreplace",
        line_buffering=True,
        write_through=True,
    )
    setattr(sys, name, stream)


def _without_own_frame(exc: BaseException) -> BaseException:
    tb = exc.__traceback__
    if tb is not None and tb.tb_frame.f_code is main.__code__:
        exc.__traceback__ = tb.tb_next
    return exc


def main(
    index: int,
    payload: bytes | Plan | Shipped,
    manifest: Manifest,
    pipes: WorkerPipes,
    inherited_fds: Sequence[int],
) -> None:
    """Run worker *index* of the plan in *payload* and report through *pipes*."""
    for fd in inherited_fds:
        # Under fork the child inherits the parent's end of the gate: keep it open and an
        # aborted start would never reach this worker as end-of-file.
        with suppress(OSError):
            os.close(fd)
    _redirect(pipes.out, 1, "stdout")
    _redirect(pipes.err, 2, "stderr")
    fault_fd = pipes.fault.fileno()
    faulthandler.enable(file=fault_fd, all_threads=True)
    faulthandler.register(DUMP_SIGNAL, file=fault_fd, all_threads=True, chain=False)
    _set_process_worker(index)
    result = pipes.result
    try:
        if isinstance(payload, Plan):
            plan = payload
        elif isinstance(payload, Shipped):
            plan = loads_payload(payload.data, payload.manifest)
        else:
            plan = loads_payload(payload, manifest)
        args, kwargs = plan.call_args(index)
    except BaseException as exc:
        result.send_bytes(
            dumps_message(("start_failed", capture_exception(_without_own_frame(exc))))
        )
        return
    thread = threading.current_thread()
    result.send_bytes(dumps_message(("ready", os.getpid(), thread.ident, thread.name)))
    if not os.read(pipes.gate.fileno(), 1):
        result.send_bytes(dumps_message(("aborted",)))
        return
    started, cpu = time.monotonic(), time.process_time()
    status = "ok"
    value: Any = None
    try:
        value = plan.target(*args, **kwargs)
    except BaseException as exc:
        status, value = "raised", capture_exception(_without_own_frame(exc))
    finished, cpu_time = time.monotonic(), time.process_time() - cpu
    sys.stdout.flush()
    sys.stderr.flush()
    times = (started, finished, cpu_time)
    try:
        data = dumps_message(("done", status, value, times))
    except Exception as exc:
        error = SendError(
            f"worker {index} returned {type(value).__name__} {_short_repr(value)}, which cannot "
            f"be sent back to the parent: {type(exc).__name__}: {exc}",
            what="the return value",
            obj_type=type(value).__name__,
        )
        data = dumps_message(("done", "raised", capture_exception(error), times))
    result.send_bytes(data)


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        return "<unrepresentable>"
    return text if len(text) <= 80 else text[:77] + "..."
