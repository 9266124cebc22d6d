from __future__ import annotations

import logging

import pytest

from amqp10.codec.spec import Flow
from amqp10.engine import trace
from amqp10.engine.events import ConnectionClosed, ProtocolViolationDetected
from amqp10.engine.violations import Violation
from amqp10.framing import EMPTY_FRAME
from amqp10.testing import FrameFactory

from support.engine_pairs import client_config, link_pair, make_pair, of_type, opened_pair, server_config


def test_tick_returns_no_deadline_without_idle_timeouts() -> None:
    pair = opened_pair()
    assert pair.tick(100.0) == (None, None)


def test_heartbeats_go_out_at_three_quarters_of_the_peers_advertised_idle_timeout() -> None:
    # The server closes after 20 s of silence and advertises half of that, 10 s (2.4.5): the
    # margin is in the advertised value already, so the client keeps to 10 s, with a
    # quarter to spare (idle.HEARTBEAT_FACTOR), not to half of it.
    pair = opened_pair(server=server_config(idle_timeout=20.0))
    client_deadline, server_deadline = pair.tick(0.0)
    assert client_deadline == pytest.approx(7.5)
    assert pair.client.data_to_send() == b""
    pair.tick(7.4)
    assert pair.client.data_to_send() == b""
    pair.tick(7.5)
    assert pair.client.data_to_send() == EMPTY_FRAME
    assert server_deadline == pytest.approx(20.0)  # the server's own threshold


def test_heartbeats_go_out_every_three_quarters_of_the_peers_advertised_value_when_ticked_only_at_deadlines() -> None:
    # An adapter sleeps until tick()'s deadline, flushes, and ticks again at the next one.
    pair = opened_pair(server=server_config(idle_timeout=4.0))
    deadline = pair.client.tick(0.0)
    sent_at = []
    for _ in range(6):
        assert deadline is not None
        now = deadline
        deadline = pair.client.tick(now)
        if pair.client.data_to_send():
            sent_at.append(now)
    gaps = [later - earlier for earlier, later in zip(sent_at, sent_at[1:])]
    # 3/4 of the peer's advertised 2 s (it closes at 4 s): never later, and not more often
    # (we used to send at 1 s: four heartbeats per threshold where two suffice).
    assert gaps and all(gap == pytest.approx(1.5) for gap in gaps)


def test_Connection_counts_bytes_taken_by_data_to_send_as_written_at_the_last_tick() -> None:
    pair = opened_pair(server=server_config(idle_timeout=20.0))  # advertises 10 s
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(10)
    pair.pump()
    assert pair.client.tick(0.0) == pytest.approx(7.5)
    pair.client.data_to_send()
    pair.client.tick(4.0)
    sender.send(b"traffic")
    assert pair.client.data_to_send()  # taken after the tick at 4.0, without another tick
    assert pair.client.tick(7.5) == pytest.approx(11.5)  # 4.0 + 3/4 of 10 s
    assert pair.client.data_to_send() == b""  # the transfer counts: no heartbeat due yet
    pair.client.tick(11.5)
    assert pair.client.data_to_send() == EMPTY_FRAME


def test_Connection_counts_bytes_taken_before_any_tick_as_written_at_the_first_tick() -> None:
    pair = make_pair(server=server_config(idle_timeout=20.0))  # advertises 10 s
    pair.client.open()
    pair.server.open()
    pair.pump()  # OPEN went out before any tick
    assert pair.client.tick(100.0) == pytest.approx(107.5)
    assert pair.client.data_to_send() == b""


def test_heartbeats_are_never_late_when_ticked_only_at_deadlines_and_when_sending() -> None:
    # An adapter's loop: sleep until tick()'s deadline or until the user sends; either way
    # tick, then write what data_to_send() gives. The deadline may predate the last write
    # (it is one wake-up too early then, never too late).
    pair = opened_pair(server=server_config(idle_timeout=4.0))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(100)
    pair.pump()
    user_sends = [0.3, 0.7, 1.9, 2.2, 5.5, 5.6, 9.1]
    now, written_at = 0.0, [0.0]
    deadline = pair.client.tick(now)
    pair.client.data_to_send()
    while now < 12.0:
        assert deadline is not None
        upcoming = [t for t in user_sends if t > now]
        now = min([deadline] + upcoming[:1])
        deadline = pair.client.tick(now)
        if upcoming and now == upcoming[0]:
            sender.send(b"x")
        if pair.client.data_to_send():
            written_at.append(now)
    gaps = [later - earlier for earlier, later in zip(written_at, written_at[1:])]
    assert max(gaps) <= 1.5 + 1e-9  # 3/4 of the 2 s the peer advertises (spec 2.4.5)


def test_heartbeats_keep_an_idle_connection_alive_indefinitely() -> None:
    pair = opened_pair(client_config(idle_timeout=4.0), server_config(idle_timeout=4.0))
    for _ in range(50):
        pair.tick(1.0)
        c, s = pair.pump()
        assert of_type(c + s, ConnectionClosed) == []
    assert not pair.client.finished and not pair.server.finished


