"""pytest's explanations of failed comparisons in a process worker, as in the parent's test.

A test module shipped to a ``spawn`` or ``forkserver`` worker (:mod:`pytest_concur._child_hooks`)
runs with its asserts rewritten; pytest explains their failed comparisons (diffs and the like)
only where a test runs, so the worker installs the same explanations with the parent test's
settings.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any

__all__ = ["configure"]


def configure(settings: Mapping[str, Any] | None) -> None:
    """Explain failed comparisons in this worker with *settings* (verbosity, ini values)."""
    if settings is not None:
        _install_explainer(settings)


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
