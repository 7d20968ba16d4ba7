"""The worker engine: results, failures, crashes, hangs, output and cleanup in every mode."""

from __future__ import annotations

import ctypes
import gc
import os
import signal
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from _processes import MODES, PROCESS_MODES, SPAWNING, child_processes

import concur_lab
from concur_lab import (
    Mode,
    ModeError,
    SendError,
    WorkerCrashed,
    WorkerStartError,
    WorkerTimeout,
    map_workers,
    outcome_of,
    run_outcomes,
    run_workers,
    worker_index,
)


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """Fail a test that leaves a worker thread or a child process (a forkserver may stay)."""
    before = set(threading.enumerate())
    yield
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not [t.name for t in leftover if t.name.startswith("concur-worker")]
    children = [c for c in child_processes() if c[1] == "Z"]
    assert not children, f"zombie children: {children}"


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Every mode: threads, and processes under each start method of the platform."""
    return str(request.param)


def double(x: int) -> int:
    return 2 * x


def index_and_pid() -> tuple[int, int]:
    return worker_index(), os.getpid()


class TwoArgError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code)
        self.detail = detail


def raise_two_arg() -> None:
    raise TwoArgError(42, "the detail")


def raise_chained() -> None:
    try:
        raise KeyError("inner")
    except KeyError as exc:
        raise ValueError("outer") from exc


def fail_odd() -> int:
    if worker_index() % 2:
        raise ValueError(f"odd worker {worker_index()}")
    return worker_index()


def exit_code_3() -> None:
    os._exit(3)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def segfault() -> None:
    ctypes.string_at(0)


def sleep_forever() -> None:
    while True:
        time.sleep(0.05)


def return_generator() -> Any:
    return (i for i in range(3))


def chatter() -> int:
    print(f"out from {worker_index()}")
    print(f"err from {worker_index()}", file=sys.stderr)
    return worker_index()


def skip_in_worker() -> None:
    pytest.skip("not here")


class FailsToArrive:
    """Unpickles everywhere except in worker 1, to make exactly one worker fail to start."""

    def __getstate__(self) -> dict[str, int]:
        return {"x": 1}

    def __setstate__(self, state: dict[str, int]) -> None:
        if worker_index() == 1:
            raise RuntimeError("worker 1 cannot unpickle its arguments")
        self.__dict__.update(state)


def takes_anything(*_: object) -> int:
    return worker_index()


class TestResults:
    def test_values_in_worker_order(self, mode: str) -> None:
        """Return values come back in worker order, one per worker."""
        assert run_workers(double, 3, mode=mode, args=(21,)) == [42, 42, 42]

    def test_each_worker_knows_its_index(self, mode: str) -> None:
        """worker_index() is 0..n-1, and process workers have their own pids."""
        results = run_workers(index_and_pid, 3, mode=mode)
        assert [i for i, _ in results] == [0, 1, 2]
        pids = {pid for _, pid in results}
        if Mode.parse(mode).shares_memory:
            assert pids == {os.getpid()}
        else:
            assert len(pids) == 3 and os.getpid() not in pids

    def test_worker_args_and_kwargs(self, mode: str) -> None:
        """Each worker gets the shared args, its own worker_args, then kwargs."""
        results = run_workers(
            pow, mode=mode, args=(), worker_args=[(2, 3), (3, 2)], kwargs={"mod": 5}
        )
        assert results == [8 % 5, 9 % 5]

    def test_map_workers_one_item_per_worker(self, mode: str) -> None:
        """map_workers calls target(item) once per item, in order."""
        assert map_workers(abs, [-1, 2, -3], mode=mode) == [1, 2, 3]

    def test_lambda_and_closure_run_everywhere(self, mode: str) -> None:
        """Lambdas and closures reach the workers under every start method."""
        offset = 10

        def nested(x: int) -> int:
            return x + offset + worker_index()

        assert run_workers(nested, 2, mode=mode, args=(1,)) == [11, 12]
        assert run_workers(lambda: offset * 2, 1, mode=mode) == [20]

    def test_outcome_records_the_worker(self, mode: str) -> None:
        """An outcome carries pid, thread, timing and exit code."""
        (outcome,) = run_outcomes(double, 1, mode=mode, args=(1,))
        assert outcome.ok and outcome.value == 2
        assert outcome.pid is not None and outcome.thread_name
        assert outcome.duration is not None and outcome.duration >= 0
        assert outcome.cpu_time is not None and outcome.cpu_time >= 0
        assert outcome.exitcode == (None if mode == "thread" else 0)


class TestOutput:
    def test_output_is_captured_per_worker(self, mode: str) -> None:
        """Each worker's stdout and stderr are kept apart, in every mode."""
        outcomes = run_outcomes(chatter, 3, mode=mode)
        for o in outcomes:
            assert o.stdout == f"out from {o.index}\n"
            assert o.stderr == f"err from {o.index}\n"

    def test_thread_capture_restores_streams(self) -> None:
        """After a thread-mode run, sys.stdout and sys.stderr are what they were."""
        out, err = sys.stdout, sys.stderr
        run_workers(chatter, 2)
        assert (sys.stdout, sys.stderr) == (out, err)


