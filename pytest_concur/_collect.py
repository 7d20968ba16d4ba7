"""Which tests are concurrency tests, and their parametrization over modes.

A concurrency test carries the ``concur`` marker or requests ``concur_mode``, ``spawn_workers`` or
``shared_counter`` (directly or through other fixtures). It is parametrized indirectly over the
selected modes with the ids ``thread`` and ``process``, so ``-k process`` selects and ids do not
depend on ``--concur-mode``. Every other test is left untouched.
"""

from __future__ import annotations

import contextlib

import pytest

from pytest_concur._options import (
    KINDS,
    SETTINGS_KEY,
    ConcurUsageError,
    ItemSettings,
    item_settings,
)

__all__ = [
    "BY_DESIGN_PROPERTY",
    "MODE_FIXTURE",
    "MODE_PROPERTY",
    "TEST_PROPERTY",
    "base_nodeid",
    "generate_tests",
    "item_kind",
    "mark_unsupported_modes",
    "settings_for",
]

MODE_FIXTURE = "concur_mode"
TRIGGER_FIXTURES = frozenset({MODE_FIXTURE, "spawn_workers", "shared_counter"})

# user_properties names: they travel in reports (pytest-xdist) and land in --junitxml.
MODE_PROPERTY = "concur_mode"
TEST_PROPERTY = "concur_test"
BY_DESIGN_PROPERTY = "concur_skipped_by_design"

_ITEM_SETTINGS_KEY = pytest.StashKey[ItemSettings]()


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
    marked = definition.get_closest_marker("concur") is not None
    if not marked and not TRIGGER_FIXTURES.intersection(metafunc.fixturenames):
        return
    settings = metafunc.config.stash[SETTINGS_KEY]
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
    metafunc.parametrize(
        MODE_FIXTURE, list(settings.modes), indirect=True, ids=list(settings.modes)
    )


def item_kind(item: pytest.Item) -> str | None:
    """Return ``"thread"`` or ``"process"`` for a concurrency test's item, else ``None``."""
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


def _warn_if_marker_ignored(item: pytest.Item) -> None:
    callspec = getattr(item, "callspec", None)
    if item.get_closest_marker("concur") is None or (
        callspec is not None and MODE_FIXTURE in callspec.params
    ):
        return
    # unittest.TestCase methods and other non-function items are never parametrized by
    # pytest_generate_tests, so the marker cannot take effect; say so rather than run once.
    item.warn(
        pytest.PytestConfigWarning(
            f"concur: the concur marker has no effect on {type(item).__name__} items such as "
            f"{item.name} (only plain pytest test functions and methods run in workers)"
        )
    )


def mark_unsupported_modes(items: list[pytest.Item]) -> None:
    """Skip items in a mode their marker's ``modes`` leaves out, and tag every concurrency item.

    Tags go to ``user_properties`` so that they travel with reports to the pytest-xdist
    controller and into ``--junitxml``.
    """
    for item in items:
        kind = item_kind(item)
        if kind is None:
            _warn_if_marker_ignored(item)
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
