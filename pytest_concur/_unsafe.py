"""Which tests are unsafe to run concurrently in a mode, decided before anything runs.

A test is unsafe in a mode when running its body in several workers of that mode would break
because of the *test's* own machinery rather than the code under test: its fixtures or the calls
it makes change state that is one per process (thread mode), or that a fresh process does not
have (process mode under ``spawn`` and ``forkserver``). Such a test's body runs once in that mode
(or is skipped with ``--concur-skip-unsafe``), and the suite report says why.

The reasons, in the order they are looked for:

1. ``@pytest.mark.concur_unsafe(reason=None, modes=None)``, in the modes it names (default all).
2. In thread mode, pytest-run-parallel's ``@pytest.mark.thread_unsafe(reason=...)`` and
   ``@pytest.mark.parallel_threads(1)``, so a suite annotated for that plugin works unchanged.
3. A fixture in the test's closure that :data:`BUILTIN_FIXTURES` (or the ini lists
   ``concur_thread_unsafe_fixtures`` / ``concur_process_unsafe_fixtures``) names for the mode.
4. A call, in the test function or in functions of the same project it calls (to the depth of
   ``concur_unsafe_depth``), of a function :data:`BUILTIN_FUNCTIONS` (or the ini lists
   ``concur_thread_unsafe_functions`` / ``concur_process_unsafe_functions``) names for the mode.

Calls are found in the source's syntax tree; each dotted name is resolved against the function's
globals (and, for ``self.x`` in a test method, its class) to the object it names, so
``from unittest import mock; mock.patch(...)`` and ``from unittest.mock import patch`` are both
``unittest.mock.patch``. Only names that resolve when the test is collected count: a call through
a local variable or an argument is not seen. The docs' table (``docs/reference/unsafe.rst``) lists
every rule with its reason.
"""

from __future__ import annotations

import ast
import inspect
import linecache
import sys
import textwrap
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

from pytest_concur._values import ConcurUsageError, parse_modes_argument

__all__ = [
    "BUILTIN_FIXTURES",
    "BUILTIN_FUNCTIONS",
    "MONKEYPATCH_IN_FIXTURE",
    "Rules",
    "context_aware_warnings",
    "find_unsafe_call",
    "forget_parsed_sources",
    "marker_reason",
    "rules_for",
    "unsafe_fixture",
]


def context_aware_warnings() -> bool:
    """Whether warning state is per thread (3.14+: both context flags set, as on free-threading)."""
    flags = sys.flags
    return bool(
        getattr(flags, "context_aware_warnings", 0) and getattr(flags, "thread_inherit_context", 0)
    )


# Fixture -> (modes and start methods it is unsafe in, why). "thread", "process" (every start
# method) or "process:spawn" / "process:forkserver".
MONKEYPATCH_IN_FIXTURE = "monkeypatch, used by another fixture"
_WARNINGS_STATE = "the warnings state (filters, showwarning) is one per process"
BUILTIN_FIXTURES: Mapping[str, tuple[frozenset[str], str]] = {
    # The capsys family, capfd and recwarn work in process workers: each worker gets its own,
    # recording what that worker did (pytest_concur._worker_fixtures).
    "capsys": (frozenset({"thread"}), "sys.stdout and sys.stderr are one per process"),
    "capsysbinary": (frozenset({"thread"}), "sys.stdout and sys.stderr are one per process"),
    "capteesys": (frozenset({"thread"}), "sys.stdout and sys.stderr are one per process"),
    "capfd": (frozenset({"thread"}), "file descriptors 1 and 2 are one per process"),
    "capfdbinary": (frozenset({"thread"}), "file descriptors 1 and 2 are one per process"),
    "recwarn": (frozenset({"thread"}), _WARNINGS_STATE),
    "caplog": (
        frozenset({"thread", "process:spawn", "process:forkserver"}),
        "its handler collects every thread's records; a spawn or fork-server worker starts "
        "without it",
    ),
    "monkeypatch": (
        frozenset({"thread"}),
        "its changes (attributes, environment, current directory) are seen by every thread",
    ),
    MONKEYPATCH_IN_FIXTURE: (
        frozenset({"process:spawn", "process:forkserver"}),
        "what a fixture changed with it in the parent never reaches a spawn or fork-server "
        "worker, which starts from a fresh interpreter",
    ),
}

