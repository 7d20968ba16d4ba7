"""The pytest plugin: hooks and fixtures.

Loaded under this module's name by the ``pytest11`` entry point ``concur`` (through
:mod:`pytest_concur._entry_point`), by ``-p concur``, ``-p pytest_concur.plugin`` or
``pytest_plugins = ["pytest_concur.plugin"]``; whichever forms are combined, it is registered once.

Hooks stay thin: options live in :mod:`pytest_concur._options`, collection in
:mod:`pytest_concur._collect`, marker-driven runs in :mod:`pytest_concur._run`, the leak check in
:mod:`pytest_concur._leaks` and the reports in :mod:`pytest_concur._report`.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from pytest_concur._collect import (
    INDEX_NAMES_KEY,
    LATE_MARKER_KEY,
    NOT_CONCURRENT_PROPERTY,
    generate_tests,
    item_kind,
    prepare_items,
    settings_for,
)
from pytest_concur._engine import Mode, SharedCounter, WorkerOutcome, make_counter
from pytest_concur._leaks import (
    Snapshot,
    describe_leak,
    find_leaks,
    may_have_children,
    take_snapshot,
)
from pytest_concur._options import SETTINGS_KEY, add_options, settings_from_config
from pytest_concur._report import (
    RESTORED_PROPERTY,
    RESULTS_KEY,
    RUN_PROPERTY,
    collect_result,
    header_lines,
    record_report,
    terminal_summary,
    write_json_report,
)
from pytest_concur._run import (
    HEADLINE_KEY,
    INTERRUPTED_KEY,
    LEFT_RUNNING_IDENTS_KEY,
    LEFT_RUNNING_KEY,
    OUTCOMES_KEY,
    PLAIN_KEY,
    RAN_KEY,
    RESTORED_KEY,
    fail_plainly,
    run_marked_test,
)
from pytest_concur._spawn import WorkerSpawner
from pytest_concur._values import ConcurUsageError

__all__ = [
    "concur_iteration_index",
    "concur_mode",
    "concur_worker_index",
    "concur_workers",
    "shared_counter",
    "spawn_workers",
]

MARKER_HELP = (
    "concur(workers=None, modes=None, timeout=None, start_method=None, iterations=None): run "
    "the test body concurrently in `workers` workers (default --concur-workers; 'auto': the "
    "CPUs) of the item's mode, `iterations` times each; `modes` lists the modes the test "
    "supports (others are skipped); `timeout` and `start_method` override --concur-timeout and "
    "--concur-start-method"
)
UNSAFE_MARKER_HELP = (
    "concur_unsafe(reason=None, modes=None): in these modes (default: all) the test is not "
    "safe to run concurrently: its body runs once, in one worker (thread mode: in the test's "
    "own thread), or is skipped with --concur-skip-unsafe"
)
# pytest-run-parallel's markers, honoured as the thread-mode form; registered only when that
# plugin is not loaded (it registers them itself), so --strict-markers accepts an annotated suite.
PEER_MARKERS = (
    "thread_unsafe(reason=None): not safe to run in several threads (pytest-run-parallel; "
    "pytest-concur runs it once in thread mode)",
    "parallel_threads(n): run in n threads (pytest-run-parallel; n=1 means thread-unsafe to "
    "pytest-concur)",
    "parallel_threads_limit(n): at most n threads (pytest-run-parallel)",
    "force_parallel_threads(n): exactly n threads (pytest-run-parallel)",
    "iterations(n): run the body n times in each worker (pytest-run-parallel; honoured by "
    "pytest-concur)",
)
PEER_PLUGIN = "run-parallel"
PEER_INDEX_FIXTURES = frozenset({"thread_index", "iteration_index", "num_parallel_threads"})
OWN_INDEX_FIXTURES = frozenset({"concur_worker_index", "concur_iteration_index", "concur_workers"})

_SNAPSHOT_KEY = pytest.StashKey[Snapshot]()
_SPAWNERS_KEY = pytest.StashKey[list[WorkerSpawner]]()


@dataclass(slots=True)
class _Kept:
    """What wider-scoped fixtures started while being set up: never a test's leak."""

    threads: weakref.WeakSet[threading.Thread] = field(default_factory=weakref.WeakSet)
    children: set[int] = field(default_factory=set)


