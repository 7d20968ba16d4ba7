"""The C library's robust, process-shared ``pthread`` mutex, reached through :mod:`ctypes`.

A robust mutex is one the kernel marks "owner died" when its holder dies; the next locker gets
``EOWNERDEAD`` instead of waiting forever. Only Linux (glibc and musl) is bound here: elsewhere
:data:`PTHREAD` is ``None`` and process-mode counters use ``flock``. Nothing here runs a
POSIX-only call at import time on other platforms.

Never wait without a deadline
    "Owner died" covers a holder that dies, not a *waiter* that dies. Unlocking wakes one
    waiter; if that waiter is SIGKILLed after the kernel picked it and before it takes the
    mutex, the wake-up dies with it. The kernel then wakes another waiter only if the mutex is
    still free at that instant; if a third process took it in between (a plain compare-and-swap
    that does not mark waiters), the remaining waiters sleep on a free mutex forever. This
    happened in about 1 kill in 100 with four processes contending (glibc 2.36, Linux 6.18),
    so :func:`acquire_contended` waits in slices of :data:`RETRY_SECONDS`: a lost wake-up costs
    one slice, and an uncontended lock is still a single ``trylock`` with no system call.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
import time
from collections.abc import Callable

__all__ = [
    "MUTEX_SPACE",
    "PTHREAD",
    "RETRY_SECONDS",
    "RobustMutexLib",
    "acquire",
    "acquire_contended",
    "lock_failed",
]

# sizeof(pthread_mutex_t) is 40 on x86-64 glibc and 48 on arm64; never above 64.
MUTEX_SPACE = 64
#: How long one wait for a busy mutex lasts before the waiter looks again (see above).
RETRY_SECONDS = 0.05
_NANO = 1_000_000_000


class _Timespec(ctypes.Structure):
    # time_t and long are both the C long on the Linux ABIs this module binds.
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class RobustMutexLib:
    """The robust-mutex functions of a C library."""

    _PTHREAD_PROCESS_SHARED = 1  # same value in glibc and musl
    _PTHREAD_MUTEX_ROBUST = 1

    def __init__(self, libc: ctypes.CDLL) -> None:
        def function(name: str, *argtypes: type) -> Callable[..., int]:
            func = getattr(libc, name)
            func.argtypes = list(argtypes)
            func.restype = ctypes.c_int
            return func  # type: ignore[no-any-return]

        pointer = ctypes.c_void_p
        # ctypes releases the GIL around these calls, so a thread waiting for the mutex never
        # blocks the thread that holds it.
        self.lock = function("pthread_mutex_lock", pointer)
        self.unlock = function("pthread_mutex_unlock", pointer)
        self.trylock = function("pthread_mutex_trylock", pointer)
        self.consistent = function("pthread_mutex_consistent", pointer)
        self._init = function("pthread_mutex_init", pointer, pointer)
        self._attr_init = function("pthread_mutexattr_init", pointer)
        self._attr_destroy = function("pthread_mutexattr_destroy", pointer)
        self._attr_setpshared = function("pthread_mutexattr_setpshared", pointer, ctypes.c_int)
        self._attr_setrobust = function("pthread_mutexattr_setrobust", pointer, ctypes.c_int)
        # pthread_mutex_clocklock (glibc 2.30+) waits on CLOCK_MONOTONIC, which no clock change
        # moves; timedlock (everywhere, musl included) on CLOCK_REALTIME.
        timespec = ctypes.POINTER(_Timespec)
        clocklock = getattr(libc, "pthread_mutex_clocklock", None)
        if clocklock is not None:
            clocklock.argtypes = [pointer, ctypes.c_int, timespec]
            clocklock.restype = ctypes.c_int
            self._clocklock: Callable[..., int] | None = clocklock
            self._clock: Callable[[], float] = time.monotonic
        else:
            self._clocklock = None
            self._clock = time.time
        self._timedlock = function("pthread_mutex_timedlock", pointer, timespec)

    def lock_until(self, address: int, seconds: float) -> int:
        """Wait at most *seconds* for the mutex; return ``pthread_mutex_*lock``'s result.

        :returns: 0, ``EOWNERDEAD`` (taken, owner died) or ``ETIMEDOUT``, or another error.
        """
        when = self._clock() + seconds
        whole = int(when)
        limit = _Timespec(whole, int((when - whole) * _NANO))
        if self._clocklock is not None:
            return self._clocklock(address, time.CLOCK_MONOTONIC, ctypes.byref(limit))
        return self._timedlock(address, ctypes.byref(limit))

    def initialise(self, address: int) -> None:
        """Make a robust, process-shared mutex at *address*, in shared memory.

        :raises OSError: If the C library refuses.
        """
        attr = ctypes.create_string_buffer(64)  # sizeof(pthread_mutexattr_t) is 4 or 8
        attr_address = ctypes.addressof(attr)
        _check(self._attr_init(attr_address), "pthread_mutexattr_init")
        try:
            setpshared = self._attr_setpshared(attr_address, self._PTHREAD_PROCESS_SHARED)
            _check(setpshared, "pthread_mutexattr_setpshared")
            setrobust = self._attr_setrobust(attr_address, self._PTHREAD_MUTEX_ROBUST)
            _check(setrobust, "pthread_mutexattr_setrobust")
            _check(self._init(address, attr_address), "pthread_mutex_init")
        finally:
            self._attr_destroy(attr_address)


def _check(code: int, what: str) -> None:
    if code:
        raise OSError(code, f"{what} failed for a SharedCounter: {os.strerror(code)}")


def _load() -> RobustMutexLib | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return RobustMutexLib(ctypes.CDLL(None))
    except (OSError, AttributeError):  # pragma: no cover - a libc without robust mutexes
        return None


#: The bound functions, or ``None`` where this platform has no robust mutex reachable.
PTHREAD = _load()


def acquire(mutex: int) -> None:
    """Take the mutex at address *mutex*, repairing it if its owner died.

    :raises OSError: As :func:`lock_failed`.
    """
    assert PTHREAD is not None
    code = PTHREAD.trylock(mutex)
    if code:
        acquire_contended(code, mutex)


def acquire_contended(code: int, mutex: int) -> None:
    """Finish taking the mutex after ``pthread_mutex_trylock`` returned the non-zero *code*.

    :param code: What ``pthread_mutex_trylock`` returned.
    :param mutex: The mutex's address.
    :raises OSError: As :func:`lock_failed`.
    """
    assert PTHREAD is not None
    while code in (errno.EBUSY, errno.ETIMEDOUT):
        code = PTHREAD.lock_until(mutex, RETRY_SECONDS)
    if code:
        lock_failed(code, mutex)


def lock_failed(code: int, mutex: int) -> None:
    """Handle a non-zero ``pthread_mutex_lock`` result: repair a dead owner's lock, or raise.

    The counter's value is written with one 8-byte store, so a holder that died left it either
    before or after its increment, never in between: marking the mutex consistent is enough.

    :param code: What ``pthread_mutex_lock`` returned.
    :param mutex: The mutex's address.
    :raises OSError: For any error other than a repaired ``EOWNERDEAD``.
    """
    assert PTHREAD is not None
    if code == errno.EOWNERDEAD:
        code = PTHREAD.consistent(mutex)
        if code == 0:
            return
        PTHREAD.unlock(mutex)
    raise OSError(code, f"locking a SharedCounter failed: {os.strerror(code)}")
