"""What a worker process tells its parent: one frame a message, packed and unpacked in one place."""

from __future__ import annotations

import pickle

from concur_lab.engine._messages import (
    FRAME_HEADER,
    Aborted,
    Done,
    Ready,
    StartFailed,
    pack,
    unpack,
    unpack_frames,
)


def test_every_message_survives_a_frame() -> None:
    """Each kind of message comes out of its frame equal to what went in."""
    sent = [
        Ready(123, 456, "MainThread"),
        StartFailed("state"),
        Aborted(),
        Done("ok", 7, (1.0, 2.0, 0.5), descendants=((9, "sleep 5"),)),
    ]
    pending = bytearray(b"".join(pack(message) for message in sent))
    assert unpack_frames(pending) == sent
    assert pending == b""


def test_a_partial_frame_waits_for_the_rest() -> None:
    """Bytes short of a whole frame stay pending, and make a message once the rest arrives."""
    frame = pack(Done("ok", "x" * 1000))
    pending = bytearray(frame[:500])
    assert unpack_frames(pending) == []
    pending += frame[500:]
    assert unpack_frames(pending) == [Done("ok", "x" * 1000)]


def test_an_unreadable_message_becomes_an_unreadable_done() -> None:
    """A pickle the parent cannot load is reported as a Done saying why, not raised."""
    message = unpack(b"not a pickle")
    assert isinstance(message, Done) and message.status == "unreadable"
    assert "could not unpickle" in message.value


def test_a_pickle_that_is_no_message_is_unreadable() -> None:
    """Anything but one of the message types is reported as unreadable, naming its type."""
    data = pickle.dumps(("done", "ok", 1))
    message = unpack(data)
    assert message == Done("unreadable", "the worker sent tuple, not a message")


def test_a_value_only_dill_pickles_still_travels() -> None:
    """A return value the C pickler refuses (a lambda) is packed with dill."""
    frame = pack(Done("ok", lambda: 3))
    (size,) = FRAME_HEADER.unpack_from(frame)
    assert size == len(frame) - FRAME_HEADER.size
