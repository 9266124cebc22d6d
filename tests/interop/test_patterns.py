"""``amqp10.patterns`` / ``amqp10.async_patterns`` (RPC call and cast, fanout, notifications,
competing consumers) run unchanged in five places, on every adapter:

- ``peer-to-peer``: no intermediary; the serving side is a connection our own listener
  accepted (``amqp10.listen`` without a handler, ``amqp10.trio.listen``,
  ``amqp10.asyncio.listen``), handed to the same helpers as a client connection;
- ``embedded``: amqp10's embedded peer (what ``amqp10 serve`` runs);
- ``rabbitmq``, ``qpidd``: brokers from ``AMQP10_PEER_RABBITMQ`` / ``AMQP10_PEER_QPIDD``;
- ``network``: the Qpid Dispatch network of ``.ci/peers/start``: callers and publishers on
  router A, servers and consumers on router B, notifications link-routed to qpidd.

Where a place cannot do a pattern as asked, the test proves what it does instead: RabbitMQ
3.10 has no dynamic reply nodes (``call`` with a named reply queue works; without one the
refusal is a typed error); peer to peer there is no shared queue for consumers to compete
over (the one consumer is never sent more than its prefetch ahead), and fanout is the
publisher's own ``Fanout`` over the subscribers' links.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message, async_patterns, patterns
from amqp10.patterns import Addresses
from support.interop_api import Adapter, _call, _on_asyncio, connect, run_scenario, serve_broker, together, unique
from support.peers import PeerInfo, peer_info
from support.routers import BROKER_PREFIX, network, wait_for_address

#: Seconds any one call may wait.
T = 15.0
#: Seconds after which a consumer concludes that nothing more is coming (peer to peer, where
#: its producer is its peer and leaves when done).
QUIET = 3.0

PLACES = ("peer-to-peer", "embedded", "rabbitmq", "qpidd", "network")


async def pat(adapter: Adapter, name: str, *args: Any, **kwargs: Any) -> Any:
    """``amqp10.patterns.<name>`` (blocking) or ``amqp10.async_patterns.<name>`` (awaited,
    as an asyncio task for asyncio)."""
    if adapter is Adapter.BLOCKING:
        return getattr(patterns, name)(*args, **kwargs)
    coroutine = getattr(async_patterns, name)(*args, **kwargs)
    return await (_on_asyncio(coroutine) if adapter is Adapter.ASYNCIO else coroutine)


@asynccontextmanager
async def listening(adapter: Adapter) -> AsyncIterator[tuple[str, Callable[[], Awaitable[Any]]]]:
    """Our accepting listener: its URL and ``accept()`` (the next ``AcceptedConnection``)."""
    if adapter is Adapter.BLOCKING:
        with amqp10.listen("127.0.0.1", 0, timeout=T) as listener:
            async def accept_blocking() -> Any:
                return listener.accept(timeout=T)
            yield listener.url, accept_blocking
        return
    if adapter is Adapter.TRIO:
        async with amqp10.trio.listen("127.0.0.1", 0, timeout=T) as trio_listener:
            async def accept_trio() -> Any:
                with trio.fail_after(T):
                    return await trio_listener.accept()
            yield trio_listener.url, accept_trio
        return
    manager = amqp10.asyncio.listen("127.0.0.1", 0, timeout=T)
    aio_listener = await _on_asyncio(manager.__aenter__())
    try:
        async def accept_asyncio() -> Any:
            return await _on_asyncio(asyncio.wait_for(_await(aio_listener.accept()), T))
        yield aio_listener.url, accept_asyncio
    finally:
        with trio.CancelScope(shield=True):
            await _on_asyncio(manager.__aexit__(None, None, None))


async def _await(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


@dataclass
class Place:
    """Where a pattern runs: the URL callers use, how the serving side gets its connection
    (``serving``), the address conventions, and the network's routers (to wait for)."""

    kind: str
    adapter: Adapter
    client_url: str
    addresses: Addresses
    server_url: str | None = None  # None: peer to peer, the serving side is accepted
    accept: Callable[[], Awaitable[Any]] | None = None
    options: dict[str, Any] = field(default_factory=dict)
    server_router: PeerInfo | None = None  # network: where servers attach (router B)
    client_router: PeerInfo | None = None

    async def serving(self, stack: AsyncExitStack) -> Any:
        """The serving side's raw connection: accepted (peer to peer) or opened."""
        if self.accept is not None:
            return await self.accept()
        assert self.server_url is not None
        return (await stack.enter_async_context(connect(self.adapter, self.server_url, timeout=T, **self.options))).raw

    async def calling(self, stack: AsyncExitStack, url: str | None = None) -> Any:
        """A raw connection on the calling side."""
        return (await stack.enter_async_context(connect(self.adapter, url or self.client_url, timeout=T, **self.options))).raw

    async def known(self, address: str, local: int = 0, remote: int = 1) -> None:
        """On the network: wait until the callers' router knows the receivers for ``address``."""
        if self.client_router is not None:
            router = self.client_router
            await trio.to_thread.run_sync(lambda: wait_for_address(router, address, local=local, remote=remote))


