"""Private helper: how much CPU other programs used while a demo ran.

The GIL demos' lesson needs free cores: processes can only run side by side if nothing else
takes the CPUs. Linux's ``/proc/stat`` counts the busy time of the whole machine; minus the CPU
time the demo's own workers used, what is left is other programs' share, in cores.
"""

from __future__ import annotations

import os

from concur_lab._i18n import gettext

__all__ = ["BUSY_CORES", "busy_cpu_seconds", "busy_note", "is_busy", "others_cores"]

BUSY_CORES = 0.25
"""How much of the cores a run needs other programs may take before the machine counts as busy."""


def busy_cpu_seconds() -> float | None:
    """Return the CPU seconds every program of the machine has used so far, or ``None``.

    :returns: The busy (not idle, not I/O wait) time of all CPUs from ``/proc/stat``; ``None``
        where there is no such file (not Linux) or it cannot be read.
    """
    try:
        with open("/proc/stat", encoding="ascii") as file:
            ticks = [int(value) for value in file.readline().split()[1:8]]
        per_second = os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):
        return None
    if len(ticks) < 5:
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / per_second


def others_cores(
    busy_before: float | None, busy_after: float | None, wall: float, ours: float
) -> float | None:
    """Return how many cores other programs used on average during *wall* seconds.

    :param busy_before: :func:`busy_cpu_seconds` at the start of the window.
    :param busy_after: :func:`busy_cpu_seconds` at its end.
    :param wall: The window's length in seconds.
    :param ours: The CPU seconds our own workers used in the window.
    :returns: Cores (0 or more, rounded to 2 places), or ``None`` if the machine's busy time
        is unknown or the window is empty.
    """
    if busy_before is None or busy_after is None or wall <= 0:
        return None
    return round(max(0.0, busy_after - busy_before - ours) / wall, 2)


def is_busy(others: float | None, cores: int, needed: int) -> bool:
    """Return whether other programs left fewer free cores than a run needed.

    Threads under a GIL need one core, so another program on the second core of two does not
    disturb them; processes need one core each. Less than :data:`BUSY_CORES` short is still idle.

    :param others: Cores other programs used, from :func:`others_cores` (``None``: unknown).
    :param cores: The machine's cores.
    :param needed: Cores the run could have used: ``min(workers, cores)``, or 1 for GIL threads.
    """
    return others is not None and cores - others < needed - BUSY_CORES


def busy_note(others: float | None, cores: int, needed: int) -> str | None:
    """Say that the machine was busy, or return ``None`` if it was not (or is unknown).

    :param others: Cores other programs used, from :func:`others_cores`.
    :param cores: The machine's cores.
    :param needed: Cores the run could have used (see :func:`is_busy`).
    """
    if others is None or not is_busy(others, cores, needed):
        return None
    return gettext("machine busy: other programs used {others} of {cores} cores").format(
        others=f"{others:.1f}", cores=cores
    )
