"""The one place that touches :mod:`concur_lab`: modes, the worker engine and the shared counter.

Keeping every engine import here means an engine API change is absorbed in one module, and that
importing the plugin stays cheap (the engine and :mod:`multiprocess` load on first use).
"""

from __future__ import annotations

from concur_lab._modes import Mode, ModeError, available_start_methods, default_start_method

__all__ = [
    "Mode",
    "ModeError",
    "available_start_methods",
    "default_start_method",
]