@asynccontextmanager
async def place(kind: str, adapter: Adapter) -> AsyncIterator[Place]:
    if kind == "peer-to-peer":
        async with listening(adapter) as (url, accept):
            yield Place(kind, adapter, url, patterns.EMBEDDED, accept=accept)
    elif kind == "embedded":
        async with serve_broker(adapter) as served:
            yield Place(kind, adapter, served.url, patterns.EMBEDDED, server_url=served.url)
    elif kind == "rabbitmq":
        url = peer_info("RABBITMQ").url(credentials=True)
        yield Place(kind, adapter, url, patterns.RABBITMQ, server_url=url, options={"allow_insecure_plain": True})
    elif kind == "qpidd":
        url = peer_info("QPIDD").url()
        yield Place(kind, adapter, url, patterns.QPIDD, server_url=url)
    else:
        net = network()
        # The project's network: Dispatch's default prefixes; notifications stored by qpidd
        # behind the link-routed prefix.
        addresses = Addresses(queue="anycast/{name}", fanout="multicast/{name}", notification=BROKER_PREFIX + "{name}")
        yield Place(kind, adapter, net.a.url(), addresses, server_url=net.b.url(), server_router=net.b, client_router=net.a)


def params() -> list[Any]:
    marks = {"rabbitmq": [pytest.mark.interop], "qpidd": [pytest.mark.interop], "network": [pytest.mark.interop]}
    return [pytest.param(kind, adapter, id=f"{kind}-{adapter.value}", marks=marks.get(kind, []))
            for kind in PLACES for adapter in Adapter]


# -- RPC ------------------------------------------------------------------------------------------------

def _answer(request: Message) -> Any:
    if request.body == "fail":
        raise ValueError("no such thing")
    return f"answer to {request.body}"


async def _rpc(adapter: Adapter, kind: str) -> None:
    async with place(kind, adapter) as where, AsyncExitStack() as stack:
        service = where.addresses.for_queue(unique("rpc"))
        served: list[int] = []

        async def server() -> None:
            async with AsyncExitStack() as own:
                conn = await where.serving(own)
                served.append(await pat(adapter, "serve_rpc", conn, service, _answer, count=3, timeout=T))

        # RabbitMQ 3.10 has no dynamic nodes: replies go to a queue of the caller's own.
        reply_to = where.addresses.for_queue(unique("replies")) if kind == "rabbitmq" else None
        async with together(adapter) as group, AsyncExitStack() as inner:
            group.spawn(server)
            if where.accept is None:
                await trio.sleep(0.3)  # let the server attach first (a router gives credit then)
            caller = await where.calling(inner)
            reply = await pat(adapter, "call", caller, service, "ping", timeout=T, reply_to=reply_to)
            assert reply.body == "answer to ping"
            assert reply.properties.correlation_id is not None
            with pytest.raises(patterns.RemoteError, match="ValueError: no such thing"):
                await pat(adapter, "call", caller, service, "fail", timeout=T, reply_to=reply_to)
            # A cast to the same service: handled, no reply expected; its outcome comes back.
            assert await pat(adapter, "cast", caller, service, Message(body="fire and forget"), timeout=T) == Accepted()
        assert served == [3]


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_call_returns_the_answer_raises_the_servers_error_and_cast_is_served(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _rpc, kind)


async def _rabbitmq_dynamic(adapter: Adapter) -> None:
    url = peer_info("RABBITMQ").url(credentials=True)
    async with connect(adapter, url, timeout=T, allow_insecure_plain=True) as conn:
        with pytest.raises(amqp10.SessionEndedError) as refused:
            await pat(adapter, "call", conn.raw, patterns.RABBITMQ.for_queue(unique("rpc")), "ping", timeout=T)
        assert refused.value.condition == "amqp:not-implemented"


