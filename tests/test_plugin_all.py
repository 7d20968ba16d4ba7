"""--concur-all: every Python test of an existing suite runs in workers of each mode."""

from __future__ import annotations

import json
import os

import pytest

from pytest_concur._engine import available_start_methods
from pytest_concur._values import cpu_count

METHODS = [m for m in ("fork", "forkserver", "spawn") if m in available_start_methods()]


def run(pytester: pytest.Pytester, *args: str, process: bool = False) -> pytest.RunResult:
    # Process workers fork, or start a fork server: never from this test process itself.
    if process or any("process" in a or "both" in a for a in args):
        return pytester.runpytest_subprocess("-p", "no:run-parallel", *args, timeout=120)
    return pytester.runpytest("-p", "no:run-parallel", *args)


@pytest.fixture(autouse=True)
def wide(monkeypatch: pytest.MonkeyPatch) -> None:
    # Room for whole report lines, which pytest cuts at the terminal's width.
    monkeypatch.setenv("COLUMNS", "250")


def test_plain_function_gets_an_item_per_mode(pytester: pytest.Pytester) -> None:
    """Under --concur-all a test that asks for nothing of ours runs in thread and process mode."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--concur-all", "--concur-mode=both", "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_x[[]thread[]] PASSED*", "*test_x[[]process[]] PASSED*"])


def test_body_runs_in_every_worker(pytester: pytest.Pytester) -> None:
    """Under --concur-all the body of an unmarked test runs once in each of the workers."""
    pytester.makepyfile(
        """
        import threading
        SEEN = set()
        def test_x():
            SEEN.add(threading.get_ident())
        def test_y_after():
            assert len(SEEN) == 3
        """
    )
    run(pytester, "--concur-all", "--concur-workers=3", "-p", "no:randomly").assert_outcomes(
        passed=2
    )


def test_ini_turns_it_on(pytester: pytest.Pytester) -> None:
    """The ini key concur_all = true does what the flag does."""
    pytester.makeini("[pytest]\nconcur_all = true\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester, "-v").stdout.fnmatch_lines(["*test_x[[]thread[]] PASSED*"])


def test_bad_ini_value_names_the_key(pytester: pytest.Pytester) -> None:
    """A concur_all ini value that is not a boolean is a usage error naming value and key."""
    pytester.makeini("[pytest]\nconcur_all = sometimes\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*invalid concur all 'sometimes' from ini concur_all: expected true or false*"]
    )


def test_header_says_all_tests(pytester: pytest.Pytester) -> None:
    """The report header shows that every test runs concurrently."""
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester, "--concur-all").stdout.fnmatch_lines(["concur: modes thread | *| all tests *"])


def test_without_the_flag_plain_tests_run_once(pytester: pytest.Pytester) -> None:
    """Without --concur-all an unmarked test is one plain item."""
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester, "-v").stdout.fnmatch_lines(["*::test_x PASSED*"])


def test_unittest_methods_share_the_instance_in_thread_mode(pytester: pytest.Pytester) -> None:
    """unittest workers share setUp's state in thread mode and each have a copy in process mode."""
    pytester.makepyfile(
        """
        import unittest

        class TestList(unittest.TestCase):
            def setUp(self):
                self.items = []

            def test_append(self):
                self.items.append(1)
                self.assertEqual(self.items, [1])
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both", "--concur-workers=4")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["FAILED *TestList::test_append[[]thread[]]*Lists differ*"])


@pytest.mark.parametrize("method", METHODS)
def test_unittest_method_runs_under_every_start_method(
    pytester: pytest.Pytester, method: str
) -> None:
    """A unittest method's body reaches process workers under every start method."""
    pytester.makepyfile(
        """
        import os, unittest

        class TestPid(unittest.TestCase):
            def setUp(self):
                self.parent = os.getppid()

            def test_in_a_child(self):
                self.assertNotEqual(os.getpid(), self.parent)
        """
    )
    result = run(
        pytester, "--concur-all", "--concur-mode=process", f"--concur-start-method={method}"
    )
    result.assert_outcomes(passed=1)


def test_unittest_skip_is_kept(pytester: pytest.Pytester) -> None:
    """unittest.skip on a method still skips both of its items."""
    pytester.makepyfile(
        """
        import unittest

        class TestSkip(unittest.TestCase):
            @unittest.skip("not today")
            def test_x(self):
                raise AssertionError
        """
    )
    run(pytester, "--concur-all", "--concur-mode=both").assert_outcomes(skipped=2)


def test_doctests_run_once_and_are_counted(pytester: pytest.Pytester) -> None:
    """A doctest item runs once, unchanged, and the suite report counts it as not a Python test."""
    pytester.makepyfile(
        '''
        def double(x):
            """
            >>> double(2)
            4
            """
            return 2 * x
        '''
    )
    result = run(pytester, "--concur-all", "--doctest-modules")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["not run concurrently, ran once unchanged: 1 (1 not a Python test function (DoctestItem))"]
    )


