"""The process-api demo: Thread and Process constructor, methods and attributes, observed."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("process-api")


def test_constructor_parameters_match(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Thread and Process both take group, target, name, args, kwargs and keyword-only daemon."""
    expected = ["group", "target", "name", "args", "kwargs", "*daemon"]
    if concur_mode == "thread" and sys.version_info >= (3, 14):
        # 3.14 added Thread(context=...): the contextvars.Context the thread runs in.
        expected.append("*context")
    assert observed["parameters"] == expected


@pytest.mark.skipif(bool(sys.flags.optimize), reason="python -O strips the assert on group")
def test_group_must_be_none(observed: dict[str, Any]) -> None:
    """Group=None is accepted and anything else fails the constructor's assert."""
    assert "returned" in observed["group_none"]
    assert observed["group_other"] == {
        "raised": "AssertionError",
        "message": "group argument must be None for now",
    }


def test_args_not_a_tuple(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Args=(5) breaks a Process at construction but a Thread only once it runs."""
    seen = observed["args_not_a_tuple"]
    if concur_mode == "thread":
        assert "returned" in seen["construct"]
        assert seen["in_thread"]["type"] == "TypeError"
        assert "must be an iterable, not int" in seen["in_thread"]["message"]
    else:
        assert seen["construct"]["raised"] == "TypeError"
        assert "in_thread" not in seen


def test_worker_sees_its_arguments(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The worker receives args, kwargs and name; only a process has its own pid and the authkey."""
    seen = observed["worker_saw"]
    assert (seen["args"], seen["kwargs"], seen["name"]) == ([5, "x"], {"flag": True}, "api-demo")
    if concur_mode == "thread":
        assert seen["pid"] == "same as caller"
        assert seen["authkey_matches_parent"] is None
    else:
        assert seen["pid"] == "its own"
        assert seen["authkey_matches_parent"] is True


def test_lifecycle_states(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Nothing is alive before start or after join; a process's exitcode goes from None to 0."""
    before, after = observed["lifecycle"]["before_start"], observed["lifecycle"]["after_join"]
    assert not before["is_alive"]
    assert not after["is_alive"]
    if concur_mode == "process":
        assert (before["pid_set"], before["exitcode"]) == (False, None)
        assert (after["pid_set"], after["exitcode"]) == (True, 0)
    assert observed["join_again"] == {"returned": None}


def test_start_twice_fails(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """A worker can be started once: RuntimeError for threads, AssertionError for processes."""
    expected = "RuntimeError" if concur_mode == "thread" else "AssertionError"
    assert observed["start_twice"]["raised"] == expected


def test_run_called_directly_runs_in_caller(observed: dict[str, Any]) -> None:
    """Calling run() instead of start() runs the target in the caller and starts nothing."""
    assert observed["run_called_directly"] == {"ran_in_caller": True, "started": False}


def test_stopping_from_outside(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """Processes stop with exitcode -15 (terminate) and -9 (kill); threads have no such method."""
    assert observed["has"]["terminate"] is (concur_mode == "process")
    if concur_mode == "thread":
        assert "no such method" in observed["stopping"]["terminate"]
    else:
        assert observed["stopping"]["terminate"]["exitcode"] == -15
        assert observed["stopping"]["kill"]["exitcode"] == -9
        assert observed["after_close"]["raised"] == "ValueError"


def test_post_typos_are_syntax_errors(observed: dict[str, Any]) -> None:
    """A fullwidth comma or curly quotes in code are syntax errors; the ASCII line compiles."""
    typos = observed["post_typos"]
    assert typos["fullwidth comma"]["raised"] == "SyntaxError"
    assert "U+FF0C" in typos["fullwidth comma"]["message"]
    assert typos["curly quotes"]["raised"] == "SyntaxError"
    assert "U+201C" in typos["curly quotes"]["message"]
    assert "raised" not in typos["ascii"]


def test_post_omitted_names(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The blog post's lists leave out kill, close, ident and sentinel for processes."""
    if concur_mode == "process":
        assert set(observed["missing_from_post"]) == {"kill", "close", "ident", "sentinel"}
    else:
        assert set(observed["missing_from_post"]) == {"ident", "native_id"}


def test_rejects_zero_workers() -> None:
    """A worker count below 1 is refused with a message naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", 0)


def test_process_class_is_the_contexts(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The process class (e.g. ForkProcess) is the context's Process, not multiprocess.Process."""
    if concur_mode == "thread":
        assert "class_is" not in observed
        return
    assert observed["class_is"] == {
        "what": f"get_context({concur_mode.start_method!r}).Process",
        "same_as_multiprocess.Process": False,
        "both_derive_from_BaseProcess": True,
    }
