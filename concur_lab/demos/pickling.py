"""Everything that crosses a process boundary is pickled: a copy, and only if it can be pickled.

Threads hand each other the very same objects; a process gets pickled copies of its arguments
(under spawn and forkserver) and of everything it sends back. What cannot be pickled, such as a
generator, fails, and on a queue it fails silently. The fix: send plain data (a list).

Details: ``fork`` copies the arguments with the memory instead of pickling them. A queue's
``put()`` returns at once; its feeder thread fails later, prints a traceback to the worker's
stderr and drops the item, so the reader waits forever. ``multiprocess`` pickles with ``dill``,
so lambdas and closures do cross; the standard library's ``pickle`` (used by
``multiprocessing``) refuses them, so a lambda target fails in ``start()`` under spawn and
forkserver, which the demo observes in a fresh interpreter. A target defined in ``__main__``
without the ``if __name__ == "__main__":`` guard fails there too.
"""

from __future__ import annotations

import io
import pickle
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import dill

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import PROBE, WAIT, Kit, attempt, stdlib_start, worker_count

__all__ = ["FIXED_WORKERS", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "pickling"
TITLE = N_("The pickling boundary")
THEME = "hazards"
ORDER = 270
FIXED_WORKERS = 1
"""The demo always uses one worker (per case): ``--workers`` does not apply."""
LESSON = N_("Processes only exchange pickled copies; unpicklable items fail at start() or vanish")

_pickled_here: list[str] = []


class _Witness:
    """A value that notes in the pickling process each time it is pickled."""

    def __reduce__(self) -> tuple[type[_Witness], tuple[()]]:
        _pickled_here.append("pickled")
        return (_Witness, ())


def _numbers() -> Iterator[int]:
    yield from range(1, 6)


def _consume(items: Iterable[int], witness: _Witness, inbox: Any) -> None:
    inbox.put((sum(items), witness))


def _send_back(outbox: Any, inbox: Any, in_process: bool) -> None:
    # put() only queues the item; a process pickles it later in the queue's feeder thread, whose
    # traceback goes to stderr: capture it to report it instead of printing it.
    captured = io.StringIO()
    previous = sys.stderr
    if in_process:
        sys.stderr = captured
    try:
        outbox.put(_numbers())
        outbox.put(list(_numbers()))
        outbox.close()  # waits until the feeder thread has sent or dropped everything
    finally:
        sys.stderr = previous
    lines = [line for line in captured.getvalue().splitlines() if line.strip()]
    inbox.put(lines[-1] if lines else None)


def _pass_argument(kit: Kit, items: Iterable[int]) -> dict[str, Any]:
    inbox = kit.inbox()
    witness = _Witness()
    _pickled_here.clear()
    # Started by hand, not in kit.workers(): start() itself is what may fail here.
    worker = kit.worker(_consume, items, witness, inbox, name="consumer")
    try:
        try:
            worker.start()
        except TypeError as exc:
            return {"started": False, "error": f"TypeError: {exc}"}
        total, returned = inbox.get(WAIT, watch=[worker])
        worker.join(WAIT)
    finally:
        if not kit.threads and worker.pid is not None:
            if worker.is_alive():
                worker.kill()
                worker.join(WAIT)
            worker.close()
        inbox.close()
    seen: dict[str, Any] = {
        "started": True,
        "sum": total,
        "pickled_at_start": bool(_pickled_here),
        "returned_same_object": returned is witness,
    }
    if isinstance(items, Iterator):
        seen["callers_generator_after"] = next(items, "exhausted")
    return seen


def _send_results(kit: Kit) -> dict[str, Any]:
    outbox, inbox = kit.inbox(), kit.inbox()
    try:
        with kit.workers() as crew:
            worker = crew.start(_send_back, outbox, inbox, not kit.threads, name="sender")
            error = inbox.get(WAIT, watch=[worker])
            received = []
            while True:
                try:
                    received.append(type(outbox.get(PROBE)).__name__)
                except TimeoutError:
                    break
    finally:
        inbox.close()
    return {"sent": [N_("generator"), N_("list")], "received": received, "worker_stderr": error}


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Pass a generator, then a list, to a worker; have it send both back through a queue.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: Ignored: the demo needs one worker at a time.
    :returns: Observations: what happened to a generator argument (broken) and a list argument
        (fixed), whether arguments were pickled at start and came back as the same object, which
        items sent back arrived, and the error the worker's queue printed.
    """
    worker_count(workers, 1)  # ignored, but a bad value is still an error
    kit = Kit.of(mode)
    broken = _pass_argument(kit, _numbers())
    fixed = _pass_argument(kit, list(_numbers()))
    results = _send_results(kit)
    if not broken["started"]:
        summary = gettext("a generator cannot be passed: {error}; ").format(
            error=broken["error"]
        )
    elif broken["callers_generator_after"] == "exhausted":
        summary = gettext("the worker used the caller's own generator; ")
    else:
        summary = gettext("the worker used a copy of the generator (fork); ")
    lost = [item for item in results["sent"] if item not in results["received"]]
    summary += (
        gettext("a {items} sent back never arrived").format(
            items=gettext(" and a ").join(gettext(item) for item in lost)
        )
        if lost
        else gettext("every result sent back arrived")
    )
    return {
        "generator_argument": broken,
        "list_argument": fixed,
        "send_back": results,
        "stdlib_pickle_lambda": attempt(pickle.dumps, lambda: None),
        "dill_pickle_lambda": attempt(lambda: len(dill.dumps(lambda: None)) > 0),
        **(
            {"stdlib_multiprocessing_lambda_target": stdlib_start("lambda")}
            if mode.kind == "process"
            else {}
        ),
        "summary": summary,
        "varies": N_(
            "Depends on the start method and the library: fork copies arguments without "
            "pickling them, spawn and forkserver pickle them at start(). Results are pickled in "
            "every start method. multiprocess pickles with dill (lambdas cross); the standard "
            "library's multiprocessing uses pickle (a lambda target fails in start())."
        ),
    }
