"""A counter that threads or processes can increment without losing updates.

:class:`SharedCounter` has two backends, chosen by its mode:

* **thread mode** keeps a plain :class:`int` guarded by a :class:`threading.Lock`. It is shared
  by the threads of one process only. It refuses to be pickled: a copy sent to another process
  would be a private counter whose increments never add up, which is the bug this project is
  about. Under the ``fork`` start method nothing is pickled, so a forked child silently gets its
  own copy of the memory, thread-mode counter included: that is the classic lesson "processes
  do not share memory"; use process mode to share across processes.
* **process mode** keeps the value in a 16-byte file that every user maps with :mod:`mmap`,
  and takes :func:`fcntl.flock` on that file around each read-modify-write, plus a
  :class:`threading.Lock` for the threads of one process (``flock`` locks belong to an open
  file description, so two threads sharing one descriptor would not exclude each other).

Why ``flock`` + ``mmap`` for increments
    An increment must cost about a microsecond (the target is a third of the speed of
    ``multiprocess.Value`` with ``get_lock()``). ``flock`` is two system calls, and the
    read-modify-write is one ``struct.unpack_from`` and one ``struct.pack_into`` on shared
    memory. Above all, the kernel releases a ``flock`` when the last descriptor of its holder
    closes, which includes the holder being killed with SIGKILL in the middle of an increment:
    the other workers go on. A ``multiprocess`` semaphore (what ``Value.get_lock()`` is) held
    by a killed process is never released, and every other worker deadlocks.

Why :mod:`filelock` only for creating and attaching
    ``filelock.FileLock`` polls ``flock`` and costs about 90 µs per acquire and release, a
    hundred times too slow for increments. It is the right tool where a lock must coordinate
    processes that share nothing but a path and where the cost is paid once:
    :meth:`SharedCounter.at` creates-or-attaches a counter at a path chosen by the caller (for
    instance one counter for all pytest-xdist workers). Holding the ``FileLock`` while looking
    at the file makes "create and initialise it if missing" race-free, and also makes a file
    left empty by a creator that crashed between creating and initialising it recognisable as
    such (nobody else can be initialising it at that moment), so it is initialised instead of
    being rejected. A new ``FileLock`` object is made for each call from the path: lock objects
    are never shared across ``fork``.

Fork
    After ``fork`` the child would share the parent's open file description, and ``flock``
    would then not exclude parent and child; and a child that keeps a descriptor of its parent's
    description would also keep the parent's lock alive if the parent were killed while holding
    it. So an :func:`os.register_at_fork` hook reopens the file and remaps it in the child for
    every live counter (a :class:`weakref.WeakSet`), and replaces the thread locks, which a
    parent thread may have held at the moment of the fork.

Pickling
    A process-mode counter pickles as a reference to its file, never as inherited descriptors,
    so it reaches workers under ``fork``, ``forkserver`` and ``spawn``, in arguments, closures or
    nested in other objects, and processes that never inherited anything from the creator: a
    pytest-xdist worker, or a child started with :mod:`subprocess` that is given the pickle.

Ownership and cleanup
    ``SharedCounter("process")`` creates its file in a private folder made by
    :func:`tempfile.mkdtemp` (mode 0700, so no other user can plant a symlink in it). The
    counter that created them owns them: the folder and the file are removed when that counter
    is closed, garbage-collected or at interpreter exit (:class:`weakref.finalize`), and only in
    the process that created them, never by a copy in a worker (a forked child holds a copy of
    the very same object, so the process id is checked). Before removing the file, the owner
    marks it closed, so a copy that is still attached fails with a clear :class:`ValueError`
    instead of counting into a deleted file; a copy unpickled after the file is gone fails the
    same way when used. Keep the owner open until the workers are done. A counter made with
    :meth:`SharedCounter.at` owns nothing: the caller chose the path and removes the file (and
    ``filelock``'s ``<path>.lock``, which stays after release) when it wants.

Windows
    There is no ``fcntl`` there. The module imports, thread mode works, and process mode raises
    :class:`NotImplementedError` saying so (the project runs on POSIX; ``msvcrt.locking`` could
    back it, untested here, so it is not pretended).

A counter has ``__int__`` but deliberately no ``__index__``: it is a live value that changes
under you, so it should not silently pass for a fixed integer in slices, ``range`` or
``struct``; write ``int(counter)`` or ``counter.value`` to take a snapshot.
"""

