"""Run a callable in N threads of this process, started together, with a deadline."""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any

from concur_lab.engine._outcome import Status, WorkerOutcome
from concur_lab.engine._run_plan import Plan
from concur_lab.engine._switch_interval import RunSwitchInterval
from concur_lab.engine._thread_output import (
    route_thread,
    start_capture,
    stop_capture,
    unroute_thread,
)
from concur_lab.engine._worker_context import _set_thread_worker

__all__ = ["run_threads"]

# How long workers wait at the start gate for the others to be started.
_START_GATE_SECONDS = 60.0
# After an aborted start: how long the released threads may take to end, deadline or not.
_ABORT_GRACE = 5.0


@dataclass
class _Slot:
    status: Status = "not_started"
    value: Any = None
    exception: BaseException | None = None
    started: float | None = None
    finished: float | None = None
    cpu_time: float | None = None
    # What the worker printed, as the router collected it (the worker puts its lists here):
    # joined by the caller once the worker has ended, not by the worker while others still run.
    stdout: Sequence[str] = ()
    stderr: Sequence[str] = ()
    message: str = ""
    done: bool = False


def _work(
    plan: Plan,
    slot: _Slot,
    index: int,
    barrier: threading.Barrier | None,
    abort_reason: list[str],
) -> None:
    """One worker thread's life: wait at the start gate, call the target, record what happened.

    A module-level function, not a closure of :func:`run_threads`: a closure that names itself
    (to trim its own frame from tracebacks) is a reference cycle, which left every run's plan,
    slots and barrier for the garbage collector instead of freeing them when the run ended.
    """
    _set_thread_worker(index)
    slot.stdout, slot.stderr = route_thread()
    # Before the gate: after it, every line runs while the other workers compete for the GIL.
    args, kwargs = plan.call_args(index)
    try:
        try:
            if barrier is not None:
                barrier.wait(timeout=_START_GATE_SECONDS)
        except threading.BrokenBarrierError:
            slot.message = abort_reason[0] if abort_reason else "start gate broken"
            return
        slot.started = time.monotonic()
        cpu = time.thread_time()
        try:
            slot.value = plan.target(*args, **kwargs)
            slot.status = "ok"
        except BaseException as exc:
            tb = exc.__traceback__
            if tb is not None and tb.tb_frame.f_code is _work.__code__:
                # Start the traceback at the target, as if it had been called directly.
                exc.__traceback__ = tb.tb_next
            slot.exception = exc
            slot.status = "raised"
        finally:
            slot.finished = time.monotonic()
            slot.cpu_time = time.thread_time() - cpu
    finally:
        unroute_thread()
        _set_thread_worker(None)
        slot.done = True


def run_threads(plan: Plan) -> list[WorkerOutcome[Any]]:
    """Run *plan* in threads; every thread has ended on return, except hung ones."""
    n = plan.n
    slots = [_Slot() for _ in range(n)]
    switch = None if plan.switch_interval is None else RunSwitchInterval(plan.switch_interval)
    # One worker has nobody to wait for. With several, the last to reach the gate sets the
    # switch interval before any is released.
    action = None if switch is None else switch.set
    barrier = threading.Barrier(n, action=action) if n > 1 else None
    abort_reason: list[str] = []

    threads: list[threading.Thread] = []
    deadline = None if plan.timeout is None else time.monotonic() + plan.timeout
    if switch is not None and barrier is None:
        switch.set()
    start_capture()
    try:
        for index in range(n):
            thread = threading.Thread(
                target=_work,
                args=(plan, slots[index], index, barrier, abort_reason),
                name=f"concur-worker-{index}",
                daemon=True,
            )
            try:
                if deadline is not None and time.monotonic() >= deadline:
                    raise _StartDeadline(
                        f"the deadline of {plan.timeout:g} s passed while starting the "
                        f"workers: {index} of {n} threads had started"
                    )
                thread.start()
            except BaseException as exc:
                cause = _start_failure(exc, index, n)
                reason = f"worker {index} could not start: {cause}"
                abort_reason.append(f"start aborted because {reason}")
                slots[index].message = f"could not start: {cause}"
                for later in range(index + 1, n):
                    slots[later].message = f"not started because {reason}"
                if barrier is not None:
                    barrier.abort()
                break
            threads.append(thread)
        # Threads released by an aborted start never reach the target: they end at once, so
        # they are waited for a moment even past the deadline instead of being called hung.
        aborted_by = time.monotonic() + _ABORT_GRACE if abort_reason else None
        for index, thread in enumerate(threads):
            remaining = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if aborted_by is not None and slots[index].started is None:
                remaining = max(aborted_by - time.monotonic(), remaining or 0.0)
            thread.join(remaining)
    finally:
        stop_capture()
        if switch is not None:
            switch.restore()
    # Looked up once: per hung worker it would cost time in proportion to all the threads.
    frames = sys._current_frames() if any(t.is_alive() for t in threads) else {}
    return [
        _outcome(plan, i, slots[i], threads[i] if i < len(threads) else None, frames)
        for i in range(n)
    ]


class _StartDeadline(Exception):
    """The run's deadline passed before every worker thread was started."""


def _start_failure(exc: BaseException, index: int, n: int) -> str:
    """Describe why thread *index* of *n* could not start, naming the limit that was hit."""
    if isinstance(exc, _StartDeadline):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, (RuntimeError, MemoryError)):
        text += f" ({index} of {n} threads had started; {_thread_limits()})"
    return text


def _thread_limits() -> str:
    """Name the limits on threads this process may have, as far as the platform tells."""
    limits = []
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        if soft != resource.RLIM_INFINITY:
            limits.append(f"ulimit -u is {soft}")
    except (ImportError, AttributeError, OSError, ValueError):
        pass
    try:
        with open("/proc/sys/kernel/threads-max") as f:
            limits.append(f"kernel.threads-max is {f.read().strip()}")
    except OSError:
        pass
    limits.append("each thread also needs memory for its stack")
    return ", ".join(limits)


def _worker_stack(frame: FrameType) -> str:
    """Format a hung worker's stack from the target down, without the engine's own frames."""
    entries = traceback.extract_stack(frame)
    for position, entry in enumerate(entries):
        if entry.filename == __file__ and entry.name == "_work":
            entries = traceback.StackSummary.from_list(entries[position + 1 :])
            break
    return "".join(entries.format())


def _outcome(
    plan: Plan,
    index: int,
    slot: _Slot,
    thread: threading.Thread | None,
    frames: dict[int, FrameType],
) -> WorkerOutcome[Any]:
    outcome: WorkerOutcome[Any] = WorkerOutcome(index, plan.n, plan.mode, pid=os.getpid())
    if thread is not None:
        outcome.thread_ident = thread.ident
        outcome.thread_name = thread.name
    if thread is not None and thread.is_alive() and not slot.done:
        frame = frames.get(thread.ident or -1)
        outcome.status = "timed_out"
        outcome.still_running = True
        outcome.started = slot.started
        outcome.stack = _worker_stack(frame) if frame is not None else ""
        outcome.message = (
            f"timed out after {plan.timeout:g} s; the thread is still running "
            "(threads cannot be killed)"
        )
        return outcome
    outcome.status = slot.status
    outcome.value = slot.value
    outcome.exception = slot.exception
    outcome.started, outcome.finished, outcome.cpu_time = slot.started, slot.finished, slot.cpu_time
    outcome.stdout, outcome.stderr = "".join(slot.stdout), "".join(slot.stderr)
    outcome.message = slot.message
    return outcome
