"""Fixtures each worker gets its own copy of, so that a test sees what *its* worker did.

pytest sets a test's fixtures up once, in the parent. Most values can then be shared by the
workers (threads) or copied into them (processes), but a few record or create things per run,
and shared they give false failures:

* ``tmp_path`` / ``tmpdir``: every worker would create the same files (``FileExistsError``).
  Each worker gets its own folder *inside* the test's ``tmp_path``, holding a copy of what the
  test's fixtures put there; ``tmp_path.parent`` is the shared one.
* ``capsys``, ``capsysbinary``, ``capteesys``, ``capfd``, ``capfdbinary`` in a process worker:
  the parent's capture cannot see a child's writes, so ``readouterr()`` returned ``''``. The
  worker gets a capture of its own, started with its body, that records what the worker writes
  (to ``sys.stdout``/``sys.stderr``, or to file descriptors 1 and 2 for ``capfd``) and returns
  it from ``readouterr()``; what was not read still reaches the worker's captured output.
* ``recwarn`` in a process worker records the worker's own warnings.
* ``concur_worker_index``, ``concur_iteration_index``, ``concur_workers`` (and
  pytest-run-parallel's names) are the worker's own values.

In thread mode the capture fixtures and ``recwarn`` are not replaced: they hold state that is one
per process, so a test that uses them is unsafe in thread mode (:mod:`pytest_concur._unsafe`) and
its body runs once, in the test's own thread, as plain pytest would run it.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = [
    "INDEX_FIXTURES",
    "WORKER_DIR_PREFIX",
    "FdCapture",
    "SysCapture",
    "TmpPath",
    "WorkerValue",
    "WorkerWarnings",
]

WORKER_DIR_PREFIX = "concur-worker-"

#: Fixture name -> which of the worker's numbers it holds.
INDEX_FIXTURES = {
    "concur_worker_index": "worker",
    "concur_iteration_index": "iteration",
    "concur_workers": "workers",
    "thread_index": "worker",
    "iteration_index": "iteration",
    "num_parallel_threads": "workers",
}


class CaptureResult(NamedTuple):
    """What ``readouterr()`` returns: ``out`` and ``err``, as pytest's own result has."""

    out: Any
    err: Any


class WorkerValue:
    """A fixture value that a worker makes for itself when its body starts.

    Subclasses are sent to workers (pickled under ``spawn``/``forkserver``), so they hold only
    plain data until :meth:`start` runs in the worker.
    """

    def start(self, worker: int, iteration: int, workers: int) -> Any:
        """Return the value the worker's body gets, starting whatever records for it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Undo :meth:`start` (after the body, also when it raised)."""


class IndexValue(WorkerValue):
    """The worker's index, its iteration, or the number of workers."""

    def __init__(self, which: str) -> None:
        self.which = which

    def start(self, worker: int, iteration: int, workers: int) -> int:
        return {"worker": worker, "iteration": iteration, "workers": workers}[self.which]


class TmpPath(WorkerValue):
    """A folder of the worker's own inside the test's ``tmp_path``, with a copy of its files."""

    def __init__(self, base: str, legacy: type | None, iterations: int) -> None:
        self.base = base
        self.legacy = legacy
        self.iterations = iterations
        # Decided once, in the parent, before any worker starts: most tests get an empty
        # tmp_path, and a folder made from nothing costs a fraction of copytree's walk, stat
        # and extended-attribute calls, which every worker of every such test would pay.
        self.copy = _holds_files(base)

    def start(self, worker: int, iteration: int, workers: int) -> Any:
        name = f"{WORKER_DIR_PREFIX}{worker}"
        if self.iterations > 1:
            name += f"-iteration-{iteration}"
        path = Path(self.base, name)
        if self.copy:
            # What the test's fixtures created before the workers started, without the other
            # workers' folders.
            shutil.copytree(
                self.base,
                path,
                ignore=lambda folder, names: [
                    n for n in names if folder == self.base and n.startswith(WORKER_DIR_PREFIX)
                ],
                symlinks=True,
            )
        else:
            path.mkdir()
            shutil.copymode(self.base, path)
        return path if self.legacy is None else self.legacy(path)


def _holds_files(folder: str) -> bool:
    """Whether *folder* holds anything besides workers' folders."""
    with os.scandir(folder) as entries:
        return any(not entry.name.startswith(WORKER_DIR_PREFIX) for entry in entries)