from __future__ import annotations

import contextlib
import mmap
import operator
import os
import stat
import struct
import sys
import tempfile
import threading
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import NoReturn, Protocol, SupportsIndex

from concur_lab._modes import Mode

__all__ = ["SharedCounter"]

if sys.platform != "win32":
    from fcntl import LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN, flock

    _FLOCK_AVAILABLE = True
else:  # pragma: no cover - the project runs on POSIX
    _FLOCK_AVAILABLE = False

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# File layout: signed 64-bit value, then a 64-bit tag saying whether the file is live.
_STATE = struct.Struct("<qQ")
_VALUE = struct.Struct("<q")
_SIZE = _STATE.size
_TAG_LIVE = int.from_bytes(b"concurC1", "little")
_TAG_CLOSED = int.from_bytes(b"concurX1", "little")
_FILE_NAME = "value"
_OPEN_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# The owner waits at most this long for a worker's lock before marking its file closed.
_CLOSE_LOCK_TIMEOUT = 5.0

# Bound once: the increment path looks them up as module globals (cheap, cached).
# Tests replace _pack_value inside a child to die while holding the lock.
_unpack_state = _STATE.unpack_from
_pack_value = _VALUE.pack_into


class _Guard(Protocol):
    def __enter__(self) -> object: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> object: ...


