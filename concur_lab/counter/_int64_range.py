"""Argument checks and the signed 64-bit range that a :class:`~concur_lab.SharedCounter` holds."""

from __future__ import annotations

import operator
from typing import SupportsIndex

__all__ = ["INT64_MAX", "INT64_MIN", "as_int", "check_int64", "overflow"]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def as_int(value: object, where: str) -> int:
    """Return *value* as an int, or raise a TypeError naming it and *where* it was given.

    :param value: What the caller passed.
    :param where: The argument it was passed as, for example ``"increment(by=...)"``.
    :returns: ``operator.index(value)``.
    :raises TypeError: If *value* is a bool or has no ``__index__``.
    """
    if isinstance(value, bool) or not isinstance(value, SupportsIndex):
        raise TypeError(f"{where} must be an int, not {type(value).__name__} ({value!r})")
    return operator.index(value)


def check_int64(value: int, where: str) -> int:
    """Return *value* if it fits in a signed 64-bit integer.

    :raises ValueError: Naming *value* and *where* it was given, if it does not fit.
    """
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(
            f"{where} is {value}, outside the signed 64-bit range "
            f"[{INT64_MIN}, {INT64_MAX}] a SharedCounter holds"
        )
    return value


def overflow(current: int, by: int) -> Exception:
    """Return the error for ``increment(by)`` on *current* leaving the signed 64-bit range."""
    if not INT64_MIN <= by <= INT64_MAX:
        return ValueError(
            f"increment(by={by}) is outside the signed 64-bit range a SharedCounter holds"
        )
    return OverflowError(
        f"SharedCounter overflow: {current} + {by} = {current + by} is outside the signed "
        f"64-bit range [{INT64_MIN}, {INT64_MAX}]"
    )
