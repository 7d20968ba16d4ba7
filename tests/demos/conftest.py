"""The ``observed`` fixture shared by the demo tests: a module names its demo as ``DEMO``."""

from __future__ import annotations

from typing import Any

import pytest
from _observe import observe

from concur_lab import Mode


@pytest.fixture
def observed(request: pytest.FixtureRequest, concur_mode: Mode) -> dict[str, Any]:
    """The observations of the test module's ``DEMO`` in the item's mode (run once per mode)."""
    return observe(request.module.DEMO, concur_mode)
