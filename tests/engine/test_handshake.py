"""The connection's opening phase on its own (``engine/handshake.py``): headers and SASL, with
AMQP frames held until authentication succeeds, then the hand-over to ``Connection``."""

from __future__ import annotations

import pytest

from amqp10.engine import Config, ConnectionRole
from amqp10.engine.handshake import Handshake, Phase, Progress, SaslFinished
from amqp10.engine.sasl import SaslClient, SaslServer
from amqp10.engine.violations import PeerViolation, Violation
from amqp10.framing.headers import AMQP_HEADER, SASL_HEADER
from amqp10.framing.reader import FrameReader


def _no_trace(*args: object, **kwargs: object) -> None:
    pass


class _Side:
    def __init__(self, config: Config) -> None:
        self.out = bytearray()
        self.handshake = Handshake(config, self.out, _no_trace)
        self.reader = FrameReader(config.max_frame_size)
        self.progress: list[Progress | SaslFinished] = []

    def feed(self, data: bytes) -> None:
        self.reader.feed(data)
        while not self.handshake.done:
            step = self.handshake.read(self.reader)
            if step is Progress.NEED_BYTES:
                return
            self.progress.append(step)

    def take(self) -> bytes:
        data = bytes(self.out)
        self.out.clear()
        return data


def _client() -> _Side:
    return _Side(Config(container_id="c", role=ConnectionRole.CLIENT, sasl=lambda: SaslClient(mechanisms=["ANONYMOUS"])))


def _server() -> _Side:
    return _Side(Config(container_id="s", role=ConnectionRole.SERVER, sasl=lambda: SaslServer(allow_anonymous=True)))


def _exchange(client: _Side, server: _Side) -> None:
    for _ in range(10):
        to_server, to_client = client.take(), server.take()
        if not to_server and not to_client:
            return
        server.feed(to_server)
        client.feed(to_client)


def test_Handshake_holds_AMQP_frames_until_SASL_succeeds_then_hands_over_on_both_sides() -> None:
    client, server = _client(), _server()
    assert bytes(client.out).startswith(SASL_HEADER) and not client.handshake.header_sent
    client.handshake.buffer().extend(b"<pipelined OPEN>")
    assert b"<pipelined OPEN>" not in client.out  # held while SASL runs
    _exchange(client, server)
    assert client.handshake.done and server.handshake.done
    (outcome,) = [p for p in client.progress if isinstance(p, SaslFinished)]
    assert outcome.event.succeeded and outcome.error is None
    assert client.progress[-1] is Progress.AMQP_HEADER_RECEIVED
    assert server.progress[-1] is Progress.AMQP_HEADER_RECEIVED
    assert client.handshake.header_sent and server.handshake.header_sent
    assert client.handshake.buffer() is client.out


def test_Handshake_sends_the_held_frames_right_behind_the_clients_AMQP_header() -> None:
    client, server = _client(), _server()
    client.handshake.buffer().extend(b"<pipelined OPEN>")
    for _ in range(10):
        to_server = client.take()
        if AMQP_HEADER in to_server:
            assert to_server.endswith(AMQP_HEADER + b"<pipelined OPEN>")
            return
        server.feed(to_server)
        client.feed(server.take())
    pytest.fail("the client never sent its AMQP header")


def test_Handshake_raises_BAD_HEADER_and_answers_with_a_header_it_speaks_when_the_peer_speaks_another_protocol() -> None:
    server = _server()
    with pytest.raises(PeerViolation) as info:
        server.feed(b"AMQP\x00\x00\x09\x01")  # AMQP 0-9-1
    assert info.value.violation is Violation.BAD_HEADER
    assert bytes(server.out) == SASL_HEADER  # spec 2.2: answer with what we support, then close
    assert server.handshake.phase is Phase.ANY_HEADER


def test_Handshake_reports_a_failed_SASL_exchange_for_the_connection_to_end() -> None:
    client = _Side(Config(container_id="c", role=ConnectionRole.CLIENT, sasl=lambda: SaslClient(mechanisms=["SCRAM-SHA-256"], username="u", password="p")))
    server = _server()  # offers ANONYMOUS only: nothing in common
    _exchange(client, server)
    (finished,) = [p for p in client.progress if isinstance(p, SaslFinished)]
    assert not finished.event.succeeded and finished.error is not None
    assert not client.handshake.done


def test_Handshake_raises_BAD_HEADER_when_the_first_bytes_are_no_protocol_header() -> None:
    server = _server()
    with pytest.raises(PeerViolation) as info:
        server.feed(b"HTTP/1.1 200 OK\r\n")
    assert info.value.violation is Violation.BAD_HEADER
