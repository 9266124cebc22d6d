"""Body decoders for the AMQP 1.0 scalar encodings (spec 1.6): fixed and variable width.

Owns: the per-call decoding context ``_Ctx``, the error messages shared word for word with
``_speedups._codec``, and one body decoder per scalar constructor, with the signature
``(buf, pos, end, ctx, depth) -> (value, next_pos)``: ``pos`` is just after the constructor and
``end`` the end of the innermost enclosing value, never read past. ``_pure_decode`` puts them in
its constructor table next to the compound decoders.

Must never: read past ``end``; build a ``bytes``/``str`` before checking its size against the
bytes left and ``Limits``; let anything but ``DecodeError`` escape.
"""

from __future__ import annotations

import struct
import uuid as _uuid
from typing import Any, Callable

from .errors import DecodeError
from .limits import Limits
from .types import (
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Float,
    Int,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
)

# Wrappers built with the base type's __new__ skip the range check their constructors do: the
# encoding's width already implies the range. (Module-level names: one lookup, not two.)
_int_new = int.__new__
_float_new = float.__new__
_str_new = str.__new__

_unpack_H = struct.Struct(">H").unpack_from
_unpack_h = struct.Struct(">h").unpack_from
_unpack_I = struct.Struct(">I").unpack_from
_unpack_i = struct.Struct(">i").unpack_from
_unpack_Q = struct.Struct(">Q").unpack_from
_unpack_q = struct.Struct(">q").unpack_from
_unpack_f = struct.Struct(">f").unpack_from
_unpack_d = struct.Struct(">d").unpack_from
_unpack_II = struct.Struct(">II").unpack_from
_unpack_QQ = struct.Struct(">QQ").unpack_from
#: n -> unpacker of n raw bytes: copies straight out of the buffer, with no memoryview slice
#: in between (the 8-bit-size encodings are the common ones).
_TAKE8 = tuple(struct.Struct(f"{n}s").unpack_from for n in range(256))

# One-byte encodings decode through tables indexed by the raw byte: no allocation. The
# wrappers are immutable, so sharing one instance per value is safe.
_UBYTE = tuple(_int_new(UByte, i) for i in range(256))
_BYTE = tuple(_int_new(Byte, i if i < 128 else i - 256) for i in range(256))
_SMALLUINT = tuple(_int_new(UInt, i) for i in range(256))
_SMALLULONG = tuple(_int_new(ULong, i) for i in range(256))
_SMALLINT = tuple(_int_new(Int, i if i < 128 else i - 256) for i in range(256))
_SMALLLONG = tuple(i if i < 128 else i - 256 for i in range(256))


#: What the decoders read: a memoryview of unsigned bytes, or the ``bytes`` object itself,
#: which ``Message.decode`` passes when it has one (indexing bytes is a little quicker, and
#: saves making a view). Both index to ints and slice to what ``bytes()`` takes.
_Input = bytes | memoryview

#: raw bytes -> Symbol for short symbols already seen (bounded: at most 1024 of 64 bytes).
_SYMBOLS: dict[bytes, Symbol] = {}


class _Ctx:
    """Decoding state of one call (or one message): the limits as plain attributes, and the
    zero-width budget.

    Zero-width array elements (null, true, false, uint0, ulong0, list0) take no bytes, so the
    bytes left cannot bound them; without a shared budget a list of 10-byte arrays, each
    claiming ``max_count`` nulls, would build ``max_count`` times more values than it has
    bytes. Every top-level call therefore gets ``max_count`` zero-width elements in total,
    and so does every message (``Message.decode`` decodes all its sections with one context).
    """

    __slots__ = ("max_depth", "max_count", "max_binary", "max_string", "zero_left")

    def __init__(self, limits: Limits) -> None:
        self.max_depth = limits.max_depth
        self.max_count = limits.max_count
        self.max_binary = limits.max_binary_size
        self.max_string = limits.max_string_size
        self.zero_left = limits.max_count


_Decoder = Callable[[_Input, int, int, _Ctx, int], "tuple[Any, int]"]


# --- error messages (shared word for word with _speedups._codec) -----------------------------


def _short(what: str, pos: int, need: int, end: int) -> DecodeError:
    left = end - pos if end > pos else 0
    return DecodeError(f"truncated {what} at offset {pos}: needs {need} bytes, {left} left")


