from __future__ import annotations

import pytest

from amqp10.codec.spec import Transfer
from amqp10.engine.events import DeliveryAborted, DeliveryReceived, ProtocolViolationDetected
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body

from support.engine_pairs import client_config, link_pair, of_type, opened_pair, server_config


def _capture_transfers(pair, max_frame: int):  # type: ignore[no-untyped-def]
    """The frames the client sends next, decoded, and the server's events for them."""
    data = pair.client.data_to_send()
    reader = FrameReader(max_frame)
    reader.feed(data)
    frames = reader.read_frames()
    return frames, pair.server.receive_data(data)


@pytest.mark.parametrize("size", [0, 1, 400, 461, 462, 463, 1000, 5000, 20_000])
def test_Sender_splits_a_message_to_fit_the_peers_max_frame_size(size: int) -> None:
    pair = opened_pair(server=server_config(max_frame_size=512))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    payload = bytes(i % 251 for i in range(size))
    sender.send(payload)
    frames, events = _capture_transfers(pair, 512)
    assert all(len(f.body) + 8 <= 512 for f in frames)
    transfers = [decode_body(f)[0] for f in frames]
    assert all(isinstance(t, Transfer) for t in transfers)
    assert [bool(t.more) for t in transfers] == [True] * (len(transfers) - 1) + [False]
    assert transfers[0].delivery_tag is not None
    assert all(t.delivery_id == transfers[0].delivery_id for t in transfers)
    (got,) = of_type(events, DeliveryReceived)
    assert bytes(got.delivery.payload) == payload


def test_multi_frame_delivery_is_reassembled_into_one_DeliveryReceived() -> None:
    pair = opened_pair(server=server_config(max_frame_size=512))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(2)
    pair.pump()
    big = bytes(range(256)) * 40
    sender.send(big)
    sender.send(b"small")
    _, s = pair.pump()
    got = of_type(s, DeliveryReceived)
    assert [bytes(e.delivery.payload) for e in got] == [big, b"small"]
    assert got[0].delivery.complete


def test_single_frame_messages_are_encoded_once_into_one_frame_each() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(3)
    pair.pump()
    for _ in range(3):
        sender.send(b"x" * 100)
    frames, _ = _capture_transfers(pair, 1 << 16)
    assert len(frames) == 3
    assert all(decode_body(f)[0].more is None for f in frames)


def test_aborting_a_partly_sent_delivery_discards_it_at_the_receiver() -> None:
    # an incoming window of 4 frames cuts the 50 kB message off after its first frames
    pair = opened_pair(server=server_config(max_frame_size=512, incoming_window=4))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(2)
    pair.pump()
    d = sender.send(b"y" * 50_000)
    events = pair.server.receive_data(pair.client.data_to_send())
    assert of_type(events, DeliveryReceived) == []
    d.abort()
    sender.send(b"after")
    _, s = pair.pump()
    (aborted,) = of_type(events + s, DeliveryAborted)
    assert aborted.delivery.aborted
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"after"]
    assert of_type(s, ProtocolViolationDetected) == []


def test_aborting_a_queued_delivery_returns_it_without_using_credit() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    d = sender.send(b"x")
    d.abort()
    receiver.flow(1)
    sender.send(b"y")
    _, s = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"y"]


def test_max_message_size_is_enforced_on_receipt_before_buffering() -> None:
    pair = opened_pair(client=client_config(max_frame_size=512), server=server_config(max_frame_size=512))
    session = pair.client.begin_session()
    receiver = session.attach_receiver("r", max_message_size=1000)
    from support.engine_pairs import pump_accepting, peer_link

    _, s = pump_accepting(pair)
    sender = peer_link(s)
    # the sending engine itself refuses, so play a sender that ignores the limit
    receiver.flow(1)
    pair.pump()
    ok = sender.send(b"z" * 1000)
    c, _ = pair.pump()
    assert [len(e.delivery.payload) for e in of_type(c, DeliveryReceived)] == [1000]
    assert ok.complete
