"""The engine inside pytest: test modules that children cannot import by name."""

from __future__ import annotations

import pytest

import concur_lab

SPAWNING = [m for m in concur_lab.available_start_methods() if m != "fork"]

TEST_MODULE = """
import concur_lab

COUNTER = 0

def helper(x):
    return x + 1

def bump():
    global COUNTER
    COUNTER += 1
    return COUNTER

def check(x):
    assert x == 5, "extra message"

def test_module_level_helper():
    assert concur_lab.run_workers(helper, 2, mode="process:{method}", args=(1,)) == [2, 2]

def test_nested_function_and_lambda():
    k = 3
    def nested():
        return k * 2
    assert concur_lab.run_workers(nested, 1, mode="process:{method}") == [6]
    assert concur_lab.run_workers(lambda: k, 1, mode="process:{method}") == [3]

def test_child_sees_import_time_globals():
    global COUNTER
    COUNTER = 100
    assert concur_lab.run_workers(bump, 2, mode="process:{method}") == [1, 1]

def compare_lists(a, b):
    assert a == b

def test_comparison_is_explained():
    try:
        concur_lab.run_workers(
            compare_lists, 1, mode="process:{method}", args=([1, 2, 3], [1, 2, 4])
        )
    except AssertionError as exc:
        assert "At index 2 diff: 3 != 4" in str(exc), str(exc)
    else:
        raise AssertionError("no failure")

def test_assertion_detail_survives():
    try:
        concur_lab.run_workers(check, 1, mode="process:{method}", args=(2,))
    except AssertionError as exc:
        assert "assert 2 == 5" in str(exc), str(exc)
    else:
        raise AssertionError("no failure")
"""


@pytest.mark.parametrize("method", SPAWNING)
@pytest.mark.parametrize("import_mode", ["importlib", "prepend"])
def test_test_module_callables_reach_children(
    pytester: pytest.Pytester, method: str, import_mode: str
) -> None:
    """Helpers, nested functions, rewritten asserts and diffs reach children in any import mode."""
    pkg = pytester.mkpydir("suite")
    (pkg / "test_ship.py").write_text(TEST_MODULE.replace("{method}", method))
    result = pytester.runpytest_subprocess(f"--import-mode={import_mode}", "-p", "no:concur")
    result.assert_outcomes(passed=5)


LEAN_MODULE = """
import sys

import concur_lab

def passing_asserts():
    assert 1 + 1 == 2
    assert [1, 2] == [1, 2], "equal lists"
    return sorted(name for name in ("pytest", "_pytest") if name in sys.modules)

def failing_comparison():
    assert [1, 2, 3] == [1, 2, 4]

def test_passing_asserts_import_no_pytest():
    assert concur_lab.run_workers(passing_asserts, 1, mode="process:spawn") == [[]]

def test_a_failed_comparison_still_explains():
    try:
        concur_lab.run_workers(failing_comparison, 1, mode="process:spawn")
    except AssertionError as exc:
        assert "At index 2 diff: 3 != 4" in str(exc), str(exc)
    else:
        raise AssertionError("no failure")
"""


@pytest.mark.skipif("spawn" not in SPAWNING, reason="needs the spawn start method")
@pytest.mark.parametrize("plugin", ["concur", "no:concur"])
def test_rewritten_asserts_import_pytest_only_when_they_fail(
    pytester: pytest.Pytester, plugin: str
) -> None:
    """A spawn child runs a rewritten module without pytest until an assert fails."""
    pytester.makepyfile(test_lean=LEAN_MODULE)
    result = pytester.runpytest_subprocess("-p", plugin)
    result.assert_outcomes(passed=2)
