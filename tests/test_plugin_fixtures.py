"""The spawn_workers and shared_counter fixtures, and the leak check after concurrency tests."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

import pytest

from pytest_concur._engine import available_start_methods

METHODS = [m for m in ("fork", "forkserver", "spawn") if m in available_start_methods()]
ALL_MODES = [("thread", "fork")] + [("process", m) for m in METHODS]
ALL_MODE_IDS = ["thread"] + [f"process-{m}" for m in METHODS]


# Leaks in these tests are certain; waiting the full grace for them only slows the suite.
SHORT_GRACE = "--concur-leak-grace=0.3"


def run(pytester: pytest.Pytester, mode: str, method: str = "fork", *args: str) -> pytest.RunResult:
    options = (f"--concur-mode={mode}", f"--concur-start-method={method}", SHORT_GRACE, *args)
    if mode == "thread":
        return pytester.runpytest(*options)
    # Process workers fork, or start a fork server: never from this test process itself.
    return pytester.runpytest_subprocess(*options, timeout=120)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_spawn_workers_returns_values_in_order(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """spawn_workers returns each worker's return value, in worker order, in every mode."""
    pytester.makepyfile(
        """
        import os
        from concur_lab import worker_index

        def work(base):
            return base + worker_index(), os.getpid()

        def test_x(spawn_workers, concur_mode):
            results = spawn_workers(work, 3, args=(10,))
            assert [value for value, _ in results] == [10, 11, 12]
            pids = {pid for _, pid in results}
            if concur_mode == "thread":
                assert pids == {os.getpid()}
            else:
                assert len(pids) == 3 and os.getpid() not in pids
        """
    )
    run(pytester, mode, method).assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_spawn_workers_default_n_and_kwargs(pytester: pytest.Pytester, mode: str) -> None:
    """Without n, spawn_workers starts --concur-workers workers; kwargs reach every worker."""
    pytester.makepyfile(
        """
        def test_x(spawn_workers):
            assert spawn_workers(lambda *, x: x * 2, kwargs={"x": 4}) == [8, 8, 8]
        """
    )
    run(pytester, mode, "fork", "--concur-workers=3").assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_spawn_workers_raises_worker_exception(pytester: pytest.Pytester, mode: str) -> None:
    """A failing worker's own exception reaches the test, so pytest.raises works."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        def work():
            if worker_index() == 1:
                raise KeyError("one")

        def test_x(spawn_workers):
            with pytest.raises(KeyError, match="one"):
                spawn_workers(work, 2)
        """
    )
    run(pytester, mode).assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_spawn_workers_outcomes_never_raise(pytester: pytest.Pytester, mode: str) -> None:
    """spawn_workers.outcomes returns every worker's outcome; worker_args gives each its own."""
    pytester.makepyfile(
        """
        def work(x):
            return 10 // x

        def test_x(spawn_workers):
            outcomes = spawn_workers.outcomes(work, worker_args=[(1,), (0,), (5,)])
            assert [o.status for o in outcomes] == ["ok", "raised", "ok"]
            assert outcomes[0].value == 10
            assert isinstance(outcomes[1].exception, ZeroDivisionError)
        """
    )
    run(pytester, mode).assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_spawn_workers_map(pytester: pytest.Pytester, mode: str) -> None:
    """spawn_workers.map runs one worker per item and returns results in item order."""
    pytester.makepyfile(
        """
        def test_x(spawn_workers):
            assert spawn_workers.map(abs, [-1, 2, -3]) == [1, 2, 3]
            assert spawn_workers.map(abs, []) == []
        """
    )
    run(pytester, mode).assert_outcomes(passed=1)