class _ClosedGuard:
    """Stands in for the lock of a closed counter, so every use raises without a per-call check."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __enter__(self) -> object:
        raise ValueError(self.message)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


def _as_int(value: object, where: str) -> int:
    """Return *value* as an int, or raise a TypeError naming it and *where* it was given."""
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise TypeError(f"{where} must be an int, not {type(value).__name__} ({value!r})")
    return operator.index(value)


def _check_int64(value: int, where: str) -> int:
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(
            f"{where} is {value}, outside the signed 64-bit range "
            f"[{_INT64_MIN}, {_INT64_MAX}] a SharedCounter holds"
        )
    return value


def _overflow(current: int, by: int) -> Exception:
    if not _INT64_MIN <= by <= _INT64_MAX:
        return ValueError(
            f"increment(by={by}) is outside the signed 64-bit range a SharedCounter holds"
        )
    return OverflowError(
        f"SharedCounter overflow: {current} + {by} = {current + by} is outside the signed "
        f"64-bit range [{_INT64_MIN}, {_INT64_MAX}]"
    )


# Every live counter of this process, so a forked child can give each its own lock and file.
_LIVE: weakref.WeakSet[SharedCounter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for counter in list(_LIVE):
        counter._after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


class SharedCounter:
    """An integer that workers increment atomically, in thread or process mode.

    ``SharedCounter()`` is a process-mode counter: shared by all processes that receive it,
    whatever the start method and however it reaches them (arguments, closures, inside other
    objects, or pickled to an unrelated process). ``SharedCounter("thread")`` is shared by the
    threads of this process and cannot be pickled. See the module documentation for the design.

    The value is a signed 64-bit integer, starting at 0. Close the counter (or use it as a
    context manager) when done; the counter that created the storage removes it then.

    :param mode: ``"thread"``, ``"process"``, ``"process:<start method>"`` or a
        :class:`~concur_lab.Mode`. The start method is only recorded: a process-mode counter
        works under all of them.
    :raises ModeError: If *mode* names no mode.
    :raises NotImplementedError: For process mode on a platform without ``fcntl`` (Windows).
    """

    _mode: Mode
    _lock: _Guard

    def __new__(cls, mode: Mode | str = "process") -> SharedCounter:
        if cls is SharedCounter:
            parsed = Mode.parse(mode)
            cls = _ThreadCounter if parsed.kind == "thread" else _ProcessCounter
        return object.__new__(cls)

    @classmethod
    def at(cls, path: str | os.PathLike[str], *, timeout: float = 60.0) -> SharedCounter:
        """Create a process-mode counter stored at *path*, or attach to the one already there.

        Any number of processes may call this at once with the same *path*, including processes
        that share nothing else (pytest-xdist workers): one creates and initialises the file to
        0, the others attach to it. A :class:`filelock.FileLock` on ``<path>.lock`` makes this
        race-free. The returned counter owns nothing: closing it never removes *path* or
        ``<path>.lock``; remove them yourself when no process uses the counter any more.

        :param path: File to hold the counter; its folder must exist. A symlink is refused.
        :param timeout: Seconds to wait for the creation lock.
        :returns: A process-mode counter.
        :raises TimeoutError: If the creation lock is not free within *timeout* seconds.
        :raises ValueError: If *path* exists but is not a counter file.
        :raises NotImplementedError: On a platform without ``fcntl`` (Windows).
        """
        return _ProcessCounter._create_at(Path(os.fspath(path)), timeout)

    @property
    def mode(self) -> Mode:
        """The mode the counter was made for."""
        return self._mode

    @property
    def path(self) -> str | None:
        """The file holding a process-mode counter's value, or ``None`` in thread mode."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called on this counter (or its storage was removed)."""
        return isinstance(self._lock, _ClosedGuard)

    def increment(self, by: int = 1) -> int:
        """Add *by* (default 1, may be negative) atomically and return the new value.

        :param by: Amount to add.
        :returns: The value right after this increment.
        :raises TypeError: If *by* is not an int.
        :raises OverflowError: If the result leaves the signed 64-bit range (nothing is added).
        :raises ValueError: If the counter is closed.
        """
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    @property
    def value(self) -> int:
        """The current value.

        :raises ValueError: If the counter is closed.
        """
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    def reset(self, value: int = 0) -> None:
        """Set the value to *value* (default 0).

        :param value: New value, a signed 64-bit int.
        :raises TypeError: If *value* is not an int.
        :raises ValueError: If *value* is out of range or the counter is closed.
        """
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    def close(self) -> None:
        """Stop using the counter; the counter that created the storage also removes it.

        Calling it again does nothing. Do not close a counter while other threads of this
        process still use it.
        """
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    def __int__(self) -> int:
        return self.value

    def __enter__(self) -> SharedCounter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"value={self._peek()}"
        where = f" path={self.path!r}" if self.path is not None else ""
        return f"<SharedCounter {self._mode.label} {state}{where}>"

    def _peek(self) -> int:
        """Read the value without locking, for ``repr`` (which must never block)."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides it

    def _after_fork(self) -> None:
        """Make this copy usable in a child created by ``fork``."""
        raise NotImplementedError  # pragma: no cover - every subclass overrides it


class _ThreadCounter(SharedCounter):
    """Thread mode: an int under a threading lock."""

    def __init__(self, mode: Mode | str = "thread") -> None:
        self._mode = Mode.parse(mode)
        self._value = 0
        self._lock = threading.Lock()
        _LIVE.add(self)

    @property
    def path(self) -> str | None:
        return None

    def increment(self, by: int = 1) -> int:
        if by.__class__ is not int:
            by = _as_int(by, "increment(by=...)")
        with self._lock:
            value = self._value + by
            if -0x8000000000000000 <= value <= 0x7FFFFFFFFFFFFFFF:
                self._value = value
                return value
            current = self._value
        raise _overflow(current, by)

    @property
    def value(self) -> int:
        with self._lock:
            return self._value

    def reset(self, value: int = 0) -> None:
        new = _check_int64(_as_int(value, "reset(value=...)"), "reset(value=...)")
        with self._lock:
            self._value = new

    def close(self) -> None:
        self._lock = _ClosedGuard("this thread-mode SharedCounter is closed")

    def _peek(self) -> int:
        return self._value

    def _after_fork(self) -> None:
        if not self.closed:
            self._lock = threading.Lock()

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        raise TypeError(
            "cannot pickle or copy a thread-mode SharedCounter: its value lives in this "
            "process's memory, so another process would get a private copy whose increments "
            "never add up; create it with SharedCounter('process') to share it between "
            "processes"
        )


class _Storage:
    """The file and mapping behind a process-mode counter, and who must remove them.

    Kept apart from the counter so that :class:`weakref.finalize` can release them without
    keeping the counter alive.
    """

    def __init__(self, path: Path, folder: Path | None) -> None:
        self.path = path
        #: The private folder to remove with the file, or None when the storage is not owned.
        self.folder = folder
        self.owner_pid = os.getpid() if folder is not None else None
        self.fd = -1
        self.mm: mmap.mmap | None = None

    def open(self) -> None:
        """Open and map the file; on failure nothing stays open."""
        fd = os.open(self.path, _OPEN_FLAGS)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size != _SIZE:
                raise ValueError(
                    f"{str(self.path)!r} is not a SharedCounter file "
                    f"(expected a regular file of {_SIZE} bytes)"
                )
            mm = mmap.mmap(fd, _SIZE)
        except BaseException:
            os.close(fd)
            raise
        self.fd, self.mm = fd, mm

    def close_handles(self) -> None:
        if self.mm is not None:
            self.mm.close()
            self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def release(self) -> None:
        """Close the handles and, in the creating process only, remove the file and folder."""
        self.close_handles()
        if self.folder is None or os.getpid() != self.owner_pid:
            return
        self._mark_closed()
        for remove, target in ((os.unlink, self.path), (os.rmdir, self.folder)):
            with contextlib.suppress(FileNotFoundError):
                remove(target)

    def _mark_closed(self) -> None:
        """Tag the file closed, so copies still attached to it fail instead of counting alone."""
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except OSError:
            return
        try:
            deadline = time.monotonic() + _CLOSE_LOCK_TIMEOUT
            while True:
                try:
                    flock(fd, LOCK_EX | LOCK_NB)
                    break
                except BlockingIOError:
                    # A stopped worker may hold the lock; remove the file anyway in the end.
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.001)
            os.pwrite(fd, _TAG_CLOSED.to_bytes(8, "little"), 8)
        finally:
            os.close(fd)  # also drops the lock


def _attach(path: str, mode: str) -> SharedCounter:
    """Unpickle a process-mode counter: attach to its file, or come back closed if it is gone."""
    counter = _ProcessCounter._new(Mode.parse(mode), _Storage(Path(path), None))
    try:
        counter._storage.open()
    except FileNotFoundError:
        counter._set_closed(counter._gone_message())
        return counter
    counter._bind()
    return counter


class _ProcessCounter(SharedCounter):
    """Process mode: a value in a mapped file, under flock and a threading lock."""

    _storage: _Storage
    _fd: int
    _mm: mmap.mmap

    def __init__(self, mode: Mode | str = "process") -> None:
        _require_flock()
        folder = Path(tempfile.mkdtemp(prefix="concur-lab-counter-"))
        storage = _Storage(folder / _FILE_NAME, folder)
        try:
            fd = os.open(storage.path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, _STATE.pack(0, _TAG_LIVE))
            finally:
                os.close(fd)
            storage.open()
        except BaseException:
            storage.release()
            raise
        self._setup(Mode.parse(mode), storage)
        self._bind()

    @classmethod
    def _new(cls, mode: Mode, storage: _Storage) -> _ProcessCounter:
        counter = object.__new__(cls)
        counter._setup(mode, storage)
        return counter

    @classmethod
    def _create_at(cls, path: Path, timeout: float) -> _ProcessCounter:
        _require_flock()
        from filelock import FileLock, Timeout

        lock_path = f"{path}.lock"
        try:
            with FileLock(lock_path, timeout=timeout):
                fd = os.open(path, _OPEN_FLAGS | os.O_CREAT, 0o600)
                try:
                    # Under the lock nobody else is initialising: an empty file was left by a
                    # creator that died before writing, so initialising it is safe.
                    if os.fstat(fd).st_size == 0:
                        os.pwrite(fd, _STATE.pack(0, _TAG_LIVE), 0)
                finally:
                    os.close(fd)
                storage = _Storage(path, None)
                storage.open()
        except Timeout:
            raise TimeoutError(
                f"SharedCounter.at({str(path)!r}): the creation lock {lock_path!r} was not free "
                f"within {timeout} s"
            ) from None
        assert storage.mm is not None
        tag = _unpack_state(storage.mm)[1]
        if tag != _TAG_LIVE:
            storage.close_handles()
            raise ValueError(f"{str(path)!r} is not a SharedCounter file (bad tag {tag:#x})")
        counter = cls._new(Mode.process(), storage)
        counter._bind()
        return counter

    def _setup(self, mode: Mode, storage: _Storage) -> None:
        self._mode = mode
        self._storage = storage
        self._finalizer = weakref.finalize(self, storage.release)
        self._fd = -1

    def _bind(self) -> None:
        """Copy the storage handles onto the counter (the increment path reads them directly)."""
        assert self._storage.mm is not None
        self._fd, self._mm = self._storage.fd, self._storage.mm
        self._lock = threading.Lock()
        _LIVE.add(self)

    def _set_closed(self, message: str) -> None:
        self._lock = _ClosedGuard(message)
        self._fd = -1

    def _gone_message(self) -> str:
        return (
            f"SharedCounter at {str(self._storage.path)!r} is closed: the counter that created "
            "it was closed or garbage-collected (or its file was removed); keep the creating "
            "counter open until every worker is done"
        )

    @property
    def path(self) -> str | None:
        return str(self._storage.path)

    def increment(self, by: int = 1) -> int:
        if by.__class__ is not int:
            by = _as_int(by, "increment(by=...)")
        with self._lock:
            fd = self._fd
            mm = self._mm
            flock(fd, LOCK_EX)
            try:
                value, tag = _unpack_state(mm)
                if tag != _TAG_LIVE:
                    raise ValueError(self._gone_message())
                new: int = value + by
                # pack_into range-checks the value: no Python-level comparison needed.
                _pack_value(mm, 0, new)
            except struct.error:
                raise _overflow(value, by) from None
            finally:
                flock(fd, LOCK_UN)
        return new

    @property
    def value(self) -> int:
        with self._lock:
            fd = self._fd
            flock(fd, LOCK_SH)
            try:
                value, tag = _unpack_state(self._mm)
            finally:
                flock(fd, LOCK_UN)
        if tag != _TAG_LIVE:
            raise ValueError(self._gone_message())
        return int(value)

    def reset(self, value: int = 0) -> None:
        new = _check_int64(_as_int(value, "reset(value=...)"), "reset(value=...)")
        with self._lock:
            fd = self._fd
            flock(fd, LOCK_EX)
            try:
                tag = _unpack_state(self._mm)[1]
                if tag != _TAG_LIVE:
                    raise ValueError(self._gone_message())
                _pack_value(self._mm, 0, new)
            finally:
                flock(fd, LOCK_UN)

    def close(self) -> None:
        guard = self._lock
        if isinstance(guard, _ClosedGuard):
            return
        with guard:
            self._set_closed(f"the SharedCounter at {self.path!r} is closed")
            self._finalizer()

    def _peek(self) -> int:
        return int(_unpack_state(self._mm)[0])

    def _after_fork(self) -> None:
        if self.closed:
            return
        storage = self._storage
        storage.close_handles()
        try:
            storage.open()
        except FileNotFoundError:
            self._set_closed(self._gone_message())
            return
        self._bind()

    def __reduce__(self) -> tuple[object, ...]:
        return (_attach, (str(self._storage.path), f"process:{self._mode.start_method}"))


def _require_flock() -> None:
    if not _FLOCK_AVAILABLE:  # pragma: no cover - the project runs on POSIX
        raise NotImplementedError(
            f"a process-mode SharedCounter needs fcntl.flock, which {sys.platform} lacks; "
            "use SharedCounter('thread') there"
        )
