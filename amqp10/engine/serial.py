"""RFC 1982 serial-number arithmetic over 32 bits (spec 2.6.7 sequence-no, 2.7.5 transfer-number).

Owns: every comparison and increment of a delivery-id, delivery-count or transfer-id. Plain
``<`` or ``+ 1`` on those numbers is a bug: they wrap at 2**32 and a long-lived link passes the
wrap. Must never: hold state.
"""

from __future__ import annotations

__all__ = ["SERIAL_MOD", "serial_add", "serial_diff", "serial_lt", "serial_le", "serial_in_range"]

SERIAL_MOD = 1 << 32
_MASK = SERIAL_MOD - 1
_HALF = 1 << 31


def serial_add(a: int, n: int) -> int:
    """``a + n`` modulo 2**32 (``n`` may be negative)."""
    return (a + n) & _MASK


def serial_diff(a: int, b: int) -> int:
    """The signed distance ``a - b`` in ``[-2**31, 2**31)``: positive when ``a`` is after ``b``.

    RFC 1982 leaves the distance of exactly 2**31 undefined; we call it negative.
    """
    d = (a - b) & _MASK
    return d - SERIAL_MOD if d >= _HALF else d


def serial_lt(a: int, b: int) -> bool:
    """RFC 1982 ``a < b``."""
    return serial_diff(a, b) < 0


def serial_le(a: int, b: int) -> bool:
    """RFC 1982 ``a <= b``."""
    return serial_diff(a, b) <= 0


def serial_in_range(x: int, first: int, last: int) -> bool:
    """True when ``first <= x <= last`` in serial order (a disposition range, spec 2.7.6)."""
    return serial_le(first, x) and serial_le(x, last)
