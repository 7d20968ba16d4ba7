"""The start of every worker process: wire up output, wait at the gate, run, report.

This module is what a child imports by name under every start method, and what the fork server
preloads, so it keeps its imports small.
It is also imported (through the engine) wherever the plugin loads, Windows included, so
everything POSIX-only here is looked up, never assumed.

What the child tells its parent are the messages of :mod:`._messages`, each written to the raw
result pipe as one frame.
"""

from __future__ import annotations

import faulthandler
import io
import os
import pickle
import re
import signal
import sys
import threading
import time
import warnings
from collections.abc import Sequence
from contextlib import suppress
from typing import Any, Literal

from concur_lab.engine import _descendants
from concur_lab.engine._messages import Aborted, Done, Message, Ready, StartFailed, pack
from concur_lab.engine._payload import Manifest, Shipped, loads_payload
from concur_lab.engine._remote_errors import capture_exception
from concur_lab.engine._run_plan import Plan
from concur_lab.engine._send_error import SendError
from concur_lab.engine._worker_context import _set_process_worker

__all__ = ["DUMP_SIGNAL", "WorkerPipes", "close_end", "main", "picklable_filters"]

# The parent sends this signal at the deadline; faulthandler answers with every thread's stack.
# Neither exists on Windows: there the parent gets no stack, but importing still works.
DUMP_SIGNAL: signal.Signals | None = getattr(signal, "SIGUSR1", None)
_CAN_DUMP = DUMP_SIGNAL is not None and hasattr(faulthandler, "register")


class WorkerPipes:
    """The write ends a child reports through, and the read end of the start gate.

    In the parent each is a ``multiprocess`` connection under ``spawn`` and ``forkserver``, or a
    bare descriptor the child inherits under ``fork``; the child always gets bare descriptors.
    """

    def __init__(self, result: Any, out: Any, err: Any, fault: Any, gate: Any) -> None:
        self.result = result
        self.out = out
        self.err = err
        self.fault = fault
        self.gate = gate

    def __reduce__(self) -> tuple[Any, ...]:
        ends = (self.result, self.out, self.err, self.fault, self.gate)
        # Pickled only to start a spawn or fork-server child. multiprocess would send each
        # connection through dill's pure-Python pickler (about 40 saves for the five, most of
        # what the engine's child costs the parent beyond a hand-written one, measured); the
        # child needs only descriptors, which DupFd hands over, so one C pickle carries them.
        try:
            from multiprocess.reduction import DupFd

            handles = [DupFd(_fileno(end)) for end in ends]
            return (_pipes_from_bytes, (pickle.dumps(handles, pickle.HIGHEST_PROTOCOL),))
        except Exception:
            return (WorkerPipes, ends)


def _pipes_from_bytes(data: bytes) -> WorkerPipes:
    """Rebuild a child's :class:`WorkerPipes` as bare descriptors."""
    return WorkerPipes(*(handle.detach() for handle in pickle.loads(data)))


def _write_all(fd: int, frame: bytes) -> None:
    """Write *frame* to *fd*, all of it."""
    view = memoryview(frame)
    while view:
        view = view[os.write(fd, view) :]


def _send(fd: int, message: Message) -> None:
    _write_all(fd, pack(message))


def _fileno(end: Any) -> int:
    return end if isinstance(end, int) else int(end.fileno())


def close_end(end: Any) -> None:
    """Close a pipe end: a bare descriptor or a connection."""
    if isinstance(end, int):
        os.close(end)
    else:
        end.close()


def picklable_filters() -> tuple[tuple[Any, ...], ...]:
    """Return :data:`warnings.filters` as tuples that pickle: patterns instead of compiled regexes.

    Filters whose category cannot be pickled are left out (the child could not match them).
    """
    # 3.14+: the filters in force in this context (they are per context when
    # sys.flags.context_aware_warnings is set, the default on free-threaded builds).
    current = getattr(warnings, "_get_filters", None)
    in_force = current() if callable(current) else warnings.filters
    shipped = []
    for action, message, category, module, lineno in in_force:
        if category.__module__ != "builtins" and _unpicklable(category):
            continue
        shipped.append(
            (
                action,
                getattr(message, "pattern", message),
                category,
                getattr(module, "pattern", module),
                lineno,
            )
        )
    return tuple(shipped)


# Warning category -> whether it cannot be pickled: the same few are checked at every run.
_PICKLABILITY: dict[object, bool] = {}


