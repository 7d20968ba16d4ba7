"""Run a ``concur``-marked test's body in workers and turn their outcomes into one test outcome.

pytest sets fixtures up once in the parent; :func:`run_marked_test` takes over
``pytest_pyfunc_call`` (``item.obj`` is never replaced, so string ``skipif`` conditions and the
module's globals stay as they are), runs the body in the item's workers with the resolved fixture
values, and raises what the test's outcome should be:

* every worker passed: nothing;
* every worker skipped (or called ``pytest.xfail``): the first worker's own exception;
* the failed workers all raised the same type of exception (one worker, or several that agree):
  the first one's own exception, so pytest's usual look (assertion detail), ``xfail(raises=...)``
  and ``pytest.fail(pytrace=False)`` all work; notes name the other workers and what they raised;
* different failures: one exception group with an entry per worker, labelled with index and mode;
* some workers skipped while others did not: a failure that says which skipped.
"""

from __future__ import annotations

import contextlib
import inspect
import re
import threading
import unittest
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

import pytest

from pytest_concur._body import Body, worker_values
from pytest_concur._collect import index_fixture_names, item_kind, settings_for
from pytest_concur._engine import Mode, SendError, WorkerOutcome, reemit_warnings, run_outcomes
from pytest_concur._gil import GilWatch
from pytest_concur._module_state import ModuleState
from pytest_concur._options import SETTINGS_KEY

__all__ = [
    "HEADLINE_KEY",
    "INTERRUPTED_KEY",
    "IN_PARENT_KEY",
    "LEFT_RUNNING_IDENTS_KEY",
    "LEFT_RUNNING_KEY",
    "OUTCOMES_KEY",
    "PLAIN_KEY",
    "RAN_KEY",
    "RESTORED_KEY",
    "UNSAFE_KEY",
    "PartialOutcomeError",
    "RunPlainly",
    "add_output_sections",
    "fail_plainly",
    "failure_headline",
    "raise_for_test",
    "run_body",
    "run_marked_test",
]

OUTCOMES_KEY = pytest.StashKey[list[WorkerOutcome[Any]]]()
"""The worker outcomes of a marked test's last run, on ``item.stash``."""

HEADLINE_KEY = pytest.StashKey[str]()
"""The one-line summary of a marked test's failure (see :func:`failure_headline`)."""

INTERRUPTED_KEY = pytest.StashKey[frozenset[int]]()
"""Idents of worker threads left running when a run was interrupted (e.g. by pytest-timeout)."""

_KWARG_RE = re.compile(r"""^kwargs\[['"](?P<name>[^'"]+)['"]\]""")


class PartialOutcomeError(AssertionError):
    """Some workers skipped (or xfailed) while others did not: the test is inconsistent."""


