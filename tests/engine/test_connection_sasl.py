"""The connection's SASL hand-over (spec 5.3), with the real SASL negotiators on both ends."""

from __future__ import annotations

from amqp10.engine import ConnectionState
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.engine.events import ConnectionClosed, ConnectionOpened, DeliveryReceived, ProtocolViolationDetected, SaslOutcomeReceived
from amqp10.engine.sasl import SaslClient, SaslServer
from amqp10.engine.violations import Violation
from amqp10.errors import SASLError
from amqp10.testing import FrameFactory

from support.engine_pairs import client_config, link_pair, make_pair, of_type, server_config


def _server(**kw):  # type: ignore[no-untyped-def]
    auth = SimpleAuthenticator({"alice": "secret"})
    return server_config(
        sasl=lambda: SaslServer(auth, allow_insecure_plain=True, allow_anonymous=True), **kw
    )


def test_client_pipelines_open_begin_attach_behind_sasl_plain_and_they_arrive_after_success() -> None:
    pair = make_pair(
        client_config(sasl=lambda: SaslClient(username="alice", password="secret", mechanisms=["PLAIN"], allow_insecure_plain=True)),
        _server(),
    )
    pair.client.open()
    session = pair.client.begin_session()
    sender = session.attach_sender("s")
    first = pair.client.data_to_send()
    assert first == FrameFactory.sasl_header  # nothing AMQP leaves before authentication
    pair.server.open()
    s = pair.server.receive_data(first)
    c, s2 = pair.pump()
    s += s2
    (outcome,) = of_type(s, SaslOutcomeReceived)
    assert outcome.succeeded and outcome.user == "alice"
    assert of_type(c, SaslOutcomeReceived)[0].succeeded
    assert of_type(s, ConnectionOpened) and of_type(c, ConnectionOpened)
    assert pair.server.user == "alice"
    assert [type(e).__name__ for e in s][-2:] == ["SessionRemotelyBegun", "LinkRemotelyAttached"]
    assert pair.client.state is ConnectionState.OPENED


def test_anonymous_sasl_then_a_message_flows() -> None:
    pair = make_pair(client_config(sasl=lambda: SaslClient(mechanisms=["ANONYMOUS"])), _server())
    pair.client.open()
    pair.server.open()
    pair.pump()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(b"hi")
    _, s = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"hi"]


def test_wrong_password_ends_both_sides_with_a_sasl_error_and_sends_no_amqp() -> None:
    pair = make_pair(
        client_config(sasl=lambda: SaslClient(username="alice", password="wrong", mechanisms=["PLAIN"], allow_insecure_plain=True)),
        _server(),
    )
    pair.client.open()
    pair.server.open()
    c, s = pair.pump()
    (outcome,) = of_type(c, SaslOutcomeReceived)
    assert not outcome.succeeded and isinstance(outcome.error, SASLError) and outcome.error.code == 1
    (closed,) = of_type(c, ConnectionClosed)
    assert isinstance(closed.error, SASLError)
    assert pair.client.finished and pair.server.finished
    assert of_type(s, ConnectionOpened) == []


def test_server_requiring_sasl_answers_a_plain_amqp_header_with_the_sasl_header() -> None:
    pair = make_pair(client_config(), _server())
    pair.client.open()
    c, s = pair.pump()
    assert of_type(s, ProtocolViolationDetected)[0].violation is Violation.BAD_HEADER
    assert pair.server.finished and pair.client.finished
    assert of_type(c, ConnectionClosed)


def test_server_with_allow_no_sasl_accepts_a_client_without_sasl() -> None:
    pair = make_pair(client_config(), _server(allow_no_sasl=True))
    pair.client.open()
    pair.server.open()
    pair.pump()
    assert pair.client.state is ConnectionState.OPENED is pair.server.state


def test_server_without_sasl_refuses_a_sasl_header_with_the_amqp_header() -> None:
    pair = make_pair(client_config(sasl=lambda: SaslClient(mechanisms=["ANONYMOUS"])), server_config())
    pair.client.open()
    c, _ = pair.pump()
    assert of_type(c, ProtocolViolationDetected)[0].violation is Violation.BAD_HEADER
    assert pair.client.finished and pair.server.finished
