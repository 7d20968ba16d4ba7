"""Shared helpers for the demos: one kit of primitives per mode, bounded waits, tidy clean-up.

A demo written against :class:`Kit` runs unchanged in thread mode (``threading`` objects) and in
process mode (objects of ``multiprocess.get_context(mode.start_method)``), the way CPython's own
multiprocessing tests bind one test body to several back ends. Every wait here has a timeout, and
:meth:`Kit.workers` never leaves a worker behind: it joins with a deadline and kills what is left.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import multiprocess

from concur_lab import Mode, WorkerOutcome, raise_for_outcomes

__all__ = [
    "PROBE",
    "WAIT",
    "Cell",
    "Kit",
    "SpanRecorder",
    "attempt",
    "describe",
    "listing",
    "proc_stat",
    "scratch_dir",
    "scratch_file",
    "stdlib_start",
    "subreaper",
    "thread_exceptions",
    "values",
    "wait_until",
    "worker_count",
]

WAIT = 15.0
"""Seconds to wait for something that must happen (generous: 2 busy cores, spawn start-up)."""

PROBE = 0.2
"""Seconds to wait for something that must *not* happen (a lock that stays held, say).

A probe that times out is the observation, so its length does not change the result, only the
run time.
"""


def describe(exc: BaseException) -> dict[str, str]:
    """Return an exception as ``{"type": ..., "message": ...}`` for a JSON result.

    :param exc: The exception to describe.
    :returns: Its class name and its message.
    """
    return {"type": type(exc).__name__, "message": str(exc)}


def attempt(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """Call *fn* and describe what happened.

    :param fn: The callable to try.
    :returns: ``{"raised": type name, "message": ...}``, or ``{"returned": value}`` where value is
        the result if it is a JSON scalar and its type name otherwise.
    """
    try:
        value = fn(*args, **kwargs)
    except Exception as exc:  # the exception *is* the observation
        return {"raised": type(exc).__name__, "message": str(exc)}
    if value is None or isinstance(value, bool | int | float | str):
        return {"returned": value}
    return {"returned": type(value).__name__}


class Cell:
    """A number shared by threads with the interface of ``multiprocess.Value``.

    ``value`` reads and writes each take the lock, as a synchronized ``Value`` does, so ``cell.value
    += 1`` is two critical sections, not one; :meth:`get_lock` returns that lock for the fix.
    """

    def __init__(self, value: int = 0) -> None:
        self._value = value
        self._lock = threading.RLock()

    @property
    def value(self) -> int:
        """The current value (read under the lock)."""
        with self._lock:
            return self._value

    @value.setter
    def value(self, new: int) -> None:
        with self._lock:
            self._value = new

    def get_lock(self) -> threading.RLock:
        """Return the lock that guards each read and write."""
        return self._lock


class _Inbox:
    """Observations sent by workers to the demo, read with a deadline."""

    def __init__(self, kit: Kit) -> None:
        self._queue: Any = queue.Queue() if kit.ctx is None else kit.ctx.Queue()
        self._process = kit.ctx is not None

    def put(self, item: Any) -> None:
        """Send *item* to the demo (called in a worker)."""
        self._queue.put(item)

    def get(self, timeout: float = WAIT, watch: Sequence[Any] = ()) -> Any:
        """Return the next item, waiting at most *timeout* seconds.

        :param watch: Workers expected to send; if all of them have ended and nothing is left to
            read, give up early instead of waiting out the timeout.
        :raises TimeoutError: If nothing arrives in time (or every watched worker ended first).
        """
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            step = min(left, 0.05) if watch else left
            try:
                return self._queue.get(timeout=max(step, 0.0))
            except queue.Empty:
                pass
            if watch and not any(w.is_alive() for w in watch):
                try:  # a last look: the final item may have landed as the worker ended
                    return self._queue.get(timeout=0.2)
                except queue.Empty:
                    codes = [getattr(w, "exitcode", None) for w in watch]
                    raise TimeoutError(
                        f"workers ended without reporting (exit codes {codes})"
                    ) from None
            if left <= 0:
                raise TimeoutError(f"no observation arrived within {timeout} s")

    def collect(self, n: int, timeout: float = WAIT, watch: Sequence[Any] = ()) -> list[Any]:
        """Return *n* items, waiting at most *timeout* seconds in all.

        :param watch: As for :meth:`get`.
        :raises TimeoutError: If fewer than *n* arrive in time.
        """
        deadline = time.monotonic() + timeout
        items = []
        for i in range(n):
            left = max(deadline - time.monotonic(), 0.0)
            try:
                items.append(self.get(left, watch))
            except TimeoutError as exc:
                raise TimeoutError(f"only {i} of {n} observations arrived: {exc}") from None
        return items

    def close(self) -> None:
        """Release the queue's pipe and feeder thread (process mode only)."""
        if self._process:
            self._queue.close()
            self._queue.join_thread()