LATE_MARKER_CONFTEST = """
import pytest

def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.concur)
"""


def test_late_marker_on_function_is_the_tests_error(pytester: pytest.Pytester) -> None:
    """A concur marker added in a conftest's modifyitems errors that test, saying what to do."""
    pytester.makeconftest(LATE_MARKER_CONFTEST)
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "-W", "error")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "*the concur marker on test_x was added after collection*(pytestmark = "
            "pytest.mark.concur), or run every test concurrently with --concur-all."
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str()


def test_late_marker_on_unittest_method_takes_effect(pytester: pytest.Pytester) -> None:
    """A concur marker a conftest adds to a unittest method makes it run in workers."""
    pytester.makeconftest(LATE_MARKER_CONFTEST)
    pytester.makepyfile(
        """
        import unittest

        class TestX(unittest.TestCase):
            def test_x(self):
                pass
        """
    )
    result = run(pytester, "-v", "-W", "error")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*TestX::test_x[[]thread[]] PASSED*"])


def test_marker_on_definition_in_generate_tests_runs_in_workers(pytester: pytest.Pytester) -> None:
    """A marker a conftest puts on metafunc.definition makes the body run in the workers."""
    pytester.makeconftest(
        """
        import pytest

        def pytest_generate_tests(metafunc):
            metafunc.definition.add_marker(pytest.mark.concur(workers=3))
        """
    )
    pytester.makepyfile(
        """
        import threading
        SEEN = set()
        def test_x():
            SEEN.add(threading.get_ident())
        def test_y_after():
            assert len(SEEN) == 3
        """
    )
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_concur_unsafe_runs_once_in_the_tests_thread(pytester: pytest.Pytester) -> None:
    """concur_unsafe makes the body run once, in thread mode in the test's own (main) thread."""
    pytester.makepyfile(
        """
        import signal, pytest

        @pytest.mark.concur_unsafe(reason="sets a signal handler")
        def test_x():
            signal.signal(signal.SIGUSR2, signal.SIG_DFL)
        """
    )
    result = run(pytester, "--concur-all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["  1 not run concurrently (body ran once)", "    1 marked concur_unsafe: sets a signal*"]
    )


def test_concur_unsafe_modes_limit_it(pytester: pytest.Pytester) -> None:
    """concur_unsafe(modes='thread') leaves the process mode concurrent."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.concur_unsafe(modes="thread")
        def test_x():
            pass
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both")
    result.stdout.fnmatch_lines(
        [
            "thread mode: 1 test",
            "  0 ran concurrently and passed",
            "*",
            "*",
            "    1 marked concur_unsafe",
            "process mode: 1 test",
            "  1 ran concurrently and passed",
        ]
    )


def test_bad_concur_unsafe_modes_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """An invalid modes argument of concur_unsafe names the value and the test."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur_unsafe(modes='threads')\ndef test_x():\n    pass\n"
    )
    result = run(pytester, "--concur-all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*invalid concur modes 'threads' from concur_unsafe marker on test_x*"]
    )


