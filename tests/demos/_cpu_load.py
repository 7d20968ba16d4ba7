"""Tell an idle machine from a busy one, for the demos whose lesson needs free cores."""

from __future__ import annotations

import os
import time
from typing import Any

from concur_lab import Mode
from concur_lab.demos import Demo


def busy_cpu_seconds() -> float | None:
    """CPU seconds every process of the machine has used so far (Linux), or None."""
    try:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(v) for v in f.readline().split()[1:8]]
    except OSError:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def observe_with_others(demo: Demo, mode: Mode) -> tuple[dict[str, Any], float | None]:
    """Run *demo*; also return the share of a core other programs used meanwhile."""
    busy0, start = busy_cpu_seconds(), time.monotonic()
    observed = demo.observe(mode)
    busy1, wall = busy_cpu_seconds(), time.monotonic() - start
    if busy0 is None or busy1 is None:
        return observed, None
    ours = sum(observed["cpu_s"]) if "cpu_s" in observed else 0.0
    return observed, max(0.0, busy1 - busy0 - ours) / wall
