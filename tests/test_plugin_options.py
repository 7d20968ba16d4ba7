"""Options, ini keys, precedence, validation messages and the report header of pytest_concur."""

from __future__ import annotations

import sys
import threading

import pytest

from pytest_concur import _options, _values
from pytest_concur._engine import default_start_method
from pytest_concur._report import header_lines

HEADER_TEST = "def test_nothing():\n    pass\n"


def header(pytester: pytest.Pytester, *args: str) -> str:
    pytester.makepyfile(HEADER_TEST)
    result = pytester.runpytest(*args)
    result.assert_outcomes(passed=1)
    lines = [line for line in result.outlines if line.startswith("concur: ")]
    assert len(lines) == 1, result.outlines
    return lines[0]


def test_help_lists_options_and_ini_keys(pytester: pytest.Pytester) -> None:
    """--help shows the four options in the concur group and the four ini keys."""
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*thread and process concurrency tests (pytest-concur):",
            "*--concur-mode=MODE*Modes to run concurrency tests in*",
            "*--concur-workers=N*",
            "*--concur-start-method=METHOD*",
            "*--concur-timeout=SECONDS*",
        ]
    )
    for key in ("concur_mode", "concur_workers", "concur_start_method", "concur_timeout"):
        result.stdout.fnmatch_lines([f"  {key} (*string)*"])


def test_header_shows_defaults(pytester: pytest.Pytester) -> None:
    """Without options the header shows thread mode, 4 workers, 60 s and the stdlib start method."""
    line = header(pytester)
    assert line.startswith(
        f"concur: modes thread | start method {default_start_method()} | workers 4 | timeout 60s"
    )
    assert line.endswith(("GIL enabled", "GIL disabled"))


def test_header_shows_command_line_values(pytester: pytest.Pytester) -> None:
    """Command-line values appear in the header."""
    line = header(
        pytester,
        "--concur-mode=both",
        "--concur-workers=3",
        "--concur-start-method=spawn",
        "--concur-timeout=2.5",
    )
    assert line.startswith(
        "concur: modes thread, process | start method spawn | workers 3 | timeout 2.5s"
    )


def test_ini_values_are_used(pytester: pytest.Pytester) -> None:
    """Ini keys set every value when the command line does not."""
    pytester.makeini(
        "[pytest]\nconcur_mode = process\nconcur_workers = 7\n"
        "concur_start_method = forkserver\nconcur_timeout = 9\n"
    )
    line = header(pytester)
    assert "modes process | start method forkserver | workers 7 | timeout 9s" in line


@pytest.mark.skipif(
    pytest.version_tuple[:2] < (9, 2), reason="ini keys accept TOML numbers from pytest 9.2"
)
def test_native_toml_numbers(pytester: pytest.Pytester) -> None:
    """A native [tool.pytest] table may give workers and timeout as TOML numbers."""
    pytester.makepyprojecttoml("[tool.pytest]\nconcur_workers = 3\nconcur_timeout = 2.5\n")
    assert "workers 3 | timeout 2.5s" in header(pytester)


def test_native_toml_bad_number_names_source(pytester: pytest.Pytester) -> None:
    """A bad TOML number is reported with its ini key, like any other ini value."""
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nconcur_workers = 0\n")
    pytester.makepyfile(HEADER_TEST)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: invalid concur workers * from ini concur_workers: *"])


def test_command_line_overrides_ini(pytester: pytest.Pytester) -> None:
    """The command line wins over the ini file."""
    pytester.makeini("[pytest]\nconcur_mode = process\nconcur_workers = 7\n")
    line = header(pytester, "--concur-mode=thread", "--concur-workers=2")
    assert "modes thread | " in line
    assert "workers 2 |" in line


def test_timeout_zero_disables(pytester: pytest.Pytester) -> None:
    """--concur-timeout=0 means no timeout."""
    assert "timeout none" in header(pytester, "--concur-timeout=0")


