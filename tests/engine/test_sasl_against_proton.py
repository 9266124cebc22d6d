"""Our SASL negotiators against python-qpid-proton's, in memory (an independent implementation).

``proton.Transport`` is sans-IO: we push bytes in and pop bytes out. The SASL frames are framed
here by hand (8-byte header, type 1, spec 2.3 / 5.3.1) with amqp10.codec, so these tests do not
depend on the engine's framing. Proton's built-in SASL (no Cyrus) speaks ANONYMOUS and PLAIN
as a client and ANONYMOUS as a server, which bounds what can be cross-checked here.
"""

from __future__ import annotations

import struct

import proton

from amqp10.codec import decode, encode
from amqp10.codec.composite import Composite
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.engine.sasl import SaslClient, SaslServer

SASL_HEADER = b"AMQP\x03\x01\x00\x00"
AMQP_HEADER = b"AMQP\x00\x01\x00\x00"
SASL_FRAME_TYPE = 1


def sasl_frame(body: Composite) -> bytes:
    """Spec 2.3.1: size (incl. header), doff = 2 words, type 1 (SASL), channel ignored (0)."""
    payload = encode(body)
    return struct.pack(">IBBH", 8 + len(payload), 2, SASL_FRAME_TYPE, 0) + payload


class SaslWire:
    """Splits the bytes one peer sends during SASL into its header and frame bodies."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.header: bytes | None = None

    def feed(self, data: bytes) -> list[Composite]:
        self.buffer += data
        if self.header is None:
            if len(self.buffer) < 8:
                return []
            self.header, self.buffer = bytes(self.buffer[:8]), self.buffer[8:]
        bodies = []
        while len(self.buffer) >= 8 and not self.buffer.startswith(b"AMQP"):
            size, doff, ftype, _ = struct.unpack(">IBBH", self.buffer[:8])
            assert ftype == SASL_FRAME_TYPE and 8 <= doff * 4 <= size <= 65536
            if len(self.buffer) < size:
                break
            bodies.append(decode(bytes(self.buffer[doff * 4 : size])))
            del self.buffer[:size]
        return bodies


def drain(transport: proton.Transport) -> bytes:
    pending = transport.pending()
    if pending <= 0:
        return b""
    data = transport.peek(pending)
    transport.pop(pending)
    return bytes(data)


def run_against_proton_client(
    transport: proton.Transport, server: SaslServer
) -> tuple[SaslWire, list[Composite]]:
    """Our server speaks first; pump until proton has nothing more to say. Returns what proton sent."""
    wire = SaslWire()
    received: list[Composite] = []
    transport.push(SASL_HEADER + b"".join(sasl_frame(b) for b in server.initial_frames()))
    for _ in range(10):  # bounded: a SASL exchange is a handful of frames
        data = drain(transport)
        if not data:
            break
        for body in wire.feed(data):
            received.append(body)
            if not server.done:
                replies = server.receive(body)
                transport.push(b"".join(sasl_frame(r) for r in replies))
    return wire, received


def proton_client(mechs: str, user: str | None = None, password: str | None = None) -> proton.Transport:
    transport = proton.Transport()
    connection = proton.Connection()
    if user is not None:
        connection.user = user
    if password is not None:
        connection.password = password
    transport.bind(connection)
    sasl = transport.sasl()
    sasl.allowed_mechs(mechs)
    sasl.allow_insecure_mechs = True  # loopback-only test: PLAIN in clear is what we check
    connection.open()
    return transport


def test_SaslServer_authenticates_a_proton_client_with_plain_when_the_password_is_right() -> None:
    transport = proton_client("PLAIN", "bob", "builder")
    server = SaslServer(SimpleAuthenticator({"bob": "builder"}), allow_insecure_plain=True)
    wire, received = run_against_proton_client(transport, server)
    assert wire.header == SASL_HEADER
    assert [type(b).__name__ for b in received] == ["SaslInit"]
    assert server.succeeded and server.user == "bob"
    assert transport.sasl().outcome == proton.SASL.OK
    # Proton accepted our outcome: it moved on to the AMQP layer with a fresh protocol header.
    assert bytes(wire.buffer).startswith(AMQP_HEADER)


def test_SaslServer_refuses_a_proton_client_with_outcome_auth_when_the_password_is_wrong() -> None:
    transport = proton_client("PLAIN", "bob", "wrong")
    server = SaslServer(SimpleAuthenticator({"bob": "builder"}), allow_insecure_plain=True)
    wire, _ = run_against_proton_client(transport, server)
    assert server.done and not server.succeeded
    assert server.error is not None and server.error.code == 1
    assert transport.sasl().outcome == proton.SASL.AUTH
    assert not bytes(wire.buffer).startswith(AMQP_HEADER)


def test_SaslServer_authenticates_a_proton_client_with_anonymous_when_allowed() -> None:
    transport = proton_client("ANONYMOUS")
    server = SaslServer(allow_anonymous=True)
    wire, _ = run_against_proton_client(transport, server)
    assert server.succeeded and server.user == "anonymous"
    assert transport.sasl().outcome == proton.SASL.OK
    assert bytes(wire.buffer).startswith(AMQP_HEADER)


def test_SaslServer_leaves_a_proton_client_without_a_mechanism_when_plain_is_not_offered() -> None:
    # Plain TCP, no allow_insecure_plain: we offer only SCRAM, which proton's built-in SASL lacks.
    transport = proton_client("PLAIN", "bob", "builder")
    server = SaslServer(SimpleAuthenticator({"bob": "builder"}))
    _, received = run_against_proton_client(transport, server)
    assert received == [] and not server.done
    assert transport.sasl().outcome != proton.SASL.OK


def test_SaslClient_authenticates_anonymously_with_a_proton_server() -> None:
    transport = proton.Transport(proton.Transport.SERVER)
    transport.bind(proton.Connection())
    transport.sasl().allowed_mechs("ANONYMOUS")
    client = SaslClient()
    wire = SaslWire()
    transport.push(SASL_HEADER)
    for _ in range(10):  # bounded
        data = drain(transport)
        if not data:
            break
        for body in wire.feed(data):
            transport.push(b"".join(sasl_frame(r) for r in client.receive(body)))
    assert wire.header == SASL_HEADER
    assert client.succeeded and client.mechanism is not None and client.mechanism.value == "ANONYMOUS"
    assert transport.sasl().outcome == proton.SASL.OK


def test_SaslClient_refuses_a_proton_server_offering_only_anonymous_when_it_has_credentials() -> None:
    transport = proton.Transport(proton.Transport.SERVER)
    transport.bind(proton.Connection())
    transport.sasl().allowed_mechs("ANONYMOUS")
    client = SaslClient(username="bob", password="builder", allow_insecure_plain=True)
    wire = SaslWire()
    transport.push(SASL_HEADER)
    sent = []
    for body in wire.feed(drain(transport)):
        sent += client.receive(body)
    assert sent == [] and client.done and not client.succeeded
    assert client.error is not None and "the server offers ANONYMOUS" in str(client.error)
