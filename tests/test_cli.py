"""Tests for the concur-lab command line (concur_lab.cli), mostly against a fake demo catalogue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from concur_lab import available_start_methods, default_start_method, demos
from concur_lab.cli import main
from concur_lab.engine._modes import Mode


def make_demo(
    slug: str, run: Callable[..., Any], *, theme: str = "basics", order: int = 1,
    lesson: str | None = None, timeline: bool = False, fixed_workers: int | None = None,
) -> demos.Demo:
    """Build a Demo around *run* without a module file."""
    module = types.ModuleType(f"fake_{slug.replace('-', '_')}")
    module.run = run  # type: ignore[attr-defined]
    module.TIMELINE = timeline  # type: ignore[attr-defined]
    module.FIXED_WORKERS = fixed_workers  # type: ignore[attr-defined]
    return demos.Demo(
        slug=slug, title=f"Title of {slug}", theme=theme, order=order,
        lesson=lesson or f"lesson of {slug}", module=module,
    )


def spans(mode: Mode, workers: int = 2) -> list[dict[str, Any]]:
    """Threads taking turns, processes side by side: 10 slices of 5 ms."""
    result = []
    for step in range(10):
        for worker in range(workers):
            running = mode.kind == "process" or step % workers == worker
            result.append({
                "worker": worker, "name": "spin", "start": step * 0.005,
                "end": (step + 1) * 0.005, "kind": "running" if running else "waiting",
            })
    return result


def shared_global(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo whose observations differ by mode, with nesting and a timeline."""
    n = workers or 3
    values = list(range(1, n + 1)) if mode == "thread" else [1] * n
    return {
        "summary": f"{mode.kind}s saw {values}",
        "values": values,
        "workers": n,
        "start_method": mode.start_method,
        "nested": {"shared": mode.shares_memory, "deeper": {"same": "yes"}},
        "cases": [
            {"case": "first", "seen": 1, "by": mode.kind},
            {"case": "second", "seen": 2 if mode == "thread" else 1, "by": mode.kind},
        ],
        "an_observation_with_a_name_far_too_long_for_the_key_column": mode.kind,
        "varies": "not really",
        "timeline": spans(mode),
    }


