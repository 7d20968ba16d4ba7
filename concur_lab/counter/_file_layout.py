"""The file behind a process-mode counter: its layout, its mapping, and who removes it.

The file is 128 bytes: the signed 64-bit value at offset 0, a 64-bit tag at offset 8 that names
the lock backend (or says the owner closed the file), and the robust mutex, if any, at offset 64.
Every process maps it with :mod:`mmap` and reads and writes the value and the tag through
:mod:`ctypes` cells at the mapping's address. Assigning to a cell copies all 8 bytes at once to
an aligned address (a fixed-size ``memcpy``, one store instruction), so a process killed while
storing leaves the old value or the new one. ``struct.pack_into`` zero-fills its target before
storing, and a kill in between used to leave 0.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import errno
import mmap
import os
import stat
import struct
import sys
import threading
import time
import weakref
from pathlib import Path

from concur_lab.counter._robust_mutex import MUTEX_SPACE, PTHREAD

if sys.platform != "win32":
    from fcntl import LOCK_EX, LOCK_NB, LOCK_UN, flock

    FLOCK_AVAILABLE = True
else:  # pragma: no cover - the project runs on POSIX
    FLOCK_AVAILABLE = False

__all__ = [
    "FLOCK_AVAILABLE",
    "SIZE",
    "TAG_FLOCK",
    "TAG_MUTEX",
    "Storage",
    "StorageGone",
    "initialise",
    "is_untagged",
    "own",
    "require_backend",
]

_STATE = struct.Struct("<qQ")
_MUTEX_OFFSET = 64
SIZE = _MUTEX_OFFSET + MUTEX_SPACE
TAG_MUTEX = int.from_bytes(b"concurM1", "little")
TAG_FLOCK = int.from_bytes(b"concurF1", "little")
_TAG_CLOSED = int.from_bytes(b"concurX1", "little")
_BACKEND_TAGS = {"mutex": TAG_MUTEX, "flock": TAG_FLOCK}
_TAG_BACKENDS = {tag: backend for backend, tag in _BACKEND_TAGS.items()}
_OPEN_FLAGS = os.O_RDWR | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# The owner waits at most this long for a worker's lock before marking its file closed anyway
# (a worker stopped with SIGSTOP could hold it forever).
_CLOSE_LOCK_TIMEOUT = 5.0


class StorageGone(Exception):
    """The counter file was removed or marked closed by its owner."""


class Storage:
    """The file and mapping behind a process-mode counter, and who must remove them.

    Kept apart from the counter so that a finalizer can release them without keeping the
    counter alive.
    """

    def __init__(self, path: Path, folder: Path | None) -> None:
        self.path = path
        #: The private folder to remove with the file, or None when the storage is not owned.
        self.folder = folder
        self.owner_pid = os.getpid()
        self.backend = ""
        self.fd = -1
        self.mm: mmap.mmap | None = None
        self.mutex = 0
        #: The value and the tag, as cells in the mapping; valid while it is open.
        self.value = ctypes.c_int64()
        self.tag = ctypes.c_uint64()

    def open(self) -> None:
        """Open and map the file and learn its backend; on failure nothing stays open.

        :raises StorageGone: If the file is missing or marked closed.
        :raises ValueError: If the file is not a counter file.
        :raises NotImplementedError: If this platform lacks the file's lock backend.
        """
        try:
            fd = os.open(self.path, _OPEN_FLAGS)
        except FileNotFoundError:
            raise StorageGone from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size != SIZE:
                raise ValueError(
                    f"{str(self.path)!r} is not a SharedCounter file "
                    f"(expected a regular file of {SIZE} bytes)"
                )
            mm = mmap.mmap(fd, SIZE)
            try:
                tag = _STATE.unpack_from(mm)[1]
                if tag == _TAG_CLOSED:
                    raise StorageGone
                backend = _TAG_BACKENDS.get(tag)
                if backend is None:
                    raise ValueError(
                        f"{str(self.path)!r} is not a SharedCounter file (bad tag {tag:#x})"
                    )
                require_backend(backend)
            except BaseException:
                mm.close()
                raise
        except BaseException:
            os.close(fd)
            raise
        self.backend, self.mm = backend, mm
        base = _address(mm)
        # No buffer export: mm.close() stays possible, so the owner keeps the mapping open for
        # as long as a cell may be used (see close_handles).
        self.value = ctypes.c_int64.from_address(base)
        self.tag = ctypes.c_uint64.from_address(base + 8)
        if backend == "mutex":
            os.close(fd)  # the mapping is all the mutex needs
            self.mutex = base + _MUTEX_OFFSET
        else:
            self.fd = fd

    def close_handles(self) -> None:
        """Unmap and close the file. Only once no cell or mutex address of it is used again."""
        if self.mm is not None:
            self.value = ctypes.c_int64()
            self.tag = ctypes.c_uint64()
            self.mutex = 0
            self.mm.close()
            self.mm = None
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def release(self) -> None:
        """Remove the owned files (in the creating process only) and close the handles."""
        self.remove_files()
        self.close_handles()

    def remove_files(self) -> None:
        """Mark the file closed and remove it and the folder, if owned and in the owner."""
        folder = self.folder
        if folder is None or os.getpid() != self.owner_pid:
            return
        self.folder = None  # once only
        self._mark_closed()
        for remove, target in ((os.unlink, self.path), (os.rmdir, folder)):
            with contextlib.suppress(FileNotFoundError):
                remove(target)

    def _mark_closed(self) -> None:
        """Tag the file closed, so copies still attached to it fail instead of counting alone."""
        if self.mm is None:
            return
        deadline = time.monotonic() + _CLOSE_LOCK_TIMEOUT
        if self.backend == "mutex":
            assert PTHREAD is not None
            while (code := PTHREAD.trylock(self.mutex)) == errno.EBUSY:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
            if code == errno.EOWNERDEAD:
                code = PTHREAD.consistent(self.mutex)
            try:
                self.tag.value = _TAG_CLOSED
            finally:
                if code == 0:
                    PTHREAD.unlock(self.mutex)
            return
        locked = False
        while not locked:
            try:
                flock(self.fd, LOCK_EX | LOCK_NB)
                locked = True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.001)
        try:
            self.tag.value = _TAG_CLOSED
        finally:
            if locked:
                flock(self.fd, LOCK_UN)


def _address(mm: mmap.mmap) -> int:
    """Return the address of *mm*'s first byte, holding no buffer export on it."""
    view = ctypes.c_char.from_buffer(mm)
    try:
        return ctypes.addressof(view)
    finally:
        del view  # the export would make mmap.close() fail


