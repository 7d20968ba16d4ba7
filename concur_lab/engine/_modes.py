"""Mode values: run in threads, or in processes started with a given start method.

:data:`THREAD` is thread mode. ``PROCESS`` is process mode with the standard library's default
start method *at the moment it is read*: it is looked up on each access (module
``__getattr__``), so ``multiprocessing.set_start_method()`` called after this module was imported
is still honoured, like :meth:`Mode.process` does.
"""

from __future__ import annotations

import multiprocessing
import sys
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "PROCESS",
    "THREAD",
    "Mode",
    "ModeError",
    "available_start_methods",
    "default_start_method",
]

Kind = Literal["thread", "process"]
_KINDS: tuple[Kind, ...] = ("thread", "process")
_START_METHODS = ("fork", "forkserver", "spawn")


class ModeError(ValueError):
    """A mode, kind or start method that does not exist or that this platform lacks."""


def available_start_methods() -> tuple[str, ...]:
    """Return the start methods this platform offers, the default first.

    :returns: A subset of ``("fork", "forkserver", "spawn")``; only ``("spawn",)`` on Windows.
    """
    methods = multiprocessing.get_all_start_methods()
    return tuple(m for m in methods if m in _START_METHODS)


def default_start_method() -> str:
    """Return the standard library's default start method for this Python and platform.

    This is what :mod:`multiprocessing` would use: ``fork`` on Linux up to 3.13, ``forkserver`` on
    Linux from 3.14, ``spawn`` on macOS and Windows.
    It deliberately differs from :mod:`multiprocess`, whose default is still ``fork`` everywhere.
    """
    # Read without creating a context or fixing the global start method.
    return multiprocessing.get_start_method(allow_none=True) or available_start_methods()[0]


@dataclass(frozen=True, slots=True)
class Mode:
    """How workers run: threads of this process, or child processes of a start method.

    A mode compares equal to its kind as a string, so ``mode == "thread"`` works, and
    ``str(mode)`` is ``"thread"`` or ``"process"``.
    Build one with :meth:`thread`, :meth:`process` or :meth:`parse`.

    :ivar kind: ``"thread"`` or ``"process"``.
    :ivar start_method: ``"fork"``, ``"forkserver"`` or ``"spawn"`` for processes, ``None`` for
        threads.
    """

    kind: Kind
    start_method: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ModeError(f"unknown mode kind {self.kind!r}: expected 'thread' or 'process'")
        if self.kind == "thread":
            if self.start_method is not None:
                raise ModeError(f"thread mode takes no start method (got {self.start_method!r})")
            return
        if self.start_method is None:
            object.__setattr__(self, "start_method", default_start_method())
        elif self.start_method not in available_start_methods():
            raise ModeError(
                f"start method {self.start_method!r} is not available on {sys.platform}: "
                f"choose one of {', '.join(available_start_methods())}"
            )

    @classmethod
    def thread(cls) -> Mode:
        """Return thread mode: workers are threads of the calling process."""
        return cls("thread")

    @classmethod
    def process(cls, start_method: str | None = None) -> Mode:
        """Return process mode with *start_method* (default: :func:`default_start_method`).

        :raises ModeError: If the platform lacks *start_method*.
        """
        return cls("process", start_method)

    @classmethod
    def parse(cls, value: str | Mode) -> Mode:
        """Parse ``"thread"``, ``"process"``, ``"process:spawn"`` or a bare start method.

        :raises ModeError: If *value* names no mode or an unavailable start method.
        """
        if isinstance(value, Mode):
            return value
        if not isinstance(value, str):
            raise ModeError(f"a mode must be a string or a Mode, not {type(value).__name__}")
        text = value.strip().lower()
        kind, _, method = text.partition(":")
        if kind in _START_METHODS and not method:
            return cls.process(kind)
        if kind == "thread" and not method:
            return cls.thread()
        if kind == "process":
            return cls.process(method or None)
        raise ModeError(
            f"unknown mode {value!r}: expected 'thread', 'process' or 'process:<start method>' "
            f"with a start method among {', '.join(available_start_methods())}"
        )

    @property
    def shares_memory(self) -> bool:
        """Whether workers see the same objects as the caller (only threads do)."""
        return self.kind == "thread"

    @property
    def label(self) -> str:
        """Return ``"thread"`` or ``"process[<start method>]"``, for messages."""
        return self.kind if self.kind == "thread" else f"process[{self.start_method}]"

    def __str__(self) -> str:
        return self.kind

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.kind == other
        if isinstance(other, Mode):
            return (self.kind, self.start_method) == (other.kind, other.start_method)
        return NotImplemented

    def __hash__(self) -> int:
        # Equal to its kind as a string, so it must hash like that string.
        return hash(self.kind)


THREAD = Mode.thread()
"""Thread mode."""

#: Process mode with the standard library's default start method, looked up each time
#: ``PROCESS`` is read, so ``multiprocessing.set_start_method()`` after import is honoured.
PROCESS: Mode  # declared only: the module __getattr__ below provides the value


def __getattr__(name: str) -> Mode:
    # PROCESS is resolved at each use, never frozen at import (see the module docstring).
    if name == "PROCESS":
        return Mode.process()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