class SysCapture(WorkerValue):
    """``capsys``, ``capsysbinary`` or ``capteesys`` for one process worker."""

    def __init__(self, binary: bool = False, tee: bool = False) -> None:
        self.binary = binary
        self.tee = tee
        self._streams: dict[str, Any] = {}
        self._saved: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"binary": self.binary, "tee": self.tee}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["binary"], state["tee"])  # type: ignore[misc]

    def start(self, worker: int, iteration: int, workers: int) -> SysCapture:
        for name in ("stdout", "stderr"):
            original = getattr(sys, name)
            self._saved[name] = original
            stream = _Recorder(original if self.tee else None)
            self._streams[name] = stream
            setattr(sys, name, stream)
        return self

    def readouterr(self) -> CaptureResult:
        """Return what this worker wrote since the last call, and forget it."""
        out, err = (self._streams[name].take() for name in ("stdout", "stderr"))
        if self.binary:
            return CaptureResult(out.encode(), err.encode())
        return CaptureResult(out, err)

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Let writes through to the worker's own output while the block runs."""
        current = {name: getattr(sys, name) for name in self._saved}
        for name, original in self._saved.items():
            setattr(sys, name, original)
        try:
            yield
        finally:
            for name, stream in current.items():
                setattr(sys, name, stream)

    def stop(self) -> None:
        for name, original in self._saved.items():
            stream = self._streams[name]
            setattr(sys, name, original)
            if not self.tee:
                # Unread output still belongs in the worker's captured section.
                original.write(stream.take())
        self._saved.clear()


class _Recorder(io.TextIOWrapper):
    """A text stream that keeps what is written (and, for capteesys, passes it on)."""

    def __init__(self, passthrough: Any) -> None:
        super().__init__(io.BytesIO(), encoding="utf-8", newline="", write_through=True)
        self._passthrough = passthrough

    def write(self, s: str) -> int:
        if self._passthrough is not None:
            self._passthrough.write(s)
        return super().write(s)

    def take(self) -> str:
        buffer = self.buffer
        assert isinstance(buffer, io.BytesIO)
        text = buffer.getvalue().decode("utf-8")
        self.seek(0)
        self.truncate()
        return text


class FdCapture(WorkerValue):
    """``capfd`` or ``capfdbinary`` for one process worker: file descriptors 1 and 2."""

    def __init__(self, binary: bool = False) -> None:
        self.binary = binary
        self._files: dict[int, Any] = {}
        self._saved: dict[int, int] = {}
        self._read: dict[int, int] = {}

    def __getstate__(self) -> dict[str, Any]:
        return {"binary": self.binary}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["binary"])  # type: ignore[misc]

    def start(self, worker: int, iteration: int, workers: int) -> FdCapture:
        _flush()
        for fd in (1, 2):
            self._saved[fd] = os.dup(fd)
            capture = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 - closed by stop()
            self._files[fd] = capture
            self._read[fd] = 0
            os.dup2(capture.fileno(), fd)
        return self

    def _take(self, fd: int) -> bytes:
        capture = self._files[fd]
        capture.seek(self._read[fd])
        data: bytes = capture.read()
        self._read[fd] += len(data)
        return data

    def readouterr(self) -> CaptureResult:
        """Return what this worker wrote to descriptors 1 and 2 since the last call."""
        _flush()
        out, err = self._take(1), self._take(2)
        if self.binary:
            return CaptureResult(out, err)
        return CaptureResult(out.decode(errors="replace"), err.decode(errors="replace"))

    @contextlib.contextmanager
    def disabled(self) -> Iterator[None]:
        """Let writes through to the worker's own output while the block runs."""
        _flush()
        for fd, saved in self._saved.items():
            os.dup2(saved, fd)
        try:
            yield
        finally:
            _flush()
            for fd, capture in self._files.items():
                os.dup2(capture.fileno(), fd)

    def stop(self) -> None:
        _flush()
        for fd, saved in self._saved.items():
            unread = self._take(fd)
            os.dup2(saved, fd)
            os.close(saved)
            self._files[fd].close()
            # Unread output still belongs in the worker's captured section.
            view = memoryview(unread)
            while view:
                view = view[os.write(fd, view) :]
        self._saved.clear()
        self._files.clear()


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


class WorkerWarnings(WorkerValue):
    """``recwarn`` for one process worker: the warnings its body issued."""

    def __init__(self) -> None:
        self._context: Any = None
        self._list: list[warnings.WarningMessage] = []

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    def start(self, worker: int, iteration: int, workers: int) -> WorkerWarnings:
        self._context = warnings.catch_warnings(record=True)
        self._list = self._context.__enter__()
        warnings.simplefilter("always")
        return self

    def stop(self) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    @property
    def list(self) -> list[warnings.WarningMessage]:
        """The recorded warnings."""
        return self._list

    def __getitem__(self, index: int) -> warnings.WarningMessage:
        return self._list[index]

    def __iter__(self) -> Iterator[warnings.WarningMessage]:
        return iter(self._list)

    def __len__(self) -> int:
        return len(self._list)

    def pop(self, cls: type[Warning] = Warning) -> warnings.WarningMessage:
        """Remove and return the first recorded warning of *cls* (or a subclass)."""
        for position, record in enumerate(self._list):
            if issubclass(record.category, cls):
                return self._list.pop(position)
        raise AssertionError(f"{cls!r} not found in warning list")

    def clear(self) -> None:
        """Forget the recorded warnings."""
        self._list[:] = []
