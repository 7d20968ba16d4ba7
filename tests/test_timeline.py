"""Tests for concur_lab.timeline: spans, trace-event export, coalescing and the Gantt chart."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from concur_lab.timeline import (
    ModeTimeline,
    PlotUnavailableError,
    Span,
    coalesce,
    headline,
    parse_spans,
    plot_gantt,
    to_trace_events,
    write_trace,
)


def taking_turns(workers: int = 2, total: float = 0.2, slice_: float = 0.005) -> ModeTimeline:
    """Synthetic GIL-style threads: one worker runs per slice, the others wait."""
    spans = []
    steps = round(total / slice_)
    for step in range(steps):
        start, end = step * slice_, (step + 1) * slice_
        for worker in range(workers):
            kind = "running" if worker == step % workers else "waiting"
            spans.append(Span(worker, "countdown", start, end, kind))
    return ModeTimeline("thread", tuple(spans))


def side_by_side(workers: int = 2, total: float = 0.1) -> ModeTimeline:
    """Synthetic processes: a short start-up, then every worker runs at once."""
    spans = []
    for worker in range(workers):
        spans.append(Span(worker, "start", 0.0, 0.01, "starting"))
        spans.append(Span(worker, "countdown", 0.01, total, "running"))
    return ModeTimeline("process[fork]", tuple(spans))


class TestSpan:
    def test_from_dict_reads_every_field(self) -> None:
        """A demo's span dict becomes a Span with float times."""
        span = Span.from_dict({"worker": 1, "name": "n", "start": 0, "end": 2, "kind": "waiting"})
        assert span == Span(1, "n", 0.0, 2.0, "waiting")

    def test_kind_defaults_to_running(self) -> None:
        """A span dict without 'kind' is a running span."""
        assert Span.from_dict({"worker": 0, "name": "n", "start": 0, "end": 1}).kind == "running"

    def test_missing_field_is_named_with_its_place(self) -> None:
        """A span lacking 'end' is rejected with the key and where it came from."""
        with pytest.raises(ValueError, match=r"timeline\[3\]: span lacks 'end'"):
            Span.from_dict({"worker": 0, "name": "n", "start": 0}, where="timeline[3]")

    def test_bool_worker_is_rejected(self) -> None:
        """A worker index must be an int, and True does not count."""
        with pytest.raises(ValueError, match="'worker' must be an int, got True"):
            Span.from_dict({"worker": True, "name": "n", "start": 0, "end": 1})

    def test_string_time_is_rejected(self) -> None:
        """Times must be numbers of seconds."""
        with pytest.raises(ValueError, match="'start' must be a number of seconds, got '0'"):
            Span.from_dict({"worker": 0, "name": "n", "start": "0", "end": 1})

    def test_end_before_start_is_rejected(self) -> None:
        """A span cannot end before it starts."""
        with pytest.raises(ValueError, match="ends before it starts"):
            Span(0, "n", 2.0, 1.0)

    def test_to_dict_round_trips(self) -> None:
        """to_dict gives back what from_dict reads."""
        span = Span(2, "io", 0.5, 0.75, "sleeping")
        assert Span.from_dict(span.to_dict()) == span


class TestParseSpans:
    def test_rejects_a_string(self) -> None:
        """A timeline must be a list, not a string (which is a sequence too)."""
        with pytest.raises(ValueError, match="thread timeline must be a list of spans, not str"):
            parse_spans("spans", where="thread timeline")

    def test_names_the_bad_item(self) -> None:
        """The failing item's index appears in the message."""
        good = {"worker": 0, "name": "n", "start": 0, "end": 1}
        with pytest.raises(ValueError, match=r"timeline\[1\]: a span must be a dict, not int"):
            parse_spans([good, 7])


