"""One test per row of the violation table: a scripted peer sends the bad frame sequence to a
real engine; we check the event, the condition and the level of what the engine sends back."""

from __future__ import annotations

from typing import Any

import pytest

from amqp10.codec.spec import Attach, Begin, Close, Detach, Disposition, End, Flow, Open, Role, Transfer
from amqp10.engine import Connection, ConnectionState
from amqp10.codec import Limits
from amqp10.engine.events import (
    ConnectionClosed,
    DeliveryReceived,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
)
from amqp10.engine.violations import VIOLATIONS, Level, Violation
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body
from amqp10.testing import FrameFactory, VirtualClock

from support.engine_pairs import client_config, of_type, server_config

F = FrameFactory
BEGIN = Begin(next_outgoing_id=0, incoming_window=100, outgoing_window=100)


class ScriptedPeer:
    """Plays the client by hand against a real server engine."""

    def __init__(self, **server_options: Any) -> None:
        self.server = Connection(server_config(**server_options))
        self.server.open()
        self.events: list[Any] = []
        self.reader = FrameReader(1 << 20)
        self.send(F.amqp_header + F.frame(Open(container_id="peer")))
        assert self.reader.read_header() == F.amqp_header

    def send(self, data: bytes) -> list[Any]:
        new = self.server.receive_data(data)
        self.events += new
        for e in new:
            if self.server.state is not ConnectionState.OPENED:
                break  # a later frame of the same read closed the connection
            if isinstance(e, SessionRemotelyBegun):
                e.session.begin()
            elif isinstance(e, LinkRemotelyAttached):
                e.link.max_message_size = self.max_message_size
                e.link.attach()
                if e.link.role is Role.RECEIVER and self.credit:
                    e.link.flow(self.credit)
        self.reader.feed(self.server.data_to_send())
        return new

    max_message_size: int | None = None
    credit = 0

    def replies(self) -> list[Any]:
        return [decode_body(f)[0] for f in self.reader.read_frames() if not f.is_heartbeat]

    def begin_and_attach_sender(self, credit: int = 0) -> None:
        self.credit = credit
        self.send(
            F.frames(
                (BEGIN, 0),
                (Attach(name="l", handle=0, role=Role.SENDER, initial_delivery_count=0), 0),
            )
        )


def _violation(events: list[Any], expected: Violation) -> ProtocolViolationDetected:
    (v,) = of_type(events, ProtocolViolationDetected)
    assert v.violation is expected
    rule = VIOLATIONS[expected]
    assert v.condition == rule.condition and v.level is rule.level
    return v


def _closed_with(replies: list[Any], condition: str) -> None:
    closes = [r for r in replies if isinstance(r, Close)]
    assert closes and closes[-1].error.condition == condition


def _ended_with(replies: list[Any], condition: str) -> None:
    ends = [r for r in replies if isinstance(r, End)]
    assert ends and ends[-1].error.condition == condition


def _detached_with(replies: list[Any], condition: str) -> None:
    detaches = [r for r in replies if isinstance(r, Detach)]
    assert detaches and detaches[-1].error.condition == condition and detaches[-1].closed


