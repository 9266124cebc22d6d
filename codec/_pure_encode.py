"""The pure-Python AMQP 1.0 encoder (spec 1.2, 1.6): values -> bytes, smallest encoding first.

Owns: ``encode_value`` and ``encode_described_list`` (re-exported by ``_pure``;
``_speedups._codec`` mirrors them with the same output and error messages).

How it works: ``_ENCODERS`` maps an exact Python type to a function ``(out, value)`` that appends
the constructor and body (the scalar ones live in ``_pure_encode_scalars``; lists, maps,
described values and arrays are here). A type not in the table (a subclass of a wrapper, a spec composite) is
resolved once through its MRO and cached. Each encoder picks the smallest encoding that holds
the value (uint0/smalluint/uint, str8/str32, list0/list8/list32, ...), like Proton.

Arrays: ``_ARRAY_WRITERS`` maps ``Array.element_type`` to a function that checks every element,
then writes the one element constructor that fits *all* elements and their bodies. Width
variants are chosen smallest-first (smalluint before uint, sym8 before sym32, list8 before
list32), but the zero-width constructors that stand for a *value* (true, false, uint0, ulong0,
list0) are never used for elements: decoders in the wild handle them unevenly, and they make
the amplification-shaped arrays our own decoder has to budget for. ``null`` has no other
encoding, so ``Array(type(None), ...)`` uses it.

Must never: write a partial value into ``out`` (a failed call leaves ``out`` as it was), or
silently wrap, truncate or re-type a value that does not fit its AMQP type.
"""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import struct
import uuid as _uuid
from typing import Any, Callable

from ._pure_encode_scalars import (
    _DESCRIBED_SMALL,
    _LONG_MAX,
    _LONG_MIN,
    _enc_binary,
    _enc_bool,
    _enc_byte,
    _enc_char,
    _enc_datetime,
    _enc_decimal128,
    _enc_decimal32,
    _enc_decimal64,
    _enc_descriptor,
    _enc_double,
    _enc_float,
    _enc_int,
    _enc_long,
    _enc_memoryview,
    _enc_null,
    _enc_short,
    _enc_str,
    _enc_symbol,
    _enc_timestamp,
    _enc_ubyte,
    _enc_uint,
    _enc_ulong,
    _enc_ushort,
    _enc_uuid,
    _pack_BBQ,
    _pack_BII,
    _pack_I,
    _pack_II,
    _type_name,
    _U32_MAX,
    _U64_MAX,
)
from .errors import EncodeError
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
    Long,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
)

__all__ = ["encode_value", "encode_described_list"]

_Encoder = Callable[[bytearray, Any], None]
_ArrayWriter = Callable[[bytearray, Array], None]


# --- compound ---------------------------------------------------------------------------------


def _enc_list(out: bytearray, value: Any) -> None:
    n = len(value)
    if n == 0:
        out.append(0x45)  # list0
        return
    # Reserve a list8 header, encode in place, then patch it, widening to list32 (a memmove
    # of the body) only for big lists: small lists are the common case and cost no copy.
    start = len(out)
    out += b"\xc0\x00\x00"
    get = _ENCODERS.get
    for item in value:
        enc = get(type(item))
        if enc is None:
            enc = _resolve(type(item))
        enc(out, item)
    body = len(out) - start - 3
    if body < 255 and n < 256:
        out[start + 1] = body + 1
        out[start + 2] = n
    elif body + 4 <= _U32_MAX and n <= _U32_MAX:
        out[start : start + 3] = _pack_BII(0xD0, body + 4, n)
    else:
        raise EncodeError(f"list of {n} elements ({body} bytes) is over the list32 limits")


