"""After every handler call both adapters flush every connection with engine output, not only
the one the call was about (ADAPTERS.md, ``amqp10._handler``): a handler that writes to
connection B while handling connection A needs no ``wakeup()``."""

from __future__ import annotations

import asyncio
from typing import Sequence

import trio

import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message
from amqp10._handler import Handler, ServerConnection
from amqp10.blocking import connect, listen
from amqp10.engine.events import DeliveryReceived, Event, LinkDetached, LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.engine.link import Link, Receiver, Sender
from support import asyncio_helpers
from support.asyncio_helpers import asyncio_test
from support.trio_helpers import serving, trio_test


class _Relay(Handler):
    """Copies every message sent to it to every receiving client, on whatever connection, and
    tells them when a connection goes away. It never calls ``wakeup()``."""

    def __init__(self) -> None:
        self.outlets: list[tuple[ServerConnection, Sender]] = []

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            elif isinstance(event, LinkRemotelyAttached):
                self._attach(conn, event.link)
            elif isinstance(event, DeliveryReceived):
                event.delivery.accept()
                self._broadcast(bytes(event.delivery.payload))
            elif isinstance(event, LinkDetached):
                self.outlets = [(c, s) for c, s in self.outlets if s is not event.link]

    def connection_lost(self, conn: ServerConnection) -> None:
        self.outlets = [(c, s) for c, s in self.outlets if c is not conn]
        self._broadcast(Message(body="a connection left").encode())

    def _attach(self, conn: ServerConnection, link: Link) -> None:
        link.attach()
        if isinstance(link, Receiver):
            link.flow(100)
        elif isinstance(link, Sender):
            self.outlets.append((conn, link))

    def _broadcast(self, payload: bytes) -> None:
        for _, outlet in self.outlets:
            outlet.send(payload)


def test_listen_flushes_a_connection_a_handler_wrote_to_while_handling_another() -> None:
    with listen("127.0.0.1", 0, _Relay()) as served:
        with connect(served.url, timeout=5) as watcher:
            receiver = watcher.open_receiver("relay")
            with connect(served.url, timeout=5) as talker:
                assert talker.open_sender("relay").send(Message(body="hello B")) == Accepted()
                assert receiver.receive(timeout=5).message.body == "hello B"
            # The talker's connection_lost call (its own connection is gone) writes to ours.
            assert receiver.receive(timeout=5).message.body == "a connection left"


@trio_test
async def test_serve_flushes_a_connection_a_handler_wrote_to_while_handling_another() -> None:
    async with serving(_Relay()) as server:
        async with amqp10.trio.connect(server.url, timeout=5) as watcher:
            receiver = await watcher.open_receiver("relay")
            async with amqp10.trio.connect(server.url, timeout=5) as talker:
                sender = await talker.open_sender("relay")
                assert await sender.send(Message(body="hello B")) == Accepted()
                assert (await receiver.receive(timeout=5)).message.body == "hello B"
            assert (await receiver.receive(timeout=5)).message.body == "a connection left"


@trio_test
async def test_serve_flushes_many_connections_written_to_by_one_handler_call() -> None:
    async with serving(_Relay()) as server:
        async with trio.open_nursery() as nursery:
            got: list[object] = []

            async def watch(ready: trio.Event) -> None:
                async with amqp10.trio.connect(server.url, timeout=5) as conn:
                    receiver = await conn.open_receiver("relay")
                    ready.set()
                    got.append((await receiver.receive(timeout=5)).message.body)

            for _ in range(5):
                ready = trio.Event()
                nursery.start_soon(watch, ready)
                await ready.wait()
            async with amqp10.trio.connect(server.url, timeout=5) as talker:
                sender = await talker.open_sender("relay")
                assert await sender.send(Message(body="to all")) == Accepted()
        assert got == ["to all"] * 5


@asyncio_test
async def test_asyncio_serve_flushes_a_connection_a_handler_wrote_to_while_handling_another() -> None:
    async with asyncio_helpers.serving(_Relay()) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as watcher:
            receiver = await watcher.open_receiver("relay")
            async with amqp10.asyncio.connect(server.url, timeout=5) as talker:
                sender = await talker.open_sender("relay")
                assert await sender.send(Message(body="hello B")) == Accepted()
                assert (await receiver.receive(timeout=5)).message.body == "hello B"
            assert (await receiver.receive(timeout=5)).message.body == "a connection left"


@asyncio_test
async def test_asyncio_serve_flushes_many_connections_written_to_by_one_handler_call() -> None:
    async with asyncio_helpers.serving(_Relay()) as server:
        got: list[object] = []

        async def watch(ready: asyncio.Event) -> None:
            async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
                receiver = await conn.open_receiver("relay")
                ready.set()
                got.append((await receiver.receive(timeout=5)).message.body)

        watchers = []
        for _ in range(5):
            ready = asyncio.Event()
            watchers.append(asyncio.ensure_future(watch(ready)))
            await ready.wait()
        async with amqp10.asyncio.connect(server.url, timeout=5) as talker:
            sender = await talker.open_sender("relay")
            assert await sender.send(Message(body="to all")) == Accepted()
        await asyncio.gather(*watchers)
        assert got == ["to all"] * 5
