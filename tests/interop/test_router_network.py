"""Messaging patterns across a Qpid Dispatch router network, written once and run three ways:
peer to peer (amqp10's embedded peer, what ``amqp10 serve`` runs), via a broker (qpidd), and
across the network of ``.ci/peers/start``::

    edge --(edge)--> A <--(inter-router)-- B --(route-container)--> qpidd

On the network the client sits on router A (or the edge router) and the service, subscribers or
consumers on router B (or on both interior routers), so every message crosses the inter-router
link. The patterns: an RPC call (the reply comes back over a dynamic reply-to address), a cast
(one-way, the outcome is the consumer's on a router), a fanout to every instance on both routers
(multicast), notifications to pub/sub subscribers through the link-routed broker (qpidd), and
competing consumers on one anycast address spread over both routers (balanced by credit).

The last tests put amqp10's own listener behind a router as a route container (``amqp10.listen``
/ ``amqp10.trio.serve`` and the ``amqp10 serve`` command): the router connects to it and
link-routes a prefix into it.

Both adapters; every wait bounded. The routers store nothing: each pattern attaches its
receivers first and, on the network, waits until the routing protocol has told the sender's
router about them (``support.routers.wait_for_address``).
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
import trio

import amqp10
from amqp10 import Accepted, Message, Properties, Rejected
from support.interop_api import Adapter, Conn, Rcv, connect, run_scenario, serve_broker, together, unique
from support.peers import PeerInfo, peer_info
from support.routers import BROKER_PREFIX, free_port, network, run_router, wait_for_address

pytestmark = pytest.mark.interop

#: Seconds in which a message that is coming arrives on loopback.
QUIET = 0.3


@dataclass
class Topology:
    """Where the parts of a pattern connect, and how the topology names things.

    ``client``/``server``: URLs of the calling and the serving side (the same for a single
    peer). ``subscribers``: one URL per subscriber or consumer instance. ``routers``: for the
    network, the router each URL belongs to, so ``await_receivers`` can ask it.
    """

    name: str
    client: str
    server: str
    subscribers: list[str]
    service_prefix: str  # point to point: a queue, or a router's balanced anycast address
    topic_prefix: str  # fan-out
    notify_prefix: str  # pub/sub through a broker
    routers: dict[str, PeerInfo] = field(default_factory=dict)
    consumer_settles_outcome: bool = False  # a router: the sender gets the consumer's outcome

    def service(self, tag: str) -> str:
        return self.service_prefix + unique(tag)

    def topic(self, tag: str) -> str:
        return self.topic_prefix + unique(tag)

    def notifications(self, tag: str) -> str:
        return self.notify_prefix + unique(tag)

    async def await_receivers(self, sender_url: str, address: str, urls: list[str]) -> None:
        """On the network: wait until the sender's router knows the receivers attached at
        ``urls`` (its own, and every other router with one). Elsewhere the attach is enough."""
        if not self.routers:
            return
        router = self.routers[sender_url]
        if router.name == "ROUTER_EDGE":  # the edge router hands everything to router A
            router = self.routers[self.client]
        local = sum(1 for url in urls if self.routers[url] == router)
        remote = len({self.routers[url].name for url in urls} - {router.name})
        await trio.to_thread.run_sync(lambda: wait_for_address(router, address, local=local, remote=remote))


@asynccontextmanager
async def topology(kind: str, adapter: Adapter) -> AsyncIterator[Topology]:
    if kind == "peer-to-peer":
        async with serve_broker(adapter) as served:
            url = served.url
            yield Topology(kind, url, url, [url, url, url, url], "", "topic://", "topic://")
        return
    if kind == "broker":
        url = peer_info("QPIDD").url()
        yield Topology(kind, url, url, [url, url, url, url], "", "topic/", "topic/")
        return
    net = network()
    a, b, edge = net.a.url(), net.b.url(), net.edge.url()
    yield Topology(kind, a, b, [a, a, b, b], "anycast/", "multicast/", BROKER_PREFIX + "topic/",
                   routers={a: net.a, b: net.b, edge: net.edge}, consumer_settles_outcome=True)


TOPOLOGIES = ("peer-to-peer", "broker", "network")


def params() -> list[Any]:
    return [pytest.param(kind, adapter, id=f"{kind}-{adapter.value}") for kind in TOPOLOGIES for adapter in Adapter]


async def _receive(receiver: Rcv, count: int, into: list[Any], settle: Callable[[amqp10.Delivery], None] | None = None) -> None:
    for _ in range(count):
        delivery = await receiver.receive()
        into.append(delivery.message.body)
        (settle or (lambda d: d.accept()))(delivery)


# -- RPC --------------------------------------------------------------------------------------------

async def _serve_calls(adapter: Adapter, url: str, service: str, count: int, ready: trio.Event | None,
                       attached: list[bool]) -> None:
    """A service instance: answer ``count`` calls, each to its reply-to, correlated."""
    async with connect(adapter, url) as conn:
        requests = await conn.receiver(service, credit=count)
        attached.append(True)
        replies: dict[str, Any] = {}
        for _ in range(count):
            delivery = await requests.receive()
            request = delivery.message
            assert request.properties is not None and request.properties.reply_to is not None
            reply_to = str(request.properties.reply_to)
            if reply_to not in replies:
                replies[reply_to] = await conn.sender(reply_to)
            answer = Message(body=f"answer to {request.body}",
                             properties=Properties(correlation_id=request.properties.message_id))
            assert await replies[reply_to].send(answer) == Accepted()
            delivery.accept()


async def _rpc(adapter: Adapter, kind: str) -> None:
    async with topology(kind, adapter) as topo:
        service = topo.service("rpc")
        count = 3
        attached: list[bool] = []
        async with together(adapter) as group:
            group.spawn(_serve_calls, adapter, topo.server, service, count, None, attached)
            with trio.fail_after(15):
                while not attached:
                    await trio.sleep(0.01)
            # No wait for the network here: a router gives the caller credit for an anycast
            # address only once it knows a receiver for it.
            async with connect(adapter, topo.client) as conn:
                for i in range(count):
                    reply = await conn.request(service, Message(body=f"call-{i}"))
                    assert reply.body == f"answer to call-{i}"
                    assert reply.properties is not None and reply.properties.correlation_id is not None


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_rpc_call_returns_the_correlated_answer_over_a_dynamic_reply_to(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _rpc, kind)


# -- cast ------------------------------------------------------------------------------------------

async def _cast(adapter: Adapter, kind: str) -> None:
    async with topology(kind, adapter) as topo:
        service = topo.service("cast")
        async with connect(adapter, topo.server) as server, connect(adapter, topo.client) as client:
            consumer = await server.receiver(service, credit=5)
            await topo.await_receivers(topo.client, service, [topo.server])
            sender = await client.sender(service)
            got: list[Any] = []

            def settle(delivery: amqp10.Delivery) -> None:
                if delivery.message.body == "unwanted":
                    delivery.reject("amqp:precondition-failed", "the consumer did not want it")
                else:
                    delivery.accept()

            outcomes = []
            async with together(adapter) as group:
                group.spawn(_receive, consumer, 2, got, settle)
                for body in ("cast", "unwanted"):
                    outcomes.append(await sender.send(Message(body=body)))
            assert got == ["cast", "unwanted"]
            assert outcomes[0] == Accepted()
            if topo.consumer_settles_outcome:
                # A router stores nothing: the at-least-once sender gets the consumer's outcome.
                assert isinstance(outcomes[1], Rejected)
                assert outcomes[1].error is not None and outcomes[1].error.condition == "amqp:precondition-failed"
            else:
                # A broker (or the embedded peer) accepts once it holds the message.
                assert outcomes[1] == Accepted()


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_cast_is_delivered_once_and_a_router_returns_the_consumers_outcome(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _cast, kind)


# -- fan-out -----------------------------------------------------------------------------------------

async def _fanout(adapter: Adapter, kind: str) -> None:
    async with topology(kind, adapter) as topo:
        topic = topo.topic("fanout")
        bodies = [f"fanout-{i}" for i in range(5)]
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(connect(adapter, url)) for url in topo.subscribers]
            subscribers = [await c.receiver(topic, credit=10) for c in conns]
            publisher_url = topo.routers and next(u for u, r in topo.routers.items() if r.name == "ROUTER_EDGE") or topo.client
            await topo.await_receivers(publisher_url, topic, topo.subscribers)
            copies: list[list[Any]] = [[] for _ in subscribers]
            async with connect(adapter, publisher_url) as publisher:
                sender = await publisher.sender(topic)
                async with together(adapter) as group:
                    for subscriber, into in zip(subscribers, copies):
                        group.spawn(_receive, subscriber, len(bodies), into)
                    for body in bodies:
                        assert await sender.send(Message(body=body)) == Accepted()
            assert copies == [bodies] * len(subscribers)  # every instance, on both routers
            for subscriber in subscribers:
                assert await subscriber.nothing_within(QUIET) is None


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_fanout_reaches_every_subscriber_instance_on_both_routers(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _fanout, kind)


# -- notifications through the broker ---------------------------------------------------------------

async def _notifications(adapter: Adapter, kind: str) -> None:
    async with topology(kind, adapter) as topo:
        topic = topo.notifications("notify")
        bodies = [f"event-{i}" for i in range(5)]
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(connect(adapter, url)) for url in topo.subscribers]
            # Through a link route the attach ends on the broker, which has made each
            # subscriber's queue by the time it answers: nothing to wait for.
            subscribers = [await c.receiver(topic, credit=10) for c in conns]
            publisher_url = topo.routers and next(u for u, r in topo.routers.items() if r.name == "ROUTER_EDGE") or topo.client
            async with connect(adapter, publisher_url) as publisher:
                sender = await publisher.sender(topic)
                for body in bodies:  # the broker accepts each once it has it
                    assert await sender.send(Message(body=body)) == Accepted()
            for subscriber in subscribers:
                got: list[Any] = []
                await _receive(subscriber, len(bodies), got)
                assert got == bodies
                assert await subscriber.nothing_within(QUIET) is None


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_notifications_reach_every_pubsub_subscriber_through_the_broker(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _notifications, kind)


# -- competing consumers ------------------------------------------------------------------------------

async def _hold_until_all_taken(consumer: Rcv, held: list[amqp10.Delivery], everyone: list[list[amqp10.Delivery]],
                                count: int) -> None:
    """Take deliveries, settling none until all ``count`` have been taken by someone: while a
    consumer holds unsettled deliveries a router sends the next ones elsewhere."""
    with trio.fail_after(30):
        while sum(len(h) for h in everyone) < count:
            try:
                held.append(await consumer.receive(0.05))
            except amqp10.Timeout:
                pass
    for delivery in held:
        delivery.accept()


async def _competing(adapter: Adapter, kind: str) -> None:
    async with topology(kind, adapter) as topo:
        queue = topo.service("work")
        count, instances = 40, [topo.subscribers[0], topo.subscribers[-1]]  # on A and on B
        async with AsyncExitStack() as stack:
            conns = [await stack.enter_async_context(connect(adapter, url)) for url in instances]
            # A broker (and the embedded peer) balances by credit: a queue hands a message to
            # a consumer with credit, so each grants credit for half and the work is spread.
            # Qpid Dispatch balances by outstanding deliveries instead: the next message goes
            # where the fewest are unsettled (link cost counts too), whatever the credit (a
            # message routed to a consumer without credit waits there), so there each grants
            # credit for all and holds what it takes: the work spreads over both routers.
            consumers = [await c.receiver(queue, credit=0) for c in conns]
            for consumer in consumers:
                consumer.flow(count if topo.routers else count // len(consumers))
            producer_url = topo.routers and next(u for u, r in topo.routers.items() if r.name == "ROUTER_EDGE") or topo.client
            await topo.await_receivers(producer_url, queue, instances)
            held: list[list[amqp10.Delivery]] = [[] for _ in consumers]
            async with connect(adapter, producer_url) as producer:
                sender = await producer.sender(queue)
                async with together(adapter) as group:
                    for consumer, mine in zip(consumers, held):
                        group.spawn(_hold_until_all_taken, consumer, mine, held, count)
                    # All in flight at once: through a router each outcome is the consumer's.
                    outcomes = await sender.send_all((Message(body=i) for i in range(count)), window=count)
            assert outcomes == [Accepted()] * count
            seen = Counter(d.message.body for mine in held for d in mine)
            assert set(seen) == set(range(count)) and max(seen.values()) == 1  # all, none twice
            assert all(held), f"shares {[len(mine) for mine in held]}: one instance got nothing"
            for consumer in consumers:
                assert await consumer.nothing_within(QUIET) is None


@pytest.mark.parametrize(("kind", "adapter"), params())
def test_competing_consumers_on_both_routers_share_the_work_without_duplicates(kind: str, adapter: Adapter) -> None:
    run_scenario(adapter, _competing, kind)


# -- amqp10 as a route container behind a router -----------------------------------------------------

ROUTE_CONTAINER_CONFIG = """
router {{
    mode: standalone
    id: amqp10-route-container-test
}}