def _enc_map(out: bytearray, value: Any) -> None:
    count = 2 * len(value)
    start = len(out)
    out += b"\xc1\x00\x00"
    get = _ENCODERS.get
    for key, item in value.items():
        enc = get(type(key))
        if enc is None:
            enc = _resolve(type(key))
        enc(out, key)
        enc = get(type(item))
        if enc is None:
            enc = _resolve(type(item))
        enc(out, item)
    body = len(out) - start - 3
    if body < 255 and count < 256:
        out[start + 1] = body + 1
        out[start + 2] = count
    elif body + 4 <= _U32_MAX and count <= _U32_MAX:
        out[start : start + 3] = _pack_BII(0xD1, body + 4, count)
    else:
        raise EncodeError(f"map of {count // 2} entries ({body} bytes) is over the map32 limits")


def _enc_described(out: bytearray, value: Any) -> None:
    out.append(0x00)
    _enc_descriptor(out, value.descriptor)
    inner = value.value
    enc = _ENCODERS.get(type(inner))
    if enc is None:
        enc = _resolve(type(inner))
    enc(out, inner)


def _described_list(out: bytearray, code: int, fields: Any) -> None:
    if 0 <= code < 256:
        out += _DESCRIBED_SMALL[code]
    elif 0 <= code <= _U64_MAX:
        out += _pack_BBQ(0x00, 0x80, code)
    else:
        raise EncodeError(f"descriptor code {code} does not fit a ulong")
    if not isinstance(fields, list):
        raise EncodeError(f"composite fields must be a list, got {_type_name(fields)}")
    _enc_list(out, fields)


def _enc_composite(out: bytearray, value: Any) -> None:
    _described_list(out, type(value)._amqp_code_, value._amqp_fields_())


def _enc_array(out: bytearray, value: Any) -> None:
    count, payload = _array_payload(value)
    _array_header(out, count, len(payload))
    out += payload


# --- arrays -----------------------------------------------------------------------------------


def _array_header(out: bytearray, count: int, payload_len: int) -> None:
    """array8 if size (count byte + payload) and count fit a byte, else array32."""
    if payload_len < 255 and count < 256:
        out.append(0xE0)
        out.append(payload_len + 1)
        out.append(count)
    elif payload_len + 4 <= _U32_MAX and count <= _U32_MAX:
        out += _pack_BII(0xF0, payload_len + 4, count)
    else:
        raise EncodeError(f"array of {count} elements is over the array32 limits")


def _array_payload(arr: Any) -> tuple[int, bytearray]:
    """The element constructor (with any descriptor) and the element bodies of ``arr``."""
    if not isinstance(arr, Array):
        raise EncodeError(f"an array element must be an Array, got {_type_name(arr)}")
    element_type = arr.element_type
    writer = _ARRAY_WRITERS.get(element_type)
    if writer is None:
        writer = _resolve_array_writer(element_type)
    if arr.descriptor is not None and writer is not _arr_described:
        raise EncodeError(
            f"Array({getattr(element_type, '__name__', element_type)}) cannot have a descriptor;"
            " only Array(Described, ...) takes one"
        )
    payload = bytearray()
    writer(payload, arr)
    return len(arr), payload


def _bad_element(kind: str, value: Any) -> EncodeError:
    return EncodeError(f"Array({kind}) element {value!r} ({_type_name(value)}) is not a {kind}")


def _check_ints(arr: Array, kind: str, lo: int, hi: int) -> tuple[int, int]:
    """Check every element is an int (not bool) in [lo, hi]; return (min, max)."""
    low, high = 0, 0
    for x in arr:
        if not isinstance(x, int) or isinstance(x, bool):
            raise _bad_element(kind, x)
        if not lo <= x <= hi:
            raise EncodeError(f"Array({kind}) element {int(x)} is out of range [{lo}, {hi}]")
        if x < low:
            low = x
        elif x > high:
            high = x
    return low, high


def _arr_null(out: bytearray, arr: Array) -> None:
    for x in arr:
        if x is not None:
            raise _bad_element("null", x)
    out.append(0x40)


def _arr_bool(out: bytearray, arr: Array) -> None:
    for x in arr:
        if not isinstance(x, bool):
            raise _bad_element("bool", x)
    out.append(0x56)
    out += bytes(1 if x else 0 for x in arr)


