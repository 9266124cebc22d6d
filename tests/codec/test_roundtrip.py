"""decode(encode(v)) gives v back with the same types; encode(decode(b)) gives b back for the
canonical (smallest) encodings our encoder writes."""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from amqp10.codec import (
    Array,
    DecodeError,
    Described,
    Symbol,
    Timestamp,
    UInt,
    ULong,
    decode,
    decode_prefix,
    encode,
)
from amqp10.codec.composite import BY_CODE, BY_NAME, Composite
from support.strategies import (
    SCALAR_STRATEGIES,
    any_value,
    array_values,
    scalar_values,
    same_value,
)


@settings(max_examples=400)
@given(any_value())
def test_decode_gives_back_the_same_value_and_types_when_any_value_is_encoded(value: Any) -> None:
    decoded = decode(encode(value))
    assert same_value(decoded, value), (decoded, value)


@settings(max_examples=300)
@given(any_value())
def test_encode_gives_back_the_same_bytes_when_canonical_bytes_are_decoded(value: Any) -> None:
    data = encode(value)
    assert encode(decode(data)) == data


@pytest.mark.parametrize("type_name", sorted(SCALAR_STRATEGIES))
@settings(max_examples=60)
@given(data=st.data())
def test_each_scalar_type_round_trips_with_its_own_type(type_name: str, data: st.DataObject) -> None:
    value = data.draw(SCALAR_STRATEGIES[type_name]())
    decoded = decode(encode(value))
    assert same_value(decoded, value), (type_name, decoded, value)


@settings(max_examples=200)
@given(array_values(scalar_values(), max_size=6))
def test_arrays_round_trip_with_element_type_and_descriptor(value: Array) -> None:
    decoded = decode(encode(value))
    assert isinstance(decoded, Array)
    assert same_value(decoded, value), (decoded, value)


@settings(max_examples=100)
@given(any_value(max_depth=2), st.binary(max_size=10))
def test_decode_prefix_reports_the_bytes_the_value_took_when_more_follow(
    value: Any, trailing: bytes
) -> None:
    data = encode(value)
    decoded, consumed = decode_prefix(data + trailing)
    assert consumed == len(data)
    assert same_value(decoded, value)


def test_decode_accepts_bytearray_and_memoryview_when_given_instead_of_bytes() -> None:
    data = encode([Symbol("a"), UInt(7)])
    for form in (bytearray(data), memoryview(data), memoryview(b"xx" + data)[2:]):
        assert same_value(decode(form), [Symbol("a"), UInt(7)])


def test_decode_reads_a_non_byte_memoryview_as_its_raw_bytes() -> None:
    data = encode(b"abcd")  # a0 04 61 62 63 64: six bytes, three 16-bit items
    assert decode(memoryview(data).cast("H")) == b"abcd"


def test_encode_only_types_decode_to_their_canonical_form() -> None:
    # tuple -> list, bytearray/memoryview -> bytes, datetime -> Timestamp: documented one-way.
    assert same_value(decode(encode((1, "a"))), [1, "a"])
    assert same_value(decode(encode(bytearray(b"xy"))), b"xy")
    assert same_value(decode(encode(memoryview(b"xy"))), b"xy")
    when = dt.datetime(2024, 5, 17, 12, 30, 1, 250_000, tzinfo=dt.timezone.utc)
    stamp = decode(encode(when))
    assert type(stamp) is Timestamp and stamp.to_datetime() == when


def test_nan_payload_of_a_double_survives_the_round_trip_when_decoded_from_bytes() -> None:
    data = bytes.fromhex("82 7ff8000000000abc")
    value = decode(data)
    assert math.isnan(value)
    assert encode(value) == data


def test_uuid_round_trips_as_uuid() -> None:
    u = uuid.UUID("12345678-1234-5678-1234-567812345678")
    assert encode(u) == bytes.fromhex("98 12345678123456781234567812345678")
    assert decode(encode(u)) == u


# --- registered composites ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Point(Composite):
    """A composite in a private descriptor domain, registered only for these tests."""

    _amqp_code_: ClassVar[int] = 0x0000BEEF_00000001
    _amqp_name_: ClassVar[str] = "amqp10-test:point:list"
    x: int | None = None
    y: int | None = None

    def _amqp_fields_(self) -> list[Any]:
        fields = [self.x, self.y]
        while fields and fields[-1] is None:
            fields.pop()
        return fields

    @classmethod
    def _amqp_from_fields_(cls, fields: list[Any]) -> "_Point":
        if len(fields) > 2 or not all(f is None or type(f) is int for f in fields):
            raise DecodeError(f"bad point fields {fields!r}")
        return cls(*fields)


@pytest.fixture
def point_registered() -> Iterator[None]:
    BY_CODE[_Point._amqp_code_] = _Point
    BY_NAME[_Point._amqp_name_] = _Point
    try:
        yield
    finally:
        del BY_CODE[_Point._amqp_code_]
        del BY_NAME[_Point._amqp_name_]


def test_registered_composite_decodes_to_its_class_when_its_code_is_the_descriptor(
    point_registered: None,
) -> None:
    data = encode(_Point(3, -4))
    assert data == bytes.fromhex("00 80 0000beef00000001 c0 05 02 5503 55fc")
    assert decode(data) == _Point(3, -4)
    assert decode(encode(_Point())) == _Point()


def test_registered_composite_decodes_to_its_class_when_its_name_is_the_descriptor(
    point_registered: None,
) -> None:
    data = encode(Described(Symbol("amqp10-test:point:list"), [1]))
    assert decode(data) == _Point(1)


def test_registered_descriptor_with_a_non_list_value_stays_described(point_registered: None) -> None:
    value = Described(ULong(_Point._amqp_code_), "not a list")
    assert same_value(decode(encode(value)), value)


def test_composite_field_errors_become_decode_errors(point_registered: None) -> None:
    data = encode(Described(ULong(_Point._amqp_code_), ["x"]))
    with pytest.raises(DecodeError, match="bad point fields"):
        decode(data)


def test_array_of_registered_composites_round_trips_as_that_class(point_registered: None) -> None:
    value = Array(_Point, [_Point(1, 2), _Point(), _Point(5)])
    decoded = decode(encode(value))
    assert decoded == value and decoded.element_type is _Point


def test_empty_described_array_under_a_registered_descriptor_stays_described(
    point_registered: None,
) -> None:
    value = Array(Described, [], descriptor=ULong(_Point._amqp_code_))
    decoded = decode(encode(value))
    assert same_value(decoded, value)
    assert same_value(decode(encode(Array(_Point, []))), Array(_Point, []))
