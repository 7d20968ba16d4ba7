"""Increments per second of SharedCounter against the hand-written baselines.

Thread mode is compared with a bare ``int`` guarded by a ``threading.Lock``; process mode with
``multiprocess.Value('q')`` guarded by its ``get_lock()``, in the same run, with 1 and 4 workers.
Process workers are forked with ``multiprocess`` and all workers of a run start together on a
barrier; each records its own start and end (``time.perf_counter``, a system-wide monotonic
clock on Linux), and a run's rate is all increments divided by first start to last end.
Repeats alternate counter and baseline (A B A B ...), so drifting machine load hits both.

Usage: ``python benchmarks/counter.py [--quick] [--json FILE]``. Import :func:`measure` to get
the rows without printing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import multiprocess

from concur_lab.counter._shared_counter import SharedCounter

# Targets from issue 2: counter speed / baseline speed, per mode and worker count.
TARGETS = {"thread": 0.5, "process": 1 / 3}
JOIN_TIMEOUT = 300.0


class _Box:
    v = 0


def _bare_thread_loop(box: _Box, lock: Any, n: int) -> None:
    for _ in range(n):
        with lock:
            box.v += 1


def _counter_loop(counter: SharedCounter, n: int) -> None:
    for _ in range(n):
        counter.increment()


def _value_loop(value: Any, n: int) -> None:
    for _ in range(n):
        with value.get_lock():
            value.value += 1


def _timed(
    loop: Callable[..., None], args: tuple[Any, ...], barrier: Any, times: Any, i: int
) -> None:
    barrier.wait(JOIN_TIMEOUT)
    start = time.perf_counter()
    loop(*args)
    times[2 * i] = start
    times[2 * i + 1] = time.perf_counter()


def _rate(times: Any, workers: int, per_worker: int) -> float:
    starts = [float(times[2 * i]) for i in range(workers)]
    ends = [float(times[2 * i + 1]) for i in range(workers)]
    return workers * per_worker / (max(ends) - min(starts))


def _run_threads(impl: str, workers: int, per_worker: int) -> tuple[float, bool]:
    times = [0.0] * (2 * workers)
    barrier = threading.Barrier(workers)
    if impl == "counter":
        counter = SharedCounter("thread")
        loop: Callable[..., None] = _counter_loop
        args: tuple[Any, ...] = (counter, per_worker)
    else:
        box = _Box()
        loop, args = _bare_thread_loop, (box, threading.Lock(), per_worker)
    threads = [
        threading.Thread(target=_timed, args=(loop, args, barrier, times, i))
        for i in range(workers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(JOIN_TIMEOUT)
        if thread.is_alive():
            raise RuntimeError("a benchmark thread did not finish in time")
    final = counter.value if impl == "counter" else box.v
    if impl == "counter":
        counter.close()
    return _rate(times, workers, per_worker), final == workers * per_worker


def _run_processes(impl: str, workers: int, per_worker: int) -> tuple[float, bool]:
    ctx = multiprocess.get_context("fork")
    times = ctx.RawArray("d", 2 * workers)
    barrier = ctx.Barrier(workers)
    if impl == "counter":
        shared: Any = SharedCounter("process:fork")
        loop: Callable[..., None] = _counter_loop
    else:
        shared = ctx.Value("q", 0)
        loop = _value_loop
    procs = [
        ctx.Process(target=_timed, args=(loop, (shared, per_worker), barrier, times, i))
        for i in range(workers)
    ]
    try:
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(JOIN_TIMEOUT)
            if proc.exitcode != 0:
                raise RuntimeError(f"benchmark worker failed: exit code {proc.exitcode}")
        final = shared.value
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
        if impl == "counter":
            shared.close()
    return _rate(times, workers, per_worker), final == workers * per_worker


def _case(kind: str, workers: int, per_worker: int, repeats: int) -> dict[str, Any]:
    run = _run_threads if kind == "thread" else _run_processes
    rates: dict[str, list[float]] = {"counter": [], "baseline": []}
    exact = True
    for _ in range(repeats):
        for impl in ("counter", "baseline"):
            rate, ok = run(impl, workers, per_worker)
            rates[impl].append(rate)
            exact = exact and ok
    counter_median = statistics.median(rates["counter"])
    baseline_median = statistics.median(rates["baseline"])
    ratio = counter_median / baseline_median
    return {
        "kind": kind,
        "workers": workers,
        "increments_per_worker": per_worker,
        "repeats": repeats,
        "counter": f"SharedCounter('{kind}')",
        "baseline": "int + threading.Lock"
        if kind == "thread"
        else "multiprocess.Value('q') + get_lock()",
        "counter_rates": rates["counter"],
        "baseline_rates": rates["baseline"],
        "counter_median": counter_median,
        "counter_min": min(rates["counter"]),
        "counter_max": max(rates["counter"]),
        "baseline_median": baseline_median,
        "baseline_min": min(rates["baseline"]),
        "baseline_max": max(rates["baseline"]),
        "ratio": ratio,
        "target": TARGETS[kind],
        "meets_target": ratio >= TARGETS[kind],
        "exact": exact,
        "python": sys.version.split()[0],
    }


def measure(quick: bool = False) -> list[dict[str, Any]]:
    """Measure every case and return one row per (mode kind, worker count).

    :param quick: Fewer increments and repeats (a smoke run, noisier).
    :returns: Rows with the rates of each repeat, medians, min/max, the ratio counter/baseline
        of the medians, the target and whether every run counted exactly.
    """
    repeats = 3 if quick else 7
    scale = 1 if quick else 10
    sizes = {"thread": 20_000 * scale, "process": 10_000 * scale}
    return [
        _case(kind, workers, sizes[kind] if workers == 1 else sizes[kind] // 2, repeats)
        for kind in ("thread", "process")
        for workers in (1, 4)
    ]


def _format(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"{'mode':8} {'workers':>7} {'counter M/s (min-max)':>24} {'baseline M/s (min-max)':>24}"
        f" {'ratio':>6} {'target':>6}  verdict",
    ]
    for row in rows:
        counter = (
            f"{row['counter_median'] / 1e6:.2f} ({row['counter_min'] / 1e6:.2f}-"
            f"{row['counter_max'] / 1e6:.2f})"
        )
        baseline = (
            f"{row['baseline_median'] / 1e6:.2f} ({row['baseline_min'] / 1e6:.2f}-"
            f"{row['baseline_max'] / 1e6:.2f})"
        )
        verdict = "ok" if row["meets_target"] else "MISSED"
        if not row["exact"]:
            verdict += ", LOST UPDATES"
        lines.append(
            f"{row['kind']:8} {row['workers']:>7} {counter:>24} {baseline:>24}"
            f" {row['ratio']:>6.2f} {row['target']:>6.2f}  {verdict}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="Fewer increments and repeats")
    parser.add_argument("--json", type=Path, metavar="FILE", help="Also write the rows as JSON")
    options = parser.parse_args(argv)
    rows = measure(quick=options.quick)
    print(f"Python {sys.version.split()[0]} on {sys.platform}; medians of interleaved repeats")
    print(_format(rows))
    if options.json is not None:
        options.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(row["exact"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
