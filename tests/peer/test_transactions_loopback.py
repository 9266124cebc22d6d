"""Client transactions against the embedded peer over real loopback sockets: blocking clients
against the peer served by each adapter, and the trio and asyncio clients against theirs.

What each test proves is what a user relies on: a commit publishes what was sent in the
transaction and consumes what was accepted in it; a rollback (explicit, or an exception
leaving ``with``) publishes nothing and gives accepted messages back; failures are typed.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message, TransactionError, TransactionRolledBack, TransactionState
from amqp10.peer import Broker, NodeLimits
from amqp10.peer.server import serve_asyncio, serve_trio
from support.asyncio_helpers import asyncio_test
from support.trio_helpers import trio_test

from .conftest import ServedPeer, serve_peer  # type: ignore[import-not-found]

_WAIT = 5.0


class Boom(Exception):
    """The application's own failure inside a transaction block."""


def _queue() -> str:
    return f"txn-{uuid.uuid4().hex[:8]}"


def _drain(receiver: amqp10.Receiver) -> list[object]:
    """Every body the receiver can get now (each accepted), waiting briefly for stragglers."""
    bodies = []
    while True:
        try:
            delivery = receiver.receive(timeout=0.3)
        except amqp10.Timeout:
            return bodies
        bodies.append(delivery.message.body)
        delivery.accept()


# -- blocking clients, against the peer served by every adapter ----------------------------------
def test_Transaction_commit_publishes_what_was_sent_in_it(served: ServedPeer) -> None:
    q = _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(q)
        receiver = conn.open_receiver(q, credit=10)
        with conn.transaction() as txn:
            assert txn.state is TransactionState.ACTIVE and txn.txn_id
            assert txn.send(sender, Message(body="a")) == Accepted()
            assert txn.send(sender, "b") == Accepted()
            with pytest.raises(amqp10.Timeout):
                receiver.receive(timeout=0.3)  # not before the commit
        assert txn.state is TransactionState.COMMITTED
        assert _drain(receiver) == ["a", "b"]


def test_Transaction_rollback_publishes_nothing(served: ServedPeer) -> None:
    q = _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(q)
        receiver = conn.open_receiver(q, credit=10)
        txn = conn.transaction()
        txn.send(sender, "rolled back")
        txn.rollback()
        assert txn.state is TransactionState.ROLLED_BACK
        with pytest.raises(Boom):
            with conn.transaction() as failing:
                failing.send(sender, "also rolled back")
                raise Boom()
        assert failing.state is TransactionState.ROLLED_BACK
        sender.send("outside")
        assert _drain(receiver) == ["outside"]


def test_Transaction_accept_removes_the_message_on_commit(served: ServedPeer) -> None:
    q = _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(q)
        for body in ("x", "y"):
            sender.send(body)
        receiver = conn.open_receiver(q, credit=10)
        with conn.transaction() as txn:
            for _ in range(2):
                txn.accept(receiver.receive(timeout=_WAIT))
        receiver.close()
        again = conn.open_receiver(q, credit=10)
        assert _drain(again) == []


def test_Transaction_accept_redelivers_the_message_on_rollback(served: ServedPeer) -> None:
    q = _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(q)
        for body in ("x", "y"):
            sender.send(body)
        receiver = conn.open_receiver(q, credit=10)
        with pytest.raises(Boom):
            with conn.transaction() as txn:
                for _ in range(2):
                    txn.accept(receiver.receive(timeout=_WAIT))
                raise Boom()
        assert _drain(receiver) == ["x", "y"]  # back, in order, to the same receiver


def test_Transaction_moves_a_message_from_one_queue_to_another_atomically(served: ServedPeer) -> None:
    source, target = _queue(), _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        conn.open_sender(source).send("job")
        inbox = conn.open_receiver(source, credit=1)
        outbox = conn.open_sender(target)
        with conn.transaction() as txn:
            delivery = inbox.receive(timeout=_WAIT)
            txn.send(outbox, delivery.message.body)
            txn.accept(delivery)
        inbox.close()
        assert _drain(conn.open_receiver(source, credit=10)) == []
        assert _drain(conn.open_receiver(target, credit=10)) == ["job"]


