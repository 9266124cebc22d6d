"""Encoders for the AMQP 1.0 scalar types (spec 1.6), each picking its smallest encoding.

Owns: the precompiled packers and ready-made two-byte encodings, and one encoder per scalar
Python type with the signature ``(out, value) -> None`` (append constructor and body to
``out``). ``_pure_encode`` puts them in its type-dispatch table next to the compound encoders.

Must never: silently wrap or truncate a value; a wrapper built around its own range check
(``int.__new__(UInt, -1)``) makes ``struct`` complain, which ``encode_value`` reports.
"""

from __future__ import annotations

import struct
from typing import Any

from .errors import EncodeError
from .types import Timestamp

_pack_BH = struct.Struct(">BH").pack
_pack_Bh = struct.Struct(">Bh").pack
_pack_BI = struct.Struct(">BI").pack
_pack_Bi = struct.Struct(">Bi").pack
_pack_BQ = struct.Struct(">BQ").pack
_pack_Bq = struct.Struct(">Bq").pack
_pack_Bf = struct.Struct(">Bf").pack
_pack_Bd = struct.Struct(">Bd").pack
_pack_BII = struct.Struct(">BII").pack
_pack_BBQ = struct.Struct(">BBQ").pack
_pack_I = struct.Struct(">I").pack
_pack_II = struct.Struct(">II").pack

# Two-byte encodings come ready-made from tables indexed by the value (signed ones by value+128).
_SMALLUINT = tuple(bytes((0x52, i)) for i in range(256))
_SMALLULONG = tuple(bytes((0x53, i)) for i in range(256))
_UBYTE = tuple(bytes((0x50, i)) for i in range(256))
_BYTE = tuple(bytes((0x51, i & 0xFF)) for i in range(-128, 128))
_SMALLINT = tuple(bytes((0x54, i & 0xFF)) for i in range(-128, 128))
_SMALLLONG = tuple(bytes((0x55, i & 0xFF)) for i in range(-128, 128))
_STR8 = tuple(bytes((0xA1, n)) for n in range(256))
_SYM8 = tuple(bytes((0xA3, n)) for n in range(256))
_VBIN8 = tuple(bytes((0xA0, n)) for n in range(256))
#: 0x00 + smallulong descriptor: the head of every spec composite (codes are < 256).
_DESCRIBED_SMALL = tuple(bytes((0x00, 0x53, i)) for i in range(256))

_LONG_MIN, _LONG_MAX = -(1 << 63), (1 << 63) - 1
_U32_MAX = (1 << 32) - 1
_U64_MAX = (1 << 64) - 1


def _type_name(value: Any) -> str:
    tp = type(value)
    return tp.__qualname__ if tp.__module__ == "builtins" else f"{tp.__module__}.{tp.__qualname__}"


# --- scalars ----------------------------------------------------------------------------------


def _enc_null(out: bytearray, value: Any) -> None:
    out.append(0x40)


def _enc_bool(out: bytearray, value: Any) -> None:
    out.append(0x41 if value else 0x42)


def _enc_long(out: bytearray, value: Any) -> None:
    if -128 <= value <= 127:
        out += _SMALLLONG[value + 128]
    elif _LONG_MIN <= value <= _LONG_MAX:
        out += _pack_Bq(0x81, value)
    else:
        raise EncodeError(
            f"int {value} does not fit an AMQP long (64-bit signed); "
            "wrap it as ULong(...) if it is an unsigned 64-bit value"
        )


def _enc_uint(out: bytearray, value: Any) -> None:
    if value == 0:
        out.append(0x43)
    elif 0 < value < 256:
        out += _SMALLUINT[value]
    else:
        out += _pack_BI(0x70, value)


def _enc_ulong(out: bytearray, value: Any) -> None:
    if value == 0:
        out.append(0x44)
    elif 0 < value < 256:
        out += _SMALLULONG[value]
    else:
        out += _pack_BQ(0x80, value)


