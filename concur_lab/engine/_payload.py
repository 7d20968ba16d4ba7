"""What crosses into a worker process, and how a child finds the modules it refers to.

Under ``fork`` nothing is pickled: the child inherits the target and its arguments.
Under ``spawn`` and ``forkserver`` the target and arguments are pickled with dill in the parent, so
anything that cannot be sent fails there, at once, naming the object.
dill pickles functions of importable modules by reference, and the globals of lambdas and nested
functions as a reference to their module; a child may be unable to import that module by name
(pytest's ``--import-mode=importlib`` names test modules after the rootdir, which is not on
``sys.path``).
So the parent sends a manifest of the project modules the pickle mentions, with their files, and
the child imports each of them from its file under the same name before unpickling. A module that
another package compiled its own way (pytest rewrites the asserts of test modules) travels as
that code, compiled by the package's hooks (:mod:`._hooks`), which also prepare the child.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import io
import marshal
import os
import pickle
import sys
import types
import weakref
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import dill
from multiprocess import context as mp_context
from multiprocess.reduction import ForkingPickler

from concur_lab.engine import _hooks
from concur_lab.engine._send_error import SendError

__all__ = [
    "DeferredPayload",
    "Manifest",
    "ModuleEntry",
    "Shipped",
    "dumps_payload",
    "import_manifest",
    "loads_payload",
    "needs_inheritance",
]


@dataclass(frozen=True)
class ModuleEntry:
    """A module a child must import from its file before unpickling.

    :ivar compiler: The :attr:`~._hooks.ChildHooks.reference` of the hooks that compile this
        module their own way, or ``""`` for a plain import of its file.
    :ivar code: For such a module: the code the hooks compiled, marshalled and compressed by the
        parent (once per version of the file), so that children do not each compile it.
    """

    name: str
    file: str
    compiler: str = ""
    code: bytes | None = None
    magic: bytes = importlib.util.MAGIC_NUMBER


@dataclass(frozen=True)
class Manifest:
    """What a ``spawn``/``forkserver`` child must prepare before unpickling its payload.

    :ivar modules: Project modules to import from their files, parents first.
    :ivar setups: (hooks reference, state) for each hooks object that compiled one of *modules*:
        the child calls its :meth:`~._hooks.ChildHooks.setup_child` with the state first.
    """

    modules: tuple[ModuleEntry, ...] = ()
    setups: tuple[tuple[str, object], ...] = ()

    def __reduce__(self) -> tuple[Any, ...]:
        # multiprocess pickles a child's arguments with dill's pure-Python pickler, which took
        # ~0.36 ms per child for a five-module manifest; the C pickler takes ~0.013 ms. It
        # holds only strings, bytes and ModuleEntry (importable by name), and the hooks' states,
        # plain values by their contract; anything unexpected there falls back to dill.
        fields = (self.modules, self.setups)
        try:
            return (_manifest_from_bytes, (pickle.dumps(fields, pickle.HIGHEST_PROTOCOL),))
        except Exception:
            return (Manifest, fields)


def _manifest_from_bytes(data: bytes) -> Manifest:
    return Manifest(*pickle.loads(data))


@cache
def _library_dirs() -> tuple[str, ...]:
    # Imported here: only a parent classifies modules, and a spawn child would pay for it.
    import sysconfig

    paths = sysconfig.get_paths()
    dirs = {paths[key] for key in ("stdlib", "platstdlib", "purelib", "platlib") if key in paths}
    dirs.update({sys.prefix, sys.base_prefix, sys.exec_prefix})
    return tuple(sorted(os.path.realpath(d) + os.sep for d in dirs))


# Module name -> (the module object seen, its entry or None): realpath costs a system call per
# module, and pytest alone loads about a thousand of them.
# Weak references, so that modules pytester or importlib drop are not kept alive here.
_classified: dict[str, tuple[weakref.ref[Any] | None, ModuleEntry | None]] = {}
# The hooks' generation the entries above were classified with: a change starts them afresh.
_classified_with = -1


def _classify(
    name: str, module: types.ModuleType, hooks: Sequence[_hooks.ChildHooks]
) -> ModuleEntry | None:
    file = getattr(module, "__file__", None)
    if not file or not file.endswith(".py") or name in ("__main__", "__mp_main__"):
        return None
    if os.path.realpath(file).startswith(_library_dirs()):
        return None
    compiler = next((h.reference for h in hooks if h.compiles(module)), "")
    return ModuleEntry(name, file, compiler)


def _project_modules() -> dict[str, ModuleEntry]:
    """Modules loaded from files outside the interpreter's and site-packages' folders."""
    global _classified_with
    hooks = _hooks.registered()
    if _classified_with != _hooks.generation():
        _classified.clear()
        _classified_with = _hooks.generation()
    found: dict[str, ModuleEntry] = {}
    for name, module in list(sys.modules.items()):
        seen = _classified.get(name)
        if seen is None or seen[0] is None or seen[0]() is not module:
            try:
                ref: weakref.ref[Any] | None = weakref.ref(module)
            except TypeError:
                ref = None
            seen = (ref, _classify(name, module, hooks))
            _classified[name] = seen
        if seen[1] is not None:
            found[name] = seen[1]
    return found


def _manifest_for(data: bytes) -> list[ModuleEntry]:
    # A pickle names a module as plain UTF-8 text (GLOBAL, STACK_GLOBAL and dill's module
    # references all push the name as a string): a substring test finds every candidate.
    entries = [
        _with_code(entry) if entry.compiler else entry
        for name, entry in _project_modules().items()
        if name.encode() in data
    ]
    # Parents first, so that a package is in place before its submodules.
    return sorted(entries, key=lambda e: e.name.count("."))


def _with_code(entry: ModuleEntry) -> ModuleEntry:
    try:
        status = os.stat(entry.file)
    except OSError:
        return entry
    code = _marshalled_code(entry.compiler, entry.file, status.st_mtime_ns, status.st_size)
    return dataclasses.replace(entry, code=code)


@lru_cache(maxsize=256)
def _marshalled_code(compiler: str, file: str, mtime_ns: int, size: int) -> bytes | None:
    """Compile *file* once per version (mtime and size are part of the cache key)."""
    code = _hooks.resolve(compiler).compile_file(file)
    # Compressed: a module's code is often more than a pipe holds, and the parent would wait
    # for the child to read it before starting the next one.
    return None if code is None else zlib.compress(marshal.dumps(code), 1)


def _describe(obj: object) -> str:
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    kind = type(obj).__name__
    return f"{kind} {name!r}" if name else f"a {kind}"


def _find_culprit(
    target: object, args: Sequence[Any], kwargs: Mapping[str, Any], worker_args: Sequence[Any]
) -> tuple[str, object] | None:
    candidates: list[tuple[str, object]] = [("the target", target)]
    candidates += [(f"args[{i}]", a) for i, a in enumerate(args)]
    candidates += [(f"kwargs[{k!r}]", v) for k, v in kwargs.items()]
    for w, wargs in enumerate(worker_args):
        candidates += [(f"worker_args[{w}][{i}]", a) for i, a in enumerate(wargs)]
    for what, obj in candidates:
        try:
            dill.dumps(obj, protocol=dill.HIGHEST_PROTOCOL)
        except Exception:
            return what, obj
    return None


def _closure_culprit(function: object) -> str:
    """Name the captured variable or global of *function* that fails to pickle, if any."""
    code = getattr(function, "__code__", None)
    if code is None:
        return ""
    cells = getattr(function, "__closure__", None) or ()
    for var, cell in zip(code.co_freevars, cells, strict=False):
        try:
            dill.dumps(cell.cell_contents)
        except Exception:
            return (
                f" (it captures {var!r}, {_describe(cell.cell_contents)}, which cannot be pickled)"
            )
    globs = getattr(function, "__globals__", {})
    for var in code.co_names:
        if var in globs and not isinstance(globs[var], types.ModuleType):
            try:
                dill.dumps(globs[var])
            except Exception:
                culprit = _describe(globs[var])
                return f" (it uses the global {var!r}, {culprit}, which cannot be pickled)"
    return ""


def _fd_carrying_types() -> tuple[type, ...]:
    """Types whose multiprocess reducer hands a file descriptor or handle to the receiver.

    Pickled while a child is being started, the descriptor travels with that child. Pickled at
    any other time, multiprocess serves it from a background "resource sharer" thread, once,
    to whoever asks first: a payload pickled once for several children then fails in all but
    one, and the thread stays (making every later fork warn about threads).
    """
    # Only from modules already imported: no such object exists otherwise, and importing one
    # here (inside a pytester in-process run, say, whose sys.modules snapshot then drops it)
    # would leave two copies of a multiprocess module whose reducers no longer match.
    found: list[type] = []
    for module_name, names in (
        ("socket", ("socket",)),
        ("multiprocess.connection", ("Connection", "PipeConnection")),
        ("multiprocess.heap", ("Arena",)),
    ):
        module = sys.modules.get(module_name)
        for name in names:
            cls = getattr(module, name, None)
            if isinstance(cls, type):
                found.append(cls)
    return tuple(found)


def _refuse_outside_start(obj: object) -> Any:
    raise RuntimeError(
        f"{type(obj).__name__} objects are sent to each worker process as it starts "
        "(they should only be shared between processes through inheritance)"
    )


def _pickle(payload: object) -> bytes:
    """Pickle with multiprocess's reducers, deferring descriptor-carrying ones to a child's start.

    multiprocess's pickler: dill plus its reducers for connections, shared memory arenas and the
    like, which plain dill does not know.
    """
    buffer = io.BytesIO()
    pickler = ForkingPickler(buffer, dill.HIGHEST_PROTOCOL)
    if mp_context.get_spawning_popen() is None:
        for cls in _fd_carrying_types():
            if cls in pickler.dispatch_table:
                pickler.dispatch_table[cls] = _refuse_outside_start
    pickler.dump(payload)
    return buffer.getvalue()


def dumps_payload(
    payload: object,
    *,
    target: object,
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    worker_args: Sequence[Any],
    start_method: str,
) -> tuple[bytes, Manifest]:
    """Pickle *payload* for a ``spawn``/``forkserver`` child and list the modules it needs.

    :raises SendError: Naming the first of *target*, *args*, *kwargs* or *worker_args* that
        cannot be pickled, and the modes that would accept it.
    """
    try:
        data = _pickle(payload)
    except Exception as exc:
        if isinstance(exc, RuntimeError) and "through inheritance" in str(exc):
            # Not a failure: the caller pickles again per child (DeferredPayload), so finding
            # the culprit (pickling every argument once more) would be wasted work.
            raise SendError(f"{exc} (pickled per child at its start)") from exc
        culprit = _find_culprit(target, args, kwargs, worker_args)
        what, obj = culprit if culprit is not None else ("the target or its arguments", payload)
        detail = _closure_culprit(obj) if what == "the target" else ""
        if "thread-mode SharedCounter" in str(exc):
            # 'fork' would accept it, but each child would count into its own copy.
            advice = "Use it in thread mode, or create SharedCounter('process') for processes."
        else:
            advice = (
                "Thread mode and process mode with the 'fork' start method accept it, "
                "because they do not pickle it."
            )
        raise SendError(
            f"cannot send {what} ({_describe(obj)}) to a process started with "
            f"{start_method!r}: {type(exc).__name__}: {exc}{detail}. {advice}",
            what=what,
            obj_type=type(obj).__name__,
        ) from exc
    modules = _manifest_for(data)
    compilers = dict.fromkeys(entry.compiler for entry in modules if entry.compiler)
    setups = tuple((ref, _hooks.resolve(ref).child_state()) for ref in compilers)
    return data, Manifest(tuple(modules), setups)


def needs_inheritance(error: SendError) -> bool:
    """Whether *error* came from an object multiprocess only lets a child inherit.

    Locks, semaphores, barriers, events and ``Value``/``Array`` refuse to pickle outside of a
    process start ("should only be shared between processes through inheritance"), and so,
    here, do connections, sockets and raw shared memory (see :func:`_fd_carrying_types`).
    """
    cause = error.__cause__
    return isinstance(cause, RuntimeError) and "through inheritance" in str(cause)


@dataclass(frozen=True)
class Shipped:
    """A payload pickled for one child, and the manifest to prepare before unpickling it."""

    data: bytes
    manifest: Manifest


class DeferredPayload:
    """A payload pickled only when multiprocess sends a starting child its arguments.

    That is the one moment when multiprocess's synchronisation primitives and shared values may
    be pickled (their file descriptors travel with that child), so each child gets its own
    pickle, made during its start; unpickling still waits until the child has imported the
    manifest's modules.
    """

    def __init__(self, payload: object, **describe: Any) -> None:
        self.payload = payload
        self.describe = describe

    def __reduce__(self) -> tuple[Any, ...]:
        data, manifest = dumps_payload(self.payload, **self.describe)
        return (Shipped, (data, manifest))


def _ensure_parents(name: str, file: str) -> None:
    parts = name.split(".")
    directory = os.path.dirname(file)
    if os.path.basename(file) == "__init__.py":
        directory = os.path.dirname(directory)
    for depth in range(len(parts) - 1, 0, -1):
        parent = ".".join(parts[:depth])
        if parent not in sys.modules:
            try:
                importlib.import_module(parent)
            except ImportError:
                # What pytest does for rootdir-named modules: an empty package stands in.
                placeholder = types.ModuleType(parent)
                placeholder.__path__ = [directory]
                sys.modules[parent] = placeholder
        directory = os.path.dirname(directory)


def _import_from_file(entry: ModuleEntry) -> None:
    _ensure_parents(entry.name, entry.file)
    is_package = os.path.basename(entry.file) == "__init__.py"
    spec = importlib.util.spec_from_file_location(
        entry.name,
        entry.file,
        submodule_search_locations=[os.path.dirname(entry.file)] if is_package else None,
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {entry.name!r} from {entry.file!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[entry.name] = module
    try:
        code = _child_code(entry) if entry.compiler else None
        if code is None:
            spec.loader.exec_module(module)
        else:
            exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(entry.name, None)
        raise
    parent, _, child = entry.name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, module)


def _child_code(entry: ModuleEntry) -> types.CodeType | None:
    if entry.code is not None and entry.magic == importlib.util.MAGIC_NUMBER:
        code = marshal.loads(zlib.decompress(entry.code))
        if isinstance(code, types.CodeType):
            return code
    # Another interpreter's bytecode (or none was sent): the hooks compile it here.
    return _hooks.resolve(entry.compiler).compile_file(entry.file)


def import_manifest(manifest: Sequence[ModuleEntry]) -> None:
    """Make every module of *manifest* importable under its parent's name, in a child."""
    for entry in manifest:
        if entry.name in sys.modules:
            continue
        if not entry.compiler:
            try:
                module = importlib.import_module(entry.name)
            except ImportError:
                pass
            else:
                same = getattr(module, "__file__", None)
                if same and os.path.realpath(same) == os.path.realpath(entry.file):
                    continue
                sys.modules.pop(entry.name, None)
        _import_from_file(entry)


def loads_payload(data: bytes, manifest: Manifest) -> Any:
    """Set up *manifest*'s hooks, import the modules it lists, then unpickle *data* (in a child)."""
    for reference, state in manifest.setups:
        _hooks.resolve(reference).setup_child(state)
    import_manifest(manifest.modules)
    unpickler = dill.Unpickler(io.BytesIO(data))
    # dill binds "__main__" to the module it saw when it was imported, which in a spawned child
    # is the bootstrap script, not the parent's main re-run as __mp_main__ (dill#559).
    unpickler._main = sys.modules["__main__"]
    return unpickler.load()
