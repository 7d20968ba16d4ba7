"""Tell an idle machine from a busy one, for the demos whose lesson needs free cores.

The measurement itself lives in the demos (``others_cores``, from
:mod:`concur_lab.demos._machine`), which already retry a busy run; this only decides.
"""

from __future__ import annotations

from typing import Any

import pytest


def require_side_by_side(observed: dict[str, Any], key: str, threshold: float) -> None:
    """Pass if ``observed[key] > threshold``; fail on an idle machine, skip on a busy one.

    Another busy program can take the second core for a whole run (the demo tried up to three
    times), so a low value only fails the test when the demo measured the machine idle enough:
    other programs left the workers the cores they needed (``machine_busy`` false).
    """
    value, others = observed[key], observed["others_cores"]
    if value > threshold:
        return
    seen = f"{key} {value} after {observed['attempts']} runs, other programs' cores {others}"
    if others is not None and not observed["machine_busy"]:
        pytest.fail(f"{seen}: too low on an idle machine")
    pytest.skip(f"no idle second core: {seen}")