# module.name or module.* -> (modes, why). Dotted names are those the call resolves to.
_MAIN_THREAD_ONLY = "only the main thread may set signal handlers"
_PER_PROCESS = "it changes state that is one per process"
BUILTIN_FUNCTIONS: Mapping[str, tuple[frozenset[str], str]] = {
    "pytest.warns": (frozenset({"thread"}), _WARNINGS_STATE),
    "pytest.deprecated_call": (frozenset({"thread"}), _WARNINGS_STATE),
    "_pytest.recwarn.warns": (frozenset({"thread"}), _WARNINGS_STATE),
    "_pytest.recwarn.deprecated_call": (frozenset({"thread"}), _WARNINGS_STATE),
    "warnings.catch_warnings": (frozenset({"thread"}), _WARNINGS_STATE),
    "warnings.simplefilter": (frozenset({"thread"}), _WARNINGS_STATE),
    "warnings.filterwarnings": (frozenset({"thread"}), _WARNINGS_STATE),
    "warnings.resetwarnings": (frozenset({"thread"}), _WARNINGS_STATE),
    "unittest.case.TestCase.assertWarns": (frozenset({"thread"}), _WARNINGS_STATE),
    "unittest.case.TestCase.assertWarnsRegex": (frozenset({"thread"}), _WARNINGS_STATE),
    "unittest.case.TestCase.assertLogs": (
        frozenset({"thread"}),
        "it installs one logging handler that every thread's records reach",
    ),
    "unittest.case.TestCase.assertNoLogs": (
        frozenset({"thread"}),
        "it installs one logging handler that every thread's records reach",
    ),
    "unittest.case.TestCase.subTest": (
        frozenset({"thread", "process"}),
        "sub-test results are recorded on the one test result in the parent",
    ),
    "unittest.mock.*": (frozenset({"thread"}), "a patch is seen by every thread"),
    "mock.*": (frozenset({"thread"}), "a patch is seen by every thread"),
    "os.chdir": (frozenset({"thread"}), "the current directory is one per process"),
    "os.fchdir": (frozenset({"thread"}), "the current directory is one per process"),
    "os.putenv": (frozenset({"thread"}), "the environment is one per process"),
    "os.unsetenv": (frozenset({"thread"}), "the environment is one per process"),
    "os.environ.*": (frozenset({"thread"}), "the environment is one per process"),
    "os.umask": (frozenset({"thread"}), _PER_PROCESS),
    "signal.signal": (frozenset({"thread"}), _MAIN_THREAD_ONLY),
    "signal.alarm": (frozenset({"thread"}), "the alarm is one per process"),
    "signal.setitimer": (frozenset({"thread"}), "interval timers are one per process"),
    "sys.setrecursionlimit": (frozenset({"thread"}), _PER_PROCESS),
    "sys.setswitchinterval": (frozenset({"thread"}), _PER_PROCESS),
    "sys.settrace": (frozenset({"thread"}), _PER_PROCESS),
    "sys.setprofile": (frozenset({"thread"}), _PER_PROCESS),
    "locale.setlocale": (frozenset({"thread"}), "the locale is one per process"),
    "random.seed": (frozenset({"thread"}), "the global random generator is one per process"),
    "random.setstate": (frozenset({"thread"}), "the global random generator is one per process"),
    "tracemalloc.start": (frozenset({"thread"}), "memory tracing is one per process"),
    "tracemalloc.stop": (frozenset({"thread"}), "memory tracing is one per process"),
    "time.tzset": (frozenset({"thread"}), "the time zone is one per process"),
    "contextlib.redirect_stdout": (frozenset({"thread"}), "sys.stdout is one per process"),
    # Assignments (``sys.stderr = StringIO()``), found by the ``=`` in their name.
    "sys.stdout =": (frozenset({"thread"}), "sys.stdout is one per process"),
    "sys.stderr =": (frozenset({"thread"}), "sys.stderr is one per process"),
    "sys.stdin =": (frozenset({"thread"}), "sys.stdin is one per process"),
    "sys.excepthook =": (frozenset({"thread"}), "the exception hook is one per process"),
    "sys.displayhook =": (frozenset({"thread"}), "the display hook is one per process"),
    "contextlib.redirect_stderr": (frozenset({"thread"}), "sys.stderr is one per process"),
}
_WARNING_FUNCTIONS = frozenset(
    name for name, (_, why) in BUILTIN_FUNCTIONS.items() if why == _WARNINGS_STATE
)