@pytest.mark.parametrize(
    ("marker", "reason"),
    [
        ("thread_unsafe(reason='global cache')", "marked thread_unsafe: global cache"),
        ("parallel_threads(1)", "marked parallel_threads(1)"),
    ],
)
def test_run_parallel_markers_are_honoured(
    pytester: pytest.Pytester, marker: str, reason: str
) -> None:
    """pytest-run-parallel's single-thread markers make a test run once in thread mode."""
    pytester.makepyfile(f"import pytest\n@pytest.mark.{marker}\ndef test_x():\n    pass\n")
    result = run(pytester, "--concur-all", "--strict-markers")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"    1 {reason}"])


def test_skip_unsafe_skips_with_the_reason(pytester: pytest.Pytester) -> None:
    """--concur-skip-unsafe skips an unsafe test, the skip reason saying why."""
    pytester.makepyfile("def test_x(monkeypatch):\n    pass\n")
    result = run(pytester, "--concur-all", "--concur-skip-unsafe", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED*concur: unsafe in thread mode: uses fixture 'monkeypatch'*"]
    )


@pytest.mark.parametrize("method", METHODS)
def test_capsys_is_per_worker(pytester: pytest.Pytester, method: str) -> None:
    """capsys.readouterr() in a worker returns what that worker printed (threads: run once)."""
    pytester.makepyfile(
        """
        def test_x(capsys, concur_worker_index):
            print("hi", concur_worker_index)
            assert capsys.readouterr().out == f"hi {concur_worker_index}\\n"
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both", f"--concur-start-method={method}")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["process mode: 1 test", "  1 ran concurrently and passed"])


@pytest.mark.parametrize("method", METHODS)
def test_capfd_is_per_worker(pytester: pytest.Pytester, method: str) -> None:
    """capfd in a process worker captures that worker's file descriptor 1."""
    pytester.makepyfile(
        """
        import os
        def test_x(capfd, concur_worker_index):
            os.write(1, f"fd {concur_worker_index}\\n".encode())
            assert capfd.readouterr().out == f"fd {concur_worker_index}\\n"
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both", f"--concur-start-method={method}")
    result.assert_outcomes(passed=2)


def test_unread_output_stays_in_the_workers_section(pytester: pytest.Pytester) -> None:
    """What a process worker printed under capsys but never read shows in its own section."""
    pytester.makepyfile(
        """
        def test_x(capsys):
            print("kept for the report")
            assert False
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=process", "--concur-workers=1")
    result.stdout.fnmatch_lines(["*stdout [[]worker 0 of 1*", "kept for the report"])


def test_recwarn_is_per_worker_in_process_mode(pytester: pytest.Pytester) -> None:
    """recwarn in a process worker records the worker's warnings: no false difference."""
    pytester.makepyfile(
        """
        import warnings
        def test_x(recwarn):
            warnings.warn("w", UserWarning)
            assert len(recwarn) == 1
            assert recwarn.pop(UserWarning).message.args == ("w",)
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["1 test ran in both modes: 1 agree, 0 differ"])


def test_monkeypatch_in_a_fixture_is_unsafe_under_spawn(pytester: pytest.Pytester) -> None:
    """Under spawn, monkeypatch used by a fixture makes the test run once, saying why."""
    pytester.makepyfile(
        """
        import os, pytest

        @pytest.fixture
        def env(monkeypatch):
            monkeypatch.setattr(os, "sep", "!")

        def test_x(env):
            assert os.sep == "!"
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=process", "--concur-start-method=spawn")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["    1 uses fixture 'monkeypatch, used by another fixture': what a fixture changed*"]
    )


def test_monkeypatch_is_safe_in_forked_workers(pytester: pytest.Pytester) -> None:
    """Under fork each worker patches its own process: the test runs concurrently."""
    pytester.makepyfile(
        """
        import os
        def test_x(monkeypatch):
            monkeypatch.setenv("CONCUR_X", "1")
            assert os.environ["CONCUR_X"] == "1"
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=process", "--concur-start-method=fork")
    result.stdout.fnmatch_lines(["  1 ran concurrently and passed"])


def test_call_through_a_helper_is_detected(pytester: pytest.Pytester) -> None:
    """pytest.warns in a same-project helper the test calls makes it unsafe in thread mode."""
    pytester.makepyfile(
        """
        import warnings, pytest

        def expect_warning():
            with pytest.warns(UserWarning):
                warnings.warn("w", UserWarning)

        def test_x():
            expect_warning()
        """
    )
    result = run(pytester, "--concur-all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["    1 calls pytest.warns: the warnings state*"])


def test_every_parameter_set_of_an_unsafe_test_is_detected(pytester: pytest.Pytester) -> None:
    """Each parametrized item of an unsafe function or method is detected, not only the first."""
    pytester.makepyfile(
        """
        import warnings, pytest

        @pytest.mark.parametrize("n", [1, 2, 3])
        def test_function(n):
            with pytest.warns(UserWarning):
                warnings.warn("w", UserWarning)

        class TestGroup:
            @pytest.mark.parametrize("n", [1, 2])
            def test_method(self, n):
                with pytest.warns(UserWarning):
                    warnings.warn("w", UserWarning)
        """
    )
    result = run(pytester, "--concur-all")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["    5 calls pytest.warns: the warnings state*"])


def test_parameter_sets_are_judged_by_each_modes_rules(pytester: pytest.Pytester) -> None:
    """Under both modes, a thread-only rule makes only the thread items run once."""
    pytester.makepyfile(
        """
        import contextlib, io, pytest

        @pytest.mark.parametrize("n", [1, 2])
        def test_x(n):
            with contextlib.redirect_stdout(io.StringIO()):
                print(n)
        """
    )
    report = pytester.path / "report.json"
    result = run(pytester, "--concur-all", "--concur-mode=both", f"--concur-report={report}")
    result.assert_outcomes(passed=4)
    summary = json.loads(report.read_text(encoding="utf-8"))["summary"]
    assert (summary["thread"]["ran_once"], summary["thread"]["concurrent_passed"]) == (2, 0)
    assert (summary["process"]["ran_once"], summary["process"]["concurrent_passed"]) == (0, 2)


def test_call_in_a_decorated_helper_is_detected(pytester: pytest.Pytester) -> None:
    """A helper under a decorator is found in its file by its first decorator's line."""
    pytester.makepyfile(
        """
        import functools, os

        def logged(function):
            @functools.wraps(function)
            def wrapper(*args, **kwargs):
                return function(*args, **kwargs)
            return wrapper

        @logged
        def move():
            os.chdir(os.getcwd())

        def test_x():
            move()
        """
    )
    result = run(pytester, "--concur-all")
    result.stdout.fnmatch_lines(["    1 calls os.chdir: the current directory is one per process"])


def test_file_rewritten_in_the_session_is_read_again(pytester: pytest.Pytester) -> None:
    """A test file changed between two in-process runs is scanned as it is now."""
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    run(pytester, "--concur-all").stdout.fnmatch_lines(["  1 ran concurrently and passed"])
    # Longer than before, so that size and mtime both change however coarse the clock is.
    pytester.makepyfile(test_x="import os\n\n\ndef test_x():\n    os.chdir(os.getcwd())\n")
    result = run(pytester, "--concur-all")
    result.stdout.fnmatch_lines(["    1 calls os.chdir: the current directory*"])


def test_call_in_a_nested_function_is_detected(pytester: pytest.Pytester) -> None:
    """A call in a function defined inside the test counts as the test's own."""
    pytester.makepyfile(
        """
        import os

        def test_x():
            def move():
                os.chdir(os.getcwd())
            move()
        """
    )
    result = run(pytester, "--concur-all")
    result.stdout.fnmatch_lines(["    1 calls os.chdir: the current directory is one per process"])


def test_function_naming_no_global_is_not_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A function that uses only builtins and locals cannot resolve a call: it is not parsed."""
    from pytest_concur import _unsafe

    def body() -> None:
        data = list(range(5))
        assert sum(data) == 10

    def refuse(code: object) -> None:
        raise AssertionError(f"parsed {code!r}")

    monkeypatch.setattr(_unsafe, "_parse", refuse)
    rules = _unsafe.rules_for("thread", None, (), (), 2, os.getcwd())
    assert _unsafe.find_unsafe_call(body, rules, None) is None


def test_depth_zero_looks_at_the_test_only(pytester: pytest.Pytester) -> None:
    """With concur_unsafe_depth = 0 a helper's calls are not followed."""
    pytester.makeini("[pytest]\nconcur_unsafe_depth = 0\n")
    pytester.makepyfile(
        """
        import os
        def helper():
            os.getcwd()
            os.chdir(os.getcwd())
        def test_x():
            helper()
        """
    )
    run(pytester, "--concur-all").stdout.fnmatch_lines(["  1 ran concurrently and passed"])


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        (
            "from unittest import mock\n@mock.patch('os.getcwd')\ndef test_x(m):\n    pass\n",
            "calls unittest.mock.patch*",
        ),
        (
            "import os\ndef test_x():\n    os.environ['CONCUR_X'] = '1'\n",
            "calls os.environ[[]...[]] =*",
        ),
        (
            "import os\ndef test_x():\n    os.chdir(os.getcwd())\n",
            "calls os.chdir: the current directory is one per process",
        ),
        (
            "import io, sys\ndef test_x():\n    sys.stderr = io.StringIO()\n",
            "assigns sys.stderr: sys.stderr is one per process",
        ),
    ],
    ids=["mock-patch-decorator", "environ-assignment", "chdir", "stderr-assignment"],
)
def test_builtin_call_rules(pytester: pytest.Pytester, source: str, reason: str) -> None:
    """Patching, the environment, the cwd and the streams make a test unsafe in threads."""
    pytester.makepyfile(source)
    result = run(pytester, "--concur-all")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"    1 {reason}"])


