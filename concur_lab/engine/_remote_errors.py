"""Send an exception from a worker process to its parent as itself: type, arguments, traceback.

Plain pickling loses exceptions in three common ways: an ``__init__`` that takes several arguments
fails on load, tracebacks cannot be pickled at all, and classes that claim a module they are not in
(pytest's outcome exceptions say ``builtins``) cannot be found by name.
So an exception travels as its state: where its class really lives, what its ``__reduce_ex__``
returns, ``args``, ``__dict__``, the attributes builtin exceptions keep in C fields, notes, cause
and context, the members of an exception group, and the traceback as (file, line, function)
frames. Arguments and attributes that cannot be pickled travel as their ``repr``.
The parent rebuilds the object as pickle would (calling the class with its reduced arguments, so
``OSError.filename`` or ``SystemExit.code`` come back); when that fails, typically because
``__init__`` takes other arguments than ``args``, it builds it without calling ``__init__`` and
sets the attributes itself. It then gives it a real traceback whose frames point at the worker's
source lines, so pytest and :mod:`traceback` show them as usual; frames that hid themselves with
``__tracebackhide__`` stay hidden.
"""

from __future__ import annotations

import importlib
import linecache
import sys
import traceback
import types
from contextlib import suppress
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
    #: The frame set a true ``__tracebackhide__`` (pytest's helpers do): rebuilt as hidden too.
    hidden: bool = False


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
    #: What ``__reduce_ex__`` gave: the arguments, the state, and the callable when it is not
    #: the class itself (``None``: rebuild with the class).
    reduce_args_pickle: bytes | None = None
    reduce_state_pickle: bytes | None = None
    reduce_callable_pickle: bytes | None = None
    #: Attributes the interpreter keeps in C fields rather than ``__dict__`` (``OSError.filename``).
    c_attrs_pickle: bytes | None = None
    #: For an exception group: its members, each taken apart the same way.
    group: list[ExceptionState] | None = None


# Attributes that builtin exceptions keep outside __dict__ and set only in __init__: restored
# explicitly when __init__ cannot be called with the exception's own arguments.
_C_ATTRS: tuple[tuple[type[BaseException], tuple[str, ...]], ...] = (
    (OSError, ("errno", "strerror", "filename", "filename2")),
    (SystemExit, ("code",)),
    (StopIteration, ("value",)),
    (ImportError, ("msg", "name", "path", "name_from")),
    (
        SyntaxError,
        ("msg", "filename", "lineno", "offset", "text", "end_lineno", "end_offset"),
    ),
    (UnicodeEncodeError, ("encoding", "object", "start", "end", "reason")),
    (UnicodeDecodeError, ("encoding", "object", "start", "end", "reason")),
    (UnicodeTranslateError, ("object", "start", "end", "reason")),
)
_MISSING = object()


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


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _dumps_tuple(values: tuple[Any, ...]) -> bytes | None:
    """Pickle *values*, replacing each item that cannot be pickled by its ``repr``."""
    data = _dumps(values)
    if data is None:
        data = _dumps(tuple(v if _dumps(v) is not None else _safe_repr(v) for v in values))
    return data


def _dumps_dict(values: dict[str, Any]) -> bytes | None:
    """Pickle *values*, replacing each value that cannot be pickled by its ``repr``."""
    data = _dumps(values)
    if data is None:
        data = _dumps({k: v if _dumps(v) is not None else _safe_repr(v) for k, v in values.items()})
    return data


def _is_hidden(frame: types.FrameType) -> bool:
    # pytest's rule (TracebackEntry.ishidden): the frame's locals first, then its globals.
    # A callable __tracebackhide__ needs pytest's ExceptionInfo: such frames are kept visible.
    for namespace in (frame.f_locals, frame.f_globals):
        try:
            value = namespace["__tracebackhide__"]
        except Exception:
            continue
        if callable(value):
            return False
        try:
            return bool(value)
        except Exception:
            return False
    return False


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
                hidden=_is_hidden(tb.tb_frame),
            )
        )
        tb = tb.tb_next
    return frames


def _reduction(exc: BaseException, cls: type) -> tuple[bytes | None, bytes | None, bytes | None]:
    """Pickle what ``exc.__reduce_ex__`` says rebuilds *exc*: (args, state, callable or None)."""
    try:
        reduced = exc.__reduce_ex__(2)
    except Exception:
        return None, None, None
    if not isinstance(reduced, tuple) or len(reduced) < 2 or not isinstance(reduced[1], tuple):
        return None, None, None
    function, args = reduced[0], reduced[1]
    state = reduced[2] if len(reduced) > 2 else None
    function_pickle = None
    if function is not cls:
        function_pickle = _dumps(function)
        if function_pickle is None:
            return None, None, None
    if state is None:
        state_pickle = None
    elif isinstance(state, dict):
        state_pickle = _dumps_dict(state)
    else:
        state_pickle = _dumps(state)
    return _dumps_tuple(args), state_pickle, function_pickle


