"""The isolation report: per-mode outcomes in the terminal, -q, --junitxml, xdist and the API."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

DIFFERS = """
import pytest

def test_shared_list(spawn_workers):
    items = []
    spawn_workers(items.append, 3, args=(1,))
    assert len(items) == 3

def test_agrees(concur_mode):
    pass

@pytest.mark.concur(workers=2, modes="thread")
def test_thread_only():
    pass

def test_plain():
    pass
"""

TITLE = "*= concur: thread vs process (isolation report) =*"


def run_both(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Process workers fork, or start a fork server: never from this test process itself (an
    # inline run's fork server outlives it, holding modules that the next inline run imports
    # again as new objects).
    return pytester.runpytest_subprocess(
        "--concur-mode=both", "--concur-start-method=fork", *args, timeout=120
    )


def section(result: pytest.RunResult) -> list[str]:
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if "concur: thread vs process" in line)
    end = next(i for i in range(start + 1, len(lines)) if lines[i].startswith("="))
    return lines[start:end]


def test_section_lists_differing_test(pytester: pytest.Pytester) -> None:
    """A test whose outcome differs is listed with each mode's outcome and the failure's line."""
    pytester.makepyfile(DIFFERS)
    result = run_both(pytester)
    result.assert_outcomes(passed=5, failed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            TITLE,
            "test_section_lists_differing_test.py::test_shared_list",
            "    thread:  passed",
            "    process: failed: assert 0 == 3",
            "2 tests ran in both modes: 1 agree, 1 differ",
        ]
    )


def test_skipped_by_design_is_not_a_difference(pytester: pytest.Pytester) -> None:
    """A mode left out by the marker's modes is neither listed nor counted."""
    pytester.makepyfile(DIFFERS)
    lines = section(run_both(pytester))
    assert not any("test_thread_only" in line for line in lines)
    assert not any("test_plain" in line for line in lines)


def test_quiet_is_compact(pytester: pytest.Pytester) -> None:
    """With -q each differing test takes one line, at most five, then a count of the rest."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("i", range(7))
        def test_x(i, concur_mode):
            assert concur_mode == "thread"
        """
    )
    result = run_both(pytester, "-q")
    lines = section(result)
    assert lines[1:] == [
        "test_quiet_is_compact.py::test_x[0]: thread passed, process failed",
        "test_quiet_is_compact.py::test_x[1]: thread passed, process failed",
        "test_quiet_is_compact.py::test_x[2]: thread passed, process failed",
        "test_quiet_is_compact.py::test_x[3]: thread passed, process failed",
        "test_quiet_is_compact.py::test_x[4]: thread passed, process failed",
        "... and 2 more (run without -q to list all)",
        "7 tests ran in both modes: 0 agree, 7 differ",
    ]


def test_only_the_mode_id_is_removed(pytester: pytest.Pytester) -> None:
    """The report names tests by their id minus the mode's own id, even when other ids match."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("kind", ["thread", "process"])
        def test_kind(kind, concur_mode):
            assert concur_mode == "thread"

        @pytest.mark.parametrize("a", ["x-a"])
        def test_dash(a, concur_mode):
            assert concur_mode == "thread"
        """
    )
    lines = section(run_both(pytester, "-q"))
    assert lines[1:] == [
        "test_only_the_mode_id_is_removed.py::test_dash[x-a]: thread passed, process failed",
        "test_only_the_mode_id_is_removed.py::test_kind[process]: thread passed, process failed",
        "test_only_the_mode_id_is_removed.py::test_kind[thread]: thread passed, process failed",
        "3 tests ran in both modes: 0 agree, 3 differ",
    ]


def test_marked_failure_line_is_first_workers_error(pytester: pytest.Pytester) -> None:
    """A marked test's line is its first failing worker's own error; a crash's is the crash."""
    pytester.makepyfile(
        """
        import os
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_shares(concur_mode):
            assert concur_mode.shares_memory

        @pytest.mark.concur(workers=2)
        def test_exits(concur_mode):
            if not concur_mode.shares_memory and worker_index() == 1:
                os._exit(3)

        @pytest.mark.concur(workers=2)
        def test_mixed(concur_mode):
            if not concur_mode.shares_memory:
                raise (KeyError if worker_index() else ValueError)("first")
        """
    )
    result = pytester.runpytest_subprocess(
        "--concur-mode=both", "--concur-start-method=fork", timeout=120
    )
    result.stdout.fnmatch_lines(
        [
            "*::test_exits",
            "    thread:  passed",
            "    process: failed: WorkerCrashed: worker 1 of 2 (process[[]fork[]], pid *) *code 3*",
            "*::test_mixed",
            "    thread:  passed",
            "    process: failed: ValueError: first (worker 0 of 2)",
            "*::test_shares",
            "    thread:  passed",
            "    process: failed: AssertionError: assert False (worker 0 of 2)",
        ]
    )


