"""Config.handshake_timeout: a peer that stalls in the opening (header, SASL, OPEN) or never
answers our CLOSE is given up on, through the deadline ``tick`` returns (no clock inside)."""

from __future__ import annotations

import pytest

from amqp10.codec.spec import Close, Open
from amqp10.engine import Connection
from amqp10.engine.events import ConnectionClosed, ConnectionOpened, ProtocolViolationDetected
from amqp10.engine.sasl import SaslClient, SaslServer
from amqp10.engine.violations import Violation
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body
from amqp10.testing import FrameFactory as F

from support.engine_pairs import client_config, make_pair, of_type, opened_pair, server_config


def _sasl_server(**kw: object) -> Connection:
    server = Connection(server_config(sasl=lambda: SaslServer(allow_anonymous=True), **kw))  # type: ignore[arg-type]
    server.open()
    return server


def _expires(conn: Connection, start: float, limit: float) -> list[object]:
    """Tick at ``start`` (the handshake's clock starts), then at the deadline it returns."""
    assert conn.tick(start) == pytest.approx(start + limit)
    assert conn.tick(start + limit - 0.01) == pytest.approx(start + limit)
    assert not conn.finished
    assert conn.tick(start + limit) is None
    assert conn.finished
    events = conn.take_events()
    (violation,) = of_type(events, ProtocolViolationDetected)
    assert violation.violation is Violation.HANDSHAKE_TIMEOUT
    assert violation.condition == "amqp:resource-limit-exceeded"
    (closed,) = of_type(events, ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:resource-limit-exceeded"
    assert not closed.by_peer
    return events


def test_server_gives_up_on_a_client_that_sends_nothing() -> None:
    server = _sasl_server(handshake_timeout=5.0)
    _expires(server, 100.0, 5.0)
    assert server.data_to_send() == b""  # nothing AMQP was ever said


def test_server_gives_up_on_a_client_that_stalls_after_the_sasl_header() -> None:
    server = _sasl_server(handshake_timeout=5.0)
    server.receive_data(F.sasl_header)
    _expires(server, 0.0, 5.0)


def test_server_gives_up_on_a_client_that_stalls_after_the_amqp_header_with_open_and_close() -> None:
    server = Connection(server_config(handshake_timeout=5.0))
    server.open()
    server.tick(0.0)
    server.receive_data(F.amqp_header)
    assert server.tick(5.0) is None
    reader = FrameReader(1 << 20)
    reader.feed(server.data_to_send())
    assert reader.read_header() == F.amqp_header
    bodies = [decode_body(f)[0] for f in reader.read_frames()]
    assert isinstance(bodies[0], Open) and isinstance(bodies[-1], Close)
    assert bodies[-1].error.condition == "amqp:resource-limit-exceeded"
    assert server.finished


def test_handshake_clock_starts_at_the_first_tick_and_bytes_do_not_restart_it() -> None:
    server = _sasl_server(handshake_timeout=5.0)
    assert server.tick(10.0) == pytest.approx(15.0)
    server.receive_data(F.sasl_header)  # progress, but the opening is not finished
    assert server.tick(12.0) == pytest.approx(15.0)


def test_client_gives_up_on_a_server_that_never_answers() -> None:
    client = Connection(client_config(sasl=lambda: SaslClient(mechanisms=["ANONYMOUS"]), handshake_timeout=2.0))
    client.open()
    client.data_to_send()
    _expires(client, 0.0, 2.0)


def test_a_finished_opening_has_no_handshake_deadline() -> None:
    pair = make_pair(client_config(handshake_timeout=1.0), server_config(handshake_timeout=1.0))
    pair.tick(0.0)
    pair.client.open()
    pair.server.open()
    c, s = pair.pump()
    assert of_type(c, ConnectionOpened) and of_type(s, ConnectionOpened)
    assert pair.tick(0.5) == (None, None)
    pair.tick(100.0)
    assert not pair.client.finished and not pair.server.finished


def test_no_handshake_timeout_means_a_silent_client_is_kept() -> None:
    server = _sasl_server(handshake_timeout=None)
    assert server.tick(0.0) is None
    assert server.tick(1e6) is None and not server.finished


def test_a_peer_that_never_answers_our_close_is_dropped_after_the_handshake_timeout() -> None:
    pair = opened_pair(client_config(handshake_timeout=3.0), server_config())
    pair.client.close()
    pair.client.data_to_send()  # the CLOSE is lost: the server never sees it
    assert pair.client.tick(50.0) == pytest.approx(53.0)
    assert not pair.client.finished
    assert pair.client.tick(53.0) is None
    assert pair.client.finished
    (closed,) = of_type(pair.client.take_events(), ConnectionClosed)
    assert closed.error is None and not closed.by_peer  # our own clean close, not answered


def test_an_unanswered_close_for_a_violation_keeps_its_error() -> None:
    server = Connection(server_config(handshake_timeout=3.0))
    server.open()
    server.receive_data(F.amqp_header + F.frame(Open(container_id="p")) + F.frame(Open(container_id="again")))
    assert not server.finished  # CLOSE(illegal-state) sent, waiting for the answer
    server.tick(0.0)
    assert server.tick(3.0) is None and server.finished
    (closed,) = of_type(server.take_events(), ConnectionClosed)
    assert closed.error is not None and closed.error.condition == "amqp:illegal-state"


def test_an_answered_close_ends_without_waiting_for_the_bound() -> None:
    pair = opened_pair(client_config(handshake_timeout=3.0), server_config())
    pair.tick(0.0)
    pair.client.close()
    pair.pump()
    assert pair.client.finished and pair.server.finished
