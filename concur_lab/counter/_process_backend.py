"""Process mode: a value in a mapped file, under a lock the kernel releases when its holder dies.

Two backends share the file format (:mod:`concur_lab.counter._file_layout`): a robust process-shared
mutex in the mapping where the C library has one, ``flock`` on the file elsewhere. Each file
records its backend, so every process that attaches to it uses the same lock.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

from concur_lab.counter._file_layout import (
    FLOCK_AVAILABLE,
    SIZE,
    TAG_FLOCK,
    TAG_MUTEX,
    Storage,
    StorageGone,
    initialise,
    is_untagged,
    own,
    require_backend,
)
from concur_lab.counter._int64_range import as_int, check_int64, overflow
from concur_lab.counter._robust_mutex import PTHREAD, acquire, acquire_contended
from concur_lab.counter._shared_counter import Closed, SharedCounter, public_name
from concur_lab.engine._modes import Mode

if sys.platform != "win32":
    from fcntl import LOCK_EX, LOCK_SH, LOCK_UN, flock

__all__ = ["ProcessCounter", "attach"]

# Bound once: the increment path looks them up as module globals (cheap, cached).
if PTHREAD is not None:
    _mutex_trylock = PTHREAD.trylock
    _mutex_unlock = PTHREAD.unlock
# The lock backing new process-mode counters; tests switch it to cover both.
_DEFAULT_BACKEND: str | None = (
    "mutex" if PTHREAD is not None else "flock" if FLOCK_AVAILABLE else None
)
_FILE_NAME = "value"
_OPEN_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def attach(path: str, mode: str) -> SharedCounter:
    """Unpickle a process-mode counter: attach to its file, or come back closed if it is gone."""
    storage = Storage(Path(path), None)
    try:
        storage.open()
    except StorageGone:
        counter = object.__new__(ClosedProcessCounter)
        counter._mode = Mode.parse(mode)
        counter._storage = storage
        counter._closed_message = counter._gone_message()
        return counter
    return ProcessCounter._wrap(Mode.parse(mode), storage)


class ProcessCounter(SharedCounter):
    """Process mode. Instances are of a backend subclass; this class creates them."""

    _storage: Storage
    _backend = ""

    def __new__(cls, mode: Mode | str = "process") -> ProcessCounter:
        backend = require_backend(_DEFAULT_BACKEND)
        return object.__new__(MutexCounter if backend == "mutex" else FlockCounter)

    def __init__(self, mode: Mode | str = "process") -> None:
        parsed = Mode.parse(mode)
        # mkdtemp makes the folder 0700: no other user can plant a symlink in it.
        folder = Path(tempfile.mkdtemp(prefix="concur-lab-counter-"))
        storage = Storage(folder / _FILE_NAME, folder)
        try:
            fd = os.open(storage.path, _OPEN_FLAGS | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                initialise(fd, self._backend)
            finally:
                os.close(fd)
            storage.open()
        except BaseException:
            storage.release()
            raise
        self._setup(parsed, storage)
        own(self, storage)

    @classmethod
    def _wrap(cls, mode: Mode, storage: Storage) -> ProcessCounter:
        subclass = MutexCounter if storage.backend == "mutex" else FlockCounter
        counter: ProcessCounter = object.__new__(subclass)
        counter._setup(mode, storage)
        return counter

    @classmethod
    def create_at(cls, path: Path, timeout: float) -> ProcessCounter:
        """Do :meth:`SharedCounter.at`."""
        backend = require_backend(_DEFAULT_BACKEND)
        from filelock import FileLock, Timeout

        lock_path = f"{path}.lock"
        storage = Storage(path, None)
        try:
            # A new FileLock object each time: lock objects must never be shared across fork.
            with FileLock(lock_path, timeout=timeout):
                fd = os.open(path, _OPEN_FLAGS | os.O_CREAT, 0o600)
                try:
                    # Under the lock nobody else is initialising, so an empty file, or a full
                    # size one still without a tag, was left by a creator that died half-way:
                    # initialising it is safe. Anything else is validated by open(), never
                    # overwritten.
                    size = os.fstat(fd).st_size
                    if size == 0 or (size == SIZE and is_untagged(fd)):
                        initialise(fd, backend)
                finally:
                    os.close(fd)
                storage.open()
        except Timeout:
            raise TimeoutError(
                f"SharedCounter.at({str(path)!r}): the creation lock {lock_path!r} was not free "
                f"within {timeout} s"
            ) from None
        except StorageGone:
            raise ValueError(
                f"SharedCounter.at({str(path)!r}): the file is marked closed; remove it first"
            ) from None
        return cls._wrap(Mode.process(), storage)

    def _setup(self, mode: Mode, storage: Storage) -> None:
        self._mode = mode
        self._storage = storage
        self._bind()
        self._track()

    def _bind(self) -> None:
        """Copy the storage's cells onto the counter: the hot paths read them directly."""
        self._cell = self._storage.value
        self._tag = self._storage.tag

    def _gone_message(self) -> str:
        return (
            f"SharedCounter at {str(self._storage.path)!r} is closed: the counter that created "
            "it was closed or garbage-collected (a counter created in a process worker is "
            "removed when that worker ends), or its file was removed; keep the creating "
            "counter open until every worker is done"
        )

    @property
    def path(self) -> str | None:
        return str(self._storage.path)

    @property
    def closed(self) -> bool:
        # An unlocked read is enough: the tag is one aligned 8-byte word.
        if self._tag.value in (TAG_MUTEX, TAG_FLOCK):
            return False
        self._become_closed(self._gone_message())
        return True

    def close(self) -> None:
        self._become_closed(f"the SharedCounter at {self.path!r} is closed")
        # The mapping stays until garbage collection: a thread still inside increment() must
        # find a closed tag, never an unmapped page.
        self._storage.remove_files()

    def _peek(self) -> int:
        return self._cell.value

    def __reduce__(self) -> tuple[object, ...]:
        return (attach, (str(self._storage.path), f"process:{self._mode.start_method}"))


