"""The concur marker: the test body runs in workers, and their outcomes make the test's."""

from __future__ import annotations

import pytest

from pytest_concur._engine import available_start_methods

METHODS = [m for m in ("fork", "forkserver", "spawn") if m in available_start_methods()]
# (--concur-mode, --concur-start-method) for every mode a behaviour may depend on.
ALL_MODES = [("thread", "fork")] + [("process", m) for m in METHODS]
ALL_MODE_IDS = ["thread"] + [f"process-{m}" for m in METHODS]


@pytest.fixture
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    # Room for whole short-summary lines, which pytest cuts at the terminal's width.
    monkeypatch.setenv("COLUMNS", "200")


def run(pytester: pytest.Pytester, mode: str, method: str = "fork", *args: str) -> pytest.RunResult:
    options = (f"--concur-mode={mode}", f"--concur-start-method={method}", *args)
    if mode == "thread":
        return pytester.runpytest(*options)
    # Process workers fork, or start a fork server: never from this test process itself.
    return pytester.runpytest_subprocess(*options, timeout=120)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_module_global_lesson(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """A module global bumped by 5 workers reads 1..5 in thread mode and 1 in every process."""
    pytester.makepyfile(
        """
        import pytest

        COUNT = 0

        @pytest.fixture(autouse=True)
        def fresh_global():
            global COUNT
            COUNT = 0

        @pytest.mark.concur(workers=5)
        def test_bump(concur_mode):
            global COUNT
            COUNT += 1
            print("read", COUNT)
        """
    )
    result = run(pytester, mode, method, "-rP")
    result.assert_outcomes(passed=1)
    reads = sorted(int(line.split()[1]) for line in result.outlines if line.startswith("read "))
    assert reads == ([1, 2, 3, 4, 5] if mode == "thread" else [1, 1, 1, 1, 1])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_list_fixture_lesson(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """A list fixture appended by 5 workers has 5 items in thread mode; processes leave it empty."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def items(concur_mode):
            shared = []
            yield shared
            print("parent sees", len(shared))

        @pytest.mark.concur(workers=5)
        def test_append(items):
            items.append(1)
        """
    )
    result = run(pytester, mode, method, "-rP")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"parent sees {5 if mode == 'thread' else 0}"])


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_all_workers_pass(pytester: pytest.Pytester, mode: str) -> None:
    """When every worker passes the test passes, once per mode."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n    assert True\n"
    )
    run(pytester, mode).assert_outcomes(passed=1)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_single_failure_keeps_pytest_look(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """One failing worker shows pytest's usual assertion detail, labelled with its worker."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_x():
            assert worker_index() == 0
        """
    )
    result = run(pytester, mode, method)
    result.assert_outcomes(failed=1)
    label = "thread" if mode == "thread" else f"process[[]{method}[]], pid *"
    result.stdout.fnmatch_lines(
        [
            ">       assert worker_index() == 0",
            "E       assert 1 == 0",
            "E        +  where 1 = *worker_index*()",
            f"E       raised in worker 1 of 2 ({label})",
            "test_single_failure_keeps_pytest_look.py:6: AssertionError",
        ]
    )


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_same_failure_in_several_workers_is_the_first_ones(
    pytester: pytest.Pytester, wide: None, mode: str, method: str
) -> None:
    """Workers failing alike raise the first one's exception, with a note for each other one."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=3)
        def test_x():
            if worker_index() > 0:
                raise ValueError(f"bad {worker_index()}")
        """
    )
    result = run(pytester, mode, method, "-rf")
    result.assert_outcomes(failed=1)
    label = "thread" if mode == "thread" else f"process[[]{method}[]], pid *"
    result.stdout.fnmatch_lines(
        [
            "E           ValueError: bad 1",
            f"E           raised in worker 1 of 3 ({label})",
            f"E           also failed in worker 2 of 3 ({label}): ValueError: bad 2",
            "*.py:7: ValueError",
            "FAILED *::test_x[[]*[]] - ValueError: bad 1 (worker 1 of 3)",
        ]
    )
    output = result.stdout.str()
    assert "workers failed" not in output
    assert "worker 0" not in output


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_different_failures_are_grouped(
    pytester: pytest.Pytester, wide: None, mode: str, method: str
) -> None:
    """Workers failing differently give one exception group that labels every failing worker."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=3)
        def test_x():
            if worker_index() == 1:
                raise ValueError("bad 1")
            if worker_index() == 2:
                raise KeyError("bad 2")
        """
    )
    result = run(pytester, mode, method, "-rf")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "2 of 3 workers failed" in output
    assert "ValueError: bad 1" in output
    assert "KeyError: 'bad 2'" in output
    assert "raised in worker 1 of 3" in output
    assert "raised in worker 2 of 3" in output
    assert "raised in worker 0" not in output
    # The short summary names the first failing worker's own error, not the group's title.
    result.stdout.fnmatch_lines(["FAILED *::test_x[[]*[]] - ValueError: bad 1 (worker 1 of 3)"])
    if pytest.version_tuple[0] >= 9:
        # pytest 8.0 prints an exception group's whole stack (pluggy too), whatever we hide.
        assert "pytest_concur" not in output


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_xfail_raises_matches_workers_exception(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """xfail(raises=X) on a test whose workers all raise X is xfailed; another type fails."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xfail(raises=ZeroDivisionError)
        @pytest.mark.concur(workers=2)
        def test_expected():
            1 / 0

        @pytest.mark.xfail(raises=ZeroDivisionError)
        @pytest.mark.concur(workers=2)
        def test_other():
            raise KeyError("x")
        """
    )
    run(pytester, mode, method).assert_outcomes(xfailed=1, failed=1)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_pytrace_false_in_several_workers(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """pytest.fail(pytrace=False) in two workers shows the messages alone, both workers named."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_x():
            pytest.fail(f"told to fail {worker_index()}", pytrace=False)
        """
    )
    result = run(pytester, mode, method)
    result.assert_outcomes(failed=1)
    label = "thread" if mode == "thread" else f"process[[]{method}[]], pid *"
    result.stdout.fnmatch_lines(
        [
            "_*_ test_x[[]*[]] _*_",
            "told to fail 0",
            f"raised in worker 0 of 2 ({label})",
            f"also failed in worker 1 of 2 ({label}): Failed: told to fail 1",
            "=*= short test summary info =*=",
        ]
    )
    output = result.stdout.str()
    assert "Traceback" not in output
    assert "def test_x" not in output
    assert "All traceback entries are hidden" not in output


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_skip_in_every_worker_skips(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """pytest.skip in every worker skips the test with its reason, in every start method."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n"
        "    pytest.skip('not today')\n"
    )
    result = run(pytester, mode, method, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *not today"])


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_skip_in_some_workers_fails(pytester: pytest.Pytester, mode: str) -> None:
    """pytest.skip in some workers only is a failure that names the workers that skipped."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=3)
        def test_x():
            if worker_index() == 1:
                pytest.skip("only me")
        """
    )
    result = run(pytester, mode)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*1 of 3 workers (*) called pytest.skip or pytest.xfail while 2 did not*",
            "*worker 1 skipped: only me",
        ]
    )


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_pytest_fail_fails(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """pytest.fail in a worker fails the test with its message, in every start method."""
    pytester.makepyfile(
        """
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_x():
            if worker_index() == 0:
                pytest.fail("told to fail")
        """
    )
    result = run(pytester, mode, method)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Failed: told to fail*"])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_pytest_xfail_in_every_worker_xfails(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """pytest.xfail in every worker makes the test xfailed, in every start method."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n    pytest.xfail('known')\n"
    )
    result = run(pytester, mode, method, "-rx")
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(["XFAIL *known"])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_xfail_marker_works(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """An xfail marker on a failing marked test gives xfailed, a passing strict one fails."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.xfail(reason="bug")
        @pytest.mark.concur(workers=2)
        def test_fails():
            assert False

        @pytest.mark.xfail(strict=True)
        @pytest.mark.concur(workers=2)
        def test_passes():
            pass
        """
    )
    run(pytester, mode, method).assert_outcomes(xfailed=1, failed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_warning_raised_as_exception_fails(pytester: pytest.Pytester, mode: str) -> None:
    """A warning raised as an exception in a worker fails the test, not silently passes."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n"
        "    raise DeprecationWarning('old')\n"
    )
    result = run(pytester, mode)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*DeprecationWarning: old*"])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_worker_output_sections(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """Each worker's stdout and stderr appear in their own labelled report section."""
    pytester.makepyfile(
        """
        import sys
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_x():
            print(f"hello from {worker_index()}")
            print(f"oops from {worker_index()}", file=sys.stderr)
        """
    )
    result = run(pytester, mode, method, "-rP")
    result.assert_outcomes(passed=1)
    label = "thread" if mode == "thread" else f"process[[]{method}[]]"
    for index in (0, 1):
        result.stdout.fnmatch_lines(
            [
                f"*Captured stdout [[]worker {index} of 2, {label}[]] call*",
                f"hello from {index}",
            ]
        )
        result.stdout.fnmatch_lines(
            [f"*Captured stderr [[]worker {index} of 2, {label}[]] call*", f"oops from {index}"]
        )


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_fixtures_set_up_once_in_parent(pytester: pytest.Pytester, mode: str) -> None:
    """Fixtures are set up and torn down once per item, in the parent, not per worker."""
    pytester.makepyfile(
        """
        import os
        import pytest

        EVENTS = []
        PARENT = os.getpid()

        @pytest.fixture
        def resource():
            EVENTS.append(("setup", os.getpid()))
            yield 42
            EVENTS.append(("teardown", os.getpid()))

        @pytest.mark.concur(workers=3)
        def test_x(resource):
            assert resource == 42

        def test_events():
            assert EVENTS == [("setup", PARENT), ("teardown", PARENT)]
        """
    )
    run(pytester, mode).assert_outcomes(passed=2)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_string_skipif_condition_sees_module_globals(pytester: pytest.Pytester, mode: str) -> None:
    """String skipif conditions still see the module's globals (item.obj is not replaced)."""
    pytester.makepyfile(
        """
        import pytest

        FLAG = True

        @pytest.mark.skipif("FLAG", reason="flag set")
        @pytest.mark.concur(workers=2)
        def test_x():
            pass
        """
    )
    run(pytester, mode).assert_outcomes(skipped=1)


@pytest.mark.parametrize("method", [m for m in METHODS if m != "fork"])
def test_unsendable_fixture_names_it(pytester: pytest.Pytester, method: str) -> None:
    """A fixture value that cannot reach spawn or forkserver workers fails naming the fixture."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def stream():
            return (i for i in range(3))

        @pytest.mark.concur(workers=2)
        def test_x(stream):
            pass
        """
    )
    result = run(pytester, "process", method)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"concur: cannot send fixture 'stream' to process[[]{method}[]] workers: "
            "TypeError: cannot pickle 'generator' object",
            "*use --concur-start-method=fork*or thread mode*",
        ]
    )
    # The failure itself, not the short summary, which repeats the message in full on CI (where
    # pytest does not cut summary lines to the terminal's width).
    output = result.stdout.str().split("short test summary info")[0]
    # The advice is given once, and nothing claims that traceback entries were hidden.
    assert output.count("cannot send") == 1
    assert output.lower().count("thread mode") == 1
    assert "All traceback entries are hidden" not in output