class TestExceptions:
    def test_single_failure_raises_original_type(self, mode: str) -> None:
        """One failed worker raises its own exception type, labelled with the worker."""
        with pytest.raises(TwoArgError) as info:
            run_workers(raise_two_arg, 1, mode=mode)
        assert info.value.args == (42,) and info.value.detail == "the detail"
        assert "raised in worker 0 of 1" in info.value.__notes__[-1]
        outcome = outcome_of(info.value)
        assert outcome is not None and outcome.index == 0

    def test_traceback_points_into_the_worker(self, mode: str) -> None:
        """The exception's traceback ends in the target's own frame."""
        with pytest.raises(TwoArgError) as info:
            run_workers(raise_two_arg, 1, mode=mode)
        last = info.traceback[-1]
        assert last.name == "raise_two_arg"
        assert "raise TwoArgError" in str(last.statement)

    def test_cause_is_kept(self, mode: str) -> None:
        """An exception chained with `from` keeps its cause."""
        with pytest.raises(ValueError, match="outer") as info:
            run_workers(raise_chained, 1, mode=mode)
        assert isinstance(info.value.__cause__, KeyError)

    def test_several_failures_make_a_group(self, mode: str) -> None:
        """Several failed workers raise one group with a labelled entry each."""
        with pytest.raises(ExceptionGroup) as info:
            run_workers(fail_odd, 4, mode=mode)
        group = info.value
        assert "2 of 4 workers failed" in str(group)
        assert [str(e) for e in group.exceptions] == ["odd worker 1", "odd worker 3"]
        assert [outcome_of(e).index for e in group.exceptions] == [1, 3]  # type: ignore[union-attr]

    def test_pytest_outcome_exception_keeps_identity(self, mode: str) -> None:
        """pytest.skip raised in a worker comes back as pytest's own Skipped."""
        (outcome,) = run_outcomes(skip_in_worker, 1, mode=mode)
        assert type(outcome.exception) is pytest.skip.Exception
        assert outcome.exception.msg == "not here"  # type: ignore[union-attr]

    def test_non_raising_form_returns_every_outcome(self, mode: str) -> None:
        """run_outcomes never raises for worker failures."""
        outcomes = run_outcomes(fail_odd, 2, mode=mode)
        assert [o.status for o in outcomes] == ["ok", "raised"]
        assert isinstance(outcomes[1].exception, ValueError)


