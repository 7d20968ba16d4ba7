"""What another package adds to the engine's process workers: child setup and module compiling.

The engine sends a ``spawn`` or ``forkserver`` child its target by pickle, and the child imports
the project modules that pickle names from their files (:mod:`._payload`). A package whose
modules do not run as their files say (pytest rewrites the asserts of test modules), or whose
children need something prepared before the payload is unpickled, provides a
:class:`ChildHooks`. The engine asks every hooks object it knows:

* in the parent, which modules it compiles (:meth:`ChildHooks.compiles`) and how
  (:meth:`ChildHooks.compile_file`): such a module is shipped as its compiled code;
* in the parent, what its children need (:meth:`ChildHooks.child_state`), sent along with a
  payload that holds one of its modules; the child hands that to :meth:`ChildHooks.setup_child`
  before it imports anything of the payload;
* which modules the fork server imports once for all its children
  (:meth:`ChildHooks.forkserver_preload`).

Hooks come from the entry points of the group ``concur_lab.child_hooks`` (each names a hooks
object, ``module:attribute``), loaded once per process when the first process run needs them,
and from :func:`register`. The engine stays free of any package it serves: it only calls these
methods. A child finds a hooks object again by its :attr:`ChildHooks.reference` (imported then,
so the object's module must be cheap to import and import nothing heavy at its top).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from types import CodeType, ModuleType
from typing import Protocol, runtime_checkable

__all__ = ["ENTRY_POINT_GROUP", "ChildHooks", "generation", "register", "registered", "resolve"]

#: The entry point group a package declares its :class:`ChildHooks` object in.
ENTRY_POINT_GROUP = "concur_lab.child_hooks"


@runtime_checkable
class ChildHooks(Protocol):
    """What the engine asks of a package that prepares process workers for its own modules.

    :ivar reference: ``"module:attribute"`` naming this very object, for a child to import.
    """

    reference: str

    def compiles(self, module: ModuleType) -> bool:
        """Parent: whether *module* must run in a child as :meth:`compile_file` compiles it."""
        ...

    def compile_file(self, file: str) -> CodeType | None:
        """Compile *file* as the package's import machinery did (``None``: as a plain import).

        Called in the parent (once per version of the file), and in a child whose interpreter
        cannot load the parent's code.
        """
        ...

    def child_state(self) -> object:
        """Parent: what :meth:`setup_child` needs, for a payload that holds a compiled module.

        It must pickle with :mod:`pickle` (plain values: it crosses with every child).
        """
        ...

    def setup_child(self, state: object) -> None:
        """Child: prepare, given :meth:`child_state`'s value, before the payload is imported."""
        ...

    def forkserver_preload(self) -> Sequence[str]:
        """Modules the fork server should import once instead of every child again."""
        ...


_registered: list[ChildHooks] = []
_entry_points_loaded = False
_generation = 0


def register(hooks: ChildHooks) -> None:
    """Use *hooks* for the process runs from now on (as often registered as unregistered)."""
    global _generation
    _registered.append(hooks)
    _generation += 1


def unregister(hooks: ChildHooks) -> None:
    """Undo one :func:`register` of *hooks*."""
    global _generation
    _registered.remove(hooks)
    _generation += 1


def generation() -> int:
    """A number that changes whenever the set of hooks does (for caches of their answers)."""
    return _generation


def registered() -> tuple[ChildHooks, ...]:
    """Every hooks object in use, each once: the entry points' first, then :func:`register`'s."""
    _load_entry_points()
    return tuple(dict.fromkeys(_registered, None))


def resolve(reference: str) -> ChildHooks:
    """Return the hooks object *reference* (``"module:attribute"``) names, importing its module.

    :raises ImportError: If the module cannot be imported.
    :raises TypeError: If the attribute is not a :class:`ChildHooks`.
    """
    for hooks in _registered:
        if hooks.reference == reference:
            return hooks
    module_name, _, attribute = reference.partition(":")
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    found = getattr(module, attribute, None)
    if not isinstance(found, ChildHooks):
        raise TypeError(f"{reference!r} is not a concur_lab ChildHooks object")
    return found


def _load_entry_points() -> None:
    global _entry_points_loaded, _generation
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    found: list[ChildHooks] = []
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            hooks = entry.load()
        except Exception as exc:
            # A broken installation of another package must not stop every process run.
            import warnings

            warnings.warn(
                f"concur_lab: cannot load the child hooks {entry.value!r} of the entry point "
                f"{entry.name!r}: {type(exc).__name__}: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
            continue
        if isinstance(hooks, ChildHooks):
            found.append(hooks)
    if found:
        _registered[:0] = found
        _generation += 1
