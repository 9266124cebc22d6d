"""Regressions found by fuzz/fuzz_frame_reader.py, each reduced to the smallest input that
showed it. The fuzzer's crash inputs live in fuzz/corpus/frame_reader/regress_*.bin too, so
the fuzzer re-checks them on every run."""

from __future__ import annotations

import pytest
from support.engine_pairs import opened_pair

from amqp10.codec.spec import Close
from amqp10.engine.events import ConnectionClosed, ProtocolViolationDetected
from amqp10.errors import FramingError
from amqp10.framing import FrameReader
from amqp10.testing import FrameFactory

BAD_SIZE = b"\xff\xff\xff\xff\x02\x00\x00\x00"  # a frame header far over any max-frame-size


def _read_everything(reader: FrameReader, chunks: list[bytes]) -> tuple[list[bytes], str | None]:
    got: list[bytes] = []
    for chunk in chunks:
        reader.feed(chunk)
        try:
            while frames := reader.read_frames():
                got += [bytes(f.body) for f in frames]
        except FramingError as exc:
            return got, str(exc)
    return got, None


def test_FrameReader_returns_complete_frames_before_a_bad_header_when_all_arrive_in_one_read() -> None:
    stream = FrameFactory.heartbeat * 2 + FrameFactory.frame(Close()) + BAD_SIZE
    reader = FrameReader(512)
    reader.feed(stream)
    first = reader.read_frames()
    assert len(first) == 3 and bytes(first[2].body) == FrameFactory.frame(Close())[8:]
    with pytest.raises(FramingError) as err:
        reader.read_frames()
    assert err.value.condition == "amqp:connection:framing-error"
    with pytest.raises(FramingError):  # and stays poisoned
        reader.read_frames()


def test_FrameReader_gives_the_same_frames_and_error_however_the_bytes_are_split() -> None:
    stream = FrameFactory.heartbeat + FrameFactory.frame(Close()) + BAD_SIZE
    whole = _read_everything(FrameReader(512), [stream])
    split = _read_everything(FrameReader(512), [stream[i : i + 1] for i in range(len(stream))])
    assert whole == split
    assert len(whole[0]) == 2 and whole[1] is not None


def test_FrameReader_honours_the_limit_when_a_bad_header_follows_good_frames() -> None:
    stream = FrameFactory.heartbeat * 3 + BAD_SIZE
    reader = FrameReader(512)
    reader.feed(stream)
    assert len(reader.read_frames(2)) == 2
    assert len(reader.read_frames(2)) == 1
    with pytest.raises(FramingError):
        reader.read_frames(2)


@pytest.mark.parametrize("split", [False, True])
def test_Connection_takes_a_CLOSE_followed_by_garbage_as_a_clean_close_however_it_is_read(split: bool) -> None:
    # Before the fix, a CLOSE and a broken frame header in the same read lost the CLOSE: the
    # connection closed with amqp:connection:framing-error instead, only when they came together.
    pair = opened_pair()
    data = FrameFactory.frame(Close()) + BAD_SIZE
    chunks = [data[: -len(BAD_SIZE)], BAD_SIZE] if split else [data]
    events = []
    for chunk in chunks:
        events += pair.server.receive_data(chunk)
    assert not [e for e in events if isinstance(e, ProtocolViolationDetected)]
    closed = [e for e in events if isinstance(e, ConnectionClosed)]
    assert len(closed) == 1 and closed[0].by_peer and closed[0].error is None
