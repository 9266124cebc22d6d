from __future__ import annotations

from amqp10.codec.spec import Error
from amqp10.engine import SessionState
from amqp10.engine.events import (
    DeliveryReceived,
    LinkDetached,
    ProtocolViolationDetected,
    SessionEnded,
    SessionRemotelyBegun,
)
from amqp10.engine.window import SessionWindow
from amqp10.errors import SessionEndedError

from support.engine_pairs import link_pair, of_type, opened_pair, server_config


def test_SessionWindow_computes_the_remote_incoming_window_with_serial_wrap() -> None:
    w = SessionWindow(next_outgoing_id=(1 << 32) - 1, incoming_window=10, outgoing_window=10)
    w.on_remote_flow((1 << 32) - 1, 3, 0, 10)
    assert w.remote_incoming_window == 3
    for _ in range(3):
        assert w.can_send
        w.on_send_transfer()
    assert w.next_outgoing_id == 2 and not w.can_send


def test_sender_stops_at_the_peers_incoming_window_and_resumes_when_it_reopens() -> None:
    pair = opened_pair(server=server_config(incoming_window=4))
    sender, receiver, csession, _ = link_pair(pair)
    receiver.flow(100)
    pair.pump()
    for i in range(20):
        sender.send(b"%d" % i)
    # first flight: exactly the 4 frames the window allows
    events = pair.server.receive_data(pair.client.data_to_send())
    assert len(of_type(events, DeliveryReceived)) == 4
    assert csession.window.remote_incoming_window == 0
    _, s = pair.pump()
    got = [bytes(e.delivery.payload) for e in of_type(events + s, DeliveryReceived)]
    assert got == [b"%d" % i for i in range(20)]
    assert of_type(s, ProtocolViolationDetected) == []


def test_transfer_ids_wrap_around_2_to_the_32() -> None:
    pair = opened_pair()
    start = (1 << 32) - 3
    sender, receiver, csession, ssession = link_pair(pair, session_options={"next_outgoing_id": start})
    receiver.flow(10)
    for i in range(6):
        sender.send(b"%d" % i)
    _, s = pair.pump()
    ids = [e.delivery.id for e in of_type(s, DeliveryReceived)]
    assert ids == [(start + i) % (1 << 32) for i in range(6)]
    assert csession.window.next_outgoing_id == 3
    assert ssession.window.next_incoming_id == 3


def test_session_end_with_error_reaches_the_peer_as_a_typed_error_and_detaches_links() -> None:
    pair = opened_pair()
    sender, receiver, csession, ssession = link_pair(pair)
    ssession.end(Error(condition="amqp:resource-limit-exceeded", description="too many"))
    c, s = pair.pump()
    (ended,) = of_type(c, SessionEnded)
    assert ended.by_peer and isinstance(ended.error, SessionEndedError)
    assert ended.error.condition == "amqp:resource-limit-exceeded"
    (detached,) = of_type(c, LinkDetached)
    assert detached.link is sender
    assert of_type(s, SessionEnded)[0].by_peer is False
    assert csession.state is SessionState.UNMAPPED is ssession.state
    assert pair.client.sessions == [] and pair.server.sessions == []


def test_refusing_a_peer_session_sends_begin_then_end() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    _, s = pair.pump()
    (begun,) = of_type(s, SessionRemotelyBegun)
    begun.session.end(Error(condition="amqp:not-allowed"))
    c, _ = pair.pump()
    assert [type(e).__name__ for e in c] == ["SessionBegun", "SessionEnded"]
    assert session.state is SessionState.UNMAPPED


def test_sessions_are_independent_on_one_connection() -> None:
    pair = opened_pair()
    a_sender, a_receiver, a_cs, _ = link_pair(pair, name="a")
    b_sender, b_receiver, b_cs, _ = link_pair(pair, name="b")
    assert a_cs.channel != b_cs.channel
    a_receiver.flow(5)
    b_receiver.flow(5)
    pair.pump()
    a_sender.send(b"to a")
    b_sender.send(b"to b")
    a_cs.end()
    _, s = pair.pump()
    assert {bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)} == {b"to a", b"to b"}
    b_sender.send(b"still b")
    _, s = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"still b"]