_KEPT_KEY = pytest.StashKey[_Kept]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``concur`` options and ini keys."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Validate the options, store the settings and register the ``concur`` marker."""
    config.addinivalue_line("markers", MARKER_HELP)
    config.addinivalue_line("markers", UNSAFE_MARKER_HELP)
    peer_loaded = config.pluginmanager.has_plugin(PEER_PLUGIN)
    if not peer_loaded:
        for line in PEER_MARKERS:
            config.addinivalue_line("markers", line)
        config.pluginmanager.register(_PeerIndexFixtures(), "concur-peer-index-fixtures")
    config.stash[INDEX_NAMES_KEY] = OWN_INDEX_FIXTURES | (
        frozenset() if peer_loaded else PEER_INDEX_FIXTURES
    )
    try:
        config.stash[SETTINGS_KEY] = settings_from_config(config)
    except ConcurUsageError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[RESULTS_KEY] = {}
    config.pluginmanager.register(_ResultCollector(config), "concur-results")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Show the modes, start method, workers, timeout and whether the GIL is enabled."""
    distributed = bool(
        config.getoption("numprocesses", None) or config.getoption("dist", "no") != "no"
    )
    return header_lines(config.stash[SETTINGS_KEY], distributed)


@pytest.hookimpl(trylast=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize concurrency tests over the selected modes (ids ``thread``/``process``).

    Last, so that the mode's id comes last in the item's id: the isolation report removes
    exactly that part to name the test.
    """
    generate_tests(metafunc)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make unittest methods per mode, skip unsupported modes, decide what is unsafe, tag items.

    Not tryfirst/trylast: after a conftest's own hook (which may add ``concur`` markers) and
    before pytest's ``-k``/``-m`` deselection, which then sees the items made here.
    """
    prepare_items(config, items)


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run a ``concur``-marked test's body in its workers; leave other tests to pytest."""
    __tracebackhide__ = True
    return run_marked_test(pyfuncitem)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Take the leak check's snapshot just before a concurrency test's fixtures are set up."""
    late = item.stash.get(LATE_MARKER_KEY, None)
    if late is not None:
        fail_plainly(late)
    if item_kind(item) is not None:
        # Before setup, so that a function-scoped fixture's forgotten thread is caught; what
        # wider-scoped fixtures start here is theirs to keep (see pytest_fixture_setup).
        item.stash[_SNAPSHOT_KEY] = take_snapshot()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_fixture_setup(
    fixturedef: pytest.FixtureDef[Any], request: pytest.FixtureRequest
) -> Generator[None, object, object]:
    """Remember what a module-, class-, package- or session-scoped fixture starts."""
    if fixturedef.scope == "function":
        return (yield)
    before = take_snapshot()
    try:
        return (yield)
    finally:
        # It may rightly keep a thread or server process running until the end of its scope.
        after = take_snapshot()
        started = after.threads - before.threads
        children = after.children - before.children
        if started or children:
            kept = request.config.stash.setdefault(_KEPT_KEY, _Kept())
            kept.threads.update(t for t in threading.enumerate() if t.ident in started)
            kept.children.update(children)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """After teardown, error if the test left a thread or process running."""
    try:
        result = yield
        _check_leaks(item)
        return result
    finally:
        # The leak check is the last reader of the workers' outcomes. Kept on the item, they
        # would keep every failed worker's exception alive, and with it the frames and locals of
        # its traceback, to the end of the session: on a suite with hundreds of failures, a
        # heap that makes every garbage collection (and so every later test) slower.
        if OUTCOMES_KEY in item.stash:
            del item.stash[OUTCOMES_KEY]
        if _SPAWNERS_KEY in item.stash:
            del item.stash[_SPAWNERS_KEY]


def _check_leaks(item: pytest.Item) -> None:
    """Fail *item* if it left a thread or process running."""
    snapshot = item.stash.get(_SNAPSHOT_KEY, None)
    if snapshot is None:
        return
    del item.stash[_SNAPSHOT_KEY]
    if _nothing_left(item, snapshot):
        return
    kept = item.config.stash.get(_KEPT_KEY, _Kept())
    # Thread objects, not idents: once a kept thread has ended, a new one may reuse its ident.
    kept_idents = {t.ident for t in kept.threads if t.is_alive() and t.ident is not None}
    before = Snapshot(snapshot.threads | kept_idents, snapshot.children | kept.children)
    ran: list[WorkerOutcome[Any]] = []
    if OUTCOMES_KEY in item.stash:
        own: list[WorkerOutcome[Any]] = item.stash[OUTCOMES_KEY]
        ran += own
    for spawner in item.stash.get(_SPAWNERS_KEY, []):
        ran += spawner.history
    hung = [o for o in ran if o.status == "timed_out"]
    interrupted = item.stash.get(INTERRUPTED_KEY, frozenset())
    leak = find_leaks(
        before,
        reported_threads=[
            *interrupted,
            *(o.thread_ident for o in hung if o.thread_ident is not None),
            *item.stash.get(LEFT_RUNNING_IDENTS_KEY, ()),
        ],
        reported_pids=[o.pid for o in hung if o.pid is not None and o.mode.kind == "process"],
        descendants=[(pid, command, o.label) for o in ran for pid, command in o.descendants],
        grace=item.config.stash[SETTINGS_KEY].leak_grace,
    )
    # One rule in both modes: a thread the body started and left running when it returned.
    # A process worker ends at once in that case (the thread would hold it until the deadline),
    # and the outcome names the thread; in thread mode the run noted the same (_run).
    leak.in_workers += [
        f"thread {_quoted_thread(name)}, started in {o.label}, was still running when the test "
        "body returned (the worker process ended it)"
        for o in ran
        for name in o.leaked_threads
    ]
    leak.in_workers += [
        f"thread {_quoted_thread(name)}, started in the thread workers, was still running when "
        "the test body returned"
        for name in item.stash.get(LEFT_RUNNING_KEY, ())
    ]
    if leak:
        fail_plainly(describe_leak(leak, item.nodeid))


def _nothing_left(item: pytest.Item, snapshot: Snapshot) -> bool:
    """Whether *item* certainly left nothing running: the usual case, decided cheaply.

    True when no worker reported a thread, process or hang of its own, this process has no
    thread that *snapshot* lacks, and the kernel says it has no child process at all. Anything
    else takes the full check (which waits out the grace and names what it finds).
    """
    if LEFT_RUNNING_KEY in item.stash or INTERRUPTED_KEY in item.stash:
        return False
    if item.stash.get(_SPAWNERS_KEY, None):
        return False
    for outcome in item.stash.get(OUTCOMES_KEY, ()):
        if outcome.status == "timed_out" or outcome.leaked_threads or outcome.descendants:
            return False
    known = snapshot.threads
    if any(thread.ident not in known for thread in threading.enumerate()):
        return False
    return not may_have_children()


def _quoted_thread(name: str) -> str:
    # The engine marks daemon threads by appending " (daemon)" to the name it reports.
    base, daemon, _ = name.partition(" (daemon)")
    return f"{base!r}{daemon}"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Sum up a marked test's failure in one line; record each concurrency item's outcome.

    The line (the first failing worker's own error) replaces the crash line that the short test
    summary, ``--junitxml`` and the isolation report show, which for an exception group would
    only say how many workers failed.
    """
    report = yield
    headline = item.stash.get(HEADLINE_KEY, None)
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.when == "call" and report.failed and headline is not None and crash is not None:
        crash.message = headline
    if report.when == "teardown":
        plain = item.stash.get(PLAIN_KEY, None)
        if plain is not None:
            report.user_properties.append((NOT_CONCURRENT_PROPERTY, plain))
        ran = item.stash.get(RAN_KEY, None)
        if ran is not None:
            report.user_properties.append((RUN_PROPERTY, f"{ran[0]}/{ran[1]}"))
        restored = item.stash.get(RESTORED_KEY, ())
        if restored:
            report.user_properties.append((RESTORED_PROPERTY, "\n".join(restored)))
    record_report(item, report)
    return report


