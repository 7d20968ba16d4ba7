"""Item 4: what each plugin costs a suite of small tests, run as separate pytest processes.

Two copies of one generated suite are timed: ``plain/`` has no markers (pytest-run-parallel and
pytest-forked apply to every test), ``marked/`` carries ``pytestmark = pytest.mark.concur`` in
every module (the concur plugin only runs marked tests in workers). Each variant runs only its
own plugin (the others are disabled with ``-p no:NAME``), in its own ``python -m pytest``
process, once per round, in a rotating order; every run must pass with the expected count.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks._stats import ratio_stats, summary

__all__ = [
    "COMPARISONS",
    "FORKED_SHIM",
    "PEER_TARGET",
    "VARIANTS",
    "Variant",
    "measure_suite",
    "pytest_command",
    "write_forked_shim",
    "write_suite",
]

PEER_TARGET = 1.0
"""Our time / the peer plugin's time, at most (issue 6, item 4)."""

_TIMEOUT = 900.0
_PLUGINS = {"concur": "concur", "run-parallel": "run-parallel", "forked": "pytest_forked"}
_TEST = """
def test_case_{i}():
    data = list(range(50))
    assert sum(data) == 1225
    assert max(data) == 49, "max"
"""


@dataclass(frozen=True)
class Variant:
    """One way of running the suite.

    :ivar name: Short label used in the table.
    :ivar suite: ``"plain"`` or ``"marked"``.
    :ivar plugin: Which plugin stays enabled (``None``: none of the three).
    :ivar args: Extra pytest arguments.
    :ivar per_test: Passed tests expected per generated test (2 when both modes run).
    """

    name: str
    suite: str
    plugin: str | None
    args: tuple[str, ...]
    per_test: int = 1


VARIANTS = (
    Variant("plain pytest", "plain", None, ()),
    Variant("concur thread x4", "marked", "concur", ("--concur-mode=thread", "--concur-workers=4")),
    Variant("run-parallel x4", "plain", "run-parallel", ("--parallel-threads=4",)),
    Variant(
        "concur process[fork] x1",
        "marked",
        "concur",
        ("--concur-mode=process", "--concur-start-method=fork", "--concur-workers=1"),
    ),
    Variant("pytest-forked", "plain", "forked", ("--forked",)),
    Variant(
        "concur process[fork] x4",
        "marked",
        "concur",
        ("--concur-mode=process", "--concur-start-method=fork", "--concur-workers=4"),
    ),
    Variant(
        "concur both[fork] x4",
        "marked",
        "concur",
        ("--concur-mode=both", "--concur-start-method=fork", "--concur-workers=4"),
        per_test=2,
    ),
)

COMPARISONS = (
    ("concur thread x4", "run-parallel x4", PEER_TARGET),
    ("concur process[fork] x1", "pytest-forked", PEER_TARGET),
    ("concur process[fork] x4", "pytest-forked", None),
)
"""(ours, peer, target or None for information only)."""

_PASSED = re.compile(r"(\d+) passed")

# pytest-forked 1.7.5 marshals each report's __dict__; pytest 9.2 stores the node id there as a
# NodeId object under "_id", which marshal refuses, so every forked test fails ("EXITED with
# status 3"). This plugin, loaded only with pytest-forked, sends the id as the "nodeid" string.
FORKED_SHIM = "concur_bench_forked_shim"
_FORKED_SHIM_SOURCE = '''"""Let pytest-forked send reports of pytest >= 9.2 (benchmark only)."""

import pytest_forked

_serialize = pytest_forked.serialize_report


def serialize_report(rep):
    data = _serialize(rep)
    if "_id" in data:
        data["nodeid"] = str(data.pop("_id"))
    return data


pytest_forked.serialize_report = serialize_report
'''


def write_forked_shim(folder: Path) -> None:
    """Write the :data:`FORKED_SHIM` plugin into *folder* (which must go on ``PYTHONPATH``)."""
    (folder / f"{FORKED_SHIM}.py").write_text(_FORKED_SHIM_SOURCE)


def write_suite(folder: Path, tests: int, per_module: int = 20) -> None:
    """Generate ``plain/`` and ``marked/`` copies of a suite of *tests* small tests in *folder*."""
    write_forked_shim(folder)
    for suite in ("plain", "marked"):
        root = folder / suite
        root.mkdir(parents=True)
        # An ini file of its own makes this the rootdir, away from any project configuration.
        (root / "pytest.ini").write_text("[pytest]\n")
        header = "import pytest\n"
        if suite == "marked":
            header += "\npytestmark = pytest.mark.concur\n"
        for start in range(0, tests, per_module):
            body = "".join(_TEST.format(i=i) for i in range(start, min(start + per_module, tests)))
            (root / f"test_gen_{start // per_module:03d}.py").write_text(header + body)