listener {{
    host: 127.0.0.1
    port: {router_port}
    role: normal
    authenticatePeer: no
    saslMechanisms: ANONYMOUS
}}

# amqp10's listener: the router connects to it (retrying until it listens).
connector {{
    name: amqp10
    host: 127.0.0.1
    port: {amqp10_port}
    role: route-container
}}

linkRoute {{
    prefix: amqp10/
    direction: in
    connection: amqp10
}}

linkRoute {{
    prefix: amqp10/
    direction: out
    connection: amqp10
}}
"""


async def _through_the_route_container(adapter: Adapter, router_url: str) -> None:
    queue = "amqp10/" + unique("routed")
    async with connect(adapter, router_url) as conn:
        # The router may not have connected to our listener yet: until it has, an attach to
        # the prefix is refused (qd:no-route-to-dest). Bounded retries.
        with trio.fail_after(20):
            while True:
                try:
                    sender = await conn.sender(queue)
                    break
                except amqp10.LinkDetachedError as exc:
                    assert exc.condition == "qd:no-route-to-dest", str(exc)
                    await trio.sleep(0.2)
        # The link ends on amqp10's embedded peer: its queue holds the messages, its outcomes
        # come back through the router.
        for i in range(3):
            assert await sender.send(Message(body=f"routed-{i}")) == Accepted()
        receiver = await conn.receiver(queue, credit=5, auto_accept=True)
        assert [(await receiver.receive()).message.body for _ in range(3)] == [f"routed-{i}" for i in range(3)]
        assert await receiver.nothing_within(QUIET) is None


async def _route_container(adapter: Adapter) -> None:
    async with serve_broker(adapter) as served:
        router_port = free_port()
        config = ROUTE_CONTAINER_CONFIG.format(router_port=router_port, amqp10_port=served.port)
        with run_router(config, router_port):
            await _through_the_route_container(adapter, f"amqp://127.0.0.1:{router_port}")


@pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])
def test_amqp10_listener_serves_as_a_route_container_behind_a_router(adapter: Adapter) -> None:
    run_scenario(adapter, _route_container, limit=60)


def test_amqp10_serve_command_serves_as_a_route_container_behind_a_router() -> None:
    amqp10_port, router_port = free_port(), free_port()
    command = [sys.executable, "-m", "amqp10", "serve", "--port", str(amqp10_port)]
    serve = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        config = ROUTE_CONTAINER_CONFIG.format(router_port=router_port, amqp10_port=amqp10_port)
        with run_router(config, router_port):
            run_scenario(Adapter.BLOCKING, lambda adapter: _through_the_route_container(adapter, f"amqp://127.0.0.1:{router_port}"), limit=60)
    finally:
        serve.terminate()
        try:
            serve.wait(10)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait(10)


# -- what the router does not do: store -----------------------------------------------------------

async def _presettled_dropped(adapter: Adapter) -> None:
    net = network()
    address = "closest/" + unique("presettled")
    count = 500
    async with connect(adapter, net.b.url()) as consumer_side, connect(adapter, net.a.url()) as producer_side:
        receiver = await consumer_side.receiver(address, credit=0)  # attached, but no credit
        await trio.to_thread.run_sync(lambda: wait_for_address(net.a, address, remote=1))
        # At-most-once: the router gives the sender credit of its own and forwards at once;
        # what the receiver has no credit for is dropped, beyond a few buffered deliveries.
        sender = await producer_side.sender(address, settle_mode="at-most-once")
        for i in range(count):
            assert await sender.send(Message(body=i)) is None
        await trio.sleep(QUIET)
        receiver.flow(count)
        got = []
        while (delivery := await receiver.nothing_within(QUIET * 3)) is not None:
            got.append(delivery.message.body)
        assert 0 < len(got) < count // 10, f"{len(got)} of {count} pre-settled messages arrived"
        assert got == sorted(got) and set(got) <= set(range(count))
        # At-least-once: nothing is dropped; each send completes when the receiver settles.
        safe = await producer_side.sender(address)
        receiver_got: list[Any] = []
        async with together(adapter) as group:
            group.spawn(_receive, receiver, 50, receiver_got)
            outcomes = await safe.send_all((Message(body=f"kept-{i}") for i in range(50)), window=50)
        assert outcomes == [Accepted()] * 50
        assert sorted(receiver_got) == sorted(f"kept-{i}" for i in range(50))


@pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])
def test_router_drops_presettled_messages_without_credit_and_keeps_at_least_once_ones(adapter: Adapter) -> None:
    run_scenario(adapter, _presettled_dropped)


async def _char_closes_qpidd(adapter: Adapter) -> None:
    from amqp10.codec import Char

    url = peer_info("QPIDD").url()
    async with connect(adapter, url) as conn:
        sender = await conn.sender(unique("char"))
        # qpidd 1.40's decoder does not know the char type (0x73): it closes the connection.
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            await sender.send(Message(body=Char("x")))
        assert info.value.condition == "amqp:internal-error"
    async with connect(adapter, url) as conn:  # qpidd itself goes on
        sender = await conn.sender(unique("after-char"))
        assert await sender.send(Message(body="x")) == Accepted()


@pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])
def test_a_char_value_makes_qpidd_close_the_connection_which_raises_a_typed_error(adapter: Adapter) -> None:
    run_scenario(adapter, _char_closes_qpidd)