def _arr_ubyte(out: bytearray, arr: Array) -> None:
    _check_ints(arr, "UByte", 0, 255)
    out.append(0x50)
    out += bytes(arr)


def _arr_byte(out: bytearray, arr: Array) -> None:
    _check_ints(arr, "Byte", -128, 127)
    out.append(0x51)
    out += struct.pack(f">{len(arr)}b", *arr)


def _arr_ushort(out: bytearray, arr: Array) -> None:
    _check_ints(arr, "UShort", 0, 0xFFFF)
    out.append(0x60)
    out += struct.pack(f">{len(arr)}H", *arr)


def _arr_short(out: bytearray, arr: Array) -> None:
    _check_ints(arr, "Short", -0x8000, 0x7FFF)
    out.append(0x61)
    out += struct.pack(f">{len(arr)}h", *arr)


def _arr_uint(out: bytearray, arr: Array) -> None:
    _, high = _check_ints(arr, "UInt", 0, _U32_MAX)
    if high < 256:
        out.append(0x52)
        out += bytes(arr)
    else:
        out.append(0x70)
        out += struct.pack(f">{len(arr)}I", *arr)


def _arr_ulong(out: bytearray, arr: Array) -> None:
    _, high = _check_ints(arr, "ULong", 0, _U64_MAX)
    if high < 256:
        out.append(0x53)
        out += bytes(arr)
    else:
        out.append(0x80)
        out += struct.pack(f">{len(arr)}Q", *arr)


def _arr_int(out: bytearray, arr: Array) -> None:
    low, high = _check_ints(arr, "Int", -(1 << 31), (1 << 31) - 1)
    if -128 <= low and high <= 127:
        out.append(0x54)
        out += struct.pack(f">{len(arr)}b", *arr)
    else:
        out.append(0x71)
        out += struct.pack(f">{len(arr)}i", *arr)


def _arr_long(out: bytearray, arr: Array) -> None:
    low, high = _check_ints(arr, "long", _LONG_MIN, _LONG_MAX)
    if -128 <= low and high <= 127:
        out.append(0x55)
        out += struct.pack(f">{len(arr)}b", *arr)
    else:
        out.append(0x81)
        out += struct.pack(f">{len(arr)}q", *arr)


def _reals(arr: Array, kind: str) -> list[float]:
    for x in arr:
        if not isinstance(x, (int, float)) or isinstance(x, bool):
            raise _bad_element(kind, x)
    return [float(x) for x in arr]


def _arr_float(out: bytearray, arr: Array) -> None:
    values = [Float(x) for x in _reals(arr, "Float")]  # Float() refuses values beyond binary32
    out.append(0x72)
    out += struct.pack(f">{len(values)}f", *values)


def _arr_double(out: bytearray, arr: Array) -> None:
    values = _reals(arr, "float")
    out.append(0x82)
    out += struct.pack(f">{len(values)}d", *values)


def _arr_char(out: bytearray, arr: Array) -> None:
    for x in arr:
        if not isinstance(x, str):
            raise _bad_element("Char", x)
    points = [ord(Char(x)) for x in arr]  # Char() refuses anything but one scalar value
    out.append(0x73)
    out += struct.pack(f">{len(points)}I", *points)


def _arr_timestamp(out: bytearray, arr: Array) -> None:
    values = Array(
        Timestamp, [Timestamp.from_datetime(x) if isinstance(x, _dt.datetime) else x for x in arr]
    )
    _check_ints(values, "Timestamp", _LONG_MIN, _LONG_MAX)
    out.append(0x83)
    out += struct.pack(f">{len(values)}q", *values)


def _decimal_bits(arr: Array, cls: Any) -> list[int]:
    bits = []
    for x in arr:
        if isinstance(x, _decimal.Decimal):
            bits.append(int(cls.from_decimal(x)))
        elif isinstance(x, cls):
            bits.append(int(x))
        else:
            raise _bad_element(cls.__name__, x)
    return bits


