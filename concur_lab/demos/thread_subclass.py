"""A ``Thread`` subclass that overrides ``run()`` and reads a module global: late binding.

``run()`` looks the global ``num`` up when it *runs*, not when the thread was created, so five
threads made in ``for num in range(5)`` that run after the loop all see 4; pass the value to the
constructor (``self.num``) and each keeps its own. The same subclass as a process behaves
differently per start method: ``fork`` children read their copy of memory made at ``start()``
(0..4, right by accident), ``spawn`` and ``forkserver`` children import the module afresh, where
the loop never ran, and fail with ``NameError``.

What the blog post got wrong: its subclass example reads the global late and presents the
resulting (scheduling-dependent) output as thread behaviour; here a start event makes every
thread run after the loop, so the late read is certain. Its code also had a fullwidth comma
(``，``) and curly quotes, which Python rejects with ``SyntaxError: invalid character``.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import multiprocess

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TITLE", "ReaderThread", "run"]

SLUG = "thread-subclass"
TITLE = N_("A Thread subclass reads a global late")
THEME = "basics"
ORDER = 40
LESSON = N_(
    "A run() method reads a global when it runs, not when the worker was made: pass values to the "
    "constructor"
)

num: int
# Annotated only: `num` is deliberately not defined at import. run() creates it as its loop
# variable, like the blog post's top-level `for num in range(5)`; a re-imported module (spawn,
# forkserver) has no `num`.


class _Reader:
    """The shared ``run()``: read the module global (the bug) and the attribute (the fix)."""

    index: int
    inbox: Any
    go: Any
    num: int

    def run(self) -> None:
        self.go.wait(WAIT)  # released by the demo only after its loop has finished
        try:
            late: dict[str, Any] = {"saw": num}  # looked up now
        except NameError as exc:
            late = {"raised": "NameError", "message": str(exc)}
        self.inbox.put((self.index, late, {"saw": self.num}))


class ReaderThread(_Reader, threading.Thread):
    """The blog post's subclass, plus the fix: ``run()`` reads ``num`` and ``self.num``."""


# The same subclass for processes, one per start method: a Process subclass picks its start
# method through its base class (ctx.Process). They live at module level so that a spawned child
# can find them by name when it unpickles the process object.
_PROCESS_CLASSES: dict[str, type] = {}
for _method in multiprocess.get_all_start_methods():
    _name = f"_ReaderProcess_{_method}"
    _PROCESS_CLASSES[_method] = globals()[_name] = type(
        _name,
        (_Reader, multiprocess.get_context(_method).Process),
        {"__module__": __name__, "__qualname__": _name},
    )


def _reader_class(mode: Mode) -> type:
    if mode.kind == "thread":
        return ReaderThread
    assert mode.start_method is not None
    return _PROCESS_CLASSES[mode.start_method]


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Start *workers* readers (default 5) in a loop and let them run only after the loop.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many readers of each kind (default 5).
    :returns: ``{"late": [...], "bound": [...], "summary": ...}``: what each reader saw in the
        global (late) and in its attribute (bound), in index order (``{"saw": n}`` or
        ``{"raised": "NameError", ...}``).
    """
    global num
    n = worker_count(workers, 5)
    kit = Kit.of(mode)
    cls = _reader_class(mode)
    go = kit.Event()
    result: dict[str, Any] = {}
    try:
        with contextlib.closing(kit.inbox()) as inbox, kit.workers() as crew:
            for num in range(n):  # assigns the module global, as the blog post's loop did
                reader = cls(name=f"reader-{num}")
                reader.index, reader.inbox, reader.go, reader.num = num, inbox, go, num
                crew.adopt(reader).start()
            go.set()  # only now do the readers run(): the loop is over and num == n - 1
            seen = sorted(inbox.collect(n, watch=crew.handles), key=lambda s: s[0])
    finally:
        globals().pop("num", None)  # leave the module as imported
    result["late"] = [late for _, late, _ in seen]
    result["bound"] = [bound for _, _, bound in seen]
    result["summary"] = gettext(
        "reading the global in run(): {late}; value passed in: {bound}"
    ).format(late=_short(result["late"]), bound=_short(result["bound"]))
    if mode.kind == "process":
        result["varies"] = N_(
            "with the start method: fork children read their copy made at start() (0..n-1), "
            "spawn and forkserver children re-import the module and raise NameError"
        )
    return result


def _short(seen: list[dict[str, Any]]) -> str:
    if any("raised" in obs for obs in seen):
        return ", ".join(sorted({obs.get("raised", "ok") for obs in seen}))
    return ", ".join(str(obs["saw"]) for obs in seen)
