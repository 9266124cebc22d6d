"""Hostile bytes: every malformed or oversized input is a DecodeError, quickly, and nothing else
(no IndexError, struct.error, UnicodeDecodeError, RecursionError, MemoryError, TypeError).

Includes, as regressions, the inputs STYLE.md found mishandled by Azure's ``_pyamqp``.
"""

from __future__ import annotations

import struct
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqp10.codec import (
    Array,
    DecodeError,
    Described,
    Limits,
    Symbol,
    UInt,
    ULong,
    decode,
    decode_prefix,
    decode_value,
    encode,
)
from support.strategies import any_value, same_value


def h(text: str) -> bytes:
    return bytes.fromhex(text)


def assert_decode_error(data: bytes, match: str | None = None, limits: Limits | None = None) -> DecodeError:
    with pytest.raises(DecodeError, match=match) as info:
        decode(data, limits)
    assert info.value.condition == "amqp:decode-error"
    return info.value


# --- the _pyamqp regressions (STYLE.md) ---------------------------------------------------------


def test_unknown_constructor_inside_a_performative_is_a_decode_error_naming_it() -> None:
    assert_decode_error(h("00 53 10 c0 03 01 01"))  # as found: also truncated
    assert_decode_error(h("00 53 10 c0 02 01 01"), "unknown constructor 0x01 at offset 6")


def test_vbin8_claiming_more_bytes_than_it_carries_is_a_decode_error() -> None:
    assert_decode_error(b"\xa0\xc8ab", "vbin8 at offset 2 declares 200 bytes but only 2 remain")


def test_empty_input_is_a_decode_error() -> None:
    assert_decode_error(b"", "no value at offset 0")
    with pytest.raises(DecodeError):
        decode_prefix(b"")


def test_str8_decodes_to_str_not_bytes() -> None:
    assert decode(h("a1 02 6869")) == "hi" and type(decode(h("a1 02 6869"))) is str


# --- truncation ---------------------------------------------------------------------------------

SAMPLES: list[Any] = [
    None,
    UInt(70000),
    "h\u00e9llo" * 60,
    [1, "two", Symbol("three"), [b"four", {"five": 5.0}]],
    {Symbol("k"): Array(Symbol, ["a", "b"]), 1: Described(ULong(0x77), [True, None])},
    Array(Array, [Array(UInt, [1, 300]), Array(str, ["x" * 300])]),
    Array(Described, [Described(Symbol("d"), [1]), Described(Symbol("d"), [])]),
    list(range(300)),
]


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_truncation_at_every_offset_is_a_decode_error(value: Any) -> None:
    data = encode(value)
    for cut in range(len(data)):
        with pytest.raises(DecodeError):
            decode(data[:cut])


@pytest.mark.parametrize("value", SAMPLES, ids=lambda v: type(v).__name__)
def test_trailing_bytes_are_a_decode_error_but_decode_prefix_stops_at_the_value(value: Any) -> None:
    data = encode(value)
    assert_decode_error(data + b"\x40", "1 trailing bytes")
    decoded, consumed = decode_prefix(data + b"\x40")
    assert consumed == len(data) and same_value(decoded, decode(data))


# --- huge declared sizes and counts: rejected before allocating, so quickly -------------------

HUGE = [
    ("vbin32", h("b0 ffffffff 0102")),
    ("str32", h("b1 ffffffff 6869")),
    ("sym32", h("b3 ffffffff 6869")),
    ("list32 size", h("d0 ffffffff ffffffff 40")),
    ("list32 count", h("d0 00000005 ffffffff 40")),
    ("map32 count", h("d1 00000006 fffffffe 40 40")),
    ("array32 count", h("f0 00000006 ffffffff 52 01")),
    ("array32 uint count", h("f0 00000009 0fffffff 70 00000001")),
    ("array8 count", h("e0 03 ff 52 01")),
    ("list8 count", h("c0 02 ff 40")),
]


@pytest.mark.parametrize("data", [d for _, d in HUGE], ids=[n for n, _ in HUGE])
def test_huge_declared_size_or_count_is_rejected_quickly_when_bytes_are_few(data: bytes) -> None:
    started = time.perf_counter()
    assert_decode_error(data)
    assert time.perf_counter() - started < 0.05


