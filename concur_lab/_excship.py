"""Send an exception from a worker process to its parent as itself: type, arguments, traceback.

Plain pickling loses exceptions in three common ways: an ``__init__`` that takes several arguments
fails on load, tracebacks cannot be pickled at all, and classes that claim a module they are not in
(pytest's outcome exceptions say ``builtins``) cannot be found by name.
So an exception travels as its state: where its class really lives, ``args``, ``__dict__``, notes,
cause and context, and the traceback as (file, line, function) frames.
The parent rebuilds the object without calling ``__init__`` and gives it a real traceback whose
frames point at the worker's source lines, so pytest and :mod:`traceback` show them as usual.
"""

from __future__ import annotations

import importlib
import linecache
import sys
import traceback
import types
from dataclasses import dataclass, field
from typing import Any

import dill

__all__ = ["ExceptionState", "RemoteError", "capture_exception", "restore_exception"]

_MAX_CHAIN = 8


class RemoteError(Exception):
    """An exception raised in a worker process that could not be sent back as itself.

    It carries the original type's name, its message and the worker's formatted traceback.

    :ivar type_name: Qualified name of the original exception type.
    :ivar remote_traceback: The traceback as formatted in the worker.
    """

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        super().__init__(f"{type_name}: {message}" if message else type_name)
        self.type_name = type_name
        self.remote_traceback = remote_traceback


@dataclass
class _Frame:
    filename: str
    name: str
    lineno: int
    firstlineno: int
    module: str


@dataclass
class ExceptionState:
    """An exception taken apart so that it pickles; see :func:`restore_exception`."""

    cls_ref: tuple[str, str] | None
    cls_pickle: bytes | None
    type_name: str
    message: str
    args_pickle: bytes | None
    dict_pickle: bytes | None
    notes: list[str]
    frames: list[_Frame]
    formatted: str
    cause: ExceptionState | None = None
    context: ExceptionState | None = None
    suppress_context: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _locate_class(cls: type) -> tuple[str, str] | None:
    """Find a module and qualified name under which *cls* can be imported again."""
    qualname = cls.__qualname__
    if "<locals>" in qualname:
        return None
    module = sys.modules.get(cls.__module__)
    if module is not None and _resolve(module, qualname) is cls:
        return (cls.__module__, qualname)
    # The class lies about its module (pytest's Skipped says "builtins"): look for it.
    for name, candidate in list(sys.modules.items()):
        if candidate is None or name == cls.__module__:
            continue
        try:
            if _resolve(candidate, qualname) is cls:
                return (name, qualname)
        except Exception:
            continue
    return None


def _resolve(obj: object, qualname: str) -> object:
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _dumps(obj: object) -> bytes | None:
    try:
        return dill.dumps(obj, protocol=dill.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]
    except Exception:
        return None


def _frames(tb: types.TracebackType | None) -> list[_Frame]:
    frames = []
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append(
            _Frame(
                filename=code.co_filename,
                name=code.co_name,
                lineno=tb.tb_lineno,
                firstlineno=code.co_firstlineno,
                module=str(tb.tb_frame.f_globals.get("__name__", "?")),
            )
        )
        tb = tb.tb_next
    return frames


def capture_exception(exc: BaseException, _depth: int = 0) -> ExceptionState:
    """Take *exc* apart into a picklable :class:`ExceptionState`."""
    cls = type(exc)
    cls_ref = _locate_class(cls)
    state = ExceptionState(
        cls_ref=cls_ref,
        cls_pickle=None if cls_ref is not None else _dumps(cls),
        type_name=f"{cls.__module__}.{cls.__qualname__}",
        message=_safe_str(exc),
        args_pickle=_dumps(exc.args),
        dict_pickle=_dumps(vars(exc)) if vars(exc) else _dumps({}),
        notes=[str(n) for n in getattr(exc, "__notes__", [])],
        frames=_frames(exc.__traceback__),
        formatted="".join(traceback.format_exception(exc)),
        suppress_context=exc.__suppress_context__,
    )
    if _depth < _MAX_CHAIN:
        if exc.__cause__ is not None:
            state.cause = capture_exception(exc.__cause__, _depth + 1)
        if exc.__context__ is not None and exc.__context__ is not exc.__cause__:
            state.context = capture_exception(exc.__context__, _depth + 1)
    return state


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception:
        return f"<unprintable {type(exc).__name__}>"


