"""Every demo's flags match what it does: TIMELINE and FIXED_WORKERS tell the CLI the truth."""

from __future__ import annotations

import pytest
from _observe import observe

from concur_lab.demos import Demo, all_demos, get_demo


@pytest.mark.parametrize("demo", all_demos(), ids=lambda d: d.slug)
def test_timeline_flag_matches_observations(demo: Demo) -> None:
    """A demo records a timeline exactly when it says so (the CLI refuses --plot otherwise)."""
    assert ("timeline" in observe(demo, "thread")) is demo.records_timeline


@pytest.mark.parametrize(
    "demo", [d for d in all_demos() if d.fixed_workers is not None], ids=lambda d: d.slug
)
def test_fixed_size_demos_still_check_workers(demo: Demo) -> None:
    """A demo that ignores --workers still rejects a worker count below 1, naming it."""
    with pytest.raises(ValueError, match="workers"):
        demo.observe("thread", workers=0)


@pytest.mark.parametrize("demo", all_demos(), ids=lambda d: d.slug)
def test_lesson_is_one_capitalised_line(demo: Demo) -> None:
    """Every LESSON starts with a capital letter and fits on one line."""
    assert demo.lesson[:1].isupper()
    assert "\n" not in demo.lesson


@pytest.mark.parametrize("slug", ["daemon", "join-rules", "process-api"])
def test_assert_based_checks_say_they_vary_with_optimize(slug: str) -> None:
    """Demos whose process-side check is an assert say that python -O strips it."""
    assert "python -O" in observe(get_demo(slug), "process")["varies"]
