"""Which tests are concurrency tests, and their parametrization over modes.

A concurrency test carries the ``concur`` marker, requests ``concur_mode``, ``spawn_workers`` or
``shared_counter`` (directly or through other fixtures), or is any Python test under
``--concur-all``. It is parametrized indirectly over the selected modes with the ids ``thread``
and ``process``, so ``-k process`` selects and ids do not depend on ``--concur-mode``.
``unittest.TestCase`` methods, which pytest never parametrizes, are replaced by one item per mode
(:mod:`pytest_concur._unittest`) with the same ids. Every other test is left untouched; under
``--concur-all`` items that are not Python tests (doctests, other plugins' items) run once and
are counted in the suite report as not run concurrently.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

import pytest

from pytest_concur._module_state import note_test_modules
from pytest_concur._options import SETTINGS_KEY, ItemSettings, item_settings
from pytest_concur._values import KINDS, ConcurUsageError

if TYPE_CHECKING:
    from pytest_concur._unsafe import Rules

__all__ = [
    "BY_DESIGN_PROPERTY",
    "INDEX_NAMES_KEY",
    "KIND_KEY",
    "LATE_MARKER_KEY",
    "MODE_FIXTURE",
    "MODE_PROPERTY",
    "NOT_CONCURRENT_PROPERTY",
    "PLAIN_ITEM_PROPERTY",
    "TEST_PROPERTY",
    "base_nodeid",
    "generate_tests",
    "index_fixture_names",
    "item_kind",
    "mark_unsupported_modes",
    "prepare_items",
    "settings_for",
]

MODE_FIXTURE = "concur_mode"
TRIGGER_FIXTURES = frozenset({MODE_FIXTURE, "spawn_workers", "shared_counter"})

# user_properties names: they travel in reports (pytest-xdist) and land in --junitxml.
MODE_PROPERTY = "concur_mode"
TEST_PROPERTY = "concur_test"
BY_DESIGN_PROPERTY = "concur_skipped_by_design"
#: Why the item's body did not run in several workers of its mode (unsafe, or run plainly).
NOT_CONCURRENT_PROPERTY = "concur_not_concurrent"
#: On an item that is no Python test under --concur-all: why it ran once, unchanged.
PLAIN_ITEM_PROPERTY = "concur_plain_item"

_ITEM_SETTINGS_KEY = pytest.StashKey[ItemSettings]()
KIND_KEY = pytest.StashKey[str]()
"""The mode of an item made per mode without parametrization (unittest methods)."""
LATE_MARKER_KEY = pytest.StashKey[str]()
"""Why a ``concur`` marker on this item came too late to take effect (the item's error)."""
INDEX_NAMES_KEY = pytest.StashKey[frozenset[str]]()
"""The worker-index fixtures this session's plugin defines (see :func:`index_fixture_names`)."""


def index_fixture_names(config: pytest.Config) -> frozenset[str]:
    """Return the index fixtures the plugin defines.

    Its own, and pytest-run-parallel's names (``thread_index``, ``iteration_index``,
    ``num_parallel_threads``) when that plugin is not loaded.
    """
    return config.stash.get(INDEX_NAMES_KEY, frozenset())


def _mode_values(marker: pytest.Mark) -> list[object] | None:
    """Return the values a ``parametrize`` marker gives ``concur_mode``, or ``None`` if none."""
    argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
    names = [n.strip() for n in (argnames.split(",") if isinstance(argnames, str) else argnames)]
    if MODE_FIXTURE not in names:
        return None
    position = names.index(MODE_FIXTURE)
    argvalues = marker.args[1] if len(marker.args) > 1 else marker.kwargs.get("argvalues", ())
    values: list[object] = []
    for argvalue in argvalues:
        # pytest.param(...) gives a ParameterSet (values, marks, id); other entries are the value
        # itself, or a tuple of values when several names are parametrized at once.
        entry = argvalue.values if hasattr(argvalue, "marks") else argvalue
        if len(names) == 1:
            entry = entry if hasattr(argvalue, "marks") else (entry,)
        with contextlib.suppress(TypeError, IndexError):
            values.append(entry[position])
    return values


def _user_parametrizes_mode(metafunc: pytest.Metafunc) -> bool:
    """Whether the test parametrizes ``concur_mode`` itself; its values must be modes.

    :raises ConcurUsageError: If a value is not ``"thread"`` or ``"process"``.
    """
    found = False
    for marker in metafunc.definition.iter_markers("parametrize"):
        values = _mode_values(marker)
        if values is None:
            continue
        found = True
        for value in values:
            if value not in KINDS:
                raise ConcurUsageError(
                    f"invalid concur mode {value!r} from parametrize of {MODE_FIXTURE} on "
                    f"{metafunc.definition.name}: expected 'thread' or 'process'"
                )
    return found


def generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize a concurrency test over the selected modes (``pytest_generate_tests``).

    :raises pytest.fail.Exception: A collection error naming the bad marker argument.
    """
    definition = metafunc.definition
    settings = metafunc.config.stash[SETTINGS_KEY]
    marked = definition.get_closest_marker("concur") is not None
    if (
        not marked
        and not settings.concur_all
        and not TRIGGER_FIXTURES.intersection(metafunc.fixturenames)
    ):
        return
    problem = None
    try:
        # Validated here so that a bad marker is a collection error, before anything runs.
        item_settings(definition, settings, definition.name)
        user_modes = _user_parametrizes_mode(metafunc)
    except ConcurUsageError as exc:
        problem = str(exc)
    if problem is not None:
        # Raised outside the except block so that no "during handling" context is shown.
        pytest.fail(problem, pytrace=False)
    if user_modes:
        return
    if MODE_FIXTURE not in metafunc.fixturenames:
        # A marked test that requests none of our fixtures still needs its mode.
        metafunc.fixturenames.append(MODE_FIXTURE)
    # A marker put on the definition itself (a conftest's pytest_generate_tests) is not passed
    # on to the items pytest makes from it: carry it in each parameter.
    late = [mark for mark in definition.own_markers if mark.name == "concur"]
    from_function = [m for m in getattr(definition.obj, "pytestmark", []) if m.name == "concur"]
    carried = [mark for mark in late if mark not in from_function]
    metafunc.parametrize(
        MODE_FIXTURE,
        [pytest.param(kind, marks=carried, id=kind) for kind in settings.modes],
        indirect=True,
    )


def item_kind(item: pytest.Item) -> str | None:
    """Return ``"thread"`` or ``"process"`` for a concurrency test's item, else ``None``."""
    made = item.stash.get(KIND_KEY, None)
    if made is not None:
        return made
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    kind = callspec.params.get(MODE_FIXTURE)
    return kind if kind in KINDS else None


def settings_for(item: pytest.Item) -> ItemSettings:
    """Return *item*'s resolved settings (validated at collection, cached on the item)."""
    cached = item.stash.get(_ITEM_SETTINGS_KEY, None)
    if cached is None:
        name = getattr(item, "originalname", item.name)
        cached = item_settings(item, item.config.stash[SETTINGS_KEY], name)
        item.stash[_ITEM_SETTINGS_KEY] = cached
    return cached


def base_nodeid(item: pytest.Item) -> str:
    """Return *item*'s node id without its mode id (``test_x[a-thread]`` -> ``test_x[a]``).

    :func:`generate_tests` runs last among ``pytest_generate_tests`` implementations, so the
    mode's id is the last part of the item's id; exactly that part is removed, whatever the
    other ids say (``test_k[thread-process]`` -> ``test_k[thread]``). When the test parametrizes
    ``concur_mode`` itself, the last part equal to the mode is removed.
    """
    callspec = getattr(item, "callspec", None)
    kind = item_kind(item)
    nodeid = item.nodeid
    if KIND_KEY in item.stash:
        return nodeid.removesuffix(f"[{kind}]")
    ids = getattr(callspec, "id", "")
    if kind is None or not ids or not nodeid.endswith(f"[{ids}]"):
        return nodeid
    head = nodeid[: -len(ids) - 2]
    parts = ids.split("-")
    if ids != kind and not ids.endswith(f"-{kind}"):
        if kind not in parts:
            return nodeid
        # Not our parametrization (the test's own, or a later hook's): drop the mode's last id.
        last = len(parts) - 1 - parts[::-1].index(kind)
        kept = "-".join(parts[:last] + parts[last + 1 :])
        return f"{head}[{kept}]" if kept else head
    kept = ids[: -len(kind)].removesuffix("-")
    return f"{head}[{kept}]" if kept else head


def _note_late_marker(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    if item.get_closest_marker("concur") is None or (
        callspec is not None and MODE_FIXTURE in callspec.params
    ):
        return
    # A warning here would end the session under -W error (an INTERNALERROR during
    # collection); the test's own error says it instead, at its setup.
    item.stash[LATE_MARKER_KEY] = (
        f"concur: the concur marker on {item.name} was added after collection, when the test "
        "had already been made into its items (pytest parametrizes tests by mode in "
        "pytest_generate_tests, before pytest_collection_modifyitems runs), so it cannot run in "
        "workers. Put the marker on the test, its class or module (pytestmark = "
        "pytest.mark.concur), or run every test concurrently with --concur-all."
    )


def mark_unsupported_modes(items: list[pytest.Item]) -> None:
    """Skip items in a mode their marker's ``modes`` leaves out, and tag every concurrency item.

    Tags go to ``user_properties`` so that they travel with reports to the pytest-xdist
    controller and into ``--junitxml``.
    """
    for item in items:
        kind = item_kind(item)
        if kind is None:
            _note_late_marker(item)
            continue
        settings = settings_for(item)
        item.user_properties.append((MODE_PROPERTY, kind))
        item.user_properties.append((TEST_PROPERTY, base_nodeid(item)))
        if kind not in settings.modes:
            item.user_properties.append((BY_DESIGN_PROPERTY, "true"))
            supported = settings.modes[0] if len(settings.modes) == 1 else "both"
            item.add_marker(
                pytest.mark.skip(
                    reason=(
                        f"concur: supports {' and '.join(settings.modes)} mode only "
                        f"(its marker's modes); run it with --concur-mode={supported}"
                    )
                )
            )


def _is_python_test(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function)


def _wants_workers(item: pytest.Item, concur_all: bool) -> bool:
    return concur_all or item.get_closest_marker("concur") is not None


def prepare_items(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make concurrency items of unittest methods, tag what runs once and why, decide safety.

    Runs in ``pytest_collection_modifyitems``, before pytest's own ``-k``/``-m`` deselection,
    so those select among the items made here.
    """
    from pytest_concur._unittest import is_unittest_item, per_mode_items

    settings = config.stash[SETTINGS_KEY]
    prepared: list[pytest.Item] = []
    for item in items:
        if is_unittest_item(item) and _wants_workers(item, settings.concur_all):
            prepared += per_mode_items(item, settings.modes)
            continue
        if settings.concur_all and not _is_python_test(item):
            item.user_properties.append((TEST_PROPERTY, item.nodeid))
            item.user_properties.append(
                (PLAIN_ITEM_PROPERTY, f"not a Python test function ({type(item).__name__})")
            )
        prepared.append(item)
    items[:] = prepared
    note_test_modules(
        {module.__name__ for item in items if (module := getattr(item, "module", None))}
    )
    mark_unsupported_modes(items)
    decide_safety(config, items)


def decide_safety(config: pytest.Config, items: Iterable[pytest.Item]) -> None:
    """Find the concurrency items that are unsafe in their mode; skip them or let them run once.

    :raises pytest.UsageError: If a ``concur_unsafe`` marker's arguments are invalid.
    """
    from pytest_concur._unsafe import forget_parsed_sources

    try:
        _decide_safety(config, items)
    finally:
        forget_parsed_sources()


def _decide_safety(config: pytest.Config, items: Iterable[pytest.Item]) -> None:
    from pytest_concur._run import IN_PARENT_KEY, UNSAFE_KEY
    from pytest_concur._unsafe import marker_reason, rules_for, unsafe_fixture

    settings = config.stash[SETTINGS_KEY]
    rules = {}
    # Per rules key: what the scan found for each (function, class).
    scanned: dict[tuple[str, str | None], dict[tuple[object, type | None], str | None]] = {}
    for item in items:
        kind = item_kind(item)
        if kind is None or kind not in settings.modes or not settings_for(item).marked:
            continue
        if any(name == BY_DESIGN_PROPERTY for name, _ in item.user_properties):
            continue
        start_method = settings_for(item).start_method if kind == "process" else None
        key = (kind, start_method)
        if key not in rules:
            rules[key] = rules_for(
                kind,
                start_method,
                settings.unsafe_fixtures.get(kind, ()),
                settings.unsafe_functions.get(kind, ()),
                settings.unsafe_depth,
                str(config.rootpath),
            )
        try:
            reason = marker_reason(item, kind, item.name)
        except ConcurUsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        in_parent = reason is None or not reason.startswith("marked concur_unsafe")
        if reason is None:
            reason = unsafe_fixture(_fixtures_of(item, kind, start_method), rules[key])
        if reason is None:
            reason = _unsafe_call(item, rules[key], scanned.setdefault(key, {}))
        if reason is None:
            continue
        item.stash[UNSAFE_KEY] = reason
        item.stash[IN_PARENT_KEY] = in_parent
        item.user_properties.append((NOT_CONCURRENT_PROPERTY, reason))
        if settings.skip_unsafe:
            item.add_marker(pytest.mark.skip(reason=f"concur: unsafe in {kind} mode: {reason}"))


def _unsafe_call(
    item: pytest.Item, rules: Rules, scanned: dict[tuple[object, type | None], str | None]
) -> str | None:
    """Return why a call in *item*'s function is unsafe under *rules*, or ``None``.

    Parametrized items share their function, and the scan depends only on the function, its
    class and the rules: *scanned* keeps each result, so a function is scanned once, not once per
    parameter set (on click's suite the scan was a third of the run's time before). *scanned*
    belongs to *rules* alone.
    """
    from pytest_concur._unsafe import find_unsafe_call

    function = getattr(item, "obj", None)
    if function is None:
        return None
    cls = getattr(item, "cls", None)
    # A method's items each bind it to their own instance: the function is the key.
    key = (getattr(function, "__func__", function), cls)
    try:
        return scanned[key]
    except KeyError:
        scanned[key] = reason = find_unsafe_call(function, rules, cls)
        return reason
    except TypeError:  # an unhashable callable object: scanned every time
        return find_unsafe_call(function, rules, cls)


def _fixtures_of(item: pytest.Item, kind: str, start_method: str | None) -> list[str]:
    """Return the fixtures whose use makes *item* unsafe if the rules name them.

    Under spawn and forkserver, monkeypatch used by another fixture (in the parent) is one of
    them: the changes it made never reach a fresh process. Used by the test itself, in the
    worker, it is safe.
    """
    from pytest_concur._unsafe import MONKEYPATCH_IN_FIXTURE

    names = list(getattr(item, "fixturenames", ()))
    if kind == "process" and start_method in ("spawn", "forkserver"):
        info = getattr(item, "_fixtureinfo", None)
        for name, defs in getattr(info, "name2fixturedefs", {}).items():
            if name == "monkeypatch" or not defs:
                continue
            if "monkeypatch" in defs[-1].argnames:
                names.append(MONKEYPATCH_IN_FIXTURE)
                break
    return names