@pytest.mark.parametrize("mode", PROCESS_MODES)
class TestCrashes:
    def test_exit_code(self, mode: str) -> None:
        """os._exit(3) is a crash naming exit code 3."""
        (outcome,) = run_outcomes(exit_code_3, 1, mode=mode)
        assert outcome.status == "crashed" and outcome.exitcode == 3
        assert "exited with code 3" in outcome.describe()
        with pytest.raises(WorkerCrashed, match="exited with code 3"):
            run_workers(exit_code_3, 1, mode=mode)

    def test_sigkill(self, mode: str) -> None:
        """A worker killed by SIGKILL is reported by the signal's name."""
        (outcome,) = run_outcomes(kill_self, 1, mode=mode)
        assert outcome.status == "crashed" and outcome.signal == "SIGKILL"
        assert "SIGKILL" in outcome.describe()

    def test_segfault_with_faulthandler_output(self, mode: str) -> None:
        """A segfault names SIGSEGV and carries faulthandler's stack."""
        (outcome,) = run_outcomes(segfault, 1, mode=mode)
        assert outcome.signal == "SIGSEGV"
        assert "Segmentation fault" in outcome.stack
        assert "segfault" in outcome.stack

    def test_one_crash_does_not_hide_the_others(self, mode: str) -> None:
        """Healthy workers still report their values when one crashes."""
        outcomes = run_outcomes(
            lambda: os._exit(5) if worker_index() == 1 else worker_index(), 3, mode=mode
        )
        assert [o.status for o in outcomes] == ["ok", "crashed", "ok"]

    def test_unpicklable_result(self, mode: str) -> None:
        """A result that cannot be pickled fails that worker with a SendError, no hang."""
        with pytest.raises(SendError, match="generator"):
            run_workers(return_generator, 1, mode=mode)


class TestTimeouts:
    @pytest.mark.parametrize("mode", PROCESS_MODES)
    def test_hung_process_is_killed_with_its_stack(self, mode: str) -> None:
        """A process alive at the deadline is stopped, and its stack names where it hung."""
        # Only a worker that got going by the deadline can dump its stack: under pytest a spawn
        # child (or the first forkserver one, which starts the server) took over 1 s on 3.14.
        timeout = 1.0 if mode == "process:fork" else 5.0
        (outcome,) = run_outcomes(sleep_forever, 1, mode=mode, timeout=timeout)
        assert outcome.status == "timed_out"
        assert f"timed out after {timeout:g} s" in outcome.message
        assert "sleep_forever" in outcome.stack
        assert not outcome.still_running
        with pytest.raises(WorkerTimeout):
            run_workers(sleep_forever, 1, mode=mode, timeout=0.5, grace=0.2)

    def test_hung_thread_is_reported_still_running(self) -> None:
        """A thread alive at the deadline is reported with its stack and left running."""
        release = threading.Event()

        def wait_for_release() -> None:
            release.wait(60)

        try:
            (outcome,) = run_outcomes(wait_for_release, 1, timeout=0.5)
            assert outcome.status == "timed_out" and outcome.still_running
            assert "wait_for_release" in outcome.stack
            assert "still running" in outcome.message
        finally:
            release.set()
            for thread in threading.enumerate():
                if thread.name.startswith("concur-worker"):
                    thread.join(10)


class TestSending:
    @pytest.mark.parametrize("mode", SPAWNING)
    def test_unpicklable_argument_fails_fast_naming_it(self, mode: str) -> None:
        """An argument that cannot be pickled fails in the parent, naming it and the way out."""
        with pytest.raises(SendError) as info:
            run_workers(takes_anything, 1, mode=mode, args=((i for i in range(2)),))
        message = str(info.value)
        assert "args[0]" in message and "generator" in message
        assert "'fork'" in message and "Thread mode" in message
        assert info.value.what == "args[0]"

    @pytest.mark.parametrize("mode", SPAWNING)
    def test_closure_over_unpicklable_names_the_variable(self, mode: str) -> None:
        """A target whose closure cannot be pickled names the captured variable."""
        gen = (i for i in range(2))
        with pytest.raises(SendError, match="captures 'gen'"):
            run_workers(lambda: next(gen), 1, mode=mode)

    @pytest.mark.parametrize("mode", ["thread", "process:fork"])
    def test_fork_and_threads_accept_unpicklable(self, mode: str) -> None:
        """Thread mode and fork never pickle the target or its arguments."""
        gen = (i for i in range(5))
        assert run_workers(lambda: next(gen) * 0, 1, mode=mode) == [0]


