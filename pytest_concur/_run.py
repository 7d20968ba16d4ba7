"""Run a ``concur``-marked test's body in workers and turn their outcomes into one test outcome.

pytest sets fixtures up once in the parent; :func:`run_marked_test` takes over
``pytest_pyfunc_call`` (``item.obj`` is never replaced, so string ``skipif`` conditions and the
module's globals stay as they are), runs the body in the item's workers with the resolved fixture
values, and raises what the test's outcome should be:

* every worker passed: nothing;
* every worker skipped (or called ``pytest.xfail``): the first worker's own exception;
* one worker failed: its own exception, so pytest's usual look (assertion detail) is kept;
* several failed: one exception group with an entry per worker, labelled with index and mode;
* some workers skipped while others did not: a failure that says which skipped.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import pytest

from pytest_concur._collect import item_kind, settings_for
from pytest_concur._engine import Mode, SendError, WorkerOutcome, run_outcomes

__all__ = [
    "INTERRUPTED_KEY",
    "OUTCOMES_KEY",
    "PartialOutcomeError",
    "add_output_sections",
    "raise_for_test",
    "run_marked_test",
]

OUTCOMES_KEY = pytest.StashKey[list[WorkerOutcome[Any]]]()
"""The worker outcomes of a marked test's last run, on ``item.stash``."""

INTERRUPTED_KEY = pytest.StashKey[frozenset[int]]()
"""Idents of worker threads left running when a run was interrupted (e.g. by pytest-timeout)."""

_KWARG_RE = re.compile(r"""^kwargs\[['"](?P<name>[^'"]+)['"]\]""")


class PartialOutcomeError(AssertionError):
    """Some workers skipped (or xfailed) while others did not: the test is inconsistent."""


def _send_error_message(exc: SendError, mode: Mode) -> str:
    what = getattr(exc, "what", "") or ""
    match = _KWARG_RE.match(what)
    subject = f"fixture {match['name']!r}" if match else (what or "the test")
    return (
        f"concur: cannot send {subject} to {mode.label} workers: {exc}\n"
        "Fixture values travel to spawn and forkserver workers by pickling (dill); use "
        "--concur-start-method=fork (workers inherit the values) or thread mode "
        "(@pytest.mark.concur(modes='thread')) for this test."
    )


def add_output_sections(item: pytest.Item, outcomes: Sequence[WorkerOutcome[Any]]) -> None:
    """Add each worker's stdout, stderr and hang/crash stack as its own report section."""
    for outcome in outcomes:
        label = f"worker {outcome.index} of {outcome.n}, {outcome.mode.label}"
        for stream, text in (("stdout", outcome.stdout), ("stderr", outcome.stderr)):
            if text:
                item.add_report_section("call", f"{stream} [{label}]", text)


def _is_skip(exc: BaseException | None) -> bool:
    return isinstance(exc, pytest.skip.Exception)


def _is_xfail(exc: BaseException | None) -> bool:
    return isinstance(exc, pytest.xfail.Exception)


def _plain_text(error: BaseException) -> str:
    notes = getattr(error, "__notes__", None) or []
    return "\n".join([f"{type(error).__name__}: {error}", *map(str, notes)])


def _with_stack(outcome: WorkerOutcome[Any]) -> BaseException:
    error = outcome.error
    assert error is not None
    if outcome.stack and outcome.stack not in str(error):
        # A hang or crash is diagnosed by where the worker was; keep that next to the failure.
        with contextlib.suppress(AttributeError, TypeError):
            error.add_note(f"stack of {outcome.label}:\n{outcome.stack.rstrip()}")
    return error


