"""Item 6: ``--concur-all`` on whole suites nobody wrote for the plugin, against the peers.

Two kinds of suite, each run as separate ``python -m pytest`` processes, variants interleaved in
a rotating order within one run (so the ratios compare like with like on a noisy machine):

* a generated suite of unmarked tests in the styles real suites mix: plain functions,
  parametrized tests, ``tmp_path`` tests, test classes and ``unittest.TestCase`` methods. Every
  variant must pass every test;
* real third-party suites, fetched as sdists at benchmark time (``pip download --no-binary
  :all: --no-deps NAME==VERSION``) into a temporary folder and run from the unpacked source
  (``PYTHONPATH`` points at it); nothing of theirs is kept. Their concurrent runs fail tests
  that are not thread-safe, and the two plugins fail different numbers of them, so the counts
  are recorded, not required. Without a package index the suite is skipped, with the reason.

pytest-run-parallel (``--parallel-threads=4``) is the peer of thread mode, pytest-forked
(``--forked``) of process mode with one worker per test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._stats import ratio_stats, summary
from benchmarks.suite import pytest_command, write_forked_shim

__all__ = [
    "REAL_SUITES",
    "REAL_VARIANTS",
    "SYNTHETIC_COMPARISONS",
    "SYNTHETIC_VARIANTS",
    "RealSuite",
    "WholeVariant",
    "measure_real_suites",
    "measure_synthetic",
    "write_mixed_suite",
]

_TIMEOUT = 1800.0
# A run of a real suite killed by a signal is run again this many times before the suite fails.
_CRASH_RETRIES = 2
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)")
_ALL = ("--concur-all",)


@dataclass(frozen=True)
class WholeVariant:
    """One way of running an unmarked suite: which plugin is on, with which arguments."""

    name: str
    plugin: str | None
    args: tuple[str, ...]


PLAIN = WholeVariant("plain pytest", None, ())
THREAD4 = WholeVariant(
    "concur-all thread x4", "concur", (*_ALL, "--concur-mode=thread", "--concur-workers=4")
)
RUN_PARALLEL4 = WholeVariant("run-parallel x4", "run-parallel", ("--parallel-threads=4",))
FORK4 = WholeVariant(
    "concur-all process[fork] x4",
    "concur",
    (*_ALL, "--concur-mode=process", "--concur-start-method=fork", "--concur-workers=4"),
)
FORK1 = WholeVariant(
    "concur-all process[fork] x1",
    "concur",
    (*_ALL, "--concur-mode=process", "--concur-start-method=fork", "--concur-workers=1"),
)
FORKED = WholeVariant("pytest-forked", "forked", ("--forked",))

SYNTHETIC_VARIANTS = (PLAIN, THREAD4, RUN_PARALLEL4, FORK4, FORK1, FORKED)
REAL_VARIANTS = (PLAIN, THREAD4, RUN_PARALLEL4, FORK4)

SYNTHETIC_COMPARISONS = (
    (THREAD4.name, RUN_PARALLEL4.name, 1.0),
    (FORK1.name, FORKED.name, 1.0),
)
"""(ours, peer, target): issue 11's speed targets."""


@dataclass(frozen=True)
class RealSuite:
    """A third-party suite run from its sdist.

    :ivar name: The distribution's name on PyPI.
    :ivar version: The pinned version (results stay comparable between reports).
    :ivar source: Folder inside the unpacked sdist that goes on ``PYTHONPATH``.
    :ivar tests: Folder inside the unpacked sdist that pytest is given.
    """

    name: str
    version: str
    source: str
    tests: str = "tests"


REAL_SUITES = (
    RealSuite("cachetools", "8.0.3", "src"),
    RealSuite("boltons", "26.2.0", "."),
    RealSuite("click", "8.5.1", "src"),
)
"""Pure-Python libraries with a pytest suite of a few hundred tests and no extra test
dependencies: unittest-style classes (cachetools, boltons), ``capsys``/``monkeypatch``/
``pytest.warns`` and ``filterwarnings = error`` (click)."""

_MIXED = """
@pytest.mark.parametrize("n", [3, 5])
def test_param_{i}(n):
    assert sum(range(n)) == n * (n - 1) // 2


def test_tmp_path_{i}(tmp_path):
    target = tmp_path / "data.txt"
    target.write_text("x" * 64)
    assert target.read_text() == "x" * 64


class TestGroup{i}:
    def test_method(self):
        assert sorted({{3, 1, 2}}) == [1, 2, 3]


class Case{i}(unittest.TestCase):
    def setUp(self):
        self.data = list(range(20))

    def test_case(self):
        self.assertEqual(max(self.data), 19)


def test_plain_{i}():
    data = list(range(50))
    assert sum(data) == 1225
"""
# One group above is six tests.
_PER_GROUP = 6


