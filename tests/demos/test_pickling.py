"""The pickling demo: only pickled copies cross a process boundary."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("pickling")


def test_threads_share_the_very_objects(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A thread consumes the caller's own generator and returns the same object; nothing pickled."""
    if concur_mode != "thread":
        pytest.skip("threads only")
    arg = observed["generator_argument"]
    assert arg["sum"] == 15
    assert arg["callers_generator_after"] == "exhausted"
    assert arg["returned_same_object"] is True
    assert arg["pickled_at_start"] is False
    assert observed["send_back"]["received"] == ["generator", "list"]


@pytest.mark.parametrize("start_method", available_start_methods())
def test_generator_argument_by_start_method(start_method: str) -> None:
    """Fork copies the generator, leaving the caller's untouched; spawn and forkserver refuse it."""
    arg = observe(DEMO, Mode.process(start_method))["generator_argument"]
    if start_method == "fork":
        assert arg["started"] is True
        assert arg["sum"] == 15
        assert arg["callers_generator_after"] == 1
        assert arg["pickled_at_start"] is False
    else:
        assert arg == {"started": False, "error": "TypeError: cannot pickle 'generator' object"}


@pytest.mark.parametrize("start_method", available_start_methods())
def test_list_argument_works_everywhere(start_method: str) -> None:
    """The fix, a list, reaches the worker; spawn and forkserver pickle it at start()."""
    arg = observe(DEMO, Mode.process(start_method))["list_argument"]
    assert arg["started"] is True
    assert arg["sum"] == 15
    assert arg["returned_same_object"] is False
    assert arg["pickled_at_start"] is (start_method != "fork")


def test_generator_sent_back_is_lost(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Through a process queue the generator silently vanishes; the list still arrives."""
    if concur_mode == "thread":
        pytest.skip("a thread's queue does not pickle")
    sent = observed["send_back"]
    assert sent["received"] == ["list"]
    assert sent["worker_stderr"] == "TypeError: cannot pickle 'generator' object"


def test_dill_pickles_what_pickle_refuses(observed: dict[str, Any]) -> None:
    """The standard pickle refuses a lambda; dill, used by multiprocess, accepts it."""
    assert "raised" in observed["stdlib_pickle_lambda"]
    assert observed["dill_pickle_lambda"] == {"returned": True}


def test_stdlib_lambda_target_fails_in_start(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Standard-library spawn/forkserver cannot pickle a lambda target: start() raises."""
    if concur_mode == "thread":
        assert "stdlib_multiprocessing_lambda_target" not in observed
        return
    seen = observed["stdlib_multiprocessing_lambda_target"]
    for method in ("spawn", "forkserver"):
        if method in available_start_methods():
            raised = ("start() raised PicklingError", "start() raised AttributeError")
            assert seen[method].startswith(raised)
            assert "lambda" in seen[method]