def _enc_ubyte(out: bytearray, value: Any) -> None:
    if not 0 <= value < 256:
        raise EncodeError(f"UByte out of range: {int(value)}")
    out += _UBYTE[value]


def _enc_byte(out: bytearray, value: Any) -> None:
    if not -128 <= value <= 127:
        raise EncodeError(f"Byte out of range: {int(value)}")
    out += _BYTE[value + 128]


def _enc_ushort(out: bytearray, value: Any) -> None:
    out += _pack_BH(0x60, value)


def _enc_short(out: bytearray, value: Any) -> None:
    out += _pack_Bh(0x61, value)


def _enc_int(out: bytearray, value: Any) -> None:
    if -128 <= value <= 127:
        out += _SMALLINT[value + 128]
    else:
        out += _pack_Bi(0x71, value)


def _enc_float(out: bytearray, value: Any) -> None:
    out += _pack_Bf(0x72, value)


def _enc_double(out: bytearray, value: Any) -> None:
    out += _pack_Bd(0x82, value)


def _enc_decimal32(out: bytearray, value: Any) -> None:
    out += _pack_BI(0x74, value)


def _enc_decimal64(out: bytearray, value: Any) -> None:
    out += _pack_BQ(0x84, value)


def _enc_decimal128(out: bytearray, value: Any) -> None:
    out.append(0x94)
    out += int(value).to_bytes(16, "big")


def _enc_char(out: bytearray, value: Any) -> None:
    if len(value) != 1:
        raise EncodeError(f"Char must be one character, got {str(value)!r}")
    out += _pack_BI(0x73, ord(value))


def _enc_timestamp(out: bytearray, value: Any) -> None:
    out += _pack_Bq(0x83, value)


def _enc_datetime(out: bytearray, value: Any) -> None:
    out += _pack_Bq(0x83, Timestamp.from_datetime(value))


def _enc_uuid(out: bytearray, value: Any) -> None:
    out.append(0x98)
    out += value.bytes


def _enc_str(out: bytearray, value: Any) -> None:
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EncodeError(f"str is not encodable as UTF-8 ({exc.reason} at {exc.start})") from None
    n = len(data)
    if n < 256:
        out += _STR8[n]
    elif n <= _U32_MAX:
        out += _pack_BI(0xB1, n)
    else:
        raise EncodeError(f"str of {n} UTF-8 bytes is over the 2**32-1 limit of str32")
    out += data


def _enc_symbol(out: bytearray, value: Any) -> None:
    try:
        data = value.encode("ascii")
    except UnicodeEncodeError:
        raise EncodeError(f"Symbol must be ASCII, got {str(value)!r}") from None
    n = len(data)
    if n < 256:
        out += _SYM8[n]
    elif n <= _U32_MAX:
        out += _pack_BI(0xB3, n)
    else:
        raise EncodeError(f"Symbol of {n} bytes is over the 2**32-1 limit of sym32")
    out += data


def _enc_binary(out: bytearray, value: Any) -> None:
    n = len(value)
    if n < 256:
        out += _VBIN8[n]
    elif n <= _U32_MAX:
        out += _pack_BI(0xB0, n)
    else:
        raise EncodeError(f"binary of {n} bytes is over the 2**32-1 limit of vbin32")
    out += value


def _enc_memoryview(out: bytearray, value: Any) -> None:
    # len() of a memoryview counts items, not bytes; a non-contiguous view must be copied.
    _enc_binary(out, value.cast("B") if value.c_contiguous else value.tobytes())


def _enc_descriptor(out: bytearray, descriptor: Any) -> None:
    if isinstance(descriptor, int) and not isinstance(descriptor, bool):
        if not 0 <= descriptor <= _U64_MAX:
            raise EncodeError(f"descriptor {int(descriptor)} does not fit a ulong")
        _enc_ulong(out, descriptor)
    elif isinstance(descriptor, str):
        _enc_symbol(out, descriptor)
    else:
        # 1.5: descriptors other than ulong and symbol are reserved.
        raise EncodeError(f"descriptor must be a ULong or a Symbol, got {_type_name(descriptor)}")
