"""The asyncio client API against our own asyncio server (serve + test broker), over loopback:
every behaviour ``test_trio_client.py`` proves for trio, plus what only asyncio has
(``await connect()``, ``asyncio.timeout``, cancellation held back during cleanup)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
from typing import Sequence

import pytest

import amqp10
import amqp10.asyncio
from amqp10 import Accepted, Message, Modified, Properties, Rejected, Released
from amqp10._handler import ServerConnection
from amqp10.blocking import listen
from amqp10.codec.spec import TerminusDurability, TerminusExpiryPolicy
from amqp10.codec.types import Described, Symbol
from amqp10.engine.events import Event, LinkDetached
from amqp10.engine.link import Link
from amqp10.engine.link import Sender as EngineSender
from support.asyncio_helpers import asyncio_test, eventually, serving
from support.broker import QueueBroker


def _now() -> float:
    return asyncio.get_running_loop().time()


@asyncio_test
async def test_asyncio_send_and_receive_with_async_with_everywhere(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
            async with conn.open_sender("q") as sender, conn.open_receiver("q") as receiver:
                assert await sender.send(Message(body="hello")) == Accepted()
                delivery = await receiver.receive(timeout=5)
                assert delivery.message.body == "hello"
                delivery.accept()
            assert sender.closed and receiver.closed
        assert conn.closed


@asyncio_test
async def test_asyncio_await_connect_gives_a_connection_that_aclose_ends_with_its_io_task(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        before = len(asyncio.all_tasks())
        conn = await amqp10.asyncio.connect(server.url, timeout=5)
        assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()
        await conn.aclose()
        assert conn.closed
        await eventually(lambda: not server.connections)
        assert len(asyncio.all_tasks()) <= before  # the pump's task is gone
        await conn.aclose()  # idempotent


@asyncio_test
async def test_asyncio_Sender_returns_None_when_at_most_once(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("q", settle_mode="at-most-once")
        assert await sender.send(Message(body=1)) is None
        delivery = await (await conn.open_receiver("q", settle_mode=amqp10.SettleMode.AT_MOST_ONCE)).receive(timeout=5)
        assert delivery.settled and delivery.message.body == 1


@asyncio_test
async def test_asyncio_Sender_send_returns_each_remote_outcome(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        rejected = await (await conn.open_sender("outcome/reject")).send(Message(body=1))
        assert isinstance(rejected, Rejected) and rejected.error is not None
        assert rejected.error.condition == "amqp:precondition-failed"
        assert await (await conn.open_sender("outcome/release")).send(Message(body=1)) == Released()
        modified = await (await conn.open_sender("outcome/modify")).send(Message(body=1))
        assert modified == Modified(delivery_failed=True, undeliverable_here=True)


@asyncio_test
async def test_asyncio_Receiver_receive_raises_Timeout_when_nothing_arrives(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("empty")
        started = _now()
        with pytest.raises(amqp10.Timeout):
            await receiver.receive(timeout=0.2)
        assert 0.15 < _now() - started < 2


@asyncio_test
async def test_asyncio_Receiver_manual_flow_and_drain(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("manual")
        for i in range(5):
            await sender.send(Message(body=i))
        receiver = await conn.open_receiver("manual", credit=0)
        with pytest.raises(amqp10.Timeout):
            await receiver.receive(timeout=0.2)
        receiver.flow(2)
        assert [(await receiver.receive(timeout=5)).message.body for _ in range(2)] == [0, 1]
        receiver.flow(10)
        assert [d.message.body for d in await receiver.drain(timeout=5)] == [2, 3, 4]
        assert receiver.credit == 0


@asyncio_test
async def test_asyncio_Receiver_async_for_stops_when_the_link_closes_and_auto_accepts(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("iter")
        for i in range(3):
            await sender.send(Message(body=i))
        receiver = await conn.open_receiver("iter", auto_accept=True)
        seen = []
        async for delivery in receiver:
            assert delivery.settled
            seen.append(delivery.message.body)
            if len(seen) == 3:
                await receiver.aclose()
        assert seen == [0, 1, 2]
        await eventually(lambda: not broker.unsettled)


@asyncio_test
async def test_asyncio_dynamic_receiver_anonymous_sender_and_request_reply(broker: QueueBroker) -> None:
    async with serving(broker, offered_capabilities=["ANONYMOUS-RELAY"]) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        async with conn.open_receiver(dynamic=True) as reply_to:
            assert reply_to.address is not None and reply_to.address.startswith("dynamic-")
            anonymous = await conn.open_sender()
            await anonymous.send(Message(body="direct", properties=Properties(to=reply_to.address)))
            assert (await reply_to.receive(timeout=5)).message.body == "direct"
        reply = await conn.request("echo", Message(body="ping"), timeout=5)
        assert reply.body == "ping"

        async with conn.open_requester("echo") as requester:

            async def ask(n: int) -> object:
                return (await requester.request(n, timeout=5)).body

            results = await asyncio.gather(*(ask(n) for n in range(10)))
        assert results == list(range(10))


@asyncio_test
async def test_asyncio_receiver_options_reach_the_peer(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver(
            "sub",
            filter={"sel": Described(Symbol("apache.org:selector-filter:string"), "a > 1")},
            durable="unsettled-state",
            expiry_policy="never",
            properties={"k": "v"},
        )
        source = broker.attaches[0].source
        assert source is not None
        assert source.filter == {Symbol("sel"): Described(Symbol("apache.org:selector-filter:string"), "a > 1")}
        assert source.durable == TerminusDurability.UNSETTLED_STATE
        assert source.expiry_policy == TerminusExpiryPolicy.NEVER
        assert receiver.remote_properties == {Symbol("k"): "v"}
        await receiver.detach()


@asyncio_test
async def test_asyncio_open_sender_raises_LinkDetachedError_with_condition_when_refused(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        with pytest.raises(amqp10.LinkDetachedError) as info:
            async with conn.open_sender("refuse/x"):
                pass  # pragma: no cover - never reached
        assert info.value.condition == "amqp:not-found"
        assert "no node named 'refuse/x'" in str(info.value)
        assert await (await conn.open_sender("ok")).send(Message(body=1)) == Accepted()


@asyncio_test
async def test_asyncio_connect_lets_the_users_own_exception_out_unwrapped(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        with pytest.raises(KeyError):
            async with amqp10.asyncio.connect(server.url, timeout=5):
                raise KeyError("mine")
        await eventually(lambda: not server.connections)  # and the connection was closed


@asyncio_test
async def test_asyncio_connect_raises_ConnectionClosedError_when_nothing_listens() -> None:
    with pytest.raises(amqp10.ConnectionClosedError, match="could not connect to amqp://127.0.0.1:1"):
        await amqp10.asyncio.connect("amqp://127.0.0.1:1", timeout=5)


@asyncio_test
async def test_asyncio_cancelled_receive_loses_no_message(broker: QueueBroker) -> None:
    count = 200
    rng = random.Random(1234)
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("cancel-rx", credit=5)
        sender = await conn.open_sender("cancel-rx")
        got: list[int] = []
        cancelled = 0

        async def produce() -> None:
            for i in range(count):
                await sender.send(Message(body=i))
                if i % 7 == 0:
                    await asyncio.sleep(0)

        producer = asyncio.ensure_future(produce())
        while len(got) < count:
            # cancel receives at arbitrary moments, some while a delivery is arriving
            try:
                async with asyncio.timeout(rng.choice([0, 0.0001, 0.001, 0.01])):
                    delivery = await receiver.receive()
                    delivery.accept()
                    got.append(delivery.message.body)
            except TimeoutError:
                cancelled += 1
        await producer
        assert got == list(range(count))
        assert cancelled > 0
        await eventually(lambda: not broker.unsettled)  # every accept reaches the broker


@asyncio_test
async def test_asyncio_task_cancel_of_receive_loses_no_message_and_raises_CancelledError(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("cancel-task")
        waiting = asyncio.ensure_future(receiver.receive())
        await asyncio.sleep(0.05)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await (await conn.open_sender("cancel-task")).send(Message(body="kept"))
        assert (await receiver.receive(timeout=5)).message.body == "kept"


@asyncio_test
async def test_asyncio_cancelled_send_is_withdrawn_when_nothing_went_out(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("nocredit")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await sender.send(Message(body="never"))
        assert sender.unsettled == 0
        await asyncio.sleep(0.05)
        assert broker.received_count == 0
        assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


@asyncio_test
async def test_asyncio_cancelled_send_keeps_tracking_the_outcome_when_the_message_went_out(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("held")
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await sender.send(Message(body="slow"))
        assert sender.unsettled == 1 and broker.received_count == 1
        broker.release_held()
        await eventually(lambda: not sender.unsettled)
        assert broker.received_count == 1  # sent once, settled once
        assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


class _SlowToDetach(QueueBroker):
    """Never answers a dynamic receiver's attach; takes ``DETACH_DELAY`` over every detach
    (its handler thread sleeps, so the engine's answer goes out that much later)."""

    DETACH_DELAY = 0.5

    def __init__(self) -> None:
        super().__init__()
        self.detaching = threading.Event()

    def _attach(self, conn: ServerConnection, link: Link) -> None:
        source = link.remote_source
        if isinstance(link, EngineSender) and source is not None and source.dynamic:
            return  # never answered: the client's open_receiver times out
        super()._attach(conn, link)

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        if any(isinstance(e, LinkDetached) for e in events):
            self.detaching.set()
            time.sleep(self.DETACH_DELAY)
        super().events_received(conn, events)


@asyncio_test
async def test_asyncio_cleanup_wait_finishes_and_the_cancellation_is_raised_after_it() -> None:
    # open_requester: when the reply receiver cannot be had, the sender is closed again in a
    # Wait.cleanup step; a cancellation arriving during that step is held back until it ends.
    broker = _SlowToDetach()
    with listen("127.0.0.1", 0, broker) as listener:
        async with amqp10.asyncio.connect(listener.url, timeout=5) as conn:
            task = asyncio.ensure_future(conn.open_requester("echo", timeout=0.2))
            await eventually(broker.detaching.is_set)
            started = _now()
            task.cancel()
            await asyncio.sleep(0.1)
            assert not task.done()  # still waiting for the sender's DETACH answer
            with pytest.raises(asyncio.CancelledError):
                await task
            assert _now() - started > _SlowToDetach.DETACH_DELAY * 0.5
            assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


@asyncio_test
async def test_asyncio_cancelled_block_still_closes_its_link_even_when_cancelled_again_meanwhile() -> None:
    broker = _SlowToDetach()
    with listen("127.0.0.1", 0, broker) as listener:
        async with amqp10.asyncio.connect(listener.url, timeout=5) as conn:
            links: list[amqp10.asyncio.Receiver] = []

            async def hold() -> None:
                async with conn.open_receiver("held-open") as receiver:
                    links.append(receiver)
                    await asyncio.sleep(10)

            task = asyncio.ensure_future(hold())
            await eventually(lambda: links)
            task.cancel()
            await eventually(broker.detaching.is_set)
            task.cancel()  # again, while __aexit__'s aclose waits for the DETACH answer
            with pytest.raises(asyncio.CancelledError):
                await task
            assert links[0]._record.detached  # the DETACH handshake finished, not just began
            assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


@asyncio_test
async def test_asyncio_many_tasks_send_on_one_connection(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=10) as conn:
        sender = await conn.open_sender("many")

        async def work(t: int) -> list[object]:
            return [await sender.send(Message(body=[t, i])) for i in range(25)]

        outcomes = [o for batch in await asyncio.gather(*(work(t) for t in range(8))) for o in batch]
        assert outcomes == [Accepted()] * 200
        receiver = await conn.open_receiver("many", credit=100, auto_accept=True)
        bodies = {tuple((await receiver.receive(timeout=5)).message.body) for _ in range(200)}
        assert len(bodies) == 200


@asyncio_test
async def test_asyncio_Connection_survives_several_idle_timeouts_of_silence(broker: QueueBroker) -> None:
    async with serving(broker, idle_timeout=0.2) as server:
        async with amqp10.asyncio.connect(server.url, idle_timeout=0.2, timeout=5) as conn:
            sender = await conn.open_sender("q")
            await asyncio.sleep(1.0)
            assert not conn.closed
            assert await sender.send(Message(body="alive")) == Accepted()


@asyncio_test
async def test_asyncio_client_sees_connection_forced_when_the_server_stops(broker: QueueBroker) -> None:
    started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
    serving_task = asyncio.ensure_future(amqp10.asyncio.serve("127.0.0.1", 0, broker, started=started))
    server = await started
    async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("q")
        serving_task.cancel()
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            await receiver.receive(timeout=5)
        assert info.value.condition == "amqp:connection:forced"
    with pytest.raises(asyncio.CancelledError):
        await serving_task


@asyncio_test
async def test_asyncio_start_server_serves_for_the_block_and_closes_its_connections_on_exit(broker: QueueBroker) -> None:
    async with amqp10.asyncio.start_server("127.0.0.1", 0, broker) as server:
        conn = await amqp10.asyncio.connect(server.url, timeout=5)
        receiver = await conn.open_receiver("q")
    with pytest.raises(amqp10.ConnectionClosedError) as info:
        await receiver.receive(timeout=5)
    assert info.value.condition == "amqp:connection:forced"
    await conn.aclose()


@asyncio_test
async def test_asyncio_connect_raises_SASLError_when_PLAIN_would_go_over_plain_tcp(broker: QueueBroker) -> None:
    from amqp10.engine.authenticators import SimpleAuthenticator

    auth = SimpleAuthenticator({"alice": "wonder"})
    async with serving(
        broker, authenticator=auth, sasl_mechanisms=["PLAIN"], allow_insecure_plain=True, allow_anonymous=False
    ) as server:
        with pytest.raises(amqp10.SASLError, match="allow_insecure_plain"):
            async with amqp10.asyncio.connect(f"amqp://alice:wonder@127.0.0.1:{server.port}", timeout=5):
                pass  # pragma: no cover
        async with amqp10.asyncio.connect(
            f"amqp://alice:wonder@127.0.0.1:{server.port}", allow_insecure_plain=True, timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()
            assert server.connections[0].engine.user == "alice"