@pytest.mark.parametrize(
    ("args", "ini", "message"),
    [
        (
            ["--concur-mode=threads"],
            "",
            "invalid concur mode 'threads' from command line --concur-mode: "
            "expected thread, process or both",
        ),
        (
            [],
            "concur_mode = sideways",
            "invalid concur mode 'sideways' from ini concur_mode*",
        ),
        (
            ["--concur-workers=0"],
            "",
            "invalid concur workers '0' from command line --concur-workers: "
            "expected an integer of at least 1 or auto",
        ),
        (
            [],
            "concur_workers = many",
            "invalid concur workers 'many' from ini concur_workers*",
        ),
        (
            ["--concur-timeout=-1"],
            "",
            "invalid concur timeout '-1' from command line --concur-timeout: expected a number "
            "of seconds of at least 0 (0 disables the timeout)",
        ),
        ([], "concur_timeout = nan", "invalid concur timeout *nan* from ini concur_timeout*"),
        (
            ["--concur-timeout=1e10"],
            "",
            "invalid concur timeout '1e10' from command line --concur-timeout: expected at most "
            "* seconds, the longest wait this platform supports (0 disables the timeout)",
        ),
        (
            [],
            "concur_timeout = 1e12",
            "invalid concur timeout * from ini concur_timeout: expected at most *",
        ),
        (
            ["--concur-start-method=fast"],
            "",
            "invalid concur start method 'fast' from command line --concur-start-method: "
            "it is not a start method; choose one of *",
        ),
        (
            [],
            "concur_start_method = threads",
            "invalid concur start method 'threads' from ini concur_start_method*",
        ),
    ],
    ids=[
        "mode-cli",
        "mode-ini",
        "workers-cli",
        "workers-ini",
        "timeout-cli",
        "timeout-ini",
        "timeout-cli-too-long",
        "timeout-ini-too-long",
        "start-method-cli",
        "start-method-ini",
    ],
)
def test_invalid_value_is_a_usage_error(
    pytester: pytest.Pytester, args: list[str], ini: str, message: str
) -> None:
    """An invalid option or ini value is a usage error naming the value and its source."""
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(HEADER_TEST)
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stderr.str()


def test_unavailable_start_method_names_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    """A start method this platform lacks (fork on Windows) is refused as unavailable."""
    monkeypatch.setattr(_values, "available_start_methods", lambda: ("spawn",))
    with pytest.raises(_values.ConcurUsageError) as excinfo:
        _values.parse_start_method("fork", "from marker on test_x")
    assert str(excinfo.value) == (
        "invalid concur start method 'fork' from marker on test_x: it is not available on "
        "this platform; choose one of spawn"
    )


@pytest.mark.parametrize(("value", "expected"), [("3", 3), (" 12 ", 12), (5, 5)])
def test_parse_workers_accepts_integers(value: object, expected: int) -> None:
    """Worker counts parse from strings with spaces and from ints."""
    assert _values.parse_workers(value, "from test") == expected


@pytest.mark.parametrize("value", [True, 1.5, "-2", ""])
def test_parse_workers_refuses_non_integers(value: object) -> None:
    """Booleans, fractions, negatives and empty strings are not worker counts."""
    with pytest.raises(_values.ConcurUsageError, match="expected an integer of at least 1"):
        _values.parse_workers(value, "from test")


@pytest.mark.parametrize(("value", "expected"), [("0", None), (0, None), ("1.5", 1.5), (3, 3.0)])
def test_parse_timeout(value: object, expected: float | None) -> None:
    """Timeouts parse to seconds, and 0 to no timeout."""
    assert _values.parse_timeout(value, "from test") == expected


