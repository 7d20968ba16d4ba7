"""Which tests are concurrency tests, and their parametrization over modes.

A concurrency test carries the ``concur`` marker or requests ``concur_mode``, ``spawn_workers`` or
``shared_counter`` (directly or through other fixtures). It is parametrized indirectly over the
selected modes with the ids ``thread`` and ``process``, so ``-k process`` selects and ids do not
depend on ``--concur-mode``. Every other test is left untouched.
"""

from __future__ import annotations

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


def _user_parametrizes_mode(metafunc: pytest.Metafunc) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        argnames = marker.args[0] if marker.args else marker.kwargs.get("argnames", "")
        names = argnames.split(",") if isinstance(argnames, str) else list(argnames)
        if MODE_FIXTURE in (name.strip() for name in names):
            return True
    return False


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
    except ConcurUsageError as exc:
        problem = str(exc)
    if problem is not None:
        # Raised outside the except block so that no "during handling" context is shown.
        pytest.fail(problem, pytrace=False)
    if _user_parametrizes_mode(metafunc):
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
    """Return *item*'s node id without its mode id (``test_x[thread]`` -> ``test_x``)."""
    callspec = getattr(item, "callspec", None)
    nodeid = item.nodeid
    if callspec is None or not nodeid.endswith("]"):
        return nodeid
    head, _, ids = nodeid[:-1].rpartition("[")
    kept = [part for part in ids.split("-") if part not in KINDS] if ids else []
    # Other parametrizations keep their ids; only the mode's id is removed.
    return f"{head}[{'-'.join(kept)}]" if kept else head


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
