"""Run a callable in N child processes of a start method: make their pipes, start them, join them.

Children report "ready" and then block on a shared gate pipe; the supervisor
(:mod:`._supervisor`) opens or closes that gate and reads what the children send; the outcome of
each is made from that (:mod:`._process_outcome`). The multiprocess context, its fork server's
preloads and the warning about forking threads are :mod:`._start_context`'s.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

from multiprocess import connection as mp_connection
from multiprocess import process as mp_process

from concur_lab.engine import _child
from concur_lab.engine._outcome import WorkerOutcome
from concur_lab.engine._payload import (
    DeferredPayload,
    Manifest,
    dumps_payload,
    needs_inheritance,
)
from concur_lab.engine._process_outcome import worker_outcome
from concur_lab.engine._run_plan import Plan
from concur_lab.engine._send_error import SendError
from concur_lab.engine._start_context import (
    context_for,
    fork_warning_silenced,
    warn_if_forking_threads,
)
from concur_lab.engine._supervisor import Worker, reap, supervise

__all__ = ["run_processes"]


def run_processes(plan: Plan) -> list[WorkerOutcome[Any]]:
    """Run *plan* in child processes; every child has been joined on return."""
    method = plan.mode.start_method
    assert method is not None
    ctx = context_for(method)
    plan = dataclasses.replace(plan, warning_filters=_child.picklable_filters())
    if method == "fork":
        payload: bytes | Plan | DeferredPayload = plan
        manifest = Manifest()
    else:
        describe: dict[str, Any] = {
            "target": plan.target,
            "args": plan.args,
            "kwargs": plan.kwargs,
            "worker_args": plan.worker_args or (),
            "start_method": method,
        }
        try:
            payload, manifest = dumps_payload(plan, **describe)
        except SendError as exc:
            if not needs_inheritance(exc):
                raise
            payload, manifest = DeferredPayload(plan, **describe), Manifest()
    workers = [Worker(i) for i in range(plan.n)]
    gate_r, gate_w = ctx.Pipe(duplex=False)
    if plan.n == 1:
        # One worker has nobody to start together with: its gate is open from the start,
        # which spares a round trip through the parent per run (every test, in the plugin).
        os.write(gate_w.fileno(), b"g")
    began = time.monotonic()
    deadline = None if plan.timeout is None else began + plan.timeout
    try:
        silence = warn_if_forking_threads(method, plan.n)
        with fork_warning_silenced(silence):
            _start_all(ctx, plan, workers, payload, manifest, gate_r, gate_w, deadline)
        gate_r.close()
        supervise(plan, workers, gate_w, deadline)
    finally:
        with suppress(OSError):
            gate_w.close()
        with suppress(OSError):
            gate_r.close()
        for worker in workers:
            reap(worker)
            worker.close()
    return [worker_outcome(plan, w) for w in workers]


def _start_all(
    ctx: Any,
    plan: Plan,
    workers: list[Worker],
    payload: bytes | Plan | DeferredPayload,
    manifest: Manifest,
    gate_r: Any,
    gate_w: Any,
    deadline: float | None = None,
) -> None:
    fork = plan.mode.start_method == "fork"
    # Everything is made before the first fork: after it, every page the parent writes to is
    # copied (copy-on-write) while a child still shares it, and the engine's bookkeeping
    # between forks cost ~9 % of a 20-worker run (measured against creating it as it went).
    child_ends: list[list[Any]] = []
    for worker in workers:
        parent_ends: list[Any] = []
        ends: list[Any] = []
        try:
            for _ in range(4):  # result, out, err, fault
                if fork:
                    # A bare descriptor, inherited: closing it in the parent touches no object.
                    read_fd, write_fd = os.pipe()
                    parent_ends.append(mp_connection.Connection(read_fd, writable=False))
                    ends.append(write_fd)
                else:
                    # Connections, which pickle for a child that inherits nothing.
                    read_end, write_end = mp_connection.Pipe(duplex=False)
                    parent_ends.append(read_end)
                    ends.append(write_end)
        except OSError as exc:
            # Out of descriptors (most often): this worker and the later ones cannot start,
            # and the ones that have their pipes are started only to be told so at the gate.
            _close_ends(ends)
            for end in parent_ends:
                with suppress(OSError):
                    end.close()
            _refuse_from(workers, worker.index, exc)
            break
        worker.result = parent_ends[0]
        worker.streams = dict(zip(("out", "err", "fault"), parent_ends[1:], strict=True))
        child_ends.append(ends)
    processes = []
    for worker, ends in zip(workers, child_ends, strict=False):
        # Under fork a child inherits whatever the parent has open, the write ends of the
        # workers forked after it included: it closes those, and the gate's write end.
        later = child_ends[worker.index + 1 :]
        inherited = (gate_w.fileno(), *(fd for other in later for fd in other)) if fork else ()
        result_w, out_w, err_w, fault_w = ends
        pipes = _child.WorkerPipes(result_w, out_w, err_w, fault_w, gate_r)
        processes.append(
            ctx.Process(
                target=_child.main,
                args=(worker.index, payload, manifest, pipes, inherited),
                name=f"concur-worker-{worker.index}",
            )
        )
    with _set_aside_while_starting() as set_aside:
        _start_each(workers[: len(child_ends)], processes, child_ends, set_aside, plan, deadline)


class _StartDeadline(Exception):
    """The run's deadline passed before every worker process was started."""


