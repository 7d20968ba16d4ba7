"""What a worker sees of the caller's state depends on when, and whether, memory is copied.

A thread reads the caller's live variables; a ``fork`` child sees a copy taken at ``start()``; a
``spawn`` or ``forkserver`` child imports the module afresh and sees neither change. Pass what a
worker needs as arguments instead.

Details: the caller changes a module global before it starts a worker and again afterwards. A
``spawn`` or ``forkserver`` child sees the value the module's code sets (code under
``if __name__ == "__main__":`` is not re-run). Linux defaults to ``forkserver`` from Python 3.14,
so code that relied on ``fork`` copies silently changes meaning. (The blog post's "a child sees
the parent's variables" silently assumed ``fork``.)
"""

from __future__ import annotations

from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "start-methods"
TITLE = N_("Parent state changed before start(): fork vs spawn vs forkserver")
THEME = "basics"
ORDER = 60
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_(
    "Threads see live globals, fork children a copy taken at start(), spawn ones a fresh import"
)

MODULE_VALUE = 0
"""The value the module's own code gives :data:`_setting`."""

BEFORE_START = 100
AFTER_START = 200
"""What the caller sets before starting the worker, and after."""

_setting = MODULE_VALUE


def _read_twice(changed: Any, inbox: Any) -> None:
    inbox.put(_setting)
    changed.wait(WAIT)
    inbox.put(_setting)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Change a global, start a worker, change it again; report what the worker read each time.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs one worker.
    :returns: Observations: the module's value, the caller's two changes and the two values the
        worker read, and whether the worker saw each change.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    global _setting
    kit = Kit.of(mode)
    changed, inbox = kit.Event(), kit.inbox()
    try:
        with kit.workers() as crew:
            _setting = BEFORE_START
            worker = crew.start(_read_twice, changed, inbox, name="reader")
            at_start = inbox.get(WAIT, watch=[worker])
            _setting = AFTER_START
            changed.set()
            later = inbox.get(WAIT, watch=[worker])
    finally:
        _setting = MODULE_VALUE
        inbox.close()
    if at_start == BEFORE_START and later == AFTER_START:
        summary = gettext("saw {first}, then {later}: the same variable as the caller")
    elif at_start == BEFORE_START:
        summary = gettext("saw {first}, then still {later}: a copy made at start()")
    else:
        summary = gettext("saw {first}, then {later}: a fresh import, no change arrived")
    summary = summary.format(first=at_start, later=later)
    return {
        "module_value": MODULE_VALUE,
        "set_before_start": BEFORE_START,
        "set_after_start": AFTER_START,
        "worker_saw_at_start": at_start,
        "worker_saw_later": later,
        "sees_change_before_start": at_start == BEFORE_START,
        "sees_change_after_start": later == AFTER_START,
        "summary": summary,
        "varies": N_(
            "Depends on the start method: fork copies the caller's memory, spawn and "
            "forkserver re-import modules. Linux's default is fork up to 3.13, forkserver from "
            "3.14."
        ),
    }
