"""Sending without blocking per message: ``Sender.submit`` returns a ``Tracker``,
``Sender.send_many`` keeps up to the link credit in flight; both adapters, against our server."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message, Rejected, Released
from amqp10.blocking import Listener, connect
from support.broker import QueueBroker
from support import asyncio_helpers
from support.trio_helpers import serving, trio_test


def _eventually(check: object, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.01)
    return False


# -- blocking ---------------------------------------------------------------------------------------
def test_Sender_submit_returns_a_Tracker_whose_wait_gives_the_outcome(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q")
        trackers = [sender.submit(Message(body=i)) for i in range(20)]
        assert all(isinstance(t, amqp10.Tracker) for t in trackers)
        assert [t.wait() for t in trackers] == [Accepted()] * 20
        assert all(t.settled and t.outcome == Accepted() and t.remote_state == Accepted() for t in trackers)
        receiver = conn.open_receiver("q", credit=20)
        assert [receiver.receive(timeout=5).message.body for _ in range(20)] == list(range(20))


def test_Tracker_reports_nothing_until_the_outcome_arrives(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        tracker = conn.open_sender("held").submit(Message(body="slow"))
        with pytest.raises(amqp10.Timeout):
            tracker.wait(0.2)
        assert not tracker.settled and tracker.outcome is None and tracker.remote_state is None
        listener.call(broker.release_held)
        assert tracker.wait(5) == Accepted()  # a timed-out wait changed nothing: wait again
        assert tracker.settled


def test_Tracker_wait_returns_the_peers_outcome_when_not_accepted(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        rejected = conn.open_sender("outcome/reject").submit(Message(body=1))
        released = conn.open_sender("outcome/release").submit(Message(body=1))
        assert isinstance(rejected.wait(), Rejected) and rejected.outcome == rejected.remote_state
        assert released.wait() == Released()


def test_Tracker_wait_returns_None_once_written_when_at_most_once(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        tracker = conn.open_sender("q", settle_mode="at-most-once").submit(Message(body="x"))
        assert tracker.wait() is None
        assert tracker.settled and tracker.outcome is None


def test_Tracker_wait_raises_LinkDetachedError_when_the_link_closes_under_it(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("held")
        tracker = sender.submit(Message(body="slow"))
        errors: list[BaseException] = []

        def waiter() -> None:
            try:
                tracker.wait(10)
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(0.1)
        sender.close()
        thread.join(5)
        assert not thread.is_alive()
        assert len(errors) == 1 and isinstance(errors[0], amqp10.LinkDetachedError)


def test_Tracker_waits_on_other_threads_each_get_their_own_outcome(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q")
        trackers = [sender.submit(Message(body=i)) for i in range(40)]
        outcomes: list[object] = [None] * 40

        def wait_for(i: int) -> None:
            outcomes[i] = trackers[i].wait(10)

        threads = [threading.Thread(target=wait_for, args=(i,)) for i in range(40)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert outcomes == [Accepted()] * 40


def test_Sender_send_many_returns_every_outcome_in_order(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q")
        outcomes = sender.send_many((Message(body=i) for i in range(500)), window=30)
        assert outcomes == [Accepted()] * 500
        assert sender.unsettled == 0
        receiver = conn.open_receiver("q", credit=100, auto_accept=True)
        assert [receiver.receive(timeout=5).message.body for _ in range(500)] == list(range(500))


def test_Sender_send_many_returns_Nones_when_at_most_once(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q", settle_mode="at-most-once")
        assert sender.send_many([Message(body=i) for i in range(300)]) == [None] * 300
        receiver = conn.open_receiver("q", credit=100, settle_mode="at-most-once")
        assert [receiver.receive(timeout=5).message.body for _ in range(300)] == list(range(300))


def test_Sender_send_many_raises_Timeout_and_withdraws_what_never_went_out_when_no_credit_comes(
    listener: Listener, broker: QueueBroker
) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("nocredit")
        with pytest.raises(amqp10.Timeout):
            sender.send_many([Message(body=i) for i in range(10)], timeout=0.2)
        assert sender.unsettled == 0
        time.sleep(0.1)
        assert listener.call(lambda: broker.received_count) == 0


def test_Sender_send_many_returns_at_once_when_given_nothing_even_without_credit(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        assert conn.open_sender("nocredit").send_many([], timeout=0.5) == []


def test_Sender_send_many_refuses_a_window_below_one(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        with pytest.raises(ValueError):
            conn.open_sender("q").send_many([Message(body=1)], window=0)


def test_Sender_send_many_keeps_at_most_window_messages_without_an_outcome(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("held")
        done: list[list[object]] = []
        thread = threading.Thread(target=lambda: done.append(sender.send_many([Message(body=i) for i in range(12)], window=5, timeout=10)))
        thread.start()
        try:
            assert _eventually(lambda: listener.call(lambda: broker.received_count) == 5)
            time.sleep(0.1)
            assert listener.call(lambda: broker.received_count) == 5  # the window is full
            for expected in (10, 12):
                listener.call(broker.release_held)
                assert _eventually(lambda: listener.call(lambda: broker.received_count) == expected)
        finally:
            for _ in range(3):
                listener.call(broker.release_held)
                thread.join(1)
        assert not thread.is_alive()
        assert done == [[Accepted()] * 12]


# -- trio -------------------------------------------------------------------------------------------
@trio_test
async def test_trio_Sender_submit_returns_a_Tracker_and_send_many_the_outcomes(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("q")
        trackers = [await sender.submit(Message(body=i)) for i in range(10)]
        assert all(isinstance(t, amqp10.trio.Tracker) for t in trackers)
        assert [await t.wait() for t in trackers] == [Accepted()] * 10
        assert all(t.settled and t.outcome == Accepted() for t in trackers)
        assert await sender.send_many((Message(body=i) for i in range(200)), window=20) == [Accepted()] * 200
        receiver = await conn.open_receiver("q", credit=100, auto_accept=True)
        assert [(await receiver.receive(timeout=5)).message.body for _ in range(210)] == list(range(10)) + list(range(200))


@trio_test
async def test_trio_Tracker_wait_is_cancellable_and_changes_nothing(broker: QueueBroker) -> None:
    async with serving(broker) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        tracker = await (await conn.open_sender("held")).submit(Message(body="slow"))
        with trio.move_on_after(0.1) as scope:
            await tracker.wait()
        assert scope.cancelled_caught and not tracker.settled and tracker.outcome is None
        broker.release_held()
        assert await tracker.wait(5) == Accepted()


@trio_test
async def test_trio_Tracker_wait_raises_ConnectionClosedError_when_the_server_stops(broker: QueueBroker) -> None:
    async with trio.open_nursery() as outer:
        server_scope = trio.CancelScope()

        async def run_server(task_status: trio.TaskStatus[amqp10.trio.Server] = trio.TASK_STATUS_IGNORED) -> None:
            with server_scope:
                await amqp10.trio.serve("127.0.0.1", 0, broker, task_status=task_status)

        server = await outer.start(run_server)
        async with amqp10.trio.connect(server.url, timeout=5) as conn:
            tracker = await (await conn.open_sender("held")).submit(Message(body="slow"))
            server_scope.cancel()
            with pytest.raises(amqp10.ConnectionClosedError):
                with trio.fail_after(5):
                    await tracker.wait(10)


def test_Tracker_wait_returns_when_credit_arrives_later_at_most_once(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        sender = conn.open_sender("q", settle_mode="at-most-once")
        trackers = [sender.submit(Message(body=i)) for i in range(120)]  # the broker grants 50 at a time
        # (the broker may already have granted the rest of the credit: no assertion on that race)
        # Woken when the credit lets it go out: a wait nobody wakes would only see it at its
        # deadline (the predicate is checked once more then), so the bound is the wait's.
        started = time.monotonic()
        assert trackers[-1].wait(20) is None
        assert time.monotonic() - started < 10
        assert [t.wait(5) for t in trackers] == [None] * 120
        assert all(t.settled for t in trackers)


# -- asyncio ----------------------------------------------------------------------------------------
@asyncio_helpers.asyncio_test
async def test_asyncio_Sender_submit_returns_a_Tracker_and_send_many_the_outcomes(broker: QueueBroker) -> None:
    async with asyncio_helpers.serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        sender = await conn.open_sender("q")
        trackers = [await sender.submit(Message(body=i)) for i in range(10)]
        assert all(isinstance(t, amqp10.asyncio.Tracker) for t in trackers)
        assert [await t.wait() for t in trackers] == [Accepted()] * 10
        assert all(t.settled and t.outcome == Accepted() for t in trackers)
        assert await sender.send_many((Message(body=i) for i in range(200)), window=20) == [Accepted()] * 200
        receiver = await conn.open_receiver("q", credit=100, auto_accept=True)
        assert [(await receiver.receive(timeout=5)).message.body for _ in range(210)] == list(range(10)) + list(range(200))


@asyncio_helpers.asyncio_test
async def test_asyncio_Tracker_wait_is_cancellable_and_changes_nothing(broker: QueueBroker) -> None:
    async with asyncio_helpers.serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5) as conn:
        tracker = await (await conn.open_sender("held")).submit(Message(body="slow"))
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await tracker.wait()
        assert not tracker.settled and tracker.outcome is None
        broker.release_held()
        assert await tracker.wait(5) == Accepted()


@asyncio_helpers.asyncio_test
async def test_asyncio_Tracker_wait_raises_ConnectionClosedError_when_the_server_stops(broker: QueueBroker) -> None:
    started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
    server_task = asyncio.ensure_future(amqp10.asyncio.serve("127.0.0.1", 0, broker, started=started))
    server = await started
    async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
        tracker = await (await conn.open_sender("held")).submit(Message(body="slow"))
        server_task.cancel()
        with pytest.raises(amqp10.ConnectionClosedError):
            async with asyncio.timeout(5):
                await tracker.wait(10)
    await asyncio.wait((server_task,))
