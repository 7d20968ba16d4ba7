"""Run each demo once per mode and test session, however many tests read its observations."""

from __future__ import annotations

import functools
from typing import Any

from concur_lab import Mode
from concur_lab.demos import Demo, get_demo


def observe(demo: Demo, mode: Mode) -> dict[str, Any]:
    """Return *demo*'s observations in *mode*, running it only the first time."""
    return _observe(demo.slug, mode)


@functools.cache
def _observe(slug: str, mode: Mode) -> dict[str, Any]:
    return get_demo(slug).observe(mode)