def _unpicklable(obj: object) -> bool:
    known = _PICKLABILITY.get(obj)
    if known is not None:
        return known
    unpicklable = False
    try:
        pickle.dumps(obj)
    except Exception:
        try:
            import dill

            dill.dumps(obj)
        except Exception:
            unpicklable = True
    _PICKLABILITY[obj] = unpicklable
    return unpicklable


def _install_filters(filters: Sequence[tuple[Any, ...]]) -> None:
    # Rebuilt through the public API, in reverse, so the first filter ends up first, compiled
    # with the flags filterwarnings() itself uses (what produced nearly every parent filter).
    warnings.resetwarnings()
    for action, message, category, module, lineno in reversed(filters):
        try:
            warnings.filterwarnings(action, message or "", category, module or "", lineno)
        except (AssertionError, TypeError, ValueError, re.error):
            continue


def _recorded(caught: Sequence[warnings.WarningMessage]) -> list[tuple[Any, ...]]:
    from concur_lab.engine._remote_errors import _locate_class

    records = []
    for w in caught:
        ref = _locate_class(w.category) if isinstance(w.category, type) else None
        records.append((ref, str(w.message), str(w.filename), int(w.lineno or 0)))
    return records


def _redirect(end: Any, fd: int, name: str) -> None:
    os.dup2(_fileno(end), fd)
    close_end(end)
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
        # aborted start would never reach this worker as end-of-file. Likewise the write ends
        # of the workers forked after this one: their pipes would stay open until it exits.
        with suppress(OSError):
            os.close(fd)
    _redirect(pipes.out, 1, "stdout")
    _redirect(pipes.err, 2, "stderr")
    fault_fd = _fileno(pipes.fault)
    faulthandler.enable(file=fault_fd, all_threads=True)
    if _CAN_DUMP and DUMP_SIGNAL is not None:
        register = faulthandler.register  # type: ignore[attr-defined,unused-ignore]
        register(DUMP_SIGNAL, file=fault_fd, all_threads=True, chain=False)
    _set_process_worker(index)
    # Orphans of the worker's subtree become its children: see _descendants.
    _descendants.become_subreaper()
    result = _fileno(pipes.result)
    try:
        if isinstance(payload, Plan):
            plan = payload
        elif isinstance(payload, Shipped):
            plan = loads_payload(payload.data, payload.manifest)
        else:
            plan = loads_payload(payload, manifest)
        args, kwargs = plan.call_args(index)
    except BaseException as exc:
        _send(result, StartFailed(capture_exception(_without_own_frame(exc))))
        return
    thread = threading.current_thread()
    _send(result, Ready(os.getpid(), thread.ident, thread.name))
    if not os.read(_fileno(pipes.gate), 1):
        _send(result, Aborted())
        return
    before = set(threading.enumerate())
    started, cpu = time.monotonic(), time.process_time()
    status: Literal["ok", "raised"] = "ok"
    value: Any = None
    with warnings.catch_warnings(record=True) as caught:
        # The caller's filters, so that "error" raises here as it would in the caller. A forked
        # child has them already; installing them again would compile each filter's regex in
        # every child (about a sixth of a trivial fork worker's own CPU time, measured).
        if plan.warning_filters != picklable_filters():
            _install_filters(plan.warning_filters)
        try:
            value = plan.target(*args, **kwargs)
        except BaseException as exc:
            status, value = "raised", capture_exception(_without_own_frame(exc))
    finished, cpu_time = time.monotonic(), time.process_time() - cpu
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for stream in (sys.stdout, sys.stderr):
        # The target may have closed (or replaced) a stream: what it printed before has been
        # written through already, and a failing flush must not turn its return into a crash.
        with suppress(Exception):
            stream.flush()
    done = Done(
        status,
        value,
        (started, finished, cpu_time),
        warnings=tuple(_recorded(caught)),
        leaked_threads=tuple(t.name + (" (daemon)" if t.daemon else "") for t in leaked),
        descendants=tuple(_descendants.descendants()),
    )
    try:
        frame = pack(done)
    except Exception as exc:
        error = SendError(
            f"worker {index} returned {type(value).__name__} {_short_repr(value)}, which cannot "
            f"be sent back to the parent: {type(exc).__name__}: {exc}",
            what="the return value",
            obj_type=type(value).__name__,
        )
        frame = pack(done._replace(status="raised", value=capture_exception(error)))
    _write_all(result, frame)
    if any(not t.daemon for t in leaked):
        # Exiting normally would join them first: the parent would wait until its deadline.
        # The outcome names them instead, and the process ends now.
        os._exit(0)


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception:
        return "<unrepresentable>"
    return text if len(text) <= 80 else text[:77] + "..."
