"""The pure-Python AMQP 1.0 decoder (spec 1.2, 1.6): bytes -> values, validating as it goes.

Owns: ``decode_value``, ``decode_described_list`` and ``split_sections`` (re-exported by
``_pure``; ``_speedups._codec`` mirrors them with the same behaviour and error messages), the
compound, described and array decoders, and the constructor tables.

How it works: ``_DECODERS`` is a 256-entry table from constructor byte to a *body decoder*
``(buf, pos, end, ctx, depth) -> (value, pos)`` that reads what follows the constructor (the
scalar ones live in ``_pure_decode_scalars``). ``end`` is the end of the innermost enclosing
value (a list's declared size, or the input), so nothing ever reads past it and truncation is
reported where it happens. Arrays read their element constructor once and call the same body
decoders for each element.

Must never: slice-copy anything but the final ``bytes``/``str``; allocate anything sized by a
length or count before checking it against the bytes left *and* ``Limits`` (DESIGN rule 5); let
any exception but ``DecodeError`` escape, whatever the input; import I/O or clock modules.
"""

from __future__ import annotations

import uuid as _uuid
from typing import Any

from ._pure_decode_scalars import (
    _SMALLULONG,
    _TAKE8,
    _Ctx,
    _Decoder,
    _Input,
    _dec_boolean,
    _dec_byte,
    _dec_char,
    _dec_decimal32,
    _dec_decimal64,
    _dec_decimal128,
    _dec_double,
    _dec_false,
    _dec_float,
    _dec_int,
    _dec_list0,
    _dec_long,
    _dec_null,
    _dec_short,
    _dec_smallint,
    _dec_smalllong,
    _dec_smalluint,
    _dec_smallulong,
    _dec_str8,
    _dec_str32,
    _dec_sym8,
    _dec_sym32,
    _dec_timestamp,
    _dec_true,
    _dec_ubyte,
    _dec_uint,
    _dec_uint0,
    _dec_ulong,
    _dec_ulong0,
    _dec_ushort,
    _dec_uuid,
    _dec_vbin8,
    _dec_vbin32,
    _over_limit,
    _overrun,
    _short,
    _too_deep,
    _unpack_I,
    _unpack_II,
)
from .composite import BY_CODE, BY_NAME
from .errors import DecodeError
from .formats import AMQP_TYPE, CATEGORY, WIDTH, Category, FormatCode
from .limits import DEFAULT_LIMITS, Limits
from .types import (
    Array,
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
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

__all__ = ["decode_value", "decode_described_list", "split_sections"]

# --- compound: size, count, then count values -------------------------------------------------
#
# Fast paths: most elements of a message's lists and maps are short strings (property values,
# application-property keys and values), and calling a body decoder costs about as much as
# the decoding itself. So the element loops decode a *valid* str8 inline, exactly as
# ``_dec_str8`` would; whenever a check fails (truncated, over ``max_string_size``, not
# UTF-8) they call ``_dec_str8``, which raises the error with its message and offset (the
# ``# raises`` calls). Lists also step over nulls inline (the gaps of sparse composites such
# as ``properties``). This saves ~0.8 us of a typical small message's ~6 us.


def _list_body(
    buf: _Input, pos: int, stop: int, count: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    # Every element takes at least its constructor byte, so the count is bounded by the bytes
    # the declared size leaves; both checks come before the list is allocated.
    if count > stop - pos:
        raise DecodeError(
            f"list at offset {pos} declares {count} elements in {stop - pos} bytes"
        )
    if count > ctx.max_count:
        raise _over_limit("list", pos, count, "max_count", ctx.max_count)
    depth += 1
    if depth > ctx.max_depth:
        raise _too_deep(pos, ctx)
    items: list[Any] = [None] * count
    table = _DECODERS
    max_string = ctx.max_string
    for i in range(count):
        if pos >= stop:
            raise DecodeError(f"list element {i} at offset {pos} is beyond the list's size")
        code = buf[pos]
        if code == 0xA1 and pos + 1 < stop:
            # str8 inline (see "Fast paths" above); anything doubtful goes to _dec_str8.
            first = pos + 2
            after = first + buf[pos + 1]
            if after <= stop and after - first <= max_string:
                try:
                    items[i] = _TAKE8[after - first](buf, first)[0].decode()
                    pos = after
                    continue
                except UnicodeDecodeError:
                    pass
        elif code == 0x40:  # null: the slot already holds None
            pos += 1
            continue
        items[i], pos = table[code](buf, pos + 1, stop, ctx, depth)
    if pos != stop:
        # 1.2: the size covers exactly the count and the elements.
        raise DecodeError(f"list elements end at offset {pos}, {stop - pos} bytes before its size")
    return items, pos


def _map_body(
    buf: _Input, pos: int, stop: int, count: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    if count & 1:
        # 1.6.23: a map's count is of keys *and* values, so it is even.
        raise DecodeError(f"map at offset {pos} has an odd element count {count}")
    if count > stop - pos:
        raise DecodeError(f"map at offset {pos} declares {count} elements in {stop - pos} bytes")
    if count > ctx.max_count:
        raise _over_limit("map", pos, count, "max_count", ctx.max_count)
    depth += 1
    if depth > ctx.max_depth:
        raise _too_deep(pos, ctx)
    result: dict[Any, Any] = {}
    table = _DECODERS
    max_string = ctx.max_string
    for _ in range(count >> 1):
        if pos >= stop:
            raise DecodeError(f"map key at offset {pos} is beyond the map's size")
        key_pos = pos
        code = buf[pos]
        if code == 0xA1 and pos + 1 < stop:
            # str8 inline (see "Fast paths" above); anything doubtful goes to _dec_str8.
            first = pos + 2
            after = first + buf[pos + 1]
            if after <= stop and after - first <= max_string:
                try:
                    key = _TAKE8[after - first](buf, first)[0].decode()
                    pos = after
                except UnicodeDecodeError:
                    key, pos = _dec_str8(buf, pos + 1, stop, ctx, depth)  # raises
            else:
                key, pos = _dec_str8(buf, pos + 1, stop, ctx, depth)  # raises
        else:
            key, pos = table[code](buf, pos + 1, stop, ctx, depth)
        if pos >= stop:
            raise DecodeError(f"map value at offset {pos} is beyond the map's size")
        code = buf[pos]
        if code == 0xA1 and pos + 1 < stop:
            # The same for values.
            first = pos + 2
            after = first + buf[pos + 1]
            if after <= stop and after - first <= max_string:
                try:
                    value = _TAKE8[after - first](buf, first)[0].decode()
                    pos = after
                except UnicodeDecodeError:
                    value, pos = _dec_str8(buf, pos + 1, stop, ctx, depth)  # raises
            else:
                value, pos = _dec_str8(buf, pos + 1, stop, ctx, depth)  # raises
        else:
            value, pos = table[code](buf, pos + 1, stop, ctx, depth)
        try:
            result[key] = value
        except TypeError:
            # A Python dict cannot hold a list, map or array key; say so instead of guessing
            # a representation that would not round-trip.
            raise DecodeError(
                f"map key at offset {key_pos} is a {type(key).__name__}, "
                "which cannot be a Python dict key"
            ) from None
    if pos != stop:
        raise DecodeError(f"map elements end at offset {pos}, {stop - pos} bytes before its size")
    if len(result) != count >> 1:
        # 1.6.23 requires distinct keys. Keys of different AMQP types that Python considers
        # equal (1 and UInt(1), "a" and Symbol("a")) land here too: a dict cannot keep both.
        raise DecodeError(
            f"map ending at offset {pos} repeats a key (or has keys equal as Python values)"
        )
    return result, pos


def _dec_list8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 2 > end:
        raise _short("list8 header", pos, 2, end)
    size = buf[pos]
    stop = pos + 1 + size
    if stop > end:
        raise _overrun("list8", pos, size, end - pos - 1)
    if size < 1:
        raise DecodeError(f"list8 at offset {pos} has size 0, too small for its count")
    return _list_body(buf, pos + 2, stop, buf[pos + 1], ctx, depth)


def _dec_list32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("list32 header", pos, 8, end)
    size, count = _unpack_II(buf, pos)
    if size > end - pos - 4:
        raise _overrun("list32", pos, size, end - pos - 4)
    if size < 4:
        raise DecodeError(f"list32 at offset {pos} has size {size}, too small for its count")
    return _list_body(buf, pos + 8, pos + 4 + size, count, ctx, depth)


def _dec_map8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 2 > end:
        raise _short("map8 header", pos, 2, end)
    size = buf[pos]
    stop = pos + 1 + size
    if stop > end:
        raise _overrun("map8", pos, size, end - pos - 1)
    if size < 1:
        raise DecodeError(f"map8 at offset {pos} has size 0, too small for its count")
    return _map_body(buf, pos + 2, stop, buf[pos + 1], ctx, depth)


def _dec_map32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("map32 header", pos, 8, end)
    size, count = _unpack_II(buf, pos)
    if size > end - pos - 4:
        raise _overrun("map32", pos, size, end - pos - 4)
    if size < 4:
        raise DecodeError(f"map32 at offset {pos} has size {size}, too small for its count")
    return _map_body(buf, pos + 8, pos + 4 + size, count, ctx, depth)


# --- described values -------------------------------------------------------------------------


def _descriptor(buf: _Input, pos: int, end: int, ctx: _Ctx) -> tuple[Any, int]:
    """Read a descriptor: a ulong (any encoding) or a symbol, as ``ULong`` / ``Symbol``."""
    if pos >= end:
        raise _short("descriptor", pos, 1, end)
    code = buf[pos]
    if code == 0x53:  # smallulong: every spec descriptor code is < 256
        if pos + 2 > end:
            raise _short("smallulong", pos + 1, 1, end)
        return _SMALLULONG[buf[pos + 1]], pos + 2
    if code == 0xA3:
        return _dec_sym8(buf, pos + 1, end, ctx, 0)
    if code == 0x80:
        return _dec_ulong(buf, pos + 1, end, ctx, 0)
    if code == 0xB3:
        return _dec_sym32(buf, pos + 1, end, ctx, 0)
    if code == 0x44:
        return _SMALLULONG[0], pos + 1
    # 1.5: other descriptor types are reserved; refusing them also keeps 0x00 out of here.
    raise DecodeError(
        f"descriptor at offset {pos} must be a ulong or a symbol, got constructor 0x{code:02x}"
    )


def _build(cls: Any, fields: list[Any], pos: int) -> Any:
    """Build a registered composite from its decoded fields; any complaint is a DecodeError."""
    try:
        return cls._amqp_from_fields_(fields)
    except DecodeError:
        raise
    except (TypeError, ValueError, LookupError) as exc:
        # A field of the wrong shape (an enum lookup, a wrapper's range check) is the peer's
        # bad encoding, not our bug: report it as such, with the cause chained.
        raise DecodeError(f"{cls.__name__} at offset {pos}: {exc}") from exc


def _dec_described(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    depth += 1
    if depth > ctx.max_depth:
        raise _too_deep(pos - 1, ctx)
    descriptor: Any
    if pos + 2 < end and buf[pos] == 0x53:  # smallulong, as every spec descriptor is sent
        descriptor = _SMALLULONG[buf[pos + 1]]
        pos += 2
    else:
        descriptor, pos = _descriptor(buf, pos, end, ctx)
        if pos >= end:
            raise _short("described value", pos, 1, end)
    code = buf[pos]
    value, after = _DECODERS[code](buf, pos + 1, end, ctx, depth)
    if code == 0xC0 or code == 0xD0 or code == 0x45:  # list8, list32, list0
        cls = BY_CODE.get(descriptor) if type(descriptor) is ULong else BY_NAME.get(descriptor)
        if cls is not None:
            return _build(cls, value, pos), after
    return _described(descriptor, value), after


def _described(descriptor: Any, value: Any) -> Described:
    """``Described(descriptor, value)`` without re-checking a descriptor already decoded as a
    ``ULong`` or ``Symbol``."""
    result = _new_described(Described)
    result.descriptor = descriptor
    result.value = value
    return result


_new_described = Described.__new__


# --- arrays: size, count, one element constructor, count element bodies -----------------------


def _array_body(
    buf: _Input, pos: int, stop: int, count: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    start = pos
    depth += 1
    if depth > ctx.max_depth:
        raise _too_deep(pos, ctx)
    if count > ctx.max_count:
        raise _over_limit("array", pos, count, "max_count", ctx.max_count)
    if pos >= stop:
        raise _short("array element constructor", pos, 1, stop)
    code = buf[pos]
    descriptor = None
    if code == 0x00:
        # An array of described values: the descriptor once, then the value constructor.
        descriptor, pos = _descriptor(buf, pos + 1, stop, ctx)
        if pos >= stop:
            raise _short("array element constructor", pos, 1, stop)
        code = buf[pos]
    element_type = _ELEMENT_TYPE[code]
    if element_type is None:
        raise DecodeError(f"array at offset {start}: 0x{code:02x} is not an element constructor")
    pos += 1
    width = _MIN_WIDTH[code]
    if width:
        if count > (stop - pos) // width:
            raise DecodeError(
                f"array at offset {start} declares {count} elements of at least {width} bytes "
                f"in {stop - pos} bytes"
            )
    else:
        if count > ctx.zero_left:
            raise DecodeError(
                f"array at offset {start} declares {count} zero-width elements, more than the "
                f"{ctx.zero_left} left of Limits.max_count={ctx.max_count} for this value"
            )
        ctx.zero_left -= count
    decoder = _DECODERS[code]
    items: list[Any] = [None] * count
    for i in range(count):
        items[i], pos = decoder(buf, pos, stop, ctx, depth)
    if pos != stop:
        raise DecodeError(f"array elements end at offset {pos}, {stop - pos} bytes before its size")
    if descriptor is None:
        return Array(element_type, items), pos
    if element_type is list:
        cls = BY_CODE.get(descriptor) if type(descriptor) is ULong else BY_NAME.get(descriptor)
        if cls is not None:
            return Array(cls, [_build(cls, fields, start) for fields in items]), pos
    return Array(Described, [_described(descriptor, v) for v in items], descriptor), pos


def _dec_array8(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 2 > end:
        raise _short("array8 header", pos, 2, end)
    size = buf[pos]
    stop = pos + 1 + size
    if stop > end:
        raise _overrun("array8", pos, size, end - pos - 1)
    if size < 2:
        raise DecodeError(f"array8 at offset {pos} has size {size}, too small for its count and constructor")
    return _array_body(buf, pos + 2, stop, buf[pos + 1], ctx, depth)


def _dec_array32(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    if pos + 8 > end:
        raise _short("array32 header", pos, 8, end)
    size, count = _unpack_II(buf, pos)
    if size > end - pos - 4:
        raise _overrun("array32", pos, size, end - pos - 4)
    if size < 5:
        raise DecodeError(f"array32 at offset {pos} has size {size}, too small for its count and constructor")
    return _array_body(buf, pos + 8, pos + 4 + size, count, ctx, depth)


def _dec_unknown(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> tuple[Any, int]:
    raise DecodeError(f"unknown constructor 0x{buf[pos - 1]:02x} at offset {pos - 1}")


# --- the tables -------------------------------------------------------------------------------

_F = FormatCode
_BY_CODE: dict[FormatCode, tuple[_Decoder, type]] = {
    _F.NULL: (_dec_null, type(None)),
    _F.TRUE: (_dec_true, bool),
    _F.FALSE: (_dec_false, bool),
    _F.BOOLEAN: (_dec_boolean, bool),
    _F.UINT0: (_dec_uint0, UInt),
    _F.SMALLUINT: (_dec_smalluint, UInt),
    _F.UINT: (_dec_uint, UInt),
    _F.ULONG0: (_dec_ulong0, ULong),
    _F.SMALLULONG: (_dec_smallulong, ULong),
    _F.ULONG: (_dec_ulong, ULong),
    _F.UBYTE: (_dec_ubyte, UByte),
    _F.USHORT: (_dec_ushort, UShort),
    _F.BYTE: (_dec_byte, Byte),
    _F.SHORT: (_dec_short, Short),
    _F.SMALLINT: (_dec_smallint, Int),
    _F.INT: (_dec_int, Int),
    _F.SMALLLONG: (_dec_smalllong, int),
    _F.LONG: (_dec_long, int),
    _F.FLOAT: (_dec_float, Float),
    _F.DOUBLE: (_dec_double, float),
    _F.DECIMAL32: (_dec_decimal32, Decimal32),
    _F.DECIMAL64: (_dec_decimal64, Decimal64),
    _F.DECIMAL128: (_dec_decimal128, Decimal128),
    _F.CHAR: (_dec_char, Char),
    _F.TIMESTAMP: (_dec_timestamp, Timestamp),
    _F.UUID: (_dec_uuid, _uuid.UUID),
    _F.VBIN8: (_dec_vbin8, bytes),
    _F.VBIN32: (_dec_vbin32, bytes),
    _F.STR8: (_dec_str8, str),
    _F.STR32: (_dec_str32, str),
    _F.SYM8: (_dec_sym8, Symbol),
    _F.SYM32: (_dec_sym32, Symbol),
    _F.LIST0: (_dec_list0, list),
    _F.LIST8: (_dec_list8, list),
    _F.LIST32: (_dec_list32, list),
    _F.MAP8: (_dec_map8, dict),
    _F.MAP32: (_dec_map32, dict),
    _F.ARRAY8: (_dec_array8, Array),
    _F.ARRAY32: (_dec_array32, Array),
}
assert set(_BY_CODE) == set(FormatCode) - {FormatCode.DESCRIBED}
_KNOWN = frozenset(int(c) for c in _BY_CODE)

#: constructor byte -> body decoder; unknown bytes raise a DecodeError naming them.
_DECODERS: tuple[_Decoder, ...] = tuple(
    _dec_described if c == 0 else _BY_CODE[_F(c)][0] if c in _KNOWN else _dec_unknown
    for c in range(256)
)
#: constructor byte -> Python type of array elements it makes; None: not an element constructor.
_ELEMENT_TYPE: tuple[type | None, ...] = tuple(
    _BY_CODE[_F(c)][1] if c in _KNOWN else None for c in range(256)
)


def _min_width(code: FormatCode) -> int:
    """Fewest bytes one array element with this constructor can take (formats tables)."""
    w, cat = WIDTH[code], CATEGORY[code]
    if cat is Category.FIXED or cat is Category.VARIABLE:
        return w
    if cat is Category.COMPOUND:
        return 2 * w  # size and count
    return 2 * w + 1  # size, count and element constructor


_MIN_WIDTH: tuple[int, ...] = tuple(
    _min_width(_F(c)) if c in _KNOWN else 0 for c in range(256)
)


# --- public entry points ----------------------------------------------------------------------


def decode_value(
    buf: memoryview, pos: int, limits: Limits, depth: int = 0
) -> tuple[Any, int]:
    """Decode the one value whose constructor is at ``buf[pos]``.

    Args:
        buf: a one-dimensional memoryview of unsigned bytes (``memoryview(data)``).
        pos: offset of the value's constructor.
        limits: bounds to enforce; see ``Limits``.
        depth: nesting depth already used by enclosing values (0 at top level).

    Returns:
        ``(value, next_pos)``, where ``next_pos`` is the offset just after the value. Trailing
        bytes are left alone; ``amqp10.codec.decode`` is the strict whole-input variant.

    Raises:
        DecodeError: for any input that is not a valid encoding within ``limits``; never any
            other exception.
    """
    return decode_in_context(buf, pos, len(buf), _Ctx(limits), depth)


def decode_in_context(
    buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int
) -> tuple[Any, int]:
    """``decode_value`` with a context the caller made (``_Ctx(limits)``) and keeps.

    For a caller that decodes several values of one input as a whole: ``Message.decode``
    decodes every section of a message with one context, so the message has one zero-width
    budget (``Limits.max_count``) and pays for making a context once, not per section.
    ``end`` is ``len(buf)``; ``buf`` may be the ``bytes`` themselves rather than a view of
    them (the values and errors are the same; indexing is a little quicker).
    """
    if not 0 <= pos < end:
        raise DecodeError(f"no value at offset {pos}: the input is {end} bytes long")
    try:
        return _DECODERS[buf[pos]](buf, pos + 1, end, ctx, depth)
    except RecursionError:
        raise DecodeError(
            f"value at offset {pos} nests deeper than the Python stack allows; "
            "lower Limits.max_depth"
        ) from None
    except MemoryError:
        raise DecodeError(f"out of memory decoding the value at offset {pos}; lower Limits") from None


def decode_described_list(
    buf: memoryview, pos: int, limits: Limits
) -> tuple[Any, list[Any], int]:
    """Decode a described value whose value is a list, such as a performative (spec 2.7).

    Returns:
        ``(descriptor, fields, next_pos)``: the descriptor as ``ULong`` or ``Symbol``, the
        decoded list fields (not turned into a composite: the caller knows what it expects),
        and the offset just after the list.

    Raises:
        DecodeError: if the bytes at ``pos`` are not a described list, or are invalid.
    """
    end = len(buf)
    if not 0 <= pos < end:
        raise DecodeError(f"no described list at offset {pos}: the input is {end} bytes long")
    if buf[pos] != 0x00:
        raise DecodeError(
            f"expected a described value (0x00) at offset {pos}, got 0x{buf[pos]:02x}"
        )
    ctx = _Ctx(limits)
    try:
        descriptor, p = _descriptor(buf, pos + 1, end, ctx)
        if p >= end:
            raise _short("described list", p, 1, end)
        code = buf[p]
        if code == 0xC0:
            fields, p = _dec_list8(buf, p + 1, end, ctx, 1)
        elif code == 0xD0:
            fields, p = _dec_list32(buf, p + 1, end, ctx, 1)
        elif code == 0x45:
            fields, p = [], p + 1
        else:
            raise DecodeError(
                f"described value at offset {pos} is not a list (constructor 0x{code:02x})"
            )
    except RecursionError:
        raise DecodeError(
            f"value at offset {pos} nests deeper than the Python stack allows; "
            "lower Limits.max_depth"
        ) from None
    except MemoryError:
        raise DecodeError(f"out of memory decoding the value at offset {pos}; lower Limits") from None
    return descriptor, fields, p


#: constructor byte -> (category, size-field width, limit kind) for skipping without decoding.
_SKIP: tuple[tuple[Category, int, str] | None, ...] = tuple(
    (
        CATEGORY[_F(c)],
        WIDTH[_F(c)],
        {"binary": "b", "string": "s", "symbol": "s"}.get(AMQP_TYPE[_F(c)], ""),
    )
    if c in _KNOWN
    else None
    for c in range(256)
)


def _skip(buf: _Input, pos: int, end: int, ctx: _Ctx, depth: int) -> int:
    """Return the offset after the value at ``pos``, reading only constructors and sizes."""
    if pos >= end:
        raise _short("value", pos, 1, end)
    code = buf[pos]
    pos += 1
    while code == 0x00:
        depth += 1
        if depth > ctx.max_depth:
            raise _too_deep(pos - 1, ctx)
        _, pos = _descriptor(buf, pos, end, ctx)
        if pos >= end:
            raise _short("described value", pos, 1, end)
        code = buf[pos]
        pos += 1
    row = _SKIP[code]
    if row is None:
        raise DecodeError(f"unknown constructor 0x{code:02x} at offset {pos - 1}")
    category, width, kind = row
    if category is Category.FIXED:
        if pos + width > end:
            raise _short(FormatCode(code).name.lower(), pos, width, end)
        return pos + width
    if pos + width > end:
        raise _short(FormatCode(code).name.lower() + " size", pos, width, end)
    size = buf[pos] if width == 1 else _unpack_I(buf, pos)[0]
    pos += width
    if size > end - pos:
        raise _overrun(FormatCode(code).name.lower(), pos - width, size, end - pos)
    if kind == "b" and size > ctx.max_binary:
        raise _over_limit("binary", pos, size, "max_binary_size", ctx.max_binary)
    if kind == "s" and size > ctx.max_string:
        raise _over_limit("string", pos, size, "max_string_size", ctx.max_string)
    if category is not Category.VARIABLE and size < width:
        raise DecodeError(f"value at offset {pos - width} has size {size}, too small for its count")
    return pos + size


def split_sections(buf: memoryview, limits: Limits = DEFAULT_LIMITS) -> list[tuple[Any, int, int]]:
    """Find the top-level described values (message sections, spec 3.2) without decoding them.

    Each section's body is skipped by its declared size, so a large data section costs one
    size check here and one copy when the message decoder takes it.

    Returns:
        ``[(descriptor, start, end), ...]`` in order: the descriptor as ``ULong`` or ``Symbol``
        and the ``[start, end)`` byte range of the whole section (from its 0x00).

    Raises:
        DecodeError: if the input is over ``Limits.max_message_size``, a top-level value is not
            described, or a size runs past the end.
    """
    end = len(buf)
    if end > limits.max_message_size:
        raise _over_limit("message", 0, end, "max_message_size", limits.max_message_size)
    ctx = _Ctx(limits)
    sections: list[tuple[Any, int, int]] = []
    pos = 0
    while pos < end:
        if buf[pos] != 0x00:
            raise DecodeError(
                f"message section at offset {pos} is not a described value "
                f"(constructor 0x{buf[pos]:02x})"
            )
        descriptor, p = _descriptor(buf, pos + 1, end, ctx)
        p = _skip(buf, p, end, ctx, 1)
        sections.append((descriptor, pos, p))
        pos = p
    return sections