def test_sizes_over_limits_are_decode_errors_even_when_the_bytes_are_there() -> None:
    small = Limits(max_binary_size=3, max_string_size=3, max_count=4)
    assert_decode_error(encode(b"abcd"), "max_binary_size=3", small)
    assert_decode_error(encode("abcd"), "max_string_size=3", small)
    assert_decode_error(encode(Symbol("abcd")), "max_string_size=3", small)
    assert_decode_error(encode([1, 2, 3, 4, 5]), "max_count=4", small)
    assert_decode_error(encode({1: 2, 3: 4, 5: 6}), "max_count=4", small)
    assert_decode_error(encode(Array(UInt, [1, 2, 3, 4, 5])), "max_count=4", small)
    assert decode(encode([1, 2, 3, 4]), small) == [1, 2, 3, 4]


# --- depth bombs ----------------------------------------------------------------------------------


def _nested_list32(depth: int) -> bytes:
    """``depth`` list32 headers, each of one element, around a null: sizes all consistent."""
    total = 9 * depth + 1
    return b"".join(b"\xd0" + struct.pack(">II", total - 9 * i - 5, 1) for i in range(depth)) + b"\x40"


def _nested_map32(depth: int) -> bytes:
    """``depth`` map32s, each {null: <the next>}, around a null."""
    total = 10 * depth + 1
    return b"".join(
        b"\xd1" + struct.pack(">II", total - 10 * i - 5, 2) + b"\x40" for i in range(depth)
    ) + b"\x40"


def _nested_array32(depth: int) -> bytes:
    """An array32 of arrays of arrays ... ``depth`` deep, ending in an empty null array."""
    total = 1 + 9 * depth + 9
    heads = b"".join(struct.pack(">II", total - 9 * i - 5, 1) + b"\xf0" for i in range(depth))
    return b"\xf0" + heads + struct.pack(">II", 5, 0) + b"\x40"


def test_nesting_at_max_depth_decodes_and_one_more_level_is_a_decode_error() -> None:
    limits = Limits(max_depth=10)
    assert decode(_nested_list32(10), limits) is not None
    assert_decode_error(_nested_list32(11), "Limits.max_depth=10", limits)


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(_nested_list32(100_000), id="list32"),
        pytest.param(b"\x00\x53\x01" * 100_000 + b"\x40", id="described"),
        pytest.param(_nested_map32(100_000), id="map32"),
        pytest.param(_nested_array32(100_000), id="array32 of arrays"),
    ],
)
def test_depth_bomb_is_a_decode_error_with_default_limits(bomb: bytes) -> None:
    assert_decode_error(bomb, "max_depth")


@pytest.mark.parametrize(
    "bomb",
    [
        pytest.param(_nested_list32(100_000), id="list32"),
        pytest.param(b"\x00\x53\x01" * 100_000 + b"\x40", id="described"),
        pytest.param(_nested_map32(100_000), id="map32"),
        pytest.param(_nested_array32(100_000), id="array32 of arrays"),
    ],
)
def test_depth_bomb_is_a_decode_error_not_RecursionError_when_max_depth_is_huge(bomb: bytes) -> None:
    assert_decode_error(bomb, "Python stack", Limits(max_depth=10**9))


def test_nested_map_and_array_bombs_are_well_formed_below_the_limit() -> None:
    # The bomb builders make valid encodings: shallow ones decode.
    assert decode(_nested_map32(3)) == {None: {None: {None: None}}}
    assert decode(_nested_array32(2)) == Array(Array, [Array(Array, [Array(type(None), [])])])


# --- zero-width array elements ---------------------------------------------------------------------


@pytest.mark.parametrize("constructor", ["40", "41", "42", "43", "44", "45"])
def test_zero_width_array_count_over_max_count_is_a_decode_error(constructor: str) -> None:
    started = time.perf_counter()
    assert_decode_error(h("f0 00000005 ffffffff" + constructor), "max_count")
    assert time.perf_counter() - started < 0.05


def test_zero_width_elements_share_one_max_count_budget_across_the_whole_value() -> None:
    # Each array is 4 bytes claiming 600 elements: without a shared budget, a list of such
    # arrays builds 150 values per input byte.
    limits = Limits(max_count=1000)
    one = b"\xf0" + struct.pack(">II", 5, 600) + b"\x40"
    assert len(decode(one, limits)) == 600
    two = b"\xc0" + bytes([1 + 2 * len(one), 2]) + one + one
    assert_decode_error(two, "zero-width elements", limits)


