"""Hung and crashed workers of concur-marked tests: failed at the timeout, named, cleaned up."""

from __future__ import annotations

import re

import pytest

from pytest_concur._engine import available_start_methods

METHODS = [m for m in ("fork", "forkserver", "spawn") if m in available_start_methods()]
ALL_MODES = [("thread", "fork")] + [("process", m) for m in METHODS]
ALL_MODE_IDS = ["thread"] + [f"process-{m}" for m in METHODS]

HANG = """
import threading
import pytest
from concur_lab import worker_index

RELEASE = threading.Event()

@pytest.mark.concur(workers=2, timeout=TIMEOUT)
def test_hang():
    if worker_index() == 1:
        RELEASE.wait(60)

def test_next():
    RELEASE.set()
"""


@pytest.mark.parametrize(("mode", "method"), ALL_MODES, ids=ALL_MODE_IDS)
def test_hung_worker_fails_at_timeout_with_stack(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, mode: str, method: str
) -> None:
    """A hung worker fails the test at the timeout with its stack; the session goes on."""
    monkeypatch.setenv("COLUMNS", "200")  # whole short-summary lines
    # The deadline includes starting the workers, slower by far under spawn and forkserver.
    timeout = 1 if method == "fork" else 4
    pytester.makepyfile(HANG.replace("TIMEOUT", str(timeout)))
    result = pytester.runpytest_subprocess(
        f"--concur-mode={mode}", f"--concur-start-method={method}", "-rf", timeout=120
    )
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(["FAILED *::test_hang[[]*[]] - WorkerTimeout: worker 1 of 2 (*"])
    output = result.stdout.str()
    assert "WorkerTimeout" in output
    assert "worker 1 of 2" in output
    # The stack shows where the worker hung: RELEASE.wait(60), line 10 of the test file.
    assert re.search(
        r"test_hung_worker_fails_at_timeout_with_stack.py\", line 10,? in test_hang", output
    )
    # Already reported as hung: the leak check does not report it again.
    assert "left work running" not in output
    assert "All traceback entries are hidden" not in output


@pytest.mark.parametrize("method", METHODS)
def test_hung_process_is_killed(pytester: pytest.Pytester, method: str) -> None:
    """The hung worker process is gone once the test has failed."""
    # The deadline includes starting the worker: under forkserver and spawn a server or a new
    # interpreter first (forkserver is the default from Python 3.14).
    timeout = 1 if method == "fork" else 5
    pytester.makepyfile(
        """
        import os, time
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=1, timeout=TIMEOUT)
        def test_hang():
            with open("worker.pid", "w") as f:
                f.write(str(os.getpid()))
            time.sleep(60)

        def test_gone():
            pid = int(open("worker.pid").read())
            assert not os.path.exists(f"/proc/{pid}")
        """.replace("TIMEOUT", str(timeout))
    )
    result = pytester.runpytest_subprocess(
        "--concur-mode=process", f"--concur-start-method={method}", timeout=120
    )
    result.assert_outcomes(failed=1, passed=1)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("os._exit(3)", "*code 3*"),
        ("os.kill(os.getpid(), signal.SIGKILL)", "*SIGKILL*"),
    ],
    ids=["exit-code", "signal"],
)
def test_crashed_worker_fails_naming_it(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    body: str,
    expected: str,
    method: str,
) -> None:
    """A worker process that exits or is killed fails the test naming the exit code or signal."""
    monkeypatch.setenv("COLUMNS", "200")  # whole short-summary lines
    pytester.makepyfile(
        f"""
        import os, signal
        import pytest
        from concur_lab import worker_index

        @pytest.mark.concur(workers=2)
        def test_crash():
            if worker_index() == 0:
                {body}
        """
    )
    result = pytester.runpytest_subprocess(
        "--concur-mode=process", f"--concur-start-method={method}", "-rf", timeout=120
    )
    result.assert_outcomes(failed=1)
    label = f"worker 0 of 2 (process[[]{method}[]], pid *)"
    result.stdout.fnmatch_lines(
        [
            f"1 of 2 workers failed (process[[]{method}[]])",
            "",
            f"WorkerCrashed: {label} {expected}",
            f"FAILED *::test_crash[[]process[]] - WorkerCrashed: {label}*",
        ]
    )
    assert "All traceback entries are hidden" not in result.stdout.str()


def test_segfault_names_signal_and_stack(pytester: pytest.Pytester) -> None:
    """A segfaulting worker fails the test naming SIGSEGV, with faulthandler's stack."""
    pytester.makepyfile(
        """
        import ctypes
        import pytest

        @pytest.mark.concur(workers=1)
        def test_crash():
            ctypes.string_at(0)
        """
    )
    result = pytester.runpytest_subprocess("--concur-mode=process", timeout=120)
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "SIGSEGV" in output
    assert "test_crash" in output