def _arr_decimal32(out: bytearray, arr: Array) -> None:
    bits = _decimal_bits(arr, Decimal32)
    out.append(0x74)
    out += struct.pack(f">{len(bits)}I", *bits)


def _arr_decimal64(out: bytearray, arr: Array) -> None:
    bits = _decimal_bits(arr, Decimal64)
    out.append(0x84)
    out += struct.pack(f">{len(bits)}Q", *bits)


def _arr_decimal128(out: bytearray, arr: Array) -> None:
    bits = _decimal_bits(arr, Decimal128)
    out.append(0x94)
    for b in bits:
        out += b.to_bytes(16, "big")


def _arr_uuid(out: bytearray, arr: Array) -> None:
    for x in arr:
        if not isinstance(x, _uuid.UUID):
            raise _bad_element("UUID", x)
    out.append(0x98)
    for x in arr:
        out += x.bytes


def _arr_sized(out: bytearray, chunks: list[Any], code8: int, code32: int) -> None:
    """Variable-width elements: one-byte sizes if every chunk fits, else four-byte sizes."""
    if all(len(c) < 256 for c in chunks):
        out.append(code8)
        for c in chunks:
            out.append(len(c))
            out += c
    else:
        out.append(code32)
        for c in chunks:
            if len(c) > _U32_MAX:
                raise EncodeError(f"array element of {len(c)} bytes is over the 2**32-1 limit")
            out += _pack_I(len(c))
            out += c


def _arr_binary(out: bytearray, arr: Array) -> None:
    chunks = []
    for x in arr:
        if isinstance(x, memoryview):
            x = x.tobytes()
        elif not isinstance(x, (bytes, bytearray)):
            raise _bad_element("bytes", x)
        chunks.append(x)
    _arr_sized(out, chunks, 0xA0, 0xB0)


