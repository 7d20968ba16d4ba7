"""A counter that threads or processes can increment without losing updates.

:class:`SharedCounter` keeps its value in one of two places, chosen by its mode:

* **Thread mode** (:mod:`concur_lab.counter._thread_backend`) keeps a plain :class:`int` under a
  :class:`threading.Lock`. Only the threads of one process share it. It refuses to be pickled:
  a copy sent to another process would be a private counter whose increments never add up,
  the very bug this project demonstrates. Under ``fork`` nothing is pickled, and a forked child
  silently gets its own copy, thread-mode counter included: processes do not share memory.
* **Process mode** (:mod:`concur_lab.counter._process_backend`) keeps the value in a small file that
  every user maps with :mod:`mmap` (:mod:`concur_lab.counter._file_layout`). Each read-modify-write
  happens under a lock that the kernel releases when its holder dies: a process-shared *robust*
  ``pthread`` mutex in the mapping where the C library offers one (Linux: glibc and musl,
  :mod:`concur_lab.counter._robust_mutex`), and :func:`fcntl.flock` on the file elsewhere.

Kernel locks, not semaphores
    A worker may be killed with SIGKILL at any instant, also while it holds the lock. A
    ``multiprocess`` semaphore (what ``Value.get_lock()`` is) held by a killed process is never
    released, and every other worker deadlocks. ``flock`` is dropped by the kernel when the
    holder's last descriptor closes; a robust mutex is marked "owner died", and the next locker
    gets ``EOWNERDEAD``, repairs it with ``pthread_mutex_consistent`` and goes on. (A *waiter*
    killed just after it was woken takes the wake-up with it; so nobody waits for the mutex
    without a deadline: see :mod:`concur_lab.counter._robust_mutex`.) The value is
    then consistent because it is written with one aligned 8-byte store through a
    :mod:`ctypes` cell, so a killed increment either happened or did not. (``struct.pack_into``
    would not do: it zero-fills its target before storing, and a kill in between left 0.)

Robust mutex first, ``flock`` as the fallback
    Speed decided. On the development machine a system call costs about 0.36 µs, so ``flock``
    (two calls per increment) measured 1.2 µs per increment, 0.32x the speed of
    ``multiprocess.Value`` with ``get_lock()``, missing the target of 1/3. A robust mutex takes
    no system call when nobody contends for it: about 0.35 µs for lock, read-modify-write and
    unlock.

:mod:`filelock` only for creating and attaching
    ``filelock.FileLock`` polls ``flock`` and costs about 90 µs per acquire and release, a
    hundred times too slow for increments. It is the right tool for one-off coordination
    between processes that share nothing but a path: :meth:`SharedCounter.at` holds it while it
    creates or attaches to a counter at a path the caller chose (one counter for all
    pytest-xdist workers, say). Under it "create and initialise if missing" is race-free, and a
    file without a tag can only have been left by a creator that crashed while initialising it,
    so it is initialised again instead of being rejected.

Fork, pickling
    A mutex in shared memory works unchanged in a forked child. A ``flock`` counter must not
    keep its parent's open file description (``flock`` would not exclude parent and child), so an
    :func:`os.register_at_fork` hook reopens its file in the child; it also gives thread locks
    that a parent thread may have held a fresh start. A process-mode counter pickles as a
    reference to its file, so it reaches workers under every start method, in arguments,
    closures or other objects, and processes that inherited nothing (pytest-xdist workers,
    :mod:`subprocess` children given the pickle).

Ownership and cleanup
    ``SharedCounter("process")`` creates its file in a private folder made by
    :func:`tempfile.mkdtemp` (mode 0700). Only the counter that created them, in the process
    that created them, removes them: when it is closed or garbage-collected, or when that
    process ends, including a ``fork``/``forkserver`` worker that ends through ``os._exit``.
    The file is first marked closed, so a copy still attached fails with a clear
    :class:`ValueError` instead of counting into a deleted file. So a counter created inside a
    process worker and returned to the parent arrives closed: create counters in the parent.
    A closed counter keeps its mapping until it is garbage-collected, so a thread still inside
    :meth:`~SharedCounter.increment` gets an error, never a crash. A counter made with
    :meth:`SharedCounter.at` owns nothing.

Windows
    Windows has no ``fcntl`` and no robust mutex reachable this way. The modules import and
    thread mode works; process mode raises :class:`NotImplementedError` pointing to thread
    mode. ``msvcrt.locking`` could back it, but that is untested here.

A counter has ``__int__`` but deliberately no ``__index__``: its value changes while you use it,
so it should not silently pass for a fixed integer in slices, ``range`` or :mod:`struct`.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

from concur_lab.engine._modes import Mode

__all__ = ["Closed", "SharedCounter", "public_name"]

_C = TypeVar("_C", bound="type[SharedCounter]")

# Every live counter of this process, so a forked child can fix up each one.
_LIVE: weakref.WeakSet[SharedCounter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for counter in list(_LIVE):
        counter._after_fork()


if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(after_in_child=_after_fork_in_child)


def public_name(cls: _C) -> _C:
    """Name an implementation class ``SharedCounter``, as users know it.

    Python's own messages (``'SharedCounter' object cannot be interpreted as an integer``)
    and other modules' errors name an object's class; a private name there would only puzzle.
    The module (``type(counter).__module__``) still tells the implementations apart.
    """
    cls.__name__ = cls.__qualname__ = "SharedCounter"
    return cls


class SharedCounter:
    """An integer that workers increment atomically, in thread or process mode.

    ``SharedCounter()`` is a process-mode counter. Every process that receives it shares it,
    whatever the start method and however it gets there: in arguments, in closures, inside other
    objects, or pickled to an unrelated process. ``SharedCounter("thread")`` is shared by the
    threads of this process only and cannot be pickled.

    The value is a signed 64-bit integer and starts at 0. Close the counter when done, or use it
    as a context manager; the counter that created the storage removes it then, or when it is
    garbage-collected or its process ends. A process-mode counter created inside a process
    worker therefore belongs to that worker: returned to the parent, it arrives closed.

    :param mode: ``"thread"``, ``"process"``, ``"process:<start method>"`` or a
        :class:`~concur_lab.Mode`. The start method is only recorded: a process-mode counter
        works under all of them.
    :raises ModeError: If *mode* names no mode.
    :raises NotImplementedError: For process mode on a platform without ``fcntl`` (Windows).
    """

    _mode: Mode
    _closed_message: str
    #: The class an instance turns into when closed.
    _closed_class: ClassVar[type[SharedCounter]]

    def __new__(cls, mode: Mode | str = "process") -> SharedCounter:
        if cls is SharedCounter:
            # Imported here: each implementation module subclasses this class.
            if Mode.parse(mode).kind == "process":
                from concur_lab.counter._process_backend import ProcessCounter

                return ProcessCounter.__new__(ProcessCounter, mode)
            from concur_lab.counter._thread_backend import ThreadCounter

            cls = ThreadCounter
        return object.__new__(cls)

    @classmethod
    def at(cls, path: str | os.PathLike[str], *, timeout: float = 60.0) -> SharedCounter:
        """Create a process-mode counter stored at *path*, or attach to the one already there.

        Any number of processes may call this at once with the same *path*, including processes
        that share nothing else (pytest-xdist workers). One of them creates the file and sets
        it to 0, and the others attach to it. A :class:`filelock.FileLock` on ``<path>.lock``
        makes this race-free. The returned counter owns nothing: closing it never removes
        *path* or ``<path>.lock``. Remove them yourself when no process uses the counter any
        more.

        :param path: File to hold the counter; its folder must exist. A symlink is refused.
        :param timeout: Seconds to wait for the creation lock.
        :returns: A process-mode counter.
        :raises TimeoutError: If the creation lock is not free within *timeout* seconds.
        :raises ValueError: If *path* exists but is not a counter file.
        :raises NotImplementedError: On a platform without ``fcntl`` (Windows).
        """
        from concur_lab.counter._process_backend import ProcessCounter

        return ProcessCounter.create_at(Path(os.fspath(path)), timeout)

    @property
    def mode(self) -> Mode:
        """The mode the counter was made for."""
        return self._mode

    @property
    def path(self) -> str | None:
        """The file holding a process-mode counter's value, or ``None`` in thread mode."""
        return None

    @property
    def closed(self) -> bool:
        """Whether the counter was closed (or, for a copy, its owner removed the storage)."""
        return isinstance(self, Closed)

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

        Calling it again does nothing.
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

    def _track(self) -> None:
        """Have :meth:`_after_fork` called in every child this process forks from now on."""
        _LIVE.add(self)

    def _after_fork(self) -> None:
        """Make this copy usable in a child created by ``fork``."""

    def _become_closed(self, message: str) -> None:
        """Turn into the closed variant of this class: every later use raises *message*.

        Swapping the class costs the hot paths nothing, unlike a check on every call.
        """
        self._closed_message = message
        self.__class__ = self._closed_class


class Closed(SharedCounter):
    """Mixed into the class of a closed counter: every use raises."""

    def increment(self, by: int = 1) -> int:
        raise ValueError(self._closed_message)

    @property
    def value(self) -> int:
        raise ValueError(self._closed_message)

    def reset(self, value: int = 0) -> None:
        raise ValueError(self._closed_message)

    @property
    def closed(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def _peek(self) -> int:  # pragma: no cover - repr checks closed first
        raise ValueError(self._closed_message)

    def _after_fork(self) -> None:
        pass