def test_spawn_workers_timeout(pytester: pytest.Pytester) -> None:
    """A hung spawn_workers worker raises WorkerTimeout at the fixture's timeout."""
    pytester.makepyfile(
        """
        import time
        import pytest
        from concur_lab import WorkerTimeout

        def test_x(spawn_workers):
            with pytest.raises(WorkerTimeout):
                spawn_workers(time.sleep, 1, args=(30,), timeout=0.5)
        """
    )
    run(pytester, "process").assert_outcomes(passed=1)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_spawn_workers_inside_marked_test(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """spawn_workers also works inside a concur-marked test's workers."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.concur(workers=2)
        def test_x(spawn_workers):
            assert spawn_workers(lambda: 7, 2) == [7, 7]
        """
    )
    run(pytester, mode, method).assert_outcomes(passed=1)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_shared_counter_with_marker(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """shared_counter is seen by every marker-driven worker and by the parent afterwards."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def check(shared_counter):
            yield
            assert shared_counter.value == 4

        @pytest.mark.concur(workers=4)
        def test_x(shared_counter, check):
            shared_counter.increment()
        """
    )
    run(pytester, mode, method).assert_outcomes(passed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_shared_counter_with_spawn_workers(pytester: pytest.Pytester, mode: str) -> None:
    """shared_counter starts at 0 and counts increments from spawn_workers workers."""
    pytester.makepyfile(
        """
        def test_x(shared_counter, spawn_workers, concur_mode):
            assert shared_counter.value == 0
            assert shared_counter.mode == concur_mode
            spawn_workers(shared_counter.increment, 3)
            assert shared_counter.value == 3
        """
    )
    run(pytester, mode).assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows spawn_workers with its call signature first, and shared_counter."""
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(
        [
            "spawn_workers*",
            "*spawn_workers(target, n=None, args=(), kwargs=None, timeout=None) -> list of *",
        ]
    )
    result.stdout.fnmatch_lines(["shared_counter*", "*Return a fresh*SharedCounter*"])


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_leaked_thread_errors_at_teardown(pytester: pytest.Pytester, mode: str) -> None:
    """A thread a concurrency test leaves running makes it error at teardown, named."""
    pytester.makepyfile(
        """
        import threading

        STOP = threading.Event()

        def test_x(concur_mode):
            threading.Thread(target=STOP.wait, args=(30,), name="forgotten").start()

        def test_after():
            STOP.set()
        """
    )
    result = run(pytester, mode)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_x[[]*[]]*",
            "concur: test_leaked_thread_errors_at_teardown.py::test_x[[]*[]] left work running "
            "after its teardown:",
            "  thread 'forgotten' (ident *) is still alive",
        ]
    )


def test_leaked_process_errors_and_is_killed(pytester: pytest.Pytester) -> None:
    """A child process left running errors at teardown, named, and is killed."""
    pytester.makepyfile(
        """
        import os, subprocess, sys

        PROCS = []

        def test_x(concur_mode):
            cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
            PROCS.append(subprocess.Popen(cmd))

        def test_gone():
            assert not os.path.exists(f"/proc/{PROCS[0].pid}")
            PROCS[0].poll()  # reaped already: lets Popen know, so it does not warn
        """
    )
    result = run(pytester, "process")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["  child process * (*python* -c import time*) was still running: killed"]
    )


def test_leaked_process_is_found_in_a_process_without_children(
    pytester: pytest.Pytester,
) -> None:
    """A child left by a thread-mode test of a childless session errors at teardown."""
    pytester.makepyfile(
        """
        import subprocess, sys

        import pytest

        PROCS = []

        @pytest.mark.concur(workers=1)
        def test_x():
            cmd = [sys.executable, "-c", "import time; time.sleep(60)"]
            PROCS.append(subprocess.Popen(cmd))

        def test_reaped():
            assert PROCS[0].poll() is not None
        """
    )
    # A session of its own: only there is the test process certain to start with no children.
    result = pytester.runpytest_subprocess("--concur-mode=thread", SHORT_GRACE, timeout=120)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        ["  child process * (*python* -c import time*) was still running: killed"]
    )


def test_joined_workers_are_not_leaks(pytester: pytest.Pytester) -> None:
    """Threads and processes that a test joins before it ends are not reported."""
    pytester.makepyfile(
        """
        import threading, multiprocessing

        def test_x(concur_mode):
            t = threading.Thread(target=lambda: None)
            t.start()
            t.join(10)
            p = multiprocessing.get_context("fork").Process(target=int)
            p.start()
            p.join(10)
        """
    )
    run(pytester, "thread").assert_outcomes(passed=1)


def test_plain_tests_are_not_checked(pytester: pytest.Pytester) -> None:
    """The leak check applies to concurrency tests only."""
    pytester.makepyfile(
        """
        import threading

        STOP = threading.Event()

        def test_plain():
            threading.Thread(target=STOP.wait, args=(30,)).start()

        def test_after():
            STOP.set()
        """
    )
    run(pytester, "thread").assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_function_fixture_thread_is_a_leak(pytester: pytest.Pytester, mode: str) -> None:
    """A thread a function-scoped fixture starts and never joins is the test's leak."""
    pytester.makepyfile(
        """
        import threading
        import pytest

        STOP = threading.Event()

        @pytest.fixture
        def background():
            threading.Thread(target=STOP.wait, args=(30,), name="from-fixture").start()

        @pytest.fixture
        def joined():
            thread = threading.Thread(target=STOP.wait, args=(0.1,), name="joined")
            thread.start()
            yield
            thread.join(10)

        def test_x(background, concur_mode):
            pass

        def test_clean(joined, concur_mode):
            pass

        def test_after():
            STOP.set()
        """
    )
    result = run(pytester, mode)
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_x[[]*[]]*",
            "concur: *::test_x[[]*[]] left work running after its teardown:",
            "  thread 'from-fixture' (ident *) is still alive",
        ]
    )
    assert "All traceback entries are hidden" not in result.stdout.str()


