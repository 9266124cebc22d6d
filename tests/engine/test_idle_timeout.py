from __future__ import annotations

import logging

import pytest

from amqp10.engine import trace
from amqp10.engine.events import ConnectionClosed, ProtocolViolationDetected
from amqp10.engine.violations import Violation
from amqp10.framing import EMPTY_FRAME

from support.engine_pairs import client_config, link_pair, of_type, opened_pair, server_config


def test_tick_returns_no_deadline_without_idle_timeouts() -> None:
    pair = opened_pair()
    assert pair.tick(100.0) == (None, None)


def test_heartbeats_go_out_at_half_the_peers_idle_timeout() -> None:
    pair = opened_pair(server=server_config(idle_timeout=10.0))
    client_deadline, server_deadline = pair.tick(0.0)
    assert client_deadline == pytest.approx(5.0)  # half of the server's 10 s
    assert pair.client.data_to_send() == b""
    pair.tick(5.0)
    assert pair.client.data_to_send() == EMPTY_FRAME
    assert server_deadline == pytest.approx(10.0)


def test_heartbeats_go_out_at_half_the_peers_idle_timeout_when_ticked_only_at_deadlines() -> None:
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
    assert gaps and max(gaps) <= 2.0  # half the peer's 4 s (spec 2.4.5), not all of it


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
