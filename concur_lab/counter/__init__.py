"""The shared counter: one integer that threads or processes update atomically.

:class:`~concur_lab.SharedCounter` (in :mod:`._shared_counter`) picks a backend by mode: a plain
:class:`int` under a lock for threads (:mod:`._thread_backend`), and for processes a small
memory-mapped file (:mod:`._file_layout`) guarded by a robust process-shared mutex
(:mod:`._robust_mutex`) or :func:`fcntl.flock` (:mod:`._process_backend`). Values stay in the
signed 64-bit range (:mod:`._int64_range`). Its public name is re-exported by :mod:`concur_lab`.

Its boundary: it uses :class:`~concur_lab.Mode` from the engine and nothing else of it; it runs
no workers and knows nothing of pytest, the command line or the demos.

Importing this package imports none of its modules (ctypes among them): they load when a counter
is first made.
"""

__all__: list[str] = []