def test_longest_timeout_is_the_platforms_longest_wait(pytester: pytest.Pytester) -> None:
    """threading.TIMEOUT_MAX is accepted; a marked thread-mode test then runs as usual."""
    assert _values.parse_timeout(threading.TIMEOUT_MAX, "from test") == threading.TIMEOUT_MAX
    pytester.makepyfile("import pytest\n@pytest.mark.concur(workers=2)\ndef test_x():\n    pass\n")
    result = pytester.runpytest(f"--concur-timeout={threading.TIMEOUT_MAX!r}")
    result.assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        (
            "workers=0",
            "invalid concur workers 0 from marker on test_x: expected an integer of at least 1 "
            "or auto",
        ),
        ("timeout=-3", "invalid concur timeout -3 from marker on test_x: *"),
        (
            "timeout=1e12",
            "invalid concur timeout 1000000000000.0 from marker on test_x: expected at most *",
        ),
        ("modes=['threads']", "invalid concur modes ['threads'] from marker on test_x: *"),
        ("start_method='fast'", "invalid concur start method 'fast' from marker on test_x: *"),
        ("worker=2", "invalid concur marker arguments from marker on test_x: *"),
        ("1, 2, 3, 4, 5, 6", "invalid concur marker arguments from marker on test_x: *"),
    ],
    ids=[
        "workers",
        "timeout",
        "timeout-too-long",
        "modes",
        "start-method",
        "unknown-argument",
        "too-many",
    ],
)
def test_invalid_marker_is_a_collection_error(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    """An invalid marker argument is a collection error naming the value and the test."""
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.concur({marker})
        def test_x():
            pass

        def test_other():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    output = result.stdout.str()
    assert message.rstrip("*") in output
    assert "Traceback" not in output
    assert "During handling" not in output


def test_marker_overrides_command_line(pytester: pytest.Pytester) -> None:
    """Marker workers, timeout and start method win over the command line."""
    pytester.makepyfile(
        """
        import pytest
        from pytest_concur._collect import settings_for

        @pytest.mark.concur(workers=2, timeout=0, start_method="spawn", modes="thread")
        def test_x(request):
            s = settings_for(request.node)
            assert (s.workers, s.timeout) == (2, None)
            assert (s.start_method, s.modes) == ("spawn", ("thread",))
        """
    )
    result = pytester.runpytest(
        "--concur-workers=5", "--concur-timeout=3", "--concur-start-method=fork"
    )
    result.assert_outcomes(passed=1)


def test_markers_lists_concur(pytester: pytest.Pytester) -> None:
    """--markers documents the concur marker and its arguments."""
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(
        [
            "@pytest.mark.concur(workers=None, modes=None, timeout=None, start_method=None, "
            "iterations=None): *"
        ]
    )


def test_strict_markers_accepts_concur(pytester: pytest.Pytester) -> None:
    """The marker is registered, so --strict-markers accepts it."""
    pytester.makepyfile(
        "import pytest\n@pytest.mark.concur(modes='thread')\ndef test_x():\n    pass\n"
    )
    pytester.runpytest("--strict-markers").assert_outcomes(passed=1)


@pytest.mark.parametrize("distributed", [True, False])
def test_header_notes_fork_under_xdist(distributed: bool) -> None:
    """Under pytest-xdist on 3.12+ with fork, the header says once how to avoid fork's warning."""
    settings = _options.Settings(("thread", "process"), 4, "fork", 60.0)
    lines = header_lines(settings, distributed=distributed)
    noted = any("--concur-start-method=forkserver" in line for line in lines)
    assert noted == (distributed and sys.version_info >= (3, 12))


@pytest.mark.parametrize("value", ["inf", "1e400", float("inf"), "+Infinity"])
def test_infinite_timeout_is_named_as_such(value: object) -> None:
    """An infinite timeout is refused as infinite, naming the largest value accepted."""
    with pytest.raises(_values.ConcurUsageError) as excinfo:
        _values.parse_timeout(value, "from test")
    message = str(excinfo.value)
    assert "it is infinite" in message and f"at most {threading.TIMEOUT_MAX:.0f} " in message
    assert "at least 0" not in message