def test_ini_adds_unsafe_functions(pytester: pytest.Pytester) -> None:
    """concur_thread_unsafe_functions adds a module.name rule."""
    pytester.makeini("[pytest]\nconcur_thread_unsafe_functions =\n    os.getcwd\n")
    pytester.makepyfile("import os\ndef test_x():\n    os.getcwd()\n")
    run(pytester, "--concur-all").stdout.fnmatch_lines(
        ["    1 calls os.getcwd: listed in ini concur_thread_unsafe_functions"]
    )


def test_ini_adds_unsafe_fixtures(pytester: pytest.Pytester) -> None:
    """concur_thread_unsafe_fixtures adds a fixture rule."""
    pytester.makeini("[pytest]\nconcur_thread_unsafe_fixtures =\n    db\n")
    pytester.makepyfile(
        "import pytest\n@pytest.fixture\ndef db():\n    return 1\ndef test_x(db):\n    pass\n"
    )
    run(pytester, "--concur-all").stdout.fnmatch_lines(
        ["    1 uses fixture 'db': listed in ini concur_thread_unsafe_fixtures"]
    )


def test_bad_unsafe_function_entry_names_the_ini(pytester: pytest.Pytester) -> None:
    """An ini entry that is not module.name is a usage error naming the entry and the key."""
    pytester.makeini("[pytest]\nconcur_thread_unsafe_functions =\n    chdir\n")
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--concur-all")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*invalid entry 'chdir' in ini concur_thread_unsafe_functions: expected module.function*"]
    )