def _start_failure(exc: BaseException) -> str:
    """Describe why a worker could not start, naming the descriptor limit when it was hit."""
    if isinstance(exc, _StartDeadline):
        return str(exc)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, OSError) and exc.errno in (errno.EMFILE, errno.ENFILE):
        limit = _open_files_limit()
        text += (
            f" (this process may have {limit} open files, see ulimit -n; each process "
            "worker needs 4 pipes while it starts)"
            if limit is not None
            else " (the limit of open files was reached; each process worker needs 4 pipes)"
        )
    return text


def _open_files_limit() -> int | None:
    try:
        import resource
    except ImportError:
        return None
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _refuse_from(workers: list[Worker], index: int, exc: BaseException) -> None:
    """Mark worker *index* as unable to start because of *exc*, and every later one with it."""
    reason = f"worker {index} could not start: {_start_failure(exc)}"
    workers[index].start_error = f"could not start: {_start_failure(exc)}"
    workers[index].abort_reason = reason
    for later_worker in workers[index + 1 :]:
        later_worker.start_error = f"not started because {reason}"


@contextmanager
def _set_aside_while_starting() -> Iterator[Callable[[Any], None]]:
    """Keep the workers started so far out of multiprocess's set of children until all are.

    ``Process.start()`` first polls every child in that set (``process._cleanup``): quadratic in
    a run's workers, which wait at the gate, and under forkserver each poll builds a selector
    (a fifth of the parent's extra CPU time over a hand-written run at 20 workers, measured).
    The supervisor reaps them; they are back in the set, for ``active_children()``, on return.
    """
    children = getattr(mp_process, "_children", None)
    if not isinstance(children, set):
        # Another multiprocess layout: start as it does, polling included.
        yield lambda process: None
        return
    started: list[Any] = []

    def set_aside(process: Any) -> None:
        started.append(process)
        children.discard(process)

    try:
        yield set_aside
    finally:
        children.update(started)


def _start_each(
    workers: list[Worker],
    processes: list[Any],
    child_ends: list[list[Any]],
    set_aside: Callable[[Any], None],
    plan: Plan | None = None,
    deadline: float | None = None,
) -> None:
    for worker, process, ends in zip(workers, processes, child_ends, strict=True):
        try:
            if deadline is not None and plan is not None and time.monotonic() >= deadline:
                raise _StartDeadline(
                    f"the deadline of {plan.timeout:g} s passed while starting the workers: "
                    f"{worker.index} of {plan.n} processes had started"
                )
            process.start()
            set_aside(process)
        except BaseException as exc:
            for unstarted, their_ends in zip(
                workers[worker.index :], child_ends[worker.index :], strict=True
            ):
                unstarted.close()
                if unstarted is not worker:
                    _close_ends(their_ends)
            _refuse_from(workers, worker.index, exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit, SendError)):
                # A payload pickled at start names what it could not send: say it as such.
                raise
            return
        finally:
            # The child has its own copies now (inherited, or sent along with the process).
            _close_ends(ends)
        worker.process = process


def _close_ends(ends: list[Any]) -> None:
    for end in ends:
        with suppress(OSError):
            _child.close_end(end)
