"""Settlement on every adapter (blocking, trio, asyncio), over real sockets against our servers:
rcv-settle-mode ``second`` and its downgrade, ``Tracker.abort`` of a queued and of a partly
sent message, ``Received`` progress, the explicit outcomes, drain, and ``flow(echo=True)``.

Each scenario is written once (``support.interop_api``) and run on each adapter. The embedded
peer (``amqp10.peer``) is the broker where it has what the test needs; ``SettleBroker`` (the
test broker plus a few addresses) where a test needs a peer that behaves in one exact way.
"""

from __future__ import annotations

from typing import Any, Sequence

import pytest
import trio

import amqp10
from amqp10 import Accepted, Message, Modified, Received, Rejected, Released
from amqp10._handler import ServerConnection
from amqp10.codec.spec import ReceiverSettleMode
from amqp10.codec.types import Symbol
from amqp10.engine.events import DeliveryAborted, Event
from amqp10.engine.link import Link, Sender
from support.broker import QueueBroker
from support.interop_api import Adapter, _call, connect, run_scenario, serve_broker, serve_handler, unique

ADAPTERS = list(Adapter)
_T = 10.0  # seconds, any one wait


class SettleBroker(QueueBroker):
    """The test broker, plus: ``first/...`` answers a receiver's ATTACH with rcv-settle-mode
    ``first`` whatever it asked; ``backlog`` puts three messages on a receiver's link at once,
    beyond its credit (so the sender's flow state says ``available`` 3); ``progress`` answers a
    message with ``Received(0, 7)`` and holds it. It counts aborted deliveries and records
    every state a client receiver reports."""

    def __init__(self) -> None:
        super().__init__()
        self.aborted = 0
        self.states: list[Any] = []

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        self.aborted += sum(isinstance(event, DeliveryAborted) for event in events)
        super().events_received(conn, events)

    def _attach(self, conn: ServerConnection, link: Link) -> None:
        address = None if link.remote_source is None else link.remote_source.address
        if isinstance(link, Sender) and isinstance(address, str) and address.startswith("first/"):
            link.rcv_settle_mode = ReceiverSettleMode.FIRST  # what the peer states in its answer
        super()._attach(conn, link)
        if isinstance(link, Sender) and address == "backlog":
            for i in range(3):
                link.send(Message(body=i).encode())

    def _received(self, delivery: Any) -> None:
        target = delivery.link.remote_target
        if target is not None and target.address == "progress":
            delivery.update(Received(section_number=0, section_offset=7))
            self.held.append(delivery)
            return
        super()._received(delivery)

    def _updated(self, delivery: Any, state: Any) -> None:
        self.states.append(state)
        if isinstance(state, Received):
            return  # progress, not an outcome: the receiver is still at it
        super()._updated(delivery, state)


async def _eventually(check: Any, limit: float = _T) -> None:
    with trio.fail_after(limit):
        while not check():
            await trio.sleep(0.01)


# -- rcv-settle-mode second ---------------------------------------------------------------------------
async def _second_settles_after_the_sender(adapter: Adapter) -> None:
    async with serve_broker(adapter) as served, connect(adapter, served.url) as conn:
        queue = unique("second")
        sender = await conn.sender(queue)
        assert await sender.send(Message(body="once")) == Accepted()
        receiver = await conn.receiver(queue, credit=5, rcv_settle_mode="second")
        assert receiver.raw.rcv_settle_mode == "second" and receiver.raw.settle_mode_downgrade is None
        delivery = await receiver.receive()
        with pytest.raises(amqp10.LocalProtocolError, match="second"):
            delivery.settle()  # 2.6.12: not before the sender
        assert not delivery.settled
        with pytest.raises(amqp10.Timeout):  # no outcome yet: the sender has nothing to settle
            await _call(adapter, receiver.raw.wait_settled, delivery, timeout=0.2)
        delivery.accept()
        # 2.6.12: the sender settles once it has our outcome; only that settles it here.
        assert await _call(adapter, receiver.raw.wait_settled, delivery, timeout=_T) == Accepted()
        assert delivery.settled and delivery.remote_settled and delivery.state == Accepted()
        delivery.settle()  # settled already, by the sender's settlement: nothing to do
        again = await conn.receiver(queue, credit=5)
        assert await again.nothing_within(0.3) is None  # consumed once, not redelivered


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_rcv_settle_mode_second_accept_is_settled_by_the_sender_and_then_here(adapter: Adapter) -> None:
    run_scenario(adapter, _second_settles_after_the_sender)


