"""The interpreter's switch interval while a thread run's targets run (``switch_interval=``).

:func:`sys.setswitchinterval` is how often a thread holding the GIL is asked to let another one
run: 5 ms by default, far longer than most test bodies, which then run one after the other
however many threads start them. A smaller interval makes them interleave, so races show.

It is set at the start gate, by the last worker to arrive and before any is released, and put
back when the run ends, however it ends. Starting the workers runs at the interval that was
there: the interleaving is wanted between the targets, not between the thread that starts the
workers and the ones it has started. A worker that reaches the gate after its run has ended
(the run timed out first) cannot set it again. Runs that overlap (from several threads at
once) share one saved value: the first to set it saves the interval that was there, the last
to end puts it back.
"""

from __future__ import annotations

import sys
import threading

__all__ = ["RunSwitchInterval"]

_lock = threading.Lock()
_active = 0
_saved = 0.0


class RunSwitchInterval:
    """The switch interval of one run: :meth:`set` at its start gate, :meth:`restore` at its end."""

    __slots__ = ("_closed", "_set", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._set = False
        self._closed = False

    def set(self) -> None:
        """Set the interval (once; never after :meth:`restore`, even for a worker arriving late)."""
        global _active, _saved
        with _lock:
            if self._set or self._closed:
                return
            if _active == 0:
                _saved = sys.getswitchinterval()
            _active += 1
            self._set = True
            sys.setswitchinterval(self.seconds)

    def restore(self) -> None:
        """End the run's interval; the last run to end puts back the one saved by the first."""
        global _active
        with _lock:
            self._closed = True
            if not self._set:
                return
            self._set = False
            _active -= 1
            if _active == 0:
                sys.setswitchinterval(_saved)