def test_bad_protocol_header_is_answered_with_ours_and_ends_the_connection() -> None:
    server = Connection(server_config())
    events = server.receive_data(b"AMQP\x00\x02\x00\x00")
    _violation(events, Violation.BAD_HEADER)
    assert server.data_to_send() == F.amqp_header
    assert server.finished
    (closed,) = of_type(events, ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:connection:framing-error"


def test_bad_protocol_header_from_the_server_ends_the_client() -> None:
    client = Connection(client_config())
    events = client.receive_data(b"HTTP/1.1 400 Bad Request\r\n")
    _violation(events, Violation.BAD_HEADER)
    assert client.finished


def test_frame_larger_than_max_frame_size_closes_with_framing_error() -> None:
    peer = ScriptedPeer(max_frame_size=512)
    events = peer.send(F.raw(100_000))
    _violation(events, Violation.FRAMING_ERROR)
    _closed_with(peer.replies(), "amqp:connection:framing-error")
    assert peer.server.finished


def test_undecodable_frame_body_closes_with_decode_error() -> None:
    peer = ScriptedPeer()
    events = peer.send(F.raw(12, body=b"\x00\x53\x10\xc0"))  # truncated described list
    _violation(events, Violation.DECODE_ERROR)
    _closed_with(peer.replies(), "amqp:decode-error")
    assert peer.server.state is ConnectionState.DISCARDING


def test_invalid_open_field_closes_with_invalid_field() -> None:
    server = Connection(server_config())
    server.open()
    events = server.receive_data(F.amqp_header + F.frame(Open(container_id="p", max_frame_size=64)))
    _violation(events, Violation.INVALID_FIELD)


def test_second_open_closes_with_illegal_state() -> None:
    peer = ScriptedPeer()
    events = peer.send(F.frame(Open(container_id="again")))
    _violation(events, Violation.ILLEGAL_STATE)
    _closed_with(peer.replies(), "amqp:illegal-state")


def test_begin_above_channel_max_closes_with_framing_error() -> None:
    peer = ScriptedPeer(channel_max=3)
    events = peer.send(F.frame(BEGIN, channel=9))
    _violation(events, Violation.CHANNEL_OUT_OF_RANGE)
    _closed_with(peer.replies(), "amqp:connection:framing-error")


def test_frame_on_a_channel_without_session_closes_with_not_allowed() -> None:
    peer = ScriptedPeer()
    events = peer.send(F.frame(Flow(incoming_window=1, next_outgoing_id=0, outgoing_window=1), channel=2))
    _violation(events, Violation.UNKNOWN_CHANNEL)
    _closed_with(peer.replies(), "amqp:not-allowed")


def test_attach_above_handle_max_closes_with_framing_error() -> None:
    peer = ScriptedPeer(handle_max=4)
    events = peer.send(F.frames((BEGIN, 0), (Attach(name="l", handle=5, role=Role.SENDER), 0)))
    _violation(events, Violation.HANDLE_OUT_OF_RANGE)
    _closed_with(peer.replies(), "amqp:connection:framing-error")


def test_attach_on_a_handle_in_use_ends_the_session_with_handle_in_use() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender()
    events = peer.send(F.frame(Attach(name="other", handle=0, role=Role.SENDER), 0))
    v = _violation(events, Violation.HANDLE_IN_USE)
    assert v.level is Level.SESSION and v.session is not None
    _ended_with(peer.replies(), "amqp:session:handle-in-use")


def test_transfer_on_an_unattached_handle_ends_the_session_with_unattached_handle() -> None:
    peer = ScriptedPeer()
    peer.send(F.frame(BEGIN, 0))
    events = peer.send(F.frame(Transfer(handle=7, delivery_id=0, delivery_tag=b"t"), 0))
    _violation(events, Violation.UNATTACHED_HANDLE)
    _ended_with(peer.replies(), "amqp:session:unattached-handle")


def test_transfer_beyond_the_incoming_window_ends_the_session_with_window_violation() -> None:
    peer = ScriptedPeer(incoming_window=1)
    peer.begin_and_attach_sender(credit=10)
    t0 = F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a"), 0, b"x")
    t1 = F.frame(Transfer(handle=0, delivery_id=1, delivery_tag=b"b"), 0, b"x")
    events = peer.send(t0 + t1)
    _violation(events, Violation.WINDOW_VIOLATION)
    _ended_with(peer.replies(), "amqp:session:window-violation")


def test_transfer_beyond_credit_closes_link_with_transfer_limit_exceeded() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=0)
    events = peer.send(F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a"), 0, b"x"))
    v = _violation(events, Violation.TRANSFER_LIMIT_EXCEEDED)
    assert v.link is not None
    _detached_with(peer.replies(), "amqp:link:transfer-limit-exceeded")


def test_message_over_max_message_size_closes_link_with_message_size_exceeded() -> None:
    peer = ScriptedPeer()
    peer.max_message_size = 10
    peer.begin_and_attach_sender(credit=5)
    first = F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a", more=True), 0, b"x" * 8)
    second = F.frame(Transfer(handle=0, delivery_id=0), 0, b"x" * 8)
    events = peer.send(first + second)
    _violation(events, Violation.MESSAGE_SIZE_EXCEEDED)
    _detached_with(peer.replies(), "amqp:link:message-size-exceeded")


def test_delivery_id_out_of_sequence_ends_the_session() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=5)
    t0 = F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a"), 0, b"x")
    t5 = F.frame(Transfer(handle=0, delivery_id=5, delivery_tag=b"b"), 0, b"x")
    events = peer.send(t0 + t5)
    _violation(events, Violation.BAD_DELIVERY_ID)
    _ended_with(peer.replies(), "amqp:not-allowed")


