"""Both listeners reclaim sockets whose peer stalls: in the opening (nothing, a bare protocol
header, a SASL header; ``handshake_timeout``) or mid-frame after it (``idle_timeout`` counts
whole frames). Raw sockets on loopback play the stalled peers; a real client stays open."""

from __future__ import annotations

import asyncio
import selectors
import socket
import time
import pytest
import trio

import amqp10.blocking._reactor
import amqp10.trio
import amqp10.trio._server
from amqp10._options import DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_SERVER_IDLE_TIMEOUT, server_configs
from amqp10.blocking import connect, listen
from amqp10.codec.spec import Open
from amqp10.testing import FrameFactory as F
from amqp10.tls import server_context
from support.broker import QueueBroker
from support.certs import CertificateSet
from support import asyncio_helpers
from support.trio_helpers import serving, trio_test

HANDSHAKE = 0.5
PER_KIND = 20  # sockets of each kind of stall
STALLS: dict[str, bytes] = {
    "nothing": b"",
    "bare AMQP header": F.amqp_header,
    "SASL header": F.sasl_header,
    "half a header": F.amqp_header[:5],
}


def _open_stalled(port: int) -> list[socket.socket]:
    socks = []
    for first_bytes in STALLS.values():
        for _ in range(PER_KIND):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if first_bytes:
                sock.sendall(first_bytes)
            socks.append(sock)
    return socks


def _wait_closed(socks: list[socket.socket], limit: float) -> int:
    """Read every socket until the server closes it or ``limit`` seconds pass; return how
    many the server closed."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + limit
    try:
        while closed < len(socks):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for key, _ in selector.select(remaining):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:  # reset by the server: closed too
                    data = b""
                if not data:
                    selector.unregister(sock)
                    closed += 1
    finally:
        selector.close()
        for sock in socks:
            sock.close()
    return closed


def _stalled_sockets_are_closed(port: int) -> tuple[int, int]:
    started = time.monotonic()
    socks = _open_stalled(port)
    closed = _wait_closed(socks, 10.0)
    elapsed = time.monotonic() - started
    assert elapsed >= HANDSHAKE * 0.9  # not closed before their time
    return closed, len(socks)


def _trickle(port: int, pause: float, limit: float) -> float:
    """Open AMQP (header and OPEN, no SASL), then send a frame one byte every ``pause``
    seconds; return how long the server took to close the socket."""
    frame = F.raw(60_000) + bytes(100)  # a frame header promising 60 kB that never come
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(F.amqp_header + F.frame(Open(container_id="trickler")))
        sock.settimeout(pause)
        started = time.monotonic()
        for byte in frame:
            if time.monotonic() - started > limit:
                break
            try:
                sock.sendall(bytes([byte]))
                while sock.recv(65536):  # the server's header and OPEN, then its CLOSE
                    pass
                return time.monotonic() - started  # EOF: closed
            except socket.timeout:
                continue
            except OSError:
                return time.monotonic() - started
    raise AssertionError(f"the server kept a trickling peer for over {limit} s")


def _real_client_stays_open(url: str, wait: float) -> bool:
    with connect(url, timeout=5) as conn:
        time.sleep(wait)
        return not conn.closed


def test_listen_closes_sockets_stalled_in_the_opening_after_the_handshake_timeout() -> None:
    with listen("127.0.0.1", 0, QueueBroker(), handshake_timeout=HANDSHAKE) as listener:
        closed, total = _stalled_sockets_are_closed(listener.port)
        assert closed == total
        assert _real_client_stays_open(listener.url, HANDSHAKE * 3)


@trio_test
async def test_trio_serve_closes_sockets_stalled_in_the_opening_after_the_handshake_timeout() -> None:
    async with serving(QueueBroker(), handshake_timeout=HANDSHAKE) as server:
        closed, total = await trio.to_thread.run_sync(_stalled_sockets_are_closed, server.port)
        assert closed == total
        assert await trio.to_thread.run_sync(_real_client_stays_open, server.url, HANDSHAKE * 3)


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_closes_sockets_stalled_in_the_opening_after_the_handshake_timeout() -> None:
    async with asyncio_helpers.serving(QueueBroker(), handshake_timeout=HANDSHAKE) as server:
        closed, total = await asyncio.to_thread(_stalled_sockets_are_closed, server.port)
        assert closed == total
        assert await asyncio.to_thread(_real_client_stays_open, server.url, HANDSHAKE * 3)


def test_listen_closes_a_peer_trickling_one_byte_of_a_frame_at_a_time_after_its_idle_timeout() -> None:
    with listen("127.0.0.1", 0, QueueBroker(), idle_timeout=1.0) as listener:
        # One byte every 0.3 s used to keep the connection alive for ever.
        assert _trickle(listener.port, 0.3, 8.0) < 3.0


@trio_test
async def test_trio_serve_closes_a_peer_trickling_one_byte_of_a_frame_at_a_time_after_its_idle_timeout() -> None:
    async with serving(QueueBroker(), idle_timeout=1.0) as server:
        assert await trio.to_thread.run_sync(_trickle, server.port, 0.3, 8.0) < 3.0


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_closes_a_peer_trickling_one_byte_of_a_frame_at_a_time_after_its_idle_timeout() -> None:
    async with asyncio_helpers.serving(QueueBroker(), idle_timeout=1.0) as server:
        assert await asyncio.to_thread(_trickle, server.port, 0.3, 8.0) < 3.0


def test_listeners_default_to_an_idle_timeout_and_a_handshake_timeout() -> None:
    config = server_configs(tls_active=False)(None)
    assert config.idle_timeout == DEFAULT_SERVER_IDLE_TIMEOUT == 60.0
    assert config.handshake_timeout == DEFAULT_HANDSHAKE_TIMEOUT == 30.0
    assert server_configs(tls_active=False, idle_timeout=None, handshake_timeout=None)(None).handshake_timeout is None


def test_connect_passes_handshake_timeout_to_the_engine() -> None:
    from amqp10._options import client_options

    assert client_options("amqp://h/q").config.handshake_timeout == DEFAULT_HANDSHAKE_TIMEOUT
    assert client_options("amqp://h/q", handshake_timeout=2.5).config.handshake_timeout == 2.5



def test_listen_with_tls_closes_sockets_that_never_start_the_tls_handshake(
    certs: CertificateSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the TLS handshake there is no engine to time out: the reactor bounds it itself.
    monkeypatch.setattr(amqp10.blocking._reactor, "TLS_HANDSHAKE_TIMEOUT", HANDSHAKE)
    context = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    with listen("127.0.0.1", 0, QueueBroker(), ssl_context=context) as listener:
        socks = [socket.create_connection(("127.0.0.1", listener.port), timeout=5) for _ in range(PER_KIND)]
        assert _wait_closed(socks, 10.0) == PER_KIND


@trio_test
async def test_trio_serve_with_tls_closes_sockets_that_never_start_the_tls_handshake(
    certs: CertificateSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(amqp10.trio._server, "_HANDSHAKE_TIMEOUT", HANDSHAKE)
    context = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    async with serving(QueueBroker(), ssl_context=context) as server:

        def stall() -> int:
            socks = [socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(PER_KIND)]
            return _wait_closed(socks, 10.0)

        assert await trio.to_thread.run_sync(stall) == PER_KIND
