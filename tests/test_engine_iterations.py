"""Iterations: each worker runs its target N times, meeting the others before each iteration."""

from __future__ import annotations

import time

import pytest
from _processes import MODES, child_processes

import concur_lab


def _indexes() -> tuple[int, int]:
    return concur_lab.worker_index(), concur_lab.iteration_index()


def _fail_in_second_iteration() -> int:
    if concur_lab.worker_index() == 1 and concur_lab.iteration_index() == 1:
        raise ValueError("worker 1 fails in iteration 1")
    return concur_lab.iteration_index()


@pytest.mark.parametrize("mode", MODES)
def test_each_worker_runs_every_iteration(mode: str) -> None:
    """The last value of each worker is its index and the last iteration's index."""
    assert concur_lab.run_workers(_indexes, 3, mode=mode, iterations=4) == [
        (0, 3),
        (1, 3),
        (2, 3),
    ]


def _reads_per_iteration(counter: concur_lab.SharedCounter) -> int:
    if concur_lab.worker_index() == 0 and concur_lab.iteration_index() == 0:
        time.sleep(0.2)
    read = counter.value
    counter.increment()
    return read


@pytest.mark.parametrize("mode", MODES)
def test_a_slow_worker_holds_the_next_iteration(mode: str) -> None:
    """Iteration 1's reads all see iteration 0's three increments, despite a slow worker."""
    with concur_lab.SharedCounter(mode.partition(":")[0]) as counter:
        reads = concur_lab.run_workers(
            _reads_per_iteration, 3, mode=mode, args=(counter,), iterations=2
        )
    assert all(read >= 3 for read in reads)


@pytest.mark.parametrize("mode", MODES)
def test_a_failing_worker_stops_the_others(mode: str) -> None:
    """A worker that raises is reported; the others stop instead of waiting for it."""
    outcomes = concur_lab.run_outcomes(
        _fail_in_second_iteration, 3, mode=mode, iterations=50, timeout=30
    )
    assert [o.status for o in outcomes] == ["ok", "raised", "ok"]
    assert isinstance(outcomes[1].exception, ValueError)
    assert all(o.value is not None and o.value < 49 for o in (outcomes[0], outcomes[2]))


def test_iteration_index_outside_a_worker_raises() -> None:
    """iteration_index() outside any worker raises, as worker_index() does."""
    with pytest.raises(RuntimeError, match="outside a concur_lab worker"):
        concur_lab.iteration_index()


def test_iteration_index_is_zero_without_iterations() -> None:
    """A run without iterations is iteration 0."""
    assert concur_lab.run_workers(concur_lab.iteration_index, 2) == [0, 0]


@pytest.mark.parametrize("bad", [0, -1])
def test_iterations_below_one_are_refused(bad: int) -> None:
    """iterations must be at least 1, and the error names the value."""
    message = rf"iterations must be at least 1 \(got iterations={bad}\)"
    with pytest.raises(ValueError, match=message):
        concur_lab.run_outcomes(_indexes, 2, iterations=bad)


@pytest.mark.parametrize("bad", [1.5, "2", True])
def test_iterations_must_be_an_int(bad: object) -> None:
    """iterations of another type is a TypeError naming it."""
    with pytest.raises(TypeError, match="iterations must be an int"):
        concur_lab.run_outcomes(_indexes, 2, iterations=bad)  # type: ignore[arg-type]


def test_process_iterations_leave_no_child() -> None:
    """A process run with iterations joins every child, its barrier's included."""
    before = set(child_processes())
    concur_lab.run_workers(_indexes, 2, mode="process", iterations=3)
    assert set(child_processes()) == before
