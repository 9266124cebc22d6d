"""AMQP 1.0 format codes: every constructor byte, with its width and category (spec 1.2, 1.6).

Owns: ``FormatCode``, the one enumeration of constructor bytes, and three tables keyed by it
that the encoder and decoder are driven by: ``WIDTH`` (the fixed width of a fixed encoding, or
the width of the size/count fields of a variable, compound or array encoding, exactly as
``types.bare.xml`` states it), ``CATEGORY`` and ``AMQP_TYPE`` (the AMQP type each encoding
belongs to). ``tests/codec/test_formats.py`` parses ``types.bare.xml`` and proves every row, so
nothing here is trusted because it was typed carefully.

Must never: encode or decode anything, or hold a limit (that is ``limits.py``).
"""

from __future__ import annotations

import enum
from types import MappingProxyType
from typing import Mapping

__all__ = ["FormatCode", "Category", "WIDTH", "CATEGORY", "AMQP_TYPE", "ZERO_WIDTH"]


class FormatCode(enum.IntEnum):
    """A constructor byte (spec 1.2). Names follow the encoding names in ``types.bare.xml``;
    encodings the XML leaves unnamed take their type's name."""

    #: 1.2: the constructor of a described value: 0x00, then the descriptor, then the value's
    #: own constructor. Not an encoding of any type, so it is absent from the tables below.
    DESCRIBED = 0x00

    NULL = 0x40
    TRUE = 0x41
    FALSE = 0x42
    UINT0 = 0x43
    ULONG0 = 0x44
    LIST0 = 0x45
    UBYTE = 0x50
    BYTE = 0x51
    SMALLUINT = 0x52
    SMALLULONG = 0x53
    SMALLINT = 0x54
    SMALLLONG = 0x55
    BOOLEAN = 0x56
    USHORT = 0x60
    SHORT = 0x61
    UINT = 0x70
    INT = 0x71
    FLOAT = 0x72
    CHAR = 0x73
    DECIMAL32 = 0x74
    ULONG = 0x80
    LONG = 0x81
    DOUBLE = 0x82
    TIMESTAMP = 0x83
    DECIMAL64 = 0x84
    DECIMAL128 = 0x94
    UUID = 0x98
    VBIN8 = 0xA0
    STR8 = 0xA1
    SYM8 = 0xA3
    VBIN32 = 0xB0
    STR32 = 0xB1
    SYM32 = 0xB3
    LIST8 = 0xC0
    MAP8 = 0xC1
    LIST32 = 0xD0
    MAP32 = 0xD1
    ARRAY8 = 0xE0
    ARRAY32 = 0xF0


class Category(enum.Enum):
    """How the bytes after a constructor are laid out (spec 1.2 "Encodings")."""

    #: ``width`` bytes of value, no size field (width 0: the constructor is the whole value).
    FIXED = "fixed"
    #: a ``width``-byte size, then that many bytes of data.
    VARIABLE = "variable"
    #: a ``width``-byte size, a ``width``-byte count, then count encoded values.
    COMPOUND = "compound"
    #: a ``width``-byte size, a ``width``-byte count, one element constructor, then count
    #: element bodies.
    ARRAY = "array"


_F = FormatCode
_FIXED, _VARIABLE, _COMPOUND, _ARRAY = (
    Category.FIXED,
    Category.VARIABLE,
    Category.COMPOUND,
    Category.ARRAY,
)

# (code, amqp type, category, width), in the order of types.bare.xml.
_ROWS: tuple[tuple[FormatCode, str, Category, int], ...] = (
    (_F.NULL, "null", _FIXED, 0),
    (_F.BOOLEAN, "boolean", _FIXED, 1),
    (_F.TRUE, "boolean", _FIXED, 0),
    (_F.FALSE, "boolean", _FIXED, 0),
    (_F.UBYTE, "ubyte", _FIXED, 1),
    (_F.USHORT, "ushort", _FIXED, 2),
    (_F.UINT, "uint", _FIXED, 4),
    (_F.SMALLUINT, "uint", _FIXED, 1),
    (_F.UINT0, "uint", _FIXED, 0),
    (_F.ULONG, "ulong", _FIXED, 8),
    (_F.SMALLULONG, "ulong", _FIXED, 1),
    (_F.ULONG0, "ulong", _FIXED, 0),
    (_F.BYTE, "byte", _FIXED, 1),
    (_F.SHORT, "short", _FIXED, 2),
    (_F.INT, "int", _FIXED, 4),
    (_F.SMALLINT, "int", _FIXED, 1),
    (_F.LONG, "long", _FIXED, 8),
    (_F.SMALLLONG, "long", _FIXED, 1),
    (_F.FLOAT, "float", _FIXED, 4),
    (_F.DOUBLE, "double", _FIXED, 8),
    (_F.DECIMAL32, "decimal32", _FIXED, 4),
    (_F.DECIMAL64, "decimal64", _FIXED, 8),
    (_F.DECIMAL128, "decimal128", _FIXED, 16),
    (_F.CHAR, "char", _FIXED, 4),
    (_F.TIMESTAMP, "timestamp", _FIXED, 8),
    (_F.UUID, "uuid", _FIXED, 16),
    (_F.VBIN8, "binary", _VARIABLE, 1),
    (_F.VBIN32, "binary", _VARIABLE, 4),
    (_F.STR8, "string", _VARIABLE, 1),
    (_F.STR32, "string", _VARIABLE, 4),
    (_F.SYM8, "symbol", _VARIABLE, 1),
    (_F.SYM32, "symbol", _VARIABLE, 4),
    (_F.LIST0, "list", _FIXED, 0),
    (_F.LIST8, "list", _COMPOUND, 1),
    (_F.LIST32, "list", _COMPOUND, 4),
    (_F.MAP8, "map", _COMPOUND, 1),
    (_F.MAP32, "map", _COMPOUND, 4),
    (_F.ARRAY8, "array", _ARRAY, 1),
    (_F.ARRAY32, "array", _ARRAY, 4),
)

#: Fixed encodings: bytes of value. Others: bytes of each size (and count) field.
WIDTH: Mapping[FormatCode, int] = MappingProxyType({c: w for c, _, _, w in _ROWS})
#: The layout category of each encoding.
CATEGORY: Mapping[FormatCode, Category] = MappingProxyType({c: k for c, _, k, _ in _ROWS})
#: The AMQP type name (as in ``types.bare.xml``) each encoding belongs to.
AMQP_TYPE: Mapping[FormatCode, str] = MappingProxyType({c: t for c, t, _, _ in _ROWS})
#: Encodings with no bytes after the constructor: the constructor *is* the value. As array
#: element constructors they make elements that take no bytes at all, so the decoder bounds
#: their count by ``Limits.max_count`` alone.
ZERO_WIDTH: frozenset[FormatCode] = frozenset(
    c for c, _, k, w in _ROWS if k is _FIXED and w == 0
)
