"""Message.decode bounds the number of body sections (Limits.max_body_sections) before it
decodes or lists the first one over the limit: each costs 3 to 5 bytes on the wire but an
object (and, for amqp-sequence, a fresh zero-width budget) in memory."""

from __future__ import annotations

import pytest

from amqp10.codec import DecodeError
from amqp10.codec.limits import DEFAULT_LIMITS, Limits
from amqp10.codec.message import AmqpSequence, Data, Message

EMPTY_DATA = b"\x00\x53\x75\xa0\x00"  # a data section holding vbin8 of length 0
EMPTY_SEQUENCE = b"\x00\x53\x76\x45"  # an amqp-sequence section holding list0
HEADER = b"\x00\x53\x70\x45"  # an empty header section (not a body section)


@pytest.mark.parametrize("section", [EMPTY_DATA, EMPTY_SEQUENCE], ids=["data", "amqp-sequence"])
def test_Message_decode_stops_at_the_first_section_over_max_body_sections_when_a_message_has_a_million(
    section: bytes,
) -> None:
    bomb = section * 1_000_000  # 4-5 MB of sections, within max_message_size
    first_over = DEFAULT_LIMITS.max_body_sections * len(section)
    with pytest.raises(DecodeError, match=f"offset {first_over} is over Limits.max_body_sections") as info:
        Message.decode(bomb)
    assert info.value.condition == "amqp:decode-error"


def test_Message_decode_takes_max_body_sections_data_sections_when_at_the_limit() -> None:
    n = DEFAULT_LIMITS.max_body_sections
    message = Message.decode(HEADER + EMPTY_DATA * n)
    assert message.body == [Data(b"")] * n
    with pytest.raises(DecodeError, match="more than 64 body sections"):
        Message.decode(HEADER + EMPTY_DATA * (n + 1))


def test_Message_decode_applies_a_smaller_max_body_sections_when_given() -> None:
    limits = Limits(max_body_sections=2)
    wire = Message(body=[AmqpSequence([1]), AmqpSequence([2])]).encode()
    assert Message.decode(wire, limits).body == [AmqpSequence([1]), AmqpSequence([2])]
    three = Message(body=[AmqpSequence([1]), AmqpSequence([2]), AmqpSequence([3])]).encode()
    with pytest.raises(DecodeError, match="more than 2 body sections"):
        Message.decode(three, limits)


def test_Message_decode_refuses_the_section_before_decoding_it_when_it_is_over_the_limit() -> None:
    # The third amqp-sequence holds an array of a million nulls (zero-width: 1 byte claims
    # them all); refused by the section count, not after building the list.
    bomb_value = b"\xc0\x0b\x01\xf0\x00\x00\x00\x05\x00\x0f\x42\x40\x40"
    wire = EMPTY_SEQUENCE * 2 + b"\x00\x53\x76" + bomb_value
    with pytest.raises(DecodeError, match="offset 8 is over Limits.max_body_sections"):
        Message.decode(wire, Limits(max_body_sections=2))
    # what the count spared: one more section allowed, and the million elements are built
    (array,) = Message.decode(wire, Limits(max_body_sections=3)).body[2]
    assert len(array) == 1_000_000


def test_Limits_refuses_max_body_sections_below_one() -> None:
    with pytest.raises(ValueError, match="max_body_sections"):
        Limits(max_body_sections=0)


def test_Message_decode_takes_one_body_section_when_max_body_sections_is_one() -> None:
    limits = Limits(max_body_sections=1)
    assert Message.decode(Message(body=b"x").encode(), limits).body == b"x"
    assert Message.decode(Message(body="v").encode(), limits).body == "v"
    with pytest.raises(DecodeError, match="more than 1 body sections"):
        Message.decode(EMPTY_DATA * 2, limits)