def test_each_worker_gets_its_own_tmp_path(pytester: pytest.Pytester) -> None:
    """Workers creating the same file in tmp_path do not collide; tmp_path.parent is shared."""
    pytester.makepyfile(
        """
        def test_x(tmp_path, concur_worker_index):
            (tmp_path / "made").mkdir()
            assert tmp_path.name == f"concur-worker-{concur_worker_index}"
            assert tmp_path.parent.name.startswith("test_x")
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both")
    result.assert_outcomes(passed=2)


def test_worker_tmp_path_holds_what_fixtures_made(pytester: pytest.Pytester) -> None:
    """A file a fixture wrote into tmp_path is in every worker's own tmp_path too."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def config(tmp_path):
            (tmp_path / "setup.cfg").write_text("x")

        def test_x(config, tmp_path):
            assert (tmp_path / "setup.cfg").read_text() == "x"
        """
    )
    run(pytester, "--concur-all").assert_outcomes(passed=1)


def test_worker_tmp_path_starts_empty_with_the_shared_ones_mode(pytester: pytest.Pytester) -> None:
    """With nothing in tmp_path, each worker's own starts empty, with the shared one's mode."""
    pytester.makepyfile(
        """
        import stat

        def test_x(tmp_path):
            assert list(tmp_path.iterdir()) == []
            mode = lambda path: stat.S_IMODE(path.stat().st_mode)
            assert mode(tmp_path) == mode(tmp_path.parent)
            (tmp_path / "made").write_text("x")
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both", "--concur-iterations=2")
    result.assert_outcomes(passed=2)


def test_index_fixtures(pytester: pytest.Pytester) -> None:
    """concur_worker_index, concur_iteration_index and concur_workers are the worker's own."""
    pytester.makepyfile(
        """
        SEEN = []
        def test_x(concur_worker_index, concur_iteration_index, concur_workers):
            SEEN.append((concur_worker_index, concur_iteration_index, concur_workers))
        def test_y_after():
            assert sorted(SEEN) == [(w, i, 2) for w in range(2) for i in range(3)]
        """
    )
    result = run(
        pytester, "--concur-all", "--concur-workers=2", "--concur-iterations=3", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=2)


def test_run_parallel_index_fixtures_without_that_plugin(pytester: pytest.Pytester) -> None:
    """thread_index and num_parallel_threads work for a suite written for pytest-run-parallel."""
    pytester.makepyfile(
        """
        SEEN = set()
        def test_x(thread_index, num_parallel_threads):
            assert num_parallel_threads == 3
            SEEN.add(thread_index)
        def test_y_after():
            assert SEEN == {0, 1, 2}
        """
    )
    result = run(pytester, "--concur-all", "--concur-workers=3", "-p", "no:randomly")
    result.assert_outcomes(passed=2)


def test_iterations_marker_argument(pytester: pytest.Pytester) -> None:
    """The concur marker's iterations= runs the body that many times in each worker."""
    pytester.makepyfile(
        """
        import pytest
        CALLS = []
        @pytest.mark.concur(workers=2, iterations=4)
        def test_x():
            CALLS.append(1)
        def test_y_after():
            assert len(CALLS) == 8
        """
    )
    run(pytester, "-p", "no:randomly").assert_outcomes(passed=2)


def test_bad_iterations_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """--concur-iterations=0 is a usage error naming the value and the option."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--concur-iterations=0")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*invalid concur iterations '0' from command line --concur-iterations: expected an*"]
    )


def test_workers_auto_is_resolved_in_the_header(pytester: pytest.Pytester) -> None:
    """--concur-workers=auto means the CPUs this process may use, shown in the header."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--concur-workers=auto")
    result.stdout.fnmatch_lines([f"concur: *| workers auto ({cpu_count()}) |*"])


