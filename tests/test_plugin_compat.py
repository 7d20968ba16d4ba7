"""pytest_concur with the ecosystem: loading forms, import modes, -W error, --lf, -x, timeouts."""

from __future__ import annotations

from pathlib import Path

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


CONCUR_OFF_CONFTEST = (
    Path(__file__).parent.parent / "docs" / "howto" / "examples" / "conftest_concur_off.py"
).read_text()

STRICT_PROJECT = """
[pytest]
addopts = --strict-markers --strict-config
concur_mode = both
"""


def test_p_no_concur_with_strict_markers_needs_own_marker_line(pytester: pytest.Pytester) -> None:
    """-p no:concur --strict-markers: a marked test needs the project's own concur marker line."""
    # In a subprocess: in-process runs share pytest.mark's cache of known markers with this one.
    pytester.makepyfile(MARKED.replace("(concur_mode)", "()"))
    result = pytester.runpytest_subprocess("-p", "no:concur", "--strict-markers")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*'concur' not found in `markers` configuration option*"])
    pytester.makeini("[pytest]\nmarkers =\n    concur: run the test body in workers\n")
    pytester.runpytest_subprocess("-p", "no:concur", "--strict-markers").assert_outcomes(passed=2)
    # With the plugin on, the project's line and the plugin's own live side by side.
    pytester.runpytest_subprocess("--strict-markers", "--concur-mode=both").assert_outcomes(
        passed=3
    )


def test_p_no_concur_with_strict_config_and_ini_keys(pytester: pytest.Pytester) -> None:
    """-p no:concur --strict-config with concur ini keys works with the documented conftest."""
    pytester.makeini(STRICT_PROJECT + "markers =\n    concur: run the test body in workers\n")
    pytester.makepyfile(MARKED.replace("(concur_mode)", "()"))
    result = pytester.runpytest_subprocess("-p", "no:concur")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*Unknown config option: concur_mode*"])
    pytester.makeconftest(CONCUR_OFF_CONFTEST)
    pytester.runpytest_subprocess("-p", "no:concur", "-W", "error").assert_outcomes(passed=2)
    # With the plugin on, the conftest leaves its keys alone: concur_mode = both still applies.
    result = pytester.runpytest_subprocess("-W", "error")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["concur: modes thread, process | *"])


LOADING_FORMS = [
    (autoload, form)
    for autoload in ("autoload-on", "autoload-off")
    for form in ("entry-point", "p-concur", "p-module", "conftest-pytest-plugins")
    # With autoload off, nothing loads the plugin: see test_nothing_loads_without_autoload.
    if (autoload, form) != ("autoload-off", "entry-point")
]


@pytest.mark.parametrize(
    ("autoload", "form"), LOADING_FORMS, ids=["-".join(f) for f in LOADING_FORMS]
)
def test_loading_forms(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, autoload: str, form: str
) -> None:
    """Every documented loading form works with autoload on and off, registering the plugin once."""
    if autoload == "autoload-off":
        monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    else:
        monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    args = {
        "p-concur": ["-p", "concur"],
        "p-module": ["-p", "pytest_concur.plugin"],
    }.get(form, [])
    if form == "conftest-pytest-plugins":
        pytester.makeconftest('pytest_plugins = ["pytest_concur.plugin"]\n')
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_subprocess(*args, "--concur-mode=both", timeout=120)
    result.assert_outcomes(passed=3)
    assert "already registered" not in result.stderr.str()


def test_p_no_concur_wins_over_autoload(pytester: pytest.Pytester) -> None:
    """-p no:concur keeps the plugin out although the entry point would load it."""
    pytester.makepyfile("def test_x(concur_mode):\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:concur", timeout=120)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'concur_mode' not found*"])


@pytest.mark.usefixtures("no_autoload")
def test_nothing_loads_without_autoload(pytester: pytest.Pytester) -> None:
    """With autoload disabled and no -p, the plugin is not loaded (the fixture is unknown)."""
    pytester.makepyfile("def test_x(concur_mode):\n    pass\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(errors=1)


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
