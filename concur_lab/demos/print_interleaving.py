r"""``print()`` is not atomic: it writes the text and the line end separately, so lines mix.

``print(value)`` calls ``write(str(value))`` and then ``write("\n")``; another worker's output
can land in between, giving ``12\n\n`` instead of ``1\n2\n``, in threads and processes alike.
Here every worker waits at a barrier right after its first ``write()``, which puts *all* the
values before *all* the line ends, every time; building the whole line first and writing it with
one call keeps each line intact whatever lands between the calls. (In processes, a lock or one
printer reading a queue works too; ``logging`` handlers lock per handler, across threads only.)

What the blog post got wrong: it shows five threads printing ``1 2 3 4 5`` on five lines as *the*
output; the values are right, but their order and line breaks are not guaranteed (measured: 14 to
25 percent of runs differ on a pipe, most of them on a terminal).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from typing import Any

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import Kit, scratch_file, worker_count

__all__ = ["BY_CHANCE", "LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "print-interleaving"
TITLE = N_("Output interleaving: print() is two writes")
THEME = "races"
ORDER = 40
BY_CHANCE = True
"""Timing decides the numbers: another run may show others."""
LESSON = N_(
    "A print() call writes the text and the newline separately: build the line, write it once"
)


class _SharedOutput:
    """A text stream on a shared file: each ``write()`` is one ``os.write()`` (nothing buffered).

    After the first ``write()`` it waits at *barrier*, so every worker's first write comes before
    any worker's second: the scripted version of "another thread ran in between".
    """

    def __init__(self, path: str, barrier: Any) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        self._barrier = barrier
        self.writes = 0

    def write(self, text: str) -> int:
        os.write(self._fd, text.encode())
        self.writes += 1
        if self.writes == 1:
            self._barrier.wait()
        return len(text)

    def flush(self) -> None:
        """Nothing to flush: every write went straight to the file."""

    def close(self) -> None:
        os.close(self._fd)


def _worker(index: int, inbox: Any, broken_path: str, fixed_path: str, barrier: Any) -> None:
    value = index + 1
    with contextlib.closing(_SharedOutput(broken_path, barrier)) as out:
        print(value, file=out)  # two writes: "3", then "\n"
        broken_writes = out.writes
    barrier.wait()  # the fixed round starts when the broken one is over for everyone
    with contextlib.closing(_SharedOutput(fixed_path, barrier)) as out:
        out.write(f"{value}\n")  # one write: the line is whole before anyone can interrupt
        fixed_writes = out.writes
    inbox.put((index, broken_writes, fixed_writes))


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def _judge(output: str, n: int, writes: list[int], code: str) -> dict[str, Any]:
    lines = output.split("\n")[:-1] if output.endswith("\n") else output.split("\n")
    expected = [str(i + 1) for i in range(n)]
    return {
        "code": code,
        "writes_per_line": sorted(set(writes)),
        "output": output,
        "lines": lines,
        "intact_lines": sum(line in expected for line in lines),
        "same_characters": Counter(output) == Counter("".join(f"{v}\n" for v in expected)),
    }


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let *workers* workers (default 5) print one number each, with ``print`` and with one write.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers (default 5, as in the blog post).
    :returns: ``{"broken": ..., "fixed": ...}``: the file's content, its lines, how many lines are
        intact, and how many ``write()`` calls each line took.
    """
    n = worker_count(workers, 5)
    kit = Kit.of(mode)
    barrier = kit.Barrier(n)
    with (
        scratch_file() as broken_path,
        scratch_file() as fixed_path,
        contextlib.closing(kit.inbox()) as inbox,
        kit.workers() as crew,
    ):
        for i in range(n):
            crew.start(_worker, i, inbox, broken_path, fixed_path, barrier, name=f"printer-{i}")
        reports = inbox.collect(n, watch=crew.handles)
        crew.join()
        broken, fixed = _read(broken_path), _read(fixed_path)
    result: dict[str, Any] = {
        "workers": n,
        "broken": _judge(broken, n, [r[1] for r in reports], "print(value, file=out)"),
        "fixed": _judge(fixed, n, [r[2] for r in reports], 'out.write(f"{value}\\n")'),
    }
    result["summary"] = gettext(
        "with print(), {broken} of {n} lines came out whole; with one write per line, "
        "{fixed} of {n}"
    ).format(broken=result["broken"]["intact_lines"], fixed=result["fixed"]["intact_lines"], n=n)
    return result