class TestStartFailures:
    @pytest.mark.parametrize("mode", SPAWNING)
    def test_one_worker_failing_to_start_aborts_the_others(self, mode: str) -> None:
        """A worker that cannot start aborts the start gate; nobody hangs."""
        outcomes = run_outcomes(takes_anything, 3, mode=mode, args=(FailsToArrive(),), timeout=60)
        assert [o.status for o in outcomes] == ["not_started"] * 3
        assert "worker 1 cannot unpickle" in outcomes[1].message
        assert "start aborted because worker 1 failed to start" in outcomes[0].message
        with pytest.raises(ExceptionGroup) as info:
            run_workers(takes_anything, 2, mode=mode, args=(FailsToArrive(),), timeout=60)
        assert all(isinstance(e, WorkerStartError) for e in info.value.exceptions)

    def test_thread_that_cannot_start_aborts_the_barrier(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """When a thread cannot be started, the started ones give up instead of waiting."""
        real_start = threading.Thread.start
        calls = []

        def flaky_start(self: threading.Thread) -> None:
            calls.append(self.name)
            if len(calls) == 2:
                raise RuntimeError("can't start new thread")
            real_start(self)

        monkeypatch.setattr(threading.Thread, "start", flaky_start)
        outcomes = run_outcomes(double, 3, args=(1,), timeout=30)
        assert [o.status for o in outcomes] == ["not_started"] * 3
        assert "could not start" in outcomes[1].message
        assert "worker 1 could not start" in outcomes[0].message


class TestArguments:
    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"n": 0}, "n must be at least 1 (got n=0)"),
            ({"n": "3"}, "n must be an int"),
            ({"timeout": -1}, "timeout must be a positive number of seconds (got timeout=-1)"),
            ({"mode": "fibre"}, "unknown mode 'fibre'"),
            ({"n": 2, "worker_args": [(1,)]}, "n=2 does not match the 1 entries"),
            ({"worker_args": [1]}, "worker_args[0] must be a tuple"),
        ],
    )
    def test_bad_arguments_name_the_value(self, kwargs: dict[str, Any], message: str) -> None:
        """Each bad argument gets an error that names the value."""
        with pytest.raises((ValueError, TypeError)) as info:
            run_workers(double, **kwargs)
        assert message in str(info.value)

    def test_not_callable(self) -> None:
        """A target that is not callable is refused before anything starts."""
        with pytest.raises(TypeError, match="target must be callable, not int 3"):
            run_workers(3)  # type: ignore[arg-type]

    def test_unavailable_start_method(self) -> None:
        """A start method the platform lacks is a ModeError naming it."""
        with pytest.raises(ModeError, match="'threadpool'"):
            Mode.process("threadpool")


class TestModes:
    def test_mode_compares_to_its_kind(self) -> None:
        """A mode equals "thread" or "process" and says whether it shares memory."""
        assert Mode.thread() == "thread" and Mode.thread().shares_memory
        process = Mode.parse("process:spawn")
        assert process == "process" and not process.shares_memory
        assert process.start_method == "spawn" and process.label == "process[spawn]"

    def test_default_start_method_is_the_standard_librarys(self) -> None:
        """The default start method follows multiprocessing, not multiprocess."""
        import multiprocessing

        expected = (
            multiprocessing.get_start_method(allow_none=True)
            or (multiprocessing.get_all_start_methods()[0])
        )
        assert Mode.process().start_method == expected == concur_lab.default_start_method()


def _skip_unless_single_threaded() -> None:
    """Skip a test about a single-threaded parent when this process already runs other threads.

    A pytest-xdist worker does (execnet's, on some Pythons started outside ``threading``); the
    engine then warns about forking, rightly.
    """
    tasks = f"/proc/{os.getpid()}/task"
    count = len(os.listdir(tasks)) if os.path.isdir(tasks) else threading.active_count()
    if count > 1:
        pytest.skip(f"this process already runs {count - 1} other thread(s)")


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the fork warning exists from 3.12")
class TestForkWithThreads:
    def test_engine_alone_does_not_warn(self) -> None:
        """Forking workers from a single-threaded parent raises no warning."""
        _skip_unless_single_threaded()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            run_workers(double, 2, mode="process:fork", args=(1,))

    def test_user_thread_gets_one_explained_warning(self) -> None:
        """With another thread alive, one warning explains the hazard and names forkserver."""
        stop = threading.Event()
        other = threading.Thread(target=stop.wait, args=(30,), name="user-thread")
        other.start()
        try:
            with pytest.warns(DeprecationWarning, match="multi-threaded") as record:
                run_workers(double, 3, mode="process:fork", args=(1,))
        finally:
            stop.set()
            other.join()
        messages = [str(w.message) for w in record]
        assert len(messages) == 1
        assert "user-thread" in messages[0] and "forkserver" in messages[0]
        assert record[0].filename == __file__, "the warning should point at the caller"
        assert str(os.getpid()) not in messages[0]


