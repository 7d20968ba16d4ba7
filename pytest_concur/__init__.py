"""pytest-concur: run tests in thread mode and process mode, and show where they differ.

The plugin itself is :mod:`pytest_concur.plugin`, loaded by the ``pytest11`` entry point
``concur``. This package exports the types a test needs for annotations.
"""

from __future__ import annotations

from concur_lab import Mode

__all__ = ["Mode"]
