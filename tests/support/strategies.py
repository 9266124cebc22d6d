"""Hypothesis strategies for AMQP 1.0 values, one per type, plus ``any_value()``.

Every strategy produces values in the *canonical* Python form, the one the decoder returns
(plain ``int`` for long, ``float`` for double, ``Timestamp`` rather than ``datetime``, ``list``
rather than ``tuple``, ``bytes`` rather than ``bytearray``), so ``decode(encode(v))`` must be
``same_value`` as ``v``. Described values use descriptors that no spec composite registers, so
they come back as ``Described`` rather than as a spec class.

``same_value(a, b)`` is the comparison to use: ``==`` alone would call ``UInt(1)`` equal to
``1`` and ``NaN`` unequal to itself.

Reused by the Message and Cython engineers' tests (``from support.strategies import ...``).
"""

from __future__ import annotations

import math
import string
import uuid
from typing import Any, Callable

from hypothesis import strategies as st

from amqp10.codec import (
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
from amqp10.codec.composite import BY_CODE, BY_NAME

__all__ = [
    "null_values",
    "boolean_values",
    "ubyte_values",
    "ushort_values",
    "uint_values",
    "ulong_values",
    "byte_values",
    "short_values",
    "int_values",
    "long_values",
    "float_values",
    "double_values",
    "decimal32_values",
    "decimal64_values",
    "decimal128_values",
    "char_values",
    "timestamp_values",
    "uuid_values",
    "binary_values",
    "string_values",
    "symbol_values",
    "descriptors",
    "list_values",
    "map_values",
    "array_values",
    "described_values",
    "scalar_values",
    "hashable_values",
    "any_value",
    "SCALAR_STRATEGIES",
    "same_value",
]

S = st.SearchStrategy


def _bounded(cls: Callable[[int], Any], lo: int, hi: int) -> S[Any]:
    # Hypothesis already favours small values; add the edges of the range explicitly.
    edges = st.sampled_from([lo, hi, 0 if lo <= 0 <= hi else lo, min(hi, 255), min(hi, 256)])
    return st.one_of(edges, st.integers(lo, hi)).map(cls)


def null_values() -> S[None]:
    """AMQP null: ``None``."""
    return st.none()


def boolean_values() -> S[bool]:
    """AMQP boolean: ``bool``."""
    return st.booleans()


def ubyte_values() -> S[UByte]:
    """AMQP ubyte: ``UByte``."""
    return _bounded(UByte, 0, 2**8 - 1)


def ushort_values() -> S[UShort]:
    """AMQP ushort: ``UShort``."""
    return _bounded(UShort, 0, 2**16 - 1)


def uint_values() -> S[UInt]:
    """AMQP uint: ``UInt`` (covers uint0, smalluint and uint)."""
    return _bounded(UInt, 0, 2**32 - 1)


def ulong_values() -> S[ULong]:
    """AMQP ulong: ``ULong`` (covers ulong0, smallulong and ulong)."""
    return _bounded(ULong, 0, 2**64 - 1)


def byte_values() -> S[Byte]:
    """AMQP byte: ``Byte``."""
    return _bounded(Byte, -(2**7), 2**7 - 1)


def short_values() -> S[Short]:
    """AMQP short: ``Short``."""
    return _bounded(Short, -(2**15), 2**15 - 1)


def int_values() -> S[Int]:
    """AMQP int: ``Int`` (covers smallint and int)."""
    return _bounded(Int, -(2**31), 2**31 - 1)


def long_values() -> S[int]:
    """AMQP long: plain ``int`` (covers smalllong and long)."""
    return _bounded(int, -(2**63), 2**63 - 1)


def float_values(allow_nan: bool = True) -> S[Float]:
    """AMQP float: ``Float`` (binary32)."""
    return st.floats(width=32, allow_nan=allow_nan).map(Float)


def double_values(allow_nan: bool = True) -> S[float]:
    """AMQP double: plain ``float``."""
    return st.floats(allow_nan=allow_nan)


def decimal32_values() -> S[Decimal32]:
    """AMQP decimal32: raw bits as ``Decimal32``."""
    return st.integers(0, 2**32 - 1).map(Decimal32)


def decimal64_values() -> S[Decimal64]:
    """AMQP decimal64: raw bits as ``Decimal64``."""
    return st.integers(0, 2**64 - 1).map(Decimal64)


def decimal128_values() -> S[Decimal128]:
    """AMQP decimal128: raw bits as ``Decimal128``."""
    return st.integers(0, 2**128 - 1).map(Decimal128)


def char_values() -> S[Char]:
    """AMQP char: ``Char``, any Unicode scalar value."""
    return st.characters(exclude_categories=["Cs"]).map(Char)


def timestamp_values() -> S[Timestamp]:
    """AMQP timestamp: ``Timestamp`` (ms since the epoch, signed 64-bit)."""
    return _bounded(Timestamp, -(2**63), 2**63 - 1)


def uuid_values() -> S[uuid.UUID]:
    """AMQP uuid: ``uuid.UUID``."""
    return st.uuids()


def binary_values(max_size: int = 300) -> S[bytes]:
    """AMQP binary: ``bytes`` (sizes either side of the vbin8/vbin32 boundary)."""
    return st.one_of(st.binary(max_size=20), st.binary(min_size=250, max_size=max_size))


def string_values(max_size: int = 300) -> S[str]:
    """AMQP string: ``str`` of Unicode scalar values (either side of str8/str32)."""
    return st.one_of(
        st.text(max_size=20), st.text(alphabet="ab\u00e9", min_size=250, max_size=max_size)
    )


def symbol_values(max_size: int = 300) -> S[Symbol]:
    """AMQP symbol: ``Symbol`` of ASCII characters (either side of sym8/sym32)."""
    ascii_ = "".join(chr(i) for i in range(128))
    return st.one_of(
        st.text(alphabet=string.ascii_letters + ":-._", max_size=20),
        st.text(alphabet=ascii_, max_size=20),
        st.text(alphabet="xy", min_size=250, max_size=max_size),
    ).map(Symbol)


def descriptors() -> S[Any]:
    """Descriptors no spec composite registers: ``ULong`` codes and ``Symbol`` names."""
    codes = st.one_of(
        st.integers(0, 255), st.integers(0, 2**64 - 1), st.just(0)
    ).filter(lambda c: c not in BY_CODE)
    names = st.text(alphabet=string.ascii_lowercase + ":-", min_size=1, max_size=20).filter(
        lambda n: n not in BY_NAME
    )
    return st.one_of(codes.map(ULong), names.map(Symbol))


#: AMQP type name (as in types.bare.xml) -> strategy for its scalar values.
SCALAR_STRATEGIES: dict[str, Callable[[], S[Any]]] = {
    "null": null_values,
    "boolean": boolean_values,
    "ubyte": ubyte_values,
    "ushort": ushort_values,
    "uint": uint_values,
    "ulong": ulong_values,
    "byte": byte_values,
    "short": short_values,
    "int": int_values,
    "long": long_values,
    "float": float_values,
    "double": double_values,
    "decimal32": decimal32_values,
    "decimal64": decimal64_values,
    "decimal128": decimal128_values,
    "char": char_values,
    "timestamp": timestamp_values,
    "uuid": uuid_values,
    "binary": binary_values,
    "string": string_values,
    "symbol": symbol_values,
}

#: Array element type -> strategy for one element, for the scalar element types.
_ELEMENTS: dict[type, Callable[[], S[Any]]] = {
    type(None): null_values,
    bool: boolean_values,
    UByte: ubyte_values,
    UShort: ushort_values,
    UInt: uint_values,
    ULong: ulong_values,
    Byte: byte_values,
    Short: short_values,
    Int: int_values,
    int: long_values,
    Float: float_values,
    float: double_values,
    Decimal32: decimal32_values,
    Decimal64: decimal64_values,
    Decimal128: decimal128_values,
    Char: char_values,
    Timestamp: timestamp_values,
    uuid.UUID: uuid_values,
    bytes: binary_values,
    str: string_values,
    Symbol: symbol_values,
}


def scalar_values() -> S[Any]:
    """Any value of a non-compound AMQP type."""
    return st.one_of(*(make() for make in SCALAR_STRATEGIES.values()))


def hashable_values() -> S[Any]:
    """Scalars usable as map keys (no NaN: a NaN key cannot be looked up again)."""
    return st.one_of(
        *(make() for name, make in SCALAR_STRATEGIES.items() if name not in ("float", "double")),
        float_values(allow_nan=False),
        double_values(allow_nan=False),
    )


def list_values(children: S[Any], max_size: int = 5) -> S[list[Any]]:
    """AMQP list: ``list`` of ``children``."""
    return st.lists(children, max_size=max_size)


def map_values(children: S[Any], max_size: int = 5) -> S[dict[Any, Any]]:
    """AMQP map: ``dict`` from hashable scalars to ``children``."""
    return st.dictionaries(hashable_values(), children, max_size=max_size)


def described_values(children: S[Any]) -> S[Described]:
    """A described value with an unregistered descriptor (decodes as ``Described``)."""
    return st.builds(Described, descriptors(), children)


@st.composite
def _arrays(draw: st.DrawFn, children: S[Any] | None, max_size: int) -> Array:
    kinds: list[Any] = list(_ELEMENTS)
    if children is not None:
        kinds += [list, dict, Array, Described]
    kind = draw(st.sampled_from(kinds))
    if kind in _ELEMENTS:
        return Array(kind, draw(st.lists(_ELEMENTS[kind](), max_size=max_size)))
    assert children is not None
    if kind is list:
        return Array(list, draw(st.lists(list_values(children, 3), max_size=max_size)))
    if kind is dict:
        return Array(dict, draw(st.lists(map_values(children, 3), max_size=max_size)))
    if kind is Array:
        return Array(Array, draw(st.lists(_arrays(children, 3), max_size=max_size)))
    # Described: one descriptor, values all of one (scalar or list) type.
    descriptor = draw(descriptors())
    value_kind = draw(st.sampled_from([*_ELEMENTS, list]))
    values = _ELEMENTS[value_kind]() if value_kind in _ELEMENTS else list_values(children, 3)
    items = draw(st.lists(values, min_size=1, max_size=max_size))
    return Array(Described, [Described(descriptor, v) for v in items], descriptor)


def array_values(children: S[Any] | None = None, max_size: int = 5) -> S[Array]:
    """AMQP array: ``Array`` of one element type; with ``children``, also arrays of lists,
    maps, arrays and described values built from them."""
    return _arrays(children, max_size)


def any_value(max_depth: int = 3, max_size: int = 4) -> S[Any]:
    """Any AMQP value, nesting lists, maps, arrays and described values ``max_depth`` deep,
    each holding at most ``max_size`` elements."""
    if max_depth <= 0:
        return st.one_of(scalar_values(), array_values(None, max_size))
    inner = any_value(max_depth - 1, max_size)
    return st.one_of(
        scalar_values(),
        list_values(inner, max_size),
        map_values(inner, max_size),
        array_values(inner, max_size),
        described_values(inner),
    )


def same_value(a: Any, b: Any) -> bool:
    """True if ``a`` and ``b`` are the same AMQP value: same Python types all the way down,
    equal contents, NaN equal to NaN, arrays with the same element type and descriptor."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, Array):
        return (
            a.element_type is b.element_type
            and same_value(a.descriptor, b.descriptor)
            and len(a) == len(b)
            and all(same_value(x, y) for x, y in zip(a, b))
        )
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        # Same order too: the encoding keeps insertion order, so a round trip must.
        return all(
            same_value(ka, kb) and same_value(va, vb)
            for (ka, va), (kb, vb) in zip(a.items(), b.items())
        )
    if isinstance(a, Described):
        return same_value(a.descriptor, b.descriptor) and same_value(a.value, b.value)
    return bool(a == b)