async def _first_settles_at_once(adapter: Adapter) -> None:
    async with serve_broker(adapter) as served, connect(adapter, served.url) as conn:
        queue = unique("first")
        await (await conn.sender(queue)).send(Message(body="x"))
        receiver = await conn.receiver(queue, credit=5)
        assert receiver.raw.rcv_settle_mode == "first"
        delivery = await receiver.receive()
        delivery.accept()
        assert delivery.settled  # our outcome settled it: the sender has nothing more to say
        assert await _call(adapter, receiver.raw.wait_settled, delivery, timeout=_T) == Accepted()
        assert not delivery.remote_settled


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_rcv_settle_mode_first_accept_settles_at_once_and_the_sender_sends_nothing_back(adapter: Adapter) -> None:
    run_scenario(adapter, _first_settles_at_once)


async def _downgrade(adapter: Adapter) -> None:
    async with serve_handler(adapter, SettleBroker()) as served, connect(adapter, served.url) as conn:
        with pytest.raises(amqp10.SettleModeDowngradedError) as raised:
            await conn.receiver("first/q", rcv_settle_mode="second")
        error = raised.value
        assert isinstance(error, amqp10.LinkDetachedError) and error.condition == "amqp:not-implemented"
        assert (error.requested_rcv_settle_mode, error.rcv_settle_mode) == ("second", "first")
        kept = await conn.receiver("first/q", credit=5, rcv_settle_mode="second", on_downgrade="keep")
        assert kept.raw.rcv_settle_mode == "first"
        assert isinstance(kept.raw.settle_mode_downgrade, amqp10.SettleModeDowngradedError)
        await (await conn.sender("first/q")).send(Message(body="x"))
        delivery = await kept.receive()
        delivery.accept()
        assert delivery.settled  # mode first now: nothing waits for a settlement that won't come


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_a_peer_stating_rcv_settle_mode_first_is_a_downgrade_raised_or_kept_in_mode_first(adapter: Adapter) -> None:
    run_scenario(adapter, _downgrade)


def test_rcv_settle_mode_rejects_an_unknown_value() -> None:
    from amqp10._options import receiver_attach

    with pytest.raises(ValueError, match="rcv_settle_mode"):
        receiver_attach("q", rcv_settle_mode="third")
    assert receiver_attach("q", rcv_settle_mode="second")["rcv_settle_mode"] is ReceiverSettleMode.SECOND
    assert receiver_attach("q")["rcv_settle_mode"] is ReceiverSettleMode.FIRST


# -- abort ----------------------------------------------------------------------------------------------
async def _abort_queued(adapter: Adapter) -> None:
    async with serve_handler(adapter, SettleBroker()) as served, connect(adapter, served.url) as conn:
        sender = await conn.sender("nocredit")
        tracker = await _call(adapter, sender.raw.submit, Message(body="never"), timeout=_T)
        assert not tracker.settled
        tracker.abort()  # still waiting for credit: dropped, no credit spent
        assert tracker.aborted and tracker.settled and sender.unsettled == 0
        assert await _call(adapter, tracker.wait, timeout=_T) is None  # no outcome will come
        with pytest.raises(amqp10.NotAbortableError):
            tracker.abort()
        done = await _call(adapter, (await conn.sender("q")).raw.submit, Message(body=1), timeout=_T)
        assert await _call(adapter, done.wait, timeout=_T) == Accepted()
        with pytest.raises(amqp10.NotAbortableError, match="sent whole"):
            done.abort()  # its outcome is in: there is nothing left to abort
        presettled = await _call(adapter, (await conn.sender("q", settle_mode="at-most-once")).raw.submit, Message(body=2), timeout=_T)
        assert await _call(adapter, presettled.wait, timeout=_T) is None
        with pytest.raises(amqp10.NotAbortableError, match="pre-settled"):
            presettled.abort()
        assert isinstance(amqp10.NotAbortableError("x"), amqp10.LocalProtocolError)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_Tracker_abort_drops_a_queued_message_and_refuses_one_sent_whole(adapter: Adapter) -> None:
    run_scenario(adapter, _abort_queued)


async def _abort_partial(adapter: Adapter) -> None:
    broker = SettleBroker()
    # 512-byte frames and a one-frame session window: a 1 MB message takes ~2,000 round trips,
    # so it is still going out when it is aborted.
    async with serve_handler(adapter, broker, max_frame_size=512, incoming_window=1) as served, connect(adapter, served.url) as conn:
        sender = await conn.sender("big")
        await _eventually(lambda: sender.credit > 0)
        tracker = await _call(adapter, sender.raw.submit, Message(body=bytes(1 << 20)), timeout=_T)
        tracker.abort()
        assert tracker.aborted and await _call(adapter, tracker.wait, timeout=_T) is None
        # The receiver saw a TRANSFER with aborted=true (2.6.14) and kept nothing of it.
        await _eventually(lambda: served.call(lambda: broker.aborted) == 1)
        assert await sender.send(Message(body="after")) == Accepted()
        receiver = await conn.receiver("big", credit=5)
        assert (await receiver.receive()).message.body == "after"
        assert await receiver.nothing_within(0.2) is None


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_Tracker_abort_ends_a_partly_sent_message_with_an_aborted_transfer(adapter: Adapter) -> None:
    run_scenario(adapter, _abort_partial)


