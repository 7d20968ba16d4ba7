"""The GIL on free-threaded builds: a test during which it was enabled again fails, naming why.

A free-threaded CPython (3.13t, 3.14t) starts with the GIL disabled and enables it, for the whole
process and for good, when it imports an extension module that has not declared that it runs
safely without it. From then on thread-mode tests run with the GIL again and no longer test what
they should, so the test during which it happened fails with the extension modules it imported,
unless ``--concur-ignore-gil-enabled`` is given (pytest-run-parallel's ``--ignore-gil-enabled``
is the peer).

The state is read through ``sys._is_gil_enabled()`` at each call, never cached: no free-threaded
build can be installed on the project's machines, so the tests fake the function.
"""

from __future__ import annotations

import importlib.machinery
import sys

import pytest

__all__ = ["GilWatch", "gil_enabled"]


def gil_enabled() -> bool:
    """Whether the GIL is enabled now (always true on builds that have no switch)."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    return True if is_enabled is None else bool(is_enabled())


def _extension_modules(names: set[str]) -> list[str]:
    found = []
    for name in sorted(names):
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None) or ""
        if path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)):
            found.append(name)
    return found


class GilWatch:
    """Fails a test if the GIL was disabled when its body began and is enabled when it ended.

    :meth:`start` returns ``None`` where there is nothing to watch (the GIL is enabled, as on
    every build but a free-threaded one, or the watch is turned off), so the usual case costs one
    call and no object.
    """

    __slots__ = ("item", "modules_before")

    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.modules_before = set(sys.modules)

    @classmethod
    def start(cls, item: pytest.Item, ignore: bool) -> GilWatch | None:
        """Start watching for *item*, unless *ignore* or the GIL is enabled already."""
        if ignore or gil_enabled():
            return None
        return cls(item)

    def check(self) -> None:
        """Return if the GIL is still disabled.

        :raises pytest.fail.Exception: Naming the extension modules imported since :meth:`start`.
        """
        if not gil_enabled():
            return
        suspects = _extension_modules(set(sys.modules) - self.modules_before)
        culprit = (
            f"while it imported the extension module(s) {', '.join(map(repr, suspects))}"
            if suspects
            else "(no extension module was imported in this process during the test; a worker "
            "thread's import may have done it)"
        )
        pytest.fail(
            f"concur: the GIL was enabled again during {self.item.nodeid} {culprit}. An "
            "extension module that does not declare free-threading support (Py_mod_gil) "
            "re-enables the GIL for the whole process, so the tests after it no longer run "
            "without it. Pass --concur-ignore-gil-enabled to run on regardless.",
            pytrace=False,
        )