class TestModeTimeline:
    def test_from_observations_requires_a_timeline(self) -> None:
        """Observations without a 'timeline' key cannot be drawn."""
        with pytest.raises(ValueError, match="the thread run recorded no timeline"):
            ModeTimeline.from_observations("thread", {"summary": "x"})

    def test_from_observations_parses_spans(self) -> None:
        """The 'timeline' list of a demo's observations becomes spans."""
        spans = [{"worker": 0, "name": "n", "start": 0.0, "end": 1.0, "kind": "running"}]
        timeline = ModeTimeline.from_observations("thread", {"timeline": spans})
        assert timeline.spans == (Span(0, "n", 0.0, 1.0),)

    def test_threads_taking_turns_run_one_at_a_time(self) -> None:
        """Alternating slices average one running worker."""
        assert taking_turns().mean_running() == pytest.approx(1.0)

    def test_processes_side_by_side_run_together(self) -> None:
        """Overlapping running spans average the number of workers."""
        assert side_by_side(workers=3).mean_running() == pytest.approx(3.0)

    def test_no_running_spans_means_zero(self) -> None:
        """A timeline with only waiting spans has nothing running."""
        assert ModeTimeline("thread", (Span(0, "n", 0, 1, "waiting"),)).mean_running() == 0.0


    def test_from_observations_reads_chart_hints(self) -> None:
        """A 'chart' dict sets the facts, time-boxing, zoom window, gridlines and busy note."""
        spans = [{"worker": 0, "name": "n", "start": 0, "end": 1}]
        chart = {
            "facts": ["CPU/wall 0.98"], "time_boxed": True, "window": [0.1, 0.2],
            "gridlines": 0.005, "gridline_label": "switch interval", "busy": "others used 1",
        }
        timeline = ModeTimeline.from_observations("thread", {"timeline": spans, "chart": chart})
        assert timeline.facts == ("CPU/wall 0.98",)
        assert timeline.time_boxed is True
        assert timeline.window == (0.1, 0.2)
        assert timeline.gridlines == 0.005
        assert timeline.busy == "others used 1"

    @pytest.mark.parametrize(
        ("chart", "message"),
        [
            (
                {"window": [0.2, 0.1]},
                r"\['window'\] must be \[start, end\] seconds, got \[0.2, 0.1\]",
            ),
            ({"facts": "x"}, r"\['facts'\] must be a list of strings, got 'x'"),
            ({"gridlines": 0}, r"\['gridlines'\] must be positive seconds, got 0"),
            ({"busy": 3}, r"\['busy'\] must be a string, got 3"),
        ],
    )
    def test_bad_chart_hints_are_named(self, chart: dict[str, object], message: str) -> None:
        """A malformed chart hint is an error naming the mode, the key and the value."""
        spans = [{"worker": 0, "name": "n", "start": 0, "end": 1}]
        with pytest.raises(ValueError, match=r"^thread observations\['chart'\]" + message):
            ModeTimeline.from_observations("thread", {"timeline": spans, "chart": chart})


class TestWorkerName:
    def test_own_name_is_added(self) -> None:
        """A worker whose spans share a name, like a PID, is labelled with it."""
        timeline = ModeTimeline("process[fork]", (Span(1, "process 4242", 0.0, 1.0),))
        assert timeline.worker_name(1) == "worker 1 (process 4242)"

    @pytest.mark.parametrize("name", ["Worker-1", "concur-worker-1", "worker_1"])
    def test_name_repeating_the_index_is_dropped(self, name: str) -> None:
        """'worker-1' and the like add nothing to 'worker 1'."""
        timeline = ModeTimeline("thread", (Span(1, name, 0.0, 1.0),))
        assert timeline.worker_name(1) == "worker 1"

    def test_task_name_shared_by_workers_is_dropped(self) -> None:
        """A name every worker carries names the task, not the worker."""
        timeline = ModeTimeline("thread", (Span(0, "spin", 0.0, 1.0), Span(1, "spin", 0.0, 1.0)))
        assert timeline.worker_name(0) == "worker 0"

    def test_mixed_names_are_dropped(self) -> None:
        """Spans with different names give no single name to show."""
        timeline = ModeTimeline("thread", (Span(0, "a", 0.0, 1.0), Span(0, "b", 1.0, 2.0)))
        assert timeline.worker_name(0) == "worker 0"


