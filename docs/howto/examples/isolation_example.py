"""Tests whose outcome depends on the mode: what the isolation report is for."""

import pytest


def test_workers_append_to_my_list(spawn_workers):
    # Threads append to this very list; each process appends to its own copy.
    calls = []
    spawn_workers(calls.append, 3, args=("hello",))
    assert calls == ["hello", "hello", "hello"]


def test_results_come_back(spawn_workers):
    # Return values come back in both modes.
    assert spawn_workers(pow, 3, args=(2, 10)) == [1024, 1024, 1024]


@pytest.mark.concur(workers=4)
def test_counter_is_shared(shared_counter):
    # The body runs in 4 workers; each sees the same counter, threads or processes.
    assert 1 <= shared_counter.increment() <= 4


def test_plain():
    # Not a concurrency test: it runs once, with its usual id.
    assert True
