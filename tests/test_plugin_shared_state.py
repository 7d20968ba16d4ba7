"""Shared state a thread-mode run leaves changed is put back and reported (--concur-all)."""

from __future__ import annotations

import json

import pytest

# Four thread workers swap ``helper.value`` the way click's CliRunner swaps module attributes:
# save, replace, restore. Worker 0 goes first; the others save *its* replacement and restore
# after worker 0 did, which leaves worker 0's value behind, every time.
SWAPPER = """
import threading
import helper

_gate = threading.Barrier(4)

def swap(index, name):
    if index == 0:
        saved = getattr(helper, name)
        setattr(helper, name, "worker 0")
    _gate.wait()
    if index != 0:
        saved = getattr(helper, name)
    _gate.wait()
    if index != 0:
        setattr(helper, name, f"worker {index}")
    _gate.wait()
    if index == 0:
        setattr(helper, name, saved)
    _gate.wait()
    if index != 0:
        setattr(helper, name, saved)

def test_swaps(concur_worker_index, concur_mode):
    # Process workers have a barrier each and a copy of the module: nothing to show there.
    if concur_mode == "thread":
        swap(concur_worker_index, "value")

def test_after():
    assert helper.value == "original"
"""


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.syspathinsert()
    pytester.makepyfile(helper="value = 'original'\n", test_swap=SWAPPER)
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p", "no:run-parallel", "--concur-all", "--concur-workers=4", *args, timeout=120
    )


def test_later_tests_see_the_original_value(suite: pytest.Pytester) -> None:
    """A module attribute left swapped by thread workers is put back before the next test."""
    result = run(suite, "--concur-mode=both")
    result.assert_outcomes(passed=4)


def test_without_the_restore_the_swap_would_leak(suite: pytest.Pytester) -> None:
    """The swapper really does leave the wrong value behind when nothing puts it back."""
    suite.makepyfile(
        test_direct="""
        import threading
        import helper
        from test_swap import swap

        def test_threads_by_hand():
            threads = [threading.Thread(target=swap, args=(i, "value")) for i in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert helper.value == "worker 0"
        """
    )
    result = suite.runpytest_subprocess("-p", "no:run-parallel", "test_direct.py")
    result.assert_outcomes(passed=1)


def test_the_report_names_what_was_put_back(suite: pytest.Pytester) -> None:
    """The suite report lists the test and the dotted name it left changed."""
    result = run(suite, "--concur-mode=thread")
    result.stdout.fnmatch_lines(
        [
            "*1 left shared state changed when run concurrently; it was put back*",
            "*test_swap.py::test_swaps[[]thread[]]: helper.value",
        ]
    )


def test_the_quiet_report_counts_it(suite: pytest.Pytester) -> None:
    """With -q the mode's line counts the tests that left shared state changed."""
    result = run(suite, "--concur-mode=thread", "-q")
    result.stdout.fnmatch_lines(["thread mode: *1 left shared state changed (put back)*"])


def test_json_report_has_the_names(suite: pytest.Pytester) -> None:
    """--concur-report carries the names per test and the count per mode."""
    run(suite, "--concur-mode=thread", "--concur-report=report.json")
    data = json.loads((suite.path / "report.json").read_text())
    assert data["tests"]["test_swap.py::test_swaps"]["thread"]["restored"] == ["helper.value"]
    assert data["summary"]["thread"]["state_restored"] == 1


def test_standard_streams_are_put_back(pytester: pytest.Pytester) -> None:
    """sys.stdout replaced by one worker and never restored is back for the next test."""
    pytester.makepyfile(
        """
        import io
        import sys

        def test_replaces(concur_worker_index):
            if concur_worker_index == 0:
                # Through setattr: a plain assignment would be detected, and run once.
                setattr(sys, "stdout", io.StringIO())

        def test_after():
            assert not isinstance(sys.stdout, io.StringIO)
        """
    )
    result = run(pytester, "--concur-mode=thread", "-rA")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_replaces[[]thread[]]: sys.stdout"])


def test_environment_is_put_back(pytester: pytest.Pytester) -> None:
    """A variable a thread-mode body added to os.environ is removed again."""
    pytester.makepyfile(
        """
        import os

        def set_it():
            # Reached by name, so that detection does not see it and run the body once.
            environment = getattr(os, "environ")
            environment["CONCUR_STATE_TEST"] = "1"

        def test_sets(concur_worker_index):
            set_it()

        def test_after():
            assert "CONCUR_STATE_TEST" not in os.environ
        """
    )
    result = run(pytester, "--concur-mode=thread")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_sets[[]thread[]]: os.environ[[]'CONCUR_STATE_TEST'[]]"])


def test_names_added_during_the_run_are_kept(pytester: pytest.Pytester) -> None:
    """A module global created on first use (a cache) is not a change to put back."""
    pytester.syspathinsert()
    pytester.makepyfile(
        lazy="def get():\n    global CACHE\n    CACHE = globals().get('CACHE') or object()\n",
        test_lazy="""
        import lazy

        def test_fills():
            lazy.get()

        def test_after():
            assert hasattr(lazy, "CACHE")
        """,
    )
    result = run(pytester, "--concur-mode=thread")
    result.assert_outcomes(passed=2)
    result.stdout.no_fnmatch_line("*left shared state changed*")


def test_a_thread_failure_names_the_replaced_state_as_its_cause(suite: pytest.Pytester) -> None:
    """The isolation report's why-line for such a test names the state the threads replaced."""
    suite.makepyfile(
        test_swap=SWAPPER.replace(
            "    setattr(helper, name, saved)\n",
            "    setattr(helper, name, saved)\n    _gate.wait()\n"
            '    assert getattr(helper, name) == "original"\n',
        )
    )
    result = run(suite, "--concur-mode=both")
    result.stdout.fnmatch_lines(
        [
            "*why:*failed only in thread mode: the workers replaced shared state at the same time"
            " (helper.value)*"
        ]
    )


def test_the_test_modules_own_globals_are_put_back(pytester: pytest.Pytester) -> None:
    """A global of the running test's own module left rebound by the workers is put back."""
    pytester.makepyfile(
        test_own="""
        MODE = "original"

        def test_rebinds(concur_worker_index):
            global MODE
            MODE = f"worker {concur_worker_index}"

        def test_after():
            assert MODE == "original"
        """
    )
    result = run(pytester, "--concur-mode=thread")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_rebinds[[]thread[]]: test_own.MODE"])


def test_other_test_modules_are_not_watched(pytester: pytest.Pytester) -> None:
    """Another collected test module's globals are left out of a test's snapshot."""
    pytester.syspathinsert()
    pytester.makepyfile(
        test_other="FLAG = 'original'\n\ndef test_nothing():\n    pass\n",
        test_writer="""
        import test_other

        def test_rebinds_the_other(concur_worker_index):
            test_other.FLAG = "changed"

        def test_after():
            assert test_other.FLAG == "changed"
        """,
    )
    result = run(pytester, "--concur-mode=thread")
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*left shared state changed*")
