"""The shared counter: one integer that threads or processes update atomically.

:class:`~concur_lab.SharedCounter` (``_shared_counter``) picks a backend by mode: a plain
:class:`int` under a lock for threads (``_thread_backend``); for processes a small
memory-mapped file (``_file_layout``) guarded by a robust process-shared mutex
(``_robust_mutex``) where the C library has one, and by :func:`fcntl.flock` elsewhere
(``_process_backend``). Values stay in the signed 64-bit range (``_int64_range``). Its public
name is that of :mod:`concur_lab`.

Its boundary: of the engine it uses :class:`~concur_lab.Mode` and nothing else; it runs no
workers and knows nothing of pytest, the command line or the demos.

Importing this package imports none of its modules (nor :mod:`ctypes`): they load when the first
counter is made.
"""

__all__: list[str] = []
