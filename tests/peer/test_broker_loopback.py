"""The embedded broker over real loopback sockets, served by the blocking listener, trio and asyncio.

Blocking clients drive every scenario against every server adapter (fixtures in conftest.py);
the trio and asyncio clients drive the main ones against the peer served by their own adapter.
Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Callable

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message, Properties
from amqp10.peer import Broker, NodeLimits
from amqp10.peer.server import serve_asyncio, serve_trio
from support.asyncio_helpers import asyncio_test, eventually
from support.trio_helpers import trio_test

from .conftest import ServedPeer  # type: ignore[import-not-found]

_WAIT = 5.0


def _until(condition: Callable[[], bool], what: str, limit: float = _WAIT) -> None:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _delivery_count(message: Message) -> int:
    header = message.header
    return 0 if header is None or header.delivery_count is None else int(header.delivery_count)


def test_Broker_over_loopback_balances_a_queue_among_receivers_with_equal_credit(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        receivers = [conn.open_receiver("work", credit=10) for _ in range(3)]
        sender = conn.open_sender("work")
        for i in range(30):
            assert sender.send(Message(i)) == Accepted()
        _until(lambda: sum(r.queued for r in receivers) == 30, "30 deliveries")
        assert [r.queued for r in receivers] == [10, 10, 10]
        bodies = sorted(r.receive(timeout=_WAIT).message.body for r in receivers for _ in range(10))
        assert bodies == list(range(30))


def test_Broker_over_loopback_gives_every_topic_subscriber_a_copy(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        subscribers = [conn.open_receiver("topic://news", credit=10) for _ in range(3)]
        sender = conn.open_sender("topic://news")
        for i in range(5):
            sender.send(Message(f"n{i}"))
        for subscriber in subscribers:
            got = [subscriber.receive(timeout=_WAIT).message.body for _ in range(5)]
            assert got == [f"n{i}" for i in range(5)]


def test_Broker_over_loopback_answers_a_request_through_a_dynamic_reply_node(served: ServedPeer) -> None:
    stop = threading.Event()

    def service() -> None:
        with amqp10.connect(served.url, timeout=_WAIT) as own:
            requests = own.open_receiver("rpc")
            replies = own.open_sender(None)
            while not stop.is_set():
                try:
                    delivery = requests.receive(timeout=0.05)
                except amqp10.Timeout:
                    continue
                props = delivery.message.properties
                replies.send(Message(delivery.message.body * 2, properties=Properties(to=props.reply_to, correlation_id=props.message_id)))
                delivery.accept()

    thread = threading.Thread(target=service, daemon=True)
    thread.start()
    try:
        with amqp10.connect(served.url, timeout=_WAIT) as conn:
            with conn.open_requester("rpc") as requester:
                address = requester.receiver.address
                assert address is not None and address.startswith("dynamic/")
                assert [requester.request(Message(n), timeout=_WAIT).body for n in (1, 2, 3)] == [2, 4, 6]
            # Closed with its link: the dynamic node is gone.
            with pytest.raises(amqp10.LinkDetachedError) as info:
                conn.open_sender(address)
            assert info.value.condition == "amqp:not-found"
    finally:
        stop.set()
        thread.join(_WAIT)


def test_Broker_over_loopback_routes_by_to_when_the_sender_is_anonymous(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        a = conn.open_receiver("a")
        b = conn.open_receiver("b")
        relay = conn.open_sender(None)
        assert relay.send(Message("to-a", properties=Properties(to="a"))) == Accepted()
        assert relay.send(Message("to-b", properties=Properties(to="b"))) == Accepted()
        assert a.receive(timeout=_WAIT).message.body == "to-a"
        assert b.receive(timeout=_WAIT).message.body == "to-b"


def test_Broker_over_loopback_redelivers_released_and_modified_messages(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        receiver = conn.open_receiver("retry", credit=1)
        conn.open_sender("retry").send(Message("again"))
        first = receiver.receive(timeout=_WAIT)
        first.release()
        second = receiver.receive(timeout=_WAIT)
        assert second.message.body == "again" and _delivery_count(second.message) == 0
        second.modify(delivery_failed=True)
        third = receiver.receive(timeout=_WAIT)
        assert third.message.body == "again" and _delivery_count(third.message) == 1
        third.accept()
        with pytest.raises(amqp10.Timeout):
            receiver.receive(timeout=0.2)


def test_Broker_over_loopback_returns_unsettled_messages_when_their_receiver_closes(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("held")
        for i in range(3):
            sender.send(Message(i))
        with amqp10.connect(served.url, timeout=_WAIT) as other:
            greedy = other.open_receiver("held", credit=10)
            assert [greedy.receive(timeout=_WAIT).message.body for _ in range(3)] == [0, 1, 2]
            # closes without settling anything
        patient = conn.open_receiver("held", credit=10)
        again = [patient.receive(timeout=_WAIT).message for _ in range(3)]
        assert [m.body for m in again] == [0, 1, 2]
        assert [_delivery_count(m) for m in again] == [1, 1, 1]


def test_Broker_over_loopback_back_pressures_a_fast_sender_at_the_queue_limit_and_loses_nothing(
    served_small: ServedPeer,
) -> None:
    total = 200
    accepted: list[int] = []
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with amqp10.connect(served_small.url, timeout=_WAIT) as own:
                sender = own.open_sender("bounded")
                for i in range(total):
                    outcome = sender.send(Message(i), timeout=30)
                    assert outcome == Accepted()
                    accepted.append(i)
        except BaseException as exc:
            failure.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    try:
        # With nobody consuming, the queue fills to its limit and the sender gets no credit.
        _until(lambda: len(accepted) >= 10 or bool(failure), "the queue to fill")
        time.sleep(0.3)
        assert not failure
        assert len(accepted) == 10
        with amqp10.connect(served_small.url, timeout=_WAIT) as conn:
            receiver = conn.open_receiver("bounded", credit=5)
            bodies = []
            for _ in range(total):
                delivery = receiver.receive(timeout=_WAIT)
                bodies.append(delivery.message.body)
                delivery.accept()
        assert bodies == list(range(total))
    finally:
        producer.join(30)
    assert not failure and accepted == list(range(total))


# -- the trio client against the trio-served peer ----------------------------------------------


@trio_test
async def test_Broker_under_trio_serve_balances_and_copies_for_trio_clients() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, task_status=task_status))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            workers = [await conn.open_receiver("jobs", credit=4) for _ in range(2)]
            fans = [await conn.open_receiver("topic://t", credit=4) for _ in range(2)]
            jobs = await conn.open_sender("jobs")
            topic = await conn.open_sender("topic://t")
            for i in range(8):
                assert await jobs.send(Message(i)) == Accepted()
            for i in range(3):
                await topic.send(Message(f"t{i}"))
            got = [[(await w.receive(timeout=_WAIT)).message.body for _ in range(4)] for w in workers]
            assert sorted(got[0] + got[1]) == list(range(8)) and got[0] == [0, 2, 4, 6]
            for fan in fans:
                assert [(await fan.receive(timeout=_WAIT)).message.body for _ in range(3)] == ["t0", "t1", "t2"]
        nursery.cancel_scope.cancel()


@trio_test
async def test_Broker_under_trio_serve_back_pressures_a_trio_sender_and_loses_nothing() -> None:
    total = 100
    broker = Broker(limits=NodeLimits(max_messages=10), credit_window=50)
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, broker=broker, task_status=task_status))
        accepted: list[int] = []

        async def produce() -> None:
            async with amqp10.trio.connect(server.url, timeout=_WAIT) as own:
                sender = await own.open_sender("bounded")
                for i in range(total):
                    assert await sender.send(Message(i), timeout=30) == Accepted()
                    accepted.append(i)

        nursery.start_soon(produce)
        with trio.fail_after(_WAIT):
            while len(accepted) < 10:
                await trio.sleep(0.01)
        await trio.sleep(0.3)
        assert len(accepted) == 10
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            receiver = await conn.open_receiver("bounded", credit=5)
            bodies = []
            for _ in range(total):
                delivery = await receiver.receive(timeout=_WAIT)
                bodies.append(delivery.message.body)
                delivery.accept()
        assert bodies == list(range(total))
        with trio.fail_after(_WAIT):
            while len(accepted) < total:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


# -- the asyncio client against the asyncio-served peer ----------------------------------------


async def _serve_asyncio(broker: Broker | None = None) -> "tuple[asyncio.Task[None], amqp10.asyncio.Server]":
    started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(serve_asyncio("127.0.0.1", 0, broker=broker, started=started))
    return task, await started


@asyncio_test
async def test_Broker_under_asyncio_serve_balances_and_copies_for_asyncio_clients() -> None:
    serving, server = await _serve_asyncio()
    try:
        async with amqp10.asyncio.connect(server.url, timeout=_WAIT) as conn:
            workers = [await conn.open_receiver("jobs", credit=4) for _ in range(2)]
            fans = [await conn.open_receiver("topic://t", credit=4) for _ in range(2)]
            jobs = await conn.open_sender("jobs")
            topic = await conn.open_sender("topic://t")
            for i in range(8):
                assert await jobs.send(Message(i)) == Accepted()
            for i in range(3):
                await topic.send(Message(f"t{i}"))
            got = [[(await w.receive(timeout=_WAIT)).message.body for _ in range(4)] for w in workers]
            assert sorted(got[0] + got[1]) == list(range(8)) and got[0] == [0, 2, 4, 6]
            for fan in fans:
                assert [(await fan.receive(timeout=_WAIT)).message.body for _ in range(3)] == ["t0", "t1", "t2"]
    finally:
        serving.cancel()
        await asyncio.wait((serving,))


@asyncio_test
async def test_Broker_under_asyncio_serve_back_pressures_an_asyncio_sender_and_loses_nothing() -> None:
    total = 100
    broker = Broker(limits=NodeLimits(max_messages=10), credit_window=50)
    serving, server = await _serve_asyncio(broker)
    accepted: list[int] = []

    async def produce() -> None:
        async with amqp10.asyncio.connect(server.url, timeout=_WAIT) as own:
            sender = await own.open_sender("bounded")
            for i in range(total):
                assert await sender.send(Message(i), timeout=30) == Accepted()
                accepted.append(i)

    producer = asyncio.ensure_future(produce())
    try:
        await eventually(lambda: len(accepted) >= 10, _WAIT)
        await asyncio.sleep(0.3)
        assert len(accepted) == 10
        async with amqp10.asyncio.connect(server.url, timeout=_WAIT) as conn:
            receiver = await conn.open_receiver("bounded", credit=5)
            bodies = []
            for _ in range(total):
                delivery = await receiver.receive(timeout=_WAIT)
                bodies.append(delivery.message.body)
                delivery.accept()
        assert bodies == list(range(total))
        await eventually(lambda: len(accepted) == total, _WAIT)
        await producer
    finally:
        producer.cancel()
        serving.cancel()
        await asyncio.wait((producer, serving))


def test_Broker_over_loopback_forwards_large_messages_intact_between_small_ones(served: ServedPeer) -> None:
    # Issue 9: large payloads travel by reference on the way out (engine output parts, the
    # blocking transport's large writes) and are gathered into one buffer on the way in,
    # at the receiver and at the broker, which forwards the bytes it stored.
    big = bytes(i * 31 % 257 % 256 for i in range(1 << 16)) * 48  # 3 MiB, many frames
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        receiver = conn.open_receiver("large", credit=10)
        sender = conn.open_sender("large")
        sent = [Message(b"first"), Message(big, application_properties={"n": 1}), Message(b"mid"),
                Message(big[::-1]), Message("last")]
        for message in sent:
            assert sender.send(message, timeout=30) == Accepted()
        got = [receiver.receive(timeout=30) for _ in sent]
        assert [d.message for d in got] == sent
        assert type(got[1].message.body) is bytes
        assert got[3].payload == sent[3].encode()


@trio_test
async def test_Broker_under_trio_serve_forwards_a_large_message_to_a_trio_receiver() -> None:
    big = bytes(range(256)) * (12 << 10)  # 3 MiB
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, task_status=task_status))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            receiver = await conn.open_receiver("large", credit=2)
            sender = await conn.open_sender("large")
            assert await sender.send(Message(big), timeout=30) == Accepted()
            assert await sender.send(Message(b"small"), timeout=30) == Accepted()
            first = await receiver.receive(timeout=30)
            second = await receiver.receive(timeout=30)
            assert first.message.body == big
            assert second.message.body == b"small"
        nursery.cancel_scope.cancel()