@public_name
class MutexCounter(ProcessCounter):
    """Process mode under a robust process-shared pthread mutex in the mapping.

    The mutex also excludes the threads of one process, because its owner is a thread.
    """

    _backend = "mutex"

    def _bind(self) -> None:
        super()._bind()
        self._mutex = self._storage.mutex

    def increment(self, by: int = 1) -> int:
        if by.__class__ is not int:
            by = as_int(by, "increment(by=...)")
        mutex = self._mutex
        # acquire(mutex), inlined: this is the hot path.
        code = _mutex_trylock(mutex)
        if code:
            acquire_contended(code, mutex)
        try:
            if self._tag.value != TAG_MUTEX:
                raise ValueError(self._gone_message())
            cell = self._cell
            value = cell.value
            new = value + by
            if not -0x8000000000000000 <= new <= 0x7FFFFFFFFFFFFFFF:
                raise overflow(value, by)
            cell.value = new  # one aligned 8-byte store: a kill leaves the old value or new
        finally:
            _mutex_unlock(mutex)
        return new

    @property
    def value(self) -> int:
        mutex = self._mutex
        acquire(mutex)
        try:
            tag, value = self._tag.value, self._cell.value
        finally:
            _mutex_unlock(mutex)
        if tag != TAG_MUTEX:
            raise ValueError(self._gone_message())
        return value

    def reset(self, value: int = 0) -> None:
        new = check_int64(as_int(value, "reset(value=...)"), "reset(value=...)")
        mutex = self._mutex
        acquire(mutex)
        try:
            if self._tag.value != TAG_MUTEX:
                raise ValueError(self._gone_message())
            self._cell.value = new
        finally:
            _mutex_unlock(mutex)


@public_name
class FlockCounter(ProcessCounter):
    """Process mode under ``flock`` on the file, plus a threading lock for this process.

    A ``flock`` lock belongs to an open file description, which the threads of a process share,
    so it does not exclude them from each other: the threading lock does.
    """

    _backend = "flock"

    def _bind(self) -> None:
        super()._bind()
        self._fd = self._storage.fd
        self._lock = threading.Lock()

    def increment(self, by: int = 1) -> int:
        if by.__class__ is not int:
            by = as_int(by, "increment(by=...)")
        with self._lock:
            fd = self._fd
            flock(fd, LOCK_EX)
            try:
                if self._tag.value != TAG_FLOCK:
                    raise ValueError(self._gone_message())
                cell = self._cell
                value = cell.value
                new = value + by
                if not -0x8000000000000000 <= new <= 0x7FFFFFFFFFFFFFFF:
                    raise overflow(value, by)
                cell.value = new  # one aligned 8-byte store
            finally:
                flock(fd, LOCK_UN)
        return new

    @property
    def value(self) -> int:
        with self._lock:
            fd = self._fd
            flock(fd, LOCK_SH)
            try:
                tag, value = self._tag.value, self._cell.value
            finally:
                flock(fd, LOCK_UN)
        if tag != TAG_FLOCK:
            raise ValueError(self._gone_message())
        return value

    def reset(self, value: int = 0) -> None:
        new = check_int64(as_int(value, "reset(value=...)"), "reset(value=...)")
        with self._lock:
            fd = self._fd
            flock(fd, LOCK_EX)
            try:
                if self._tag.value != TAG_FLOCK:
                    raise ValueError(self._gone_message())
                self._cell.value = new
            finally:
                flock(fd, LOCK_UN)

    def close(self) -> None:
        with self._lock:
            super().close()

    def _after_fork(self) -> None:
        # The inherited descriptor (and the mapping's duplicate of it) share the parent's open
        # file description: flock would not exclude parent and child, and a parent killed
        # holding the lock would leave it held through the child's descriptor. Reopen both.
        storage = self._storage
        storage.close_handles()
        try:
            storage.open()
        except StorageGone:
            self._become_closed(self._gone_message())
        self._bind()  # after a failed open, to harmless cells that no mapping backs


@public_name
class ClosedProcessCounter(Closed, ProcessCounter):
    """A closed process-mode counter (its storage stays referenced for repr and pickling)."""


MutexCounter._closed_class = ClosedProcessCounter
FlockCounter._closed_class = ClosedProcessCounter
ClosedProcessCounter._closed_class = ClosedProcessCounter
