"""Which tests are concurrency tests, their mode ids, and the concur_mode fixture."""

from __future__ import annotations

import pytest

from pytest_concur._engine import default_start_method


def collected_ids(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q", *args)
    return [line for line in result.outlines if "::" in line]


def test_plain_test_is_untouched(pytester: pytest.Pytester) -> None:
    """A test without the marker or concur fixtures keeps its id and runs once."""
    pytester.makepyfile("def test_plain(tmp_path):\n    pass\n")
    assert collected_ids(pytester, "--concur-mode=both") == [
        "test_plain_test_is_untouched.py::test_plain"
    ]


def test_default_mode_is_thread(pytester: pytest.Pytester) -> None:
    """Without --concur-mode a concurrency test runs once, in thread mode."""
    pytester.makepyfile("def test_x(concur_mode):\n    assert concur_mode == 'thread'\n")
    assert collected_ids(pytester) == ["test_default_mode_is_thread.py::test_x[thread]"]
    pytester.runpytest().assert_outcomes(passed=1)


def test_both_modes_make_two_items(pytester: pytest.Pytester) -> None:
    """--concur-mode=both makes a thread item and a process item."""
    pytester.makepyfile("def test_x(concur_mode):\n    pass\n")
    assert collected_ids(pytester, "--concur-mode=both") == [
        "test_both_modes_make_two_items.py::test_x[thread]",
        "test_both_modes_make_two_items.py::test_x[process]",
    ]


def test_process_mode_id_is_stable(pytester: pytest.Pytester) -> None:
    """--concur-mode=process gives the same process id as both modes do."""
    pytester.makepyfile("def test_x(concur_mode):\n    assert concur_mode == 'process'\n")
    assert collected_ids(pytester, "--concur-mode=process") == [
        "test_process_mode_id_is_stable.py::test_x[process]"
    ]


def test_k_selects_mode(pytester: pytest.Pytester) -> None:
    """-k process selects only the process items."""
    pytester.makepyfile("def test_x(concur_mode):\n    assert concur_mode == 'process'\n")
    result = pytester.runpytest("--concur-mode=both", "-k", "process")
    result.assert_outcomes(passed=1, deselected=1)


def test_fixture_through_other_fixture(pytester: pytest.Pytester) -> None:
    """A test requesting concur_mode through another fixture is a concurrency test."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.fixture
        def mine(concur_mode):
            return str(concur_mode)

        def test_x(mine):
            assert mine in ("thread", "process")
        """
    )
    assert collected_ids(pytester, "--concur-mode=both") == [
        "test_fixture_through_other_fixture.py::test_x[thread]",
        "test_fixture_through_other_fixture.py::test_x[process]",
    ]


def test_marker_alone_parametrizes(pytester: pytest.Pytester) -> None:
    """A marked test that requests no concur fixture is still parametrized."""
    pytester.makepyfile("import pytest\n@pytest.mark.concur\ndef test_x():\n    pass\n")
    assert collected_ids(pytester, "--concur-mode=both") == [
        "test_marker_alone_parametrizes.py::test_x[thread]",
        "test_marker_alone_parametrizes.py::test_x[process]",
    ]


def test_module_marker_applies(pytester: pytest.Pytester) -> None:
    """A module-level pytestmark concur marker makes every test a concurrency test."""
    pytester.makepyfile(
        "import pytest\npytestmark = pytest.mark.concur(workers=2)\n"
        "def test_a():\n    pass\ndef test_b():\n    pass\n"
    )
    assert len(collected_ids(pytester, "--concur-mode=both")) == 4


def test_other_parametrization_is_kept(pytester: pytest.Pytester) -> None:
    """User parametrization combines with the mode ids."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("x", [1, 2])
        def test_x(x, concur_mode):
            pass
        """
    )
    ids = collected_ids(pytester, "--concur-mode=both")
    assert len(ids) == 4
    assert sum("thread" in i for i in ids) == 2


