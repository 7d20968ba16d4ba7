"""Thread mode: an int under a :class:`threading.Lock`, shared by the threads of one process."""

from __future__ import annotations

import threading
from typing import NoReturn, SupportsIndex

from concur_lab.counter._int64_range import as_int, check_int64, overflow
from concur_lab.counter._shared_counter import Closed, SharedCounter, public_name
from concur_lab.engine._modes import Mode

__all__ = ["ThreadCounter"]


@public_name
class ThreadCounter(SharedCounter):
    """Thread mode: an int under a threading lock."""

    def __init__(self, mode: Mode | str = "thread") -> None:
        self._mode = Mode.parse(mode)
        self._value = 0
        self._lock = threading.Lock()
        self._track()

    def increment(self, by: int = 1) -> int:
        if by.__class__ is not int:
            by = as_int(by, "increment(by=...)")
        with self._lock:
            value = self._value + by
            if -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
                self._value = value
                return value
            current = self._value
        raise overflow(current, by)

    @property
    def value(self) -> int:
        with self._lock:
            return self._value

    def reset(self, value: int = 0) -> None:
        new = check_int64(as_int(value, "reset(value=...)"), "reset(value=...)")
        with self._lock:
            self._value = new

    def close(self) -> None:
        self._become_closed("this thread-mode SharedCounter is closed")

    def _peek(self) -> int:
        return self._value

    def _after_fork(self) -> None:
        # A parent thread may have held the lock at the fork; the child's copy would stay locked.
        self._lock = threading.Lock()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            "cannot pickle or copy a thread-mode SharedCounter: its value lives in this "
            "process's memory, so another process would get a private copy whose increments "
            "never add up (a child started with 'fork' gets such a copy without pickling); "
            "create it with SharedCounter('process') to share it between processes"
        )


@public_name
class ClosedThreadCounter(Closed, ThreadCounter):
    """A closed thread-mode counter."""


ThreadCounter._closed_class = ClosedThreadCounter
ClosedThreadCounter._closed_class = ClosedThreadCounter
