"""Item 2, diagnosis: thread scaling again, in a child whose glibc keeps every thread stack.

glibc keeps freed thread stacks for reuse up to a cache of 40 MiB, five stacks of the default
8 MiB. A run with more threads alive at once maps the others fresh and unmaps them when the
threads end, so the cost per thread grows with n whether or not anything in Python does. This
runs the thread row of the scaling measurement again in a child Python whose ``GLIBC_TUNABLES``
raises that cache to 1 GiB: what still grows there is not the stacks. Informational, no target;
left out where the C library is not glibc, which ignores the variable.

Run alone: ``python -m benchmarks.stackcache LARGEST_N ROUNDS`` prints the row as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.engine import measure_scaling, powers
from concur_lab import Mode

__all__ = ["LABEL", "TUNABLE", "measure_with_stack_cache"]

TUNABLE = "glibc.pthread.stack_cache_size=1073741824"
"""What the child's ``GLIBC_TUNABLES`` adds: a 1 GiB cache of thread stacks."""
LABEL = "thread, glibc stack cache 1 GiB"
_TIMEOUT = 900.0


def _glibc() -> bool:
    return platform.libc_ver()[0] == "glibc"


def measure_with_stack_cache(largest: int, rounds: int) -> dict[str, Any] | None:
    """Measure thread scaling up to *largest* workers in a child with a 1 GiB stack cache.

    :param largest: The largest worker count (powers of two up to it are measured).
    :param rounds: Interleaved rounds.
    :returns: The scaling row, labelled :data:`LABEL`, with no target; ``None`` without glibc.
    :raises RuntimeError: If the child fails.
    """
    if not _glibc():
        return None
    tunables = ":".join(t for t in (os.environ.get("GLIBC_TUNABLES", ""), TUNABLE) if t)
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.stackcache", str(largest), str(rounds)],
        env=dict(os.environ, GLIBC_TUNABLES=tunables),
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"the stack-cache scaling child failed (exit code {proc.returncode}):\n"
            f"{proc.stderr[-3000:]}"
        )
    row: dict[str, Any] = json.loads(proc.stdout)
    row.update(mode=LABEL, target=None, meets_target=None)
    return row


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stackcache",
        description="Measure thread scaling in this Python and print the row as JSON "
        "(run it with GLIBC_TUNABLES set; python -m benchmarks does).",
    )
    parser.add_argument("largest", type=_positive, help="The largest worker count (LARGEST_N)")
    parser.add_argument("rounds", type=_positive, help="Interleaved rounds (ROUNDS)")
    options = parser.parse_args(argv)
    [row] = measure_scaling([(Mode.thread(), powers(options.largest))], {"*": options.rounds})
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
