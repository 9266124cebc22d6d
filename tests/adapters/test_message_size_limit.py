"""Both adapters against our own engine serving a loopback socket: receivers advertise a
max-message-size by default and close the link with ``amqp:link:message-size-exceeded`` when a
sender crosses it; senders refuse a message over the server's limit before sending it.

No amqp10 sender ever crosses an advertised limit (it refuses locally), so the server here
writes the oversized delivery as raw TRANSFER frames, after its engine's own output."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from typing import Any

import pytest

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, LinkDetachedError, Message
from amqp10._options import server_configs
from amqp10.blocking import connect
from amqp10.codec.limits import DEFAULT_LIMITS, Limits
from amqp10.codec.spec import Error, Source, Target, Transfer
from amqp10.codec.types import Symbol
from amqp10.engine import Connection
from amqp10.engine.events import (
    CreditChanged,
    DeliveryReceived,
    LinkRemotelyAttached,
    SessionRemotelyBegun,
)
from amqp10.engine.link import Sender
from amqp10.errors import LocalProtocolError
from amqp10.testing import FrameFactory
from support.engine_pairs import client_config, of_type, opened_pair, peer_link, pump_accepting
from support.asyncio_helpers import asyncio_test
from support.trio_helpers import trio_test

SIZE_EXCEEDED = "amqp:link:message-size-exceeded"
CHUNK = 16 * 1024


class SizeProbeServer:
    """One connection, served by a server-role engine on a thread.

    It answers every session and link, grants credit to the client's senders and accepts
    what they send (``received`` sizes), records the max-message-size each client receiver
    advertised (``advertised``), and, once a receiver from address ``big`` grants credit,
    writes one delivery of ``oversize_by`` bytes more than its limit as raw frames.
    """

    def __init__(self, *, limits: Limits = DEFAULT_LIMITS, oversize_by: int = 2 * CHUNK) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"amqp://127.0.0.1:{self.listener.getsockname()[1]}/"
        self.config = dataclasses.replace(server_configs(tls_active=False)(None), limits=limits)
        self.oversize_by = oversize_by
        self.advertised: list[Any] = []
        self.received: list[int] = []
        self.error: BaseException | None = None
        self._written: set[Sender] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def __enter__(self) -> "SizeProbeServer":
        return self

    def __exit__(self, *exc: object) -> None:
        self._thread.join(10)
        self.listener.close()
        assert not self._thread.is_alive()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            self.listener.settimeout(10)
            sock, _ = self.listener.accept()
            with sock:
                sock.settimeout(10)
                self._serve(sock)
        except BaseException as exc:  # reported by __exit__, in the test's thread
            self.error = exc

    def _serve(self, sock: socket.socket) -> None:
        engine = Connection(self.config)
        engine.open()
        deadline = time.monotonic() + 10
        while not engine.finished and time.monotonic() < deadline:
            data = sock.recv(65536)
            raw = b""
            for event in engine.receive_data(data):
                raw += self._on_event(event)
            sock.sendall(engine.data_to_send() + raw)
            if not data:
                break

    def _on_event(self, event: Any) -> bytes:
        if isinstance(event, SessionRemotelyBegun):
            event.session.begin()
        elif isinstance(event, LinkRemotelyAttached):
            link = event.link
            link.attach()
            if isinstance(link, Sender):
                self.advertised.append(link.remote_max_message_size)
            else:
                link.flow(10)
        elif isinstance(event, DeliveryReceived):
            self.received.append(len(event.delivery.payload))
            event.delivery.accept()
        elif isinstance(event, CreditChanged) and isinstance(event.link, Sender) and event.link_credit:
            if event.link.source.address == "big" and event.link not in self._written:
                self._written.add(event.link)  # once per link
                return self._oversized(event.link)
        return b""

    def _oversized(self, link: Sender) -> bytes:
        total = int(link.remote_max_message_size or 0) + self.oversize_by
        out = b""
        for offset in range(0, total, CHUNK):
            more = offset + CHUNK < total
            if offset == 0:
                body = Transfer(handle=link.handle, delivery_id=0, delivery_tag=b"big", more=True)
            else:
                body = Transfer(handle=link.handle, more=more or None)
            out += FrameFactory.frame(body, link.session.channel, b"x" * min(CHUNK, total - offset))
        return out


def test_blocking_Receiver_raises_LinkDetachedError_message_size_exceeded_when_a_delivery_is_too_large() -> None:
    with SizeProbeServer() as server, connect(server.url, timeout=5) as conn:
        receiver = conn.open_receiver("big", max_message_size=50_000)
        with pytest.raises(LinkDetachedError) as info:
            receiver.receive(timeout=5)
        assert info.value.condition == SIZE_EXCEEDED
        assert "max-message-size 50000" in str(info.value)
    assert server.advertised == [50_000]


def test_blocking_Receiver_advertises_the_default_max_message_size_when_given_none() -> None:
    with SizeProbeServer() as server:
        with connect(server.url, timeout=5) as conn:
            conn.open_receiver("q")
    assert server.advertised == [DEFAULT_LIMITS.max_message_size] == [100 << 20]


@trio_test
async def test_trio_Receiver_advertises_the_default_max_message_size_when_given_none() -> None:
    with SizeProbeServer() as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            await conn.open_receiver("q")
    assert server.advertised == [DEFAULT_LIMITS.max_message_size]


def test_blocking_Sender_refuses_a_message_over_the_servers_default_limit_before_sending_it() -> None:
    with SizeProbeServer(limits=Limits(max_message_size=1000)) as server:
        with connect(server.url, timeout=5) as conn:
            sender = conn.open_sender("q")
            with pytest.raises(LocalProtocolError, match="max-message-size 1000"):
                sender.send(Message(body=b"x" * 1000))  # 1000 bytes of body, more encoded
            assert sender.send(Message(body=b"y" * 900)) == Accepted()
    assert server.received == [len(Message(body=b"y" * 900).encode())]


@trio_test
async def test_trio_Receiver_raises_LinkDetachedError_message_size_exceeded_when_a_delivery_is_too_large() -> None:
    with SizeProbeServer() as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            receiver = await conn.open_receiver("big", max_message_size=50_000)
            with pytest.raises(LinkDetachedError) as info:
                await receiver.receive(timeout=5)
            assert info.value.condition == SIZE_EXCEEDED
    assert server.advertised == [50_000]


@trio_test
async def test_trio_Sender_refuses_a_message_over_the_servers_default_limit_before_sending_it() -> None:
    with SizeProbeServer(limits=Limits(max_message_size=1000)) as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            sender = await conn.open_sender("q")
            with pytest.raises(LocalProtocolError, match="max-message-size 1000"):
                await sender.send(Message(body=b"x" * 1000))
            assert await sender.send(Message(body=b"y" * 900)) == Accepted()
    assert server.received == [len(Message(body=b"y" * 900).encode())]


@asyncio_test
async def test_asyncio_Receiver_advertises_the_default_max_message_size_when_given_none() -> None:
    with SizeProbeServer() as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
            await conn.open_receiver("q")
    assert server.advertised == [DEFAULT_LIMITS.max_message_size]


@asyncio_test
async def test_asyncio_Receiver_raises_LinkDetachedError_message_size_exceeded_when_a_delivery_is_too_large() -> None:
    with SizeProbeServer() as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
            receiver = await conn.open_receiver("big", max_message_size=50_000)
            with pytest.raises(LinkDetachedError) as info:
                await receiver.receive(timeout=5)
            assert info.value.condition == SIZE_EXCEEDED
    assert server.advertised == [50_000]


@asyncio_test
async def test_asyncio_Sender_refuses_a_message_over_the_servers_default_limit_before_sending_it() -> None:
    with SizeProbeServer(limits=Limits(max_message_size=1000)) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
            sender = await conn.open_sender("q")
            with pytest.raises(LocalProtocolError, match="max-message-size 1000"):
                await sender.send(Message(body=b"x" * 1000))
            assert await sender.send(Message(body=b"y" * 900)) == Accepted()
    assert server.received == [len(Message(body=b"y" * 900).encode())]


def test_Delivery_message_decodes_what_an_unlimited_receiver_took_when_larger_than_the_config_limit() -> None:
    pair = opened_pair(client=client_config(limits=Limits(max_message_size=1000)))
    session = pair.client.begin_session()
    receiver = session.attach_receiver("r", source=Source(address="q"), target=Target(), max_message_size=0)
    _, s = pump_accepting(pair)
    sender = peer_link(s)
    receiver.flow(1)
    pair.pump()
    sender.send(Message(body=b"x" * 5000).encode())
    c, _ = pair.pump()
    (got,) = of_type(c, DeliveryReceived)
    delivery = amqp10.Delivery(got.delivery, lambda fn: fn())
    assert delivery.message.body == b"x" * 5000


class AttachAndOversizeInOneWriteServer(SizeProbeServer):
    """A ``SizeProbeServer`` that answers a receiver from ``big`` only once that receiver's
    credit has arrived, and then in one ``sendall``: its ATTACH reply, the oversized delivery
    and its own DETACH (which crosses the client's, spec 2.6.5). The client reads the
    successful ATTACH and the whole detach in the same batch of events, every time, rather
    than only when its waiting thread happens to be slower than the loopback round trip."""

    def __init__(self) -> None:
        self._holding = False
        self._detach: Sender | None = None
        super().__init__(oversize_by=1000)  # one frame: the first transfer crosses the limit

    def _on_event(self, event: Any) -> bytes:
        if isinstance(event, LinkRemotelyAttached) and isinstance(event.link, Sender):
            self._holding = event.link.source.address == "big"
        raw = super()._on_event(event)
        if raw:
            self._holding = False
            self._detach = event.link
        return raw

    def _serve(self, sock: socket.socket) -> None:
        engine = Connection(self.config)
        engine.open()
        deadline = time.monotonic() + 10
        raw = b""
        while not engine.finished and time.monotonic() < deadline:
            data = sock.recv(65536)
            for event in engine.receive_data(data):
                raw += self._on_event(event)
            if self._holding and data:
                continue  # the ATTACH reply waits in the engine for the credit
            out = engine.data_to_send() + raw
            if self._detach is not None:
                self._detach.detach(closed=True)
                self._detach = None
                out += engine.data_to_send()
            sock.sendall(out)
            raw = b""
            if not data:
                break


def test_blocking_open_receiver_returns_the_link_when_its_detach_arrives_with_the_attach() -> None:
    with AttachAndOversizeInOneWriteServer() as server, connect(server.url, timeout=5) as conn:
        receiver = conn.open_receiver("big", max_message_size=1000)
        assert receiver.address == "big"
        with pytest.raises(LinkDetachedError) as info:
            receiver.receive(timeout=5)
        assert info.value.condition == SIZE_EXCEEDED
    assert server.advertised == [1000]


@trio_test
async def test_trio_open_receiver_returns_the_link_when_its_detach_arrives_with_the_attach() -> None:
    with AttachAndOversizeInOneWriteServer() as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            receiver = await conn.open_receiver("big", max_message_size=1000)
            assert receiver.address == "big"
            with pytest.raises(LinkDetachedError) as info:
                await receiver.receive(timeout=5)
            assert info.value.condition == SIZE_EXCEEDED
    assert server.advertised == [1000]


class AttachThenRefuseServer(SizeProbeServer):
    """Answers every ATTACH with a terminus and, in the same write, detaches the link with
    ``amqp:not-found``: how Proton and rhea refuse a link (an empty terminus, not the null one
    spec 2.6.3 asks for)."""

    def _on_event(self, event: Any) -> bytes:
        if isinstance(event, LinkRemotelyAttached):
            event.link.attach()
            event.link.detach(closed=True, error=Error(condition=Symbol("amqp:not-found"), description="refused here"))
            return b""
        return super()._on_event(event)


def test_blocking_open_receiver_raises_a_peers_refusal_that_arrives_with_its_attach() -> None:
    with AttachThenRefuseServer() as server, connect(server.url, timeout=5) as conn:
        with pytest.raises(LinkDetachedError) as info:
            conn.open_receiver("q")
        assert info.value.condition == "amqp:not-found"


@trio_test
async def test_trio_open_receiver_raises_a_peers_refusal_that_arrives_with_its_attach() -> None:
    with AttachThenRefuseServer() as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            with pytest.raises(LinkDetachedError) as info:
                await conn.open_receiver("q")
            assert info.value.condition == "amqp:not-found"