@dataclass
class _Crew:
    """The workers one ``with kit.workers()`` block started."""

    kit: Kit
    handles: list[Any] = field(default_factory=list)

    def start(
        self,
        target: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        daemon: bool | None = None,
    ) -> Any:
        """Start one worker running ``target(*args)`` and return its Thread or Process."""
        handle = self.kit.worker(target, *args, name=name, daemon=daemon)
        self.handles.append(handle)
        handle.start()
        return handle

    def adopt(self, handle: Any) -> Any:
        """Take charge of *handle*, a worker made elsewhere: join or kill it at the end."""
        self.handles.append(handle)
        return handle

    def join(self, timeout: float = WAIT) -> list[Any]:
        """Join every worker within *timeout* seconds in all; return the ones still alive."""
        deadline = time.monotonic() + timeout
        for handle in self.handles:
            with contextlib.suppress(ValueError):  # a Process already close()d by the demo
                handle.join(max(deadline - time.monotonic(), 0.0))
        return [h for h in self.handles if _alive(h)]


def _alive(handle: Any) -> bool:
    try:
        return bool(handle.is_alive())
    except ValueError:  # a closed Process object: it was joined before it could be closed
        return False


@dataclass(frozen=True)
class Kit:
    """The synchronisation primitives and worker factory of one mode.

    :ivar mode: The mode this kit serves.
    :ivar ctx: The ``multiprocess`` context of the mode's start method, ``None`` in thread mode.
    """

    mode: Mode
    ctx: Any

    @classmethod
    def of(cls, mode: Mode) -> Kit:
        """Return the kit for *mode*."""
        ctx = None if mode.kind == "thread" else multiprocess.get_context(mode.start_method)
        return cls(mode, ctx)

    @property
    def threads(self) -> bool:
        """Whether workers are threads."""
        return self.ctx is None

    def Event(self) -> Any:
        """Return a new Event for this mode."""
        return threading.Event() if self.ctx is None else self.ctx.Event()

    def Lock(self) -> Any:
        """Return a new Lock for this mode."""
        return threading.Lock() if self.ctx is None else self.ctx.Lock()

    def Barrier(self, parties: int, timeout: float = WAIT) -> Any:
        """Return a Barrier for *parties* whose waits give up after *timeout* seconds."""
        if self.ctx is None:
            return threading.Barrier(parties, timeout=timeout)
        return self.ctx.Barrier(parties, timeout=timeout)

    def Semaphore(self, value: int = 1) -> Any:
        """Return a new Semaphore for this mode."""
        return threading.Semaphore(value) if self.ctx is None else self.ctx.Semaphore(value)

    def Value(self, value: int = 0, *, lock: bool = True) -> Any:
        """Return a shared integer: a :class:`Cell` for threads, a ``ctx.Value('q')`` for processes.

        :param lock: For processes, whether reads and writes take the value's lock (a synchronized
            wrapper) or not (a raw shared integer). Threads always get a :class:`Cell`.
        """
        if self.ctx is None:
            return Cell(value)
        return self.ctx.Value("q", value, lock=lock)

    def inbox(self) -> _Inbox:
        """Return a channel for observations from workers to the demo."""
        return _Inbox(self)

    def worker(
        self,
        target: Callable[..., Any],
        *args: Any,
        name: str | None = None,
        daemon: bool | None = None,
    ) -> Any:
        """Return an unstarted Thread or Process that will run ``target(*args)``."""
        if self.ctx is None:
            return threading.Thread(target=target, args=args, name=name, daemon=daemon)
        return self.ctx.Process(target=target, args=args, name=name, daemon=daemon)

    @contextlib.contextmanager
    def workers(self, timeout: float = WAIT) -> Iterator[_Crew]:
        """Start workers inside the block; on leaving it, join them all or kill what is left.

        Threads cannot be killed, which is why every wait a demo's thread makes has a timeout of
        its own: a thread still alive after *timeout* is a bug in the demo and raises.

        :param timeout: Seconds to wait in all for the workers to finish after the block.
        :raises RuntimeError: If a thread is still alive after *timeout*.
        """
        crew = _Crew(self)
        try:
            yield crew
        finally:
            alive = crew.join(timeout)
            for handle in alive:
                if not self.threads:
                    handle.kill()
                    handle.join(WAIT)
            for handle in crew.handles:
                if not self.threads:
                    with contextlib.suppress(ValueError):  # a child the kill did not end
                        handle.close()
            if alive and self.threads:
                names = ", ".join(h.name for h in alive)
                raise RuntimeError(f"demo threads still alive after {timeout} s: {names}")