def _c_attrs(exc: BaseException) -> bytes | None:
    found: dict[str, Any] = {}
    for base, names in _C_ATTRS:
        if isinstance(exc, base):
            for name in names:
                value = getattr(exc, name, _MISSING)
                if value is not _MISSING:
                    found[name] = value
    return _dumps_dict(found) if found else None


def capture_exception(exc: BaseException, _depth: int = 0) -> ExceptionState:
    """Take *exc* apart into a picklable :class:`ExceptionState`.

    Arguments and attributes that cannot be pickled are replaced by their ``repr``, so that the
    exception still arrives as its own type.
    """
    cls = type(exc)
    cls_ref = _locate_class(cls)
    is_group = isinstance(exc, BaseExceptionGroup) and _depth < _MAX_CHAIN
    state = ExceptionState(
        cls_ref=cls_ref,
        cls_pickle=None if cls_ref is not None else _dumps(cls),
        type_name=f"{cls.__module__}.{cls.__qualname__}",
        message=_safe_str(exc),
        # A group's arguments hold its members, which travel one by one in .group.
        args_pickle=_dumps_tuple((exc.message,) if is_group else exc.args),  # type: ignore[attr-defined,unused-ignore]
        dict_pickle=_dumps_dict(vars(exc)),
        notes=[str(n) for n in getattr(exc, "__notes__", [])],
        frames=_frames(exc.__traceback__),
        formatted="".join(traceback.format_exception(exc)),
        suppress_context=exc.__suppress_context__,
        c_attrs_pickle=_c_attrs(exc),
    )
    if is_group:
        members = exc.exceptions  # type: ignore[attr-defined]
        state.group = [capture_exception(member, _depth + 1) for member in members]
    else:
        reduced = _reduction(exc, cls)
        state.reduce_args_pickle, state.reduce_state_pickle = reduced[0], reduced[1]
        state.reduce_callable_pickle = reduced[2]
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
    if cls is not None:
        ok_args, args = _load(state.args_pickle)
        if ok_args and isinstance(args, tuple):
            if state.group is not None:
                exc = _rebuild_group(cls, state, args)
            else:
                exc = _by_reduction(cls, state, args) or _without_init(cls, state, args)
            if exc is not None:
                return exc
    remote = RemoteError(state.type_name, state.message, state.formatted)
    for note in state.notes:
        remote.add_note(note)
    return remote


def _by_reduction(
    cls: type[BaseException], state: ExceptionState, args: tuple[Any, ...]
) -> BaseException | None:
    """Rebuild as pickle would, from ``__reduce_ex__``.

    This runs ``__init__``, which sets the attributes builtin exceptions keep in C fields
    (``OSError.filename``, ``SystemExit.code``).
    """
    ok, reduce_args = _load(state.reduce_args_pickle)
    if not ok or not isinstance(reduce_args, tuple):
        return None
    function: Any = cls
    if state.reduce_callable_pickle is not None:
        ok, function = _load(state.reduce_callable_pickle)
        if not ok:
            return None
    reduce_state: Any = None
    if state.reduce_state_pickle is not None:
        ok, reduce_state = _load(state.reduce_state_pickle)
        if not ok:
            return None
    try:
        exc = function(*reduce_args)
        if type(exc) is not cls:
            return None
        if reduce_state:
            setstate = getattr(exc, "__setstate__", None)
            if setstate is not None:
                setstate(reduce_state)
            elif isinstance(reduce_state, dict):
                exc.__dict__.update(reduce_state)
        if exc.args != args:
            # An __init__ that reworded its arguments: the worker's are the truth.
            exc.args = args
    except Exception:
        # Typically an __init__ whose signature does not match args (several arguments).
        return None
    return exc


def _without_init(
    cls: type[BaseException], state: ExceptionState, args: tuple[Any, ...]
) -> BaseException | None:
    ok_dict, attrs = _load(state.dict_pickle)
    if not ok_dict:
        return None
    try:
        # Skip __init__: its signature need not match args (the classic unpickling failure).
        exc = cls.__new__(cls, *args)
        if exc.args != args:
            exc.args = args
        if attrs:
            exc.__dict__.update(attrs)
    except Exception:
        return None
    ok_c, c_attrs = _load(state.c_attrs_pickle)
    if ok_c and isinstance(c_attrs, dict):
        for name, value in c_attrs.items():
            with suppress(Exception):
                setattr(exc, name, value)
    return exc


def _rebuild_group(
    cls: type[BaseException], state: ExceptionState, args: tuple[Any, ...]
) -> BaseException | None:
    members = [restore_exception(member) for member in state.group or ()]
    message = args[0] if args else ""
    ok_dict, attrs = _load(state.dict_pickle)
    for build in (cls, cls.__new__):
        try:
            exc = build(message, members) if build is cls else cls.__new__(cls, message, members)
        except Exception:
            continue
        if type(exc) is not cls:
            continue
        if ok_dict and attrs:
            with suppress(Exception):
                exc.__dict__.update(attrs)
        return exc
    return None


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
    if frame.hidden:
        # pytest reads it from the frame's globals, as it would from the worker's frame.
        namespace["__tracebackhide__"] = True
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
