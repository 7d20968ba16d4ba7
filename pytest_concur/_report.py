"""What the plugin writes: the report header line (the isolation report comes with the marker)."""

from __future__ import annotations

import sys

from pytest_concur._options import Settings

__all__ = ["gil_status", "header_lines"]


def gil_status() -> str:
    """Return ``"GIL enabled"`` or ``"GIL disabled"`` for the running interpreter."""
    is_enabled = getattr(sys, "_is_gil_enabled", None)
    enabled = True if is_enabled is None else bool(is_enabled())
    return "GIL enabled" if enabled else "GIL disabled"


def header_lines(settings: Settings) -> list[str]:
    """Return the report header lines for *settings*."""
    return [f"concur: {settings.describe()} | {gil_status()}"]
