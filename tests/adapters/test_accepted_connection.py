"""Accepted connections as client-style objects: ``amqp10.listen`` without a handler,
``amqp10.trio.listen`` and ``amqp10.asyncio.listen`` hand each connection out as an
``AcceptedConnection`` whose peer-attached links are the same ``Sender``/``Receiver`` objects
a client gets. Every adapter, real sockets on 127.0.0.1, every wait bounded.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message
from support.interop_api import Adapter, _call, _on_asyncio, connect, run_scenario, together

T = 10.0

ADAPTERS = pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])


@asynccontextmanager
async def listening(adapter: Adapter, **options: Any) -> AsyncIterator[tuple[str, Callable[..., Awaitable[Any]]]]:
    """An accepting listener: its URL and ``accept(timeout)``."""
    if adapter is Adapter.BLOCKING:
        with amqp10.listen("127.0.0.1", 0, timeout=T, **options) as listener:
            async def accept_blocking(timeout: float = T) -> Any:
                return listener.accept(timeout=timeout)
            yield listener.url, accept_blocking
        return
    if adapter is Adapter.TRIO:
        async with amqp10.trio.listen("127.0.0.1", 0, timeout=T, **options) as trio_listener:
            async def accept_trio(timeout: float = T) -> Any:
                with trio.move_on_after(timeout):
                    return await trio_listener.accept()
                raise amqp10.Timeout("nothing accepted")
            yield trio_listener.url, accept_trio
        return
    manager = amqp10.asyncio.listen("127.0.0.1", 0, timeout=T, **options)
    aio_listener = await _on_asyncio(manager.__aenter__())
    try:
        async def accept_asyncio(timeout: float = T) -> Any:
            async def take() -> Any:
                return await aio_listener.accept()
            try:
                return await _on_asyncio(asyncio.wait_for(take(), timeout))
            except (TimeoutError, asyncio.TimeoutError):
                raise amqp10.Timeout("nothing accepted") from None
        yield aio_listener.url, accept_asyncio
    finally:
        with trio.CancelScope(shield=True):
            await _on_asyncio(manager.__aexit__(None, None, None))


async def _links_in_order(adapter: Adapter) -> None:
    async with listening(adapter) as (url, accept):
        async with connect(adapter, url, timeout=T) as client:
            async with together(adapter) as group:
                accepted: list[Any] = []

                async def server() -> None:
                    conn = await accept()
                    accepted.append(conn)
                    if adapter is Adapter.BLOCKING:
                        links = conn.incoming_links(timeout=T)
                        accepted.append(next(links))
                        accepted.append(next(links))
                    else:
                        links = conn.incoming_links(timeout=T)
                        accepted.append(await _call(adapter, links.__anext__))
                        accepted.append(await _call(adapter, links.__anext__))

                group.spawn(server)
                sender = await client.sender("in")
                receiver = await client.receiver("out", credit=5)
            conn, ours_receiving, ours_sending = accepted
            assert ours_receiving.address == "in" and ours_sending.address == "out"
            assert type(ours_receiving).__name__ == "Receiver" and type(ours_sending).__name__ == "Sender"
            got: list[Any] = []
            async with together(adapter) as group:
                async def server_takes() -> None:
                    d = await _call(adapter, ours_receiving.receive, timeout=T)
                    got.append(d.message.body)
                    d.accept()

                group.spawn(server_takes)
                assert await sender.send(Message(body="to the server")) == Accepted()
            async with together(adapter) as group:

                async def take() -> None:
                    d = await receiver.receive()
                    got.append(d.message.body)
                    d.accept()

                group.spawn(take)
                assert await _call(adapter, ours_sending.send, Message(body="to the client"), timeout=T) == Accepted()
            assert got == ["to the server", "to the client"]


@ADAPTERS
def test_incoming_links_are_the_client_Sender_and_Receiver_in_attach_order(adapter: Adapter) -> None:
    run_scenario(adapter, _links_in_order)


async def _dynamic(adapter: Adapter) -> None:
    async with listening(adapter) as (url, accept):
        async with connect(adapter, url, timeout=T) as client:
            conn = await accept()
            # Nobody on the server side accepts it: a dynamic node is answered at once.
            replies = await client.receiver(None, dynamic=True, credit=5)
            assert replies.address is not None and replies.address.startswith(conn.container_id)
            sender = await _call(adapter, conn.accept_sender, replies.address, timeout=T)
            async with together(adapter) as group:
                got: list[Any] = []

                async def take() -> None:
                    d = await replies.receive()
                    got.append(d.message.body)
                    d.accept()

                group.spawn(take)
                assert await _call(adapter, sender.send, "reply", timeout=T) == Accepted()
            assert got == ["reply"]


@ADAPTERS
def test_a_dynamic_receiver_gets_a_node_address_at_once_and_accept_sender_sends_to_it(adapter: Adapter) -> None:
    run_scenario(adapter, _dynamic)


async def _node(adapter: Adapter) -> None:
    async with listening(adapter) as (url, accept):
        async with connect(adapter, url, timeout=T) as client:
            conn = await accept()
            accepted: list[Any] = []
            async with together(adapter) as group:
                async def server() -> None:
                    accepted.append(await _call(adapter, conn.accept_receiver, "node", timeout=T, credit=2))

                group.spawn(server)
                first = await client.sender("node")
            receiver = accepted[0]
            # A second link to the same address joins the first receiver, without an accept;
            # its credit is topped up as the receiver hands messages out.
            second = await client.sender("node")
            bodies: list[Any] = []
            async with together(adapter) as group:
                async def take() -> None:
                    for _ in range(6):
                        d = await _call(adapter, receiver.receive, timeout=T)
                        bodies.append(d.message.body)
                        d.accept()

                group.spawn(take)
                for i in range(3):
                    assert await first.send(f"first-{i}") == Accepted()
                    assert await second.send(f"second-{i}") == Accepted()
            assert sorted(bodies) == sorted([f"first-{i}" for i in range(3)] + [f"second-{i}" for i in range(3)])


@ADAPTERS
def test_later_links_to_an_accepted_receivers_address_join_it(adapter: Adapter) -> None:
    run_scenario(adapter, _node)


async def _timeouts(adapter: Adapter) -> None:
    async with listening(adapter) as (url, accept):
        with pytest.raises(amqp10.Timeout):
            await accept(0.2)
        async with connect(adapter, url, timeout=T) as client:
            conn = await accept()
            async with together(adapter) as group:
                async def server() -> None:
                    # The client attaches a sender: nothing for accept_sender, then its link.
                    with pytest.raises(amqp10.Timeout):
                        await _call(adapter, conn.accept_sender, None, timeout=0.3)
                    receiver = await _call(adapter, conn.accept_receiver, "somewhere", timeout=T)
                    assert receiver.address == "somewhere"

                group.spawn(server)
                await client.sender("somewhere")
        # The client closed: a wait for another link ends with the connection.
        with pytest.raises(amqp10.ConnectionClosedError):
            await _call(adapter, conn.accept_receiver, timeout=T)


@ADAPTERS
def test_accept_times_out_when_nothing_comes_and_ends_with_the_connection(adapter: Adapter) -> None:
    run_scenario(adapter, _timeouts)


async def _close_one(adapter: Adapter) -> None:
    async with listening(adapter) as (url, accept):
        async with connect(adapter, url, timeout=T) as first:
            conn = await accept()
            await _call(adapter, conn.close if adapter is Adapter.BLOCKING else conn.aclose, timeout=T)
            assert conn.closed
            with pytest.raises(amqp10.ConnectionClosedError):
                await first.sender("after-close", timeout=2)
        # The listener still serves.
        async with connect(adapter, url, timeout=T) as second:
            again = await accept()
            async with together(adapter) as group:
                async def serve() -> None:
                    r = await _call(adapter, again.accept_receiver, "q", timeout=T)
                    d = await _call(adapter, r.receive, timeout=T)
                    d.accept()
                group.spawn(serve)
                snd = await second.sender("q")
                assert await snd.send("still served") == Accepted()


@ADAPTERS
def test_closing_an_accepted_connection_leaves_the_listener_serving(adapter: Adapter) -> None:
    run_scenario(adapter, _close_one)