def require_backend(backend: str | None) -> str:
    """Return *backend* if this platform has it.

    :raises NotImplementedError: Saying what to use instead, if it does not.
    """
    if backend == "mutex" and PTHREAD is None:
        raise NotImplementedError(  # pragma: no cover - only when files cross platforms
            "this SharedCounter file uses a robust pthread mutex, which this platform lacks"
        )
    if backend is None or (backend == "flock" and not FLOCK_AVAILABLE):
        raise NotImplementedError(
            f"a process-mode SharedCounter needs fcntl.flock or a robust pthread mutex, which "
            f"{sys.platform} lacks; use SharedCounter('thread') there, which threads of one "
            f"process share"
        )
    return backend


def initialise(fd: int, backend: str) -> None:
    """Lay out a new counter file on *fd*: value 0, the mutex if any, and the tag last.

    The tag is written last, so a file whose creator died half-way has no valid tag.
    """
    os.ftruncate(fd, SIZE)
    with mmap.mmap(fd, SIZE) as mm:
        if backend == "mutex":
            assert PTHREAD is not None
            PTHREAD.initialise(_address(mm) + _MUTEX_OFFSET)
        mm[:16] = _STATE.pack(0, _BACKEND_TAGS[backend])


def is_untagged(fd: int) -> bool:
    """Whether the counter-sized file on *fd* has no tag yet (its creator died half-way)."""
    return bool(_STATE.unpack(os.pread(fd, 16, 0))[1] == 0)


# Storages owned by this process, for the exit hook. Weak: a storage released on garbage
# collection drops out.
_OWNED: weakref.WeakSet[Storage] = weakref.WeakSet()
_OWNED_LOCK = threading.Lock()


def own(counter: object, storage: Storage) -> None:
    """Remove *storage*'s files when *counter* is garbage-collected or this process ends.

    A ``fork`` or ``forkserver`` worker of :mod:`multiprocess` (or :mod:`multiprocessing`)
    leaves through ``os._exit``: neither :mod:`atexit` nor :class:`weakref.finalize` runs
    there, only the package's own exit finalizers, so the files are registered with those too.
    At exit only the files go: the mapping stays until the process ends, because a thread
    still running then may yet touch it, and must get an error, not a crash.
    """
    weakref.finalize(counter, storage.release).atexit = False
    with _OWNED_LOCK:
        _OWNED.add(storage)
    for name in ("multiprocess.util", "multiprocessing.util"):
        util = sys.modules.get(name)
        if util is not None:
            util.Finalize(counter, storage.remove_files, exitpriority=0)


def _remove_owned_files() -> None:
    with _OWNED_LOCK:
        owned = list(_OWNED)
    for storage in owned:
        storage.remove_files()


atexit.register(_remove_owned_files)
