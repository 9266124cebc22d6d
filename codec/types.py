"""Wrappers for the AMQP 1.0 types that have no exact Python match (spec 1.6, types.bare.xml).

Owns: one class per such type, named as in Proton and DESIGN.md. Each subclasses the Python type
it behaves as (an ``UInt`` is still an ``int``), validates its range once, at construction, and
is what the decoder returns for that AMQP type, so that decode -> encode gives back the same
encoding category. Plain Python values map as: None -> null, bool -> boolean, int -> long,
float -> double, str -> string, bytes -> binary, uuid.UUID -> uuid, datetime -> timestamp
(encode only), dict -> map, list -> list.

Must never: encode or decode bytes (that is ``_pure`` / ``_speedups``), or silently wrap or
truncate an out-of-range value.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import struct as _struct
from typing import Any, Iterable

from .errors import EncodeError

__all__ = [
    "Symbol",
    "Char",
    "UByte",
    "UShort",
    "UInt",
    "ULong",
    "Byte",
    "Short",
    "Int",
    "Long",
    "Float",
    "Timestamp",
    "Decimal32",
    "Decimal64",
    "Decimal128",
    "Described",
    "Array",
]


class _BoundedInt(int):
    """An int restricted to ``[_MIN, _MAX]``; the range is checked once, at construction."""

    __slots__ = ()
    _MIN = 0
    _MAX = 0

    def __new__(cls, value: Any = 0) -> "_BoundedInt":
        self = int.__new__(cls, value)
        if not cls._MIN <= self <= cls._MAX:
            raise EncodeError(
                f"{cls.__name__} must be in [{cls._MIN}, {cls._MAX}], got {int(self)}"
            )
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"


class UByte(_BoundedInt):
    """AMQP ``ubyte``: integer in [0, 255]."""

    __slots__ = ()
    _MIN, _MAX = 0, (1 << 8) - 1


class UShort(_BoundedInt):
    """AMQP ``ushort``: integer in [0, 65535]."""

    __slots__ = ()
    _MIN, _MAX = 0, (1 << 16) - 1


class UInt(_BoundedInt):
    """AMQP ``uint``: integer in [0, 2**32 - 1]."""

    __slots__ = ()
    _MIN, _MAX = 0, (1 << 32) - 1


class ULong(_BoundedInt):
    """AMQP ``ulong``: integer in [0, 2**64 - 1]. Also the numeric descriptor type."""

    __slots__ = ()
    _MIN, _MAX = 0, (1 << 64) - 1


class Byte(_BoundedInt):
    """AMQP ``byte``: integer in [-128, 127]."""

    __slots__ = ()
    _MIN, _MAX = -(1 << 7), (1 << 7) - 1


class Short(_BoundedInt):
    """AMQP ``short``: integer in [-32768, 32767]."""

    __slots__ = ()
    _MIN, _MAX = -(1 << 15), (1 << 15) - 1


class Int(_BoundedInt):
    """AMQP ``int``: 32-bit signed integer."""

    __slots__ = ()
    _MIN, _MAX = -(1 << 31), (1 << 31) - 1


class Long(_BoundedInt):
    """AMQP ``long``: 64-bit signed integer. A plain ``int`` encodes as long too."""

    __slots__ = ()
    _MIN, _MAX = -(1 << 63), (1 << 63) - 1


class Timestamp(_BoundedInt):
    """AMQP ``timestamp``: milliseconds since the Unix epoch, signed 64-bit (encoding ms64)."""

    __slots__ = ()
    _MIN, _MAX = -(1 << 63), (1 << 63) - 1

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> "Timestamp":
        """The timestamp of an aware (or UTC-naive) ``datetime``, truncated to milliseconds."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        delta = value - _EPOCH
        return cls((delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000)

    def to_datetime(self) -> _dt.datetime:
        """This instant as an aware UTC ``datetime``."""
        return _EPOCH + _dt.timedelta(milliseconds=int(self))


_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


class Float(float):
    """AMQP ``float``: IEEE 754 binary32. The value is rounded to binary32 at construction, so
    it compares equal to itself after a round trip."""

    __slots__ = ()

    def __new__(cls, value: Any = 0.0) -> "Float":
        try:
            (rounded,) = _struct.unpack("<f", _struct.pack("<f", float(value)))
        except OverflowError as exc:
            raise EncodeError(f"Float out of binary32 range: {value!r}") from exc
        return float.__new__(cls, rounded)

    def __repr__(self) -> str:
        return f"Float({float(self)!r})"


class Symbol(str):
    """AMQP ``symbol``: an ASCII string naming a constant (capabilities, conditions, keys)."""

    __slots__ = ()

    def __new__(cls, value: str = "") -> "Symbol":
        self = str.__new__(cls, value)
        if not self.isascii():
            raise EncodeError(f"Symbol must be ASCII, got {str(self)!r}")
        return self

    def __repr__(self) -> str:
        return f"Symbol({str(self)!r})"


class Char(str):
    """AMQP ``char``: a single Unicode code point (encoded as UTF-32)."""

    __slots__ = ()

    def __new__(cls, value: str) -> "Char":
        self = str.__new__(cls, value)
        if len(self) != 1 or 0xD800 <= ord(self) <= 0xDFFF:
            raise EncodeError(f"Char must be one Unicode scalar value, got {str(self)!r}")
        return self

    def __repr__(self) -> str:
        return f"Char({str(self)!r})"


class _DecimalBits(int):
    """Raw IEEE 754-2008 decimal bits (BID encoding), kept exactly as they came.

    The integer value *is* the bit pattern, as in Proton's ``decimal32/64/128``; use
    ``to_decimal()`` / ``from_decimal()`` to convert exactly.
    """

    __slots__ = ()
    _BITS = 0
    _EXP_BITS = 0  # width of the exponent continuation field
    _BIAS = 0
    _DIGITS = 0

    def __new__(cls, bits: int = 0) -> "_DecimalBits":
        self = int.__new__(cls, bits)
        if not 0 <= self < (1 << cls._BITS):
            raise EncodeError(f"{cls.__name__} bits must fit in {cls._BITS} bits")
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(0x{int(self):0{self._BITS // 4}x})"

    def to_decimal(self) -> _decimal.Decimal:
        """The exact value as a ``decimal.Decimal`` (NaN and infinities included)."""
        bits = int(self)
        total = self._BITS
        sign = bits >> (total - 1)
        comb = (bits >> (total - 6)) & 0x1F
        if comb == 0x1F:
            return _decimal.Decimal("-NaN" if sign else "NaN")
        if comb == 0x1E:
            return _decimal.Decimal("-Infinity" if sign else "Infinity")
        ebits = self._EXP_BITS
        cont_bits = total - 1 - 5 - ebits  # trailing significand width
        if (bits >> (total - 3)) & 0x3 == 0x3:
            # 11 form: exponent starts two bits later, implicit leading 100 in significand
            exp = (bits >> (total - 5 - ebits)) & ((1 << (ebits + 2)) - 1)
            coeff = (0b100 << (cont_bits + 1)) | (bits & ((1 << (cont_bits + 1)) - 1))
        else:
            exp = (bits >> (total - 3 - ebits)) & ((1 << (ebits + 2)) - 1)
            coeff = bits & ((1 << (cont_bits + 3)) - 1)
        if coeff >= 10**self._DIGITS:
            coeff = 0  # non-canonical significand is treated as zero (IEEE 754-2008 3.5.2)
        return _decimal.Decimal((sign, tuple(int(d) for d in str(coeff)), exp - self._BIAS))

    @classmethod
    def from_decimal(cls, value: _decimal.Decimal | int | str) -> "_DecimalBits":
        """Encode ``value`` exactly; raises ``EncodeError`` if it needs rounding."""
        d = _decimal.Decimal(value)
        total = cls._BITS
        ebits = cls._EXP_BITS
        sign, digits, exponent = d.as_tuple()
        top = sign << (total - 1)
        if d.is_nan():
            return cls(top | (0x1F << (total - 6)))
        if d.is_infinite():
            return cls(top | (0x1E << (total - 6)))
        assert isinstance(exponent, int)
        coeff = int("".join(map(str, digits)) or "0")
        exp = exponent + cls._BIAS
        emax = 3 * (1 << ebits) - 1
        while exp > emax and coeff * 10 < 10**cls._DIGITS:
            coeff *= 10
            exp -= 1
        while exp < 0 and coeff % 10 == 0 and coeff:
            coeff //= 10
            exp += 1
        if coeff == 0:
            exp = min(max(exp, 0), emax)
        if coeff >= 10**cls._DIGITS or not 0 <= exp <= emax:
            raise EncodeError(f"{value!r} is not exactly representable as {cls.__name__}")
        cont_bits = total - 1 - 5 - ebits
        if coeff >> (cont_bits + 3):
            bits = (0b11 << (total - 3)) | (exp << (total - 5 - ebits))
            bits |= coeff & ((1 << (cont_bits + 1)) - 1)
        else:
            bits = (exp << (total - 3 - ebits)) | coeff
        return cls(top | bits)


class Decimal32(_DecimalBits):
    """AMQP ``decimal32``: IEEE 754 decimal32 bits (7 digits)."""

    __slots__ = ()
    _BITS, _EXP_BITS, _BIAS, _DIGITS = 32, 6, 101, 7


class Decimal64(_DecimalBits):
    """AMQP ``decimal64``: IEEE 754 decimal64 bits (16 digits)."""

    __slots__ = ()
    _BITS, _EXP_BITS, _BIAS, _DIGITS = 64, 8, 398, 16


class Decimal128(_DecimalBits):
    """AMQP ``decimal128``: IEEE 754 decimal128 bits (34 digits)."""

    __slots__ = ()
    _BITS, _EXP_BITS, _BIAS, _DIGITS = 128, 12, 6176, 34


class Described:
    """A described value whose descriptor is not a composite this library knows.

    ``descriptor`` is a ``ULong`` (numeric code, ``domain << 32 | id``) or a ``Symbol``;
    ``value`` is any AMQP value. Known descriptors decode to the generated classes in
    ``amqp10.codec.spec`` instead.
    """

    __slots__ = ("descriptor", "value")

    def __init__(self, descriptor: Any, value: Any) -> None:
        if isinstance(descriptor, int) and not isinstance(descriptor, (bool, ULong)):
            descriptor = ULong(descriptor)
        elif isinstance(descriptor, str) and not isinstance(descriptor, Symbol):
            descriptor = Symbol(descriptor)
        self.descriptor = descriptor
        self.value = value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Described):
            return NotImplemented
        return bool(self.descriptor == other.descriptor and self.value == other.value)

    def __hash__(self) -> int:
        try:
            return hash((self.descriptor, self.value))
        except TypeError:
            return hash(self.descriptor)

    def __repr__(self) -> str:
        return f"Described({self.descriptor!r}, {self.value!r})"


class Array(list):  # type: ignore[type-arg]
    """AMQP ``array``: a sequence whose elements share one constructor.

    ``element_type`` is the Python-side type of the elements: a wrapper class from this module,
    or ``bool``, ``int`` (long), ``float`` (double), ``str``, ``bytes``, ``uuid.UUID``, ``list``,
    ``dict``, ``Array`` (arrays of arrays), ``type(None)``, or a ``Described`` / spec composite
    class (arrays of described values). For ``Array(Described, ...)``, ``descriptor`` names the
    shared descriptor; when omitted it is taken from the first item. A composite class implies
    its own descriptor, so ``descriptor`` stays ``None`` for those. It is a ``list`` subclass,
    so it iterates and indexes as one.
    """

    __slots__ = ("element_type", "descriptor")

    def __init__(
        self, element_type: type, items: Iterable[Any] = (), descriptor: Any = None
    ) -> None:
        super().__init__(items)
        self.element_type = element_type
        if descriptor is None and element_type is Described and self and isinstance(
            self[0], Described
        ):
            descriptor = self[0].descriptor  # the shared descriptor, inferred from the items
        self.descriptor = descriptor

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Array):
            return (
                self.element_type is other.element_type
                and self.descriptor == other.descriptor
                and list.__eq__(self, other)
            )
        return list.__eq__(self, other)

    def __ne__(self, other: object) -> bool:
        # list.__ne__ would compare the items only, so != must be spelled out.
        result = self.__eq__(other)
        return result if result is NotImplemented else not result

    __hash__ = None

    def __repr__(self) -> str:
        name = getattr(self.element_type, "__name__", repr(self.element_type))
        extra = f", descriptor={self.descriptor!r}" if self.descriptor is not None else ""
        return f"Array({name}, {list.__repr__(self)}{extra})"
