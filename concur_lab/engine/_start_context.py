"""The multiprocess context a run of process workers starts from.

Under ``forkserver`` the server is told once what to preload (the engine's bootstrap, and what
the packages the engine serves name through their hooks). Under ``fork`` a parent with other
threads gets one explained warning per run instead of the interpreter's one per worker.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import multiprocess

from concur_lab.engine import _hooks

__all__ = ["context_for", "fork_warning_silenced", "warn_if_forking_threads"]


_FORK_WARNING = "use of fork() may lead to deadlocks"
# concur_lab itself, not just the engine: a demo that starts processes is not the caller either.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Whether the fork server's preload list was set: it is read once, when the server starts.
_preloaded = False


def context_for(method: str) -> Any:
    """Return multiprocess's context for *method*, telling a fork server what to preload first."""
    global _preloaded
    ctx = multiprocess.get_context(method)
    if method == "forkserver" and not _preloaded:
        # What every child needs is imported once in the server instead of once per child.
        # The engine too: test code that calls it would otherwise import it again in every child.
        preload = ["concur_lab.engine._child", "concur_lab.engine._api"]
        for hooks in _hooks.registered():
            # What the packages the engine serves know their children import (pytest's own).
            preload += hooks.forkserver_preload()
        ctx.set_forkserver_preload(_keep_user_preloads(preload))
        _preloaded = True
    return ctx


def _keep_user_preloads(ours: list[str]) -> list[str]:
    """Add *ours* to what the caller already asked the fork server to preload.

    ``"__main__"`` (multiprocess's default entry) is left out on purpose: on 3.13+ the server
    imports the main script with ``sys.argv`` reduced to its path, so a script that reads its
    arguments at import time would crash the server; children then run it as ``__mp_main__``.
    """
    from multiprocess import forkserver

    theirs = getattr(getattr(forkserver, "_forkserver", None), "_preload_modules", None) or []
    merged = [name for name in theirs if name != "__main__"]
    return merged + [name for name in ours if name not in merged]


def _os_thread_count() -> int | None:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return None


def _other_threads() -> list[str]:
    """Name the threads besides this one that a fork would copy the process with."""
    me = threading.current_thread()
    names = [t.name for t in threading.enumerate() if t is not me]
    if sys.platform != "linux":
        return names
    # The interpreter counts OS threads, which includes threads Python did not start, and a
    # thread that was just joined can linger there for a moment while it exits: give those
    # (ours after a thread-mode run, typically) up to 100 ms to go.
    settle = time.monotonic() + 0.1
    while True:
        count = _os_thread_count()
        extra = 0 if count is None else count - 1 - len(names)
        if extra <= 0 or names or time.monotonic() > settle:
            break
        time.sleep(0.001)
    if extra > 0:
        names.append(f"{extra} thread(s) not started by Python")
    return names


def warn_if_forking_threads(method: str, n: int) -> bool:
    """Explain, once per run, the interpreter's warning about forking a multi-threaded process.

    Called directly from :func:`run_processes` (not from a context manager) so that the warning
    points at the caller's line.
    Returns whether the interpreter's own per-fork copies should be silenced.
    """
    others = _other_threads() if method == "fork" and sys.version_info >= (3, 12) else []
    if not others:
        return False
    # No pid in the text: one message for every process, so pytest's summary groups them.
    warnings.warn(
        f"This process is multi-threaded, {_FORK_WARNING} in the child. "
        f"concur_lab forks {n} worker process(es) while other threads run "
        f"({', '.join(others)}): a lock one of them holds at that instant stays locked forever "
        "in the child. Use the 'forkserver' start method (or 'spawn') to avoid this.",
        DeprecationWarning,
        skip_file_prefixes=(_PACKAGE_DIR,),  # type: ignore[call-overload,unused-ignore]
    )
    return True


@contextmanager
def fork_warning_silenced(silence: bool) -> Iterator[None]:
    if not silence:
        yield
        return
    with warnings.catch_warnings():
        # Said once, with the reason, by warn_if_forking_threads; the interpreter would repeat
        # it for every worker.
        warnings.filterwarnings(
            "ignore", message=r".*use of fork\(\) may lead", category=DeprecationWarning
        )
        yield