class TestHeadline:
    def test_states_the_gil_contrast(self) -> None:
        """Turn-taking threads and parallel processes are described in plain words."""
        text = headline([taking_turns(), side_by_side()])
        assert text == "Threads take turns, one at a time — processes run side by side"

    def test_partial_overlap_is_called_so(self) -> None:
        """Workers that overlap only part of the time are not called parallel."""
        spans = (Span(0, "a", 0.0, 1.0), Span(1, "a", 0.5, 1.5), Span(2, "a", 1.0, 2.0))
        assert headline([ModeTimeline("process[spawn]", spans)]) == "Processes partly overlap"

    def test_processes_starved_of_cpu_are_blamed_on_the_machine(self) -> None:
        """Processes that take turns while waiting say the machine was busy, not the GIL."""
        starved = ModeTimeline("process[fork]", taking_turns().spans)
        assert headline([starved]) == (
            "Processes waited for a free CPU (the machine was busy)"
        )

    def test_alike_modes_share_one_clause(self) -> None:
        """When threads and processes behaved alike, the headline says so once."""
        assert headline([side_by_side(), ModeTimeline("thread", side_by_side().spans)]) == (
            "Processes and threads both run side by side"
        )

    def test_partly_starved_processes_say_why(self) -> None:
        """Processes that overlap a little but mostly wait blame the busy machine."""
        spans = [Span(0, "p", 0.0, 0.3), Span(1, "p", 0.2, 0.5)]
        spans += [Span(0, "p", 0.3, 1.0, "waiting"), Span(1, "p", 0.5, 1.2, "waiting")]
        assert headline([ModeTimeline("process[fork]", tuple(spans))]) == (
            "Processes partly overlap (they often waited for a free CPU: the machine was busy)"
        )

    def test_io_bound_threads_wait_side_by_side(self) -> None:
        """Threads that mostly block say their I/O waits overlap although their CPU use does not."""
        spans = []
        for worker in range(2):
            spans.append(Span(worker, "io", 0.001 * worker, 0.001 * worker + 0.001, "running"))
            spans.append(Span(worker, "io", 0.002, 0.1, "blocked"))
        assert headline([ModeTimeline("thread", tuple(spans))]) == (
            "Threads take turns on the CPU but wait for I/O side by side"
        )


class TestOverlap:
    def test_turns_never_overlap(self) -> None:
        """Alternating running slices are never two at once."""
        assert taking_turns().overlap_fraction() == 0.0

    def test_parallel_workers_always_overlap(self) -> None:
        """Workers running over the same interval overlap all the time."""
        assert side_by_side().overlap_fraction() == pytest.approx(1.0)

    def test_other_kinds_can_be_chosen(self) -> None:
        """overlap_fraction counts the kinds it is given, here the waiting slices of 3 workers."""
        assert taking_turns(workers=3).overlap_fraction(("waiting",)) == pytest.approx(1.0)

    def test_waiting_fraction_of_turns(self) -> None:
        """Two workers taking turns each wait half the time."""
        assert taking_turns().waiting_fraction() == pytest.approx(0.5)


class TestTraceEvents:
    def test_one_trace_process_per_mode(self) -> None:
        """Each mode is a pid, named after its label, in the order given."""
        trace = to_trace_events([taking_turns(), side_by_side()])
        names = {
            e["pid"]: e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "process_name"
        }
        assert names == {1: "thread mode", 2: "process[fork] mode"}

    def test_one_trace_thread_per_worker(self) -> None:
        """Each worker is a tid named 'worker N'."""
        trace = to_trace_events([side_by_side(workers=3)])
        events = trace["traceEvents"]
        names = [(e["tid"], e["args"]["name"]) for e in events if e["name"] == "thread_name"]
        assert names == [(0, "worker 0"), (1, "worker 1"), (2, "worker 2")]

    def test_spans_are_complete_events_in_microseconds(self) -> None:
        """A span becomes an 'X' event in µs, named by kind, with its own name in args."""
        timeline = ModeTimeline("thread", (Span(1, "countdown", 0.25, 0.2505, "waiting"),))
        (event,) = [e for e in to_trace_events([timeline])["traceEvents"] if e["ph"] == "X"]
        assert (event["ts"], event["dur"]) == (250000.0, pytest.approx(500.0))
        assert (event["name"], event["args"]["span"], event["pid"], event["tid"]) == (
            "waiting", "countdown", 1, 1,
        )

    def test_write_trace_writes_loadable_json(self, tmp_path: Path) -> None:
        """The file holds the same object, with the demo name as other data."""
        path = tmp_path / "trace.json"
        write_trace(path, [taking_turns()], name="gil-timeline")
        loaded = json.loads(path.read_text(encoding="utf-8"))
        assert loaded == to_trace_events([taking_turns()], name="gil-timeline")
        assert loaded["otherData"] == {"demo": "gil-timeline"}


