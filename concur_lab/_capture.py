"""Per-thread capture of ``sys.stdout`` and ``sys.stderr`` for worker threads.

Threads share file descriptors, so only Python-level writes can be told apart: while at least one
thread-mode run is active, ``sys.stdout``/``sys.stderr`` are routers that send a registered worker
thread's writes to its own buffer and everything else to the stream that was there before.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

__all__ = ["capture_thread_output", "thread_buffers"]

_lock = threading.Lock()
_active = 0
_saved: dict[str, TextIO] = {}


class _Router(io.TextIOBase):
    """A text stream that writes to the calling thread's buffer if it has one."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._fallback: TextIO = getattr(sys, name)
        # A worker thread's writes, as a plain list: cheaper to make per worker than a StringIO.
        self._buffers: dict[int, list[str]] = {}

    def write(self, s: str) -> int:
        buffer = self._buffers.get(threading.get_ident())
        if buffer is None:
            return self._fallback.write(s)
        if not isinstance(s, str):
            raise TypeError(f"write() argument must be str, not {type(s).__name__}")
        buffer.append(s)
        return len(s)

    def flush(self) -> None:
        if threading.get_ident() not in self._buffers and not self._fallback.closed:
            self._fallback.flush()

    def close(self) -> None:
        # Never closed: the routers live as long as the interpreter, and IOBase's finalizer
        # would otherwise flush a stream that shutdown already closed (noise on stderr).
        return

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._fallback, "encoding", None) or "utf-8"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fallback, name)


# Created once and kept: building and destroying stream objects per run costs more than a run.
_routers = {name: _Router(name) for name in ("stdout", "stderr")}


@contextmanager
def capture_thread_output() -> Iterator[None]:
    """Install the routers on ``sys.stdout``/``sys.stderr`` for the duration of a run."""
    global _active
    with _lock:
        if _active == 0:
            for name, router in _routers.items():
                current = getattr(sys, name)
                _saved[name] = current
                router._fallback = current
                setattr(sys, name, router)
        _active += 1
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0:
                for name in ("stdout", "stderr"):
                    # Someone else may have replaced the stream meanwhile: leave theirs alone.
                    if getattr(sys, name) is _routers[name]:
                        setattr(sys, name, _saved[name])
                _saved.clear()


@contextmanager
def thread_buffers() -> Iterator[tuple[list[str], list[str]]]:
    """Route the calling thread's output to two fresh lists of strings (stdout, stderr).

    Must be used inside :func:`capture_thread_output`; ``"".join(...)`` gives the text.
    """
    out: list[str] = []
    err: list[str] = []
    ident = threading.get_ident()
    _routers["stdout"]._buffers[ident] = out
    _routers["stderr"]._buffers[ident] = err
    try:
        yield out, err
    finally:
        _routers["stdout"]._buffers.pop(ident, None)
        _routers["stderr"]._buffers.pop(ident, None)
