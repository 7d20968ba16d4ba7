"""The error for what cannot be sent to a worker process, apart from the code that sends.

Callers catch it around every run (the plugin does, for each test), so it lives where importing
it costs nothing: the sending code imports ``dill`` and ``multiprocess``, which thread-mode
runs never need.
"""

from __future__ import annotations

__all__ = ["SendError"]


class SendError(TypeError):
    """Something could not be sent to a worker process.

    :ivar what: Which object failed, e.g. ``"the target"``, ``"args[1]"`` or ``"kwargs['db']"``.
    :ivar obj_type: The type name of that object.
    """

    def __init__(self, message: str, what: str = "", obj_type: str = "") -> None:
        super().__init__(message)
        self.what = what
        self.obj_type = obj_type