class _ResultCollector:
    """Gathers per-mode outcomes from reports (local ones, or those of pytest-xdist workers).

    A plugin object because ``pytest_runtest_logreport`` is not given the config.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        collect_result(self.config, report)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    """Add the suite report and, when both modes ran, the thread-vs-process isolation report."""
    terminal_summary(terminalreporter, config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write ``--concur-report`` (in the pytest-xdist controller only, from every report)."""
    config = session.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or settings.report_path is None or hasattr(config, "workerinput"):
        return
    write_json_report(config, settings.report_path)


@pytest.fixture
def concur_mode(request: pytest.FixtureRequest) -> Mode:
    """Return the mode this test runs in: threads of this process, or child processes.

    Requesting it makes the test a concurrency test: it runs once per mode selected with
    ``--concur-mode`` (ids ``thread`` and ``process``). The value compares equal to ``"thread"``
    or ``"process"`` and has ``shares_memory`` (true only for threads) and ``start_method``
    (``fork``, ``forkserver`` or ``spawn`` for processes, ``None`` for threads).
    """
    settings = settings_for(request.node) if isinstance(request.node, pytest.Item) else None
    kind = getattr(request, "param", None)
    if kind is None:
        # Reached only through request.getfixturevalue, which pytest cannot parametrize.
        kind = request.config.stash[SETTINGS_KEY].modes[0]
    if settings is None:
        start_method = request.config.stash[SETTINGS_KEY].start_method
        return Mode.thread() if kind == "thread" else Mode.process(start_method)
    return settings.mode(kind)