@contextlib.contextmanager
def thread_exceptions() -> Iterator[list[dict[str, str]]]:
    """Record exceptions that escape threads during the block instead of printing them.

    Yields a list that fills with ``{"thread": name, "type": ..., "message": ...}``, one entry per
    call of :func:`threading.excepthook`, including the ``SystemExit`` that the default hook
    silently ignores. The previous hook is restored on exit.
    """
    caught: list[dict[str, str]] = []
    previous = threading.excepthook

    def record(args: threading.ExceptHookArgs) -> None:
        caught.append(
            {
                "thread": args.thread.name if args.thread is not None else "?",
                "type": args.exc_type.__name__,
                "message": str(args.exc_value),
            }
        )

    threading.excepthook = record
    try:
        yield caught
    finally:
        threading.excepthook = previous


def wait_until(predicate: Callable[[], bool], timeout: float = WAIT, step: float = 0.005) -> bool:
    """Poll *predicate* until it is true or *timeout* seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def proc_stat(pid: int) -> tuple[str, int] | None:
    """Return ``(state, ppid)`` of *pid* from ``/proc`` on Linux, or ``None`` if it is gone.

    ``state`` is the one-letter code of ``ps``: ``R``, ``S``, ``Z`` (zombie: dead, not yet reaped).
    """
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            text = f.read()
    except OSError:
        return None
    # The command name sits in parentheses and may contain spaces: split after the last ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return fields[0], int(fields[1])


_PR_SET_CHILD_SUBREAPER = 36


@contextlib.contextmanager
def subreaper() -> Iterator[bool]:
    """Make this process a child subreaper (Linux) for the block; yield whether that worked.

    Orphaned descendants are then re-parented to this process instead of PID 1, so a demo can reap
    the orphans it creates with :func:`os.waitpid` even where PID 1 never reaps (containers without
    an init).
    """
    libc: Any = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            libc = ctypes.CDLL(None, use_errno=True)
    if libc is None or libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        yield False
        return
    try:
        yield True
    finally:
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0)


@contextlib.contextmanager
def scratch_dir() -> Iterator[str]:
    """Yield the path of a new empty directory that is removed, with its contents, afterwards."""
    path = tempfile.mkdtemp(prefix="concur-lab-")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def scratch_file(suffix: str = ".txt") -> Iterator[str]:
    """Yield the path of a new empty file that is removed when the block ends."""
    fd, path = tempfile.mkstemp(prefix="concur-lab-", suffix=suffix)
    os.close(fd)
    try:
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


class SpanRecorder:
    """Collect timeline spans with times relative to the start of a run.

    Workers take ``time.monotonic()`` readings, which on Linux are comparable across processes,
    and the demo turns them into spans ``{"worker", "name", "start", "end", "kind"}``.
    """

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.spans: list[dict[str, Any]] = []

    def add(self, worker: int, name: str, start: float, end: float, kind: str = "busy") -> None:
        """Record one span given absolute ``time.monotonic()`` readings.

        The default kind, ``"busy"``, says the worker was in that step without claiming it was on
        a CPU the whole time (a thread may have been waiting for the GIL): only the GIL demos
        measure ``"running"``.
        """
        self.spans.append(
            {
                "worker": worker,
                "name": name,
                "start": round(start - self.t0, 6),
                "end": round(end - self.t0, 6),
                "kind": kind,
            }
        )

    def add_outcomes(self, outcomes: Sequence[WorkerOutcome[Any]], name: str) -> None:
        """Record one span per engine outcome that has both a start and an end."""
        for outcome in outcomes:
            if outcome.started is not None and outcome.finished is not None:
                self.add(outcome.index, name, outcome.started, outcome.finished)

    def sorted(self) -> list[dict[str, Any]]:
        """Return the spans ordered by start time."""
        return sorted(self.spans, key=lambda s: (s["start"], s["worker"]))


def worker_count(workers: int | None, default: int) -> int:
    """Return *workers*, or *default* when it is ``None``.

    :raises ValueError: If *workers* is less than 1.
    """
    if workers is None:
        return default
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    return workers


def values(outcomes: Sequence[WorkerOutcome[Any]]) -> list[Any]:
    """Return the workers' return values, raising as :func:`concur_lab.run_workers` would.

    :raises Exception: The failed worker's own exception, or a group of them.
    """
    raise_for_outcomes(outcomes)
    return [outcome.value for outcome in outcomes]


def listing(values: Sequence[Any]) -> str:
    """Return *values* as a short comma-separated string for a summary line."""
    return ", ".join(str(v) for v in values)


_STDLIB_START = """
import json, multiprocessing, re, sys, threading

