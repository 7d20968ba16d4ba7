"""pytest_concur with the ecosystem: loading forms, import modes, -W error, --lf, -x, timeouts."""

from __future__ import annotations

import pytest

MARKED = """
import pytest

def helper():
    return 41

@pytest.mark.concur(workers=2)
def test_marked(concur_mode):
    assert helper() + 1 == 42

def test_plain():
    pass
"""


@pytest.fixture
def no_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def test_disabled_with_p_no_concur(pytester: pytest.Pytester) -> None:
    """-p no:concur removes the options and fixtures; plain tests run as usual."""
    pytester.makepyfile("def test_plain():\n    pass\n")
    pytester.runpytest("-p", "no:concur").assert_outcomes(passed=1)
    result = pytester.runpytest("-p", "no:concur", "--concur-mode=both")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    pytester.makepyfile(test_fixture="def test_x(concur_mode):\n    pass\n")
    result = pytester.runpytest("-p", "no:concur", "test_fixture.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'concur_mode' not found*"])


def test_autoload_loads_entry_point(pytester: pytest.Pytester) -> None:
    """Installed, the plugin loads by its entry point with nothing to configure."""
    pytester.makepyfile(MARKED)
    pytester.runpytest("--concur-mode=both").assert_outcomes(passed=3)


def test_p_entry_point_name_with_autoload(pytester: pytest.Pytester) -> None:
    """-p concur is harmless when autoload already loaded the plugin."""
    pytester.makepyfile(MARKED)
    pytester.runpytest("-p", "concur", "--concur-mode=both").assert_outcomes(passed=3)


@pytest.mark.usefixtures("no_autoload")
def test_p_entry_point_name_without_autoload(pytester: pytest.Pytester) -> None:
    """With autoload disabled, -p concur loads the plugin by its entry point name."""
    pytester.makepyfile(MARKED)
    pytester.runpytest_subprocess("-p", "concur", "--concur-mode=both").assert_outcomes(passed=3)


@pytest.mark.usefixtures("no_autoload")
def test_p_module_without_autoload(pytester: pytest.Pytester) -> None:
    """With autoload disabled, -p pytest_concur.plugin loads the plugin."""
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_subprocess("-p", "pytest_concur.plugin", "--concur-mode=both")
    result.assert_outcomes(passed=3)


@pytest.mark.usefixtures("no_autoload")
def test_conftest_pytest_plugins_without_autoload(pytester: pytest.Pytester) -> None:
    """With autoload disabled, pytest_plugins = ["pytest_concur.plugin"] in conftest.py works."""
    pytester.makeconftest('pytest_plugins = ["pytest_concur.plugin"]\n')
    pytester.makepyfile(MARKED)
    pytester.runpytest_subprocess("--concur-mode=both").assert_outcomes(passed=3)


@pytest.mark.usefixtures("no_autoload")
def test_nothing_loads_without_autoload(pytester: pytest.Pytester) -> None:
    """With autoload disabled and no -p, the plugin is not loaded (the fixture is unknown)."""
    pytester.makepyfile("def test_x(concur_mode):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)


def test_module_name_with_autoload_is_refused_by_pytest(pytester: pytest.Pytester) -> None:
    """With autoload on, naming the module makes pytest refuse a second registration."""
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_subprocess("-p", "pytest_concur.plugin")
    assert result.ret != 0
    assert "Plugin already registered under a different name" in result.stderr.str()


@pytest.mark.parametrize("method", ["fork", "forkserver", "spawn"])
def test_importlib_import_mode(pytester: pytest.Pytester, method: str) -> None:
    """--import-mode=importlib works for marker tests in every start method, with rewriting."""
    pytester.makepyfile(
        MARKED
        + """
@pytest.mark.concur(workers=2)
def test_fails():
    assert helper() == 40
"""
    )
    result = pytester.runpytest_subprocess(
        "--import-mode=importlib", "--concur-mode=both", f"--concur-start-method={method}"
    )
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(["*AssertionError: assert 41 == 40", "*+  where 41 = helper()"])


def test_warnings_as_errors(pytester: pytest.Pytester) -> None:
    """-W error: the plugin itself raises no warning in either mode."""
    pytester.makepyfile(
        MARKED
        + """
def test_fixtures(spawn_workers, shared_counter):
    spawn_workers(shared_counter.increment, 2)
    assert shared_counter.value == 2
"""
    )
    result = pytester.runpytest_subprocess("-W", "error", "--concur-mode=both")
    result.assert_outcomes(passed=5, warnings=0)


def test_last_failed_reruns_only_failed_mode(pytester: pytest.Pytester) -> None:
    """--lf reruns only the mode that failed."""
    pytester.makepyfile("def test_x(concur_mode):\n    assert concur_mode == 'thread'\n")
    pytester.runpytest("--concur-mode=both", "-p", "cacheprovider").assert_outcomes(
        passed=1, failed=1
    )
    result = pytester.runpytest("--concur-mode=both", "--lf", "-p", "cacheprovider", "-v")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*test_x[[]process[]] FAILED*"])
    assert "test_x[thread]" not in result.stdout.str()


def test_exitfirst_stops(pytester: pytest.Pytester) -> None:
    """-x stops after the first failing mode."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n    assert False\n"
        "def test_y(concur_mode):\n    pass\n"
    )
    run = pytester.runpytest("--concur-mode=both", "-x")
    run.assert_outcomes(failed=1)


@pytest.mark.parametrize("mode", ["thread", "process"])
def test_pytest_timeout_interrupts_hung_workers(pytester: pytest.Pytester, mode: str) -> None:
    """pytest-timeout's --timeout fails a hung marked test once; the session goes on."""
    pytester.makepyfile(
        """
        import time
        import pytest

        @pytest.mark.concur(workers=2)
        def test_hang():
            time.sleep(60)

        def test_next(concur_mode):
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        f"--concur-mode={mode}", "--concur-timeout=0", "--timeout=2", timeout=120
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["*Timeout (>2.0s)*"])
    assert "left work running" not in result.stdout.str()