@pytest.fixture
def spawn_workers(request: pytest.FixtureRequest, concur_mode: Mode) -> WorkerSpawner:
    """spawn_workers(target, n=None, args=(), kwargs=None, timeout=None) -> list of results.

    Calls ``target`` in ``n`` workers of this test's mode (default ``--concur-workers``) and
    returns their return values in worker order; a failed worker raises its own exception,
    several raise an exception group, a crash or hang raises
    ``WorkerCrashed`` / ``WorkerTimeout``. ``spawn_workers.outcomes(...)`` returns every
    worker's outcome instead of raising (``worker_args=`` gives each worker its own arguments);
    ``spawn_workers.map(target, items)`` runs one worker per item. ``timeout`` defaults to
    ``--concur-timeout`` (``0``: none). Requesting it makes the test a concurrency test.
    """  # noqa: D402 - the fixture's own call signature, for pytest --fixtures
    settings = settings_for(request.node) if isinstance(request.node, pytest.Item) else None
    workers = settings.workers if settings else request.config.stash[SETTINGS_KEY].workers
    timeout = settings.timeout if settings else request.config.stash[SETTINGS_KEY].timeout
    spawner = WorkerSpawner(concur_mode, workers, timeout)
    request.node.stash.setdefault(_SPAWNERS_KEY, []).append(spawner)
    return spawner


@pytest.fixture
def shared_counter(concur_mode: Mode) -> Iterator[SharedCounter]:
    """Return a fresh ``concur_lab.SharedCounter`` for this test's mode, starting at 0.

    Every worker of the test (from ``spawn_workers`` or the ``concur`` marker) and the test body
    see the same counter: ``increment(by=1)`` returns the new value atomically, ``value`` reads
    it, ``reset(value=0)`` sets it. It is closed after the test. Requesting it makes the test a
    concurrency test.
    """
    counter = make_counter(concur_mode)
    try:
        yield counter
    finally:
        counter.close()


@pytest.fixture
def concur_worker_index() -> int:
    """Return the index (0 to n-1) of the worker running this test's body.

    Each worker of a concurrency test whose body runs in workers (``concur`` marker,
    ``--concur-all``) gets its own value as the test's argument; elsewhere (fixtures, plain
    tests) it is 0. ``concur_lab.worker_index()`` gives the same inside any worker.
    """
    return 0


@pytest.fixture
def concur_iteration_index() -> int:
    """Return the iteration (0 to iterations-1) the worker is in (``--concur-iterations``).

    The worker's own value as the test's argument, 0 elsewhere; ``concur_lab.iteration_index()``
    gives the same inside any worker.
    """
    return 0


@pytest.fixture
def concur_workers(request: pytest.FixtureRequest) -> int:
    """Return how many workers run this test's body (``--concur-workers`` or its marker's)."""
    if isinstance(request.node, pytest.Item) and item_kind(request.node) is not None:
        return settings_for(request.node).workers
    return request.config.stash[SETTINGS_KEY].workers


class _PeerIndexFixtures:
    """pytest-run-parallel's index fixtures, for a suite written for it.

    Registered only when that plugin is not loaded.
    """

    @pytest.fixture
    def thread_index(self) -> int:
        """Return the worker's index, as pytest-run-parallel's fixture does.

        The same as ``concur_worker_index``.
        """
        return 0

    @pytest.fixture
    def iteration_index(self) -> int:
        """Return the worker's iteration, as pytest-run-parallel's fixture does.

        The same as ``concur_iteration_index``.
        """
        return 0

    @pytest.fixture
    def num_parallel_threads(self, request: pytest.FixtureRequest) -> int:
        """Return how many workers run the body, as pytest-run-parallel's fixture does."""
        if isinstance(request.node, pytest.Item) and item_kind(request.node) is not None:
            return settings_for(request.node).workers
        return int(request.config.stash[SETTINGS_KEY].workers)