def _overrun(what: str, pos: int, size: int, left: int) -> DecodeError:
    return DecodeError(
        f"{what} at offset {pos} declares {size} bytes but only {left if left > 0 else 0} remain"
    )


def _over_limit(what: str, pos: int, n: int, limit_name: str, limit: int) -> DecodeError:
    return DecodeError(f"{what} at offset {pos} declares {n}, over Limits.{limit_name}={limit}")


def _too_deep(pos: int, ctx: _Ctx) -> DecodeError:
    return DecodeError(f"value at offset {pos} nests deeper than Limits.max_depth={ctx.max_depth}")


# --- fixed width ------------------------------------------------------------------------------


def _dec_null(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return None, pos


def _dec_true(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return True, pos


def _dec_false(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return False, pos


def _dec_uint0(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return _SMALLUINT[0], pos


def _dec_ulong0(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return _SMALLULONG[0], pos


def _dec_list0(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    return [], pos


def _dec_boolean(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("boolean", pos, 1, end)
    b = buf[pos]
    if b > 1:
        # 1.6.2: "0x00 being false and 0x01 being true"; nothing else is a boolean.
        raise DecodeError(f"boolean at offset {pos} must be 0x00 or 0x01, got 0x{b:02x}")
    return b == 1, pos + 1


def _dec_ubyte(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("ubyte", pos, 1, end)
    return _UBYTE[buf[pos]], pos + 1


def _dec_byte(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("byte", pos, 1, end)
    return _BYTE[buf[pos]], pos + 1


def _dec_smalluint(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("smalluint", pos, 1, end)
    return _SMALLUINT[buf[pos]], pos + 1


def _dec_smallulong(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if pos >= end:
        raise _short("smallulong", pos, 1, end)
    return _SMALLULONG[buf[pos]], pos + 1


def _dec_smallint(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("smallint", pos, 1, end)
    return _SMALLINT[buf[pos]], pos + 1


def _dec_smalllong(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("smalllong", pos, 1, end)
    return _SMALLLONG[buf[pos]], pos + 1


def _dec_ushort(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 2 > end:
        raise _short("ushort", pos, 2, end)
    return _int_new(UShort, _unpack_H(buf, pos)[0]), pos + 2


def _dec_short(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 2 > end:
        raise _short("short", pos, 2, end)
    return _int_new(Short, _unpack_h(buf, pos)[0]), pos + 2


def _dec_uint(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("uint", pos, 4, end)
    return _int_new(UInt, _unpack_I(buf, pos)[0]), pos + 4


def _dec_int(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("int", pos, 4, end)
    return _int_new(Int, _unpack_i(buf, pos)[0]), pos + 4


def _dec_float(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("float", pos, 4, end)
    # The unpacked double is exactly the binary32 value, so Float's rounding is not needed.
    return _float_new(Float, _unpack_f(buf, pos)[0]), pos + 4


def _dec_char(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("char", pos, 4, end)
    cp = _unpack_I(buf, pos)[0]
    if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
        # 1.6.16: a char is a single Unicode character, i.e. a scalar value.
        raise DecodeError(f"char at offset {pos} is not a Unicode scalar value: 0x{cp:x}")
    return _str_new(Char, chr(cp)), pos + 4


def _dec_decimal32(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("decimal32", pos, 4, end)
    return _int_new(Decimal32, _unpack_I(buf, pos)[0]), pos + 4


def _dec_ulong(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("ulong", pos, 8, end)
    return _int_new(ULong, _unpack_Q(buf, pos)[0]), pos + 8


def _dec_long(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("long", pos, 8, end)
    return _unpack_q(buf, pos)[0], pos + 8


def _dec_double(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("double", pos, 8, end)
    return _unpack_d(buf, pos)[0], pos + 8


def _dec_timestamp(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("timestamp", pos, 8, end)
    return _int_new(Timestamp, _unpack_q(buf, pos)[0]), pos + 8


def _dec_decimal64(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("decimal64", pos, 8, end)
    return _int_new(Decimal64, _unpack_Q(buf, pos)[0]), pos + 8


def _dec_decimal128(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if pos + 16 > end:
        raise _short("decimal128", pos, 16, end)
    hi, lo = _unpack_QQ(buf, pos)
    return _int_new(Decimal128, (hi << 64) | lo), pos + 16


def _dec_uuid(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 16 > end:
        raise _short("uuid", pos, 16, end)
    return _uuid.UUID(bytes=bytes(buf[pos : pos + 16])), pos + 16


# --- variable width: size, then bytes ---------------------------------------------------------


def _binary(buf: _Input, pos: int, n: int, end: int, ctx: _Ctx, what: str) -> tuple[Any, int]:
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > ctx.max_binary:
        raise _over_limit(what, pos, n, "max_binary_size", ctx.max_binary)
    stop = pos + n
    return bytes(buf[pos:stop]), stop


def _string(buf: _Input, pos: int, n: int, end: int, ctx: _Ctx, what: str) -> tuple[Any, int]:
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > ctx.max_string:
        raise _over_limit(what, pos, n, "max_string_size", ctx.max_string)
    stop = pos + n
    try:
        return bytes(buf[pos:stop]).decode(), stop
    except UnicodeDecodeError as exc:
        # 1.6.19: strings are UTF-8; the strict codec also refuses surrogates and overlongs.
        raise DecodeError(
            f"{what} at offset {pos} is not valid UTF-8 (byte {exc.start}: {exc.reason})"
        ) from None


def _symbol(buf: _Input, pos: int, n: int, end: int, ctx: _Ctx, what: str) -> tuple[Any, int]:
    if n > end - pos:
        raise _overrun(what, pos, n, end - pos)
    if n > ctx.max_string:
        raise _over_limit(what, pos, n, "max_string_size", ctx.max_string)
    stop = pos + n
    try:
        return _str_new(Symbol, buf[pos:stop], "ascii"), stop
    except UnicodeDecodeError as exc:
        # 1.6.21: symbols are "ASCII character strings".
        raise DecodeError(
            f"{what} at offset {pos} is not ASCII (byte {exc.start}: 0x{buf[pos + exc.start]:02x})"
        ) from None


def _dec_vbin8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos >= end:
        raise _short("vbin8 size", pos, 1, end)
    n = buf[pos]
    pos += 1
    stop = pos + n
    if stop > end or n > ctx.max_binary:
        return _binary(buf, pos, n, end, ctx, "vbin8")  # raises the right error
    return _TAKE8[n](buf, pos)[0], stop


def _dec_vbin32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("vbin32 size", pos, 4, end)
    return _binary(buf, pos + 4, _unpack_I(buf, pos)[0], end, ctx, "vbin32")


def _dec_str8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    # The commonest variable encoding, so _string is inlined for the valid case.
    if pos >= end:
        raise _short("str8 size", pos, 1, end)
    n = buf[pos]
    pos += 1
    stop = pos + n
    if stop > end or n > ctx.max_string:
        return _string(buf, pos, n, end, ctx, "str8")  # raises the right error
    try:
        return _TAKE8[n](buf, pos)[0].decode(), stop
    except UnicodeDecodeError:
        return _string(buf, pos, n, end, ctx, "str8")  # raises the right error


def _dec_str32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("str32 size", pos, 4, end)
    return _string(buf, pos + 4, _unpack_I(buf, pos)[0], end, ctx, "str32")


def _dec_sym8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    # Symbols repeat (capabilities, conditions, annotation keys), so short valid ones are
    # interned in a bounded table; anything else takes the checked path.
    if pos >= end:
        raise _short("sym8 size", pos, 1, end)
    n = buf[pos]
    pos += 1
    stop = pos + n
    if stop <= end and n <= ctx.max_string:
        raw = _TAKE8[n](buf, pos)[0]
        sym = _SYMBOLS.get(raw)
        if sym is not None:
            return sym, stop
        sym, stop = _symbol(buf, pos, n, end, ctx, "sym8")
        if n <= 64 and len(_SYMBOLS) < 1024:
            _SYMBOLS[raw] = sym
        return sym, stop
    return _symbol(buf, pos, n, end, ctx, "sym8")  # raises the right error


def _dec_sym32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 4 > end:
        raise _short("sym32 size", pos, 4, end)
    return _symbol(buf, pos + 4, _unpack_I(buf, pos)[0], end, ctx, "sym32")
