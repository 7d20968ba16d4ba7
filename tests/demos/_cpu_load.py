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


def require_side_by_side(demo: Demo, mode: Mode, key: str, threshold: float) -> None:
    """Pass if ``observed[key] > threshold`` in one of three runs; fail on an idle machine.

    Another busy program can take the second core for a whole run, so a low value only fails
    the test when the machine was measured idle (others used less than a quarter of a core);
    otherwise the test is skipped, saying what was seen.
    """
    import pytest

    seen = []
    for _ in range(3):
        observed, others = observe_with_others(demo, mode)
        seen.append((observed[key], others))
        if observed[key] > threshold:
            return
        if others is not None and others < 0.25:
            pytest.fail(f"{key} (value, other programs' cores) stayed at {seen} on an idle machine")
    pytest.skip(f"no idle second core: {key} (value, other programs' cores) {seen}")