def test_cpu_count_follows_the_affinity_mask() -> None:
    """cpu_count() is at most the CPUs in this process's affinity mask."""
    if hasattr(os, "sched_getaffinity"):
        assert cpu_count() <= len(os.sched_getaffinity(0))
    assert cpu_count() >= 1


def test_switch_interval_applies_to_thread_bodies(pytester: pytest.Pytester) -> None:
    """--concur-switch-interval is in force while thread-mode bodies run, restored after."""
    pytester.makepyfile(
        """
        import sys, pytest
        BEFORE = sys.getswitchinterval()
        def test_x():
            assert abs(sys.getswitchinterval() - 1e-5) < 1e-9
            raise ValueError("even after a failure")
        @pytest.mark.concur_unsafe  # in the test's own thread: no workers, no switch interval
        def test_y_after():
            assert sys.getswitchinterval() == BEFORE
        """
    )
    result = run(pytester, "--concur-all", "--concur-switch-interval=1e-5", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*ValueError: even after a failure*"])


def test_switch_interval_is_in_the_header(pytester: pytest.Pytester) -> None:
    """The header shows the switch interval."""
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester, "--concur-switch-interval=1e-6").stdout.fnmatch_lines(
        ["concur: *| switch interval 1e-06s | GIL *"]
    )


