"""The embedded peer's transaction coordinator (spec part 4), driven by raw client engines in
memory: what each declare, discharge and transactional transfer or outcome is answered with."""

from __future__ import annotations

from typing import Any

from amqp10.codec.message import Message
from amqp10.codec.spec import (
    Accepted,
    Coordinator,
    Declare,
    Declared,
    Discharge,
    Rejected,
    SenderSettleMode,
    Source,
    TransactionalState,
)
from amqp10.codec.types import Symbol
from amqp10.engine import Delivery, Sender
from amqp10.peer import Broker, NodeLimits
from support.peer_world import Client, World

LOCAL = "amqp:local-transactions"


def _coordinator(client: Client) -> Sender:
    link = client.session.attach_sender(
        client._name("coordinator"),
        source=Source(outcomes=[Symbol("amqp:accepted:list"), Symbol("amqp:rejected:list")]),
        target=Coordinator(capabilities=[Symbol(LOCAL)]),
        snd_settle_mode=SenderSettleMode.UNSETTLED,
    )
    client.world.pump()
    return link


def _control(client: Client, coordinator: Sender, body: Any) -> Any:
    delivery = coordinator.send(Message(body=body).encode())
    client.world.pump()
    return client.outcomes.get(delivery)


def _declare(client: Client, coordinator: Sender) -> bytes:
    answer = _control(client, coordinator, Declare())
    assert isinstance(answer, Declared), answer
    return bytes(answer.txn_id)


def _condition(outcome: Any) -> str:
    assert isinstance(outcome, Rejected), outcome
    return str(outcome.error.condition)


def _send_in(client: Client, sender: Sender, txn_id: bytes, body: Any) -> Delivery:
    delivery = sender.send(Message(body=body).encode(), state=TransactionalState(txn_id=txn_id))
    client.world.pump()
    return delivery


def test_Coordinator_attach_answer_offers_local_transactions() -> None:
    world = World()
    client = world.client()
    link = _coordinator(client)
    assert link in client.attached
    assert isinstance(link.remote_target, Coordinator)
    assert [str(c) for c in link.remote_target.capabilities] == [LOCAL]
    assert [str(c) for c in link.remote_offered_capabilities] == [LOCAL]


def test_Coordinator_holds_a_transactional_send_until_commit() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    txn_id = _declare(client, coordinator)
    sender = client.sender("q")
    receiver = client.receiver("q")
    delivery = _send_in(client, sender, txn_id, "held")
    assert client.outcomes[delivery] == TransactionalState(txn_id=txn_id, outcome=Accepted())
    assert client.bodies(receiver) == []
    assert _control(client, coordinator, Discharge(txn_id=txn_id)) == Accepted()
    world.pump()
    assert client.bodies(receiver) == ["held"]


def test_Coordinator_drops_a_transactional_send_on_rollback() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    txn_id = _declare(client, coordinator)
    sender = client.sender("q")
    receiver = client.receiver("q")
    _send_in(client, sender, txn_id, "never")
    assert _control(client, coordinator, Discharge(txn_id=txn_id, fail=True)) == Accepted()
    client.send(sender, "after")
    world.pump()
    assert client.bodies(receiver) == ["after"]


def test_Coordinator_applies_a_transactional_accept_only_on_commit() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    sender = client.sender("q")
    client.send(sender, "m")
    world.pump()
    receiver = client.receiver("q")
    world.pump()
    (first,) = client.take(receiver)
    txn_id = _declare(client, coordinator)
    first.update(TransactionalState(txn_id=txn_id, outcome=Accepted()), settle=True)
    world.pump()
    assert world.broker.node("q").held == 1  # type: ignore[union-attr]
    assert _control(client, coordinator, Discharge(txn_id=txn_id)) == Accepted()
    assert world.broker.node("q") is None or world.broker.node("q").held == 0  # type: ignore[union-attr]


def test_Coordinator_returns_a_transactionally_accepted_message_on_rollback() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    sender = client.sender("q")
    client.send(sender, "m")
    world.pump()
    receiver = client.receiver("q")
    world.pump()
    (first,) = client.take(receiver)
    txn_id = _declare(client, coordinator)
    first.update(TransactionalState(txn_id=txn_id, outcome=Accepted()), settle=True)
    world.pump()
    assert _control(client, coordinator, Discharge(txn_id=txn_id, fail=True)) == Accepted()
    world.pump()
    assert client.bodies(receiver) == ["m"]  # delivered again (the first was taken above)


