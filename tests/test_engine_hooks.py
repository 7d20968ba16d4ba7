"""The engine's child hooks: how another package prepares process workers for its modules."""

from __future__ import annotations

from collections.abc import Sequence
from types import CodeType, ModuleType

import pytest

import concur_lab
from concur_lab.engine import _hooks
from pytest_concur._child_hooks import HOOKS

SPAWNING = [m for m in concur_lab.available_start_methods() if m != "fork"]


class _Dummy:
    reference = "tests.nowhere:DUMMY"

    def compiles(self, module: ModuleType) -> bool:
        return False

    def compile_file(self, file: str) -> CodeType | None:
        return None

    def child_state(self) -> object:
        return None

    def setup_child(self, state: object) -> None:
        return None

    def forkserver_preload(self) -> Sequence[str]:
        return []


def test_pytest_hooks_come_from_the_entry_point() -> None:
    """pytest's hooks are found through the concur_lab.child_hooks entry point group."""
    assert HOOKS in _hooks.registered()


def test_register_and_unregister_change_the_generation() -> None:
    """Registering hooks adds them and bumps the generation; unregistering takes them out."""
    dummy = _Dummy()
    before = _hooks.generation()
    _hooks.register(dummy)
    try:
        assert dummy in _hooks.registered()
        assert _hooks.generation() != before
    finally:
        _hooks.unregister(dummy)
    assert dummy not in _hooks.registered()


def test_resolve_finds_hooks_by_reference() -> None:
    """A reference names the hooks object a child imports again."""
    assert _hooks.resolve(HOOKS.reference) is HOOKS


def test_resolve_refuses_what_is_not_hooks() -> None:
    """A reference to anything but a hooks object is a TypeError naming it."""
    with pytest.raises(TypeError, match="os:sep"):
        _hooks.resolve("os:sep")


HOOKS_MODULE = '''
import os

class Hooks:
    reference = "myhooks:HOOKS"

    def compiles(self, module):
        return module.__name__.startswith("shipped_")

    def compile_file(self, file):
        with open(file) as f:
            source = "COMPILED_BY_HOOKS = True\\n" + f.read()
        return compile(source, file, "exec")

    def child_state(self):
        return {"token": "from-the-parent"}

    def setup_child(self, state):
        os.environ["HOOK_STATE"] = state["token"]

    def forkserver_preload(self):
        return []

HOOKS = Hooks()
'''

SHIPPED_MODULE = '''
import os

def probe():
    return globals().get("COMPILED_BY_HOOKS", False), os.environ.get("HOOK_STATE")
'''

TEST_MODULE = '''
import concur_lab
from concur_lab.engine import _hooks

import myhooks
import shipped_mod

def test_hooks_prepare_the_child():
    _hooks.register(myhooks.HOOKS)
    try:
        got = concur_lab.run_workers(shipped_mod.probe, 1, mode="process:{method}")
    finally:
        _hooks.unregister(myhooks.HOOKS)
    assert got == [(True, "from-the-parent")]
'''


@pytest.mark.parametrize("method", SPAWNING)
def test_registered_hooks_compile_modules_and_set_up_the_child(
    pytester: pytest.Pytester, method: str
) -> None:
    """A module the hooks compile runs as compiled in the child, after their child setup."""
    pytester.makepyfile(
        myhooks=HOOKS_MODULE,
        shipped_mod=SHIPPED_MODULE,
        test_hooks=TEST_MODULE.replace("{method}", method),
    )
    result = pytester.runpytest_subprocess("-p", "no:concur")
    result.assert_outcomes(passed=1)