def pytest_command(
    plugin: str | None, args: Sequence[str], target: Path, xdist: int = 0
) -> list[str]:
    """Return the ``python -m pytest`` command that enables only *plugin* of the three measured.

    :param plugin: ``"concur"``, ``"run-parallel"``, ``"forked"`` or ``None`` (none of them).
    """
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    for name, module in _PLUGINS.items():
        if name != plugin:
            command += ["-p", f"no:{module}"]
    if plugin == "forked":
        command += ["-p", FORKED_SHIM]
    if xdist:
        command += ["-n", str(xdist)]
    return [*command, *args, str(target)]


def _command(variant: Variant, folder: Path, xdist: int) -> list[str]:
    return pytest_command(variant.plugin, variant.args, folder / variant.suite, xdist)


def _run(variant: Variant, folder: Path, xdist: int, tests: int) -> float:
    command = _command(variant, folder, xdist)
    path = os.pathsep.join(p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p)
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONPATH=path)
    start = time.perf_counter()
    proc = subprocess.run(
        command,
        cwd=folder / variant.suite,
        env=env,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    elapsed = time.perf_counter() - start
    found = _PASSED.findall(proc.stdout)
    expected = tests * variant.per_test
    if proc.returncode != 0 or not found or int(found[-1]) != expected:
        raise RuntimeError(
            f"suite variant {variant.name!r} ({' '.join(command)}) did not pass {expected} tests "
            f"(exit code {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return elapsed


def measure_suite(
    tests: int,
    rounds: int,
    *,
    xdist_values: Sequence[int] = (0, 2),
    variants: Sequence[Variant] = VARIANTS,
) -> dict[str, Any]:
    """Item 4: wall time of the generated suite under each variant, interleaved.

    :param tests: Generated tests (each variant must pass all of them).
    :param rounds: Rounds; every variant runs once per round, in a rotating order.
    :param xdist_values: ``0`` for no xdist, else the ``-n`` value.
    :param variants: Which variants (default: all of :data:`VARIANTS`).
    :returns: ``{"tests", "rounds", "rows": [...], "comparisons": [...]}``.
    :raises RuntimeError: If a run fails or does not pass every test.
    """
    keys = [(v, x) for x in xdist_values for v in variants]
    samples: dict[tuple[str, int], list[float]] = {(v.name, x): [] for v, x in keys}
    with tempfile.TemporaryDirectory(prefix="concur-bench-suite-") as tmp:
        folder = Path(tmp)
        write_suite(folder, tests)
        for variant, xdist in keys[:1]:
            _run(variant, folder, xdist, tests)  # warm the OS file cache
        for r in range(rounds):
            order = keys[r % len(keys) :] + keys[: r % len(keys)]
            for variant, xdist in order:
                samples[(variant.name, xdist)].append(_run(variant, folder, xdist, tests))
    rows = []
    for variant, xdist in keys:
        times = samples[(variant.name, xdist)]
        plain = samples.get((VARIANTS[0].name, xdist), [])
        row: dict[str, Any] = {
            "variant": variant.name,
            "xdist": xdist,
            "command": " ".join(_command(variant, Path("."), xdist)[1:]),
            "seconds": summary(times),
        }
        if plain:
            row["vs_plain"] = ratio_stats(times, plain)
            row["ms_per_test_over_plain"] = summary(
                [(t - p) * 1e3 / tests for t, p in zip(times, plain, strict=True)]
            )
        rows.append(row)
    comparisons = []
    names = {v.name for v in variants}
    for ours, peer, target in COMPARISONS:
        if ours not in names or peer not in names:
            continue
        for xdist in xdist_values:
            ratio = ratio_stats(samples[(ours, xdist)], samples[(peer, xdist)])
            comparisons.append(
                {
                    "ours": ours,
                    "peer": peer,
                    "xdist": xdist,
                    "ratio": ratio,
                    "target": target,
                    "meets_target": None if target is None else ratio["median"] <= target,
                }
            )
    return {"tests": tests, "rounds": rounds, "rows": rows, "comparisons": comparisons}