@pytest.mark.parametrize("value", ["0", "-1", "fast", "inf"])
def test_bad_switch_interval_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    """A switch interval that is not a positive finite number names the value and option."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, f"--concur-switch-interval={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [f"*invalid concur switch interval '{value}' from command line --concur-switch-interval*"]
    )


# No free-threaded CPython can be installed here: the GIL's state is faked through
# sys._is_gil_enabled, which the plugin reads at every check.
FAKE_GIL_CONFTEST = """
import importlib.machinery, sys, types

STATE = {"enabled": False}
sys._is_gil_enabled = lambda: STATE["enabled"]

def import_legacy_extension():
    module = types.ModuleType("legacy_ext")
    module.__file__ = "/site/legacy_ext" + importlib.machinery.EXTENSION_SUFFIXES[0]
    sys.modules["legacy_ext"] = module
    STATE["enabled"] = True
"""


def test_gil_enabled_again_fails_the_test(pytester: pytest.Pytester) -> None:
    """A test during which the (faked) GIL was enabled again fails, naming the extension."""
    pytester.makeconftest(FAKE_GIL_CONFTEST)
    pytester.makepyfile("import conftest\ndef test_x():\n    conftest.import_legacy_extension()\n")
    result = run(pytester, "--concur-all")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*the GIL was enabled again during test_*.py::test_x[[]thread[]] while it imported the "
            "extension module(s) 'legacy_ext'*"
        ]
    )


def test_ignore_gil_enabled(pytester: pytest.Pytester) -> None:
    """--concur-ignore-gil-enabled lets such a test pass."""
    pytester.makeconftest(FAKE_GIL_CONFTEST)
    pytester.makepyfile("import conftest\ndef test_x():\n    conftest.import_legacy_extension()\n")
    run(pytester, "--concur-all", "--concur-ignore-gil-enabled").assert_outcomes(passed=1)


def test_header_says_gil_disabled(pytester: pytest.Pytester) -> None:
    """On a (faked) free-threaded build the header says the GIL is disabled."""
    pytester.makeconftest(FAKE_GIL_CONFTEST)
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester).stdout.fnmatch_lines(["concur: * | GIL disabled"])


def test_suite_report_names_concurrent_failures(pytester: pytest.Pytester) -> None:
    """The suite report lists a test that failed in workers: id, failing workers, first line."""
    pytester.makepyfile(
        """
        import concur_lab
        def test_x():
            assert concur_lab.worker_index() != 1, "worker one"
        def test_ok():
            pass
        """
    )
    result = run(pytester, "--concur-all")
    result.stdout.fnmatch_lines(
        [
            "*= concur: suite report =*",
            "thread mode: 2 tests",
            "  1 ran concurrently and passed",
            "  1 failed when run concurrently",
            "    test_*.py::test_x[[]thread[]]: 1 of 4 workers: AssertionError: worker one*",
        ]
    )


def test_quiet_suite_report_is_one_line_per_mode(pytester: pytest.Pytester) -> None:
    """With -q the suite report is a line per mode."""
    pytester.makepyfile("def test_x():\n    pass\ndef test_y(monkeypatch):\n    pass\n")
    result = run(pytester, "--concur-all", "-q")
    result.stdout.fnmatch_lines(
        ["thread mode: 1 passed concurrently, 0 failed concurrently, 1 ran once"]
    )


def test_json_report(pytester: pytest.Pytester) -> None:
    """--concur-report writes the schema's summary, tests and differences."""
    pytester.makepyfile(
        """
        GLOBAL = []
        def test_x():
            GLOBAL.append(1)
            assert len(GLOBAL) >= 1
        def test_y(capsys):
            pass
        """
    )
    path = pytester.path / "report.json"
    run(pytester, "--concur-all", "--concur-mode=both", f"--concur-report={path}")
    report = json.loads(path.read_text())
    assert report["schema"] == 1
    assert report["settings"]["modes"] == ["thread", "process"]
    assert report["summary"]["thread"]["concurrent_passed"] == 1
    assert report["summary"]["thread"]["ran_once"] == 1
    assert report["summary"]["process"]["concurrent_passed"] == 2
    thread = report["tests"]["test_json_report.py::test_x"]["thread"]
    assert thread["outcome"] == "passed" and thread["workers"] == 4