def write_mixed_suite(folder: Path, tests: int, per_module: int = 10) -> int:
    """Write a suite of about *tests* unmarked tests in mixed styles; return the exact count.

    :param per_module: Groups of :data:`_PER_GROUP` tests per module.
    """
    write_forked_shim(folder)
    root = folder / "mixed"
    root.mkdir(parents=True)
    (root / "pytest.ini").write_text("[pytest]\n")
    groups = max(1, tests // _PER_GROUP)
    for start in range(0, groups, per_module):
        body = "".join(_MIXED.format(i=i) for i in range(start, min(start + per_module, groups)))
        (root / f"test_mixed_{start // per_module:03d}.py").write_text(
            "import unittest\n\nimport pytest\n" + body
        )
    return groups * _PER_GROUP


def _command(variant: WholeVariant, target: Path, xdist: int) -> list[str]:
    return pytest_command(variant.plugin, variant.args, target, xdist)


def _counts(output: str) -> dict[str, int]:
    lines = [line for line in output.splitlines() if " in " in line and _COUNT.search(line)]
    if not lines:
        return {}
    counts: dict[str, int] = {}
    for number, word in _COUNT.findall(lines[-1]):
        counts["errors" if word.startswith("error") else word] = int(number)
    return counts


def _run(
    variant: WholeVariant, cwd: Path, target: Path, pythonpath: Sequence[Path], xdist: int = 0
) -> tuple[float, dict[str, int], int]:
    command = _command(variant, target, xdist)
    path = os.pathsep.join([*(str(p) for p in pythonpath), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=path.rstrip(os.pathsep))
    start = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        # A third-party suite may print any bytes (click's tests echo invalid UTF-8 on purpose).
        encoding="utf-8",
        errors="replace",
        timeout=_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode < 0:
        raise CrashedRun(variant.name, -proc.returncode, proc.stdout[-3000:])
    counts = _counts(proc.stdout)
    if not counts or "INTERNALERROR" in proc.stdout or proc.returncode not in (0, 1):
        raise RuntimeError(
            f"{variant.name!r} ({' '.join(command)}) in {cwd} ended with exit code "
            f"{proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed, counts, proc.returncode


class CrashedRun(RuntimeError):
    """A whole pytest run was killed by a signal (a thread-mode run can crash CPython itself)."""

    def __init__(self, variant: str, signum: int, output: str) -> None:
        self.variant = variant
        self.signal = _signal_name(signum)
        self.output = output
        super().__init__(f"{variant!r} died with {self.signal}")


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def _interleaved(
    variants: Sequence[WholeVariant],
    rounds: int,
    cwd: Path,
    target: Path,
    pythonpath: Sequence[Path],
    crashes: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, list[float]], dict[str, dict[str, int]]]:
    """Run every variant *rounds* times, interleaved.

    :param crashes: Where to record runs killed by a signal; each is run again (up to
        :data:`_CRASH_RETRIES` times), so that one crash does not cost the whole suite's result.
        Without it, a crash raises :class:`CrashedRun`.
    """
    times: dict[str, list[float]] = {v.name: [] for v in variants}
    counts: dict[str, dict[str, int]] = {}
    _run(variants[0], cwd, target, pythonpath)  # warm the OS file cache
    for r in range(rounds):
        order = [*variants[r % len(variants) :], *variants[: r % len(variants)]]
        for variant in order:
            for attempt in range(_CRASH_RETRIES + 1):
                try:
                    seconds, found, _ = _run(variant, cwd, target, pythonpath)
                except CrashedRun as crash:
                    if crashes is None or attempt == _CRASH_RETRIES:
                        raise
                    last = [line for line in crash.output.splitlines() if line.strip()][-1:]
                    crashes.append(
                        {
                            "variant": variant.name,
                            "round": r + 1,
                            "signal": crash.signal,
                            "last_output": last[0] if last else "",
                        }
                    )
                    continue
                break
            times[variant.name].append(seconds)
            counts[variant.name] = found
    return times, counts


def _rows(
    variants: Sequence[WholeVariant],
    times: dict[str, list[float]],
    counts: dict[str, dict[str, int]],
    tests: int,
) -> list[dict[str, Any]]:
    plain = times[PLAIN.name]
    rows = []
    for variant in variants:
        own = times[variant.name]
        rows.append(
            {
                "variant": variant.name,
                "command": " ".join(_command(variant, Path("TESTS"), 0)[1:]),
                "seconds": summary(own),
                "vs_plain": ratio_stats(own, plain),
                "ms_per_test_over_plain": summary(
                    [(t - p) * 1e3 / tests for t, p in zip(own, plain, strict=True)]
                ),
                "counts": counts[variant.name],
            }
        )
    return rows


def _comparison(
    times: dict[str, list[float]], ours: str, peer: str, target: float | None
) -> dict[str, Any]:
    ratio = ratio_stats(times[ours], times[peer])
    return {
        "ours": ours,
        "peer": peer,
        "ratio": ratio,
        "target": target,
        "meets_target": None if target is None else ratio["median"] <= target,
    }


def measure_synthetic(
    tests: int, rounds: int, variants: Sequence[WholeVariant] = SYNTHETIC_VARIANTS
) -> dict[str, Any]:
    """Time the generated mixed suite under each variant; every run must pass every test.

    :returns: ``{"tests", "rounds", "rows", "comparisons"}``.
    :raises RuntimeError: If a run does not pass all the tests.
    """
    with tempfile.TemporaryDirectory(prefix="concur-bench-whole-") as tmp:
        folder = Path(tmp)
        exact = write_mixed_suite(folder, tests)
        target = folder / "mixed"
        times, counts = _interleaved(variants, rounds, target, target, [folder])
    for name, found in counts.items():
        if found.get("passed") != exact or set(found) - {"passed"}:
            raise RuntimeError(f"{name!r} did not pass all {exact} generated tests: {found}")
    names = {v.name for v in variants}
    comparisons = [
        _comparison(times, ours, peer, target_ratio)
        for ours, peer, target_ratio in SYNTHETIC_COMPARISONS
        if ours in names and peer in names
    ]
    return {
        "tests": exact,
        "rounds": rounds,
        "rows": _rows(variants, times, counts, exact),
        "comparisons": comparisons,
    }


def _fetch(suite: RealSuite, folder: Path) -> Path:
    """Download and unpack *suite*'s sdist into *folder*; return the unpacked root."""
    spec = f"{suite.name}=={suite.version}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-binary",
            ":all:",
            "--no-deps",
            "--quiet",
            "--dest",
            str(folder),
            spec,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    archives = [*folder.glob("*.tar.gz"), *folder.glob("*.zip")]
    if proc.returncode != 0 or not archives:
        last = (proc.stderr.strip().splitlines() or ["no archive"])[-1]
        raise OSError(f"pip download {spec} failed: {last}")
    with tarfile.open(archives[0]) as archive:
        archive.extractall(folder, filter="data")
    roots = [p for p in folder.iterdir() if p.is_dir()]
    if len(roots) != 1:
        raise OSError(f"the sdist of {spec} did not unpack into one folder: {roots}")
    return roots[0]


def measure_real_suites(
    suites: Sequence[RealSuite], rounds: int, variants: Sequence[WholeVariant] = REAL_VARIANTS
) -> list[dict[str, Any]]:
    """Fetch each suite's sdist and time it under each variant, recording the outcome counts.

    :returns: One dict per suite: ``{"suite", "version", "rows", "comparison"}``, or
        ``{"suite", "version", "skipped": reason}`` when it could not be fetched.
    """
    results: list[dict[str, Any]] = []
    for suite in suites:
        entry: dict[str, Any] = {"suite": suite.name, "version": suite.version}
        with tempfile.TemporaryDirectory(prefix=f"concur-bench-{suite.name}-") as tmp:
            folder = Path(tmp)
            try:
                root = _fetch(suite, folder)
            except (OSError, subprocess.SubprocessError, tarfile.TarError) as exc:
                entry["skipped"] = str(exc)
                results.append(entry)
                continue
            write_forked_shim(folder)
            crashes: list[dict[str, Any]] = []
            try:
                times, counts = _interleaved(
                    variants,
                    rounds,
                    root,
                    root / suite.tests,
                    [folder, root / suite.source],
                    crashes,
                )
            except (RuntimeError, subprocess.SubprocessError) as exc:
                # One suite that cannot be run must not cost the others' results.
                entry["error"] = f"{type(exc).__name__}: {str(exc)[:2000]}"
                results.append(entry)
                continue
        tests = max(sum(counts[PLAIN.name].values()), 1)
        entry["tests"] = tests
        entry["rounds"] = rounds
        entry["crashes"] = crashes
        entry["rows"] = _rows(variants, times, counts, tests)
        names = {v.name for v in variants}
        if THREAD4.name in names and RUN_PARALLEL4.name in names:
            entry["comparison"] = _comparison(times, THREAD4.name, RUN_PARALLEL4.name, 1.0)
        results.append(entry)
    return results
