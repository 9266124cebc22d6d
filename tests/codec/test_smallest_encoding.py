"""The encoder picks the smallest encoding at every boundary, byte for byte (spec 1.6)."""

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
    Long,
    Short,
    Symbol,
    Timestamp,
    UByte,
    UInt,
    ULong,
    UShort,
    decode,
    encode,
    encode_described_list,
)


def h(text: str) -> bytes:
    return bytes.fromhex(text)


CASES: list[tuple[str, Any, bytes]] = [
    ("null", None, h("40")),
    ("true", True, h("41")),
    ("false", False, h("42")),
    # uint: uint0 / smalluint / uint
    ("uint 0", UInt(0), h("43")),
    ("uint 1", UInt(1), h("5201")),
    ("uint 255", UInt(255), h("52ff")),
    ("uint 256", UInt(256), h("7000000100")),
    ("uint max", UInt(2**32 - 1), h("70ffffffff")),
    # ulong: ulong0 / smallulong / ulong
    ("ulong 0", ULong(0), h("44")),
    ("ulong 255", ULong(255), h("53ff")),
    ("ulong 256", ULong(256), h("80 0000000000000100")),
    ("ulong max", ULong(2**64 - 1), h("80 ffffffffffffffff")),
    # fixed one-width types
    ("ubyte 0", UByte(0), h("5000")),
    ("ubyte 255", UByte(255), h("50ff")),
    ("ushort 0", UShort(0), h("600000")),
    ("ushort max", UShort(65535), h("60ffff")),
    ("byte -128", Byte(-128), h("5180")),
    ("byte 127", Byte(127), h("517f")),
    ("short -32768", Short(-32768), h("618000")),
    ("short 32767", Short(32767), h("617fff")),
    # int: smallint / int
    ("int -128", Int(-128), h("5480")),
    ("int 127", Int(127), h("547f")),
    ("int 128", Int(128), h("7100000080")),
    ("int -129", Int(-129), h("71ffffff7f")),
    ("int min", Int(-(2**31)), h("7180000000")),
    # long (plain int and Long): smalllong / long
    ("long 0", 0, h("5500")),
    ("long -128", -128, h("5580")),
    ("long 127", 127, h("557f")),
    ("long 128", 128, h("81 0000000000000080")),
    ("long -129", -129, h("81 ffffffffffffff7f")),
    ("long max", 2**63 - 1, h("81 7fffffffffffffff")),
    ("long min", -(2**63), h("81 8000000000000000")),
    ("Long wrapper", Long(5), h("5505")),
    # floating point, decimals, char, timestamp, uuid
    ("double", 1.0, h("82 3ff0000000000000")),
    ("float", Float(1.0), h("72 3f800000")),
    ("decimal32", Decimal32(0x32800001), h("74 32800001")),
    ("decimal64", Decimal64(0x31C0000000000001), h("84 31c0000000000001")),
    ("decimal128", Decimal128(1 << 127 | 5), h("94 80000000000000000000000000000005")),
    ("char", Char("a"), h("73 00000061")),
    ("char astral", Char("\U0001f600"), h("73 0001f600")),
    ("timestamp 0", Timestamp(0), h("83 0000000000000000")),
    ("timestamp -1", Timestamp(-1), h("83 ffffffffffffffff")),
    ("uuid", uuid.UUID(int=1), h("98 00000000000000000000000000000001")),
    # variable: 8-bit size up to 255 bytes, then 32-bit
    ("str empty", "", h("a100")),
    ("str utf8", "\u00e9", h("a102c3a9")),
    ("str 255", "a" * 255, h("a1ff") + b"a" * 255),
    ("str 256", "a" * 256, h("b100000100") + b"a" * 256),
    ("binary empty", b"", h("a000")),
    ("binary 255", b"x" * 255, h("a0ff") + b"x" * 255),
    ("binary 256", b"x" * 256, h("b000000100") + b"x" * 256),
    ("symbol empty", Symbol(""), h("a300")),
    ("symbol 255", Symbol("s" * 255), h("a3ff") + b"s" * 255),
    ("symbol 256", Symbol("s" * 256), h("b300000100") + b"s" * 256),
    # list: list0 / list8 (size <= 255 and count <= 255) / list32
    ("list empty", [], h("45")),
    ("list one null", [None], h("c0 02 01 40")),
    ("list body 254", [b"x" * 252], h("c0 ff 01 a0fc") + b"x" * 252),
    ("list body 255", [b"x" * 253], h("d0 00000103 00000001 a0fd") + b"x" * 253),
    ("list 254 nulls", [None] * 254, h("c0 ff fe") + b"\x40" * 254),
    ("list 255 nulls", [None] * 255, h("d0 00000103 000000ff") + b"\x40" * 255),
    ("list of lists", [[], [None]], h("c0 06 02 45 c0020140")),
    # map: map8 / map32 (count is keys plus values)
    ("map empty", {}, h("c1 01 00")),
    ("map one", {None: True}, h("c1 03 02 40 41")),
    ("map ordered", {Symbol("b"): 1, "a": 2}, h("c1 0b 04 a30162 5501 a10161 5502")),
    # described: descriptor as smallulong / ulong0 / ulong / symbol
    ("described small", Described(ULong(0x77), "x"), h("00 53 77 a10178")),
    ("described ulong0", Described(ULong(0), None), h("00 44 40")),
    ("described big", Described(ULong(0x137_00000001), []), h("00 80 0000013700000001 45")),
    ("described symbol", Described(Symbol("a:b"), None), h("00 a3 03 613a62 40")),
    # arrays: the smallest element constructor that fits every element, never zero-width
    ("array uint empty", Array(UInt, []), h("e0 02 00 52")),
    ("array uint small", Array(UInt, [0, 1, 255]), h("e0 05 03 52 00 01 ff")),
    ("array uint big", Array(UInt, [1, 256]), h("e0 0a 02 70 00000001 00000100")),
    ("array ulong zeros", Array(ULong, [0, 0]), h("e0 04 02 53 00 00")),
    ("array ulong big", Array(ULong, [2**64 - 1]), h("e0 0a 01 80 ffffffffffffffff")),
    ("array long small", Array(int, [-128, 127]), h("e0 04 02 55 80 7f")),
    ("array long big", Array(int, [128]), h("e0 0a 01 81 0000000000000080")),
    ("array Long wrapper", Array(Long, [1]), h("e0 03 01 55 01")),
    ("array int small", Array(Int, [-1]), h("e0 03 01 54 ff")),
    ("array int big", Array(Int, [-1, 1000]), h("e0 0a 02 71 ffffffff 000003e8")),
    ("array bool", Array(bool, [True, True, False]), h("e0 05 03 56 01 01 00")),
    ("array null", Array(type(None), [None, None]), h("e0 02 02 40")),
    ("array ubyte", Array(UByte, [1, 2]), h("e0 04 02 50 01 02")),
    ("array ushort", Array(UShort, [1]), h("e0 04 01 60 0001")),
    ("array byte", Array(Byte, [-1]), h("e0 03 01 51 ff")),
    ("array short", Array(Short, [-2]), h("e0 04 01 61 fffe")),
    ("array float", Array(Float, [1.0]), h("e0 06 01 72 3f800000")),
    ("array double", Array(float, [1.0]), h("e0 0a 01 82 3ff0000000000000")),
    ("array char", Array(Char, ["a"]), h("e0 06 01 73 00000061")),
    ("array timestamp", Array(Timestamp, [1]), h("e0 0a 01 83 0000000000000001")),
    ("array uuid", Array(uuid.UUID, [uuid.UUID(int=2)]), h("e0 12 01 98 00000000000000000000000000000002")),
    ("array decimal32", Array(Decimal32, [Decimal32(7)]), h("e0 06 01 74 00000007")),
    ("array symbol", Array(Symbol, ["a", "bc"]), h("e0 07 02 a3 0161 026263")),
    ("array symbol 32", Array(Symbol, ["s" * 256]), h("f0 00000109 00000001 b3 00000100") + b"s" * 256),
    ("array str", Array(str, ["x"]), h("e0 04 01 a1 0178")),
    ("array binary", Array(bytes, [b"", b"\x00"]), h("e0 05 02 a0 00 0100")),
    ("array list", Array(list, [[], [None]]), h("e0 07 02 c0 0100 020140")),
    ("array map", Array(dict, [{}]), h("e0 04 01 c1 0100")),
    (
        "array of arrays",
        Array(Array, [Array(UInt, [1]), Array(Symbol, [])]),
        h("e0 09 02 e0 03015201 0200a3"),
    ),
    (
        "array described",
        Array(Described, [Described(ULong(1), "x")], descriptor=ULong(1)),
        h("e0 07 01 00 53 01 a1 0178"),
    ),
    (
        "array described inferred",
        Array(Described, [Described(Symbol("d"), 1), Described(Symbol("d"), 2)]),
        h("e0 08 02 00 a3 0164 55 01 02"),
    ),
    (
        "array described empty",
        Array(Described, [], descriptor=ULong(9)),
        h("e0 05 00 00 53 09 40"),
    ),
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [pytest.param(v, b, id=name) for name, v, b in CASES],
)
def test_encode_writes_the_smallest_encoding_when_value_is_at_a_boundary(
    value: Any, expected: bytes
) -> None:
    assert encode(value).hex(" ") == expected.hex(" ")
    # And the bytes decode back to an equal value (types are checked in test_roundtrip), except
    # Array(Long): long arrays decode as Array(int), the canonical form.
    if not (isinstance(value, Array) and value.element_type is Long):
        assert decode(expected) == value