def noop(*args):
    pass

case, outcomes = sys.argv[1], {}
for method in sys.argv[2:]:
    if method not in multiprocessing.get_all_start_methods():
        outcomes[method] = "not available"
        continue
    ctx = multiprocessing.get_context(method)
    if case == "lock":
        child = ctx.Process(target=noop, args=(threading.Lock(),))
    else:
        child = ctx.Process(target=lambda: None)
    try:
        child.start()
    except Exception as exc:
        # Without the object's address, so that runs compare equal.
        message = re.sub(r" at 0x[0-9a-f]+", "", str(exc))
        outcomes[method] = f"start() raised {type(exc).__name__}: {message}"
        continue
    child.join(10)
    if child.is_alive():
        child.kill()
        child.join(5)
    outcomes[method] = f"started; exitcode {child.exitcode}"
print(json.dumps(outcomes))
"""


def stdlib_start(case: str, methods: Sequence[str] = ("spawn", "forkserver")) -> Any:
    """Start a stdlib :mod:`multiprocessing` child per start method and say what happened.

    The demos use ``multiprocess``, whose ``dill`` pickles what the standard library's ``pickle``
    refuses; this shows what a ``multiprocessing`` user gets instead. It runs in a fresh
    interpreter, so that no stdlib helper process (the resource tracker, the fork server) outlives
    it, and within :data:`WAIT` seconds.

    :param case: ``"lock"`` (a :class:`threading.Lock` argument) or ``"lambda"`` (a lambda target).
    :param methods: The start methods to try.
    :returns: ``{method: what start() did}``, or a string saying why nothing could be observed.
    """
    try:
        done = subprocess.run(
            [sys.executable, "-c", _STDLIB_START, case, *methods],
            capture_output=True, text=True, timeout=WAIT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not observed: {type(exc).__name__}: {exc}"
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit status {done.returncode}"]
        return f"not observed: {last[0]}"
    return json.loads(lines[-1])
