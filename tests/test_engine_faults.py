"""The engine under faults: deadlines at awkward moments, stalled senders, exceptions with C-level
state, warnings, leaked threads, hidden frames and descriptor-carrying arguments.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import warnings
from collections.abc import Iterator
from typing import Any

import multiprocess
import pytest
from _processes import MODES, PROCESS_MODES, SPAWNING, child_processes

import concur_lab
from concur_lab import (
    WorkerCrashed,
    WorkerTimeout,
    reemit_warnings,
    run_outcomes,
    run_workers,
    worker_index,
)
from concur_lab.engine import _descendants


@pytest.fixture(autouse=True)
def _no_leaks() -> Iterator[None]:
    """Fail a test that leaves a worker thread, a resource-sharer thread or a worker process."""
    before_threads = set(threading.enumerate())
    before_children = {pid for pid, state in child_processes() if state != "Z"}
    yield
    # Worker threads, and multiprocess's resource-sharer thread ("Thread-N (_serve)").
    leftover = [t.name for t in threading.enumerate() if t not in before_threads and t.is_alive()]
    assert not leftover, leftover
    # The fork server and the resource tracker may start during a test and stay.
    for pid in {pid for pid, state in child_processes() if state != "Z"} - before_children:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        assert "forkserver" in cmdline or "resource_tracker" in cmdline, cmdline


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Every mode: threads, and processes under each start method of the platform."""
    return str(request.param)


def sleep_forever() -> None:
    while True:
        time.sleep(0.05)


# --- report-2 D3: a deadline during start-up -------------------------------------------------


@pytest.mark.parametrize("method", concur_lab.available_start_methods())
def test_deadline_during_start_up_never_raises(method: str) -> None:
    """Deadlines that fall while workers start end as timeouts, never as an engine error."""
    # Spread over the start-up window of each method (fork starts in about a millisecond).
    longest = {"fork": 0.02, "forkserver": 0.2, "spawn": 0.5}.get(method, 0.5)
    for step in range(12):
        timeout = 0.001 + longest * step / 11
        outcomes = run_outcomes(
            sleep_forever, 2, mode=f"process:{method}", timeout=timeout, grace=0.2
        )
        assert {o.status for o in outcomes} <= {"timed_out", "not_started"}, [
            o.describe() for o in outcomes
        ]


# --- report-2 D4: a child that stalls half-way through sending its result ---------------------