def test_disposition_for_ids_never_sent_ends_the_session() -> None:
    peer = ScriptedPeer()
    peer.send(F.frame(BEGIN, 0))
    events = peer.send(F.frame(Disposition(role=Role.RECEIVER, first=100, last=200, settled=True), 0))
    _violation(events, Violation.UNKNOWN_DELIVERY_IDS)
    _ended_with(peer.replies(), "amqp:not-allowed")


def test_transfer_sent_to_the_sending_end_closes_the_link() -> None:
    peer = ScriptedPeer()
    peer.send(F.frames((BEGIN, 0), (Attach(name="r", handle=0, role=Role.RECEIVER), 0)))
    events = peer.send(F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a"), 0, b"x"))
    _violation(events, Violation.TRANSFER_TO_SENDER)
    _detached_with(peer.replies(), "amqp:not-allowed")


def test_idle_timeout_closes_with_resource_limit_exceeded() -> None:
    peer = ScriptedPeer(idle_timeout=1.0)
    clock = VirtualClock()
    deadline = peer.server.tick(clock.now)
    assert deadline == pytest.approx(1.0)
    assert peer.server.tick(clock.advance(1.5)) is None
    events = peer.server.take_events()
    _violation(events, Violation.IDLE_TIMEOUT)
    peer.reader.feed(peer.server.data_to_send())
    _closed_with(peer.replies(), "amqp:resource-limit-exceeded")
    assert peer.server.finished


def test_open_on_a_channel_other_than_0_closes_with_framing_error() -> None:
    # Spec 2.4.1: until OPEN is negotiated the channel-max is 0.
    server = Connection(server_config())
    server.open()
    events = server.receive_data(F.amqp_header + F.frame(Open(container_id="p"), channel=3))
    _violation(events, Violation.CHANNEL_OUT_OF_RANGE)
    reader = FrameReader(1 << 20)
    reader.feed(server.data_to_send())
    assert reader.read_header() == F.amqp_header
    _closed_with([decode_body(f)[0] for f in reader.read_frames()], "amqp:connection:framing-error")


def test_begin_on_a_channel_other_than_0_before_open_closes_with_framing_error() -> None:
    server = Connection(server_config())
    server.open()
    events = server.receive_data(F.amqp_header + F.frame(BEGIN, channel=1))
    _violation(events, Violation.CHANNEL_OUT_OF_RANGE)
    assert of_type(events, SessionRemotelyBegun) == []


def test_delivery_tag_over_32_bytes_closes_link_with_invalid_field() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=5)
    events = peer.send(F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"t" * 33), 0, b"x"))
    v = _violation(events, Violation.DELIVERY_TAG_TOO_LONG)
    assert v.link is not None
    _detached_with(peer.replies(), "amqp:invalid-field")


def test_delivery_tag_of_32_bytes_is_accepted() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=5)
    events = peer.send(F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"t" * 32), 0, b"x"))
    (received,) = of_type(events, DeliveryReceived)
    assert received.delivery.tag == b"t" * 32