def test_json_report_under_xdist(pytester: pytest.Pytester) -> None:
    """Under pytest-xdist the controller writes the report from every worker's results."""
    pytester.makepyfile("\n".join(f"def test_{i}():\n    pass\n" for i in range(6)))
    path = pytester.path / "report.json"
    result = run(pytester, "--concur-all", "-n", "2", f"--concur-report={path}", process=True)
    result.assert_outcomes(passed=6)
    assert json.loads(path.read_text())["summary"]["thread"]["concurrent_passed"] == 6


def test_bad_report_folder_is_a_usage_error(pytester: pytest.Pytester) -> None:
    """A report path in a folder that does not exist names the path and the option."""
    pytester.makepyfile("def test_x():\n    pass\n")
    result = run(pytester, "--concur-report=missing/report.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*invalid concur report path 'missing/report.json' from command line --concur-report: "
            "its folder * does not exist*"
        ]
    )


def test_isolation_report_says_why(pytester: pytest.Pytester) -> None:
    """A test failing only in process mode gets a why line naming the cause and a demo."""
    pytester.makepyfile(
        """
        import pytest
        SEEN = []
        @pytest.fixture
        def seen(concur_mode):
            SEEN.clear()
            yield SEEN
            assert len(SEEN) == 4, "the workers' appends never came back"
        def test_x(seen):
            seen.append(1)
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both")
    result.stdout.fnmatch_lines(
        [
            "    why:     failed only in process mode: each worker changed its own copy*"
            "shared-global*"
        ]
    )


def test_one_mode_note(pytester: pytest.Pytester) -> None:
    """Concurrency tests run in one mode only end with a note on how to run both."""
    pytester.makepyfile("def test_x():\n    pass\n")
    run(pytester, "--concur-all").stdout.fnmatch_lines(
        ["concur: 1 concurrency test ran in one mode only (thread)*--concur-mode=both*"]
    )


def test_thread_left_running_is_a_leak_in_thread_mode_too(pytester: pytest.Pytester) -> None:
    """A thread the body leaves running errors at teardown in thread mode, as in process mode."""
    pytester.makepyfile(
        """
        import threading
        STOP = threading.Event()
        def test_x():
            threading.Thread(target=STOP.wait, args=(0.3,), name="lingering").start()
        """
    )
    result = run(pytester, "--concur-all", "--concur-workers=1")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*thread 'lingering'*, started in the thread workers, was still running when the test "
            "body returned"
        ]
    )


def test_filterwarnings_error_suite_runs_clean(pytester: pytest.Pytester) -> None:
    """A project with filterwarnings = error runs under --concur-all without INTERNALERROR."""
    pytester.makeini("[pytest]\nfilterwarnings =\n    error\n")
    pytester.makepyfile(
        """
        import unittest, warnings, pytest
        def test_warns():
            with pytest.warns(DeprecationWarning):
                warnings.warn("old", DeprecationWarning)
        class TestX(unittest.TestCase):
            def test_x(self):
                pass
        """
    )
    result = run(pytester, "--concur-all", "--concur-mode=both")
    result.assert_outcomes(passed=4)
    assert "INTERNALERROR" not in result.stdout.str()


def test_concur_all_switches_threads_every_microsecond(pytester: pytest.Pytester) -> None:
    """Under --concur-all, thread-mode bodies run with a 1e-6 s switch interval by default."""
    pytester.makepyfile("import sys\ndef test_x():\n    assert sys.getswitchinterval() == 1e-6\n")
    result = run(pytester, "--concur-all", "--concur-mode=thread")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["concur: *| switch interval 1e-06s | GIL *"])


def test_given_switch_interval_wins_over_the_concur_all_default(pytester: pytest.Pytester) -> None:
    """An explicit --concur-switch-interval replaces the --concur-all default."""
    pytester.makepyfile("import sys\ndef test_x():\n    assert sys.getswitchinterval() == 0.005\n")
    result = run(pytester, "--concur-all", "--concur-mode=thread", "--concur-switch-interval=0.005")
    result.assert_outcomes(passed=1)
