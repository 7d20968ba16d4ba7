"""Per-thread capture of ``sys.stdout`` and ``sys.stderr`` for worker threads.

Threads share file descriptors, so only Python-level writes can be told apart: while at least one
thread-mode run is active, ``sys.stdout``/``sys.stderr`` are routers that send a registered worker
thread's writes to its own buffer and everything else to the stream that was there before.
"""

from __future__ import annotations

import io
import sys
import threading
from typing import Any, TextIO

__all__ = ["route_thread", "start_capture", "stop_capture", "unroute_thread"]

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
_stdout_buffers = _routers["stdout"]._buffers
_stderr_buffers = _routers["stderr"]._buffers


def start_capture() -> None:
    """Install the routers on ``sys.stdout``/``sys.stderr`` (counted: runs may overlap).

    Every call must be matched by one :func:`stop_capture`. Plain functions rather than a context
    manager: a thread run takes tens of microseconds, and a generator-based ``with`` is a
    measurable part of that (benchmarks/engine.py, thread mode, n = 1).
    """
    global _active
    with _lock:
        if _active == 0:
            for name, router in _routers.items():
                current = getattr(sys, name)
                _saved[name] = current
                router._fallback = current
                setattr(sys, name, router)
        _active += 1


def stop_capture() -> None:
    """Undo one :func:`start_capture`; the last one puts the previous streams back."""
    global _active
    with _lock:
        _active -= 1
        if _active == 0:
            for name in ("stdout", "stderr"):
                # Someone else may have replaced the stream meanwhile: leave theirs alone.
                if getattr(sys, name) is _routers[name]:
                    setattr(sys, name, _saved[name])
            _saved.clear()


def route_thread() -> tuple[list[str], list[str]]:
    """Route the calling thread's output to two fresh lists of strings (stdout, stderr).

    Call only between :func:`start_capture` and :func:`stop_capture`, and end with
    :func:`unroute_thread` in the same thread; ``"".join(...)`` gives the text.
    """
    out: list[str] = []
    err: list[str] = []
    ident = threading.get_ident()
    _stdout_buffers[ident] = out
    _stderr_buffers[ident] = err
    return out, err


def unroute_thread() -> None:
    """Send the calling thread's output back to the streams everyone else writes to."""
    ident = threading.get_ident()
    _stdout_buffers.pop(ident, None)
    _stderr_buffers.pop(ident, None)
