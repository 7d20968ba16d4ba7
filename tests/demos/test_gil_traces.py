"""The GIL demos' helpers: telling a wait for the GIL from a wait for a free core."""

from __future__ import annotations

import pytest

from concur_lab.demos import _gil, _machine


def _trace(worker: int, spans: list[tuple[float, float, str]]) -> _gil.Trace:
    return _gil.Trace(worker=worker, name=f"w{worker}", pid=1, spans=list(spans))


def test_gap_while_a_sibling_ran_is_a_gil_wait() -> None:
    """A thread's gap covered by its sibling's running is waiting for the GIL."""
    a = _trace(0, [(0.0, 0.005, "running"), (0.005, 0.010, "waiting"), (0.010, 0.015, "running")])
    b = _trace(1, [(0.005, 0.010, "running")])
    _gil._classify_waits([a, b], gil_turns=True)
    assert a.spans[1] == (0.005, 0.010, "waiting-gil")


def test_gap_while_no_worker_ran_is_no_free_cpu() -> None:
    """Part of a gap during which no worker of the run ran is blamed on other programs."""
    a = _trace(0, [(0.0, 0.005, "running"), (0.005, 0.020, "waiting"), (0.020, 0.025, "running")])
    b = _trace(1, [(0.005, 0.010, "running")])
    _gil._classify_waits([a, b], gil_turns=True)
    assert a.spans[1:3] == [(0.005, 0.010, "waiting-gil"), (0.010, 0.020, "waiting-cpu")]


def test_process_gaps_are_all_no_free_cpu() -> None:
    """Processes do not share a GIL: a sibling's running does not make a gap a GIL wait."""
    a = _trace(0, [(0.005, 0.010, "waiting")])
    b = _trace(1, [(0.005, 0.010, "running")])
    _gil._classify_waits([a, b], gil_turns=False)
    assert a.spans == [(0.005, 0.010, "waiting-cpu")]


def test_slivers_join_a_neighbour() -> None:
    """A piece shorter than GAP is timing noise and does not become a span of its own."""
    a = _trace(0, [(0.0, 0.010, "waiting")])
    b = _trace(1, [(0.0, 0.0099, "running")])
    _gil._classify_waits([a, b], gil_turns=True)
    assert a.spans == [(0.0, 0.010, "waiting-gil")]


def test_others_cores_subtracts_our_own_cpu() -> None:
    """Other programs' cores are the machine's busy seconds minus ours, per wall second."""
    assert _machine.others_cores(10.0, 11.0, 0.5, 0.4) == pytest.approx(1.2)
    assert _machine.others_cores(10.0, 10.1, 0.5, 0.4) == 0.0
    assert _machine.others_cores(None, 11.0, 0.5, 0.4) is None


def test_busy_means_short_of_the_cores_the_run_needed() -> None:
    """Processes needing 2 of 2 cores are disturbed by a quarter core; GIL threads need only one."""
    assert _machine.is_busy(0.3, 2, needed=2)
    assert not _machine.is_busy(0.2, 2, needed=2)
    assert not _machine.is_busy(1.0, 2, needed=1)
    assert _machine.is_busy(1.3, 2, needed=1)
    assert not _machine.is_busy(None, 2, needed=2)


def test_busy_note_gives_the_numbers() -> None:
    """The note says how many cores other programs used; a quiet or unknown run has none."""
    assert _machine.busy_note(0.1, 2, needed=2) is None
    assert _machine.busy_note(None, 2, needed=2) is None
    note = _machine.busy_note(1.5, 2, needed=2)
    assert note == "machine busy: other programs used 1.5 of 2 cores"