def test_continuation_transfer_changing_the_delivery_tag_closes_link_with_invalid_field() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=5)
    first = F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a", more=True), 0, b"x")
    other = F.frame(Transfer(handle=0, delivery_tag=b"b"), 0, b"y")
    events = peer.send(first + other)
    _violation(events, Violation.DELIVERY_TAG_CHANGED)
    assert of_type(events, DeliveryReceived) == []
    _detached_with(peer.replies(), "amqp:invalid-field")


def test_continuation_transfer_repeating_or_omitting_the_delivery_tag_is_accepted() -> None:
    peer = ScriptedPeer()
    peer.begin_and_attach_sender(credit=5)
    events = peer.send(
        F.frame(Transfer(handle=0, delivery_id=0, delivery_tag=b"a", more=True), 0, b"x")
        + F.frame(Transfer(handle=0, delivery_tag=b"a", more=True), 0, b"y")
        + F.frame(Transfer(handle=0), 0, b"z")
    )
    (received,) = of_type(events, DeliveryReceived)
    assert bytes(received.delivery.payload) == b"xyz"


def _attach_senders(peer: ScriptedPeer, count: int) -> None:
    peer.credit = 20
    peer.send(F.frame(BEGIN, 0))
    for handle in range(count):
        peer.send(F.frame(Attach(name=f"l{handle}", handle=handle, role=Role.SENDER, initial_delivery_count=0), 0))


def _partial(handle: int, delivery_id: int, size: int, *, more: bool = True) -> bytes:
    return F.frame(
        Transfer(handle=handle, delivery_id=delivery_id, delivery_tag=b"%d" % delivery_id, more=more), 0, b"p" * size
    )


def test_unfinished_deliveries_over_the_connection_limit_close_with_resource_limit_exceeded() -> None:
    peer = ScriptedPeer(limits=Limits(max_partial_deliveries_size=1000))
    _attach_senders(peer, 3)
    assert of_type(peer.send(_partial(0, 0, 400) + _partial(1, 1, 400)), ProtocolViolationDetected) == []
    events = peer.send(_partial(2, 2, 400))  # 1200 bytes held: refused before it is kept
    _violation(events, Violation.PARTIAL_DELIVERIES_EXCEEDED)
    _closed_with(peer.replies(), "amqp:resource-limit-exceeded")
    assert peer.server.state is ConnectionState.DISCARDING


def test_one_unfinished_delivery_is_bounded_by_max_message_size_not_the_connection_limit() -> None:
    peer = ScriptedPeer(limits=Limits(max_partial_deliveries_size=1000))
    _attach_senders(peer, 1)
    events = peer.send(_partial(0, 0, 800) + F.frame(Transfer(handle=0), 0, b"q" * 800))
    (received,) = of_type(events, DeliveryReceived)
    assert received.delivery.size == 1600


def test_finished_aborted_and_detached_deliveries_stop_counting_against_the_connection_limit() -> None:
    peer = ScriptedPeer(limits=Limits(max_partial_deliveries_size=1000))
    _attach_senders(peer, 3)
    # Many deliveries in turn, each finished or aborted: never more than 1000 held at once.
    for i in range(0, 10, 2):
        peer.send(_partial(0, i, 400) + _partial(1, i + 1, 400))
        peer.send(F.frame(Transfer(handle=0, delivery_id=i), 0, b"end"))
        peer.send(F.frame(Transfer(handle=1, delivery_id=i + 1, aborted=True), 0))
    # A link detached with a delivery unfinished gives its bytes back too.
    peer.send(_partial(0, 10, 400))
    peer.send(F.frame(Detach(handle=0, closed=True), 0))
    events = peer.send(_partial(1, 11, 400) + _partial(2, 12, 400))
    assert of_type(events, ProtocolViolationDetected) == []
    assert peer.server.state is ConnectionState.OPENED
