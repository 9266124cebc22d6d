"""Incoming memory is bounded by default: receiving links take ``Config.limits.max_message_size``
as their max-message-size (spec 2.7.3), advertise it, and refuse a delivery that would cross it
before its bytes are kept (2.8.17 message-size-exceeded); ``0`` asks for no limit explicitly.

Oversized deliveries come from a scripted peer (raw frames): our own sender refuses them."""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

import pytest

from amqp10.codec.limits import DEFAULT_LIMITS, Limits
from amqp10.codec.spec import Attach, Begin, Detach, Open, Role, Source, Target, Transfer
from amqp10.engine import Connection
from amqp10.engine.events import (
    DeliveryReceived,
    LinkDetached,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
)
from amqp10.engine.violations import Violation
from amqp10.errors import LocalProtocolError
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body
from amqp10.testing import FrameFactory as F

from support.engine_pairs import (
    client_config,
    link_pair,
    of_type,
    opened_pair,
    peer_link,
    pump_accepting,
    server_config,
)

SIZE_EXCEEDED = "amqp:link:message-size-exceeded"


class ScriptedSender:
    """Plays a client whose sending links ignore the receiver's max-message-size, against a
    real server engine that answers every session and link and grants credit."""

    def __init__(self, *, links: int = 1, credit: int = 10, **server_options: Any) -> None:
        self.server = Connection(server_config(**server_options))
        self.server.open()
        self.reader = FrameReader(1 << 20)
        self.events: list[Any] = []
        self.receivers: list[Any] = []
        self.credit = credit
        self.next_id = 0
        attaches = [
            (Attach(name=f"l{h}", handle=h, role=Role.SENDER, initial_delivery_count=0,
                    source=Source(address="s"), target=Target(address="q")), 0)
            for h in range(links)
        ]
        begin = Begin(next_outgoing_id=0, incoming_window=1000, outgoing_window=1 << 20)
        self.send(F.amqp_header + F.frames(Open(container_id="peer"), (begin, 0), *attaches))
        assert self.reader.read_header() == F.amqp_header

    def send(self, data: bytes) -> list[Any]:
        new = self.server.receive_data(data)
        for e in new:
            if isinstance(e, SessionRemotelyBegun):
                e.session.begin()
            elif isinstance(e, LinkRemotelyAttached):
                e.link.attach()
                e.link.flow(self.credit)
                self.receivers.append(e.link)
        self.events += new
        self.reader.feed(self.server.data_to_send())
        return new

    def replies(self) -> list[Any]:
        return [decode_body(f)[0] for f in self.reader.read_frames() if not f.is_heartbeat]

    def transfer(self, handle: int, payload: bytes, *, first: bool, more: bool) -> bytes:
        """One TRANSFER frame; ``first`` starts a new delivery (the next delivery-id)."""
        if first:
            body = Transfer(handle=handle, delivery_id=self.next_id, delivery_tag=b"t%d" % self.next_id, more=more or None)
            self.next_id += 1
        else:
            body = Transfer(handle=handle, more=more or None)
        return F.frame(body, 0, payload)


def _traced_now() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def test_Receiver_advertises_the_connections_max_message_size_when_given_none() -> None:
    pair = opened_pair(client=client_config(limits=Limits(max_message_size=5000)))
    sender, receiver, _, _ = link_pair(pair, client_sends=False)
    assert receiver.max_message_size == 5000
    assert sender.remote_max_message_size == 5000


def test_Receiver_advertises_the_default_limit_when_the_config_has_none() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair, client_sends=False)
    assert DEFAULT_LIMITS.max_message_size == 100 << 20
    assert sender.remote_max_message_size == DEFAULT_LIMITS.max_message_size


def test_Receiver_the_peer_attached_advertises_our_limit_when_answered() -> None:
    pair = opened_pair(server=server_config(limits=Limits(max_message_size=777)))
    sender, receiver, _, _ = link_pair(pair)  # the client sends: the server's end is a peer-attached receiver
    assert receiver.max_message_size == 777
    assert sender.remote_max_message_size == 777


def test_Receiver_keeps_an_explicit_max_message_size_when_the_config_has_another() -> None:
    pair = opened_pair(client=client_config(limits=Limits(max_message_size=5000)))
    session = pair.client.begin_session()
    receiver = session.attach_receiver("r", source=Source(address="q"), max_message_size=123)
    assert receiver.max_message_size == 123