def test_Coordinator_rejects_a_discharge_of_an_unknown_txn_id_with_unknown_id() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    assert _condition(_control(client, coordinator, Discharge(txn_id=b"no-such"))) == "amqp:transaction:unknown-id"


def test_Coordinator_rejects_a_second_discharge_with_unknown_id() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    txn_id = _declare(client, coordinator)
    assert _control(client, coordinator, Discharge(txn_id=txn_id)) == Accepted()
    assert _condition(_control(client, coordinator, Discharge(txn_id=txn_id))) == "amqp:transaction:unknown-id"


def test_Coordinator_does_not_know_another_connections_txn_id() -> None:
    world = World()
    owner, other = world.client("owner"), world.client("other")
    txn_id = _declare(owner, _coordinator(owner))
    sender = other.sender("q")
    delivery = _send_in(other, sender, txn_id, "x")
    assert _condition(other.outcomes[delivery]) == "amqp:transaction:unknown-id"
    assert _condition(_control(other, _coordinator(other), Discharge(txn_id=txn_id))) == "amqp:transaction:unknown-id"


def test_Coordinator_rejects_a_transactional_send_with_an_unknown_txn_id() -> None:
    world = World()
    client = world.client()
    _coordinator(client)
    sender = client.sender("q")
    receiver = client.receiver("q")
    delivery = _send_in(client, sender, b"\x00\x01", "x")
    assert _condition(client.outcomes[delivery]) == "amqp:transaction:unknown-id"
    assert client.bodies(receiver) == []


def test_Coordinator_closes_a_receiver_that_gives_an_outcome_in_an_unknown_transaction() -> None:
    world = World()
    client = world.client()
    sender = client.sender("q")
    client.send(sender, "m")
    receiver = client.receiver("q")
    world.pump()
    (first,) = client.take(receiver)
    first.update(TransactionalState(txn_id=b"nope", outcome=Accepted()), settle=True)
    world.pump()
    assert str(client.detached[receiver].error.condition) == "amqp:transaction:unknown-id"
    again = client.receiver("q")
    world.pump()
    assert client.bodies(again) == ["m"]  # the message came back


def test_Coordinator_bounds_the_transactions_a_connection_may_hold() -> None:
    world = World(Broker(max_transactions=2))
    client = world.client()
    coordinator = _coordinator(client)
    first = _declare(client, coordinator)
    _declare(client, coordinator)
    assert _condition(_control(client, coordinator, Declare())) == "amqp:resource-limit-exceeded"
    assert _control(client, coordinator, Discharge(txn_id=first)) == Accepted()
    _declare(client, coordinator)  # room again once one is discharged


def test_Coordinator_refuses_a_distributed_declare_with_not_implemented() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    assert _condition(_control(client, coordinator, Declare(global_id=b"xid"))) == "amqp:not-implemented"


def test_Coordinator_rejects_a_control_message_that_is_not_declare_or_discharge() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    assert _condition(_control(client, coordinator, "hello")) == "amqp:decode-error"


def test_Coordinator_rolls_back_a_commit_of_a_transaction_that_outgrew_the_held_bytes_bound() -> None:
    world = World(Broker(limits=NodeLimits(max_bytes=300)))
    client = world.client()
    coordinator = _coordinator(client)
    txn_id = _declare(client, coordinator)
    sender = client.sender("q")
    receiver = client.receiver("q")
    kept = _send_in(client, sender, txn_id, "a" * 100)
    refused = _send_in(client, sender, txn_id, "b" * 250)
    assert isinstance(client.outcomes[kept], TransactionalState)
    assert _condition(client.outcomes[refused]) == "amqp:resource-limit-exceeded"
    assert _condition(_control(client, coordinator, Discharge(txn_id=txn_id))) == "amqp:transaction:rollback"
    world.pump()
    assert client.bodies(receiver) == []  # nothing of it was committed
    assert world.broker.transactions.open_transactions == 0


def test_Coordinator_rolls_back_what_a_detached_coordinator_link_declared() -> None:
    world = World()
    client = world.client()
    coordinator = _coordinator(client)
    txn_id = _declare(client, coordinator)
    sender = client.sender("q")
    receiver = client.receiver("q")
    _send_in(client, sender, txn_id, "x")
    coordinator.detach(closed=True)
    world.pump()
    assert world.broker.transactions.open_transactions == 0
    assert client.bodies(receiver) == []