@pytest.mark.parametrize("scope", ["session", "module", "class"])
def test_wider_fixture_thread_is_not_a_leak(pytester: pytest.Pytester, scope: str) -> None:
    """A session, module or class fixture's thread, first set up for a test, is not its leak."""
    pytester.makepyfile(
        f"""
        import threading
        import pytest

        @pytest.fixture(scope="{scope}")
        def server():
            stop = threading.Event()
            thread = threading.Thread(target=stop.wait, args=(30,), name="server")
            thread.start()
            yield
            stop.set()
            thread.join(10)

        class TestServer:
            def test_x(self, server, concur_mode):
                pass

            def test_y(self, server, concur_mode):
                pass
        """
    )
    run(pytester, "both").assert_outcomes(passed=4)


def test_timed_out_spawned_thread_is_not_reported_again(pytester: pytest.Pytester) -> None:
    """A spawn_workers thread already reported by WorkerTimeout is not a teardown leak."""
    pytester.makepyfile(
        """
        import threading
        import pytest
        from concur_lab import WorkerTimeout

        RELEASE = threading.Event()

        def test_x(spawn_workers):
            with pytest.raises(WorkerTimeout):
                spawn_workers(RELEASE.wait, 1, args=(30,), timeout=0.3)

        def test_after():
            RELEASE.set()
        """
    )
    run(pytester, "thread").assert_outcomes(passed=2)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_spawn_workers_warnings_reach_the_summary(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """What spawned workers warn shows in pytest's warnings summary, in every mode."""
    pytester.makepyfile(
        """
        import warnings

        def warn():
            warnings.warn("from a worker", UserWarning)

        def test_x(spawn_workers):
            spawn_workers(warn, n=2)
        """
    )
    result = run(pytester, mode, method, "-W", "default")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*warnings summary*", "*UserWarning: from a worker*"])


LEAVE_A_DESCENDANT = """
import os, subprocess, time
import pytest

def note(pid):
    with open("pids.txt", "a") as f:
        f.write(f"{pid}\\n")

@pytest.mark.concur(workers=1)
def test_leaves_one():
    if HOW == "popen":
        child = subprocess.Popen(["sleep", "30"])
        child.returncode = 0  # its Popen must not warn when collected: the leak check reports it
        note(child.pid)
    else:
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        note(pid)
"""


def _kill_noted(path: Any) -> list[int]:
    pids = [int(line) for line in path.read_text().split()] if path.exists() else []
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    return pids


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except OSError:
        return False


@pytest.mark.parametrize("how", ["popen", "fork"])
@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_left_running_subprocess_errors_at_teardown(
    pytester: pytest.Pytester, mode: str, method: str, how: str
) -> None:
    """A process a marked test's worker starts and leaves running fails it at teardown, killed."""
    pytester.makepyfile(LEAVE_A_DESCENDANT.replace("HOW", repr(how)))
    noted = pytester.path / "pids.txt"
    try:
        result = pytester.runpytest_subprocess(
            f"--concur-mode={mode}", f"--concur-start-method={method}", SHORT_GRACE, timeout=120
        )
        result.assert_outcomes(passed=1, errors=1)
        (pid,) = [int(line) for line in noted.read_text().split()]
        command = "sleep 30" if how == "popen" else "*python*"
        if mode == "thread":
            line = f"  child process {pid} ({command}) was still running: killed"
        else:
            line = (
                f"  process {pid} ({command}), started in worker 0 of 1 (process[[]{method}[]], "
                "pid *), was still running after the run: killed"
            )
        result.stdout.fnmatch_lines(["*ERROR at teardown of test_leaves_one*", line])
        assert not _running(pid)
    finally:
        _kill_noted(noted)


def test_leak_grace_is_waited_for(pytester: pytest.Pytester) -> None:
    """A thread that ends within --concur-leak-grace is no leak; the grace is the option's."""
    pytester.makepyfile(
        """
        import threading, time

        def test_x(concur_mode):
            threading.Thread(target=time.sleep, args=(0.5,), name="finishing").start()
        """
    )
    run(pytester, "thread", "fork", "--concur-leak-grace=3").assert_outcomes(passed=1)
    result = run(pytester, "thread", "fork", "--concur-leak-grace=0")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["  thread 'finishing' (ident *) is still alive"])