@pytest.mark.interop
@pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])
def test_call_without_reply_to_is_refused_by_rabbitmq_with_a_typed_not_implemented(adapter: Adapter) -> None:
    run_scenario(adapter, _rabbitmq_dynamic)


# -- fanout ----------------------------------------------------------------------------------------------

async def _receive_into(adapter: Adapter, receiver: Any, count: int, into: list[Any]) -> None:
    for _ in range(count):
        delivery = await _call(adapter, receiver.receive, timeout=T)
        into.append(delivery.message.body)
        delivery.accept()


async def _nothing_more(adapter: Adapter, receiver: Any) -> bool:
    try:
        await _call(adapter, receiver.receive, timeout=0.3)
    except amqp10.Timeout:
        return True
    return False


async def _fanout(adapter: Adapter, kind: str) -> None:
    async with place(kind, adapter) as where, AsyncExitStack() as stack:
        topic = unique("fanout")
        bodies = [f"news-{i}" for i in range(3)]
        copies: list[list[Any]] = [[], []]
        if where.accept is not None:
            # Peer to peer the publisher is the listener: it holds a sender per subscriber.
            async def subscriber(into: list[Any]) -> None:
                async with AsyncExitStack() as own:
                    conn = await where.calling(own)
                    receiver = await pat(adapter, "subscribe", conn, topic, timeout=T)
                    await _receive_into(adapter, receiver, len(bodies), into)
                    assert await _nothing_more(adapter, receiver)

            async with together(adapter) as group:
                for into in copies:
                    group.spawn(subscriber, into)
                senders = []
                for _ in copies:
                    accepted = await where.serving(stack)
                    senders.append(await _call(adapter, accepted.accept_sender, patterns.EMBEDDED.for_fanout(topic), timeout=T))
                fan = (patterns.Fanout if adapter is Adapter.BLOCKING else async_patterns.Fanout)(senders)
                for body in bodies:
                    assert await _call(adapter, fan.send, body, timeout=T) == [Accepted(), Accepted()]
            assert copies == [bodies, bodies]
            return
        subscribers = []
        for _ in copies:
            conn = await where.serving(stack)
            subscribers.append(await pat(adapter, "subscribe", conn, topic, addresses=where.addresses, timeout=T))
        await where.known(where.addresses.for_fanout(topic))
        publisher = await where.calling(stack)
        async with together(adapter) as group:
            for subscriber, into in zip(subscribers, copies):
                group.spawn(_receive_into, adapter, subscriber, len(bodies), into)
            for body in bodies:
                # A broker accepts once it has routed it; through a router the outcome
                # comes when the subscribers settled (they receive meanwhile).
                assert await pat(adapter, "fanout", publisher, topic, body, addresses=where.addresses, timeout=T) == Accepted()
        assert copies == [bodies, bodies]
        for subscriber in subscribers:
            assert await _nothing_more(adapter, subscriber)


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_fanout_gives_every_subscriber_every_message_once(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _fanout, kind)


# -- notifications ----------------------------------------------------------------------------------------

async def _notifications(adapter: Adapter, kind: str) -> None:
    async with place(kind, adapter) as where, AsyncExitStack() as stack:
        topic = unique("notifications")
        events = [f"event-{i}" for i in range(4)]
        got: list[Any] = []
        if where.accept is not None:
            # Peer to peer the listener is the notification listener: nothing stores them,
            # so the publisher's sends wait for its credit.
            notifier = await where.calling(stack)
            async with together(adapter) as group:
                async def listen_side() -> None:
                    accepted = await where.accept()  # type: ignore[misc]
                    listener = await pat(adapter, "subscribe_notifications", accepted, topic, timeout=T)
                    await _receive_into(adapter, listener, len(events), got)
                group.spawn(listen_side)
                for event in events:
                    assert await pat(adapter, "notify", notifier, topic, event, timeout=T) == Accepted()
        else:
            # Published before anyone listens: the broker stores them (through the network,
            # the link-routed qpidd does) and the listener gets them later.
            notifier = await where.calling(stack)
            for event in events:
                assert await pat(adapter, "notify", notifier, topic, event, addresses=where.addresses, timeout=T) == Accepted()
            conn = await where.serving(stack)
            listener = await pat(adapter, "subscribe_notifications", conn, topic, addresses=where.addresses, timeout=T)
            await _receive_into(adapter, listener, len(events), got)
            assert await _nothing_more(adapter, listener)
        assert got == events


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_notifications_reach_the_listener_in_order(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _notifications, kind)


