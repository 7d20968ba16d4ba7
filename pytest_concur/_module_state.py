"""Shared module state that a thread-mode run changed: found, put back and reported.

Thread-mode workers run in the pytest process itself, so what a test body does to module globals
it does to the whole session. Code that swaps a module attribute and puts it back afterwards
(click's ``CliRunner`` replaces ``click._compat.should_strip_ansi``, ``sys.stdout`` and others
for the duration of an invocation) is correct when one thread runs it and wrong when several do:
the swaps interleave, and the last "restore" can put back another thread's replacement. Every
later test of the session then sees the replacement, in either mode (a forked process worker
inherits it), and fails for a reason that has nothing to do with it.

So around each thread-mode body the plugin takes a shallow snapshot of the globals of the
modules such code lives in: every module imported after the plugin itself was (conftests, the
test's own module and what test modules import: the code under test), outside the standard
library and the test machinery (pytest, pluggy, concur-lab and its dependencies), plus the
standard streams of :mod:`sys`, :data:`os.environ` and the working directory. Modules already
imported when the plugin loaded are other plugins and their dependencies, not the code under
test. The other collected test modules are left out: collection imports all of them before the
first test runs, so watching them would make every test's snapshot grow with the size of the
whole suite, for globals that only their own tests use.

Afterwards every name whose value is no longer the *same object* is put back, and the test's
report names it. Names added during the run are left alone (a module that fills a cache on first
use does that in a plain run too); objects changed in place (a dict that gained a key) are not
compared, which keeps this cheap: a few dozen dictionaries copied per test, not every module of
the interpreter.

Putting state back can hide a change a test meant to keep for later tests; a suite that depends
on that already depends on its test order, and the report says what was put back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

__all__ = ["ModuleState", "note_test_modules"]

# Top-level packages whose state is the test machinery's own, not the code under test's.
_MACHINERY = frozenset(
    {
        "_pytest",
        "pytest",
        "pluggy",
        "py",
        "iniconfig",
        "_hypothesis_pytestplugin",
        "xdist",
        "execnet",
        "pytest_concur",
        "concur_lab",
        "multiprocess",
        "dill",
        "filelock",
        "wcwidth",
    }
)
_STDLIB = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)
_SYS_NAMES = ("stdin", "stdout", "stderr", "displayhook", "excepthook")
_MISSING = object()

# Imported before this module was, when pytest loaded its plugins: not the code under test.
_LOADED_WITH_PLUGINS = frozenset(sys.modules)

# Whether a module is watched, by name: deciding it once keeps each snapshot a dict lookup.
_watched_by_name: dict[str, bool] = {}
# The watched modules, for as long as sys.modules keeps its size (imports only ever add).
_watched_cache: tuple[int, list[tuple[str, ModuleType]]] = (-1, [])
# The names of the collected test modules: each snapshot watches the test's own one only.
# A union over the interpreter's sessions, never replaced: pytester's in-process runs nest a
# session inside another, and replacing it would let the outer session's snapshots watch all
# of its test modules again.
_test_modules: set[str] = set()


def note_test_modules(names: Iterable[str]) -> None:
    """Record the names of collected test modules (see the module docstring)."""
    global _watched_cache
    _test_modules.update(names)
    _watched_cache = (-1, [])


def _is_watched(name: str, module: object) -> bool:
    known = _watched_by_name.get(name)
    if known is None:
        top = name.partition(".")[0]
        known = (
            isinstance(module, ModuleType)
            and name not in _LOADED_WITH_PLUGINS
            and top not in _STDLIB
            and top not in _MACHINERY
            and not top.startswith("pytest_")
            and name != "__main__"
        )
        _watched_by_name[name] = known
    return known


def _watched_modules() -> list[tuple[str, ModuleType]]:
    global _watched_cache
    size = len(sys.modules)
    if _watched_cache[0] != size:
        # A copy: a worker thread left running may import while we look.
        watched = [
            (name, module)
            for name, module in list(sys.modules.items())
            if module is not None and name not in _test_modules and _is_watched(name, module)
        ]
        _watched_cache = (size, watched)
    return _watched_cache[1]


def _raw_environ() -> Mapping[Any, Any]:
    # os.environ keeps the encoded variables in a plain dict: copying and comparing that is a
    # C-level operation, where os.environ itself decodes every key and value each time.
    raw = getattr(os.environ, "_data", None)
    return raw if isinstance(raw, dict) else os.environ


def _decode(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


@dataclass(slots=True)
class ModuleState:
    """A shallow snapshot of the shared state a thread-mode body can leave changed."""

    _modules: list[tuple[str, ModuleType, dict[str, Any]]]
    _sys: tuple[Any, ...]
    _environ: dict[Any, Any]
    _cwd: str | None

    @classmethod
    def capture(cls, own_module: ModuleType | None = None) -> ModuleState:
        """Take the snapshot (call it just before the workers start).

        :param own_module: The running test's module, watched even though it is a test module.
        """
        try:
            cwd: str | None = os.getcwd()
        except OSError:  # the directory was removed: nothing to go back to
            cwd = None
        modules = _watched_modules()
        if own_module is not None:
            own = own_module.__name__
            if own in _test_modules and _is_watched(own, own_module):
                modules = [*modules, (own, own_module)]
        return cls(
            [(name, module, dict(vars(module))) for name, module in modules],
            tuple(getattr(sys, name, _MISSING) for name in _SYS_NAMES),
            dict(_raw_environ()),
            cwd,
        )

    def restore(self) -> list[str]:
        """Put back every snapshot name whose value changed; return their dotted names."""
        restored: list[str] = []
        for name, module, before in self._modules:
            namespace = vars(module)
            try:
                # C-level, identity first: values that did not change are never compared with
                # __eq__, so this is cheap for the many modules nothing touched.
                if namespace == before:
                    continue
            except Exception:  # an __eq__ that refuses (numpy arrays): look name by name
                pass
            for key, value in before.items():
                if namespace.get(key, _MISSING) is not value:
                    namespace[key] = value
                    restored.append(f"{name}.{key}")
        for name, value in zip(_SYS_NAMES, self._sys, strict=True):
            if value is not _MISSING and getattr(sys, name, _MISSING) is not value:
                setattr(sys, name, value)
                restored.append(f"sys.{name}")
        if _raw_environ() != self._environ:
            before = {_decode(k): _decode(v) for k, v in self._environ.items()}
            for key in sorted(set(os.environ) - set(before)):
                del os.environ[key]
                restored.append(f"os.environ[{key!r}]")
            for key, value in before.items():
                if os.environ.get(key) != value:
                    os.environ[key] = value
                    restored.append(f"os.environ[{key!r}]")
        if self._cwd is not None:
            try:
                moved = os.getcwd() != self._cwd
            except OSError:
                moved = True
            if moved:
                try:
                    os.chdir(self._cwd)
                except OSError:
                    pass
                else:
                    restored.append("the working directory")
        return restored
