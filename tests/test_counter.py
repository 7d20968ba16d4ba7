"""Tests for SharedCounter: exactness, sharing under every start method, crashes, cleanup."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import gc
import operator
import os
import pickle
import platform
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import multiprocess
import pytest
from filelock import FileLock

import concur_lab
import concur_lab.counter._process_backend as process_module
import concur_lab.counter._shared_counter as counter_module
from concur_lab import (
    ModeError,
    SendError,
    SharedCounter,
    available_start_methods,
    run_outcomes,
    run_workers,
)
from concur_lab.counter._file_layout import SIZE
from concur_lab.counter._robust_mutex import PTHREAD

START_METHODS = available_start_methods()
MODES = ["thread", *(f"process:{method}" for method in START_METHODS)]
BACKENDS = ["mutex", "flock"]
# Generous: 2 shared cores, and spawn under pytest costs up to a second per process.
DEADLINE = 240.0
# Per backend; the value used to drop to 0 at 1-4 % of kills, and a kill costs a few ms.
RANDOM_KILLS = 150


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make new process-mode counters use each lock backend in turn."""
    name: str = request.param
    if name == "mutex" and PTHREAD is None:
        pytest.skip("no robust pthread mutex on this platform")
    monkeypatch.setattr(process_module, "_DEFAULT_BACKEND", name)
    return name


@pytest.fixture
def make_counter() -> Iterator[Callable[[str], SharedCounter]]:
    """Return a factory of counters that are all closed after the test."""
    made: list[SharedCounter] = []

    def make(mode: str) -> SharedCounter:
        counter = SharedCounter(mode)
        made.append(counter)
        return counter

    yield make
    for counter in made:
        counter.close()


@dataclass
class Holder:
    """An object that carries a counter inside it."""

    counters: dict[str, SharedCounter]


def _increment_n(counter: SharedCounter, n: int) -> None:
    for _ in range(n):
        counter.increment()


def _increment_and_record(counter: SharedCounter, n: int) -> list[int]:
    return [counter.increment() for _ in range(n)]


def _increment_holder(holder: Holder, n: int) -> None:
    _increment_n(holder.counters["hits"], n)


def _run_python(code: str, stdin: bytes = b"") -> str:
    """Run *code* in a new Python that imports this concur_lab; return its output, or fail."""
    package_root = str(Path(counter_module.__file__).resolve().parents[1])
    path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code],
        input=stdin,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": path},
        timeout=DEADLINE,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode()


def _join_all(procs: list[Any]) -> None:
    """Join every process by the deadline; kill and fail on any that is still running."""
    deadline = time.monotonic() + DEADLINE
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
    stuck = [proc for proc in procs if proc.is_alive()]
    for proc in stuck:
        proc.kill()
        proc.join(10)
    assert not stuck, f"processes did not finish within {DEADLINE} s (deadlock?)"