def test_marker_workers_argument(pytester: pytest.Pytester) -> None:
    """The marker's workers argument sets how many workers run the body."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.concur(workers=3)
        def test_x(shared_counter):
            shared_counter.increment()

        def test_default(shared_counter, spawn_workers):
            assert spawn_workers.workers == 2
        """
    )
    run(pytester, "thread", "fork", "--concur-workers=2").assert_outcomes(passed=2)


def test_returning_a_value_warns(pytester: pytest.Pytester) -> None:
    """A marked test that returns a value gets pytest's return-not-None warning."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n    return 5\n"
    )
    # -W default: the outer suite's "error" filter is process-wide and would reach this run.
    result = run(pytester, "thread", "fork", "-W", "default")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*PytestReturnNotNoneWarning*"])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_method_of_test_class(pytester: pytest.Pytester, mode: str, method: str) -> None:
    """A marked method of a test class runs in workers with its instance, in every mode."""
    pytester.makepyfile(
        """
        import pytest

        class TestThing:
            value = 3

            @pytest.mark.concur(workers=2)
            def test_method(self, tmp_path):
                assert self.value == 3
                assert tmp_path.is_dir()
        """
    )
    run(pytester, mode, method).assert_outcomes(passed=1)


def test_async_test_with_marker_fails_clearly(pytester: pytest.Pytester) -> None:
    """An async marked test fails with a message instead of running a coroutine nowhere."""
    pytester.makepyfile("import pytest\n@pytest.mark.concur\nasync def test_x():\n    pass\n")
    result = run(pytester, "thread")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*concur: the concur marker runs plain functions only*"])


def test_marker_start_method_reaches_workers(pytester: pytest.Pytester) -> None:
    """The marker's start_method is the one workers start with (spawn children inherit nothing)."""
    pytester.makepyfile(
        """
        import pytest

        SET_BY_PARENT = None

        @pytest.fixture
        def mark_parent():
            global SET_BY_PARENT
            SET_BY_PARENT = "parent"

        @pytest.mark.concur(workers=1, start_method="spawn")
        def test_spawned(mark_parent):
            assert SET_BY_PARENT is None

        @pytest.mark.concur(workers=1)
        def test_forked(mark_parent):
            assert SET_BY_PARENT == "parent"
        """
    )
    run(pytester, "process", "fork").assert_outcomes(passed=2)


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_worker_warning_reaches_the_summary(
    pytester: pytest.Pytester, mode: str, method: str
) -> None:
    """A warning issued in a worker shows in pytest's warnings summary, in every mode."""
    pytester.makepyfile(
        "import warnings, pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n"
        "    warnings.warn('careful now', UserWarning)\n"
    )
    result = run(pytester, mode, method, "-W", "default")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*warnings summary*", "*UserWarning: careful now*"])


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
@pytest.mark.parametrize(
    "how",
    [("-W", "error::UserWarning"), ("-o", "filterwarnings=error::UserWarning")],
    ids=["option", "ini"],
)
def test_warning_filter_error_fails_workers(
    pytester: pytest.Pytester, mode: str, method: str, how: tuple[str, str]
) -> None:
    """A filter that makes a warning an error fails the test in every mode, not only threads."""
    pytester.makepyfile(
        "import warnings, pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n"
        "    warnings.warn('careful now', UserWarning)\n"
    )
    result = run(pytester, mode, method, *how)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*UserWarning: careful now*"])


@pytest.mark.parametrize("method", METHODS)
def test_thread_left_in_process_worker_is_a_leak(pytester: pytest.Pytester, method: str) -> None:
    """A thread a process worker leaves running errors at teardown, without waiting it out."""
    pytester.makepyfile(
        """
        import threading, time
        import pytest

        @pytest.mark.concur(workers=2, timeout=30)
        def test_x():
            threading.Thread(target=time.sleep, args=(600,), name="lingering").start()
        """
    )
    result = run(pytester, "process", method)
    result.assert_outcomes(passed=1, errors=1)
    # "passed": the workers were not held until the deadline, which would have failed the test.
    result.stdout.fnmatch_lines(
        [
            "*thread 'lingering', started in worker 0 of 2 (process[[]*), was still running when "
            "the test body returned (the worker process ended it)",
            "*thread 'lingering', started in worker 1*",
        ]
    )
