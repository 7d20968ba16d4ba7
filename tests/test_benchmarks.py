"""Smoke tests of ``python -m benchmarks``: tiny sizes, so that the benchmarks cannot rot.

No test here asserts a speed: the numbers of a smoke run mean nothing.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = (
    "vs_hand", "gate", "scaling", "start_methods", "suite", "counter", "whole_suite", "in_pytest",
)  # fmt: skip


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "benchmarks", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


Smoke = tuple[subprocess.CompletedProcess[str], Path]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> Smoke:
    """Run the benchmarks once at smoke sizes for every test of this module."""
    out = tmp_path_factory.mktemp("bench")
    return _run("--smoke", "--out", str(out)), out


def test_smoke_run_succeeds(smoke: Smoke) -> None:
    """Every section runs at smoke sizes and the command exits 0."""
    proc, _ = smoke
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_smoke_json_has_every_section(smoke: Smoke) -> None:
    """latest.json holds the machine info and one entry per section, and no section failed."""
    _, out = smoke
    results = json.loads((out / "latest.json").read_text())
    assert results["errors"] == {}
    assert results["machine"]["cores"] >= 1
    assert all(results[key] for key in SECTIONS), [k for k in SECTIONS if not results.get(k)]


def test_smoke_json_ratios_are_per_round(
    smoke: Smoke,
) -> None:
    """Every engine row reports median, min and max of engine/hand, in order."""
    _, out = smoke
    rows = json.loads((out / "latest.json").read_text())["vs_hand"]
    assert all(r["engine_vs_hand"]["min"] <= r["engine_vs_hand"]["median"] for r in rows)
    assert all(r["engine_vs_hand"]["median"] <= r["engine_vs_hand"]["max"] for r in rows)


def test_smoke_markdown_has_every_heading(
    smoke: Smoke,
) -> None:
    """latest.md has the machine header, a heading per section and the targets list."""
    _, out = smoke
    text = (out / "latest.md").read_text()
    headings = ["- Machine:", "## 1.", "### 1b.", "## 2.", "## 3.", "## 4.", "## 5.", "## 6."]
    headings.append("## 7.")
    headings.append("## Targets:")
    assert [h for h in headings if h not in text] == []


def test_smoke_in_pytest_holds_spawn_to_its_target(smoke: Smoke) -> None:
    """The in-pytest pair reports spawn_workers/hand per round and holds spawn to 1.25."""
    _, out = smoke
    rows = json.loads((out / "latest.json").read_text())["in_pytest"]
    spawn = [r for r in rows if r["method"] == "spawn"]
    assert spawn and all(r["target"] == 1.25 and "meets_target" in r for r in spawn)
    assert all(r["ours_vs_hand"]["min"] <= r["ours_vs_hand"]["max"] for r in rows)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the diagnosis needs glibc")
def test_smoke_scaling_has_the_stack_cache_row(smoke: Smoke) -> None:
    """Thread scaling is measured again with a large glibc stack cache, held to no target."""
    _, out = smoke
    rows = json.loads((out / "latest.json").read_text())["scaling"]
    [row] = [r for r in rows if r["mode"] == "thread, glibc stack cache 1 GiB"]
    assert row["target"] is None and row["points"]
    assert "scaling thread, glibc" not in (out / "latest.md").read_text().split("## Targets")[1]


def test_stack_cache_child_names_a_bad_count() -> None:
    """The stack-cache child refuses a worker count that is not a positive number, naming it."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.stackcache", "many", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "largest" in proc.stderr and "'many'" in proc.stderr


def test_unknown_section_is_a_usage_error(tmp_path: Path) -> None:
    """An unknown --sections value exits 2 and names the bad value."""
    proc = _run("--sections", "engine,bogus", "--out", str(tmp_path))
    assert proc.returncode == 2
    assert "bogus" in proc.stderr


def test_smoke_whole_suite_passed_every_generated_test(smoke: Smoke) -> None:
    """Every variant of the generated whole suite records that it passed all its tests."""
    _, out = smoke
    synthetic = json.loads((out / "latest.json").read_text())["whole_suite"]["synthetic"]
    # The peers' rows exist only where the bench extra is installed.
    assert {row["variant"] for row in synthetic["rows"]} >= {
        "plain pytest",
        "concur-all thread x4",
        "concur-all process[fork] x1",
    }
    assert all(row["counts"] == {"passed": synthetic["tests"]} for row in synthetic["rows"])


def test_real_suite_that_cannot_be_fetched_is_skipped_with_the_reason() -> None:
    """A suite whose sdist cannot be downloaded is reported as skipped, naming the package."""
    from benchmarks.whole_suite import RealSuite, measure_real_suites

    [entry] = measure_real_suites([RealSuite("concur-lab-no-such-package", "0.0.1", ".")], 1)
    assert "concur-lab-no-such-package==0.0.1" in entry["skipped"]


def test_a_run_killed_by_a_signal_is_recorded_and_run_again(tmp_path: Path) -> None:
    """A whole run that dies by a signal is noted with its round and signal, then run again."""
    from benchmarks.whole_suite import PLAIN, _interleaved

    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "test_one.py").write_text("def test_one():\n    pass\n")
    # The second run (round 1, after the warm-up) kills itself the way a crashed CPython dies.
    (suite / "conftest.py").write_text(
        "import os, signal\n"
        "count = os.path.join(os.path.dirname(__file__), 'runs')\n"
        "runs = int(open(count).read()) + 1 if os.path.exists(count) else 1\n"
        "open(count, 'w').write(str(runs))\n"
        "if runs == 2:\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    crashes: list[dict[str, object]] = []
    times, counts = _interleaved([PLAIN], 1, suite, suite, [], crashes)
    assert crashes == [
        {"variant": PLAIN.name, "round": 1, "signal": "SIGKILL", "last_output": ""}
    ]
    assert len(times[PLAIN.name]) == 1
    assert counts[PLAIN.name] == {"passed": 1}


def test_summary_line_counts_are_read() -> None:
    """The outcome counts come from pytest's last summary line, errors under one key."""
    from benchmarks.whole_suite import _counts

    text = "x\n== 3 failed, 10 passed, 1 error, 2 skipped in 1.00s ==\n"
    assert _counts(text) == {"failed": 3, "passed": 10, "errors": 1, "skipped": 2}


def test_update_replaces_only_the_sections_run(tmp_path: Path) -> None:
    """--update keeps the other sections of the report and says when the new one was measured."""
    committed = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    (tmp_path / "latest.json").write_text(json.dumps(committed))
    proc = _run("--smoke", "--sections", "counter", "--update", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    merged = json.loads((tmp_path / "latest.json").read_text())
    assert merged["vs_hand"] == committed["vs_hand"]
    assert merged["updated"]["counter"]["preset"] == "smoke"
    assert "Section `counter` measured later" in (tmp_path / "latest.md").read_text()


def test_update_names_the_machine_of_the_section_run(tmp_path: Path) -> None:
    """A section measured later says which CPU it was measured on."""
    from benchmarks._machine import machine_info

    committed = json.loads((ROOT / "benchmarks" / "results" / "latest.json").read_text())
    (tmp_path / "latest.json").write_text(json.dumps(committed))
    proc = _run("--smoke", "--sections", "counter", "--update", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = machine_info()
    markdown = (tmp_path / "latest.md").read_text()
    assert f"`smoke`; {info['cores']} cores, {info['cpu']}; load average" in markdown
