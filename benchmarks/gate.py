"""What the start gate costs process workers: the engine with and without it, against by hand.

The engine's children report "ready" and wait at a gate until every child is ready, so that all
targets begin together; a hand-written ``Process`` + ``Pipe`` version has no such gate, so its
children run (and exit) while the parent is still forking the next ones. To see how much of the
engine/hand ratio is the gate, this benchmark-local prototype opens the gate before the first
child starts (by wrapping the engine's private ``_start_all``), which makes the engine behave
like the hand-written version in that one respect. It patches private names: if the engine
changes them, this section fails loudly instead of measuring something else.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from benchmarks._baselines import bare_processes, hand_processes, trivial
from benchmarks._stats import interleave, ratio_stats, summary
from concur_lab import run_workers
from concur_lab.engine import _processes, _supervisor

__all__ = ["measure_gate"]


class _QuietOs:
    """``os`` whose ``write`` ignores a gate no child reads any more (all already exited)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def write(fd: int, data: bytes) -> int:
        try:
            return os.write(fd, data)
        except BrokenPipeError:
            return 0


@contextmanager
def _gate_open_from_the_start() -> Iterator[None]:
    original = _processes._start_all
    if not callable(original) or not hasattr(_supervisor, "os"):
        raise RuntimeError(
            "concur_lab.engine's process modules changed: the no-gate prototype needs updating"
        )

    def start_all(
        ctx: Any, plan: Any, workers: list[Any], payload: Any, manifest: Any, gate_r: Any,
        gate_w: Any, *rest: Any,
    ) -> None:
        os.write(gate_w.fileno(), b"g" * len(workers))
        original(ctx, plan, workers, payload, manifest, gate_r, gate_w, *rest)

    setattr(_processes, "_start_all", start_all)  # noqa: B010  (a private name, patched on purpose)
    setattr(_supervisor, "os", _QuietOs())  # noqa: B010
    try:
        yield
    finally:
        setattr(_processes, "_start_all", original)  # noqa: B010
        setattr(_supervisor, "os", os)  # noqa: B010


def _engine(method: str, n: int, gate: bool) -> None:
    if gate:
        run_workers(trivial, n, mode=f"process:{method}", timeout=120.0)
        return
    with _gate_open_from_the_start():
        run_workers(trivial, n, mode=f"process:{method}", timeout=120.0)


def measure_gate(methods: Sequence[str], sizes: Sequence[int], rounds: int) -> list[dict[str, Any]]:
    """Engine, engine without its start gate (prototype), by hand and bare, interleaved.

    :param methods: Start methods.
    :param sizes: Worker counts.
    :param rounds: Interleaved rounds.
    :returns: One row per (method, n) with medians in ms and per-round ratios.
    """
    rows = []
    for method in methods:
        for n in sizes:
            variants: dict[str, Callable[[], Any]] = {
                "engine": functools.partial(_engine, method, n, True),
                "no_gate": functools.partial(_engine, method, n, False),
                "hand": functools.partial(hand_processes, method, n),
                "bare": functools.partial(bare_processes, method, n),
            }
            samples = interleave(variants, rounds)
            rows.append(
                {
                    "mode": f"process[{method}]",
                    "n": n,
                    "rounds": rounds,
                    **{f"{k}_ms": summary([s * 1e3 for s in v]) for k, v in samples.items()},
                    "engine_vs_hand": ratio_stats(samples["engine"], samples["hand"]),
                    "no_gate_vs_hand": ratio_stats(samples["no_gate"], samples["hand"]),
                    "engine_vs_no_gate": ratio_stats(samples["engine"], samples["no_gate"]),
                }
            )
    return rows
