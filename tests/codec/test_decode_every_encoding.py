"""Hand-made bytes for every format code, including the encodings our encoder never picks
(uint for 1, str32 for "hi", list32 for one element, ...), decode to the right value and type."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

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
    decode,
)
from amqp10.codec.formats import FormatCode as F
from support.strategies import same_value


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def arr(element_type: Any, *items: Any) -> Array:
    """An Array as the decoder returns it: wrapper-typed items for wrapper element types."""
    wrap = element_type.__module__ == "amqp10.codec.types" and element_type not in (Array, Described)
    return Array(element_type, [element_type(x) if wrap else x for x in items])


# (format code exercised, bytes, expected value). Several rows may exercise the same code.
CASES: list[tuple[F, bytes, Any]] = [
    (F.NULL, h("40"), None),
    (F.TRUE, h("41"), True),
    (F.FALSE, h("42"), False),
    (F.BOOLEAN, h("56 01"), True),
    (F.BOOLEAN, h("56 00"), False),
    (F.UINT0, h("43"), UInt(0)),
    (F.SMALLUINT, h("52 00"), UInt(0)),
    (F.SMALLUINT, h("52 ff"), UInt(255)),
    (F.UINT, h("70 00000001"), UInt(1)),
    (F.UINT, h("70 ffffffff"), UInt(2**32 - 1)),
    (F.ULONG0, h("44"), ULong(0)),
    (F.SMALLULONG, h("53 07"), ULong(7)),
    (F.ULONG, h("80 0000000000000007"), ULong(7)),
    (F.ULONG, h("80 ffffffffffffffff"), ULong(2**64 - 1)),
    (F.UBYTE, h("50 ff"), UByte(255)),
    (F.USHORT, h("60 ffff"), UShort(65535)),
    (F.BYTE, h("51 80"), Byte(-128)),
    (F.SHORT, h("61 8000"), Short(-32768)),
    (F.SMALLINT, h("54 ff"), Int(-1)),
    (F.INT, h("71 ffffffff"), Int(-1)),
    (F.INT, h("71 00000005"), Int(5)),
    (F.SMALLLONG, h("55 80"), -128),
    (F.LONG, h("81 0000000000000005"), 5),
    (F.LONG, h("81 8000000000000000"), -(2**63)),
    (F.FLOAT, h("72 3fc00000"), Float(1.5)),
    (F.DOUBLE, h("82 bff8000000000000"), -1.5),
    (F.DECIMAL32, h("74 32800001"), Decimal32(0x32800001)),
    (F.DECIMAL64, h("84 31c0000000000001"), Decimal64(0x31C0000000000001)),
    (F.DECIMAL128, h("94 30400000000000000000000000000001"), Decimal128(0x3040 << 112 | 1)),
    (F.CHAR, h("73 000000e9"), Char("\u00e9")),
    (F.CHAR, h("73 0010ffff"), Char("\U0010ffff")),
    (F.TIMESTAMP, h("83 0000018bcfe56800"), Timestamp(1700000000000)),
    (F.TIMESTAMP, h("83 ffffffffffffff38"), Timestamp(-200)),
    (F.UUID, h("98 000102030405060708090a0b0c0d0e0f"), uuid.UUID(bytes=bytes(range(16)))),
    (F.VBIN8, h("a0 03 000102"), b"\x00\x01\x02"),
    (F.VBIN32, h("b0 00000002 6869"), b"hi"),
    (F.STR8, h("a1 02 6869"), "hi"),
    (F.STR32, h("b1 00000002 6869"), "hi"),
    (F.STR32, h("b1 00000004 f09f9880"), "\U0001f600"),
    (F.SYM8, h("a3 02 6869"), Symbol("hi")),
    (F.SYM32, h("b3 00000002 6869"), Symbol("hi")),
    (F.LIST0, h("45"), []),
    (F.LIST8, h("c0 01 00"), []),
    (F.LIST8, h("c0 04 02 40 5201"), [None, UInt(1)]),
    (F.LIST32, h("d0 00000004 00000000"), []),
    (F.LIST32, h("d0 00000006 00000002 40 41"), [None, True]),
    (F.MAP8, h("c1 01 00"), {}),
    (F.MAP8, h("c1 06 02 a30161 5501"), {Symbol("a"): 1}),
    (F.MAP32, h("d1 00000004 00000000"), {}),
    (F.MAP32, h("d1 00000009 00000002 a10161 5501"), {"a": 1}),
    (F.ARRAY8, h("e0 04 02 52 01 02"), arr(UInt, 1, 2)),
    (F.ARRAY32, h("f0 0000000d 00000002 70 00000001 00000002"), arr(UInt, 1, 2)),
    (F.ARRAY32, h("f0 00000005 00000000 a3"), Array(Symbol, [])),
    (F.DESCRIBED, h("00 53 33 a1 01 78"), Described(ULong(0x33), "x")),
    (F.DESCRIBED, h("00 44 40"), Described(ULong(0), None)),
    (F.DESCRIBED, h("00 80 00000000000000fe 45"), Described(ULong(0xFE), [])),
    (F.DESCRIBED, h("00 a3 03 783a79 41"), Described(Symbol("x:y"), True)),
    (F.DESCRIBED, h("00 b3 00000003 783a79 41"), Described(Symbol("x:y"), True)),
    # a described value whose value is itself described (1.2: constructors nest)
    (F.DESCRIBED, h("00 a3 0161 00 a3 0162 40"), Described(Symbol("a"), Described(Symbol("b"), None))),
]

# Arrays with every kind of element constructor, including those our encoder never picks.
ARRAYS: list[tuple[str, bytes, Array]] = [
    ("null", h("e0 02 03 40"), Array(type(None), [None] * 3)),
    ("true", h("e0 02 02 41"), Array(bool, [True, True])),
    ("false", h("e0 02 01 42"), Array(bool, [False])),
    ("boolean", h("e0 04 02 56 01 00"), Array(bool, [True, False])),
    ("uint0", h("e0 02 02 43"), arr(UInt, 0, 0)),
    ("uint", h("e0 06 01 70 00000009"), arr(UInt, 9)),
    ("ulong0", h("e0 02 02 44"), arr(ULong, 0, 0)),
    ("smallulong", h("e0 03 01 53 09"), arr(ULong, 9)),
    ("list0", h("e0 02 02 45"), Array(list, [[], []])),
    ("list8", h("e0 06 02 c0 0100 0100"), Array(list, [[], []])),
    ("list32", h("f0 00000015 00000002 d0 00000004 00000000 00000004 00000000"), Array(list, [[], []])),
    ("map8", h("e0 06 01 c1 03 02 40 41"), Array(dict, [{None: True}])),
    ("map32", h("e0 0a 01 d1 00000004 00000000"), Array(dict, [{}])),
    ("str32", h("e0 09 01 b1 00000003 616263"), Array(str, ["abc"])),
    ("vbin8", h("e0 05 02 a0 00 0100"), Array(bytes, [b"", b"\x00"])),
    ("sym8", h("e0 06 02 a3 0161 0162"), arr(Symbol, "a", "b")),
    ("smalllong", h("e0 03 01 55 ff"), Array(int, [-1])),
    ("long", h("e0 0a 01 81 ffffffffffffffff"), Array(int, [-1])),
    ("smallint", h("e0 03 01 54 ff"), arr(Int, -1)),
    ("decimal128", h("e0 12 01 94 30400000000000000000000000000001"), Array(Decimal128, [Decimal128(0x3040 << 112 | 1)])),
    ("decimal64", h("e0 0a 01 84 31c0000000000001"), Array(Decimal64, [Decimal64(0x31C0000000000001)])),
    ("array of arrays", h("e0 09 02 e0 03 01 52 05 02 00 40"), Array(Array, [arr(UInt, 5), Array(type(None), [])])),
    ("array of array32", h("e0 0c 01 f0 00000006 00000001 52 05"), Array(Array, [arr(UInt, 5)])),
    ("described values", h("e0 08 02 00 a3 0164 55 01 02"), Array(Described, [Described(Symbol("d"), 1), Described(Symbol("d"), 2)])),
    ("described zero-width", h("e0 05 02 00 53 07 40"), Array(Described, [Described(ULong(7), None)] * 2)),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(b, v, id=f"{c.name}:{b.hex()}") for c, b, v in CASES])
def test_decode_gives_the_value_and_type_when_bytes_use_a_given_encoding(data: bytes, expected: Any) -> None:
    value = decode(data)
    assert same_value(value, expected), (value, expected)


@pytest.mark.parametrize(("data", "expected"), [pytest.param(b, v, id=name) for name, b, v in ARRAYS])
def test_decode_reads_array_elements_with_the_one_element_constructor(data: bytes, expected: Array) -> None:
    value = decode(data)
    assert same_value(value, expected), (value, expected)


def test_every_format_code_has_a_decode_case() -> None:
    assert {c for c, _, _ in CASES} == set(F)


def test_zero_width_list0_array_elements_are_distinct_lists() -> None:
    value = decode(h("e0 02 02 45"))
    value[0].append(1)
    assert value[1] == []