def raise_for_test(outcomes: Sequence[WorkerOutcome[Any]]) -> None:
    """Raise the test outcome that *outcomes* amount to; return if every worker passed."""
    __tracebackhide__ = True
    failed = [o for o in outcomes if not o.ok]
    if not failed:
        return
    n = len(outcomes)
    for kind_check in (_is_skip, _is_xfail):
        if len(failed) == n and all(kind_check(o.exception) for o in failed):
            # All workers agree: the test is skipped (or xfailed) as if it ran once.
            raise failed[0].exception  # type: ignore[misc]
    errors: list[BaseException] = []
    partial = [o for o in failed if _is_skip(o.exception) or _is_xfail(o.exception)]
    if partial:
        verb = "skipped" if _is_skip(partial[0].exception) else "xfailed"
        others = n - len(partial)
        lines = [
            f"{len(partial)} of {n} workers ({outcomes[0].mode.label}) called pytest.skip or "
            f"pytest.xfail while {others} did not: a concurrency test must skip in every "
            "worker or in none"
        ]
        lines += [f"  worker {o.index} {verb}: {o.exception}" for o in partial]
        errors.append(PartialOutcomeError("\n".join(lines)))
    target_raised = [o for o in failed if o.status == "raised" and o not in partial]
    errors += [_with_stack(o) for o in failed if o not in partial]
    if not target_raised:
        # Crashes, hangs, failed starts and partial skips have no traceback in the test's code:
        # the plugin's own frames would only hide the message and the worker's stack.
        mode = outcomes[0].mode.label
        title = f"{len(failed)} of {n} workers failed ({mode})"
        pytest.fail("\n\n".join([title, *map(_plain_text, errors)]), pytrace=False)
    if len(errors) == 1:
        raise errors[0]
    mode = outcomes[0].mode.label
    raise BaseExceptionGroup(f"{len(failed)} of {n} workers failed ({mode})", errors)


def run_marked_test(pyfuncitem: pytest.Function) -> bool | None:
    """Run a marked test's body in its workers (``pytest_pyfunc_call``).

    :returns: ``True`` when the call was handled, ``None`` for tests that are not marked, so
        pytest (or another plugin) calls them as usual.
    :raises BaseException: The test's outcome, as described in this module's docstring.
    """
    __tracebackhide__ = True
    kind = item_kind(pyfuncitem)
    if kind is None:
        return None
    settings = settings_for(pyfuncitem)
    if not settings.marked:
        return None
    function = pyfuncitem.obj
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        pytest.fail(
            "concur: the concur marker runs plain functions only; an async test needs its "
            "own event loop plugin (use spawn_workers inside it instead)",
            pytrace=False,
        )
    # What pytest's own pytest_pyfunc_call passes: the test's own arguments, not the closure.
    funcargs = pyfuncitem.funcargs
    testargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    mode = settings.mode(kind)
    problem: str | None = None
    threads_before = {thread.ident for thread in threading.enumerate()}
    try:
        outcomes = run_outcomes(
            function, settings.workers, mode=mode, kwargs=testargs, timeout=settings.timeout
        )
    except SendError as exc:
        problem = _send_error_message(exc, mode)
    except BaseException:
        # Interrupted (pytest-timeout, Ctrl-C): the interruption's own report shows the
        # workers, so the leak check must not report the threads that cannot be killed again.
        started = {t.ident for t in threading.enumerate()} - threads_before
        pyfuncitem.stash[INTERRUPTED_KEY] = frozenset(i for i in started if i is not None)
        raise
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    pyfuncitem.stash[OUTCOMES_KEY] = outcomes
    add_output_sections(pyfuncitem, outcomes)
    if any(o.ok and o.value is not None for o in outcomes):
        warnings.warn(
            pytest.PytestReturnNotNoneWarning(
                f"Test functions should return None, but {pyfuncitem.nodeid} returned "
                f"{type(next(o.value for o in outcomes if o.value is not None))!r}.\n"
                "Did you mean to use `assert` instead of `return`?\n"
                "See https://docs.pytest.org/en/stable/how-to/assert.html#return-not-none for "
                "more information."
            ),
            stacklevel=1,
        )
    raise_for_test(outcomes)
    return True