def test_worker_index_outside_a_worker() -> None:
    """worker_index() outside a worker says so."""
    with pytest.raises(RuntimeError, match="outside a concur_lab worker"):
        worker_index()


@pytest.mark.skipif(sys.version_info < (3, 12), reason="the fork warning exists from 3.12")
def test_fork_right_after_a_thread_run_does_not_warn() -> None:
    """Threads of a finished thread-mode run never count as other threads at the next fork."""
    _skip_unless_single_threaded()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(20):
            run_workers(double, 4, args=(1,))
            run_workers(double, 2, mode="process:fork", args=(1,))


@pytest.mark.parametrize("method", concur_lab.available_start_methods())
def test_multiprocess_primitives_reach_workers(method: str) -> None:
    """Locks, barriers and Values of the run's context work under every start method."""
    import multiprocess

    ctx = multiprocess.get_context(method)
    lock, total, barrier = ctx.Lock(), ctx.Value("i", 0), ctx.Barrier(3)

    def work() -> int:
        barrier.wait(30)
        for _ in range(50):
            with lock:
                total.value += 1
        return worker_index()

    assert run_workers(work, 3, mode=f"process:{method}", timeout=60) == [0, 1, 2]
    assert total.value == 150


@pytest.mark.parametrize("mode", SPAWNING)
def test_unpicklable_beside_a_primitive_is_named(mode: str) -> None:
    """With a primitive in the payload, an unpicklable argument is still named, nothing leaks."""
    import multiprocess

    lock = multiprocess.get_context(mode.split(":")[1]).Lock()
    with pytest.raises(SendError, match=r"args\[1\]"):
        run_workers(takes_anything, 2, mode=mode, args=(lock, (i for i in range(2))))


@pytest.mark.skipif(
    "forkserver" not in concur_lab.available_start_methods(), reason="needs forkserver"
)
def test_fork_server_keeps_the_callers_preloads(pytester: pytest.Pytester) -> None:
    """Modules the caller asked the fork server to preload stay preloaded beside the engine's."""
    script = pytester.makepyfile(
        """
        import sys
        import multiprocess
        import concur_lab

        def loaded():
            return "colorsys" in sys.modules, "concur_lab.engine._api" in sys.modules

        if __name__ == "__main__":
            multiprocess.get_context("forkserver").set_forkserver_preload(["colorsys"])
            print(concur_lab.run_workers(loaded, 1, mode="process:forkserver"))
        """
    )
    result = pytester.run(sys.executable, str(script), timeout=120)
    assert result.ret == 0, result.stderr.str()
    assert "[(True, True)]" in result.stdout.lines


def _write_pipes() -> set[str]:
    """The pipes this process holds a write end of, as "pipe:[inode]" (Linux /proc)."""
    found = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
            with open(f"/proc/self/fdinfo/{name}") as info:
                flags = int(info.read().split("flags:")[1].split()[0], 8)
        except (OSError, IndexError):
            continue
        if target.startswith("pipe:") and flags & os.O_ACCMODE == os.O_WRONLY:
            found.add(target)
    return found


def _output_pipes_and_write_pipes() -> tuple[set[str], set[str]]:
    return {os.readlink("/proc/self/fd/1"), os.readlink("/proc/self/fd/2")}, _write_pipes()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fdinfo"), reason="needs Linux /proc")
