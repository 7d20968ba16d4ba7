"""Find, name and kill what a process worker started and left running: its descendants.

How they are tracked, and why so: each worker process makes itself a *child subreaper*
(``prctl(PR_SET_CHILD_SUBREAPER)``, Linux 3.4+) as it starts, and its descendants are found by
walking ``/proc/<pid>/task/<tid>/children`` down from the worker. A subreaper inherits every
orphan of its subtree, so a grandchild whose own parent exited (a double fork, a daemonising
``subprocess.Popen``) is still found under the worker, and so is one that called ``setsid()``
or ``setpgid()``: the tree is followed, not a session or a process group. Two alternatives were
set aside:

* A process group per worker (``setpgid`` in the child, ``killpg`` at the deadline) is left by
  any descendant that calls ``setsid()`` or ``setpgid()``, loses nothing to double forks only by
  luck, and takes the workers out of the terminal's foreground group, so that Ctrl-C would no
  longer reach them (and their descendants) as it reaches the caller.
* Scanning every process of ``/proc`` for the worker's session or group costs time in
  proportion to the whole machine's processes, and has the process group's blind spots.

What cannot be tracked:

* A descendant still alive when the worker ends without reporting (a crash, ``os._exit`` in the
  target): once the worker has exited, its orphans are handed to the next subreaper up (usually
  init), and nothing links them to the worker any more.
* A descendant's own children started after the worker reported (between its return and its
  exit, or after that): the report is a snapshot.
* Processes the worker had started for it by another process (a service manager, ``at``, a
  server it talks to): they are not its descendants.
* Any descendant on platforms without ``/proc`` (macOS) or a subreaper (anything but Linux):
  there nothing is found, and the field that names them stays empty.

This module is imported by every worker process and by the process engine: it loads
:mod:`ctypes` (on Linux only) when it is imported, so that fork and fork-server workers inherit
it ready.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterable
from contextlib import suppress
from typing import Any

__all__ = [
    "become_subreaper",
    "children",
    "command_line",
    "descendants",
    "kill",
    "kill_tree",
    "read_proc_file",
]

_PR_SET_CHILD_SUBREAPER = 36
_COMMAND_CHARS = 120


def _load_prctl() -> Any:
    if sys.platform != "linux":
        return None
    try:
        import ctypes

        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


# Looked up when this module is imported (by the parent, and by the fork server's preload),
# not in each worker: a fork or fork-server child inherits it instead of loading ctypes, which
# cost 2-3 ms per fork worker, a third of its start (measured).
_PRCTL = _load_prctl()


def become_subreaper() -> bool:
    """Make this process inherit the orphans of its subtree; return whether it could (Linux)."""
    if _PRCTL is None:
        return False
    return bool(_PRCTL(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)


def read_proc_file(path: str) -> bytes:
    """Return a /proc file's contents, read with bare system calls.

    The plugin's leak check reads these twice per test: ``open()`` builds three file objects
    per read, which made that scan three times slower (measured).

    :raises OSError: If the file cannot be read (no /proc, or the process has ended).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def children(pid: int) -> list[int]:
    """Return *pid*'s direct children, as each of its threads forked them (empty without /proc)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for task in tasks:
        with suppress(OSError, ValueError):
            found.extend(map(int, read_proc_file(f"/proc/{pid}/task/{task}/children").split()))
    return found


def _running(pid: int) -> bool:
    try:
        # The state follows the parenthesised command name; Z (zombie) and X (dead) have ended.
        state = read_proc_file(f"/proc/{pid}/stat").rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def command_line(pid: int) -> str:
    """Return *pid*'s command line, shortened, or ``"?"`` when it cannot be read."""
    try:
        raw = read_proc_file(f"/proc/{pid}/cmdline")
    except OSError:
        return "?"
    return raw.replace(b"\0", b" ").decode(errors="replace").strip()[:_COMMAND_CHARS] or "?"


def descendants(pid: int | None = None) -> list[tuple[int, str]]:
    """Return every running descendant of *pid* (default: this process) as (pid, command line).

    Parents come before their children; zombies (ended, not yet reaped) are left out.
    Empty where there is no ``/proc``.
    """
    root = os.getpid() if pid is None else pid
    found: list[tuple[int, str]] = []
    seen = {root}
    queue = [root]
    while queue:
        for child in children(queue.pop(0)):
            if child in seen:
                continue
            seen.add(child)
            queue.append(child)
            if _running(child):
                found.append((child, command_line(child)))
    return found


def kill(pids: Iterable[int]) -> None:
    """Send SIGKILL to each of *pids* that still exists (they are not reaped here)."""
    kill_signal = getattr(signal, "SIGKILL", signal.SIGTERM)
    for pid in pids:
        with suppress(OSError):
            os.kill(pid, kill_signal)


def kill_tree(pid: int, rounds: int = 3) -> list[tuple[int, str]]:
    """Kill every descendant of *pid* (not *pid* itself); return those found, first seen first.

    Walked again after each kill, up to *rounds* times, for children forked meanwhile.
    """
    killed: dict[int, str] = {}
    for _ in range(rounds):
        found = [(p, c) for p, c in descendants(pid) if p not in killed]
        if not found:
            break
        kill(p for p, _ in found)
        killed.update(found)
    return list(killed.items())
