"""What the engine tests share: the modes of this platform, and this process's children."""

from __future__ import annotations

import os

import concur_lab

__all__ = ["MODES", "PROCESS_MODES", "SPAWNING", "child_processes"]

MODES = ["thread", *(f"process:{m}" for m in concur_lab.available_start_methods())]
PROCESS_MODES = [m for m in MODES if m != "thread"]
#: The process modes whose children do not inherit this process's memory.
SPAWNING = [m for m in PROCESS_MODES if m != "process:fork"]


def child_processes() -> list[tuple[int, str]]:
    """Direct children of this process, zombies included, as (pid, state letter), from /proc."""
    me = os.getpid()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:  # ended since listdir
            continue
        # The command name in parentheses may itself contain spaces or parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == me:
            found.append((int(entry), fields[0]))
    return found