def test_silent_peer_is_closed_with_resource_limit_exceeded_after_our_idle_timeout() -> None:
    pair = opened_pair(server=server_config(idle_timeout=3.0))
    pair.tick(0.0)
    pair.clock.advance(2.9)
    assert pair.server.tick(pair.clock.now) == pytest.approx(3.0)
    pair.clock.advance(0.2)  # the client never ticks: it sends no heartbeats
    assert pair.server.tick(pair.clock.now) is None
    events = pair.server.take_events()
    assert of_type(events, ProtocolViolationDetected)[0].violation is Violation.IDLE_TIMEOUT
    (closed,) = of_type(events, ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:resource-limit-exceeded"
    c, _ = pair.pump()
    (peer_closed,) = of_type(c, ConnectionClosed)
    assert peer_closed.error is not None and peer_closed.error.condition == "amqp:resource-limit-exceeded"


def test_traffic_resets_the_idle_timer() -> None:
    pair = opened_pair(server=server_config(idle_timeout=3.0))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(100)
    pair.pump()
    for i in range(10):
        pair.clock.advance(2.0)
        sender.send(b"%d" % i)
        pair.pump()
        assert pair.server.tick(pair.clock.now) is not None
    assert not pair.server.finished


def test_trace_logs_every_frame_both_ways_when_enabled(caplog: pytest.LogCaptureFixture) -> None:
    trace.set_enabled(True)
    try:
        with caplog.at_level(logging.DEBUG, logger="amqp10.frames"):
            pair = opened_pair()
            sender, receiver, _, _ = link_pair(pair)
            receiver.flow(1)
            pair.pump()
            sender.send(b"payload")
            pair.pump()
    finally:
        trace.set_enabled(False)
    text = caplog.text
    for name in ("Open(", "Begin(", "Attach(", "Flow(", "Transfer("):
        assert name in text
    assert "-> @0 Transfer(" in text and "<- @0 Transfer(" in text
    assert "(7 payload bytes)" in text


def test_trace_is_silent_when_disabled(caplog: pytest.LogCaptureFixture) -> None:
    trace.set_enabled(False)
    with caplog.at_level(logging.DEBUG, logger="amqp10.frames"):
        opened_pair()
    assert caplog.records == []


def test_a_frame_trickled_one_byte_at_a_time_does_not_keep_the_connection_alive() -> None:
    # Spec 2.4.5 counts frames: bytes of a frame that never completes are not input.
    pair = opened_pair(server=server_config(idle_timeout=1.0))
    pair.tick(0.0)
    frame = FrameFactory.frame(Flow(incoming_window=1, next_outgoing_id=0, outgoing_window=1))
    expired_at = None
    for i, byte in enumerate(frame[:-1]):
        now = pair.clock.advance(0.6)
        pair.server.receive_data(bytes([byte]))
        if pair.server.tick(now) is None:
            expired_at = i
            break
    assert expired_at is not None and expired_at <= 2  # within 1 s of the last whole frame
    assert pair.server.finished
    (violation,) = of_type(pair.server.take_events(), ProtocolViolationDetected)
    assert violation.violation is Violation.IDLE_TIMEOUT


def test_a_frame_completed_by_its_last_byte_counts_as_input() -> None:
    pair = opened_pair(server=server_config(idle_timeout=1.0))
    pair.tick(0.0)
    frame = FrameFactory.heartbeat
    pair.server.receive_data(frame[:-1])
    pair.clock.advance(0.9)
    pair.server.receive_data(frame[-1:])
    assert pair.server.tick(pair.clock.now) == pytest.approx(1.9)  # stamped when it completed
    assert not pair.server.finished


def test_a_heartbeat_read_on_its_own_counts_as_input_and_makes_no_events() -> None:
    # An idle peer's every read is one whole empty frame: the engine takes it without
    # decoding or routing anything, and it still keeps the connection alive.
    pair = opened_pair(server=server_config(idle_timeout=1.0))
    pair.tick(0.0)
    for _ in range(5):
        now = pair.clock.advance(0.9)
        assert pair.server.receive_data(EMPTY_FRAME) == []
        assert pair.server.tick(now) == pytest.approx(now + 1.0)  # stamped at this tick
    assert not pair.server.finished
    assert pair.server.data_to_send() == b""  # nothing to answer
    now = pair.clock.advance(1.1)  # then silence: closed as usual
    assert pair.server.tick(now) is None
    (violation,) = of_type(pair.server.take_events(), ProtocolViolationDetected)
    assert violation.violation is Violation.IDLE_TIMEOUT


def test_a_heartbeat_read_on_its_own_is_in_the_frame_trace(caplog: pytest.LogCaptureFixture) -> None:
    pair = opened_pair()
    trace.set_enabled(True)
    try:
        with caplog.at_level(logging.DEBUG, logger="amqp10.frames"):
            pair.server.receive_data(EMPTY_FRAME)
    finally:
        trace.set_enabled(False)
    assert [r.getMessage().split("] ", 1)[1] for r in caplog.records] == ["<- heartbeat"]


def test_an_empty_frame_in_place_of_the_protocol_header_is_refused() -> None:
    pair = make_pair()
    pair.server.open()
    events = pair.server.receive_data(EMPTY_FRAME)
    assert pair.server.finished or of_type(events, ProtocolViolationDetected)


def test_a_heartbeat_after_part_of_a_frame_completes_nothing_on_its_own() -> None:
    # Eight bytes that happen to be an empty frame, read after the start of another frame,
    # are that frame's next bytes, not a heartbeat.
    pair = opened_pair(server=server_config(idle_timeout=1.0))
    pair.tick(0.0)
    frame = FrameFactory.frame(Flow(incoming_window=1, next_outgoing_id=0, outgoing_window=1))
    assert len(frame) > 10 + len(EMPTY_FRAME)
    pair.server.receive_data(frame[:10])  # its header and two bytes of its body
    now = pair.clock.advance(0.9)
    pair.server.receive_data(EMPTY_FRAME)
    assert pair.server.tick(now) == pytest.approx(1.0)  # no frame completed: not stamped