@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_workers_hold_no_other_workers_pipes(mode: str) -> None:
    """No worker holds another worker's output pipes open, so each reaches end-of-file alone."""
    found = run_workers(_output_pipes_and_write_pipes, 4, mode=mode)
    for index, (output, _) in enumerate(found):
        assert len(output) == 2 and all(pipe.startswith("pipe:") for pipe in output)
        holders = [other for other, (_, held) in enumerate(found) if output & held]
        assert holders == [index], f"worker {index}'s stdout/stderr are held by {holders}"


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_callers_own_child_stays_listed(mode: str) -> None:
    """After a run, multiprocess still lists the caller's own child and none of the workers."""
    import multiprocess

    ctx = multiprocess.get_context(mode.split(":")[1])
    stop = ctx.Event()
    own = ctx.Process(target=stop.wait, args=(60,))
    own.start()
    try:
        pids = run_workers(os.getpid, 3, mode=mode)
        listed = {child.pid for child in multiprocess.active_children()}
        assert own.pid in listed
        assert not listed & set(pids)
    finally:
        stop.set()
        own.join(60)


def test_a_thread_run_leaves_no_reference_cycle() -> None:
    """A thread run's plan, slots and barrier are freed by refcount, not the garbage collector."""
    concur_lab.run_outcomes(int, 3)  # first run: imports and caches
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        concur_lab.run_outcomes(int, 3)
        gc.collect()
        # Only the engine's own objects: another thread of the process may make garbage too.
        left = [type(o).__qualname__ for o in gc.garbage if "concur_lab" in type(o).__module__]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


@pytest.mark.parametrize("n", [1, 3])
def test_switch_interval_is_in_force_while_targets_run(n: int) -> None:
    """switch_interval= holds inside every thread target and is put back when the run ends."""
    before = sys.getswitchinterval()
    seen = run_workers(sys.getswitchinterval, n, switch_interval=1e-5)
    assert seen == [pytest.approx(1e-5)] * n
    assert sys.getswitchinterval() == before


def test_switch_interval_is_put_back_after_a_failure() -> None:
    """A target that raises does not leave the run's switch interval behind."""
    before = sys.getswitchinterval()

    def fail() -> None:
        raise ValueError("boom")

    outcomes = run_outcomes(fail, 2, switch_interval=1e-5)
    assert [o.status for o in outcomes] == ["raised", "raised"]
    assert sys.getswitchinterval() == before


def test_switch_interval_is_put_back_at_a_timeout() -> None:
    """A run that times out with a hung thread puts the switch interval back at once."""
    before = sys.getswitchinterval()
    release = threading.Event()
    try:
        (outcome,) = run_outcomes(lambda: release.wait(60), 1, timeout=0.3, switch_interval=1e-5)
        assert outcome.status == "timed_out"
        assert sys.getswitchinterval() == before
    finally:
        release.set()
        for thread in threading.enumerate():
            if thread.name.startswith("concur-worker"):
                thread.join(10)


def test_overlapping_runs_put_back_the_first_runs_interval() -> None:
    """Two runs with switch_interval= at once leave the interval that was there before both."""
    before = sys.getswitchinterval()
    inner_done = threading.Event()

    def outer_target() -> float:
        # A second run starts and ends while this one is still running.
        run_workers(sys.getswitchinterval, 2, switch_interval=2e-5)
        inner_done.set()
        return sys.getswitchinterval()

    (value,) = run_workers(outer_target, 1, switch_interval=1e-5)
    assert inner_done.is_set()
    # The inner run ended first: the outer run's interval stays in force until it ends.
    assert value == pytest.approx(2e-5)
    assert sys.getswitchinterval() == before


@pytest.mark.parametrize(
    ("value", "error"),
    [(0, ValueError), (-1.0, ValueError), (float("inf"), ValueError), ("1e-6", TypeError)],
)
def test_bad_switch_interval_is_refused_naming_it(value: Any, error: type[Exception]) -> None:
    """A switch interval that is not a positive finite number is refused, naming the value."""
    with pytest.raises(error, match="switch_interval"):
        run_outcomes(int, 1, switch_interval=value)


def test_switch_interval_is_refused_for_process_runs() -> None:
    """switch_interval= is for thread runs; a process run refuses it before starting anything."""
    with pytest.raises(ValueError, match="thread runs only"):
        run_outcomes(int, 1, mode="process", switch_interval=1e-6)