def test_user_parametrized_mode_is_respected(pytester: pytest.Pytester) -> None:
    """A test that parametrizes concur_mode itself is not parametrized again."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("concur_mode", ["process"])
        def test_x(concur_mode):
            assert concur_mode == "process"
        """
    )
    assert collected_ids(pytester, "--concur-mode=both") == [
        "test_user_parametrized_mode_is_respected.py::test_x[process]"
    ]
    pytester.runpytest("--concur-mode=both").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("parametrize", "argnames"),
    [
        ('("concur_mode", ["thread", "mine"])', "concur_mode"),
        ('("n, concur_mode", [(1, "thread"), pytest.param(2, "mine")])', "n, concur_mode"),
    ],
    ids=["alone", "with-other-names"],
)
def test_user_parametrized_unknown_mode_is_an_error(
    pytester: pytest.Pytester, parametrize: str, argnames: str
) -> None:
    """A value of concur_mode that is not a mode is a collection error naming it and the test."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.parametrize{parametrize}
        def test_x({argnames}):
            pass
        """
    )
    result = pytester.runpytest("--concur-mode=both")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            "invalid concur mode 'mine' from parametrize of concur_mode on test_x: "
            "expected 'thread' or 'process'"
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_unsupported_mode_is_skipped_with_reason(pytester: pytest.Pytester) -> None:
    """An item in a mode its marker's modes leave out is skipped, naming the way to run it."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(modes=['process'])\ndef test_x():\n    pass\n"
    )
    result = pytester.runpytest("--concur-mode=both", "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]1[]] *: concur: supports process mode only (its marker's modes); "
            "run it with --concur-mode=process"
        ]
    )


def test_unsupported_mode_is_skipped_when_only_mode(pytester: pytest.Pytester) -> None:
    """With the default thread mode a process-only test still gets an item, skipped."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(modes='process')\ndef test_x():\n    pass\n"
    )
    pytester.runpytest().assert_outcomes(skipped=1)


def test_concur_mode_thread_value(pytester: pytest.Pytester) -> None:
    """In thread mode the fixture equals 'thread', shares memory and has no start method."""
    pytester.makepyfile(
        """
        def test_x(concur_mode):
            assert concur_mode == "thread"
            assert str(concur_mode) == "thread"
            assert concur_mode.shares_memory
            assert concur_mode.start_method is None
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_concur_mode_process_value(pytester: pytest.Pytester) -> None:
    """In process mode the fixture equals 'process' and carries the chosen start method."""
    pytester.makepyfile(
        """
        def test_x(concur_mode):
            assert concur_mode == "process"
            assert not concur_mode.shares_memory
            assert concur_mode.start_method == "spawn"
        """
    )
    result = pytester.runpytest("--concur-mode=process", "--concur-start-method=spawn")
    result.assert_outcomes(passed=1)


def test_concur_mode_default_start_method(pytester: pytest.Pytester) -> None:
    """Process mode defaults to the standard library's start method."""
    pytester.makepyfile(
        f"def test_x(concur_mode):\n    assert concur_mode.start_method == "
        f"{default_start_method()!r}\n"
    )
    pytester.runpytest("--concur-mode=process").assert_outcomes(passed=1)


def test_concur_mode_marker_start_method(pytester: pytest.Pytester) -> None:
    """The marker's start_method wins over --concur-start-method in the fixture."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.concur(start_method="forkserver", workers=1)
        def test_x(concur_mode):
            assert concur_mode.start_method == "forkserver"
        """
    )
    # In a subprocess: a fork server first started inside an in-process run pickles the engine's
    # child entry point, which that run's sys.modules snapshot then removes (a PicklingError when
    # this file runs alone).
    pytester.runpytest_subprocess(
        "--concur-mode=process", "--concur-start-method=spawn"
    ).assert_outcomes(passed=1)


def test_fixtures_are_documented(pytester: pytest.Pytester) -> None:
    """pytest --fixtures shows concur_mode with its docstring."""
    result = pytester.runpytest("--fixtures")
    result.stdout.fnmatch_lines(["concur_mode*", "*Return the mode this test runs in*"])


def test_marker_on_unittest_method_runs_it_in_workers(pytester: pytest.Pytester) -> None:
    """The marker on a unittest.TestCase method runs the method in its workers, per mode."""
    pytester.makepyfile(
        """
        import threading
        import unittest
        import pytest

        SEEN = set()

        class TestCase(unittest.TestCase):
            @pytest.mark.concur(workers=3, modes="thread")
            def test_x(self):
                SEEN.add(threading.get_ident())

            def test_y_after(self):
                assert len(SEEN) == 3
        """
    )
    result = pytester.runpytest("-v", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*TestCase::test_x[[]thread[]] PASSED*"])


def test_concur_mode_via_getfixturevalue(pytester: pytest.Pytester) -> None:
    """Requested dynamically (not parametrizable), concur_mode is the first selected mode."""
    pytester.makepyfile(
        """
        def test_x(request):
            mode = request.getfixturevalue("concur_mode")
            assert mode == "process" and mode.start_method == "spawn"
        """
    )
    result = pytester.runpytest("--concur-mode=process", "--concur-start-method=spawn")
    result.assert_outcomes(passed=1)


def test_collection_keeps_no_parsed_source(pytester: pytest.Pytester) -> None:
    """The unsafe-call scan's syntax trees are dropped once collection has decided."""
    from pytest_concur import _unsafe

    pytester.makepyfile(
        """
        import os

        class TestX:
            def test_x(self):
                assert os.sep
        """
    )
    result = pytester.runpytest_inprocess("--concur-all", "--collect-only", "-q")
    assert result.ret == 0
    assert _unsafe._parse.cache_info().currsize == 0