def test_map_switches_to_map32_when_the_body_passes_254_bytes() -> None:
    # UByte keys take 2 bytes and null values 1, so n entries make a 3n-byte body.
    fits = {UByte(i): None for i in range(84)}  # body 252: map8 with size 253, count 168
    assert encode(fits)[:3] == h("c1 fd a8")
    over = {UByte(i): None for i in range(85)}  # body 255: too big for a one-byte size
    assert encode(over)[:9] == h("d1 00000103 000000aa")
    assert decode(encode(over)) == over


def test_array_switches_to_array32_at_256_elements_or_255_body_bytes() -> None:
    assert encode(Array(UByte, [0] * 253))[:3] == h("e0 ff fd")  # size = count + ctor + 253
    assert encode(Array(UByte, [0] * 254))[:5] == h("f0 00000103")
    assert encode(Array(type(None), [None] * 255))[:3] == h("e0 02 ff")
    assert encode(Array(type(None), [None] * 256))[:9] == h("f0 00000005 00000100")


def test_encode_described_list_writes_smallulong_descriptor_and_smallest_list() -> None:
    out = bytearray(b"prefix")
    encode_described_list(out, 0x10, [])
    encode_described_list(out, 0x11, [UInt(1), None])
    encode_described_list(out, 0x1_00000001, [True])
    assert bytes(out) == b"prefix" + h("005310 45") + h("005311 c0 04 02 5201 40") + h(
        "0080 0000000100000001 c0 02 01 41"
    )
