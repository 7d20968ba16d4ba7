"""What rewritten asserts call in a process worker: pytest's helpers, imported when first used.

pytest's rewritten asserts begin with ``import _pytest.assertion.rewrite as @pytest_ar``, which
imports most of pytest. A test module shipped to a ``spawn`` or ``forkserver`` worker
(:mod:`pytest_concur._child_hooks`) imports this module in its place: a passing assert touches
none of ``@pytest_ar``'s helpers, so a worker whose asserts all pass never imports pytest for
them (a module that does not import pytest itself then costs its worker no more than a plain
import would). The first helper used imports the real ones, and a failed comparison installs
pytest's explanations (diffs and the like) with the settings of the parent's test, as pytest
itself does in a test run.

This module imports nothing of pytest at its top, and must not: every such worker imports it.
"""

from __future__ import annotations

import importlib
import types
from collections.abc import Mapping
from typing import Any

__all__ = ["configure"]

_REAL = "_pytest.assertion.rewrite"
# The parent test's assertion settings (see _child_hooks.assertion_settings), or None.
_settings: Mapping[str, Any] | None = None
_explainer_installed = False


def configure(settings: Mapping[str, Any] | None) -> None:
    """Explain failed comparisons with *settings* (verbosity, ini values) once one fails."""
    global _settings, _explainer_installed
    _settings = settings
    _explainer_installed = False


def _call_reprcompare(*args: Any) -> Any:
    # Only a failed comparison calls this: the moment the explanations are needed.
    global _explainer_installed
    real = importlib.import_module(_REAL)
    if _settings is not None and not _explainer_installed:
        _install_explainer(_settings)
        _explainer_installed = True
    return real._call_reprcompare(*args)


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_REAL), name)
    globals()[name] = value
    return value


class _AssertionConfig:
    """The little of pytest's Config that its comparison explanations read."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._verbosity = int(settings.get("verbosity", 0))
        self._ini = dict(settings.get("ini", {}))
        self.option = types.SimpleNamespace(verbose=self._verbosity)
        self.pluginmanager = types.SimpleNamespace(has_plugin=lambda name: False)

    def get_verbosity(self, *args: object) -> int:
        return self._verbosity

    def get_terminal_writer(self) -> Any:
        # pytest 8 highlights explanations through the terminal writer; plain text here.
        return types.SimpleNamespace(_highlight=lambda source, lexer="python": source)

    def getini(self, name: str) -> Any:
        try:
            return self._ini[name]
        except KeyError:
            raise ValueError(f"unknown configuration value: {name!r}") from None

    def getoption(self, name: str, default: Any = None) -> Any:
        return {"verbose": self._verbosity, "assertmode": "rewrite"}.get(name, default)

    getvalue = getoption


def _install_explainer(settings: Mapping[str, Any]) -> None:
    """Give rewritten asserts in this worker pytest's comparison explanations (diffs etc.)."""
    try:
        from _pytest import assertion
        from _pytest.assertion import util
    except ImportError:
        return
    config = _AssertionConfig(settings)

    def explain(op: str, left: object, right: object) -> str | None:
        # Best effort: pytest's internals differ between versions; without an explanation
        # the rewritten assert still shows both operands.
        try:
            lines = assertion.pytest_assertrepr_compare(
                config=config,  # type: ignore[arg-type]
                op=op,
                left=left,
                right=right,
            )
        except Exception:
            return None
        if not lines:
            return None
        text = "\n~".join(line.replace("\n", "\\n") for line in lines)
        return text.replace("%", "%%")

    util._reprcompare = explain