def _applies(modes: frozenset[str], kind: str, start_method: str | None) -> bool:
    return kind in modes or (kind == "process" and f"process:{start_method}" in modes)


@dataclass(frozen=True, slots=True)
class Rules:
    """The unsafe fixtures and functions of one mode (and start method), with their reasons.

    :ivar fixtures: Fixture name -> why it is unsafe.
    :ivar functions: ``module.name`` -> why; ``module.*`` entries are in :attr:`modules`.
    :ivar modules: Module name -> why, for ``module.*`` entries.
    :ivar depth: How deep calls into same-project functions are followed.
    :ivar root: The project's folder: only functions defined below it are followed.
    """

    fixtures: Mapping[str, str]
    functions: Mapping[str, str]
    modules: Mapping[str, str]
    depth: int
    root: str

    def function_reason(self, dotted: str) -> str | None:
        """Return why calling *dotted* is unsafe, or ``None``."""
        reason = self.functions.get(dotted)
        if reason is not None:
            return reason
        module = dotted
        while "." in module:
            module = module.rpartition(".")[0]
            reason = self.modules.get(module)
            if reason is not None:
                return reason
        return None


def rules_for(
    kind: str,
    start_method: str | None,
    extra_fixtures: Iterable[str],
    extra_functions: Iterable[str],
    depth: int,
    root: str,
) -> Rules:
    """Build the rules of *kind* (under *start_method*): the built-in ones plus the ini's."""
    fixtures = {
        name: why
        for name, (modes, why) in BUILTIN_FIXTURES.items()
        if _applies(modes, kind, start_method)
    }
    functions: dict[str, str] = {}
    for name, (modes, why) in BUILTIN_FUNCTIONS.items():
        if not _applies(modes, kind, start_method):
            continue
        if kind == "thread" and name in _WARNING_FUNCTIONS and context_aware_warnings():
            # 3.14+ with both context flags: each thread has its own warnings context.
            continue
        functions[name] = why
    if kind == "thread" and context_aware_warnings():
        fixtures.pop("recwarn", None)
    where = f"concur_{kind}_unsafe"
    for name in extra_fixtures:
        fixtures.setdefault(name, f"listed in ini {where}_fixtures")
    for name in extra_functions:
        functions.setdefault(name, f"listed in ini {where}_functions")
    modules = {name[:-2]: why for name, why in functions.items() if name.endswith(".*")}
    plain = {name: why for name, why in functions.items() if not name.endswith(".*")}
    return Rules(fixtures=fixtures, functions=plain, modules=modules, depth=depth, root=root)


def marker_reason(item: pytest.Item, kind: str, where: str) -> str | None:
    """Return why *item*'s markers make it unsafe in *kind*, or ``None``.

    :param where: The test's name, for error messages.
    :raises ValueError: If a ``concur_unsafe`` marker's arguments are invalid (the message names
        the marker and the test).
    """
    marker = item.get_closest_marker("concur_unsafe")
    if marker is not None:
        try:
            bound = _CONCUR_UNSAFE_SIGNATURE.bind(*marker.args, **marker.kwargs)
        except TypeError as exc:
            raise ConcurUsageError(
                f"invalid concur_unsafe marker arguments from marker on {where}: {exc}; the "
                "marker takes reason=None, modes=None"
            ) from None
        reason, modes = bound.arguments.get("reason"), bound.arguments.get("modes")
        chosen = (
            ("thread", "process")
            if modes is None
            else parse_modes_argument(modes, f"from concur_unsafe marker on {where}")
        )
        if kind in chosen:
            return f"marked concur_unsafe: {reason}" if reason else "marked concur_unsafe"
    if kind != "thread":
        return None
    marker = item.get_closest_marker("thread_unsafe")
    if marker is not None:
        reason = marker.kwargs.get("reason") or (marker.args[0] if marker.args else None)
        return f"marked thread_unsafe: {reason}" if reason else "marked thread_unsafe"
    for name in ("parallel_threads", "parallel_threads_limit", "force_parallel_threads"):
        marker = item.get_closest_marker(name)
        if marker is not None and marker.args and marker.args[0] == 1:
            return f"marked {name}(1)"
    return None