def test_Sender_refuses_a_message_over_the_receivers_default_limit_before_sending_it() -> None:
    pair = opened_pair(server=server_config(limits=Limits(max_message_size=1000)))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(5)
    pair.pump()
    with pytest.raises(LocalProtocolError, match="max-message-size 1000"):
        sender.send(b"x" * 1001)
    assert sender.queued == 0
    sender.send(b"y" * 1000)
    _, s = pair.pump()
    assert [len(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [1000]
    assert of_type(s, ProtocolViolationDetected) == []


def test_Receiver_closes_the_link_before_buffering_past_the_limit_when_a_multi_frame_delivery_grows() -> None:
    limit, chunk, frames = 256 * 1024, 16 * 1024, 48  # 768 KiB offered, 256 KiB allowed
    slack = 96 * 1024  # the engine's own objects, frame headers, one read's worth of buffer
    peer = ScriptedSender(limits=Limits(max_message_size=limit))
    (receiver,) = peer.receivers
    assert receiver.max_message_size == limit
    (attach,) = [r for r in peer.replies() if isinstance(r, Attach)]
    assert attach.max_message_size == limit
    tracemalloc.start()
    try:
        base = _traced_now()
        peaks = []
        for i in range(frames):
            new = peer.send(peer.transfer(0, bytes([i]) * chunk, first=i == 0, more=i < frames - 1))
            peaks.append(_traced_now() - base)
            if i == limit // chunk - 1:
                assert of_type(new, ProtocolViolationDetected) == []  # exactly at the limit: fine
        after = _traced_now() - base
    finally:
        tracemalloc.stop()
    # Never more than the limit and one frame held, and nothing once the link is closed.
    assert max(peaks) <= limit + chunk + slack
    assert after <= slack
    (violation,) = of_type(peer.events, ProtocolViolationDetected)
    assert violation.violation is Violation.MESSAGE_SIZE_EXCEEDED and violation.condition == SIZE_EXCEEDED
    assert violation.link is receiver
    assert f"reaches {limit + chunk} bytes" in violation.description
    assert of_type(peer.events, DeliveryReceived) == []
    (detach,) = [r for r in peer.replies() if isinstance(r, Detach)]
    assert detach.closed and detach.error.condition == SIZE_EXCEEDED


def test_Receiver_refuses_a_single_transfer_larger_than_the_limit() -> None:
    peer = ScriptedSender(limits=Limits(max_message_size=1000))
    peer.send(peer.transfer(0, b"z" * 1000, first=True, more=False))
    assert [len(e.delivery.payload) for e in of_type(peer.events, DeliveryReceived)] == [1000]
    peer.send(peer.transfer(0, b"z" * 1001, first=True, more=False))
    (violation,) = of_type(peer.events, ProtocolViolationDetected)
    assert violation.condition == SIZE_EXCEEDED
    assert len(of_type(peer.events, DeliveryReceived)) == 1
    (detach,) = [r for r in peer.replies() if isinstance(r, Detach)]
    assert detach.closed and detach.error.condition == SIZE_EXCEEDED


def test_LinkDetached_carries_our_message_size_exceeded_when_the_peer_answers_our_detach() -> None:
    peer = ScriptedSender(limits=Limits(max_message_size=10))
    peer.send(peer.transfer(0, b"z" * 11, first=True, more=False))
    events = peer.send(F.frame(Detach(handle=0, closed=True), 0))
    (detached,) = of_type(events, LinkDetached)
    assert not detached.by_peer and detached.closed
    assert detached.error is not None and detached.error.condition == SIZE_EXCEEDED


def test_Receiver_oversize_delivery_closes_only_its_link_when_another_link_keeps_receiving() -> None:
    peer = ScriptedSender(links=2, limits=Limits(max_message_size=100))
    peer.send(peer.transfer(0, b"a" * 60, first=True, more=True) + peer.transfer(0, b"a" * 60, first=False, more=False))
    peer.send(peer.transfer(0, b"late", first=False, more=False))  # in flight before our DETACH: dropped
    peer.send(peer.transfer(1, b"b" * 100, first=True, more=False))
    (violation,) = of_type(peer.events, ProtocolViolationDetected)
    assert violation.link is peer.receivers[0]
    assert [bytes(e.delivery.payload) for e in of_type(peer.events, DeliveryReceived)] == [b"b" * 100]


def test_Receiver_partial_delivery_does_not_pin_a_large_read_when_its_chunk_is_small() -> None:
    # One read carries 10 bytes of an unfinished delivery on link 0 and a whole 512 KiB one on
    # link 1; once the big one is dropped, only the 10 bytes may stay.
    peer = ScriptedSender(links=2, limits=Limits(max_message_size=1 << 20))
    tracemalloc.start()
    try:
        base = _traced_now()
        data = peer.transfer(0, b"p" * 10, first=True, more=True)
        for i in range(8):
            data += peer.transfer(1, b"B" * (64 * 1024 - 64), first=i == 0, more=i < 7)
        new = peer.send(data)
        del data
        (big,) = of_type(new, DeliveryReceived)
        assert len(big.delivery.payload) == 8 * (64 * 1024 - 64)
        big.delivery.accept()  # settled: the engine forgets it
        peer.events.clear()
        del new, big
        held = _traced_now() - base
    finally:
        tracemalloc.stop()
    assert held <= 64 * 1024
    peer.send(peer.transfer(0, b"q" * 5, first=False, more=False))
    (done,) = of_type(peer.events, DeliveryReceived)
    assert bytes(done.delivery.payload) == b"p" * 10 + b"q" * 5


def test_Receiver_with_max_message_size_0_advertises_it_and_takes_any_size() -> None:
    pair = opened_pair(
        client=client_config(limits=Limits(max_message_size=1000)),
        server=server_config(max_frame_size=4096),
    )
    session = pair.client.begin_session()
    receiver = session.attach_receiver("r", source=Source(address="q"), target=Target(), max_message_size=0)
    _, s = pump_accepting(pair)
    sender = peer_link(s)
    assert receiver.max_message_size == 0 and sender.remote_max_message_size == 0
    receiver.flow(1)
    pair.pump()
    big = bytes(range(256)) * 200  # 51,200 bytes in 13 frames, 51 times the config's limit
    sender.send(big)
    c, _ = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(c, DeliveryReceived)] == [big]
    assert of_type(c, ProtocolViolationDetected) == []
