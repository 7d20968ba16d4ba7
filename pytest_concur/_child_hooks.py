"""pytest's part in the engine's process workers: rewritten test modules and their explanations.

The engine ships a test module a ``spawn`` or ``forkserver`` worker needs by file, and knows
nothing of pytest (see :mod:`concur_lab.engine._hooks`). This object, the entry point
``pytest`` of the group ``concur_lab.child_hooks``, tells it what pytest adds, whether the plugin
is active or not (``-p no:concur`` still runs the engine under pytest):

* a module pytest rewrote is shipped as rewritten code, compiled here once per version of its
  file, with its ``@pytest_ar`` import pointed at :mod:`pytest_concur._assert_helpers`, which
  imports pytest's helpers only when an assert needs them;
* the running test's assertion settings go along, for the explanations of a failed comparison;
* the fork server preloads pytest when the parent runs under it.

Imported by every worker that runs a rewritten module's code, so it imports nothing of pytest
at its top.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType
from typing import Any

__all__ = ["HOOKS", "PytestChildHooks", "assertion_settings"]

# The ini values pytest's comparison explanations read (pytest 8 and 9).
_ASSERTION_INI = ("truncation_limit_lines", "truncation_limit_chars", "assertion_text_diff_style")
_REWRITE = "_pytest.assertion.rewrite"
_HELPERS = "pytest_concur._assert_helpers"
_HELPERS_ALIAS = "@pytest_ar"


def assertion_settings() -> dict[str, Any] | None:
    """Snapshot the running test's assertion settings, if pytest is running one here."""
    util = sys.modules.get("_pytest.assertion.util")
    config = getattr(util, "_config", None)
    if config is None:
        return None
    settings: dict[str, Any] = {"ini": {}}
    try:
        from _pytest.config import Config

        settings["verbosity"] = int(config.get_verbosity(Config.VERBOSITY_ASSERTIONS))
    except Exception:
        settings["verbosity"] = int(getattr(config.option, "verbose", 0) or 0)
    for name in _ASSERTION_INI:
        try:
            settings["ini"][name] = config.getini(name)
        except (ValueError, KeyError):
            continue
    return settings


def _lazy_helpers(tree: ast.Module) -> None:
    """Point the rewritten module's ``import _pytest.assertion.rewrite as @pytest_ar`` here."""
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == _REWRITE and alias.asname == _HELPERS_ALIAS:
                    alias.name = _HELPERS


class PytestChildHooks:
    """The :class:`~concur_lab.engine._hooks.ChildHooks` of pytest's assertion rewriting."""

    reference = "pytest_concur._child_hooks:HOOKS"

    def compiles(self, module: ModuleType) -> bool:
        """Whether pytest rewrote *module*'s asserts when it imported it."""
        loader = getattr(module, "__loader__", None)
        return type(loader).__name__ == "AssertionRewritingHook"

    def compile_file(self, file: str) -> CodeType | None:
        """Compile *file* with pytest's assertion rewriting, its helpers imported lazily."""
        try:
            from _pytest.assertion.rewrite import rewrite_asserts
        except ImportError:
            return None
        with open(file, "rb") as f:
            source = f.read()
        tree = ast.parse(source, filename=file)
        rewrite_asserts(tree, source, file)
        _lazy_helpers(tree)
        return compile(tree, file, "exec", dont_inherit=True)

    def child_state(self) -> dict[str, Any] | None:
        """The running test's assertion settings (``None`` outside a test)."""
        return assertion_settings()

    def setup_child(self, state: object) -> None:
        """Have a failed comparison explained with the parent test's settings."""
        from pytest_concur import _assert_helpers

        _assert_helpers.configure(state if isinstance(state, dict) else None)

    def forkserver_preload(self) -> Sequence[str]:
        """Name pytest and its assertion helpers, when this process runs under pytest."""
        return ["pytest", _REWRITE, _HELPERS] if "pytest" in sys.modules else []


HOOKS = PytestChildHooks()