def no_timeline(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo with identical observations in both modes and no timeline."""
    return {"answer": 42}


def broken_in_process(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo that raises in process mode."""
    if mode == "process":
        raise RuntimeError("boom in process mode")
    return {"summary": "fine"}


def returns_list(mode: Mode, workers: int | None = None) -> Any:
    """A fake demo that breaks the contract: no dict."""
    return [1, 2]


def returns_set(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo whose observations are not JSON-serialisable."""
    return {"pids": {1, 2}}


def bad_timeline(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo whose timeline spans lack their end."""
    return {"timeline": [{"worker": 0, "name": "x", "start": 0.0}]}


def interrupted(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo interrupted by Ctrl-C."""
    raise KeyboardInterrupt


def cleanup_fails_after_interrupt(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo whose clean-up raises while Ctrl-C is propagating."""
    try:
        raise KeyboardInterrupt
    finally:
        raise RuntimeError("threads still alive")


def retried(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo that ran three times and reports a run of 0.4 s."""
    return {"summary": "kept the quiet run", "attempts": 3 if mode == "process" else 1,
            "attempt_s": 0.4}


FAKES = (
    make_demo("shared-global", shared_global, order=1, timeline=True),
    make_demo("shared-memory", no_timeline, theme="sharing", order=1),
    make_demo("pid-report", no_timeline, order=2, fixed_workers=1),
    make_demo("exit-codes", broken_in_process, theme="lifecycle"),
    make_demo("returns-list", returns_list, theme="hazards", order=1, timeline=True),
    make_demo("returns-set", returns_set, theme="hazards", order=2),
    make_demo("bad-timeline", bad_timeline, theme="hazards", order=3, timeline=True),
    make_demo("ctrl-c", interrupted, theme="hazards", order=4),
    make_demo("ctrl-c-cleanup", cleanup_fails_after_interrupt, theme="hazards", order=5),
)


@pytest.fixture
def catalogue(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the demo registry by fake demos (all of FAKES unless others are given)."""
    monkeypatch.setenv("COLUMNS", "120")

    def install(*fakes: demos.Demo) -> None:
        chosen = fakes or FAKES
        monkeypatch.setattr(demos, "_load", lambda: tuple(chosen))

    install()
    return install


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Call main(argv) in-process; return its status, stdout and stderr."""
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


class TestUsage:
    @pytest.mark.usefixtures("catalogue")
    def test_help_lists_the_commands(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--help exits 0 and names list, run and tour."""
        status, out, _ = run_cli(capsys, "--help")
        assert status == 0
        assert all(command in out for command in ("list", "run", "tour"))

    @pytest.mark.usefixtures("catalogue")
    @pytest.mark.parametrize("command", ["list", "run", "tour"])
    def test_every_command_has_help(self, capsys: pytest.CaptureFixture[str], command: str) -> None:
        """Each sub-command answers --help with its usage and exit 0."""
        status, out, _ = run_cli(capsys, command, "--help")
        assert status == 0
        assert out.startswith(f"usage: concur-lab {command}")

    @pytest.mark.usefixtures("catalogue")
    def test_install_hint_is_not_split(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pip command in run --help stays on one line, even in a narrow terminal."""
        monkeypatch.setenv("COLUMNS", "60")
        _, out, _ = run_cli(capsys, "run", "--help")
        assert '"concur-lab[plot]"' in out

    @pytest.mark.usefixtures("catalogue")
    def test_missing_command_is_a_usage_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """No command at all exits 2 with a usage line."""
        status, _, err = run_cli(capsys)
        assert status == 2
        assert "usage: concur-lab" in err

    @pytest.mark.usefixtures("catalogue")
    def test_unknown_slug_lists_the_closest(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A misspelt slug exits 2 and suggests the nearest slugs."""
        status, _, err = run_cli(capsys, "run", "shared")
        assert status == 2
        assert "unknown demo 'shared'; closest: shared-global, shared-memory" in err

    @pytest.mark.usefixtures("catalogue")
    def test_hopeless_slug_points_to_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A slug like nothing known points to the list command."""
        status, _, err = run_cli(capsys, "run", "zzzz")
        assert status == 2
        assert "unknown demo 'zzzz'; 'concur-lab list' shows all 9 demos" in err

    @pytest.mark.usefixtures("catalogue")
    def test_underscores_and_case_are_forgiven(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Shared_Global finds shared-global."""
        status, out, _ = run_cli(capsys, "run", "Shared_Global", "--json")
        assert status == 0
        assert json.loads(out)["demo"] == "shared-global"

    @pytest.mark.usefixtures("catalogue")
    @pytest.mark.parametrize("value", ["0", "-3", "two", "1.5", "65"])
    def test_bad_worker_count_is_named(
        self, capsys: pytest.CaptureFixture[str], value: str
    ) -> None:
        """--workers must be a whole number from 1 to 64; the error quotes the value."""
        status, _, err = run_cli(capsys, "run", "shared-global", f"--workers={value}")
        assert status == 2
        assert f"argument --workers: invalid worker count '{value}'" in err

    @pytest.mark.usefixtures("catalogue")
    def test_unknown_start_method_is_named(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A name that is no start method exits 2 saying so and listing the start methods."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--start-method", "vfork")
        assert status == 2
        assert "argument --start-method: 'vfork' is not a start method" in err
        assert f"the start methods are {', '.join(available_start_methods())}" in err

    @pytest.mark.usefixtures("catalogue")
    def test_misspelt_start_method_gets_a_suggestion(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """--start-method spwan suggests spawn and does not blame the platform."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--start-method", "spwan")
        assert status == 2
        assert "'spwan' is not a start method (did you mean 'spawn'?)" in err
        assert "not available" not in err

    @pytest.mark.usefixtures("catalogue")
    def test_missing_start_method_blames_the_platform(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A real start method this platform lacks is reported as not available here."""
        monkeypatch.setattr("concur_lab.cli._arguments.available_start_methods", lambda: ("spawn",))
        status, _, err = run_cli(capsys, "run", "shared-global", "--start-method", "fork")
        assert status == 2
        assert f"start method 'fork' is not available on {sys.platform}" in err

    @pytest.mark.usefixtures("catalogue")
    @pytest.mark.parametrize(("typed", "kind"), [("threads", "thread"), ("Processes", "process")])
    def test_plural_mode_is_accepted(
        self, capsys: pytest.CaptureFixture[str], typed: str, kind: str
    ) -> None:
        """--mode threads and --mode processes run the mode they name."""
        status, out, _ = run_cli(capsys, "run", "shared-global", "--mode", typed, "--json")
        assert status == 0
        assert [run["mode"] for run in json.loads(out)["runs"]] == [kind]

    @pytest.mark.usefixtures("catalogue")
    def test_misspelt_mode_gets_a_suggestion(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--mode thred suggests thread."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--mode", "thred")
        assert status == 2
        assert "invalid choice: 'thred' (did you mean 'thread'?)" in err

    @pytest.mark.usefixtures("catalogue")
    def test_misspelt_command_gets_a_suggestion(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown command close to a real one suggests it."""
        status, _, err = run_cli(capsys, "tuor")
        assert status == 2
        assert "unknown command 'tuor' (did you mean 'tour'?)" in err

    @pytest.mark.usefixtures("catalogue")
    def test_slug_as_command_suggests_run(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A demo slug typed as the command suggests 'run SLUG'."""
        status, _, err = run_cli(capsys, "shared_global")
        assert status == 2
        assert "(did you mean 'run shared-global'?)" in err

    @pytest.mark.usefixtures("catalogue")
    def test_hopeless_command_points_to_the_tour(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An unknown command like no other names the commands and where to start."""
        status, _, err = run_cli(capsys, "frobnicate")
        assert status == 2
        assert "unknown command 'frobnicate'; new here? start with 'concur-lab tour'" in err
        assert "the commands are list, run, tour" in err

    @pytest.mark.usefixtures("catalogue")
    def test_start_method_with_thread_mode_is_refused(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A start method makes no sense for --mode thread."""
        status, _, err = run_cli(
            capsys, "run", "shared-global", "--mode", "thread", "--start-method", "spawn"
        )
        assert status == 2
        assert "'spawn' applies to process mode, not to --mode thread" in err

    @pytest.mark.usefixtures("catalogue")
    def test_unknown_mode_is_named(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--mode accepts thread, process or both."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--mode", "fiber")
        assert status == 2
        assert "argument --mode: invalid choice: 'fiber'" in err

    @pytest.mark.usefixtures("catalogue")
    def test_plot_suffix_is_checked(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--plot refuses a file type it cannot draw, before running anything."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--plot", "chart.gif")
        assert status == 2
        assert "argument --plot: cannot write 'chart.gif'" in err

    @pytest.mark.usefixtures("catalogue")
    def test_timeline_folder_must_exist(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """--timeline into a missing folder is a usage error naming the folder."""
        target = tmp_path / "missing" / "t.json"
        status, _, err = run_cli(capsys, "run", "shared-global", "--timeline", str(target))
        assert status == 2
        assert f"folder '{tmp_path / 'missing'}' does not exist" in err

    @pytest.mark.usefixtures("catalogue")
    def test_demo_timeout_must_be_positive(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--demo-timeout 0 is refused with the value."""
        status, _, err = run_cli(capsys, "tour", "--demo-timeout", "0")
        assert status == 2
        assert "invalid timeout '0'" in err


class TestList:
    @pytest.mark.usefixtures("catalogue")
    def test_groups_by_theme_in_theme_order(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Theme headings appear in THEMES order, each followed by its demos."""
        status, out, _ = run_cli(capsys, "list")
        assert status == 0
        headings = [demos.THEMES[t] for t in ("basics", "lifecycle", "hazards", "sharing")]
        positions = [out.index(h) for h in headings]
        assert positions == sorted(positions)
        assert out.index("shared-global") < out.index(demos.THEMES["lifecycle"])

    @pytest.mark.usefixtures("catalogue")
    def test_shows_slug_and_lesson(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Each demo gets one line: slug, then lesson."""
        _, out, _ = run_cli(capsys, "list")
        assert any(
            line.split() == ["pid-report", "lesson", "of", "pid-report"]
            for line in out.splitlines()
        )

    @pytest.mark.usefixtures("catalogue")
    def test_json_lists_every_demo(self, capsys: pytest.CaptureFixture[str]) -> None:
        """list --json gives slug, title, theme and lesson per demo."""
        _, out, _ = run_cli(capsys, "list", "--json")
        entries = json.loads(out)
        assert [e["slug"] for e in entries] == [d.slug for d in FAKES]
        assert set(entries[0]) == {"slug", "title", "theme", "lesson"}


class TestRunJson:
    @pytest.mark.usefixtures("catalogue")
    def test_both_modes_thread_first(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The default runs thread then process, one object with demo and runs."""
        status, out, _ = run_cli(capsys, "run", "shared-global", "--json")
        document = json.loads(out)
        assert status == 0
        assert document["demo"] == "shared-global"
        assert [(r["mode"], r["start_method"]) for r in document["runs"]] == [
            ("thread", None), ("process", default_start_method()),
        ]
        assert document["runs"][0]["observed"]["values"] == [1, 2, 3]
        assert document["runs"][1]["observed"]["values"] == [1, 1, 1]

    @pytest.mark.usefixtures("catalogue")
    def test_start_method_reaches_the_demo(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--mode process --start-method spawn runs one process-mode run with spawn."""
        _, out, _ = run_cli(
            capsys, "run", "shared-global", "--mode", "process", "--start-method", "spawn",
            "--json",
        )
        (run,) = json.loads(out)["runs"]
        assert (run["start_method"], run["observed"]["start_method"]) == ("spawn", "spawn")

    @pytest.mark.usefixtures("catalogue")
    def test_workers_reach_the_demo(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--workers N is passed to the demo's run()."""
        _, out, _ = run_cli(capsys, "run", "shared-global", "--mode", "thread", "--workers",
                            "5", "--json")
        assert json.loads(out)["runs"][0]["observed"]["workers"] == 5

    @pytest.mark.usefixtures("catalogue")
    def test_broken_run_is_reported_in_the_object(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A demo that raises exits 1; its run carries the error, the other run its result."""
        status, out, err = run_cli(capsys, "run", "exit-codes", "--json")
        thread_run, process_run = json.loads(out)["runs"]
        assert status == 1
        assert thread_run["observed"] == {"summary": "fine"}
        assert process_run["observed"] is None
        assert process_run["error"] == "RuntimeError: boom in process mode"
        assert "demo 'exit-codes' broke in process" in err


class TestRunHuman:
    @pytest.mark.usefixtures("catalogue")
    def test_modes_side_by_side(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The table has a column per mode and a row per observation, values side by side."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        header = next(line for line in out.splitlines() if "thread (" in line)
        assert f"process[{default_start_method()}] (" in header
        values = next(line for line in out.splitlines() if "values" in line)
        assert values.split() == ["*", "values", "[1,", "2,", "3]", "[1,", "1,", "1]"]

    @pytest.mark.usefixtures("catalogue")
    def test_identical_rows_are_not_marked(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Only rows that differ between modes carry the * mark."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        same = next(line for line in out.splitlines() if line.strip().startswith("same"))
        assert not same.startswith("*")

    @pytest.mark.usefixtures("catalogue")
    def test_nested_keys_are_indented(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A nested dict becomes a heading row with indented sub-rows."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        lines = out.splitlines()
        index = next(i for i, line in enumerate(lines) if line.strip() == "nested")
        assert lines[index + 1].split()[:2] == ["*", "shared"]
        assert lines[index + 2].strip() == "deeper"
        assert lines[index + 3].split() == ["same", "yes", "yes"]

    @pytest.mark.usefixtures("catalogue")
    def test_records_line_up_by_their_first_field(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A list of records named by their first field gets one row per record."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        second = next(line for line in out.splitlines() if "second" in line)
        assert second.split() == [
            "*", "second", "seen:", "2,", "by:", "thread", "seen:", "1,", "by:", "process",
        ]

    @pytest.mark.usefixtures("catalogue")
    def test_long_key_wraps_with_its_mark_and_value(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A key wider than its column wraps; mark, key start and values share the first line."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        first = next(line for line in out.splitlines() if "an observation" in line)
        assert first.startswith("* an observation with")
        assert first.split()[-2:] == ["thread", "process"]

    def test_keys_become_labels(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """Observation keys are shown as words: no underscores, seconds as '(s)'."""
        catalogue(make_demo("timed", lambda mode, workers=None: {"wall_s": 0.5, "late_set": 1}))
        _, out, _ = run_cli(capsys, "run", "timed")
        labels = [line.split("  ")[1] for line in out.splitlines()[3:5]]
        assert labels == ["wall (s)", "late set"]
        assert "_" not in "".join(out.splitlines()[3:5])

    @pytest.mark.usefixtures("catalogue")
    def test_lesson_and_varies_under_the_table(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The lesson is the last table line; the 'varies' note comes just before it."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        assert "Varies: not really\nLesson: lesson of shared-global\n" in out

    @pytest.mark.usefixtures("catalogue")
    def test_summary_comes_first(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The summary row is the first row under the header."""
        _, out, _ = run_cli(capsys, "run", "shared-global")
        assert out.splitlines()[3].split()[:2] == ["*", "summary"]

    @pytest.mark.usefixtures("catalogue")
    def test_single_mode_has_one_column(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--mode thread shows only the thread column, without difference marks."""
        status, out, _ = run_cli(capsys, "run", "shared-global", "--mode", "thread")
        assert status == 0
        assert "process[" not in out
        assert "* " not in out

    @pytest.mark.parametrize(
        ("slug", "message"),
        [
            ("returns-list", "TypeError: run() returned list, not a dict of observations"),
            ("returns-set", "the observations are not JSON-serialisable"),
            ("bad-timeline", "span lacks 'end'"),
        ],
    )
    @pytest.mark.usefixtures("catalogue")
    def test_contract_breaches_break_the_demo(
        self, capsys: pytest.CaptureFixture[str], slug: str, message: str
    ) -> None:
        """Results that break the demo contract count as a broken demo, exit 1."""
        status, _, err = run_cli(capsys, "run", slug)
        assert status == 1
        assert f"demo {slug!r} broke in thread mode" in err
        assert message in err

    @pytest.mark.usefixtures("catalogue")
    def test_ctrl_c_exits_130(self, capsys: pytest.CaptureFixture[str]) -> None:
        """KeyboardInterrupt inside a demo ends the command with status 130, no traceback."""
        status, _, err = run_cli(capsys, "run", "ctrl-c")
        assert status == 130
        assert err.strip() == "concur-lab: interrupted"

    @pytest.mark.usefixtures("catalogue")
    def test_ctrl_c_wins_over_failed_cleanup(self, capsys: pytest.CaptureFixture[str]) -> None:
        """An error raised while Ctrl-C unwinds the demo still counts as an interrupt."""
        status, _, err = run_cli(capsys, "run", "ctrl-c-cleanup")
        assert status == 130
        assert err.strip() == "concur-lab: interrupted"


class TestRunPictures:
    @pytest.mark.usefixtures("catalogue")
    def test_timeline_writes_trace_events(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """--timeline writes a trace with one process per mode."""
        path = tmp_path / "t.json"
        status, out, _ = run_cli(capsys, "run", "shared-global", "--timeline", str(path))
        trace = json.loads(path.read_text(encoding="utf-8"))
        names = [e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"]
        assert status == 0
        assert names == ["thread mode", f"process[{default_start_method()}] mode"]
        assert f"timeline written to {path}" in out

    @pytest.mark.usefixtures("catalogue")
    def test_json_mode_keeps_notes_off_stdout(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """With --json the 'written to' note goes to stderr, so stdout stays one object."""
        path = tmp_path / "t.json"
        _, out, err = run_cli(capsys, "run", "shared-global", "--json", "--timeline", str(path))
        json.loads(out)
        assert "timeline written to" in err

    @pytest.mark.usefixtures("catalogue")
    def test_plot_writes_a_chart(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """--plot draws both modes into a PNG."""
        pytest.importorskip("matplotlib")
        path = tmp_path / "chart.png"
        status, out, _ = run_cli(capsys, "run", "shared-global", "--plot", str(path))
        assert status == 0
        assert path.read_bytes().startswith(b"\x89PNG")
        assert f"chart written to {path}" in out

    @pytest.mark.usefixtures("catalogue")
    def test_plot_without_timeline_explains(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A demo that records no timeline cannot be drawn: exit 2, and no file."""
        pytest.importorskip("matplotlib")  # without it, --plot is refused for that first
        path = tmp_path / "chart.png"
        status, _, err = run_cli(capsys, "run", "pid-report", "--plot", str(path))
        assert status == 2
        assert "demo 'pid-report' records no timeline" in err
        assert not path.exists()

    @pytest.mark.usefixtures("catalogue")
    def test_no_picture_complaint_when_every_run_broke(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """If no run succeeded, only the breakage is reported, not a missing timeline."""
        status, _, err = run_cli(
            capsys, "run", "returns-list", "--timeline", str(tmp_path / "t.json")
        )
        assert status == 1
        assert "records no timeline" not in err

    @pytest.mark.usefixtures("catalogue")
    def test_plot_without_matplotlib_says_how_to_install(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        """Without matplotlib, --plot is refused up front with the pip command."""
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        status, out, err = run_cli(
            capsys, "run", "shared-global", "--plot", str(tmp_path / "c.png")
        )
        assert status == 2
        assert out == ""
        assert 'pip install "concur-lab[plot]"' in err


class TestTimes:
    def test_run_header_shows_the_reported_attempt(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """run's column headers give the kept run's time and the tries, not their sum."""
        catalogue(make_demo("gil-cpu-bound", retried, theme="performance"))
        _, out, _ = run_cli(capsys, "run", "gil-cpu-bound")
        header = out.splitlines()[1].split()
        assert header[:2] == ["thread", "(0.40"]
        assert "(0.40 s, best of 3 tries)" in out.splitlines()[1]

    def test_tour_progress_shows_the_reported_attempt(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """The tour's progress line gives the kept run's time and the number of tries."""
        catalogue(make_demo("gil-cpu-bound", retried, theme="performance"))
        _, out, _ = run_cli(capsys, "tour")
        line = next(line for line in out.splitlines() if line.startswith("[1/1]"))
        assert "thread 0.40 s  process 0.40 s, best of 3 tries  ok" in line

    def test_json_keeps_the_total_and_the_attempt(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """run --json gives the reported run's time and the tries beside the total."""
        catalogue(make_demo("gil-cpu-bound", retried, theme="performance"))
        _, out, _ = run_cli(capsys, "run", "gil-cpu-bound", "--json")
        process = json.loads(out)["runs"][1]
        assert (process["attempt_seconds"], process["attempts"]) == (0.4, 3)
        assert "seconds" in process


class TestTour:
    @pytest.fixture
    def healthy(self, catalogue: Callable[..., None]) -> None:
        """Only the fake demos that work."""
        catalogue(FAKES[0], FAKES[2], FAKES[1])

    @pytest.mark.usefixtures("healthy")
    def test_one_progress_line_per_demo(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Each demo gets a numbered line with both modes' times and a verdict."""
        status, out, _ = run_cli(capsys, "tour")
        lines = [line for line in out.splitlines() if line.startswith("[")]
        assert status == 0
        assert [line.split()[:2] for line in lines] == [
            ["[1/3]", "shared-global"], ["[2/3]", "pid-report"], ["[3/3]", "shared-memory"],
        ]
        assert all(" thread " in line and " process " in line for line in lines)
        assert all(line.endswith("ok") for line in lines)

    @pytest.mark.usefixtures("healthy")
    def test_closing_table_shows_what_differed(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """The table gives each mode's summary, or says nothing differed."""
        _, out, _ = run_cli(capsys, "tour")
        table = out.split("What differed between the modes", 1)[1]
        assert "threads saw [1, 2, 3]" in table
        assert "processs saw [1, 1, 1]" in table
        pid_line = next(line for line in table.splitlines() if "pid-report" in line)
        assert pid_line.split()[1:] == ["same", "in", "both", "modes"]

    @pytest.mark.usefixtures("healthy")
    def test_differing_rows_are_marked_and_counted(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Rows whose modes differ start with '*', and a footer counts them."""
        _, out, _ = run_cli(capsys, "tour")
        table = out.split("What differed between the modes", 1)[1]
        marked = [line.split()[1] for line in table.splitlines() if line.startswith("* ")]
        assert marked == ["shared-global"]
        assert "1 of 3 demos differed between the modes (marked *)." in table

    def test_equal_summaries_are_merged_and_busy_runs_tagged(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """One summary for both modes is printed once; a busy machine is tagged (busy)."""

        def busy(mode: Mode, workers: int | None = None) -> dict[str, Any]:
            return {"summary": "CPU/wall 1.0", "machine_busy": mode.kind == "process"}

        catalogue(make_demo("gil-cpu-bound", busy, theme="performance"))
        _, out, _ = run_cli(capsys, "tour")
        table = out.split("What differed between the modes", 1)[1]
        row = next(line for line in table.splitlines() if "gil-cpu-bound" in line)
        assert row.split() == ["gil-cpu-bound", "(busy)", "same", "in", "both", "modes:",
                               "CPU/wall", "1.0"]
        assert "0 of 1 demos differed" in table
        assert "(busy): other programs used the CPU during 1 demo that needs free cores" in table

    def test_only_chance_results_are_marked(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """'(may differ)' marks a demo whose numbers timing decides, not one that merely varies."""
        chance = make_demo("print-interleaving", no_timeline, theme="races")
        chance.module.BY_CHANCE = True  # type: ignore[attr-defined]
        catalogue(FAKES[0], chance)
        _, out, _ = run_cli(capsys, "tour")
        table = out.split("What differed between the modes", 1)[1]
        assert "print-interleaving (may differ)" in table
        assert "shared-global (" not in table
        assert "(varies)" not in table
        assert table.count("(may differ): timing decides these numbers") == 1

    def test_broken_demo_is_reported_and_the_tour_goes_on(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """A demo that raises is marked, later demos still run, and the status is 1."""
        catalogue(FAKES[3], FAKES[0])
        status, out, _ = run_cli(capsys, "tour")
        assert status == 1
        assert "BROKE in process" in out
        assert "[2/2] shared-global" in out
        assert out.rstrip().endswith("1 broke: exit-codes (see the traceback with "
                                     "'concur-lab run SLUG')")

    @pytest.mark.usefixtures("healthy")
    def test_json_goes_to_stdout_progress_to_stderr(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """tour --json prints one object with every run; progress lines go to stderr."""
        status, out, err = run_cli(capsys, "tour", "--json")
        document = json.loads(out)
        assert status == 0
        assert [entry["demo"] for entry in document["tour"]] == [
            "shared-global", "pid-report", "shared-memory",
        ]
        assert document["broken"] == []
        assert "[1/3] shared-global" in err


def wordy(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """A fake demo with long summaries, keys and values, as the real tour has."""
    words = "the workers saw one two three four five and the caller's global ended at five "
    return {
        "summary": f"{mode.kind}: " + words * 3,
        "a_rather_long_observation_name_for_a_key": words * 2,
        "records": [{"case": "sys.exit(256)", "exitcode": 0, "note": words}],
        "varies": words * 2,
    }


class TestWidth:
    @pytest.fixture
    def narrow(self, monkeypatch: pytest.MonkeyPatch, catalogue: Callable[..., None]) -> None:
        """An 80-column terminal and demos with long cells."""
        monkeypatch.setenv("COLUMNS", "80")
        catalogue(
            make_demo("a-demo-with-a-long-slug-name", wordy, timeline=False),
            make_demo("shared-global", shared_global, order=2, timeline=True),
        )

    @pytest.mark.usefixtures("narrow")
    @pytest.mark.parametrize(
        "argv", [("tour",), ("list",), ("run", "shared-global"),
                 ("run", "a-demo-with-a-long-slug-name")],
    )
    def test_every_line_fits_80_columns(
        self, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
    ) -> None:
        """At COLUMNS=80 no line of tour, list or run is wider than 80 columns."""
        status, out, _ = run_cli(capsys, *argv)
        assert status == 0
        assert max(len(line) for line in out.splitlines()) <= 80

    @pytest.mark.usefixtures("narrow")
    def test_narrow_tour_stacks_the_modes(self, capsys: pytest.CaptureFixture[str]) -> None:
        """In 80 columns the closing table puts each mode on its own lines under the demo."""
        _, out, _ = run_cli(capsys, "tour")
        table = out.split("What differed between the modes", 1)[1].splitlines()
        row = table.index("* shared-global")
        assert table[row + 1].split()[:3] == ["thread:", "threads", "saw"]
        assert any(line.split()[:1] == ["process[fork]:"] for line in table[row + 1:row + 4])

    def test_narrow_title_breaks_before_its_time(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A mode title too wide for its column puts its time on the next line, whole."""
        catalogue(make_demo("gil-cpu-bound", retried, theme="performance"))
        monkeypatch.setenv("COLUMNS", "80")
        _, out, _ = run_cli(capsys, "run", "gil-cpu-bound")
        assert out.splitlines()[1].split() == ["thread", "(0.40", "s)", "process[fork]"]
        assert out.splitlines()[2].split() == ["(0.40", "s,", "best", "of", "3", "tries)"]

    def test_wide_terminal_uses_its_width(
        self, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        catalogue: Callable[..., None],
    ) -> None:
        """A 160-column terminal puts the modes side by side and uses more than 100 columns."""
        catalogue(make_demo("a-demo-with-a-long-slug-name", wordy))
        monkeypatch.setenv("COLUMNS", "160")
        _, out, _ = run_cli(capsys, "tour")
        widths = [len(line) for line in out.splitlines()]
        assert 100 < max(widths) <= 160

    def test_real_commands_fit_80_columns(self) -> None:
        """The real list and a real run fit an 80-column terminal."""
        for argv in (["list"], ["run", "pid-report"]):
            done = cli(*argv, env={"COLUMNS": "80"})
            assert done.returncode == 0, done.stderr
            assert max(len(line) for line in done.stdout.splitlines()) <= 80, argv


GOOD_MODULE = """
SLUG = "fake-good"
TITLE = "Good"
THEME = "basics"
ORDER = 1
LESSON = "loads fine"


def run(mode, workers=None):
    return {"summary": f"good in {mode.kind}"}
"""


@pytest.fixture
def half_broken(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[None]:
    """A demo package with one good module, one syntax error and one unknown theme."""
    (tmp_path / "fake_good.py").write_text(GOOD_MODULE, encoding="utf-8")
    (tmp_path / "fake_bad.py").write_text("try, x:\n    pass\n", encoding="utf-8")
    (tmp_path / "fake_theme.py").write_text(
        GOOD_MODULE.replace("fake-good", "fake-theme").replace('"basics"', '"nowhere"'),
        encoding="utf-8",
    )

    def broken_registry() -> tuple[demos.Demo, ...]:
        raise SyntaxError("as the registry would")

    monkeypatch.setattr(demos, "_load", broken_registry)
    monkeypatch.setattr(demos, "__path__", [str(tmp_path)])
    monkeypatch.setenv("COLUMNS", "120")
    yield
    for name in ("fake_good", "fake_bad", "fake_theme"):
        sys.modules.pop(f"{demos.__name__}.{name}", None)


@pytest.mark.usefixtures("half_broken")
class TestBrokenModules:
    def test_tour_reports_the_module_and_runs_the_rest(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A module that does not import is a broken demo; the loadable ones still run."""
        status, out, _ = run_cli(capsys, "tour")
        assert status == 1
        assert "BROKE: demo module 'fake_bad' failed to load: SyntaxError" in out
        assert "[1/1] fake-good" in out
        assert "fake_bad (did not load)" in out

    def test_unknown_theme_is_a_load_error(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A module whose THEME is not in THEMES is reported, not silently hidden."""
        _, out, _ = run_cli(capsys, "tour")
        assert "'fake_theme' failed to load: ValueError: THEME 'nowhere' is not one of" in out

    def test_list_shows_the_rest_and_warns(self, capsys: pytest.CaptureFixture[str]) -> None:
        """list shows the loadable demos, warns about the others and exits 1."""
        status, out, err = run_cli(capsys, "list")
        assert status == 1
        assert "fake-good" in out
        assert "concur-lab: warning: demo module 'fake_bad' failed to load" in err

    def test_run_of_a_good_demo_still_works(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A loadable demo runs normally next to a broken module."""
        status, out, _ = run_cli(capsys, "run", "fake-good", "--json")
        assert status == 0
        assert json.loads(out)["runs"][0]["observed"] == {"summary": "good in thread"}


# -- end to end, in a child interpreter --------------------------------------------------

def cli(
    *argv: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run python -m concur_lab with *argv*, with *env* added to the environment."""
    return subprocess.run(
        [sys.executable, "-m", "concur_lab", *argv],
        capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, **(env or {})},
    )


FAKE_MAIN = textwrap.dedent(
    """
    import signal, sys, time, types
    from concur_lab import cli, demos

    # As in a terminal. A test run started in the background by a shell without job control
    # (`cmd &` in a script, as CI runners may do) inherits SIGINT ignored, and then Ctrl-C
    # never reaches the CLI: Python leaves an ignored SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    def slow(mode, workers=None):
        print("ready", flush=True)
        # Far longer than any test waits: a demo that ends by itself means a lost interrupt.
        time.sleep(3600)
        return {}

    def stubborn(mode, workers=None):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                time.sleep(60)
            except BaseException:
                pass
        return {}

    def quick(mode, workers=None):
        return {"summary": f"quick in {mode.kind}"}

    def demo(slug, run, order):
        module = types.ModuleType(slug)
        module.run = run
        return demos.Demo(slug, slug.title(), "basics", order, "lesson", module)

    catalogue = (demo("slow", slow, 1), demo("quick", quick, 2), demo("stubborn", stubborn, 3))
    demos._load = lambda: catalogue
    sys.exit(cli.main(sys.argv[1:]))
    """
)


@pytest.fixture
def slow_cli(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start a child CLI whose only demo prints 'ready' and sleeps; kill leftovers after."""
    script = tmp_path / "slow_cli.py"
    script.write_text(FAKE_MAIN, encoding="utf-8")
    children: list[subprocess.Popen[str]] = []

    def start(*argv: str) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, str(script), *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        children.append(child)
        return child

    yield start
    for child in children:
        if child.poll() is None:
            child.kill()
        child.communicate(timeout=30)


class TestEndToEnd:
    def test_unknown_slug_exits_2_without_traceback(self) -> None:
        """python -m concur_lab run with a bad slug: status 2, a usage message, no traceback."""
        result = cli("run", "no-such-demo")
        assert result.returncode == 2
        assert "python -m concur_lab run: error: unknown demo 'no-such-demo'" in result.stderr
        assert "Traceback" not in result.stderr

    def test_bad_workers_exits_2_without_traceback(self) -> None:
        """A negative --workers is a usage error naming the value."""
        result = cli("run", "process-api", "--workers", "-1")
        assert result.returncode == 2
        assert "invalid worker count '-1'" in result.stderr
        assert "Traceback" not in result.stderr

    def test_list_loads_the_real_catalogue(self) -> None:
        """list imports every real demo module and lists process-api under its theme."""
        result = cli("list")
        assert result.returncode == 0, result.stderr
        assert "process-api" in result.stdout
        assert demos.THEMES["basics"] in result.stdout

    def test_real_demo_json(self) -> None:
        """A real demo runs in both modes and prints the documented JSON shape."""
        result = cli("run", "shared-memory", "--json")
        assert result.returncode == 0, result.stderr
        document = json.loads(result.stdout)
        assert document["demo"] == "shared-memory"
        assert [run["mode"] for run in document["runs"]] == ["thread", "process"]
        assert all(isinstance(run["observed"], dict) for run in document["runs"])

    def test_real_gil_demo_timeline(self, tmp_path: Path) -> None:
        """gil-timeline's spans become a trace with both modes' workers running."""
        path = tmp_path / "gil.json"
        result = cli("run", "gil-timeline", "--timeline", str(path))
        assert result.returncode == 0, result.stderr
        events = json.loads(path.read_text(encoding="utf-8"))["traceEvents"]
        running = {(e["pid"], e["tid"]) for e in events if e["ph"] == "X" and e["cat"] == "running"}
        assert {pid for pid, _ in running} == {1, 2}
        assert all(len({tid for p, tid in running if p == pid}) >= 2 for pid in (1, 2))

    @pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
    def test_ctrl_c_exits_130_cleanly(self, slow_cli: Callable[..., subprocess.Popen[str]]) -> None:
        """SIGINT during a demo ends the CLI with status 130 and no traceback."""
        child = slow_cli("run", "slow", "--mode", "thread")
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signal.SIGINT)
        try:
            # Generous for a slow exit on a loaded machine; the demo itself sleeps an hour.
            out, err = child.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail("the CLI was still running 120 s after SIGINT: the interrupt was lost")
        # Its output says what went wrong if it did not stop as it should.
        assert (child.returncode, err.strip()) == (130, "concur-lab: interrupted"), out

    @pytest.mark.skipif(sys.platform == "win32", reason="interval timers are POSIX")
    def test_hung_demo_is_interrupted_and_the_tour_goes_on(
        self, slow_cli: Callable[..., subprocess.Popen[str]]
    ) -> None:
        """A demo past --demo-timeout is reported as hung; the next demo still runs."""
        child = slow_cli("tour", "--demo-timeout", "1")
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 1
        assert "BROKE in thread: hung: no result after 1 s, interrupted" in out
        assert any(line.startswith("[2/3] quick") and line.endswith("ok")
                   for line in out.splitlines())

    def test_stubborn_demo_hits_the_last_resort(
        self, slow_cli: Callable[..., subprocess.Popen[str]]
    ) -> None:
        """A demo that swallows the interruption is stopped by faulthandler, stacks dumped."""
        child = slow_cli("run", "stubborn", "--mode", "thread", "--demo-timeout", "1")
        _, err = child.communicate(timeout=120)
        assert child.returncode == 1
        assert "Timeout (0:00:02)!" in err
        assert "in stubborn" in err


class TestRefusedBeforeRunning:
    """Options a demo cannot honour are usage errors (exit 2) before the demo spends its time."""

    @staticmethod
    def counting_demo(slug: str, calls: list[str], **options: Any) -> demos.Demo:
        """A fake demo that records each call, with no timeline unless told."""

        def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
            calls.append(mode.kind)
            return {"value": 1}

        return make_demo(slug, run, **options)

    def test_workers_for_a_fixed_size_demo(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None]
    ) -> None:
        """--workers on a demo that always uses one worker names the demo and runs nothing."""
        calls: list[str] = []
        catalogue(self.counting_demo("fork-with-lock", calls, fixed_workers=1))
        status, _, err = run_cli(capsys, "run", "fork-with-lock", "--workers", "3")
        assert status == 2
        assert (
            "argument --workers: does not apply to demo 'fork-with-lock': it always uses "
            "1 worker (per case)"
        ) in err
        assert calls == []

    def test_plot_for_a_demo_without_timeline(
        self, capsys: pytest.CaptureFixture[str], catalogue: Callable[..., None], tmp_path: Path
    ) -> None:
        """--plot for a demo that records no timeline is refused before it runs."""
        calls: list[str] = []
        catalogue(
            self.counting_demo("exit-codes", calls),
            make_demo("shared-global", shared_global, timeline=True),
        )
        status, _, err = run_cli(capsys, "run", "exit-codes", "--plot", str(tmp_path / "c.png"))
        assert status == 2
        assert "argument --plot: demo 'exit-codes' records no timeline" in err
        assert "these do: shared-global" in err
        assert calls == []

    @pytest.mark.usefixtures("catalogue")
    def test_timeline_must_be_json(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--timeline writes JSON, so the file name must end in .json."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--timeline", "t.png")
        assert status == 2
        assert "argument --timeline: cannot write 't.png': the file name must end in .json" in err

    @pytest.mark.usefixtures("catalogue")
    def test_timeline_target_is_a_folder(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """A folder named like a .json file is refused up front, exit 2."""
        folder = tmp_path / "t.json"
        folder.mkdir()
        status, _, err = run_cli(capsys, "run", "shared-global", "--timeline", str(folder))
        assert status == 2
        assert f"argument --timeline: cannot write '{folder}': it is a folder" in err

    @pytest.mark.usefixtures("catalogue")
    @pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
    def test_unwritable_target(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A file that cannot be created (in /proc, even for root) is refused up front, exit 2."""
        status, _, err = run_cli(capsys, "run", "shared-global", "--plot", "/proc/concur.png")
        assert status == 2
        assert "argument --plot: cannot write '/proc/concur.png'" in err

    @pytest.mark.usefixtures("catalogue")
    def test_checking_leaves_no_file(
        self, capsys: pytest.CaptureFixture[str], tmp_path: Path
    ) -> None:
        """The write check removes the file it made: a run that broke leaves nothing behind."""
        target = tmp_path / "t.json"
        status, _, _ = run_cli(capsys, "run", "returns-list", "--timeline", str(target))
        assert status == 1
        assert not target.exists()