def test_all_agree(pytester: pytest.Pytester) -> None:
    """When every test agrees the section is just the count."""
    pytester.makepyfile("def test_x(concur_mode):\n    pass\n")
    assert section(run_both(pytester))[1:] == ["1 test ran in both modes: 1 agree, 0 differ"]


def test_no_section_with_one_mode(pytester: pytest.Pytester) -> None:
    """Runs in one mode only have no isolation report."""
    pytester.makepyfile(DIFFERS)
    result = pytester.runpytest("--concur-mode=process")
    assert "thread vs process" not in result.stdout.str()


def test_outcome_categories(pytester: pytest.Pytester) -> None:
    """Errors, skips and xfails are named as pytest names them, per mode."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def broken(concur_mode):
            if concur_mode == "process":
                raise RuntimeError("no process today")

        def test_error(broken):
            pass

        def test_skip(concur_mode):
            if concur_mode == "thread":
                pytest.skip("threads resting")

        def test_xfail(concur_mode):
            if concur_mode == "process":
                pytest.xfail("known")
        """
    )
    result = run_both(pytester)
    result.stdout.fnmatch_lines(
        [
            "test_outcome_categories.py::test_error",
            "    thread:  passed",
            "    process: error: RuntimeError: no process today",
            "test_outcome_categories.py::test_skip",
            "    thread:  skipped: threads resting",
            "    process: passed",
            "test_outcome_categories.py::test_xfail",
            "    thread:  passed",
            "    process: xfailed: known",
            "3 tests ran in both modes: 0 agree, 3 differ",
        ]
    )


def test_junitxml_properties(pytester: pytest.Pytester) -> None:
    """--junitxml gets each concurrency item's mode, test id and outcome as properties."""
    pytester.makepyfile(DIFFERS)
    run_both(pytester, "--junitxml=out.xml")
    root = ET.parse(pytester.path / "out.xml").getroot()
    props = {
        case.get("name"): {p.get("name"): p.get("value") for p in case.iter("property")}
        for case in root.iter("testcase")
    }
    assert props["test_shared_list[process]"] == {
        "concur_mode": "process",
        "concur_test": "test_junitxml_properties.py::test_shared_list",
        "concur_outcome": "failed",
        "concur_failure": "assert 0 == 3",
    }
    assert props["test_shared_list[thread]"]["concur_outcome"] == "passed"
    assert props["test_thread_only[process]"]["concur_skipped_by_design"] == "true"
    assert props["test_plain"] == {}


def test_xdist_gives_same_report(pytester: pytest.Pytester) -> None:
    """With pytest-xdist -n 2 the outcomes and the isolation report are the same."""
    pytester.makepyfile(DIFFERS)
    pytester.makepyfile(
        test_more="""
        import pytest

        @pytest.mark.concur(workers=2)
        def test_global(concur_mode):
            assert concur_mode == "process"
        """
    )
    # forkserver: forking in xdist's multi-threaded workers warns on 3.12+ (see the header note).
    plain = run_both(pytester, "--concur-start-method=forkserver")
    distributed = run_both(pytester, "--concur-start-method=forkserver", "-n", "2")
    assert distributed.parseoutcomes() == plain.parseoutcomes()
    assert section(distributed) == section(plain)
    assert "2 differ" in section(plain)[-1]


def test_results_api_for_other_plugins(pytester: pytest.Pytester) -> None:
    """pytest_concur.isolation_results gives other plugins the per-mode outcomes."""
    pytester.makeconftest(
        """
        import pytest
        import pytest_concur

        @pytest.hookimpl(trylast=True)
        def pytest_terminal_summary(terminalreporter, config):
            results = pytest_concur.isolation_results(config)
            for test, modes in sorted(results.items()):
                outcomes = sorted((k, v.outcome, v.by_design) for k, v in modes.items())
                terminalreporter.write_line(f"API {test} {outcomes}")
        """
    )
    pytester.makepyfile(DIFFERS)
    result = run_both(pytester, "-n", "2")
    result.stdout.fnmatch_lines(
        [
            "API test_results_api_for_other_plugins.py::test_agrees "
            "[('process', 'passed', False), ('thread', 'passed', False)]",
            "API test_results_api_for_other_plugins.py::test_shared_list "
            "[('process', 'failed', False), ('thread', 'passed', False)]",
            "API test_results_api_for_other_plugins.py::test_thread_only "
            "[('process', 'skipped', True), ('thread', 'passed', False)]",
        ]
    )