def _arr_str(out: bytearray, arr: Array) -> None:
    chunks = []
    for x in arr:
        if not isinstance(x, str):
            raise _bad_element("str", x)
        try:
            chunks.append(x.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise EncodeError(f"Array(str) element is not encodable as UTF-8 ({exc.reason})") from None
    _arr_sized(out, chunks, 0xA1, 0xB1)


def _arr_symbol(out: bytearray, arr: Array) -> None:
    chunks = []
    for x in arr:
        if not isinstance(x, str):
            raise _bad_element("Symbol", x)
        try:
            chunks.append(x.encode("ascii"))
        except UnicodeEncodeError:
            raise EncodeError(f"Array(Symbol) element must be ASCII, got {x!r}") from None
    _arr_sized(out, chunks, 0xA3, 0xB3)


def _arr_compound(out: bytearray, bodies: list[tuple[int, bytearray]], code8: int, code32: int) -> None:
    """List/map/array elements: (count, body) each; 8-bit headers only if all fit."""
    # The size byte counts the count byte and the body (for arrays, the element constructor
    # is part of the body), so a body of up to 254 bytes fits.
    if all(n < 256 and len(b) < 255 for n, b in bodies):
        out.append(code8)
        for n, b in bodies:
            out.append(len(b) + 1)
            out.append(n)
            out += b
    else:
        out.append(code32)
        for n, b in bodies:
            if len(b) + 4 > _U32_MAX or n > _U32_MAX:
                raise EncodeError(f"array element of {n} items is over the 32-bit limits")
            out += _pack_II(len(b) + 4, n)
            out += b


def _list_body(items: Any) -> tuple[int, bytearray]:
    body = bytearray()
    get = _ENCODERS.get
    for item in items:
        enc = get(type(item))
        if enc is None:
            enc = _resolve(type(item))
        enc(body, item)
    return len(items), body


def _arr_list(out: bytearray, arr: Array) -> None:
    bodies = []
    for x in arr:
        if not isinstance(x, (list, tuple)) or isinstance(x, Array):
            raise _bad_element("list", x)
        bodies.append(_list_body(x))
    _arr_compound(out, bodies, 0xC0, 0xD0)


def _arr_map(out: bytearray, arr: Array) -> None:
    bodies = []
    for x in arr:
        if not isinstance(x, dict):
            raise _bad_element("dict", x)
        n, body = _list_body([v for kv in x.items() for v in kv])
        bodies.append((n, body))
    _arr_compound(out, bodies, 0xC1, 0xD1)


def _arr_array(out: bytearray, arr: Array) -> None:
    _arr_compound(out, [_array_payload(x) for x in arr], 0xE0, 0xF0)


def _arr_composite(out: bytearray, arr: Array) -> None:
    cls: Any = arr.element_type
    for x in arr:
        if not isinstance(x, cls):
            raise _bad_element(cls.__name__, x)
    out.append(0x00)
    _enc_ulong(out, cls._amqp_code_)
    _arr_list(out, Array(list, [x._amqp_fields_() for x in arr]))


def _arr_described(out: bytearray, arr: Array) -> None:
    descriptor = arr.descriptor
    if descriptor is None and arr and isinstance(arr[0], Described):
        descriptor = arr[0].descriptor  # inferred from the items
    if descriptor is None:
        raise EncodeError(
            "Array(Described) needs a shared descriptor: pass descriptor=... or Described items"
        )
    values = []
    for x in arr:
        if isinstance(x, Described):
            if x.descriptor != descriptor:
                raise EncodeError(
                    f"Array(Described) elements must share the descriptor {descriptor!r}, "
                    f"got {x.descriptor!r}"
                )
            values.append(x.value)
        else:
            values.append(x)  # a bare value is the value under the shared descriptor
    out.append(0x00)
    _enc_descriptor(out, descriptor)
    if not values:
        # No value says the type; null, rather than a list constructor, so that an empty array
        # under a registered composite's descriptor still decodes as Array(Described).
        out.append(0x40)
        return
    value_type = type(values[0])
    writer = _ARRAY_WRITERS.get(value_type)
    if writer is None:
        writer = _resolve_array_writer(value_type)
    if writer is _arr_described or writer is _arr_composite:
        raise EncodeError("Array(Described) values cannot themselves be described")
    writer(out, Array(value_type, values))


# --- dispatch tables --------------------------------------------------------------------------

_ENCODERS: dict[type, _Encoder] = {
    type(None): _enc_null,
    bool: _enc_bool,
    int: _enc_long,
    Long: _enc_long,
    float: _enc_double,
    str: _enc_str,
    bytes: _enc_binary,
    bytearray: _enc_binary,
    memoryview: _enc_memoryview,
    list: _enc_list,
    tuple: _enc_list,  # encode only: decoding gives a list
    dict: _enc_map,
    _uuid.UUID: _enc_uuid,
    _dt.datetime: _enc_datetime,  # encode only: decoding gives a Timestamp
    UByte: _enc_ubyte,
    UShort: _enc_ushort,
    UInt: _enc_uint,
    ULong: _enc_ulong,
    Byte: _enc_byte,
    Short: _enc_short,
    Int: _enc_int,
    Float: _enc_float,
    Char: _enc_char,
    Timestamp: _enc_timestamp,
    Symbol: _enc_symbol,
    Decimal32: _enc_decimal32,
    Decimal64: _enc_decimal64,
    Decimal128: _enc_decimal128,
    Described: _enc_described,
    Array: _enc_array,
}

_ARRAY_WRITERS: dict[type, _ArrayWriter] = {
    type(None): _arr_null,
    bool: _arr_bool,
    UByte: _arr_ubyte,
    UShort: _arr_ushort,
    UInt: _arr_uint,
    ULong: _arr_ulong,
    Byte: _arr_byte,
    Short: _arr_short,
    Int: _arr_int,
    int: _arr_long,
    Long: _arr_long,
    Float: _arr_float,
    float: _arr_double,
    Decimal32: _arr_decimal32,
    Decimal64: _arr_decimal64,
    Decimal128: _arr_decimal128,
    Char: _arr_char,
    Timestamp: _arr_timestamp,
    _dt.datetime: _arr_timestamp,
    _uuid.UUID: _arr_uuid,
    bytes: _arr_binary,
    bytearray: _arr_binary,
    memoryview: _arr_binary,
    str: _arr_str,
    Symbol: _arr_symbol,
    list: _arr_list,
    tuple: _arr_list,
    dict: _arr_map,
    Array: _arr_array,
    Described: _arr_described,
}


def _resolve(tp: type) -> _Encoder:
    """Find (and cache) the encoder of a type not in the table: composites, then the MRO."""
    enc: _Encoder | None = None
    if getattr(tp, "_amqp_code_", None) is not None and hasattr(tp, "_amqp_fields_"):
        enc = _enc_composite
    else:
        for base in tp.__mro__[1:]:
            enc = _ENCODERS.get(base)
            if enc is not None:
                break
    if enc is None:
        raise EncodeError(
            f"cannot encode a {tp.__module__}.{tp.__qualname__} as AMQP; use a plain Python "
            "value or a wrapper from amqp10.codec.types"
        )
    _ENCODERS[tp] = enc
    return enc


def _resolve_array_writer(tp: Any) -> _ArrayWriter:
    """Find (and cache) the element writer for an ``Array.element_type`` not in the table."""
    writer: _ArrayWriter | None = None
    if isinstance(tp, type):
        if getattr(tp, "_amqp_code_", None) is not None and hasattr(tp, "_amqp_fields_"):
            writer = _arr_composite
        else:
            for base in tp.__mro__[1:]:
                writer = _ARRAY_WRITERS.get(base)
                if writer is not None:
                    break
    if writer is None:
        raise EncodeError(f"Array element_type {tp!r} is not an AMQP type")
    _ARRAY_WRITERS[tp] = writer
    return writer


# --- public entry points ----------------------------------------------------------------------


def encode_value(out: bytearray, value: Any) -> None:
    """Append the smallest AMQP encoding of ``value`` to ``out``.

    Python values map as DESIGN.md says (None, bool, int -> long, float -> double, str,
    bytes/bytearray/memoryview -> binary, uuid.UUID, datetime -> timestamp, dict -> map,
    list/tuple -> list); wrappers from ``amqp10.codec.types`` give the other types, and spec
    composites (anything with ``_amqp_code_`` and ``_amqp_fields_()``) a described list.

    Raises:
        EncodeError: naming the value's type if it is not encodable, or out of range. ``out``
            is then left exactly as it was.
    """
    start = len(out)
    try:
        enc = _ENCODERS.get(type(value))
        if enc is None:
            enc = _resolve(type(value))
        enc(out, value)
    except BaseException as exc:
        del out[start:]
        if isinstance(exc, EncodeError):
            raise
        if isinstance(exc, RecursionError):
            raise EncodeError("value nests too deeply to encode (or contains itself)") from None
        if isinstance(exc, (struct.error, OverflowError)):
            # Only a wrapper built around its range check (int.__new__) gets here.
            raise EncodeError(f"value out of range for its AMQP type: {exc}") from None
        raise


def encode_described_list(out: bytearray, code: int, fields: list[Any]) -> None:
    """Append a described list: 0x00, ``code`` as smallulong/ulong, then ``fields`` as the
    smallest list encoding (list0/list8/list32). This is how every spec composite (spec 1.4)
    and every performative goes on the wire.

    Raises:
        EncodeError: if ``code`` is not a ulong or a field is not encodable; ``out`` is then
            left exactly as it was.
    """
    start = len(out)
    try:
        _described_list(out, code, fields)
    except BaseException as exc:
        del out[start:]
        if isinstance(exc, EncodeError):
            raise
        if isinstance(exc, RecursionError):
            raise EncodeError("value nests too deeply to encode (or contains itself)") from None
        if isinstance(exc, (struct.error, OverflowError)):
            raise EncodeError(f"value out of range for its AMQP type: {exc}") from None
        raise
