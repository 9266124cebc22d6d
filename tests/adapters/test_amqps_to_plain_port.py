"""``amqps://`` pointed at a plain (non-TLS) port fails with a ``ConnectionClosedError`` that
says the port is probably not a TLS port and what to use instead, on every adapter, over real
loopback sockets (blocking, trio and asyncio): against amqp10's own plain listener, and against a peer that answers the
ClientHello with an AMQP protocol header (as RabbitMQ and Proton do), where it is certain.

The ``amqp10 send`` command prints that as one line and exits non-zero.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import ConnectionClosedError
from amqp10.peer.server import start
from amqp10.tls import client_context
from support.asyncio_helpers import asyncio_test
from support.trio_helpers import trio_test

ADVICE = "use amqp:// for a plain port"


@contextmanager
def header_answering_port() -> Iterator[int]:
    """A port that answers whatever arrives with the AMQP 1.0 SASL protocol header and closes."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)

    def serve() -> None:
        for _ in range(1):
            try:
                sock, _ = listener.accept()
            except OSError:
                return
            with sock:
                sock.settimeout(5)
                try:
                    sock.recv(4096)
                    sock.sendall(b"AMQP\x03\x01\x00\x00")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        listener.close()
        thread.join(10)


def _insecure() -> object:
    return client_context(verify=False)


def test_blocking_amqps_to_a_plain_amqp10_listener_says_the_port_is_not_tls() -> None:
    with start("127.0.0.1", 0) as peer:
        with pytest.raises(ConnectionClosedError, match="plain \\(non-TLS\\) port") as info:
            amqp10.connect(f"amqps://127.0.0.1:{peer.port}", ssl_context=_insecure(), timeout=10)  # type: ignore[arg-type]
    assert ADVICE in str(info.value)


def test_blocking_amqps_to_a_port_answering_an_amqp_header_says_it_is_not_a_tls_port() -> None:
    with header_answering_port() as port:
        with pytest.raises(ConnectionClosedError, match="answered with an AMQP protocol header, not TLS") as info:
            amqp10.connect(f"amqps://127.0.0.1:{port}", ssl_context=_insecure(), timeout=10)  # type: ignore[arg-type]
    assert ADVICE in str(info.value)


@trio_test
async def test_trio_amqps_to_a_plain_amqp10_listener_says_the_port_is_not_tls() -> None:
    with start("127.0.0.1", 0) as peer:
        with pytest.raises(ConnectionClosedError, match="plain \\(non-TLS\\) port") as info:
            async with amqp10.trio.connect(f"amqps://127.0.0.1:{peer.port}", ssl_context=_insecure(), timeout=10):  # type: ignore[arg-type]
                pass
    assert ADVICE in str(info.value)


@trio_test
async def test_trio_amqps_to_a_port_answering_an_amqp_header_says_it_is_not_a_tls_port() -> None:
    with header_answering_port() as port:
        with pytest.raises(ConnectionClosedError, match="answered with an AMQP protocol header, not TLS") as info:
            async with amqp10.trio.connect(f"amqps://127.0.0.1:{port}", ssl_context=_insecure(), timeout=10):  # type: ignore[arg-type]
                pass
    assert ADVICE in str(info.value)


@asyncio_test
async def test_asyncio_amqps_to_a_plain_amqp10_listener_says_the_port_is_probably_not_tls() -> None:
    with start("127.0.0.1", 0) as peer:
        with pytest.raises(ConnectionClosedError, match="plain \\(non-TLS\\) port") as info:
            async with amqp10.asyncio.connect(f"amqps://127.0.0.1:{peer.port}", ssl_context=_insecure(), timeout=10):  # type: ignore[arg-type]
                pass
    assert ADVICE in str(info.value)


@asyncio_test
async def test_asyncio_amqps_to_a_port_answering_an_amqp_header_says_it_is_probably_not_tls() -> None:
    # asyncio's TLS transport does not show the bytes the peer answered with, so the hint is
    # the hedged one ("is the port a plain port?") rather than trio's and blocking's certainty.
    with header_answering_port() as port:
        with pytest.raises(ConnectionClosedError, match="plain \\(non-TLS\\) port") as info:
            async with amqp10.asyncio.connect(f"amqps://127.0.0.1:{port}", ssl_context=_insecure(), timeout=10):  # type: ignore[arg-type]
                pass
    assert ADVICE in str(info.value)


def test_amqp10_send_to_amqps_on_a_plain_port_prints_one_line_and_exits_1() -> None:
    with header_answering_port() as port:
        done = subprocess.run(
            [sys.executable, "-m", "amqp10", "send", f"amqps://127.0.0.1:{port}/q", "-m", "hi", "--insecure"],
            capture_output=True, text=True, timeout=60, check=False,
        )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "not a TLS port" in done.stderr and ADVICE in done.stderr
