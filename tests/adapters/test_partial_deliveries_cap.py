"""A connection may hold only ``Limits.max_partial_deliveries_size`` bytes of unfinished
incoming deliveries (issue 10): over real sockets, a peer that opens many links and leaves a
large delivery unfinished on each is closed with ``amqp:resource-limit-exceeded`` once the
total would cross the cap, on every server adapter, instead of growing the server's memory
without bound."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import trio

from amqp10 import Limits
from amqp10.blocking import listen
from amqp10.codec import decode_prefix
from amqp10.codec.spec import Attach, Begin, Close, Flow, Open, Role, Target, Transfer
from amqp10.framing.reader import FrameReader
from amqp10.testing import FrameFactory as F
from support import asyncio_helpers
from support.broker import QueueBroker
from support.trio_helpers import serving, trio_test

CAP = 256 * 1024
CHUNK = 60_000  # one frame's payload, under the server's default max-frame-size
LINKS = 12  # 12 x 60,000 bytes is well over the cap


def _performatives(reader: FrameReader) -> list[Any]:
    return [decode_prefix(frame.body)[0] for frame in reader.read_frames() if len(frame.body)]


def _flood_with_unfinished_deliveries(port: int, wait: float = 5.0) -> tuple[Close | None, int]:
    """Open LINKS sending links, wait for credit on each, then start one delivery per link
    and never finish it; return the server's CLOSE (``None``: none came within ``wait``
    seconds) and how many chunks were sent before the socket ended."""
    reader = FrameReader()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        opening = [F.amqp_header, F.frame(Open(container_id="hoarder")), F.frame(Begin(next_outgoing_id=0, incoming_window=10_000, outgoing_window=10_000))]
        opening += [
            F.frame(Attach(name=f"l{i}", handle=i, role=Role.SENDER, target=Target(address=f"q{i}"), initial_delivery_count=0))
            for i in range(LINKS)
        ]
        sock.sendall(b"".join(opening))
        credited: set[int] = set()
        header_seen = False
        deadline = time.monotonic() + 10
        while len(credited) < LINKS and time.monotonic() < deadline:
            reader.feed(sock.recv(65536))
            if not header_seen and reader.read_header() is None:
                continue
            header_seen = True
            credited |= {p.handle for p in _performatives(reader) if isinstance(p, Flow) and p.handle is not None and p.link_credit}
        assert len(credited) == LINKS, f"the server granted credit on {len(credited)} of {LINKS} links"
        sent = 0
        try:
            for i in range(LINKS):
                sock.sendall(F.frame(Transfer(handle=i, delivery_id=i, delivery_tag=b"t%d" % i, message_format=0, more=True), payload=bytes(CHUNK)))
                sent += 1
        except OSError:
            pass  # the server may already have closed the socket
        close: Close | None = None
        sock.settimeout(wait)
        try:
            while close is None:
                data = sock.recv(65536)
                if not data:
                    break
                reader.feed(data)
                close = next((p for p in _performatives(reader) if isinstance(p, Close)), None)
        except OSError:
            pass
        return close, sent


def _assert_closed_for_the_cap(close: Close | None) -> None:
    assert close is not None and close.error is not None
    assert close.error.condition == "amqp:resource-limit-exceeded"


def test_listen_closes_a_connection_whose_unfinished_deliveries_cross_the_cap() -> None:
    with listen("127.0.0.1", 0, QueueBroker(), limits=Limits(max_partial_deliveries_size=CAP)) as listener:
        close, _ = _flood_with_unfinished_deliveries(listener.port)
        _assert_closed_for_the_cap(close)


def test_listen_keeps_a_connection_whose_unfinished_deliveries_stay_under_the_cap() -> None:
    # The control: the same flood under a cap it does not reach gets no CLOSE at all.
    limits = Limits(max_partial_deliveries_size=CHUNK * LINKS + 1)
    with listen("127.0.0.1", 0, QueueBroker(), limits=limits) as listener:
        close, sent = _flood_with_unfinished_deliveries(listener.port, wait=0.5)
        assert close is None and sent == LINKS


@trio_test
async def test_trio_serve_closes_a_connection_whose_unfinished_deliveries_cross_the_cap() -> None:
    async with serving(QueueBroker(), limits=Limits(max_partial_deliveries_size=CAP)) as server:
        close, _ = await trio.to_thread.run_sync(_flood_with_unfinished_deliveries, server.port)
        _assert_closed_for_the_cap(close)


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_closes_a_connection_whose_unfinished_deliveries_cross_the_cap() -> None:
    async with asyncio_helpers.serving(QueueBroker(), limits=Limits(max_partial_deliveries_size=CAP)) as server:
        close, _ = await asyncio.to_thread(_flood_with_unfinished_deliveries, server.port)
        _assert_closed_for_the_cap(close)
