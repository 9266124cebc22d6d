"""Streamed deliveries in the engine (spec 2.6.14): a sender that feeds a delivery's bytes as
they come (``Sender.open_stream``), and a receiver opened with ``streaming=True`` that hands
each TRANSFER's bytes on (``DeliveryPartReceived``) and holds its session window shut until
the application says it took them (``Receiver.release_parts``)."""

from __future__ import annotations

from dataclasses import replace

from amqp10.codec import DEFAULT_LIMITS
from amqp10.codec.spec import Transfer
from amqp10.engine.events import DeliveryAborted, DeliveryPartReceived, DeliveryReceived, ProtocolViolationDetected
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body

from support.engine_pairs import link_pair, of_type, opened_pair, server_config

_FRAME = 512


def _streaming_pair(**server: object):  # type: ignore[no-untyped-def]
    pair = opened_pair(server=server_config(max_frame_size=_FRAME, **server))
    sender, receiver, _, _ = link_pair(pair)
    receiver.streaming = True
    receiver.flow(5)
    pair.pump()
    return pair, sender, receiver


def _parts(events):  # type: ignore[no-untyped-def]
    return of_type(events, DeliveryPartReceived)


def test_Sender_open_stream_writes_only_full_frames_until_the_stream_is_finished() -> None:
    pair, sender, receiver = _streaming_pair()
    delivery = sender.open_stream()
    sender.stream_write(delivery, b"x" * 100)
    assert pair.client.data_to_send() == b""  # less than a frame: nothing yet
    sender.stream_write(delivery, b"y" * 2000)
    data = pair.client.data_to_send()
    reader = FrameReader(_FRAME)
    reader.feed(data)
    transfers = [decode_body(f)[0] for f in reader.read_frames()]
    assert transfers and all(isinstance(t, Transfer) and t.more for t in transfers)
    events = pair.server.receive_data(data)
    sender.stream_finish(delivery)
    _, more = pair.pump()
    parts = _parts(events) + _parts(more)
    assert b"".join(p.chunk for p in parts) == b"x" * 100 + b"y" * 2000
    assert [p.more for p in parts][-1] is False and all(p.more for p in parts[:-1])
    assert parts[-1].delivery.complete and not of_type(events + more, DeliveryReceived)


def test_Sender_open_stream_with_nothing_written_sends_one_empty_final_transfer() -> None:
    pair, sender, receiver = _streaming_pair()
    delivery = sender.open_stream()
    sender.stream_finish(delivery)
    _, events = pair.pump()
    (part,) = _parts(events)
    assert part.chunk == b"" and not part.more and not part.held


def test_aborting_a_started_stream_reaches_the_streaming_receiver_as_DeliveryAborted() -> None:
    pair, sender, receiver = _streaming_pair()
    delivery = sender.open_stream()
    sender.stream_write(delivery, b"z" * 3000)
    _, events = pair.pump()
    assert _parts(events)
    delivery.abort()
    _, events = pair.pump()
    (aborted,) = of_type(events, DeliveryAborted)
    assert aborted.delivery.aborted


def test_streaming_receiver_holds_its_window_shut_until_parts_are_released() -> None:
    pair, sender, receiver = _streaming_pair(incoming_window=8)
    delivery = sender.open_stream()
    sender.stream_write(delivery, b"w" * (_FRAME * 40))
    _, events = pair.pump()
    assert len(_parts(events)) == 8  # one window of frames, then nothing until released
    _, events = pair.pump()
    assert _parts(events) == []
    receiver.release_parts(4)
    _, events = pair.pump()
    assert len(_parts(events)) == 4


def test_streamed_bytes_do_not_count_against_max_partial_deliveries_size() -> None:
    limits = replace(DEFAULT_LIMITS, max_partial_deliveries_size=1000)
    pair, sender, receiver = _streaming_pair(limits=limits)
    receiver.max_message_size = 0
    delivery = sender.open_stream()
    total = 0
    for _ in range(20):
        sender.stream_write(delivery, b"v" * 1000)
        _, events = pair.pump()
        parts = _parts(events)
        total += sum(len(p.chunk) for p in parts)
        receiver.release_parts(sum(1 for p in parts if p.held))
        assert not of_type(events, ProtocolViolationDetected)
    sender.stream_finish(delivery)
    _, events = pair.pump()
    total += sum(len(p.chunk) for p in _parts(events))
    assert total == 20_000


def test_a_streamed_delivery_in_a_senders_unsettled_snapshot_has_no_payload_to_send_again() -> None:
    pair, sender, receiver = _streaming_pair()
    delivery = sender.open_stream()
    sender.stream_write(delivery, b"u" * 3000)
    pair.pump()
    (entry,) = sender.unsettled
    assert entry.tag == delivery.tag and entry.payload is None