# --- values and arguments -----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_increment_returns_new_value(
    mode: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """increment() adds its argument, negative included, and returns the new value."""
    counter = make_counter(mode)
    assert [counter.increment(), counter.increment(5), counter.increment(-2)] == [1, 6, 4]
    assert counter.value == 4
    assert int(counter) == 4


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_reset(mode: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """reset() sets the value, to 0 by default."""
    counter = make_counter(mode)
    counter.increment(3)
    counter.reset(-7)
    assert counter.value == -7
    counter.reset()
    assert counter.value == 0


@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("bad", [1.5, True, "1", None])
def test_increment_rejects_non_int(
    mode: str, bad: object, make_counter: Callable[[str], SharedCounter]
) -> None:
    """increment() with a non-int raises TypeError naming the value."""
    counter = make_counter(mode)
    with pytest.raises(TypeError, match=rf"increment\(by=\.\.\.\) must be an int.*{bad!r}"):
        counter.increment(bad)  # type: ignore[arg-type]
    assert counter.value == 0


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_reset_rejects_bad_values(mode: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """reset() raises TypeError for non-ints and ValueError outside the 64-bit range."""
    counter = make_counter(mode)
    with pytest.raises(TypeError, match=r"reset\(value=\.\.\.\) must be an int, not float"):
        counter.reset(2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="9223372036854775808, outside the signed 64-bit"):
        counter.reset(2**63)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_overflow_adds_nothing(mode: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """An increment past the signed 64-bit range raises OverflowError and keeps the value."""
    counter = make_counter(mode)
    counter.reset(2**63 - 1)
    with pytest.raises(OverflowError, match="9223372036854775807 \\+ 1"):
        counter.increment()
    counter.reset(-(2**63))
    with pytest.raises(OverflowError):
        counter.increment(-1)
    with pytest.raises(ValueError, match=r"increment\(by=18446744073709551616\)"):
        counter.increment(2**64)
    assert counter.value == -(2**63)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_accepts_index_objects(mode: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """Integer-like objects (with __index__, like numpy ints) are accepted."""

    class Three:
        def __index__(self) -> int:
            return 3

    counter = make_counter(mode)
    assert counter.increment(Three()) == 3  # type: ignore[arg-type]


def test_unknown_mode() -> None:
    """An unknown mode raises ModeError."""
    with pytest.raises(ModeError, match="'threads'"):
        SharedCounter("threads")


def test_mode_and_repr(make_counter: Callable[[str], SharedCounter]) -> None:
    """The counter records its mode and shows it, its value and its file in repr."""
    counter = make_counter("process:spawn" if "spawn" in START_METHODS else "process")
    counter.increment(2)
    assert counter.mode.kind == "process"
    assert repr(counter).startswith(f"<SharedCounter {counter.mode.label} value=2 path=")
    thread_counter = make_counter("thread")
    assert repr(thread_counter) == "<SharedCounter thread value=0>"
    assert thread_counter.path is None


def test_no_index() -> None:
    """A counter is not an index: its value changes under you."""
    with SharedCounter("thread") as counter, pytest.raises(TypeError):
        [0, 1][counter]  # type: ignore[index]


def test_public_export() -> None:
    """concur_lab exports SharedCounter."""
    assert concur_lab.SharedCounter is counter_module.SharedCounter


# --- exactness under contention -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_exact_under_contention(mode: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """4 workers x 2000 increments: every value from 1 to 8000 is returned exactly once."""
    counter = make_counter(mode)
    returned = run_workers(
        _increment_and_record, 4, mode=mode, args=(counter, 2000), timeout=DEADLINE
    )
    assert counter.value == 8000
    assert sorted(value for values in returned for value in values) == list(range(1, 8001))


def test_exact_under_contention_each_backend(
    backend: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """Both lock backends are exact with 4 spawned processes of 2 threads each."""

    def two_threads(counter: SharedCounter) -> None:
        threads = [threading.Thread(target=_increment_n, args=(counter, 1500)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    counter = make_counter("process")
    assert type(counter)._backend == backend  # type: ignore[attr-defined]
    ctx = multiprocess.get_context("spawn")
    procs = [ctx.Process(target=two_threads, args=(counter,)) for _ in range(4)]
    for proc in procs:
        proc.start()
    _join_all(procs)
    assert [proc.exitcode for proc in procs] == [0] * 4
    assert counter.value == 12000


def test_flock_backend_after_fork_excludes_parent_and_child(
    monkeypatch: pytest.MonkeyPatch, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A forked child reopens a flock counter's file, so parent and child exclude each other."""
    monkeypatch.setattr(process_module, "_DEFAULT_BACKEND", "flock")
    counter = make_counter("process:fork")
    ctx = multiprocess.get_context("fork")
    procs = [ctx.Process(target=_increment_n, args=(counter, 3000)) for _ in range(2)]
    for proc in procs:
        proc.start()
    _increment_n(counter, 3000)
    _join_all(procs)
    assert counter.value == 9000


@contextlib.contextmanager
def _holding_lock(counter: SharedCounter) -> Iterator[None]:
    """Hold the counter's locks in this thread, as increment() does (white box)."""
    if isinstance(counter, process_module.MutexCounter):
        assert PTHREAD is not None
        assert PTHREAD.lock(counter._mutex) == 0
        try:
            yield
        finally:
            PTHREAD.unlock(counter._mutex)
        return
    assert isinstance(counter, process_module.FlockCounter)
    with counter._lock:
        fcntl.flock(counter._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(counter._fd, fcntl.LOCK_UN)


def _signal_then_increment(counter: SharedCounter, about_to_increment: Any) -> None:
    about_to_increment.set()
    counter.increment()


@pytest.mark.skipif("fork" not in START_METHODS, reason="needs the fork start method")
def test_fork_while_parent_holds_the_lock(
    backend: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A child forked while the parent holds the lock waits for the parent, then counts."""
    counter = make_counter("process:fork")
    ctx = multiprocess.get_context("fork")
    about_to_increment = ctx.Event()
    child = ctx.Process(target=_signal_then_increment, args=(counter, about_to_increment))
    with _holding_lock(counter):
        child.start()
        assert about_to_increment.wait(DEADLINE)
        child.join(0.5)
        assert child.is_alive(), "the child got past a lock its parent holds"
        assert counter._peek() == 0  # type: ignore[attr-defined]
    _join_all([child])
    assert child.exitcode == 0
    assert counter.value == 1


@pytest.mark.skipif("fork" not in START_METHODS, reason="needs the fork start method")
def test_fork_while_thread_mode_lock_is_held() -> None:
    """A forked child gets a fresh lock for its thread-mode copy instead of a locked one."""
    with SharedCounter("thread") as counter:
        ctx = multiprocess.get_context("fork")
        child = ctx.Process(target=_increment_n, args=(counter, 1))
        with counter._lock:  # type: ignore[attr-defined]
            child.start()
            _join_all([child])
        assert child.exitcode == 0


# --- reaching workers -----------------------------------------------------------------------


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("how", ["args", "closure", "nested"])
def test_visible_in_workers(
    method: str, how: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A process-mode counter reached through args, a closure or another object is shared."""
    counter = make_counter(f"process:{method}")
    mode = f"process:{method}"
    if how == "args":
        run_workers(_increment_n, 2, mode=mode, args=(counter, 50), timeout=DEADLINE)
    elif how == "closure":

        def work() -> None:
            _increment_n(counter, 50)

        run_workers(work, 2, mode=mode, timeout=DEADLINE)
    else:
        holder = Holder({"hits": counter})
        run_workers(_increment_holder, 2, mode=mode, args=(holder, 50), timeout=DEADLINE)
    assert counter.value == 100


def test_pickle_round_trip(make_counter: Callable[[str], SharedCounter]) -> None:
    """An unpickled copy shares the value with the original."""
    counter = make_counter("process")
    copy = pickle.loads(pickle.dumps(counter))
    copy.increment(3)
    counter.increment()
    assert (copy.value, counter.value) == (4, 4)
    assert copy.path == counter.path
    assert copy.mode == counter.mode
    copy.close()


def test_visible_from_subprocess(make_counter: Callable[[str], SharedCounter]) -> None:
    """A child started with subprocess, given the pickle, increments the same counter."""
    counter = make_counter("process")
    code = textwrap.dedent(
        """
        import pickle, sys
        counter = pickle.load(sys.stdin.buffer)
        for _ in range(10):
            counter.increment()
        print(counter.value)
        """
    )
    counter.increment(5)
    output = _run_python(code, stdin=pickle.dumps(counter))
    assert output.strip() == "15"
    assert counter.value == 15


# --- thread mode across processes -------------------------------------------------------------


def test_thread_mode_refuses_pickling() -> None:
    """Pickling a thread-mode counter raises TypeError pointing to process mode."""
    with (
        SharedCounter("thread") as counter,
        pytest.raises(TypeError, match=r"SharedCounter\('process'\)"),
    ):
        pickle.dumps(counter)


@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_thread_mode_cannot_reach_pickling_workers(method: str) -> None:
    """A thread-mode counter sent to a spawn/forkserver worker fails instead of being copied."""
    with (
        SharedCounter("thread") as counter,
        pytest.raises(Exception, match="thread-mode SharedCounter"),
    ):
        run_workers(_increment_n, 1, mode=f"process:{method}", args=(counter, 1), timeout=DEADLINE)


@pytest.mark.skipif("fork" not in START_METHODS, reason="needs the fork start method")
def test_thread_mode_forked_child_gets_a_private_copy() -> None:
    """The lesson: a forked child inherits a copy of a thread-mode counter, not the counter."""
    with SharedCounter("thread") as counter:
        run_workers(_increment_n, 2, mode="process:fork", args=(counter, 100), timeout=DEADLINE)
        assert counter.value == 0


# --- crashes --------------------------------------------------------------------------------


class _DyingCell:
    """Stands in for a counter's value cell: storing a value SIGKILLs the process."""

    def __init__(self, cell: Any, write_first: bool) -> None:
        self._cell = cell
        self._write_first = write_first

    @property
    def value(self) -> int:
        return int(self._cell.value)

    @value.setter
    def value(self, new: int) -> None:
        if self._write_first:
            self._cell.value = new
        os.kill(os.getpid(), signal.SIGKILL)


def _die_inside_increment(counter: SharedCounter, write_first: bool) -> None:
    """Count 1, then be SIGKILLed inside increment() while holding the lock (white box)."""
    counter.increment()
    counter._cell = _DyingCell(counter._cell, write_first)  # type: ignore[attr-defined]
    counter.increment()


@pytest.mark.parametrize("method", START_METHODS)
@pytest.mark.parametrize("write_first", [False, True], ids=["before-write", "after-write"])
def test_sigkill_inside_increment(
    method: str, write_first: bool, backend: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A worker killed holding the lock blocks nobody; its last increment counts iff written."""
    counter = make_counter(f"process:{method}")
    ctx = multiprocess.get_context(method)
    victim = ctx.Process(target=_die_inside_increment, args=(counter, write_first))
    victim.start()
    _join_all([victim])
    assert victim.exitcode == -signal.SIGKILL
    others = [ctx.Process(target=_increment_n, args=(counter, 1000)) for _ in range(3)]
    for proc in others:
        proc.start()
    _join_all(others)
    assert [proc.exitcode for proc in others] == [0, 0, 0]
    assert counter.value == 3000 + (2 if write_first else 1)


def _increment_until_killed(counter: SharedCounter, done: Any) -> None:
    while True:
        counter.increment()
        done.value += 1


@pytest.mark.parametrize("method", START_METHODS)
def test_sigkill_while_looping(method: str, make_counter: Callable[[str], SharedCounter]) -> None:
    """A worker SIGKILLed at a random instant of its loop: the others finish, nothing is lost."""
    counter = make_counter(f"process:{method}")
    ctx = multiprocess.get_context(method)
    done = ctx.RawValue("q", 0)
    victim = ctx.Process(target=_increment_until_killed, args=(counter, done))
    others = [ctx.Process(target=_increment_n, args=(counter, 3000)) for _ in range(3)]
    for proc in [victim, *others]:
        proc.start()
    deadline = time.monotonic() + DEADLINE
    while done.value < 500 and victim.is_alive() and time.monotonic() < deadline:
        time.sleep(0.005)
    victim.kill()
    _join_all([victim, *others])
    assert victim.exitcode == -signal.SIGKILL
    assert [proc.exitcode for proc in others] == [0, 0, 0]
    completed = done.value
    assert completed >= 500
    assert 9000 + completed <= counter.value <= 9000 + completed + 1


_FUTEX_WAITERS = 0x80000000  # glibc: the lock word's "somebody sleeps on me" bit


def _hold_then_free_without_waking(counter: SharedCounter, holding: Any, free: Any) -> None:
    assert PTHREAD is not None
    assert isinstance(counter, process_module.MutexCounter)
    assert PTHREAD.lock(counter._mutex) == 0
    holding.set()
    assert free.wait(DEADLINE)
    # What a waiter SIGKILLed right after being woken leaves behind: a free mutex, a sleeper.
    ctypes.c_uint32.from_address(counter._mutex).value = 0
    os._exit(0)


def _asleep_on_a_futex(pid: int) -> bool:
    with open(f"/proc/{pid}/wchan") as wchan:
        return "futex" in wchan.read()


@pytest.mark.skipif(
    PTHREAD is None or platform.libc_ver()[0] != "glibc" or "fork" not in START_METHODS,
    reason="needs glibc's robust mutex (its lock word layout) and fork",
)
def test_waiter_whose_wake_up_was_lost_still_counts(
    monkeypatch: pytest.MonkeyPatch, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A waiter asleep on a mutex that was freed without waking it still gets the mutex."""
    monkeypatch.setattr(process_module, "_DEFAULT_BACKEND", "mutex")
    counter = make_counter("process:fork")
    assert isinstance(counter, process_module.MutexCounter)
    ctx = multiprocess.get_context("fork")
    holding, free = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold_then_free_without_waking, args=(counter, holding, free))
    holder.start()
    assert holding.wait(DEADLINE)
    waiter = ctx.Process(target=_increment_n, args=(counter, 1))
    waiter.start()
    lock_word = ctypes.c_uint32.from_address(counter._mutex)
    deadline = time.monotonic() + DEADLINE
    while not (lock_word.value & _FUTEX_WAITERS and _asleep_on_a_futex(waiter.pid)):
        assert time.monotonic() < deadline, "the waiter never went to sleep on the mutex"
        time.sleep(0.001)
    free.set()
    _join_all([holder, waiter])
    assert [holder.exitcode, waiter.exitcode] == [0, 0]
    assert counter.value == 1


def test_crash_in_engine_worker_leaves_counter_usable(
    make_counter: Callable[[str], SharedCounter],
) -> None:
    """Through the engine: one worker killed mid-run, the others' increments all count."""
    counter = make_counter("process")

    def work() -> None:
        if concur_lab.worker_index() == 0:
            _die_inside_increment(counter, write_first=False)
        _increment_n(counter, 500)

    outcomes = run_outcomes(work, 3, mode="process", timeout=DEADLINE)
    assert [outcome.status for outcome in outcomes] == ["crashed", "ok", "ok"]
    assert outcomes[0].signal == "SIGKILL"
    assert counter.value == 1 + 2 * 500


def _increment_and_publish(counter: SharedCounter, last: Any) -> None:
    while True:
        last.value = counter.increment()


@pytest.mark.skipif("fork" not in START_METHODS, reason="needs the fork start method")
def test_sigkill_at_random_instants_keeps_the_value(
    backend: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """Killed at random instants, also inside increment(), a worker never sets the value back."""
    counter = make_counter("process:fork")
    counter.reset(10**12)  # a zeroed or half-written value stands out
    ctx = multiprocess.get_context("fork")
    last = ctx.RawValue("q", 0)  # the value the victim's last completed increment returned
    rng = random.Random()
    before = counter.value
    for kill in range(RANDOM_KILLS):
        last.value = before
        victim = ctx.Process(target=_increment_and_publish, args=(counter, last))
        victim.start()
        deadline = time.monotonic() + DEADLINE
        while last.value == before and victim.is_alive() and time.monotonic() < deadline:
            time.sleep(0.0002)
        time.sleep(rng.uniform(0, 0.003))
        victim.kill()
        _join_all([victim])
        assert victim.exitcode == -signal.SIGKILL
        after, completed = counter.value, last.value
        # The increment in flight at the kill, if any, either counted or did not.
        assert completed <= after <= completed + 1, (
            f"kill {kill}: the value went from {before} to {after}; the victim's last "
            f"completed increment returned {completed}"
        )
        assert completed > before
        before = after


# --- files, ownership, closing ----------------------------------------------------------------


def test_private_folder_permissions(make_counter: Callable[[str], SharedCounter]) -> None:
    """The counter's folder is owner-only (0700) and its file 0600."""
    counter = make_counter("process")
    assert counter.path is not None
    path = Path(counter.path)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_close_removes_files() -> None:
    """Closing the creating counter removes its file and folder."""
    counter = SharedCounter("process")
    assert counter.path is not None
    path = Path(counter.path)
    with counter:
        assert path.exists()
    assert not path.exists()
    assert not path.parent.exists()
    assert counter.closed


def test_garbage_collection_removes_files() -> None:
    """Dropping the creating counter removes its file and folder."""
    counter = SharedCounter("process")
    assert counter.path is not None
    path = Path(counter.path)
    del counter
    gc.collect()
    assert not path.exists()
    assert not path.parent.exists()


def _close_copy(counter: SharedCounter) -> None:
    counter.close()
    del counter
    gc.collect()


def test_interpreter_exit_removes_files_but_a_forked_child_exit_does_not() -> None:
    """At exit the owner removes its files; a forked child exiting normally leaves them."""
    code = textwrap.dedent(
        """
        import os, sys
        from concur_lab import SharedCounter
        counter = SharedCounter()
        pid = os.fork()
        if pid == 0:
            counter.increment()
            sys.exit(0)  # a normal exit runs the finalizers of the child's copy
        os.waitpid(pid, 0)
        print(counter.path, os.path.exists(counter.path), counter.value)
        """
    )
    output = _run_python(code)
    path, exists_after_child, value = output.split()
    assert (exists_after_child, value) == ("True", "1")
    assert not Path(path).parent.exists()


@pytest.mark.parametrize("method", START_METHODS)
def test_worker_copy_does_not_remove_files(
    method: str, make_counter: Callable[[str], SharedCounter]
) -> None:
    """A worker closing and dropping its copy leaves the owner's file in place."""
    counter = make_counter(f"process:{method}")
    assert counter.path is not None
    run_workers(_close_copy, 1, mode=f"process:{method}", args=(counter,), timeout=DEADLINE)
    assert Path(counter.path).exists()
    assert counter.increment() == 1


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_use_after_close_raises(mode: str) -> None:
    """Every use of a closed counter raises ValueError; closing twice is fine."""
    counter = SharedCounter(mode)
    counter.close()
    counter.close()
    for use in (counter.increment, lambda: counter.value, counter.reset, lambda: int(counter)):
        with pytest.raises(ValueError, match="is closed"):
            use()
    assert "closed" in repr(counter)


def test_copy_fails_after_owner_closed() -> None:
    """A copy attached before the owner closed, or unpickled after, raises a clear error."""
    counter = SharedCounter("process")
    copy = pickle.loads(pickle.dumps(counter))
    data = pickle.dumps(counter)
    counter.close()
    with pytest.raises(ValueError, match="the counter that created it was closed"):
        copy.increment()
    late = pickle.loads(data)
    assert late.closed
    with pytest.raises(ValueError, match="keep the creating counter open"):
        late.increment()
    copy.close()


def test_copy_reports_closed_once_owner_closed() -> None:
    """An attached copy says it is closed as soon as its owner closed, before it is used."""
    counter = SharedCounter("process")
    copy = pickle.loads(pickle.dumps(counter))
    counter.close()
    assert copy.closed
    copy.close()


_KEPT: list[SharedCounter] = []


def _create_and_keep() -> str | None:
    counter = SharedCounter("process")
    counter.increment()
    _KEPT.append(counter)  # still referenced when the worker ends
    return counter.path


def _create_and_return() -> SharedCounter:
    counter = SharedCounter("process")
    counter.increment(5)
    return counter


@pytest.mark.parametrize("method", START_METHODS)
def test_counter_created_in_worker_is_removed_when_it_ends(method: str) -> None:
    """A counter a process worker creates and still holds at its end leaves no files."""
    paths = run_workers(_create_and_keep, 2, mode=f"process:{method}", timeout=DEADLINE)
    assert [Path(path).parent.exists() for path in paths] == [False, False]


@pytest.mark.parametrize("method", START_METHODS)
def test_counter_returned_from_worker_arrives_closed(method: str) -> None:
    """A counter created in a process worker and returned belongs to it: it arrives closed."""
    [counter] = run_workers(_create_and_return, 1, mode=f"process:{method}", timeout=DEADLINE)
    assert counter.closed
    with pytest.raises(ValueError, match="created in a process worker is removed when that"):
        counter.increment()
    assert counter.path is not None
    assert not Path(counter.path).parent.exists()


def test_process_mode_needs_a_lock_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where neither flock nor a robust mutex exists (Windows), process mode says so."""
    monkeypatch.setattr(process_module, "_DEFAULT_BACKEND", None)
    with pytest.raises(NotImplementedError, match=r"use SharedCounter\('thread'\)"):
        SharedCounter("process")
    with SharedCounter("thread") as counter:
        assert counter.increment() == 1


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_python_errors_name_the_public_class(mode: str) -> None:
    """Python's own errors call a counter, open or closed, SharedCounter, never a private class."""
    counter = SharedCounter(mode)
    with pytest.raises(TypeError, match=r"^'SharedCounter' object cannot be interpreted as an int"):
        operator.index(counter)
    counter.close()
    with pytest.raises(TypeError, match=r"for \+: 'SharedCounter' and 'int'$"):
        counter + 1  # type: ignore[operator]


@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_send_error_names_the_public_class(method: str) -> None:
    """The error for a thread-mode counter sent to a pickling worker names SharedCounter."""
    with SharedCounter("thread") as counter, pytest.raises(Exception) as caught:  # noqa: PT011
        run_workers(_increment_n, 1, mode=f"process:{method}", args=(counter, 1), timeout=DEADLINE)
    assert "(a SharedCounter)" in str(caught.value)


@pytest.mark.parametrize("method", [m for m in START_METHODS if m != "fork"])
def test_send_error_does_not_recommend_fork(method: str) -> None:
    """Sending a thread-mode counter advises process mode, not fork (whose copy counts alone)."""
    with SharedCounter("thread") as counter, pytest.raises(SendError) as caught:
        run_workers(_increment_n, 1, mode=f"process:{method}", args=(counter, 1), timeout=DEADLINE)
    assert "SharedCounter('process')" in str(caught.value)
    assert "'fork' start method accept" not in str(caught.value)


def test_imports_without_posix_modules() -> None:
    """Without fcntl, fork hooks or a robust mutex (Windows), it imports and says what works."""
    code = textwrap.dedent(
        """
        import os, sys
        # Imported first: the standard library's and the rest of the package's own platform
        # checks are not what this test is about.
        import atexit, ctypes, mmap, random, tempfile, threading, weakref
        import concur_lab.engine._modes
        sys.modules["fcntl"] = None  # makes "import fcntl" fail, as on Windows
        sys.platform = "win32"
        del os.register_at_fork
        from concur_lab import SharedCounter
        with SharedCounter("thread") as counter:
            assert counter.increment() == 1
        for make in (SharedCounter, lambda: SharedCounter.at("hits")):
            try:
                make()
            except NotImplementedError as exc:
                print(exc)
        """
    )
    output = _run_python(code)
    lines = output.splitlines()
    assert len(lines) == 2
    assert all("win32 lacks; use SharedCounter('thread')" in line for line in lines)


# --- SharedCounter.at -----------------------------------------------------------------------


def test_at_creates_then_attaches(tmp_path: Path) -> None:
    """at() creates the file at 0, later calls attach, and closing removes nothing."""
    path = tmp_path / "hits"
    first = SharedCounter.at(path)
    first.increment(2)
    second = SharedCounter.at(str(path))
    assert second.increment() == 3
    first.close()
    second.close()
    assert path.exists()
    assert SharedCounter.at(path).value == 3


def _attach_and_increment(path: str, n: int) -> None:
    counter = SharedCounter.at(path)
    _increment_n(counter, n)
    counter.close()


@pytest.mark.parametrize("method", START_METHODS)
def test_at_concurrent_creation(method: str, tmp_path: Path) -> None:
    """Workers racing to create the same path end up sharing one counter."""
    path = str(tmp_path / "hits")
    run_workers(
        _attach_and_increment, 4, mode=f"process:{method}", args=(path, 500), timeout=DEADLINE
    )
    assert SharedCounter.at(path).value == 2000


@pytest.mark.parametrize("size", [0, SIZE])
def test_at_initialises_abandoned_file(tmp_path: Path, size: int) -> None:
    """A file left empty or untagged by a creator that died is initialised, not rejected."""
    path = tmp_path / "hits"
    path.write_bytes(bytes(size))
    assert SharedCounter.at(path).increment() == 1


def test_at_rejects_other_files(tmp_path: Path) -> None:
    """A file that is not a counter is refused with ValueError, a symlink with OSError."""
    for data in (b"precious data", b"x" * SIZE, b"x" * 1000):
        path = tmp_path / "notes.txt"
        path.write_bytes(data)
        with pytest.raises(ValueError, match="is not a SharedCounter file"):
            SharedCounter.at(path)
        assert path.read_bytes() == data
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "target")
    with pytest.raises(OSError):  # noqa: PT011 - ELOOP from O_NOFOLLOW
        SharedCounter.at(link)
    assert not (tmp_path / "target").exists()


def test_at_times_out(tmp_path: Path) -> None:
    """at() gives up with TimeoutError when the creation lock stays taken."""
    path = tmp_path / "hits"
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with FileLock(f"{path}.lock"):
            taken.set()
            release.wait(DEADLINE)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(DEADLINE)
        with pytest.raises(TimeoutError, match=r"hits\.lock' was not free within 0\.2 s"):
            SharedCounter.at(path, timeout=0.2)
    finally:
        release.set()
        holder.join(DEADLINE)


def test_shared_with_xdist_workers(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """pytest-xdist workers share a counter through at() and through a pickle file."""
    pytest.importorskip("xdist")
    owned = SharedCounter("process")
    pickle_path = tmp_path / "counter.pickle"
    pickle_path.write_bytes(pickle.dumps(owned))
    monkeypatch.setenv("COUNTER_PICKLE", str(pickle_path))
    pytester.makeconftest(
        """
        import os, pickle, pathlib
        import pytest
        from concur_lab import SharedCounter

        @pytest.fixture(scope="session")
        def counters(tmp_path_factory):
            shared_dir = tmp_path_factory.getbasetemp().parent
            with SharedCounter.at(shared_dir / "hits") as at_counter:
                pickled = pickle.loads(pathlib.Path(os.environ["COUNTER_PICKLE"]).read_bytes())
                yield at_counter, pickled
                pickled.close()
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_count(counters, i):
            for counter in counters:
                counter.increment()
        """
    )
    basetemp = tmp_path / "basetemp"
    result = pytester.runpytest_subprocess("-n", "2", f"--basetemp={basetemp}", timeout=DEADLINE)
    result.assert_outcomes(passed=8)
    with SharedCounter.at(basetemp / "hits") as at_counter:
        assert at_counter.value == 8
    assert owned.value == 8
    owned.close()