def _find_class(state: ExceptionState) -> type[BaseException] | None:
    cls: object = None
    if state.cls_ref is not None:
        module_name, qualname = state.cls_ref
        if module_name in ("__mp_main__", "__main__"):
            module_name = "__main__"
        try:
            module = sys.modules.get(module_name) or importlib.import_module(module_name)
            cls = _resolve(module, qualname)
        except Exception:
            cls = None
    if cls is None and state.cls_pickle is not None:
        try:
            cls = dill.loads(state.cls_pickle)
        except Exception:
            cls = None
    if isinstance(cls, type) and issubclass(cls, BaseException):
        return cls
    return None


def _load(data: bytes | None) -> tuple[bool, Any]:
    if data is None:
        return False, None
    try:
        return True, dill.loads(data)
    except Exception:
        return False, None


def restore_exception(state: ExceptionState) -> BaseException:
    """Rebuild the exception described by *state*, with a traceback of the worker's frames.

    Falls back to :class:`RemoteError` when the class or its arguments cannot be rebuilt.
    """
    exc = _rebuild(state)
    exc.__traceback__ = _rebuild_traceback(state.frames)
    if state.cause is not None:
        exc.__cause__ = restore_exception(state.cause)
    if state.context is not None:
        exc.__context__ = restore_exception(state.context)
    exc.__suppress_context__ = state.suppress_context
    return exc


def _rebuild(state: ExceptionState) -> BaseException:
    cls = _find_class(state)
    ok_args, args = _load(state.args_pickle)
    ok_dict, attrs = _load(state.dict_pickle)
    if cls is not None and ok_args and ok_dict and isinstance(args, tuple):
        try:
            # Skip __init__: its signature need not match args (the classic unpickling failure).
            exc = cls.__new__(cls, *args)
            if exc.args != args:
                exc.args = args
            if attrs:
                exc.__dict__.update(attrs)
            return exc
        except Exception:
            pass
    remote = RemoteError(state.type_name, state.message, state.formatted)
    for note in state.notes:
        remote.add_note(note)
    return remote


def _rebuild_traceback(frames: list[_Frame]) -> types.TracebackType | None:
    """Build a real traceback whose frames report the worker's files, functions and lines."""
    head: types.TracebackType | None = None
    tail: types.TracebackType | None = None
    for frame in frames:
        tb = _fake_frame(frame)
        if tb is None:
            continue
        if tail is None:
            head = tb
        else:
            tail.tb_next = tb
        tail = tb
    return head


class _Marker(Exception):
    pass


def _raise_statement(frame: _Frame, indent_at_least: int) -> str:
    """A ``raise`` that spans the original line exactly, so no misleading carets are drawn."""
    line = linecache.getline(frame.filename, frame.lineno).rstrip()
    body = line.lstrip()
    indent = max(len(line) - len(body), indent_at_least)
    padding = len(body) - len("raise(__m)")
    if padding < 0:
        return " " * indent + "raise __m\n"
    return " " * indent + "raise(__m" + " " * padding + ")\n"


def _fake_frame(frame: _Frame) -> types.TracebackType | None:
    # A function compiled so that its code object has the original file, name, first line and a
    # raise on the original line: linecache then shows the worker's source for it.
    name = frame.name if frame.name.isidentifier() else "_worker_frame"
    def_form = frame.lineno > frame.firstlineno >= 1
    statement = _raise_statement(frame, indent_at_least=1 if def_form else 0)
    if def_form:
        source = (
            "\n" * (frame.firstlineno - 1)
            + f"def {name}():\n"
            + "\n" * (frame.lineno - frame.firstlineno - 1)
            + statement
        )
    else:
        name = ""
        source = "\n" * max(frame.lineno - 1, 0) + statement.lstrip()
    namespace: dict[str, Any] = {
        "__name__": frame.module,
        "__file__": frame.filename,
        "__m": _Marker(),
    }
    try:
        code = compile(source, frame.filename, "exec")
        if name:
            exec(code, namespace)
            function = namespace[name]
            function.__code__ = function.__code__.replace(
                co_name=frame.name, co_qualname=frame.name
            )
            function()
        else:
            exec(code.replace(co_name=frame.name), namespace)
    except _Marker as marker:
        # Drop this function's own frame: what remains is the compiled stand-in.
        tb = marker.__traceback__
        return tb.tb_next if tb is not None else None
    except Exception:
        return None
    return None