def _concur_unsafe_signature(reason: object = None, modes: object = None) -> None:
    """Carry the ``concur_unsafe`` marker's signature, for binding its arguments."""


_CONCUR_UNSAFE_SIGNATURE = inspect.signature(_concur_unsafe_signature)


def unsafe_fixture(fixturenames: Iterable[str], rules: Rules) -> str | None:
    """Return the reason for the first unsafe fixture among *fixturenames*, or ``None``."""
    for name in sorted(set(fixturenames)):
        why = rules.fixtures.get(name)
        if why is not None:
            return f"uses fixture {name!r}: {why}"
    return None


def find_unsafe_call(function: Callable[..., Any], rules: Rules, cls: type | None) -> str | None:
    """Return why a call in *function* (or what it calls, to ``rules.depth``) is unsafe."""
    seen: set[types.CodeType] = set()
    return _scan(function, rules, cls, rules.depth, seen, via=())


def _scan(
    function: Callable[..., Any],
    rules: Rules,
    cls: type | None,
    depth: int,
    seen: set[types.CodeType],
    via: tuple[str, ...],
) -> str | None:
    function = inspect.unwrap(function)
    code = getattr(function, "__code__", None)
    if code is None or code in seen:
        return None
    seen.add(code)
    namespace = getattr(function, "__globals__", {})
    if not _may_name_anything(code, namespace, cls):
        return None
    tree = _parse(code)
    if tree is None:
        return None
    for node in ast.walk(tree):
        target: ast.expr | None = None
        if isinstance(node, ast.Call):
            target = node.func
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Store | ast.Del)
            and "os.environ" in _resolve(node.value, namespace, cls)[0]
        ):
            reason = rules.function_reason("os.environ.__setitem__")
            if reason is not None:
                return _say("os.environ[...] =", reason, via)
            continue
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store | ast.Del):
            for name in _resolve(node, namespace, cls)[0]:
                reason = rules.function_reason(f"{name} =")
                if reason is not None:
                    return _say_assigns(f"{name} =", reason, via)
            continue
        if target is None:
            continue
        names, obj = _resolve(target, namespace, cls)
        if not names:
            continue
        dotted = names[0]
        for name in names:
            reason = rules.function_reason(name)
            if reason is not None:
                return _say(dotted, reason, via)
        if depth > 0 and _in_project(obj, rules.root):
            inner_cls = cls if _is_method_of(obj, cls) else None
            found = _scan(obj, rules, inner_cls, depth - 1, seen, (*via, dotted))
            if found is not None:
                return found
    return None


def _may_name_anything(
    code: types.CodeType, namespace: Mapping[str, Any], cls: type | None
) -> bool:
    """Whether *code*'s source can hold a call or assignment that :func:`_resolve` resolves.

    Only dotted names whose head is a global (or ``self``/``cls`` in a method of *cls*) resolve,
    and every global or attribute a function uses is in its code's ``co_names`` (or a nested
    function's): a test that names none of its globals needs no parse, which is the costly part
    of the scan (a quarter of ``--concur-all``'s collection time on a generated suite). Its
    decorators are not in its code but in the source the scan reads: decorated functions are
    always parsed.
    """
    line = linecache.getline(code.co_filename, code.co_firstlineno).lstrip()
    if not line or line.startswith("@"):
        return True
    for inner in _codes(code):
        uses_self = {"self", "cls"} & {*inner.co_varnames, *inner.co_freevars}
        if cls is not None and inner.co_names and uses_self:
            return True
        # pytest's assertion rewriting adds globals named "@py_builtins" and "@pytest_ar" to
        # test modules, and uses them in every assert: no source can name them.
        if any(name in namespace and name[0] != "@" for name in inner.co_names):
            return True
    return False


