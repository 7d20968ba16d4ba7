"""The fork-with-lock demo: only a forked child inherits a held lock it can never take."""

from __future__ import annotations

import functools
import sys
from typing import Any

import pytest

from concur_lab import Mode, available_start_methods
from concur_lab.demos import get_demo

DEMO = get_demo("fork-with-lock")


@functools.cache
def _observe(mode: Mode) -> dict[str, Any]:
    return DEMO.observe(mode)


def test_worker_gets_the_lock_unless_forked(concur_mode: Mode) -> None:
    """Threads wait for the holder; a process gets the lock unless it was forked."""
    seen = _observe(concur_mode)
    forked = concur_mode.start_method == "fork"
    assert seen["would_deadlock"] is forked
    assert seen["after_release"]["plain"] is not forked
    if concur_mode == "thread":
        assert seen["while_held"] == {"plain": False, "fixed": False}


@pytest.mark.parametrize("start_method", available_start_methods())
def test_start_methods(start_method: str) -> None:
    """Fork copies the held lock locked; spawn and forkserver import a fresh, free one."""
    seen = _observe(Mode.process(start_method))
    if start_method == "fork":
        assert seen["while_held"]["plain"] is False
        assert seen["after_release"]["plain"] is False
    else:
        assert seen["while_held"] == seen["after_release"] == {"plain": True, "fixed": True}


@pytest.mark.skipif("fork" not in available_start_methods(), reason="needs fork")
def test_lock_renewed_at_fork_is_free() -> None:
    """The fix: a lock re-created by an after-fork hook is free in the child at once."""
    seen = _observe(Mode.process("fork"))
    assert seen["while_held"]["fixed"] is True
    assert seen["fixed_lock_ok"] is True


@pytest.mark.skipif("fork" not in available_start_methods(), reason="needs fork")
def test_fork_warning_on_recent_pythons() -> None:
    """Python 3.12+ warns when a process with other threads forks; older ones stay silent."""
    warning = _observe(Mode.process("fork"))["fork_warning"]
    if sys.version_info >= (3, 12):
        assert warning is not None
        assert "multi-threaded" in warning
    else:
        assert warning is None
