"""The pure decoder's inline fast paths say exactly what the general path says.

``_pure_decode`` decodes a valid str8 (and, in lists, a null) inline in its list and map
loops, and hands anything doubtful to ``_dec_str8``; ``Message.decode`` decodes all of a
message's sections under one decoding context. These tests pin both down on the pure path
and on the compiled one: same values, and for every way a str8 can be wrong inside a list, a
map key or a map value, the same ``DecodeError`` (message and offset) the string gives when
it is decoded on its own at the same offset.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from amqp10.codec import DecodeError, Limits, Symbol, encode
from amqp10.codec import _pure_decode
from amqp10.codec import message as _pure_message
from amqp10.codec.message import Message
from support.speedups import compiled


@pytest.fixture(params=["pure", "cython"])
def impl(request: pytest.FixtureRequest) -> SimpleNamespace:
    """The pure or the compiled decoder, imported directly (whatever IMPL chose)."""
    if request.param == "pure":
        return SimpleNamespace(
            decode_value=_pure_decode.decode_value, decode_message=_pure_message.decode_message
        )
    codec, _ = compiled()
    return SimpleNamespace(decode_value=codec.decode_value, decode_message=codec.decode_message)


def _error(impl: SimpleNamespace, data: bytes, limits: Limits) -> str:
    with pytest.raises(DecodeError) as caught:
        impl.decode_value(memoryview(data), 0, limits)
    return caught.value.description


# A bad str8 (after its 0xa1), and the limits under which it is bad.
_BAD_STR8 = {
    "size byte missing": (b"", Limits()),
    "size past the end": (b"\x05ab", Limits()),
    "over max_string_size": (b"\x03abc", Limits(max_string_size=2)),
    "not UTF-8": (b"\x02\xc3\x28", Limits()),
    "a surrogate": (b"\x03\xed\xa0\x80", Limits()),
}


def _list8(elements: bytes, count: int) -> bytes:
    return bytes((0xC0, len(elements) + 1, count)) + elements


def _map8(elements: bytes, count: int) -> bytes:
    return bytes((0xC1, len(elements) + 1, count)) + elements


@pytest.mark.parametrize("fault", list(_BAD_STR8))
@pytest.mark.parametrize("where", ["list element", "map key", "map value"])
def test_decode_value_reports_a_bad_str8_in_a_list_or_map_as_it_does_alone_when_invalid(
    impl: SimpleNamespace, where: str, fault: str
) -> None:
    tail, limits = _BAD_STR8[fault]
    bad = b"\xa1" + tail
    # The bad string is the last thing in its container, so its declared size ends where the
    # string's bytes do, and the string is read against the same end either way.
    if where == "list element":
        data, offset = _list8(b"\xa1\x01x\x40" + bad, 3), 3 + 4
    elif where == "map key":
        data, offset = _map8(b"\xa1\x01k\xa1\x01v" + bad, 4), 3 + 6
    else:
        data, offset = _map8(b"\xa1\x01k" + bad, 2), 3 + 3
    expected = _str8_error_at(impl, offset, bad, limits)
    got = _error(impl, data, limits)
    assert got == expected, (got, expected)


def _str8_error_at(impl: SimpleNamespace, offset: int, bad: bytes, limits: Limits) -> str:
    """The error of the str8 ``bad`` decoded on its own with its constructor at ``offset``."""
    data = bytes(offset) + bad
    with pytest.raises(DecodeError) as caught:
        impl.decode_value(memoryview(data), offset, limits)
    return caught.value.description


@pytest.mark.parametrize(
    "value",
    [
        ["a", None, "", "\u00e9t\u00e9", None, "x" * 255, 7, Symbol("s")],
        {"k": "v", "": "", "\u00e9": None, "n": 5, Symbol("s"): "x" * 200},
        [{"a": ["b", None, {"c": "d"}]}, None],
    ],
)
def test_decode_value_gives_the_encoded_strings_and_nulls_when_lists_and_maps_hold_them(
    impl: SimpleNamespace, value: Any
) -> None:
    data = encode(value)
    decoded, pos = impl.decode_value(memoryview(data), 0, Limits())
    assert pos == len(data)
    assert decoded == value
    assert encode(decoded) == data  # same types too (str stays str, Symbol stays Symbol)


def _sequence_of_nulls(nulls: int) -> bytes:
    """An amqp-sequence section holding one array8 of ``nulls`` nulls (7 bytes in all)."""
    return bytes((0x00, 0x53, 0x76, 0xC0, 0x05, 0x01, 0xE0, 0x02, nulls, 0x40))


def test_message_decode_shares_one_zero_width_budget_across_sections_when_limits_are_tight(
    impl: SimpleNamespace,
) -> None:
    # Each section's array alone is within max_count; together they are over it. The budget
    # is per message (Limits.max_count), so the second array is refused.
    limits = Limits(max_count=100)
    with pytest.raises(DecodeError, match="zero-width elements, more than the 40 left"):
        impl.decode_message(Message, _sequence_of_nulls(60) + _sequence_of_nulls(60), limits)
    ok = impl.decode_message(Message, _sequence_of_nulls(60) + _sequence_of_nulls(40), limits)
    assert [list(section[0]) for section in ok.body] == [[None] * 60, [None] * 40]


def _section_bytes(code: int, encoded_value: bytes) -> bytes:
    return bytes((0x00, 0x53, code)) + encoded_value


# Messages whose values go through every slicing decoder (str32, sym32, vbin32, uuid) and the
# data-section paths, valid and not, so bytes and views of them must give the same outcome.
_MESSAGES = {
    "str32 body": _section_bytes(0x77, b"\xb1\x00\x00\x00\x03abc"),
    "str32 not UTF-8": _section_bytes(0x77, b"\xb1\x00\x00\x00\x02\xc3\x28"),
    "sym32": _section_bytes(0x77, b"\xb3\x00\x00\x00\x02ab"),
    "sym32 not ASCII": _section_bytes(0x77, b"\xb3\x00\x00\x00\x02a\xff"),
    "vbin32": _section_bytes(0x77, b"\xb0\x00\x00\x00\x02ab"),
    "uuid": _section_bytes(0x77, b"\x98" + bytes(range(16))),
    "one data section": _section_bytes(0x75, b"\xa0\x03abc"),
    "two data sections": _section_bytes(0x75, b"\xa0\x01a") + _section_bytes(0x75, b"\xa0\x01b"),
    "truncated": _section_bytes(0x73, b"\xc0\x05\x02\xa1\x01"),
}


def _outcome(impl: SimpleNamespace, data: Any) -> Any:
    try:
        return ("message", impl.decode_message(Message, data, None))
    except DecodeError as exc:
        return ("error", exc.description)


@pytest.mark.parametrize("name", list(_MESSAGES))
def test_message_decode_gives_the_same_outcome_when_the_bytes_come_as_a_view_or_bytearray(
    impl: SimpleNamespace, name: str
) -> None:
    data = _MESSAGES[name]
    expected = _outcome(impl, data)
    assert _outcome(impl, bytearray(data)) == expected
    assert _outcome(impl, memoryview(data)) == expected
    assert _outcome(impl, memoryview(b"xx" + data)[2:]) == expected
