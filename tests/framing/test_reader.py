from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from amqp10.codec.spec import Begin, Open, Transfer
from amqp10.errors import FramingError
from amqp10.framing import EMPTY_FRAME, FrameReader, FrameType
from amqp10.framing.frame import encode_frame
from amqp10.framing.performatives import decode_body
from amqp10.framing.scan import scan_frames
from amqp10.codec.errors import DecodeError
from amqp10.testing import FrameFactory

OPEN = FrameFactory.frame(Open(container_id="c"))
BEGIN = FrameFactory.frame(Begin(next_outgoing_id=0, incoming_window=10, outgoing_window=10), channel=3)
TRANSFER = FrameFactory.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"t"), channel=3, payload=b"x" * 300)
STREAM = OPEN + EMPTY_FRAME + BEGIN + TRANSFER


def _bodies(frames: list) -> list:
    return [None if f.is_heartbeat else decode_body(f)[0] for f in frames]


def test_FrameReader_returns_many_frames_from_one_read() -> None:
    reader = FrameReader(4096)
    reader.feed(STREAM)
    frames = reader.read_frames()
    assert [f.channel for f in frames] == [0, 0, 3, 3]
    assert frames[1].is_heartbeat
    assert isinstance(_bodies(frames)[0], Open)
    body, payload = decode_body(frames[3])
    assert isinstance(body, Transfer) and bytes(payload) == b"x" * 300
    assert reader.buffered == 0


def test_FrameReader_gives_the_same_frames_whatever_the_split_point() -> None:
    whole = FrameReader(4096)
    whole.feed(STREAM)
    expected = [(f.type, f.channel, bytes(f.body)) for f in whole.read_frames()]
    for cut in range(len(STREAM) + 1):
        reader = FrameReader(4096)
        reader.feed(STREAM[:cut])
        got = reader.read_frames()
        reader.feed(STREAM[cut:])
        got += reader.read_frames()
        assert [(f.type, f.channel, bytes(f.body)) for f in got] == expected, cut


def test_FrameReader_assembles_a_frame_fed_one_byte_at_a_time() -> None:
    reader = FrameReader(4096)
    got = []
    for i in range(len(STREAM)):
        reader.feed(STREAM[i : i + 1])
        got += reader.read_frames()
    assert len(got) == 4


@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=6))
def test_FrameReader_is_split_invariant_for_any_chunking(cuts: list[int]) -> None:
    points = sorted(set(cuts))
    reader = FrameReader(4096)
    got = []
    prev = 0
    for p in points + [len(STREAM)]:
        reader.feed(STREAM[prev:p])
        got += reader.read_frames()
        prev = p
    assert [bytes(f.body) for f in got] == [bytes(f.body) for f in _whole()]


def _whole() -> list:
    r = FrameReader(4096)
    r.feed(STREAM)
    return r.read_frames()


def test_FrameReader_refuses_an_oversized_frame_from_its_size_field_alone() -> None:
    reader = FrameReader(512)
    reader.feed(b"\x00\x00\x10\x00")  # 4096 bytes claimed, nothing else sent yet
    with pytest.raises(FramingError) as info:
        reader.read_frames()
    assert info.value.condition == "amqp:connection:framing-error"
    assert reader.buffered == 4  # nothing beyond the size field was ever buffered


def test_FrameReader_stays_poisoned_after_a_framing_error() -> None:
    reader = FrameReader(512)
    reader.feed(FrameFactory.raw(4, body=b""))
    with pytest.raises(FramingError):
        reader.read_frames()
    reader.feed(EMPTY_FRAME)
    with pytest.raises(FramingError):
        reader.read_frames()


@pytest.mark.parametrize(
    "raw",
    [
        FrameFactory.raw(7),  # size below the 8-byte header
        FrameFactory.raw(8, doff=1),  # doff below 2
        FrameFactory.raw(8, doff=3),  # doff beyond the frame
        FrameFactory.raw(8, frame_type=2),  # unknown type
    ],
)
def test_scan_frames_rejects_malformed_headers(raw: bytes) -> None:
    with pytest.raises(FramingError):
        scan_frames(raw, 0, 4096)


def test_max_frame_size_cannot_go_below_the_512_minimum() -> None:
    with pytest.raises(ValueError):
        FrameReader(511)


def test_FrameReader_skips_an_extended_header_using_doff() -> None:
    out = bytearray()
    encode_frame(out, 5, Open(container_id="x"), extended=b"\x01\x02\x03")
    assert out[4] == 3  # doff: 2 words of header + 1 word of (padded) extension
    reader = FrameReader(4096)
    reader.feed(bytes(out))
    (frame,) = reader.read_frames()
    assert frame.channel == 5
    assert decode_body(frame)[0] == Open(container_id="x")


def test_FrameReader_reads_headers_then_frames_one_at_a_time() -> None:
    reader = FrameReader(4096)
    reader.feed(FrameFactory.sasl_header + OPEN + FrameFactory.amqp_header + OPEN)
    assert reader.read_header() == FrameFactory.sasl_header
    assert len(reader.read_frames(1)) == 1
    assert reader.read_header() == FrameFactory.amqp_header
    assert len(reader.read_frames()) == 1


def test_FrameReader_rejects_a_header_that_is_not_amqp_after_one_byte() -> None:
    reader = FrameReader(4096)
    reader.feed(b"G")
    with pytest.raises(FramingError):
        reader.read_header()


def test_encode_frame_marks_sasl_frames_with_type_1() -> None:
    raw = FrameFactory.sasl_frame(Open(container_id="x"))
    assert raw[5] == FrameType.SASL


def test_decode_body_refuses_a_non_performative_descriptor() -> None:
    reader = FrameReader(4096)
    from amqp10.codec.spec import Accepted

    reader.feed(FrameFactory.frame(Accepted()))  # type: ignore[arg-type]
    (frame,) = reader.read_frames()
    with pytest.raises(DecodeError):
        decode_body(frame)


def test_decode_body_refuses_a_performative_missing_a_mandatory_field() -> None:
    reader = FrameReader(4096)
    reader.feed(FrameFactory.frame(Open()))
    (frame,) = reader.read_frames()
    with pytest.raises(DecodeError, match="container_id"):
        decode_body(frame)