def stall_while_sending() -> str:
    from concur_lab.engine import _child

    def write_half_then_stop(fd: int, frame: bytes) -> None:
        os.write(fd, frame[: len(frame) // 2])
        os.kill(os.getpid(), signal.SIGSTOP)

    _child._write_all = write_half_then_stop  # type: ignore[assignment]
    return "x" * 10_000


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_deadline_holds_while_a_result_is_half_sent(mode: str) -> None:
    """A child stopped in the middle of sending its result is killed at the deadline."""
    # Generous: a child still starting at the deadline would also end as a timeout.
    # A stopped child neither dumps its stack nor ends on SIGTERM: a short grace for both.
    (outcome,) = run_outcomes(stall_while_sending, 1, mode=mode, timeout=5.0, grace=0.2)
    assert outcome.status == "timed_out", outcome.describe()
    assert outcome.value is None


# --- report-2 D5: exceptions keep their C-level state and their type --------------------------


def raise_file_not_found() -> None:
    with open("/nonexistent/concur-lab/file"):
        pass


def raise_system_exit() -> None:
    sys.exit(3)


def raise_stop_iteration() -> None:
    raise StopIteration(99)


def raise_import_error() -> None:
    raise ImportError("nope", name="modx", path="/somewhere/modx.py")


def raise_syntax_error() -> None:
    compile("x = (", "<src>", "exec")


def raise_unicode_decode_error() -> None:
    b"ok \xff".decode("utf-8")


class HoldsGenerator(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.numbers = (i for i in range(3))
        self.tag = "kept"


def raise_holds_generator() -> None:
    raise HoldsGenerator("with an unpicklable attribute")


class TwoArgError(Exception):
    def __init__(self, code: int, detail: str) -> None:
        super().__init__(code)
        self.detail = detail


class TwoArgOSError(OSError):
    def __init__(self, path: str, why: str) -> None:
        super().__init__(2, why, path)
        self.why = why


def raise_two_arg_os_error() -> None:
    raise TwoArgOSError("/a/path", "missing")


def raise_group() -> None:
    try:
        raise TwoArgError(1, "first")
    except TwoArgError as first:
        inner = first
    raise ExceptionGroup("several", [inner, ExceptionGroup("nested", [KeyError("k")])])


def _only(mode: str, target: Any) -> BaseException:
    (outcome,) = run_outcomes(target, 1, mode=mode)
    assert outcome.status == "raised", outcome.describe()
    assert outcome.exception is not None
    return outcome.exception


def test_os_error_keeps_its_filename(mode: str) -> None:
    """FileNotFoundError arrives with errno, strerror and filename."""
    exc = _only(mode, raise_file_not_found)
    assert isinstance(exc, FileNotFoundError)
    assert (exc.errno, exc.filename) == (2, "/nonexistent/concur-lab/file")
    assert "/nonexistent/concur-lab/file" in str(exc)


def test_system_exit_keeps_its_code(mode: str) -> None:
    """SystemExit(3) arrives with code 3."""
    exc = _only(mode, raise_system_exit)
    assert isinstance(exc, SystemExit) and exc.code == 3


def test_stop_iteration_keeps_its_value(mode: str) -> None:
    """StopIteration(99) arrives with value 99."""
    exc = _only(mode, raise_stop_iteration)
    assert isinstance(exc, StopIteration) and exc.value == 99


def test_import_error_keeps_name_and_path(mode: str) -> None:
    """ImportError arrives with its name, path and message."""
    exc = _only(mode, raise_import_error)
    assert isinstance(exc, ImportError)
    assert (exc.msg, exc.name, exc.path) == ("nope", "modx", "/somewhere/modx.py")


def test_syntax_error_keeps_its_location(mode: str) -> None:
    """SyntaxError arrives with its file, line, offset and text."""
    exc = _only(mode, raise_syntax_error)
    assert isinstance(exc, SyntaxError)
    assert (exc.filename, exc.lineno, exc.text) == ("<src>", 1, "x = (\n")
    assert "<src>" in str(exc)


def test_unicode_decode_error_keeps_its_fields(mode: str) -> None:
    """UnicodeDecodeError arrives with encoding, object, start, end and reason."""
    exc = _only(mode, raise_unicode_decode_error)
    assert isinstance(exc, UnicodeDecodeError)
    assert (exc.encoding, exc.object, exc.start, exc.end) == ("utf-8", b"ok \xff", 3, 4)
    assert "invalid start byte" in str(exc)


def test_unpicklable_attribute_keeps_the_type(mode: str) -> None:
    """An exception holding a generator arrives as itself; the generator as its repr."""
    exc = _only(mode, raise_holds_generator)
    assert isinstance(exc, HoldsGenerator)
    assert exc.tag == "kept"
    if mode != "thread":
        assert isinstance(exc.numbers, str) and "generator" in exc.numbers
    with pytest.raises(HoldsGenerator):
        run_workers(raise_holds_generator, 1, mode=mode)


def test_multi_argument_os_error_subclass_keeps_c_fields(mode: str) -> None:
    """An OSError subclass whose __init__ takes other arguments still has its filename."""
    exc = _only(mode, raise_two_arg_os_error)
    assert isinstance(exc, TwoArgOSError)
    assert (exc.filename, exc.strerror, exc.why) == ("/a/path", "missing", "missing")


def test_exception_group_arrives_member_by_member(mode: str) -> None:
    """A group raised in a worker arrives as a group of the original member types."""
    exc = _only(mode, raise_group)
    assert isinstance(exc, ExceptionGroup) and exc.message == "several"
    first, nested = exc.exceptions
    assert isinstance(first, TwoArgError) and first.detail == "first"
    assert isinstance(nested, ExceptionGroup)
    assert isinstance(nested.exceptions[0], KeyError)
    names = [frame.name for frame in traceback.extract_tb(first.__traceback__)]
    assert names == ["raise_group"]
    matched, rest = exc.split(KeyError)
    assert matched is not None and rest is not None


# --- report-2 D6: the worker's thread ----------------------------------------------------------


def test_outcome_names_the_worker_thread(mode: str) -> None:
    """Every mode reports the worker's pid, thread ident and thread name."""
    outcomes = run_outcomes(lambda: (os.getpid(), threading.get_ident()), 2, mode=mode)
    for outcome in outcomes:
        assert (outcome.pid, outcome.thread_ident) == outcome.value
        expected = "MainThread" if mode != "thread" else f"concur-worker-{outcome.index}"
        assert outcome.thread_name == expected


# --- report-2 D7: descriptor-carrying arguments under spawn and forkserver ---------------------


def send_my_index(conn: Any) -> int:
    conn.send(worker_index())
    conn.close()
    return worker_index()


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_connection_argument_reaches_every_worker(mode: str) -> None:
    """A multiprocess Connection argument works in every worker and leaves no sharer thread."""
    reader, writer = multiprocess.get_context(mode.split(":")[1]).Pipe(duplex=False)
    try:
        assert run_workers(send_my_index, 2, mode=mode, args=(writer,), timeout=60) == [0, 1]
        writer.close()
        received = sorted(reader.recv() for _ in range(2))
    finally:
        reader.close()
        writer.close()
    assert received == [0, 1]


# --- report-2 D11: a timeout's and a crash's stack and stderr in the raised exception ----------


def _notes(exc: BaseException) -> str:
    return "\n".join(getattr(exc, "__notes__", []))


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_timeout_error_carries_the_stack(mode: str) -> None:
    """The raised WorkerTimeout shows the worker's stack in a note."""
    # Generous: a child still starting at the deadline has no stack to show yet.
    with pytest.raises(WorkerTimeout) as info:
        run_workers(sleep_forever, 1, mode=mode, timeout=3.0)
    assert "sleep_forever" in _notes(info.value)


def complain_and_exit() -> None:
    print("the last words", file=sys.stderr, flush=True)
    os._exit(7)


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_crash_error_carries_stderr(mode: str) -> None:
    """The raised WorkerCrashed shows the last lines the worker wrote to stderr."""
    with pytest.raises(WorkerCrashed) as info:
        run_workers(complain_and_exit, 1, mode=mode, timeout=60)
    assert "the last words" in _notes(info.value)


# --- report-3 D1: importing where SIGUSR1 and faulthandler.register do not exist ---------------


def test_import_and_run_without_posix_signals() -> None:
    """Without SIGUSR1 and faulthandler.register (as on Windows) everything imports and runs."""
    script = textwrap.dedent(
        """
        import faulthandler, signal
        del signal.SIGUSR1
        del faulthandler.register
        import concur_lab, pytest_concur.plugin
        from concur_lab import run_workers, run_outcomes
        print(run_workers(abs, 2, mode="process:fork", args=(-3,), timeout=60))

        def hang():
            import time
            time.sleep(60)

        (outcome,) = run_outcomes(hang, 1, mode="process:fork", timeout=0.5)
        print(outcome.status)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["[3,", "3]", "timed_out"]


# --- report-3 D2: warnings ---------------------------------------------------------------------


class LabWarning(UserWarning):
    pass


def warn_once() -> int:
    warnings.warn("careful now", LabWarning, stacklevel=1)
    return worker_index()


def test_error_filter_raises_in_every_mode(mode: str) -> None:
    """An "error" filter of the caller turns a worker's warning into its exception."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="CAREFUL")  # case-insensitive, as in the caller
        with pytest.raises(LabWarning, match="careful now"):
            run_workers(warn_once, 1, mode=mode)


def test_ignore_filter_applies_in_every_mode(mode: str) -> None:
    """An "ignore" filter of the caller silences a worker's warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Not this test's subject: the parent's own warning when it forks beside other threads
        # (a pytest-xdist worker on 3.14 has one).
        warnings.filterwarnings("ignore", "This process is multi-threaded", DeprecationWarning)
        warnings.filterwarnings("ignore", category=LabWarning)
        assert run_workers(warn_once, 1, mode=mode) == [0]


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_process_warnings_are_recorded_and_reemitted(mode: str) -> None:
    """A process worker's warning is recorded in its outcome and can be issued again here."""
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        (outcome,) = run_outcomes(warn_once, 1, mode=mode)
    (record,) = outcome.warnings
    assert record.category is LabWarning and record.message == "careful now"
    assert record.filename == __file__ and record.lineno > 0
    with pytest.warns(LabWarning, match="careful now") as caught:
        reemit_warnings([outcome])
    assert caught[0].filename == __file__


def test_thread_warnings_take_the_normal_route() -> None:
    """In thread mode warnings are not recorded: they reach the caller's filters directly."""
    with pytest.warns(LabWarning):
        (outcome,) = run_outcomes(warn_once, 1, mode="thread")
    assert outcome.warnings == ()


# --- report-3 D5: a thread left running inside a process worker --------------------------------


def leave_a_thread_running() -> str:
    forever = threading.Event()
    threading.Thread(target=forever.wait, name="lingerer").start()
    threading.Thread(target=forever.wait, name="helper", daemon=True).start()
    return "done"


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_leaked_thread_is_named_and_does_not_hold_the_worker(mode: str) -> None:
    """A non-daemon thread still running after the target is reported; the process ends."""
    (outcome,) = run_outcomes(leave_a_thread_running, 1, mode=mode, timeout=60)
    assert outcome.status == "ok" and outcome.value == "done"
    assert outcome.exitcode == 0  # ended by itself, not killed at the deadline
    assert outcome.leaked_threads == ("lingerer", "helper (daemon)")


# --- report-3 D6: __tracebackhide__ -------------------------------------------------------------


def hidden_helper() -> None:
    __tracebackhide__ = True
    raise ValueError("from a hidden helper")


def calls_hidden_helper() -> None:
    hidden_helper()


def test_hidden_frames_stay_hidden(mode: str) -> None:
    """Frames that set __tracebackhide__ in the worker are hidden in the rebuilt traceback."""
    exc = _only(mode, calls_hidden_helper)
    hidden = {}
    tb = exc.__traceback__
    while tb is not None:
        frame = tb.tb_frame
        flag = frame.f_locals.get("__tracebackhide__", frame.f_globals.get("__tracebackhide__"))
        hidden[frame.f_code.co_name] = bool(flag)
        tb = tb.tb_next
    assert hidden == {"calls_hidden_helper": False, "hidden_helper": True}


@pytest.mark.parametrize("mode", SPAWNING)
def test_pytest_shows_the_tests_line_for_fail_and_skip(
    pytester: pytest.Pytester, mode: str
) -> None:
    """pytest.fail and pytest.skip in a process worker point at the test, not at pytest."""
    pytester.makepyfile(
        test_hide=f"""
        import pytest
        from concur_lab import run_workers

        def fails():
            pytest.fail("failed in the worker")

        def skips():
            pytest.skip("skipped in the worker")

        def test_fail():
            run_workers(fails, 1, mode={mode!r})

        def test_skip():
            run_workers(skips, 1, mode={mode!r})
        """
    )
    result = pytester.runpytest_subprocess("-rs", "-p", "no:concur", "-p", "no:cacheprovider")
    result.assert_outcomes(failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["*test_hide.py:5: Failed", "SKIPPED [[]1[]] test_hide.py:8: skipped in the worker"]
    )
    assert "outcomes.py" not in result.stdout.str()


# --- report-3 D9: timeouts beyond what the platform can wait for -------------------------------


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_huge_timeout_is_refused_naming_it(mode: str) -> None:
    """A timeout longer than threading.TIMEOUT_MAX is a ValueError naming it, not an overflow."""
    with pytest.raises(ValueError, match=r"got timeout=1000000000000\.0"):
        run_workers(abs, 1, mode=mode, args=(1,), timeout=1e12)


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_timeout_beyond_a_single_wait_works(mode: str) -> None:
    """A timeout of a year (longer than one poll() can wait) runs normally."""
    assert run_workers(abs, 1, mode=mode, args=(-2,), timeout=365 * 86400.0) == [2]


# --- report-2 D13, D15 ----------------------------------------------------------------------------


def test_process_constant_follows_the_default_start_method(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """concur_lab.PROCESS uses the default start method in force when it is read."""
    import multiprocessing

    other = next(m for m in concur_lab.available_start_methods() if m != "spawn")
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: other)
    assert concur_lab.PROCESS.start_method == other
    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: "spawn")
    assert concur_lab.PROCESS.start_method == "spawn"


def test_abort_message_names_the_worker_that_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """When a process cannot be started, the others' messages say which worker it was."""
    real_start = multiprocess.context.SpawnProcess.start

    def start(self: Any) -> None:
        if self.name == "concur-worker-1":
            raise OSError(11, "Resource temporarily unavailable")
        real_start(self)

    monkeypatch.setattr(multiprocess.context.SpawnProcess, "start", start)
    outcomes = run_outcomes(abs, 3, mode="process:spawn", args=(1,), timeout=60)
    assert [o.status for o in outcomes] == ["not_started"] * 3
    assert "worker 1 could not start" in outcomes[0].message
    assert "worker 1 could not start" in outcomes[2].message


# --- issue 14 D3: a worker that closes its standard output ------------------------------------


def print_close_stdout_and_return() -> int:
    print("before closing")
    sys.stdout.close()
    return 7


def test_closed_stdout_keeps_the_return_value(mode: str) -> None:
    """A worker that closes sys.stdout still returns its value, and what it printed is kept."""
    (outcome,) = run_outcomes(print_close_stdout_and_return, 1, mode=mode, timeout=60)
    assert outcome.status == "ok" and outcome.value == 7, outcome.describe()
    assert outcome.stdout == "before closing\n"


# --- issue 14 D1: a descendant that outlives the worker ------------------------------------


def fork_a_lingering_child(done: str, how: str) -> int:
    """Fork a child that runs on for 30 s and then creates *done*; return at once."""
    if os.fork() == 0:
        if how == "exec":
            os.execvp("sh", ["sh", "-c", f"sleep 30; touch {done}"])
        time.sleep(30)
        open(done, "w").close()
        os._exit(0)
    return 5


@pytest.mark.parametrize("how", ["fork", "exec"])
@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_lingering_descendant_does_not_hold_the_run(tmp_path: Any, mode: str, how: str) -> None:
    """A worker that returns while a child it forked runs on ends the run as soon as it exits."""
    done = str(tmp_path / "grandchild-done")
    # No deadline: the run used to last until the grandchild ended (30 s).
    (outcome,) = run_outcomes(fork_a_lingering_child, 1, mode=mode, args=(done, how))
    try:
        assert outcome.status == "ok" and outcome.value == 5, outcome.describe()
        # The run ended with the worker, not with the grandchild.
        assert not os.path.exists(done)
    finally:
        _kill_all(pid for pid, _ in outcome.descendants)


# --- issue 14 D2: descendants that outlive the run, named -----------------------------------


def _kill_all(pids: Any) -> None:
    """Kill each of *pids*, and whatever each started (``sh -c "sleep 30; ..."``'s sleep)."""
    for pid in pids:
        _descendants.kill_tree(pid)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _pids_in(path: Any) -> list[int]:
    """The pids a target wrote to *path*, one a line: what the test kills whatever happens."""
    try:
        return [int(line) for line in path.read_text().split()]
    except FileNotFoundError:
        return []


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


# The Popen objects of thread workers: kept, so that none is collected while its child runs.
_POPENED: list[subprocess.Popen[bytes]] = []


def popen_and_return(pids: str) -> int:
    """Start ``sleep 30`` with subprocess.Popen, note its pid, and return without waiting."""
    child = subprocess.Popen(["sleep", "30"])
    _POPENED.append(child)
    with open(pids, "a") as f:
        f.write(f"{child.pid}\n")
    return 1


def double_fork_and_return(pids: str, detach: bool) -> int:
    """Leave a grandchild running whose parent (the worker's child) has exited."""
    read_fd, write_fd = os.pipe()
    middle = os.fork()
    if middle == 0:
        os.close(read_fd)
        if detach:
            os.setsid()
        grandchild = os.fork()
        if grandchild == 0:
            time.sleep(30)
            os._exit(0)
        os.write(write_fd, b"ok")
        os._exit(0)
    os.close(write_fd)
    os.read(read_fd, 2)  # the grandchild exists once the middle process says so
    os.close(read_fd)
    os.waitpid(middle, 0)
    with open(pids, "a") as f:
        f.write(f"{middle}\n")
    return 2


def popen_and_hang(pids: str) -> None:
    popen_and_return(pids)
    time.sleep(60)


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_popen_descendant_is_named(tmp_path: Any, mode: str) -> None:
    """A subprocess a process worker leaves running is named in its outcome: pid and command."""
    pids = tmp_path / "pids"
    outcome = None
    try:
        (outcome,) = run_outcomes(popen_and_return, 1, mode=mode, args=(str(pids),), timeout=60)
        assert outcome.status == "ok", outcome.describe()
        assert outcome.descendants == ((_pids_in(pids)[0], "sleep 30"),)
    finally:
        _kill_all(_pids_in(pids))
        if outcome is not None:
            _kill_all(pid for pid, _ in outcome.descendants)


@pytest.mark.parametrize("detach", [False, True], ids=["double-fork", "setsid"])
@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_orphaned_grandchild_is_named(tmp_path: Any, mode: str, detach: bool) -> None:
    """A grandchild orphaned by a double fork (with setsid or not) is still found and named."""
    pids = tmp_path / "pids"
    outcome = None
    try:
        (outcome,) = run_outcomes(
            double_fork_and_return, 1, mode=mode, args=(str(pids), detach), timeout=60
        )
        assert outcome.status == "ok", outcome.describe()
        assert len(outcome.descendants) == 1, outcome.descendants
        ((pid, command),) = outcome.descendants
        assert pid not in _pids_in(pids) and _running(pid)  # not the middle one, which exited
        assert "python" in command
    finally:
        if outcome is not None:
            _kill_all(pid for pid, _ in outcome.descendants)


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_descendants_are_killed_at_the_timeout(tmp_path: Any, mode: str) -> None:
    """At the deadline a worker's descendants are killed with it, and named in its outcome."""
    pids = tmp_path / "pids"
    try:
        (outcome,) = run_outcomes(
            popen_and_hang, 1, mode=mode, args=(str(pids),), timeout=2, grace=0.2
        )
        assert outcome.status == "timed_out", outcome.describe()
        (sleeper,) = _pids_in(pids)
        assert outcome.descendants == ((sleeper, "sleep 30"),)
        assert "1 process(es) it started were killed" in outcome.message
        assert not _running(sleeper)
    finally:
        _kill_all(_pids_in(pids))


def test_thread_mode_names_no_descendants(tmp_path: Any) -> None:
    """In thread mode a subprocess is the caller's own child: the outcome names nothing."""
    pids = tmp_path / "pids"
    try:
        (outcome,) = run_outcomes(popen_and_return, 1, mode="thread", args=(str(pids),))
        assert outcome.status == "ok" and outcome.descendants == ()
    finally:
        while _POPENED:
            child = _POPENED.pop()
            child.kill()
            child.wait(10)


# --- issue 14: the grace at the deadline is the caller's to choose -----------------------------


def ignore_sigterm_and_hang() -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleep_forever()


def test_short_grace_kills_a_sigterm_ignoring_worker_sooner() -> None:
    """With grace=0.1 a worker that ignores SIGTERM is killed 0.1 s after it, not 1 s."""
    began = time.monotonic()
    (outcome,) = run_outcomes(ignore_sigterm_and_hang, 1, mode="process:fork", timeout=1, grace=0.1)
    took = time.monotonic() - began
    assert outcome.status == "timed_out" and outcome.signal == "SIGKILL", outcome.describe()
    # The default grace (1 s for the stack, 1 s after SIGTERM) would take 3 s in all.
    assert took < 2.0, took


@pytest.mark.parametrize("grace", [-1, math.inf, math.nan])
def test_grace_out_of_range_is_refused(grace: float) -> None:
    """A negative or non-finite grace is a ValueError naming it."""
    with pytest.raises(ValueError, match="grace must be a finite number of seconds"):
        run_outcomes(abs, 1, args=(-1,), grace=grace)


# --- issue 14 D4: running out of file descriptors --------------------------------------------

OUT_OF_DESCRIPTORS = """
import resource, sys
from concur_lab import run_outcomes

if __name__ == "__main__":
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
    outcomes = run_outcomes(abs, 200, mode=sys.argv[1], args=(-1,), timeout=60)
    print(sorted({o.status for o in outcomes}))
    print(outcomes[-1].message)
"""


@pytest.mark.parametrize("mode", PROCESS_MODES)
def test_running_out_of_descriptors_is_an_outcome(tmp_path: Any, mode: str) -> None:
    """Workers that cannot get their pipes are not_started outcomes naming the limit."""
    script = tmp_path / "out_of_fds.py"
    script.write_text(OUT_OF_DESCRIPTORS)
    result = subprocess.run(
        [sys.executable, str(script), mode], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    statuses, message = result.stdout.splitlines()
    assert "not_started" in statuses and "crashed" not in statuses
    assert "Too many open files" in message
    assert "64 open files, see ulimit -n" in message


# --- issue 14 D5: a deadline that passes while the workers are being started ---------------


def test_deadline_covers_starting_the_workers(mode: str) -> None:
    """Workers not started by the deadline are refused, naming the deadline and the count."""
    # Far more workers than can be started in 10 ms, in any mode.
    n = 20000 if mode == "thread" else 60
    outcomes = run_outcomes(abs, n, mode=mode, args=(-1,), timeout=0.01)
    assert {o.status for o in outcomes} <= {"timed_out", "not_started"}
    kind = "threads" if mode == "thread" else "processes"
    assert re.search(
        rf"the deadline of 0\.01 s passed while starting the workers: \d+ of {n} {kind} had "
        "started",
        outcomes[-1].message,
    ), outcomes[-1].message