# -- competing consumers -----------------------------------------------------------------------------------

def _slow_handler(adapter: Adapter, into: list[Any]) -> Callable[[Message], Any]:
    """Takes 20 ms over each message (so a second consumer gets a share), then records it:
    a body in ``into`` means its handler has returned, and ``consume`` accepts it next."""
    if adapter is Adapter.BLOCKING:
        def blocking(message: Message) -> None:
            time.sleep(0.02)
            into.append(message.body)
        return blocking
    if adapter is Adapter.TRIO:
        async def on_trio(message: Message) -> None:
            await trio.sleep(0.02)
            into.append(message.body)
        return on_trio

    async def on_asyncio(message: Message) -> None:
        await asyncio.sleep(0.02)
        into.append(message.body)
    return on_asyncio


async def _consume_until_quiet(adapter: Adapter, conn: Any, queue: str, into: list[Any]) -> None:
    try:
        await pat(adapter, "consume", conn, queue, _slow_handler(adapter, into), prefetch=1, timeout=QUIET)
    except amqp10.Timeout:
        pass  # nothing more came


async def _consume_until_closed(adapter: Adapter, conn: Any, queue: str, into: list[Any], closing: list[bool]) -> None:
    """Consume until the test closes ``conn``, not until a quiet window passes: that window
    would count from the attach, before the producer even connects, and a consumer giving up
    then has its credit out; an intermediary releases the message it was sending it (seen
    under CI load, network-blocking, pure path)."""
    try:
        await pat(adapter, "consume", conn, queue, _slow_handler(adapter, into), prefetch=1, timeout=T)
    except amqp10.ConnectionClosedError:
        # ``consume`` returns on a clean close while it waits; closed between the last
        # handler's return and its accept, the accept raises. The message was handled.
        if not closing:
            raise


async def _competing(adapter: Adapter, kind: str) -> None:
    async with place(kind, adapter) as where, AsyncExitStack() as stack:
        queue = where.addresses.for_queue(unique("work"))
        count = 20
        if where.accept is not None:
            # No queue to compete over peer to peer: the one consumer takes what its producer
            # sends, and the producer never has more credit than the consumer's prefetch.
            producer = await where.calling(stack)
            shares: list[list[Any]] = [[]]
            credits: list[int] = []
            async with together(adapter) as group:
                async def consumer() -> None:
                    accepted = await where.accept()  # type: ignore[misc]
                    await _consume_until_quiet(adapter, accepted, queue, shares[0])
                group.spawn(consumer)
                sender = await _call(adapter, producer.open_sender, queue, timeout=T)
                for i in range(count):
                    assert await _call(adapter, sender.send, i, timeout=T) == Accepted()
                    credits.append(sender.credit)
            assert max(credits) <= 1
        else:
            shares = [[], []]
            consumers = [await where.serving(stack) for _ in shares]
            async with together(adapter) as group, AsyncExitStack() as inner:
                closing: list[bool] = []
                for conn, mine in zip(consumers, shares):
                    group.spawn(_consume_until_closed, adapter, conn, queue, mine, closing)
                await trio.sleep(0.3)  # both attached
                await where.known(queue, local=0, remote=1)
                producer = await where.calling(inner)
                for i in range(count):
                    assert await pat(adapter, "cast", producer, queue, i, timeout=T) == Accepted()
                # A broker accepts a cast when it stores the message, a router when a consumer
                # accepts it: wait until the consumers have handled all of them, and give the
                # last accept time to go out (closed before it, a broker would hand that
                # message to the other consumer again), then end them.
                with trio.fail_after(T):
                    while sum(map(len, shares)) < count:
                        await trio.sleep(0.01)
                await trio.sleep(0.5)
                closing.append(True)
                for conn in consumers:
                    await _call(adapter, conn.close if adapter is Adapter.BLOCKING else conn.aclose)
        seen = Counter(body for mine in shares for body in mine)
        assert set(seen) == set(range(count)) and max(seen.values()) == 1  # all, none twice
        assert all(shares), f"shares {[len(mine) for mine in shares]}: a consumer got nothing"


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_competing_consumers_with_prefetch_one_share_the_work_without_duplicates(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _competing, kind)