def _codes(code: types.CodeType) -> Iterator[types.CodeType]:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _codes(const)


def _say_assigns(assignment: str, reason: str, via: tuple[str, ...]) -> str:
    path = f" (through {' -> '.join(via)})" if via else ""
    return f"assigns {assignment.removesuffix(' =')}{path}: {reason}"


def _say(dotted: str, reason: str, via: tuple[str, ...]) -> str:
    path = f" (through {' -> '.join(via)})" if via else ""
    return f"calls {dotted}{path}: {reason}"


@lru_cache(maxsize=2048)
def _parse(code: types.CodeType) -> ast.AST | None:
    try:
        lines, _ = inspect.getsourcelines(code)
    except (OSError, TypeError):
        return None
    try:
        return ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:
        return None


def forget_parsed_sources() -> None:
    """Drop the syntax trees the scans parsed (call it when collection's scanning is done).

    The cache serves one collection, where parametrized tests and shared helpers are scanned many
    times. Kept for the session, its trees (a dict and lists per node: about 70 objects per
    three-line test) stay in the garbage collector's oldest generation, and every full collection
    of the test run walks them again.
    """
    _parse.cache_clear()


def _chain(node: ast.expr) -> list[str] | None:
    """Return ``["a", "b", "c"]`` for ``a.b.c``, or ``None`` if it is not a plain dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _canonical(obj: object) -> str | None:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    if not isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
        return None
    module = getattr(obj, "__module__", None)
    name = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(name, str) and "<" not in name:
        return f"{module}.{name}"
    return None


def _resolve(
    node: ast.expr, namespace: Mapping[str, Any], cls: type | None
) -> tuple[tuple[str, ...], Any]:
    """Resolve a dotted call target to the names it may be known by, and the object if found.

    The names are the spelling with the base's module or class name put in
    (``pytest.warns``, ``os.environ.update``), and the found object's own home
    (``_pytest.recwarn.warns``); the base is looked up in *namespace* (``self``/``cls`` in a
    method of *cls*), each attribute statically on what was found.
    """
    chain = _chain(node)
    if chain is None:
        return (), None
    head, rest = chain[0], chain[1:]
    obj: Any
    if head in ("self", "cls") and cls is not None:
        obj = cls
    elif head in namespace:
        obj = namespace[head]
    else:
        return (), None
    base = _canonical(obj)
    if base is None:
        return (), None
    names = [".".join([base, *rest])]
    for attr in rest:
        try:
            obj = inspect.getattr_static(obj, attr)
        except AttributeError:
            return tuple(names), None
        if isinstance(obj, staticmethod | classmethod):
            obj = obj.__func__
    home = _canonical(obj)
    if home is not None and home not in names:
        names.append(home)
    return tuple(names), obj


def _in_project(obj: object, root: str) -> bool:
    if not isinstance(obj, types.FunctionType | types.MethodType):
        return False
    code = getattr(inspect.unwrap(obj), "__code__", None)
    return _file_in_project(getattr(code, "co_filename", ""), root)


@lru_cache(maxsize=4096)
def _file_in_project(filename: str, root: str) -> bool:
    if not filename or "site-packages" in filename or "dist-packages" in filename:
        return False
    try:
        Path(filename).resolve().relative_to(root)
    except ValueError:
        return False
    return True


def _is_method_of(obj: object, cls: type | None) -> bool:
    if cls is None:
        return False
    qualname = getattr(obj, "__qualname__", "")
    return any(qualname.startswith(f"{base.__qualname__}.") for base in cls.__mro__)


def iter_rule_rows() -> Iterator[tuple[str, str, str, str]]:
    """Yield ``(kind of rule, name, modes, why)`` for every built-in rule (for the docs' table)."""
    for name, (modes, why) in BUILTIN_FIXTURES.items():
        yield "fixture", name, ", ".join(sorted(modes)), why
    for name, (modes, why) in BUILTIN_FUNCTIONS.items():
        kind = "assignment" if name.endswith(" =") else "call"
        yield kind, name, ", ".join(sorted(modes)), why