# -- received, outcomes -----------------------------------------------------------------------------------
async def _received_progress(adapter: Adapter) -> None:
    broker = SettleBroker()
    async with serve_handler(adapter, broker) as served, connect(adapter, served.url) as conn:
        # Received from the peer's receiver: a state, not an outcome.
        tracker = await _call(adapter, (await conn.sender("progress")).raw.submit, Message(body="x"), timeout=_T)
        await _eventually(lambda: tracker.remote_state is not None)
        assert tracker.remote_state == Received(section_number=0, section_offset=7)
        assert tracker.outcome is None and not tracker.settled
        # Received from ours: the sender sees it first, then the outcome.
        await (await conn.sender("q")).send(Message(body="y"))
        receiver = await conn.receiver("q", credit=5)
        delivery = await receiver.receive()
        delivery.received(0, 3)
        assert delivery.state == Received(section_number=0, section_offset=3) and not delivery.settled
        delivery.accept()
        await _eventually(lambda: len(served.call(lambda: list(broker.states))) == 2)
        assert served.call(lambda: list(broker.states)) == [Received(section_number=0, section_offset=3), Accepted()]
        with pytest.raises(ValueError):
            delivery.received(-1, 0)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_Delivery_received_reports_progress_and_Tracker_shows_the_peers_Received(adapter: Adapter) -> None:
    run_scenario(adapter, _received_progress)


async def _outcomes(adapter: Adapter) -> None:
    async with serve_broker(adapter) as served, connect(adapter, served.url) as conn:
        queue = unique("outcomes")
        sender = await conn.sender(queue)
        for body in ("reject", "release", "modify"):
            assert await sender.send(Message(body=body)) == Accepted()
        receiver = await conn.receiver(queue, credit=0)

        async def one() -> amqp10.Delivery:  # one credit at a time: the order is the queue's
            receiver.flow(1)
            return await receiver.receive()

        first = await one()
        first.reject("amqp:precondition-failed", "not for us")
        assert isinstance(first.state, Rejected) and first.state.error.condition == "amqp:precondition-failed"
        second = await one()
        second.release()  # back to the head of the queue, delivery-count unchanged
        again = await one()
        assert again.message.body == "release" and again.message.header is None  # no failed attempt
        again.accept()
        third = await one()
        third.modify(delivery_failed=True, message_annotations={"x-why": "busy"})
        assert third.state == Modified(delivery_failed=True, undeliverable_here=False, message_annotations={Symbol("x-why"): "busy"})
        redelivered = await one()
        assert redelivered.message.body == "modify" and redelivered.message.header.delivery_count == 1
        assert redelivered.message.message_annotations == {"x-why": "busy"}
        redelivered.accept()
        receiver.flow(1)
        assert await receiver.nothing_within(0.2) is None


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_explicit_outcomes_reject_release_modify_reach_the_embedded_peer(adapter: Adapter) -> None:
    run_scenario(adapter, _outcomes)


def test_Outcome_types_every_send_result() -> None:
    assert amqp10.Outcome == (Accepted | Rejected | Released | Modified)
    for outcome in (Accepted(), Rejected(), Released(), Modified()):
        assert isinstance(outcome, amqp10.Outcome)
    assert isinstance(Received(section_number=0, section_offset=0), amqp10.DeliveryState)
    assert not isinstance(Received(section_number=0, section_offset=0), amqp10.Outcome)


# -- drain, echo ----------------------------------------------------------------------------------------
async def _drain(adapter: Adapter) -> None:
    async with serve_broker(adapter) as served, connect(adapter, served.url) as conn:
        queue = unique("drain")
        sender = await conn.sender(queue)
        for i in range(2):
            await sender.send(Message(body=i))
        receiver = await conn.receiver(queue, credit=0)
        receiver.flow(5)
        drained = await receiver.drain()  # the sender sent what it had, then gave back the rest
        assert [d.message.body for d in drained] == [0, 1] and receiver.credit == 0
        assert await receiver.nothing_within(0.2) is None


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_drain_returns_when_the_senders_answer_gives_back_the_unused_credit(adapter: Adapter) -> None:
    run_scenario(adapter, _drain)


async def _echo(adapter: Adapter) -> None:
    async with serve_handler(adapter, SettleBroker()) as served, connect(adapter, served.url) as conn:
        receiver = await conn.receiver("backlog", credit=0)
        assert receiver.raw.available == 0
        receiver.raw.flow(0, echo=True)  # 2.7.4: grant nothing, ask the sender for its state
        await _eventually(lambda: receiver.raw.available == 3)
        assert receiver.credit == 0 and await receiver.nothing_within(0.1) is None
        with pytest.raises(ValueError):
            receiver.raw.flow(-1)


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_flow_with_echo_makes_the_sender_report_what_it_has_available(adapter: Adapter) -> None:
    run_scenario(adapter, _echo)
