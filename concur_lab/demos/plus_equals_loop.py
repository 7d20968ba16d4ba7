"""The unlocked ``x += 1`` loop: an experiment whose result depends on the interpreter.

N threads each add 1 to a module global many times; whether updates are lost depends on where
the interpreter may switch threads, so the demo reports what it measured. Only a lock makes the
count exact on every version.

Details: CPython 3.10 and later (with the GIL) switch only at calls and backward jumps, never
between the read and the write of ``x += 1``, so nothing is lost; 3.9 and earlier, and
free-threaded builds, lose updates. Put a call between read and write (``x = x + one()``) and
updates can be lost on every version. Processes cannot lose updates here, for want of anything
shared: each counts on its own copy.

"The GIL makes ``+=`` atomic" is therefore false: it is an accident of one implementation that
no documentation promises, which is why this demo reports what it measured instead of asserting
an outcome.
"""

from __future__ import annotations

import platform
import sys
import threading
from typing import Any

from concur_lab import Mode, run_outcomes
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, SpanRecorder, values, worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TIMELINE", "TITLE", "run"]

SLUG = "plus-equals-loop"
TITLE = N_("The unlocked x += 1 loop (an experiment)")
THEME = "races"
ORDER = 20
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
TIMELINE = True
"""The observations include a ``"timeline"`` that ``--timeline``/``--plot`` can draw."""
LESSON = N_(
    "Whether unlocked x += 1 in threads loses updates depends on the interpreter; "
    "a lock is the only guarantee"
)

PER_WORKER = 100_000
"""Increments per worker and variant."""

SWITCH_INTERVAL = 1e-5
"""Seconds between requested thread switches while the thread loops run."""

VARIANTS = ("x += 1", "x = x + one()", "with lock: x += 1")

x = 0
"""The module global the loops increment."""

_lock = threading.Lock()


def _one() -> int:
    return 1


def _loop(variant: str, k: int) -> int:
    """Increment the module global *k* times the *variant* way; return the value seen at the end."""
    global x
    if variant == "x += 1":
        for _ in range(k):
            x += 1
    elif variant == "x = x + one()":
        for _ in range(k):
            x = x + _one()  # a call between the read of x and the write: a switch point
    else:
        for _ in range(k):
            with _lock:
                x += 1
    return x


def _every_variant(k: int) -> dict[str, int]:
    """Run every variant on this process's own copy of the global (process mode)."""
    global x
    finals = {}
    for variant in VARIANTS:
        x = 0
        finals[variant] = _loop(variant, k)
    return finals


def _interpreter() -> dict[str, Any]:
    gil = getattr(sys, "_is_gil_enabled", None)
    return {
        "implementation": platform.python_implementation(),
        "version": platform.python_version(),
        "gil_enabled": True if gil is None else bool(gil()),
    }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Run the three loops in *workers* workers (default 4) and report what was counted.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers (default 4).
    :returns: Per variant the expected and counted totals (threads) or each worker's own count
        and the caller's unchanged global (processes); the interpreter; ``"varies"``.
    """
    global x
    n = worker_count(workers, 4)
    spans = SpanRecorder()
    expected = n * PER_WORKER
    variants: dict[str, Any] = {}
    interval = sys.getswitchinterval()
    try:
        if mode.kind == "thread":
            # Ask for a thread switch every 10 µs instead of 5 ms, so that switches are many and
            # the loops' outcomes show (restored below; it only changes how often, not where).
            sys.setswitchinterval(SWITCH_INTERVAL)
            for variant in VARIANTS:
                x = 0
                outcomes = run_outcomes(
                    _loop, n, mode=mode, args=(variant, PER_WORKER), timeout=4 * WAIT
                )
                values(outcomes)
                spans.add_outcomes(outcomes, variant)
                variants[variant] = {"expected": expected, "counted": x, "lost": expected - x}
        else:
            x = 0
            each = run_outcomes(_every_variant, n, mode=mode, args=(PER_WORKER,), timeout=4 * WAIT)
            finals = values(each)
            spans.add_outcomes(each, "all three loops")
            for variant in VARIANTS:
                variants[variant] = {
                    "each_worker_counted": [f[variant] for f in finals],
                    "caller_global_after": x,
                }
    finally:
        sys.setswitchinterval(interval)
        x = 0
    interpreter = _interpreter()
    result: dict[str, Any] = {
        "workers": n,
        "per_worker": PER_WORKER,
        "switch_interval": SWITCH_INTERVAL if mode.kind == "thread" else None,
        "variants": variants,
        "interpreter": interpreter,
        "timeline": spans.sorted(),
        "varies": (
            f"with the interpreter (this is {interpreter['implementation']} "
            f"{interpreter['version']}, GIL {'on' if interpreter['gil_enabled'] else 'off'}): "
            "with the GIL, 3.10+ loses nothing on plain x += 1 and 3.9 loses many; free-threaded "
            "builds lose many; x = x + one() can lose on any version, depending on where the "
            "thread switches fall; the locked loop is exact everywhere"
        ),
    }
    if mode.kind == "thread":
        lost = gettext("; ").join(
            gettext("{variant} lost {lost}").format(variant=v, lost=variants[v]["lost"])
            for v in VARIANTS
        )
        result["summary"] = gettext("{n} threads add 1 {times:,} times each: {lost}").format(
            n=n, times=PER_WORKER, lost=lost
        )
    else:
        result["summary"] = gettext(
            "each process counted to {times:,} in its own copy; the caller's x stayed {after}"
        ).format(times=PER_WORKER, after=variants["x += 1"]["caller_global_after"])
    return result
