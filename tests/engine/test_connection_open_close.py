from __future__ import annotations

import pytest

from amqp10.codec.spec import Close, Error, Open
from amqp10.engine import Connection, ConnectionState
from amqp10.engine.events import ConnectionClosed, ConnectionOpened, ProtocolViolationDetected, SessionBegun
from amqp10.engine.violations import Violation
from amqp10.errors import ConnectionClosedError, LocalProtocolError
from amqp10.testing import FrameFactory

from support.engine_pairs import client_config, make_pair, of_type, opened_pair, server_config


def test_Connection_opens_both_ways_and_reports_the_peers_open_fields() -> None:
    pair = make_pair(
        client_config(
            hostname="example.org",
            max_frame_size=4096,
            channel_max=7,
            idle_timeout=30.0,
            offered_capabilities=["ANONYMOUS-RELAY"],
            desired_capabilities=["DELAYED_DELIVERY"],
            properties={"product": "amqp10"},
        ),
        server_config(container_id="srv"),
    )
    pair.client.open()
    pair.server.open()
    c, s = pair.pump()
    (opened,) = of_type(s, ConnectionOpened)
    assert opened.container_id == "client"
    o = opened.open
    assert o.hostname == "example.org"
    assert o.max_frame_size == 4096 and o.channel_max == 7 and o.idle_time_out == 15000  # half of 30 s (2.4.5)
    assert list(o.offered_capabilities) == ["ANONYMOUS-RELAY"]
    assert list(o.desired_capabilities) == ["DELAYED_DELIVERY"]
    assert o.properties == {"product": "amqp10"}
    assert of_type(c, ConnectionOpened)[0].container_id == "srv"
    assert pair.client.state is ConnectionState.OPENED is pair.server.state
    assert pair.server.remote_max_frame_size == 4096 and pair.server.remote_channel_max == 7


def test_Connection_client_pipelines_header_open_begin_and_attach_before_any_reply() -> None:
    pair = make_pair()
    pair.client.open()
    session = pair.client.begin_session()
    session.attach_sender("s")
    first_flight = pair.client.data_to_send()
    assert first_flight.startswith(FrameFactory.amqp_header)
    assert pair.client.state is ConnectionState.OPEN_PIPE
    # the server sees every frame of the flight at once
    events = pair.server.receive_data(first_flight)
    assert [type(e).__name__ for e in events] == ["ConnectionOpened", "SessionRemotelyBegun", "LinkRemotelyAttached"]


def test_Connection_server_may_call_open_before_the_client_header_arrives() -> None:
    pair = make_pair()
    pair.server.open()
    assert pair.server.data_to_send() == b""
    pair.client.open()
    pair.pump()
    assert pair.server.state is ConnectionState.OPENED


def test_Connection_close_without_error_ends_both_sides_cleanly() -> None:
    pair = opened_pair()
    pair.client.close()
    c, s = pair.pump()
    assert of_type(c, ConnectionClosed) == [ConnectionClosed(error=None, by_peer=False)]
    assert of_type(s, ConnectionClosed) == [ConnectionClosed(error=None, by_peer=True)]
    assert pair.client.finished and pair.server.finished


def test_Connection_close_with_error_surfaces_a_typed_error_at_the_peer() -> None:
    pair = opened_pair()
    pair.server.close(Error(condition="amqp:connection:forced", description="maintenance", info={"k": 1}))
    c, s = pair.pump()
    (closed,) = of_type(c, ConnectionClosed)
    assert isinstance(closed.error, ConnectionClosedError)
    assert closed.error.condition == "amqp:connection:forced"
    assert closed.error.description == "maintenance"
    assert closed.error.info == {"k": 1}
    assert closed.by_peer
    assert pair.server.finished and pair.client.finished


def test_Connection_close_before_the_peer_opened_sends_open_then_close() -> None:
    pair = make_pair()
    pair.client.open()
    pair.pump()
    # the server never called open(); closing must still send OPEN first (spec 2.4.3)
    pair.server.close()
    c, _ = pair.pump()
    assert [type(e) for e in c] == [ConnectionOpened, ConnectionClosed]


def test_Connection_eof_before_close_reports_the_transport_loss() -> None:
    pair = opened_pair()
    (closed,) = pair.client.receive_data(b"")
    assert isinstance(closed, ConnectionClosed) and closed.by_peer
    assert isinstance(closed.error, ConnectionClosedError)
    assert pair.client.finished


def test_Connection_eof_after_close_reports_nothing_more() -> None:
    pair = opened_pair()
    pair.client.close()
    pair.pump()
    assert pair.client.receive_data(b"") == []


def test_Connection_begin_session_before_open_is_local_misuse() -> None:
    pair = make_pair()
    with pytest.raises(LocalProtocolError):
        pair.client.begin_session()


def test_Connection_close_twice_is_local_misuse() -> None:
    pair = opened_pair()
    pair.client.close()
    with pytest.raises(LocalProtocolError):
        pair.client.close()


def test_Connection_many_sessions_get_distinct_channels_on_both_sides() -> None:
    pair = opened_pair()
    sessions = [pair.client.begin_session() for _ in range(5)]
    assert [s.channel for s in sessions] == [0, 1, 2, 3, 4]
    _, s = pair.pump()
    for e in s:
        e.session.begin()  # type: ignore[attr-defined]
    c, _ = pair.pump()
    assert len(of_type(c, SessionBegun)) == 5
    assert len(pair.server.sessions) == 5


def test_Connection_refuses_to_begin_beyond_the_peers_channel_max() -> None:
    pair = opened_pair(server=server_config(channel_max=1))
    pair.client.begin_session()
    pair.client.begin_session()
    with pytest.raises(LocalProtocolError):
        pair.client.begin_session()


def test_Connection_answers_a_peer_open_with_max_frame_size_below_512_with_invalid_field() -> None:
    server = Connection(server_config())
    server.open()
    events = server.receive_data(FrameFactory.amqp_header + FrameFactory.frame(Open(container_id="x", max_frame_size=100)))
    (violation,) = of_type(events, ProtocolViolationDetected)
    assert violation.violation is Violation.INVALID_FIELD
    assert violation.condition == "amqp:invalid-field"
    assert server.state is ConnectionState.DISCARDING


def test_Connection_answers_the_peers_close_even_when_discarding() -> None:
    server = Connection(server_config())
    server.open()
    server.receive_data(FrameFactory.amqp_header + FrameFactory.frame(Open(container_id="x", max_frame_size=100)))
    events = server.receive_data(FrameFactory.frame(Close()))
    (closed,) = of_type(events, ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:invalid-field"
    assert server.finished
