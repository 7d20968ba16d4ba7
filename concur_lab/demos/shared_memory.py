"""Threads share everything; processes share only what is put in shared memory on purpose.

Each worker writes into a plain list, a ``ctx.Array`` and a ``SharedMemory`` block. Threads fill
all three, since they share the caller's memory; processes fill only the two shared ones, because
the plain list they wrote to was their own copy.

Details: each worker writes its number into its own slot of each store and attaches to the
``SharedMemory`` block by name. A ``SharedMemory`` block outlives the processes that use it: every
user must ``close()`` it and exactly one must ``unlink()`` it, or it leaks (the resource tracker
then warns at exit). A ``Manager`` is the slower, more general way: see the mutating-args demo.
"""

from __future__ import annotations

import os
import struct
from typing import Any

import multiprocess.dummy
from multiprocess.shared_memory import SharedMemory

from concur_lab import Mode
from concur_lab._i18n import N_, gettext
from concur_lab.demos._support import WAIT, Kit, worker_count

_STORE_NAMES = {
    "plain_list": N_("a plain list"),
    "array": N_("an Array"),
    "shared_memory": N_("a SharedMemory block"),
}
# How the summary names each store.

__all__ = ["LESSON", "ORDER", "SLUG", "THEME", "TITLE", "run"]

SLUG = "shared-memory"
TITLE = N_("Sharing mechanisms: plain objects, Array, SharedMemory")
THEME = "sharing"
ORDER = 260
LESSON = N_("Processes share only what lives in shared memory: Array, Value, SharedMemory, Manager")

_SLOT = struct.Struct("q")


def _write(index: int, plain: list[int], array: Any, shm_name: str, inbox: Any) -> None:
    value = index + 1
    plain[index] = value
    array[index] = value
    block = SharedMemory(name=shm_name)  # attach by name: no copy, the same pages
    try:
        _SLOT.pack_into(block.buf, index * _SLOT.size, value)
    finally:
        block.close()
    inbox.put(index)


def run(mode: Mode, workers: int | None = None) -> dict[str, Any]:
    """Let *workers* (default 3) workers each write into a plain list, an Array and a SharedMemory.

    :param mode: Thread mode, or process mode with its start method.
    :param workers: How many workers write.
    :returns: Observations: what the caller reads back from each store afterwards, and whether
        the shared-memory block is gone after ``unlink()``.
    :raises ValueError: If *workers* is less than 1.
    """
    n = worker_count(workers, 3)
    kit = Kit.of(mode)
    plain = [0] * n
    # Threads need no shared memory: multiprocess.dummy's Array is a plain array.array.
    array = multiprocess.dummy.Array("q", [0] * n) if kit.threads else kit.ctx.Array("q", n)
    block = SharedMemory(create=True, size=n * _SLOT.size)
    inbox = kit.inbox()
    try:
        with kit.workers() as crew:
            handles = [
                crew.start(_write, i, plain, array, block.name, inbox, name=f"writer-{i}")
                for i in range(n)
            ]
            inbox.collect(n, WAIT, watch=handles)
        from_block = [_SLOT.unpack_from(block.buf, i * _SLOT.size)[0] for i in range(n)]
    finally:
        inbox.close()
        block.close()
        block.unlink()
    seen = {
        "plain_list": plain,
        "array": list(array[:]),
        "shared_memory": from_block,
    }
    expected = list(range(1, n + 1))
    arrived = [store for store, values in seen.items() if values == expected]
    return {
        "workers": n,
        "written": expected,
        "caller_reads": seen,
        "block_gone_after_unlink": not os.path.exists(f"/dev/shm/{block.name.lstrip('/')}")
        if os.path.isdir("/dev/shm")
        else None,
        "summary": gettext("the caller saw the workers' writes in: {stores}").format(
            stores=gettext(", ").join(gettext(_STORE_NAMES.get(store, store)) for store in arrived)
        ),
    }