def test_Transaction_used_after_its_commit_raises_TransactionError(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(_queue())
        txn = conn.transaction()
        txn.commit()
        with pytest.raises(TransactionError) as caught:
            txn.send(sender, "late")
        assert caught.value.condition is None  # our misuse, nothing was sent
        with pytest.raises(TransactionError):
            txn.commit()


def test_Transaction_commit_rolled_back_by_the_peer_raises_TransactionRolledBack() -> None:
    # The peer holds at most 200 bytes for open transactions: the second message is refused,
    # so the transaction can only roll back (spec 4.5.4, amqp:transaction:rollback).
    for served in serve_peer("blocking", Broker(limits=NodeLimits(max_bytes=200))):
        q = _queue()
        with amqp10.connect(served.url, timeout=_WAIT) as conn:
            sender = conn.open_sender(q)
            receiver = conn.open_receiver(q, credit=10)
            with pytest.raises(TransactionRolledBack) as caught:
                with conn.transaction() as txn:
                    assert txn.send(sender, "a" * 100) == Accepted()
                    refused = txn.send(sender, "b" * 150)
                    assert isinstance(refused, amqp10.Rejected)
                    assert str(refused.error.condition) == "amqp:resource-limit-exceeded"
            assert caught.value.condition == "amqp:transaction:rollback"
            assert txn.state is TransactionState.ROLLED_BACK
            assert _drain(receiver) == []


def test_Transaction_work_on_a_link_of_another_session_is_refused(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        other = conn.open_session().open_sender(_queue())
        with conn.transaction() as txn:
            with pytest.raises(amqp10.LocalProtocolError, match="multi-ssns-per-txn"):
                txn.send(other, "x")


def test_Session_transactions_share_one_coordinator_link_and_run_side_by_side() -> None:
    broker = Broker()
    for served in serve_peer("blocking", broker):
        q = _queue()
        with amqp10.connect(served.url, timeout=_WAIT) as conn:
            session = conn.open_session()
            sender = session.open_sender(q)
            receiver = session.open_receiver(q, credit=10)
            first, second = session.transaction(), session.transaction()
            assert first.txn_id != second.txn_id
            assert len(broker.transactions.links) == 1
            assert broker.transactions.open_transactions == 2
            first.send(sender, "first")
            second.send(sender, "second")
            second.rollback()
            first.commit()
            assert _drain(receiver) == ["first"]


def test_Transaction_send_on_an_at_most_once_sender_is_published_on_commit_only(served: ServedPeer) -> None:
    q = _queue()
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender(q, settle_mode="at-most-once")
        receiver = conn.open_receiver(q, credit=10)
        with conn.transaction() as rolled:
            assert rolled.send(sender, "dropped") is None
            rolled.rollback()
        with conn.transaction() as txn:
            assert txn.send(sender, "kept") is None
        assert _drain(receiver) == ["kept"]


# -- the trio client ---------------------------------------------------------------------------------
@trio_test
async def test_trio_Transaction_commits_on_exit_and_rolls_back_on_error() -> None:
    q = _queue()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, task_status=task_status))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            sender = await conn.open_sender(q)
            receiver = await conn.open_receiver(q, credit=10)
            async with conn.transaction() as txn:
                assert await txn.send(sender, "committed") == Accepted()
            assert txn.state is TransactionState.COMMITTED
            delivery = await receiver.receive(timeout=_WAIT)
            assert delivery.message.body == "committed"
            with pytest.raises(Boom):
                async with conn.transaction() as failing:
                    failing.accept(delivery)
                    await failing.send(sender, "never")
                    raise Boom()
            again = await receiver.receive(timeout=_WAIT)
            assert again.message.body == "committed"  # the accept was undone
            explicit = await conn.transaction()
            explicit.accept(again)
            await explicit.commit()
            with trio.move_on_after(0.3):
                extra = await receiver.receive()
                pytest.fail(f"nothing should be left, got {extra.message.body!r}")
        nursery.cancel_scope.cancel()


@trio_test
async def test_trio_Transaction_commit_rolled_back_by_the_peer_raises_TransactionRolledBack() -> None:
    broker = Broker(limits=NodeLimits(max_bytes=200))
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, broker=broker, task_status=task_status))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            sender = await conn.open_sender(_queue())
            with pytest.raises(TransactionRolledBack):
                async with conn.transaction() as txn:
                    await txn.send(sender, "a" * 100)
                    await txn.send(sender, "b" * 150)  # over the 200 bytes the peer holds
        nursery.cancel_scope.cancel()


# -- the asyncio client -------------------------------------------------------------------------------
@asyncio_test
async def test_asyncio_Transaction_commits_on_exit_and_rolls_back_on_error() -> None:
    q = _queue()
    started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
    serving = asyncio.ensure_future(serve_asyncio("127.0.0.1", 0, started=started))
    server = await started
    try:
        async with amqp10.asyncio.connect(server.url, timeout=_WAIT) as conn:
            sender = await conn.open_sender(q)
            receiver = await conn.open_receiver(q, credit=10)
            async with conn.transaction() as txn:
                assert await txn.send(sender, "committed") == Accepted()
            delivery = await receiver.receive(timeout=_WAIT)
            assert delivery.message.body == "committed"
            with pytest.raises(Boom):
                async with conn.transaction() as failing:
                    failing.accept(delivery)
                    await failing.send(sender, "never")
                    raise Boom()
            again = await receiver.receive(timeout=_WAIT)
            assert again.message.body == "committed"
            async with conn.transaction() as last:
                last.accept(again)
            with pytest.raises(amqp10.Timeout):
                await receiver.receive(timeout=0.3)
            with pytest.raises(TransactionError):
                await last.rollback()  # already committed: our misuse
    finally:
        serving.cancel()
        await asyncio.wait((serving,))


@trio_test
async def test_trio_Transaction_cancelled_inside_its_block_is_rolled_back() -> None:
    q = _queue()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(lambda task_status: serve_trio("127.0.0.1", 0, task_status=task_status))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            sender = await conn.open_sender(q)
            receiver = await conn.open_receiver(q, credit=10)
            with trio.CancelScope() as scope:
                async with conn.transaction() as txn:
                    await txn.send(sender, "cancelled")
                    scope.cancel()
                    await trio.sleep(1)  # cancelled here: the rollback still runs, shielded
            assert scope.cancelled_caught
            assert txn.state is TransactionState.ROLLED_BACK
            await sender.send("after")
            assert (await receiver.receive(timeout=_WAIT)).message.body == "after"
        nursery.cancel_scope.cancel()