@pytest.mark.parametrize(
    ("value", "problem"),
    [("-1", "expected a number of seconds of at least 0"), ("inf", "it is infinite")],
)
def test_leak_grace_out_of_range_is_a_usage_error(
    pytester: pytest.Pytester, value: str, problem: str
) -> None:
    """A negative or infinite --concur-leak-grace is refused, naming the value and its source."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = pytester.runpytest(f"--concur-leak-grace={value}")
    assert result.ret != 0
    result.stderr.fnmatch_lines(
        [f"*invalid concur leak grace {value!r} from command line --concur-leak-grace: {problem}*"]
    )


# Instances register in WEAK when made, also when unpickled in the parent, so a later test can
# tell whether anything of the test before still holds them. Always run in a subprocess: an inline
# pytester run records every hook call, and with them every exception.
_HELD_AFTER_TEST = """
    import gc
    import weakref

    import pytest

    WEAK = weakref.WeakSet()

    class Held:
        def __init__(self):
            WEAK.add(self)

        def __reduce__(self):
            return (Held, ())

    class Carrying(Exception):
        def __init__(self, held):
            super().__init__(held)
            self.held = held
"""
# Runs after the test under check: pytest keeps the order of the module.
_NOTHING_HELD = """
    def test_nothing_is_held_afterwards():
        gc.collect()
        assert len(WEAK) == 0
"""


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_failed_workers_are_not_kept_after_the_test(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """A failed concurrency test's worker exceptions (and what they hold) die with the test."""
    pytester.makepyfile(
        _HELD_AFTER_TEST
        + """
    @pytest.mark.concur
    def test_fails():
        held = Held()
        raise Carrying(held)
    """
        + _NOTHING_HELD
    )
    options = (f"--concur-mode={mode}", f"--concur-start-method={method}")
    pytester.runpytest_subprocess(*options, timeout=120).assert_outcomes(passed=1, failed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_spawned_outcomes_are_not_kept_after_the_test(pytester: pytest.Pytester, mode: str) -> None:
    """What spawn_workers' workers returned is not kept once the test is over."""
    pytester.makepyfile(
        _HELD_AFTER_TEST
        + """
    def test_spawns(spawn_workers):
        assert len(spawn_workers(Held, 2)) == 2
    """
        + _NOTHING_HELD
    )
    pytester.runpytest_subprocess(f"--concur-mode={mode}", timeout=120).assert_outcomes(passed=2)
