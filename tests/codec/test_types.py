"""The wrapper types: ranges checked at construction, exact decimal conversions, timestamps."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqp10.codec import (
    Array,
    Byte,
    Char,
    Decimal32,
    Decimal64,
    Decimal128,
    Described,
    EncodeError,
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

RANGES: list[tuple[type, int, int]] = [
    (UByte, 0, 2**8 - 1),
    (UShort, 0, 2**16 - 1),
    (UInt, 0, 2**32 - 1),
    (ULong, 0, 2**64 - 1),
    (Byte, -(2**7), 2**7 - 1),
    (Short, -(2**15), 2**15 - 1),
    (Int, -(2**31), 2**31 - 1),
    (Long, -(2**63), 2**63 - 1),
    (Timestamp, -(2**63), 2**63 - 1),
]


@pytest.mark.parametrize(("cls", "lo", "hi"), RANGES, ids=[c.__name__ for c, _, _ in RANGES])
def test_integer_wrapper_accepts_its_range_and_refuses_one_beyond(cls: Any, lo: int, hi: int) -> None:
    assert cls(lo) == lo and cls(hi) == hi
    assert type(cls(lo)) is cls and isinstance(cls(hi), int)
    for outside in (lo - 1, hi + 1):
        with pytest.raises(EncodeError, match=cls.__name__):
            cls(outside)


def test_integer_wrappers_behave_as_ints_and_repr_their_type() -> None:
    assert UInt(3) + 4 == 7
    assert repr(UInt(3)) == "UInt(3)"
    assert hash(ULong(5)) == hash(5)


def test_Float_rounds_to_binary32_at_construction() -> None:
    assert Float(0.1) != 0.1
    assert Float(0.1) == 0.10000000149011612
    assert math.isinf(Float(float("inf")))
    with pytest.raises(EncodeError, match="binary32"):
        Float(1e39)


def test_Symbol_must_be_ascii() -> None:
    assert Symbol("amqp:accepted:list") == "amqp:accepted:list"
    with pytest.raises(EncodeError, match="ASCII"):
        Symbol("caf\u00e9")


def test_Char_must_be_one_scalar_value() -> None:
    assert Char("\U0001f600") == "\U0001f600"
    for bad in ("", "ab", "\ud800"):
        with pytest.raises(EncodeError, match="Char"):
            Char(bad)


# --- decimals (IEEE 754-2008 BID bits) ------------------------------------------------------------

KNOWN_BITS: list[tuple[type, str, int]] = [
    (Decimal32, "1", 0x32800001),
    (Decimal32, "-1", 0xB2800001),
    (Decimal32, "9999999", 0x6CB8967F),  # coefficient > 2**23: the "11" form
    (Decimal32, "0.5", 0x32000005),
    (Decimal64, "1", 0x31C0000000000001),
    (Decimal64, "-7.25", 0xB180000000000000 | 725),
    (Decimal128, "1", 0x3040 << 112 | 1),
    (Decimal128, "1E+10", 0x3054 << 112 | 1),
]


@pytest.mark.parametrize(("cls", "text", "bits"), KNOWN_BITS, ids=[f"{c.__name__}:{t}" for c, t, _ in KNOWN_BITS])
def test_decimal_converts_exactly_to_and_from_known_bit_patterns(cls: Any, text: str, bits: int) -> None:
    assert cls.from_decimal(decimal.Decimal(text)) == bits
    assert cls(bits).to_decimal() == decimal.Decimal(text)


@pytest.mark.parametrize("cls", [Decimal32, Decimal64, Decimal128])
def test_decimal_special_values_convert_both_ways(cls: Any) -> None:
    assert cls.from_decimal(decimal.Decimal("Infinity")).to_decimal() == decimal.Decimal("Infinity")
    assert cls.from_decimal(decimal.Decimal("-Infinity")).to_decimal() == decimal.Decimal("-Infinity")
    assert cls.from_decimal(decimal.Decimal("NaN")).to_decimal().is_nan()


def test_decimal_that_needs_rounding_is_refused() -> None:
    with pytest.raises(EncodeError, match="not exactly representable"):
        Decimal32.from_decimal(decimal.Decimal("12345678"))  # 8 digits > 7
    with pytest.raises(EncodeError, match="not exactly representable"):
        Decimal64.from_decimal(decimal.Decimal("1E+400"))


@settings(max_examples=300)
@given(
    st.sampled_from([(Decimal32, 7, 90), (Decimal64, 16, 369), (Decimal128, 34, 6111)]),
    st.data(),
)
def test_decimal_round_trips_any_exactly_representable_value(spec: tuple[Any, int, int], data: st.DataObject) -> None:
    cls, digits, emax = spec
    coefficient = data.draw(st.integers(0, 10**digits - 1))
    exponent = data.draw(st.integers(-emax, emax - digits))
    sign = data.draw(st.sampled_from(["", "-"]))
    value = decimal.Decimal(f"{sign}{coefficient}E{exponent}")
    assert cls.from_decimal(value).to_decimal() == value


def test_decimal_bits_must_fit_their_width() -> None:
    with pytest.raises(EncodeError):
        Decimal32(2**32)
    assert repr(Decimal32(1)) == "Decimal32(0x00000001)"


# --- timestamps -----------------------------------------------------------------------------------


def test_Timestamp_converts_aware_datetimes_to_milliseconds_and_back() -> None:
    when = dt.datetime(2023, 11, 14, 22, 13, 20, 123_000, tzinfo=dt.timezone.utc)
    stamp = Timestamp.from_datetime(when)
    assert stamp == 1_700_000_000_123
    assert stamp.to_datetime() == when


def test_Timestamp_treats_naive_datetimes_as_utc_and_truncates_microseconds() -> None:
    naive = dt.datetime(1970, 1, 1, 0, 0, 1, 999_999)
    assert Timestamp.from_datetime(naive) == 1999


def test_Timestamp_respects_the_datetimes_offset() -> None:
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert Timestamp.from_datetime(dt.datetime(1970, 1, 1, 1, tzinfo=plus_one)) == 0


def test_Timestamp_before_the_epoch_is_negative() -> None:
    assert Timestamp(-1000).to_datetime() == dt.datetime(1969, 12, 31, 23, 59, 59, tzinfo=dt.timezone.utc)


# --- Described and Array --------------------------------------------------------------------------


def test_Described_turns_int_and_str_descriptors_into_ULong_and_Symbol() -> None:
    assert type(Described(5, None).descriptor) is ULong
    assert type(Described("a:b", None).descriptor) is Symbol
    assert Described(5, [1]) == Described(ULong(5), [1])
    assert Described(5, [1]) != Described(6, [1])
    assert hash(Described(5, [1])) == hash(Described(5, [2]))  # unhashable value: by descriptor


def test_Array_equality_includes_element_type_and_descriptor() -> None:
    assert Array(UInt, [1]) == Array(UInt, [1])
    assert Array(UInt, [1]) != Array(ULong, [1])
    assert Array(Described, [], descriptor=1) != Array(Described, [], descriptor=2)
    assert Array(UInt, [1]) == [1]  # still a list to everything else


def test_Array_of_Described_infers_the_shared_descriptor_from_its_first_item() -> None:
    arr = Array(Described, [Described(Symbol("d"), 1)])
    assert arr.descriptor == Symbol("d")
    assert Array(Described, [Described(Symbol("d"), 1)]) == Array(
        Described, [Described(Symbol("d"), 1)], descriptor=Symbol("d")
    )