class TestCoalesce:
    def test_sub_pixel_slices_merge(self) -> None:
        """Hundreds of slices thinner than a cell become at most one bar per cell per worker."""
        spans = taking_turns(total=0.2, slice_=0.0001).spans  # 2000 slices per worker
        merged = coalesce(spans, resolution=0.01)
        assert len(merged) <= 2 * 20
        assert {s.worker for s in merged} == {0, 1}

    def test_long_spans_survive(self) -> None:
        """Spans much longer than a cell keep their kind, name and (cell-rounded) extent."""
        spans = side_by_side(total=1.0).spans
        merged = coalesce(spans, resolution=0.001)
        running = [s for s in merged if s.worker == 0 and s.kind == "running"]
        assert len(running) == 1
        assert running[0].name == "countdown"
        assert running[0].start == pytest.approx(0.01, abs=0.001)
        assert running[0].end == pytest.approx(1.0, abs=0.001)

    def test_tiny_span_stays_visible(self) -> None:
        """A lone span shorter than a cell is widened to one cell, not dropped."""
        merged = coalesce([Span(0, "blip", 0.5, 0.50001)], resolution=0.01)
        assert [(s.name, s.duration) for s in merged] == [("blip", pytest.approx(0.01))]

    def test_rejects_non_positive_resolution(self) -> None:
        """The cell size must be positive."""
        with pytest.raises(ValueError, match="resolution must be a positive number"):
            coalesce([], resolution=0.0)


class TestPlotGantt:
    def test_writes_a_png(self, tmp_path: Path) -> None:
        """A .png path gets a PNG image."""
        pytest.importorskip("matplotlib")
        path = tmp_path / "gil.png"
        plot_gantt(path, [taking_turns(), side_by_side()])
        assert path.read_bytes().startswith(b"\x89PNG")

    def test_svg_carries_title_lesson_axis_and_legend(self, tmp_path: Path) -> None:
        """The SVG's text states the headline, the subtitle, the unit and the kinds."""
        matplotlib = pytest.importorskip("matplotlib")
        path = tmp_path / "gil.svg"
        with matplotlib.rc_context({"svg.fonttype": "none"}):  # keep text as text
            plot_gantt(path, [taking_turns(), side_by_side()], subtitle="Threads share a GIL.")
        svg = path.read_text(encoding="utf-8")
        for text in (
            "Threads take turns, one at a time",
            "Threads share a GIL.",
            "time since the run started (ms)",
            "running (on a CPU)",
            "waiting (for a lock, a barrier or a CPU)",
            "worker 1",
        ):
            assert text in svg

    def test_svg_shows_split_waits_busy_note_and_gridlines(self, tmp_path: Path) -> None:
        """GIL and CPU waits get their own legend entries; a busy note and gridlines appear."""
        matplotlib = pytest.importorskip("matplotlib")
        spans = (
            Span(0, "t", 0.0, 0.005), Span(0, "t", 0.005, 0.01, "waiting-gil"),
            Span(1, "t", 0.0, 0.005, "waiting-cpu"), Span(1, "t", 0.005, 0.01),
        )
        timeline = ModeTimeline(
            "thread", spans, facts=("median slice 5.0 ms",), time_boxed=True,
            window=(0.002, 0.009), gridlines=0.002, gridline_label="switch interval",
            busy="1.2 of 2 cores",
        )
        path = tmp_path / "gil.svg"
        with matplotlib.rc_context({"svg.fonttype": "none"}):
            plot_gantt(path, [timeline])
        svg = path.read_text(encoding="utf-8")
        for text in (
            "waiting for the GIL (another thread ran)",
            "no free CPU (other programs ran)",
            "Machine busy: other programs used 1.2 of 2 cores during the thread run",
            "median slice 5.0 ms",
            "switch interval: every 2 ms",
            "zoom: 2–9 ms of 10 ms",
        ):
            assert text in svg
        assert "all done" not in svg

    def test_rejects_other_suffixes(self, tmp_path: Path) -> None:
        """Only .png, .svg and .pdf are drawn."""
        with pytest.raises(ValueError, match=r"gil\.jpg'.*must end in \.png, \.svg, \.pdf"):
            plot_gantt(tmp_path / "gil.jpg", [taking_turns()])

    def test_rejects_empty_timelines(self, tmp_path: Path) -> None:
        """There must be at least one span to draw."""
        with pytest.raises(ValueError, match="nothing to draw"):
            plot_gantt(tmp_path / "x.png", [ModeTimeline("thread", ())])

    def test_missing_matplotlib_says_how_to_install(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Without matplotlib the error names the plot extra."""
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        with pytest.raises(PlotUnavailableError, match=r'pip install "concur-lab\[plot\]"'):
            plot_gantt(tmp_path / "x.png", [taking_turns()])
        assert not (tmp_path / "x.png").exists()
