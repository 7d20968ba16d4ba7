"""The shared-memory demo: processes share only what lives in shared memory."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from concur_lab import Mode
from concur_lab.demos import get_demo

DEMO = get_demo("shared-memory")


def test_shared_stores_reach_the_caller(observed: dict[str, Any]) -> None:
    """Every worker's write reaches the caller through Array and SharedMemory in both modes."""
    reads = observed["caller_reads"]
    assert reads["array"] == reads["shared_memory"] == observed["written"] == [1, 2, 3]


def test_plain_list_only_for_threads(concur_mode: Mode, observed: dict[str, Any]) -> None:
    """The plain list is filled by threads and left untouched by processes."""
    expected = [1, 2, 3] if concur_mode == "thread" else [0, 0, 0]
    assert observed["caller_reads"]["plain_list"] == expected


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /dev/shm")
def test_block_unlinked(observed: dict[str, Any]) -> None:
    """The shared-memory block is gone after the run: nothing leaks."""
    assert observed["block_gone_after_unlink"] is True


def test_rejects_zero_workers() -> None:
    """Workers=0 is an error naming the value."""
    with pytest.raises(ValueError, match="at least 1, got 0"):
        DEMO.observe("thread", workers=0)
