"""The trio client API against our own trio server (serve + test broker), over loopback."""

from __future__ import annotations

import random

import pytest
import trio

import amqp10
import amqp10.trio
from amqp10 import Accepted, Message, Modified, Properties, Rejected, Released
from amqp10.codec.spec import TerminusDurability, TerminusExpiryPolicy
from amqp10.codec.types import Described, Symbol
from support.broker import QueueBroker
from support.trio_helpers import serving, trio_test


@trio_test
async def test_trio_send_and_receive_with_async_with_everywhere(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            async with conn.open_sender("q") as sender, conn.open_receiver("q") as receiver:
                assert await sender.send(Message(body="hello")) == Accepted()
                delivery = await receiver.receive(timeout=5)
                assert delivery.message.body == "hello"
                delivery.accept()
            assert sender.closed and receiver.closed
        assert conn.closed


@trio_test
async def test_trio_Sender_returns_None_when_at_most_once(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("q", settle_mode="at-most-once")
        assert await sender.send(Message(body=1)) is None
        delivery = await (await conn.open_receiver("q", settle_mode=amqp10.SettleMode.AT_MOST_ONCE)).receive(timeout=5)
        assert delivery.settled and delivery.message.body == 1


@trio_test
async def test_trio_Sender_send_returns_each_remote_outcome(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        rejected = await (await conn.open_sender("outcome/reject")).send(Message(body=1))
        assert isinstance(rejected, Rejected) and rejected.error is not None
        assert rejected.error.condition == "amqp:precondition-failed"
        assert await (await conn.open_sender("outcome/release")).send(Message(body=1)) == Released()
        modified = await (await conn.open_sender("outcome/modify")).send(Message(body=1))
        assert modified == Modified(delivery_failed=True, undeliverable_here=True)


@trio_test
async def test_trio_Receiver_receive_raises_Timeout_when_nothing_arrives(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("empty")
        started = trio.current_time()
        with pytest.raises(amqp10.Timeout):
            await receiver.receive(timeout=0.2)
        assert 0.15 < trio.current_time() - started < 2


@trio_test
async def test_trio_Receiver_manual_flow_and_drain(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
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


@trio_test
async def test_trio_Receiver_async_for_stops_when_the_link_closes_and_auto_accepts(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
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
        with trio.fail_after(5):
            while broker.unsettled:
                await trio.sleep(0.01)


@trio_test
async def test_trio_dynamic_receiver_anonymous_sender_and_request_reply(broker: QueueBroker) -> None:
    async with serving(broker, offered_capabilities=["ANONYMOUS-RELAY"]) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        async with conn.open_receiver(dynamic=True) as reply_to:
            assert reply_to.address is not None and reply_to.address.startswith("dynamic-")
            anonymous = await conn.open_sender()
            await anonymous.send(Message(body="direct", properties=Properties(to=reply_to.address)))
            assert (await reply_to.receive(timeout=5)).message.body == "direct"
        reply = await conn.request("echo", Message(body="ping"), timeout=5)
        assert reply.body == "ping"

        results: dict[int, object] = {}
        async with conn.open_requester("echo") as requester:

            async def ask(n: int) -> None:
                results[n] = (await requester.request(n, timeout=5)).body

            async with trio.open_nursery() as nursery:
                for n in range(10):
                    nursery.start_soon(ask, n)
        assert results == {n: n for n in range(10)}


@trio_test
async def test_trio_receiver_options_reach_the_peer(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
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


@trio_test
async def test_trio_open_sender_raises_LinkDetachedError_with_condition_when_refused(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        with pytest.raises(amqp10.LinkDetachedError) as info:
            async with conn.open_sender("refuse/x"):
                pass  # pragma: no cover - never reached
        assert info.value.condition == "amqp:not-found"
        assert "no node named 'refuse/x'" in str(info.value)
        assert await (await conn.open_sender("ok")).send(Message(body=1)) == Accepted()


@trio_test
async def test_trio_connect_lets_the_users_own_exception_out_unwrapped(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        with pytest.raises(KeyError):
            async with amqp10.trio.connect(server.url, timeout=5):
                raise KeyError("mine")


@trio_test
async def test_trio_cancelled_receive_loses_no_message(broker: QueueBroker) -> None:
    count = 200
    rng = random.Random(1234)
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        receiver = await conn.open_receiver("cancel-rx", credit=5)
        sender = await conn.open_sender("cancel-rx")
        got: list[int] = []
        cancelled = 0

        async def produce() -> None:
            for i in range(count):
                await sender.send(Message(body=i))
                if i % 7 == 0:
                    await trio.sleep(0)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(produce)
            while len(got) < count:
                # cancel receives at arbitrary moments, some while a delivery is arriving
                with trio.move_on_after(rng.choice([0, 0.0001, 0.001, 0.01])) as scope:
                    delivery = await receiver.receive()
                    delivery.accept()
                    got.append(delivery.message.body)
                cancelled += scope.cancelled_caught
        assert got == list(range(count))
        assert cancelled > 0
        with trio.fail_after(5):  # every accept reaches the broker
            while broker.unsettled:
                await trio.sleep(0.01)


@trio_test
async def test_trio_cancelled_send_is_withdrawn_when_nothing_went_out(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("nocredit")
        with trio.move_on_after(0.1) as scope:
            await sender.send(Message(body="never"))
        assert scope.cancelled_caught
        assert sender.unsettled == 0
        await trio.sleep(0.05)
        assert broker.received_count == 0
        assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


@trio_test
async def test_trio_cancelled_send_keeps_tracking_the_outcome_when_the_message_went_out(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("held")
        with trio.move_on_after(0.1) as scope:
            await sender.send(Message(body="slow"))
        assert scope.cancelled_caught
        assert sender.unsettled == 1 and broker.received_count == 1
        broker.release_held()
        with trio.fail_after(5):
            while sender.unsettled:
                await trio.sleep(0.01)
        assert broker.received_count == 1  # sent once, settled once
        assert await (await conn.open_sender("q")).send(Message(body="usable")) == Accepted()


@trio_test
async def test_trio_many_tasks_send_on_one_connection(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=10) as conn:
        sender = await conn.open_sender("many")
        outcomes = []

        async def work(t: int) -> None:
            for i in range(25):
                outcomes.append(await sender.send(Message(body=[t, i])))

        async with trio.open_nursery() as nursery:
            for t in range(8):
                nursery.start_soon(work, t)
        assert outcomes == [Accepted()] * 200
        receiver = await conn.open_receiver("many", credit=100, auto_accept=True)
        bodies = {tuple((await receiver.receive(timeout=5)).message.body) for _ in range(200)}
        assert len(bodies) == 200


@trio_test
async def test_trio_Connection_survives_several_idle_timeouts_of_silence(broker: QueueBroker) -> None:
    async with serving(broker, idle_timeout=0.2) as server:
        async with amqp10.trio.connect(server.url, idle_timeout=0.2, timeout=5) as conn:
            sender = await conn.open_sender("q")
            await trio.sleep(1.0)
            assert not conn.closed
            assert await sender.send(Message(body="alive")) == Accepted()


@trio_test
async def test_trio_client_sees_connection_forced_when_the_server_stops(broker: QueueBroker) -> None:
    async with trio.open_nursery() as outer:
        server_scope = trio.CancelScope()

        async def run_server(task_status: trio.TaskStatus[amqp10.trio.Server] = trio.TASK_STATUS_IGNORED) -> None:
            with server_scope:
                await amqp10.trio.serve("127.0.0.1", 0, broker, task_status=task_status)

        server = await outer.start(run_server)
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            receiver = await conn.open_receiver("q")
            server_scope.cancel()
            with pytest.raises(amqp10.ConnectionClosedError) as info:
                await receiver.receive(timeout=5)
            assert info.value.condition == "amqp:connection:forced"


@trio_test
async def test_trio_connect_raises_SASLError_when_PLAIN_would_go_over_plain_tcp(broker: QueueBroker) -> None:
    from amqp10.engine.authenticators import SimpleAuthenticator

    auth = SimpleAuthenticator({"alice": "wonder"})
    async with serving(
        broker, authenticator=auth, sasl_mechanisms=["PLAIN"], allow_insecure_plain=True, allow_anonymous=False
    ) as server:
        with pytest.raises(amqp10.SASLError, match="allow_insecure_plain"):
            async with amqp10.trio.connect(f"amqp://alice:wonder@127.0.0.1:{server.port}", timeout=5):
                pass  # pragma: no cover
        async with amqp10.trio.connect(
            f"amqp://alice:wonder@127.0.0.1:{server.port}", allow_insecure_plain=True, timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()
            assert server.connections[0].engine.user == "alice"
