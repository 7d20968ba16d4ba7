"""A validated description of one run: what to call, how often, in which mode, for how long."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from concur_lab.engine._modes import THREAD, Mode

__all__ = ["DEFAULT_GRACE", "DEFAULT_WORKERS", "Plan", "make_plan"]

#: The default *grace* of a run: see :func:`concur_lab.run_outcomes`.
DEFAULT_GRACE = 1.0

DEFAULT_WORKERS = 4


# Not frozen: a frozen dataclass sets each field through object.__setattr__, a measurable part of
# a thread run's fixed cost; nothing changes a plan after make_plan().
@dataclass(slots=True)
class Plan:
    """Everything a runner needs; built by :func:`make_plan`, which checks the arguments."""

    target: Callable[..., Any]
    n: int
    mode: Mode
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    worker_args: tuple[tuple[Any, ...], ...] | None = None
    timeout: float | None = None
    #: Seconds allowed at the deadline for a hung process to dump its stack, and again for it to
    #: end after SIGTERM (before SIGKILL).
    grace: float = DEFAULT_GRACE
    #: The caller's :data:`warnings.filters` as picklable tuples (process mode fills this in).
    warning_filters: tuple[tuple[Any, ...], ...] = ()
    #: Thread mode: :func:`sys.setswitchinterval` while the targets run (see _switch_interval).
    switch_interval: float | None = None

    def call_args(self, index: int) -> tuple[tuple[Any, ...], Mapping[str, Any]]:
        """Return the positional and keyword arguments of worker *index*."""
        if self.worker_args is not None:
            return self.args + self.worker_args[index], self.kwargs
        return self.args, self.kwargs


def make_plan(
    target: Callable[..., Any],
    n: int | None,
    *,
    mode: Mode | str,
    args: Sequence[Any] = (),
    kwargs: Mapping[str, Any] | None = None,
    worker_args: Iterable[Sequence[Any]] | None = None,
    timeout: float | None = None,
    grace: float = DEFAULT_GRACE,
    switch_interval: float | None = None,
) -> Plan:
    """Check the arguments of a run and return its :class:`Plan`.

    :raises TypeError: If *target* is not callable or an argument has the wrong type.
    :raises ValueError: If *n*, *timeout*, *grace* or *worker_args* is out of range or
        inconsistent.
    """
    if not callable(target):
        raise TypeError(f"target must be callable, not {type(target).__name__} {target!r}")
    # The common case without the parser: a thread run costs tens of microseconds in all.
    resolved = THREAD if mode == "thread" else Mode.parse(mode)
    per_worker: tuple[tuple[Any, ...], ...] | None = None
    if worker_args is not None:
        if isinstance(worker_args, (str, bytes)):
            raise TypeError(
                f"worker_args must be an iterable of argument tuples, not {worker_args!r}"
            )
        per_worker = tuple(_as_args(a, i) for i, a in enumerate(worker_args))
        if n is not None and n != len(per_worker):
            raise ValueError(f"n={n!r} does not match the {len(per_worker)} entries of worker_args")
        n = len(per_worker)
    if n is None:
        n = DEFAULT_WORKERS
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, not {type(n).__name__} {n!r}")
    if n < 1:
        raise ValueError(f"n must be at least 1 (got n={n})")
    if timeout is not None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError(f"timeout must be a number of seconds or None, not {timeout!r}")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(
                f"timeout must be a positive number of seconds (got timeout={timeout!r})"
            )
        if timeout > threading.TIMEOUT_MAX:
            # Waiting on a thread cannot take longer (OverflowError); the process supervisor
            # waits in slices, so this one bound serves both modes.
            raise ValueError(
                f"timeout must be at most {threading.TIMEOUT_MAX:g} seconds, the longest wait "
                f"this platform supports (got timeout={timeout!r}); use None for no deadline"
            )
    if grace != DEFAULT_GRACE:
        if isinstance(grace, bool) or not isinstance(grace, (int, float)):
            raise TypeError(f"grace must be a number of seconds, not {grace!r}")
        if not (grace >= 0 and math.isfinite(grace)):
            raise ValueError(f"grace must be a finite number of seconds >= 0 (got grace={grace!r})")
    if switch_interval is not None:
        if isinstance(switch_interval, bool) or not isinstance(switch_interval, (int, float)):
            raise TypeError(
                f"switch_interval must be a number of seconds or None, not {switch_interval!r}"
            )
        if not (switch_interval > 0 and math.isfinite(switch_interval)):
            raise ValueError(
                "switch_interval must be a positive finite number of seconds "
                f"(got switch_interval={switch_interval!r})"
            )
        if resolved.kind != "thread":
            raise ValueError(
                f"switch_interval applies to thread runs only (got mode={resolved}); a process "
                "worker's target can call sys.setswitchinterval itself"
            )
    if isinstance(args, (str, bytes)) or not isinstance(args, Sequence):
        raise TypeError(f"args must be a sequence of positional arguments, not {args!r}")
    if kwargs is not None and not isinstance(kwargs, Mapping):
        raise TypeError(f"kwargs must be a mapping, not {type(kwargs).__name__} {kwargs!r}")
    return Plan(
        target=target,
        n=n,
        mode=resolved,
        args=tuple(args),
        kwargs=dict(kwargs or {}),
        worker_args=per_worker,
        timeout=None if timeout is None else float(timeout),
        grace=float(grace),
        switch_interval=None if switch_interval is None else float(switch_interval),
    )


def _as_args(value: Any, index: int) -> tuple[Any, ...]:
    if isinstance(value, tuple):
        return value
    if isinstance(value, list):
        return tuple(value)
    raise TypeError(
        f"worker_args[{index}] must be a tuple of arguments, not {type(value).__name__} {value!r} "
        "(use map_workers() to pass one argument per worker)"
    )
