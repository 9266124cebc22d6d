"""The trace command's passive frame decoder, fed the real byte streams of two engines."""

from __future__ import annotations

import io

from amqp10.cli.frames import FrameLog
from amqp10.cli.trace import decode_capture
from amqp10.codec.message import Message
from amqp10.codec.spec import Properties, Source, Target
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.events import LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.engine.sasl import SaslClient, SaslServer


class _Alice:
    """An authenticator that knows one PLAIN user."""

    def authenticate_plain(self, user: str, password: str) -> bool:
        return user == "alice" and password == "secret"

    def scram_credentials(self, user: str, mechanism: object) -> None:
        return None

    def authenticate_external(self, identity: str) -> bool:
        return False


def _conversation(*, sasl: bool, body: bytes = b"", server_frames: int = 1 << 16) -> tuple[bytes, bytes]:
    """Run a client and a server engine through open, attach, one transfer and close;
    return what each side sent."""
    client_cfg = Config(container_id="tracer-client", max_frame_size=512)
    server_cfg = Config(role=ConnectionRole.SERVER, container_id="tracer-server", max_frame_size=server_frames)
    if sasl:
        client_cfg = Config(
            container_id="tracer-client",
            max_frame_size=512,
            sasl=lambda: SaslClient(
                username="alice", password="secret", mechanisms=["PLAIN"], allow_insecure_plain=True
            ),
        )
        server_cfg = Config(
            role=ConnectionRole.SERVER,
            container_id="tracer-server",
            sasl=lambda: SaslServer(_Alice(), mechanisms=["PLAIN"], allow_insecure_plain=True),
        )
    client, server = Connection(client_cfg), Connection(server_cfg)
    client.open()
    server.open()
    sender = client.begin_session().attach_sender("s", source=Source(), target=Target(address="q"))
    sent_by_client = bytearray()
    sent_by_server = bytearray()
    delivered = False
    for _ in range(50):
        c = client.data_to_send()
        s = server.data_to_send()
        if not c and not s:
            if not delivered:
                delivered = True
                sender.send(Message(body or "hello", properties=Properties(to="q")).encode())
                continue
            break
        sent_by_client += c
        sent_by_server += s
        for event in server.receive_data(c) if c else []:
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            elif isinstance(event, LinkRemotelyAttached):
                event.link.attach()
                event.link.flow(10)  # type: ignore[attr-defined]
        if s:
            client.receive_data(s)
    return bytes(sent_by_client), bytes(sent_by_server)


def test_FrameLog_prints_header_open_attach_and_the_message_when_fed_a_client_stream() -> None:
    to_server, to_client = _conversation(sasl=False)
    lines = FrameLog("c->s").feed(to_server)
    text = "\n".join(lines)
    assert lines[0] == "c->s header AMQP 1.0.0"
    assert "open(container_id='tracer-client'" in text
    assert "begin(" in text and "attach(name='s'" in text
    assert "transfer(" in text and "body='hello'" in text and "to='q'" in text
    server_lines = FrameLog("s->c").feed(to_client)
    assert any("flow(" in line and "link_credit=10" in line for line in server_lines)


def test_FrameLog_gives_the_same_lines_when_the_stream_arrives_byte_by_byte() -> None:
    to_server, _ = _conversation(sasl=True)
    whole = FrameLog("x").feed(to_server)
    log = FrameLog("x")
    pieces: list[str] = []
    for i in range(len(to_server)):
        pieces += log.feed(to_server[i : i + 1])
    assert pieces == whole


def test_FrameLog_follows_sasl_then_amqp_and_hides_the_password() -> None:
    to_server, to_client = _conversation(sasl=True)
    lines = FrameLog("c->s").feed(to_server)
    text = "\n".join(lines)
    assert lines[0] == "c->s header SASL 1.0.0"
    assert "sasl sasl-init(mechanism='PLAIN', initial_response=<" in text
    assert "secret" not in text
    assert "header AMQP 1.0.0" in text and "open(" in text
    server_text = "\n".join(FrameLog("s->c").feed(to_client))
    assert "sasl sasl-mechanisms(" in server_text and "sasl sasl-outcome(code=OK" in server_text


def test_FrameLog_reassembles_a_message_split_over_several_transfers() -> None:
    to_server, _ = _conversation(sasl=False, body=b"z" * 2000, server_frames=512)
    lines = [line for line in FrameLog("c->s").feed(to_server) if "transfer(" in line]
    assert len(lines) >= 4
    assert all("(more follow)" in line for line in lines[:-1])
    assert "body=b'zzzz" in lines[-1] and "more=True" not in lines[-1]


def test_FrameLog_reports_once_and_stops_decoding_when_the_bytes_are_not_amqp() -> None:
    log = FrameLog("x")
    lines = log.feed(b"GET / HTTP/1.1\r\n\r\n")
    assert len(lines) == 1 and "cannot follow" in lines[0]
    assert log.feed(b"more") == [] and log.lost


def test_decode_capture_prints_every_frame_of_a_capture_file() -> None:
    to_server, _ = _conversation(sasl=False)
    out = io.StringIO()
    decode_capture(io.BytesIO(to_server), out, label="cap")
    assert out.getvalue().splitlines() == FrameLog("cap").feed(to_server)
