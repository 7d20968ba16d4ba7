"""What became of each worker, and how failures are raised."""

from __future__ import annotations

import signal
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from concur_lab.engine._modes import Mode

__all__ = [
    "Status",
    "WorkerCrashed",
    "WorkerError",
    "WorkerOutcome",
    "WorkerStartError",
    "WorkerTimeout",
    "WorkerWarning",
    "outcome_of",
    "raise_for_outcomes",
    "reemit_warnings",
]

T = TypeVar("T")
Status = Literal["ok", "raised", "crashed", "timed_out", "not_started"]

_OUTCOME_ATTR = "__concur_outcome__"
# How much of a stack or of stderr a WorkerTimeout/WorkerCrashed shows as a note.
_NOTE_STACK_LINES = 60
_NOTE_STDERR_LINES = 20


class WorkerError(Exception):
    """Base class of failures that are about a worker rather than raised by its target."""


class WorkerCrashed(WorkerError):
    """A worker process ended without reporting a result: exit code, signal or segfault.

    :ivar exitcode: The process's exit code (negative: killed by that signal).
    :ivar signal: The signal's name (``"SIGKILL"``), or ``None``.
    :ivar stack: What faulthandler wrote, if anything.
    """

    def __init__(self, message: str, exitcode: int | None, signal: str | None, stack: str) -> None:
        super().__init__(message)
        self.exitcode = exitcode
        self.signal = signal
        self.stack = stack


class WorkerTimeout(WorkerError, TimeoutError):
    """A worker was still running at the run's deadline.

    :ivar stack: The worker's Python stack at the deadline.
    :ivar still_running: True for a thread, which cannot be killed; processes are killed.
    """

    def __init__(self, message: str, stack: str, still_running: bool) -> None:
        super().__init__(message)
        self.stack = stack
        self.still_running = still_running


class WorkerStartError(WorkerError):
    """A worker could not start, or its start was aborted because another worker failed to."""


@dataclass(frozen=True)
class WorkerWarning:
    """A warning a worker process recorded instead of showing it; see :func:`reemit_warnings`.

    :ivar category: The warning's class (:class:`UserWarning` when the worker's own class could
        not be found in the parent).
    :ivar message: The warning's text.
    :ivar filename: The file the warning points at.
    :ivar lineno: The line the warning points at.
    """

    category: type[Warning]
    message: str
    filename: str
    lineno: int


def reemit_warnings(outcomes: Iterable[WorkerOutcome[Any]]) -> None:
    """Issue again, in the calling thread, every warning the workers of *outcomes* recorded.

    Each goes through :func:`warnings.warn_explicit` with the worker's category, text, file and
    line, so the caller's filters, ``-W error``, and pytest's warnings summary apply to it as if
    it had been issued here. Only process workers record warnings (see
    ``WorkerOutcome.warnings``).

    :param outcomes: The outcomes of a run, e.g. from :func:`~concur_lab.run_outcomes`.
    :raises Warning: When a filter turns one of the warnings into an error.
    """
    for outcome in outcomes:
        for record in outcome.warnings:
            warnings.warn_explicit(record.message, record.category, record.filename, record.lineno)


def _tail(text: str, lines: int) -> str:
    kept = text.rstrip("\n").splitlines()
    if len(kept) <= lines:
        return "\n".join(kept)
    return "\n".join([f"... ({len(kept) - lines} earlier lines left out)", *kept[-lines:]])


def _signal_name(exitcode: int | None) -> str | None:
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


