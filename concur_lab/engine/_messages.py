"""What a worker process tells its parent, and the one place that packs and unpacks it.

A child sends at most two messages through its result pipe: :class:`Ready` (it has unpickled
its payload and waits at the start gate) or :class:`StartFailed`, then :class:`Done` (the target
returned or raised) or :class:`Aborted` (the gate was closed instead of opened). Each travels
as one frame, an 8-byte length then a pickle (:func:`pack`), so the parent can read frames in
pieces between its deadline checks (:func:`unpack_frames`) instead of blocking until a whole
message has arrived. The messages are named tuples: the C pickler sends one by reference to its
class, as cheaply as the bare tuple it replaces.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any, Literal, NamedTuple

__all__ = [
    "FRAME_HEADER",
    "Aborted",
    "Done",
    "Message",
    "Ready",
    "StartFailed",
    "pack",
    "unpack",
    "unpack_frames",
]

#: The length prefix of every message a child writes to its result pipe.
FRAME_HEADER = struct.Struct("!Q")


class Ready(NamedTuple):
    """The child has its target and arguments, and waits at the start gate."""

    pid: int
    thread_ident: int | None
    thread_name: str


class StartFailed(NamedTuple):
    """The child could not unpickle or prepare its payload.

    :ivar error: The exception, as :func:`~._remote_errors.capture_exception` took it apart.
    """

    error: Any


class Aborted(NamedTuple):
    """The start gate was closed: another worker failed to start, or the run ended first."""


class Done(NamedTuple):
    """The target returned (``"ok"``) or raised (``"raised"``), or its report was unreadable.

    :ivar value: The return value, the raised exception's state, or for ``"unreadable"`` why.
    :ivar times: (started, finished, CPU seconds) of the target, or ``None`` if unknown.
    :ivar warnings: (class reference, message, filename, line) of each warning it emitted.
    :ivar leaked_threads: Names of the threads it left running.
    :ivar descendants: (pid, command line) of the processes it left running.
    """

    status: Literal["ok", "raised", "unreadable"]
    value: Any
    times: tuple[float, float, float] | None = None
    warnings: tuple[tuple[Any, ...], ...] = ()
    leaked_threads: tuple[str, ...] = ()
    descendants: tuple[tuple[int, str], ...] = ()


Message = Ready | StartFailed | Aborted | Done


def _dumps(message: Message) -> bytes:
    """Pickle *message*: the C pickler when it can, dill (for what only dill pickles) otherwise."""
    try:
        return pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        import dill

        return dill.dumps(message, protocol=dill.HIGHEST_PROTOCOL)  # type: ignore[no-any-return]


def pack(message: Message) -> bytes:
    """Return *message* as one frame: its length, then its pickle.

    :raises Exception: Whatever pickling raised, if neither pickler can send it.
    """
    data = _dumps(message)
    return FRAME_HEADER.pack(len(data)) + data


def unpack(data: bytes) -> Message:
    """Return the message pickled in *data*; a :class:`Done` saying why if it cannot be read."""
    try:
        message = pickle.loads(data)
    except Exception as exc:
        return Done(
            "unreadable",
            f"the parent could not unpickle what the worker sent: {type(exc).__name__}: {exc}",
        )
    if not isinstance(message, Ready | StartFailed | Aborted | Done):
        return Done("unreadable", f"the worker sent {type(message).__name__}, not a message")
    return message


def unpack_frames(pending: bytearray) -> list[Message]:
    """Take every whole frame off the front of *pending* and return its messages, in order."""
    messages: list[Message] = []
    header = FRAME_HEADER.size
    while len(pending) >= header:
        (size,) = FRAME_HEADER.unpack_from(pending)
        if len(pending) < header + size:
            break
        data = bytes(pending[header : header + size])
        del pending[: header + size]
        messages.append(unpack(data))
    return messages
