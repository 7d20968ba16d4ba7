"""Interleaved timing and the summaries every section reports (median, min, max)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["interleave", "ratio_stats", "summary"]


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of *values*.

    :param values: At least one sample.
    :returns: ``{"median": ..., "min": ..., "max": ...}``.
    """
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def ratio_stats(num: Sequence[float], den: Sequence[float]) -> dict[str, float]:
    """Per-round ratios ``num[i] / den[i]`` summarised.

    Pairing samples of the same round cancels load that drifts slower than a round.

    :param num: Samples of A, one per round.
    :param den: Samples of B, one per round, same length.
    :returns: Median, min and max of the per-round ratios.
    :raises ValueError: If the lengths differ.
    """
    if len(num) != len(den):
        raise ValueError(f"ratio of {len(num)} samples to {len(den)} samples")
    return summary([a / b for a, b in zip(num, den, strict=True)])


def interleave(
    variants: Mapping[str, Callable[[], Any]],
    rounds: int,
    *,
    inner: int | Mapping[str, int] = 1,
    warmup: int = 1,
) -> dict[str, list[float]]:
    """Time every variant once per round, in a rotating order, and return seconds per call.

    A sample is the median of *inner* consecutive calls: on a shared machine one call in a batch
    may wait for a core, and a mean would charge that wait to whichever variant was running.

    :param variants: Name -> a callable doing one unit of work.
    :param rounds: How many samples of each variant.
    :param inner: Calls per sample (the sample is their median), for short work;
        one count for all variants or one per variant name.
    :param warmup: Untimed rounds first (imports, first fork server start, caches).
    :returns: Name -> one seconds-per-call sample per round.
    """
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        # Rotate who goes first so a systematic first/second position effect averages out.
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = variants[name]
            calls = inner if isinstance(inner, int) else inner[name]
            times = []
            for _ in range(calls):
                start = time.perf_counter()
                fn()
                times.append(time.perf_counter() - start)
            samples[name].append(statistics.median(times))
    return samples