@dataclass(eq=False)
class WorkerOutcome(Generic[T]):
    """The outcome of one worker: its return value or what went wrong, and what it printed.

    :ivar index: The worker's index, 0 to ``n - 1``.
    :ivar n: How many workers the run had.
    :ivar mode: The run's :class:`~concur_lab.Mode`.
    :ivar status: ``"ok"``, ``"raised"``, ``"crashed"``, ``"timed_out"`` or ``"not_started"``.
    :ivar value: The return value (``None`` unless the status is ``"ok"``).
    :ivar exception: What the target raised (status ``"raised"``), as its original type.
    :ivar pid: The worker's process id.
    :ivar thread_ident: The worker thread's ident (the main thread's for processes).
    :ivar thread_name: The worker thread's name.
    :ivar exitcode: The process's exit code; ``None`` for threads.
    :ivar started: When the target started, as :func:`time.monotonic` (system-wide on Linux).
    :ivar finished: When the target ended, likewise.
    :ivar cpu_time: CPU seconds the worker used (its thread's, or its process's).
    :ivar stdout: What the worker printed to standard output.
    :ivar stderr: What the worker printed to standard error.
    :ivar stack: The worker's stack at a timeout, or faulthandler's output after a crash.
    :ivar still_running: True for a thread that was still running at the deadline.
    :ivar message: A one-line description of a failure that is not an exception of the target.
    :ivar warnings: Warnings a process worker's target issued, recorded under the caller's warning
        filters (a filter that turns a warning into an error makes the target raise it instead).
        Always empty in thread mode, where warnings take the normal, process-wide route: recording
        them would change the warning state of every thread. Re-issue them with
        :func:`reemit_warnings`.
    :ivar leaked_threads: Names of threads a process worker's target started that were still
        running when it returned (``" (daemon)"`` appended for daemon threads); the process is
        ended at once instead of waiting for them. Always empty in thread mode: such threads keep
        running in the caller's process, where the caller can see them.
    :ivar descendants: Processes a process worker started (children, grandchildren, ...) that
        were still running when its target returned, each as ``(pid, command line)``, parents
        first. They are left running (the run does not wait for them either); at a timeout
        they are killed with the worker, and named here all the same. Found on Linux only (each
        worker is the subreaper of its subtree, so grandchildren orphaned by a double fork or
        detached with ``setsid`` are found too), and not for a worker that crashed, nor what a
        descendant starts after the target returned. Always empty in thread mode, where such
        processes are the caller's own children.
    """

    index: int
    n: int
    mode: Mode
    status: Status = "not_started"
    value: T | None = None
    exception: BaseException | None = None
    pid: int | None = None
    thread_ident: int | None = None
    thread_name: str | None = None
    exitcode: int | None = None
    started: float | None = None
    finished: float | None = None
    cpu_time: float | None = None
    stdout: str = ""
    stderr: str = ""
    stack: str = ""
    still_running: bool = False
    message: str = ""
    # Tuples, not lists: a default that costs nothing per outcome (thread runs make many).
    warnings: tuple[WorkerWarning, ...] = ()
    leaked_threads: tuple[str, ...] = ()
    descendants: tuple[tuple[int, str], ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the target returned normally."""
        return self.status == "ok"

    @property
    def duration(self) -> float | None:
        """Seconds from the target's start to its end, if both are known."""
        if self.started is None or self.finished is None:
            return None
        return self.finished - self.started

    @property
    def signal(self) -> str | None:
        """The name of the signal that killed the process (``"SIGKILL"``), or ``None``."""
        return _signal_name(self.exitcode)

    @property
    def label(self) -> str:
        """Return ``"worker 2 of 4 (process[spawn], pid 123)"``, for messages."""
        where = f", pid {self.pid}" if self.pid is not None and self.mode.kind == "process" else ""
        return f"worker {self.index} of {self.n} ({self.mode.label}{where})"

    def describe(self) -> str:
        """Return one line: the label and what happened."""
        if self.status == "ok":
            return f"{self.label}: returned {self.value!r}"
        if self.status == "raised" and self.exception is not None:
            return f"{self.label}: raised {type(self.exception).__name__}: {self.exception}"
        return f"{self.label}: {self.message}"

    @property
    def error(self) -> BaseException | None:
        """The exception that stands for this outcome's failure, ``None`` if it is ok.

        The target's own exception when it raised; otherwise a :class:`WorkerCrashed`,
        :class:`WorkerTimeout` or :class:`WorkerStartError`.
        Either way it carries a note naming the worker, and :func:`outcome_of` finds this outcome.
        A crash's and a timeout's exception also carry the worker's stack (and a crash the last
        lines the worker wrote to stderr) as notes, so that tracebacks show them.
        """
        if self.status == "ok":
            return None
        exc: BaseException
        if self.status == "raised" and self.exception is not None:
            exc = self.exception
        elif self.status == "crashed":
            exc = WorkerCrashed(
                f"{self.label} {self.message}", self.exitcode, self.signal, self.stack
            )
            self._add_diagnostics(exc, stderr=True)
        elif self.status == "timed_out":
            exc = WorkerTimeout(f"{self.label} {self.message}", self.stack, self.still_running)
            self._add_diagnostics(exc, stderr=False)
        else:
            exc = WorkerStartError(f"{self.label} {self.message}")
            exc.__cause__ = self.exception
        if getattr(exc, _OUTCOME_ATTR, None) is not self:
            try:
                setattr(exc, _OUTCOME_ATTR, self)
                if self.status == "raised":
                    exc.add_note(f"raised in {self.label}")
            except (AttributeError, TypeError):
                pass
        return exc

    def _add_diagnostics(self, exc: BaseException, *, stderr: bool) -> None:
        if self.stack.strip():
            exc.add_note(f"stack of {self.label}:\n{_tail(self.stack, _NOTE_STACK_LINES)}")
        if stderr and self.stderr.strip():
            exc.add_note(
                f"last lines {self.label} wrote to stderr:\n"
                f"{_tail(self.stderr, _NOTE_STDERR_LINES)}"
            )


def outcome_of(exc: BaseException) -> WorkerOutcome[Any] | None:
    """Return the :class:`WorkerOutcome` that *exc* was raised for, if it came from a worker."""
    outcome = getattr(exc, _OUTCOME_ATTR, None)
    return outcome if isinstance(outcome, WorkerOutcome) else None


def raise_for_outcomes(outcomes: Sequence[WorkerOutcome[Any]]) -> None:
    """Raise as :func:`~concur_lab.run_workers` does when some of *outcomes* failed.

    One failed worker: its own exception (original type), with a note naming the worker.
    Several: an :class:`ExceptionGroup` (or :class:`BaseExceptionGroup`) with one entry each, in
    worker order.
    """
    errors = [error for o in outcomes if (error := o.error) is not None]
    if not errors:
        return
    if len(errors) == 1:
        raise errors[0]
    mode = outcomes[0].mode.label
    raise BaseExceptionGroup(f"{len(errors)} of {len(outcomes)} workers failed ({mode})", errors)