def _send_error_message(exc: SendError, mode: Mode) -> str:
    what = getattr(exc, "what", "") or ""
    match = _KWARG_RE.match(what)
    subject = f"fixture {match['name']!r}" if match else (what or "the test")
    # Only the engine's cause: its own advice would repeat the one given here.
    cause = exc.__cause__
    reason = f"{type(cause).__name__}: {cause}" if cause is not None else str(exc)
    return (
        f"concur: cannot send {subject} to {mode.label} workers: {reason}\n"
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
    # unittest's own skip too: a TestCase method's workers may call self.skipTest().
    return isinstance(exc, pytest.skip.Exception | unittest.SkipTest)


def _is_xfail(exc: BaseException | None) -> bool:
    return isinstance(exc, pytest.xfail.Exception)


def _plain_text(error: BaseException) -> str:
    notes = getattr(error, "__notes__", None) or []
    return "\n".join([f"{type(error).__name__}: {error}", *map(str, notes)])


def _exception_line(error: BaseException) -> str:
    """Return ``"ValueError: bad"``: the type and the first line of the message."""
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def failure_headline(outcomes: Sequence[WorkerOutcome[Any]]) -> str | None:
    """Return the one line that sums up a marked test's failure, or ``None`` if none failed.

    It is the first failing worker's own error line, ``"AssertionError: assert 0 == 3 (worker 1
    of 4)"``; for a crash or a hang, the :class:`~concur_lab.WorkerCrashed` or
    :class:`~concur_lab.WorkerTimeout` line, which names the worker itself. Skips and xfails in
    every worker are not failures; a partial skip is summed up as such.
    """
    failed = [o for o in outcomes if not o.ok]
    real = [o for o in failed if not (_is_skip(o.exception) or _is_xfail(o.exception))]
    if not real:
        if not failed or len(failed) == len(outcomes):
            return None
        return (
            f"PartialOutcomeError: {len(failed)} of {len(outcomes)} workers called pytest.skip "
            "or pytest.xfail while the others did not"
        )
    first = real[0]
    if first.status == "raised" and first.exception is not None:
        return f"{_exception_line(first.exception)} (worker {first.index} of {first.n})"
    error = first.error
    assert error is not None
    return _exception_line(error)


def _fold_notes_into_message(error: BaseException) -> None:
    # pytest shows a pytrace=False failure as its message alone, without notes: carry them in it.
    if not isinstance(error, pytest.fail.Exception) or error.pytrace:
        return
    notes = getattr(error, "__notes__", None)
    if notes:
        error.msg = "\n".join([str(error.msg or ""), *map(str, notes)])
        del error.__notes__


def _same_failure(failed: Sequence[WorkerOutcome[Any]]) -> bool:
    """Whether every failed worker raised an exception of one and the same type."""
    types = {type(o.exception) for o in failed if o.status == "raised"}
    return len(types) == 1 and all(o.status == "raised" for o in failed)


def _raise_first_of_same(failed: Sequence[WorkerOutcome[Any]]) -> None:
    __tracebackhide__ = True
    error = failed[0].error
    assert error is not None
    for other in failed[1:]:
        assert other.exception is not None
        with contextlib.suppress(AttributeError, TypeError):
            error.add_note(f"also failed in {other.label}: {_exception_line(other.exception)}")
    _fold_notes_into_message(error)
    raise error


def fail_plainly(message: str) -> NoReturn:
    """Fail the current test with *message* alone (``pytrace=False``).

    Deliberately without ``__tracebackhide__``: when every frame is hidden, pytest appends "All
    traceback entries are hidden" to the message, which here would only mislead.

    :raises pytest.fail.Exception: Always.
    """
    pytest.fail(message, pytrace=False)


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
    if not partial and _same_failure(failed):
        # One kind of failure: the first worker's own exception, so that pytest's usual look,
        # xfail(raises=...) and pytest.fail(pytrace=False) all work; notes name the others.
        _raise_first_of_same(failed)
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
    # A crash's or hang's error already carries the worker's stack as a note.
    errors += [o.error for o in failed if o not in partial and o.error is not None]
    if not target_raised:
        # Crashes, hangs, failed starts and partial skips have no traceback in the test's code:
        # the plugin's own frames would only hide the message and the worker's stack.
        mode = outcomes[0].mode.label
        title = f"{len(failed)} of {n} workers failed ({mode})"
        fail_plainly("\n\n".join([title, *map(_plain_text, errors)]))
    mode = outcomes[0].mode.label
    raise BaseExceptionGroup(f"{len(failed)} of {n} workers failed ({mode})", errors)


UNSAFE_KEY = pytest.StashKey[str]()
"""Why a concurrency item's body must not run in several workers of its mode (set at collection)."""

IN_PARENT_KEY = pytest.StashKey[bool]()
"""Set with :data:`UNSAFE_KEY` when the body must run in the test's own process: detected rules
are about state of the parent (warnings, capture, patches) that no worker would have."""

PLAIN_KEY = pytest.StashKey[str]()
"""Why a concurrency item's body ran once in the test's own process instead (set when run)."""

RAN_KEY = pytest.StashKey[tuple[int, int]]()
"""How many workers ran the body, and how many of them failed."""

LEFT_RUNNING_KEY = pytest.StashKey[tuple[str, ...]]()
"""Names of threads a thread-mode body started and left running when it returned."""

LEFT_RUNNING_IDENTS_KEY = pytest.StashKey[frozenset[int]]()
"""Their idents: the leak check has reported them already."""

RESTORED_KEY = pytest.StashKey[tuple[str, ...]]()
"""Shared module state a thread-mode body left changed, which was put back (_module_state)."""


class RunPlainly(Exception):
    """The body cannot run in workers; run it as plain pytest would (the reason is stashed)."""


class _RestoringState:
    """Around a thread-mode run: puts back the shared module state it left changed, and says so.

    A plain class rather than a generator context manager, which costs a measurable part of the
    plugin's overhead when entered once per test.
    """

    __slots__ = ("item", "state")

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.state = ModuleState.capture(getattr(item, "module", None))

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        restored = self.state.restore()
        if restored:
            self.item.stash[RESTORED_KEY] = tuple(restored)
            self.item.add_report_section(
                "call",
                "concur",
                "running the body in several threads at once left shared state changed; "
                "it was put back so that later tests do not see it:\n  " + "\n  ".join(restored),
            )


def run_body(
    item: pytest.Item,
    function: Callable[..., Any],
    testargs: Mapping[str, Any],
    kind: str,
    instance: object = None,
) -> None:
    """Run a concurrency test's body in its workers and raise the test's outcome.

    An item unsafe in its mode by its ``concur_unsafe`` marker runs in one worker of a process
    mode; every other unsafe item runs plainly (:class:`RunPlainly`).

    :raises RunPlainly: When the body must run in the test's own thread instead: it is unsafe
        in thread mode, or unsafe by a detected rule, or (under ``--concur-all``, for a test
        without the ``concur`` marker) a fixture value cannot be sent to process workers.
    :raises BaseException: The test's outcome, as described in this module's docstring.
    """
    __tracebackhide__ = True
    settings = settings_for(item)
    session = item.config.stash[SETTINGS_KEY]
    unsafe = item.stash.get(UNSAFE_KEY, None)
    if unsafe is not None and (kind == "thread" or item.stash.get(IN_PARENT_KEY, False)):
        raise RunPlainly
    workers = 1 if unsafe is not None else settings.workers
    iterations = 1 if unsafe is not None else settings.iterations
    mode = settings.mode(kind)
    values = worker_values(testargs, kind, iterations, index_fixture_names(item.config))
    body = Body(function, values, workers, instance)
    problem: str | None = None
    threads_before = {thread.ident for thread in threading.enumerate()}
    restoring = _RestoringState(item) if kind == "thread" else None
    gil = GilWatch.start(item, session.ignore_gil_enabled)
    try:
        with restoring or contextlib.nullcontext():
            outcomes = run_outcomes(
                body,
                workers,
                mode=mode,
                # The worker's own values replace these: the parent's are never sent.
                kwargs={name: v for name, v in testargs.items() if name not in values},
                worker_args=[(index,) for index in range(workers)],
                timeout=settings.timeout,
                iterations=iterations,
                # Set once the workers are past the start gate, not while they are started.
                switch_interval=session.switch_interval if kind == "thread" else None,
            )
            if gil is not None:
                gil.check()
    except SendError as exc:
        problem = _send_error_message(exc, mode)
    except BaseException:
        # Interrupted (pytest-timeout, Ctrl-C): the interruption's own report shows the
        # workers, so the leak check must not report the threads that cannot be killed again.
        started = {t.ident for t in threading.enumerate()} - threads_before
        item.stash[INTERRUPTED_KEY] = frozenset(i for i in started if i is not None)
        raise
    if problem is not None:
        if item.get_closest_marker("concur") is None:
            # --concur-all: a test nobody wrote for workers runs as it would without us.
            item.stash[PLAIN_KEY] = problem.splitlines()[0].removeprefix("concur: ")
            raise RunPlainly
        fail_plainly(problem)
    item.stash[OUTCOMES_KEY] = outcomes
    item.stash[RAN_KEY] = (len(outcomes), sum(not o.ok for o in outcomes))
    if kind == "thread":
        _note_threads_left_running(item, threads_before, outcomes)
    headline = failure_headline(outcomes)
    if headline is not None:
        item.stash[HEADLINE_KEY] = headline
    add_output_sections(item, outcomes)
    # Process workers record their warnings under this test's filters; issued again here they
    # reach pytest's warnings summary (thread workers' warnings went there directly).
    reemit_warnings(outcomes)
    if instance is None and any(o.ok and o.value is not None for o in outcomes):
        warnings.warn(
            pytest.PytestReturnNotNoneWarning(
                f"Test functions should return None, but {item.nodeid} returned "
                f"{type(next(o.value for o in outcomes if o.value is not None))!r}.\n"
                "Did you mean to use `assert` instead of `return`?\n"
                "See https://docs.pytest.org/en/stable/how-to/assert.html#return-not-none for "
                "more information."
            ),
            stacklevel=1,
        )
    raise_for_test(outcomes)


def _note_threads_left_running(
    item: pytest.Item, before: set[int | None], outcomes: Sequence[WorkerOutcome[Any]]
) -> None:
    """Note the threads the workers started that still run, as a process worker notes its own.

    Checked at once, as in process mode, so that the leak check reports the same in both modes
    whether or not the thread happens to end during teardown.
    """
    workers = {o.thread_ident for o in outcomes}
    left = [
        thread
        for thread in threading.enumerate()
        if thread.ident not in before and thread.ident not in workers and thread.is_alive()
    ]
    if left:
        item.stash[LEFT_RUNNING_KEY] = tuple(
            t.name + (" (daemon)" if t.daemon else "") for t in left
        )
        item.stash[LEFT_RUNNING_IDENTS_KEY] = frozenset(
            t.ident for t in left if t.ident is not None
        )


def run_marked_test(pyfuncitem: pytest.Function) -> bool | None:
    """Run a concurrency test's body in its workers (``pytest_pyfunc_call``).

    :returns: ``True`` when the call was handled, ``None`` for tests whose body does not run in
        workers, so pytest (or another plugin) calls them as usual.
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
        if pyfuncitem.get_closest_marker("concur") is None:
            pyfuncitem.stash[PLAIN_KEY] = "an async test: its event loop plugin runs it"
            return None
        fail_plainly(
            "concur: the concur marker runs plain functions only; an async test needs its "
            "own event loop plugin (use spawn_workers inside it instead)"
        )
    # What pytest's own pytest_pyfunc_call passes: the test's own arguments, not the closure.
    funcargs = pyfuncitem.funcargs
    testargs = {name: funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    try:
        run_body(pyfuncitem, function, testargs, kind)
    except RunPlainly:
        return None
    return True
