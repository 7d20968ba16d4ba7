"""The C library's robust, process-shared ``pthread`` mutex, reached through :mod:`ctypes`.

A robust mutex is one the kernel marks "owner died" when its holder dies; the next locker gets
``EOWNERDEAD`` instead of waiting forever. Only Linux (glibc and musl) is bound here: elsewhere
:data:`PTHREAD` is ``None`` and process-mode counters use ``flock``. Nothing here runs a
POSIX-only call at import time on other platforms.
"""

from __future__ import annotations

import ctypes
import errno
import os
import sys
from collections.abc import Callable

__all__ = ["MUTEX_SPACE", "PTHREAD", "RobustMutexLib", "lock_failed"]

# sizeof(pthread_mutex_t) is 40 on x86-64 glibc and 48 on arm64; never above 64.
MUTEX_SPACE = 64


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