# --- malformed contents ------------------------------------------------------------------------------

MALFORMED = [
    ("bad utf-8", h("a1 02 c328"), "not valid UTF-8"),
    ("utf-8 surrogate", h("a1 03 eda080"), "not valid UTF-8"),
    ("utf-8 overlong", h("a1 02 c0af"), "not valid UTF-8"),
    ("str32 bad utf-8", h("b1 00000001 ff"), "not valid UTF-8"),
    ("non-ASCII symbol", h("a3 01 80"), "not ASCII"),
    ("sym32 non-ASCII", h("b3 00000002 61c3"), "not ASCII"),
    ("odd map count", h("c1 02 01 40"), "odd element count 1"),
    ("map32 odd count", h("d1 00000005 00000001 40"), "odd element count 1"),
    ("list size beyond elements", h("c0 03 01 40 40"), "1 bytes before its size"),
    ("list elements beyond size", h("c0 02 02 40 40"), "declares 2 elements in 1 bytes"),
    ("list element overruns size", h("c0 02 01 52 07"), "truncated smalluint"),
    ("list8 size zero", h("c0 00"), None),
    ("list32 size too small", h("d0 00000002 00000000"), "too small for its count"),
    ("map size beyond elements", h("c1 04 02 40 40 40"), "1 bytes before its size"),
    ("array size beyond elements", h("e0 04 01 52 01 02"), "1 bytes before its size"),
    ("array8 size too small", h("e0 01 00"), "too small"),
    ("array elements beyond size", h("e0 03 02 52 01"), "declares 2 elements of at least 1 bytes"),
    ("boolean 2", h("56 02"), "must be 0x00 or 0x01"),
    ("char surrogate", h("73 0000d800"), "not a Unicode scalar value"),
    ("char too big", h("73 00110000"), "not a Unicode scalar value"),
    ("unhashable list key", h("c1 03 02 45 40"), "key at offset 3 is a list"),
    ("unhashable map key", h("c1 05 02 c1 01 00 40"), "is a dict"),
    ("duplicate key", h("c1 07 04 5501 40 5501 41"), "repeats a key"),
    ("python-equal keys", h("c1 07 04 5501 40 5201 41"), "repeats a key"),
    ("unknown constructor", h("01"), "unknown constructor 0x01 at offset 0"),
    ("reserved constructor", h("c0 03 01 57 00"), "unknown constructor 0x57 at offset 3"),
    ("descriptor is 0x00", h("00 00 53 01 40 40"), "must be a ulong or a symbol"),
    ("descriptor is a string", h("00 a1 0161 40"), "must be a ulong or a symbol"),
    ("descriptor is uint", h("00 52 01 40"), "must be a ulong or a symbol"),
    ("array element constructor 0x00 twice", h("e0 06 01 00 53 01 00 40"), "not an element constructor"),
    ("array element constructor unknown", h("e0 02 00 01"), "0x01 is not an element constructor"),
    ("described with nothing after descriptor", h("00 53 01"), "truncated described value"),
]


@pytest.mark.parametrize(("data", "match"), [(d, m) for _, d, m in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_malformed_bytes_are_a_decode_error_saying_what_and_where(data: bytes, match: str | None) -> None:
    assert_decode_error(data, match)


def test_decode_value_rejects_an_offset_outside_the_buffer() -> None:
    buf = memoryview(b"\x40")
    for pos in (-1, 1, 5):
        with pytest.raises(DecodeError, match=f"no value at offset {pos}"):
            decode_value(buf, pos, Limits())


# --- arbitrary bytes ------------------------------------------------------------------------------


def _check(data: bytes) -> None:
    try:
        value, consumed = decode_prefix(data)
    except DecodeError:
        return
    assert 0 < consumed <= len(data)
    # Whatever decodes re-encodes to something that decodes to the same value.
    assert same_value(decode(encode(value)), value)


@settings(max_examples=1500)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_decode_to_a_value_or_a_decode_error(data: bytes) -> None:
    _check(data)


@settings(max_examples=500)
@given(any_value(max_depth=2), st.data())
def test_mutated_valid_encodings_decode_to_a_value_or_a_decode_error(value: Any, data: st.DataObject) -> None:
    encoded = bytearray(encode(value))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(encoded) - 1))
        encoded[i] = data.draw(st.integers(0, 255))
    _check(bytes(encoded))
