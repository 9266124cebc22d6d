"""The embedded broker driven in memory: client engines, a MemoryHub, no sockets, no clock."""

from __future__ import annotations

from amqp10.codec.message import Message
from amqp10.codec.spec import (
    Accepted,
    AmqpErrorCondition,
    Header,
    Properties,
    ReceiverSettleMode,
    Rejected,
    Released,
    Source,
    Target,
)
from amqp10.engine import LinkState
from amqp10.peer import Broker, NodeLimits
from amqp10.peer.nodes import Queue, Topic
from support.peer_world import World


def _delivery_count(delivery: object) -> int:
    header = Message.decode(delivery.payload).header  # type: ignore[attr-defined]
    return 0 if header is None or header.delivery_count is None else int(header.delivery_count)


# -- connection ---------------------------------------------------------------------------------


def test_Broker_offers_anonymous_relay_when_a_client_opens() -> None:
    world = World()
    client = world.client()
    assert client.remote_open is not None
    assert "ANONYMOUS-RELAY" in list(client.remote_open.open.offered_capabilities or [])


# -- anycast ------------------------------------------------------------------------------------


def test_Queue_gives_each_message_to_exactly_one_receiver_in_turn_when_credit_is_equal() -> None:
    world = World()
    client = world.client()
    receivers = [client.receiver("work", credit=100) for _ in range(3)]
    sender = client.sender("work")
    world.pump()
    for i in range(30):
        client.send(sender, i)
    world.pump()
    got = [client.bodies(r) for r in receivers]
    assert [len(g) for g in got] == [10, 10, 10]
    assert sorted(sum(got, [])) == list(range(30))
    assert got[0] == list(range(0, 30, 3))


def test_Queue_balances_by_credit_when_receivers_grant_different_amounts() -> None:
    world = World()
    client = world.client()
    small = client.receiver("q", credit=2)
    large = client.receiver("q", credit=18)
    sender = client.sender("q")
    world.pump()
    for i in range(20):
        client.send(sender, i)
    world.pump()
    assert len(client.received[small]) == 2
    assert len(client.received[large]) == 18
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.depth == 0


def test_Queue_keeps_messages_until_a_receiver_grants_credit_when_none_is_attached() -> None:
    world = World()
    producer = world.client("producer")
    sender = producer.sender("later")
    world.pump()
    for i in range(5):
        producer.send(sender, f"m{i}")
    world.pump()
    assert all(isinstance(o, Accepted) for o in producer.outcomes.values())
    assert len(producer.outcomes) == 5
    consumer = world.client("consumer")
    receiver = consumer.receiver("later", credit=0)
    world.pump()
    assert consumer.received[receiver] == []
    receiver.flow(3)
    world.pump()
    assert consumer.bodies(receiver) == ["m0", "m1", "m2"]


def test_Queue_is_forgotten_when_it_is_empty_and_unlinked() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("tmp", credit=1)
    sender = client.sender("tmp")
    world.pump()
    client.send(sender, "x")
    world.pump()
    client.take(receiver)[0].accept()
    sender.detach()
    receiver.detach()
    world.pump()
    assert world.broker.node("tmp") is None


def test_Queue_keeps_its_messages_when_every_link_detaches() -> None:
    world = World()
    client = world.client()
    sender = client.sender("kept")
    world.pump()
    client.send(sender, "x")
    world.pump()
    sender.detach()
    world.pump()
    node = world.broker.node("kept")
    assert isinstance(node, Queue) and node.depth == 1


# -- multicast ----------------------------------------------------------------------------------


def test_Topic_gives_every_subscriber_a_copy_when_the_address_starts_with_topic() -> None:
    world = World()
    client = world.client()
    subscribers = [client.receiver("topic://news", credit=10) for _ in range(3)]
    sender = client.sender("topic://news")
    world.pump()
    for i in range(5):
        client.send(sender, f"n{i}")
    world.pump()
    for subscriber in subscribers:
        assert client.bodies(subscriber) == [f"n{i}" for i in range(5)]
    assert isinstance(world.broker.node("topic://news"), Topic)
    assert all(isinstance(o, Accepted) for o in client.outcomes.values())


def test_Topic_is_made_by_the_topic_capability_when_the_address_has_no_prefix() -> None:
    world = World()
    client = world.client()
    a = client.receiver("events", capabilities=["topic"])
    b = client.receiver("events", capabilities=["topic"])
    sender = client.sender("events", capabilities=["topic"])
    world.pump()
    client.send(sender, "e")
    world.pump()
    assert client.bodies(a) == ["e"] and client.bodies(b) == ["e"]
    assert isinstance(world.broker.node("events"), Topic)


def test_Topic_refuses_a_topic_capability_when_the_address_is_already_a_queue() -> None:
    world = World()
    client = world.client()
    client.sender("plain")
    world.pump()
    receiver = client.receiver("plain", capabilities=["topic"])
    world.pump()
    detach = client.detached[receiver]
    assert detach.error is not None
    assert detach.error.condition == AmqpErrorCondition.PRECONDITION_FAILED


def test_Topic_delivers_nothing_to_a_late_subscriber_when_published_before_it_attached() -> None:
    world = World()
    client = world.client()
    sender = client.sender("topic://t")
    world.pump()
    client.send(sender, "early")
    world.pump()
    late = client.receiver("topic://t")
    world.pump()
    client.send(sender, "late")
    world.pump()
    assert client.bodies(late) == ["late"]


def test_Topic_back_pressures_publishers_when_one_subscriber_is_slow() -> None:
    world = World(Broker(limits=NodeLimits(max_messages=4), credit_window=10))
    client = world.client()
    fast = client.receiver("topic://slow", credit=100)
    slow = client.receiver("topic://slow", credit=0)
    sender = client.sender("topic://slow")
    world.pump()
    for i in range(12):
        client.send(sender, i)
    world.pump()
    assert client.bodies(fast) == [0, 1, 2, 3]
    assert sender.credit.link_credit == 0 and sender.queued == 8
    slow.flow(100)
    for _ in range(10):
        world.pump()
        for d in client.take(slow):
            d.accept()
        for d in client.take(fast):
            d.accept()
    assert len(client.outcomes) == 12 and sender.queued == 0


# -- dynamic nodes ------------------------------------------------------------------------------


def test_Broker_creates_a_dynamic_node_when_a_receiver_asks_for_one_and_deletes_it_on_close() -> None:
    world = World()
    client = world.client()
    reply = client.receiver(None, dynamic=True)
    world.pump()
    address = reply.remote_source.address  # type: ignore[union-attr]
    assert address is not None and str(address).startswith("dynamic/")
    assert isinstance(world.broker.node(str(address)), Queue)
    sender = client.sender(str(address))
    world.pump()
    client.send(sender, "answer")
    world.pump()
    assert client.bodies(reply) == ["answer"]
    reply.detach()
    world.pump()
    assert world.broker.node(str(address)) is None
    # The sender that still pointed at it is closed with resource-deleted.
    assert client.detached[sender].error is not None
    assert client.detached[sender].error.condition == AmqpErrorCondition.RESOURCE_DELETED


def test_Broker_gives_each_dynamic_receiver_its_own_address_when_several_ask() -> None:
    world = World()
    client = world.client()
    links = [client.receiver(None, dynamic=True) for _ in range(3)]
    world.pump()
    addresses = {str(link.remote_source.address) for link in links}  # type: ignore[union-attr]
    assert len(addresses) == 3


def test_Broker_refuses_a_link_when_it_names_a_dynamic_address_that_does_not_exist() -> None:
    world = World()
    client = world.client()
    sender = client.sender("dynamic/999")
    world.pump()
    assert client.detached[sender].error is not None
    assert client.detached[sender].error.condition == AmqpErrorCondition.NOT_FOUND


def test_Broker_deletes_a_dynamic_node_when_its_connection_is_lost() -> None:
    world = World()
    client = world.client()
    reply = client.receiver(None, dynamic=True)
    world.pump()
    address = str(reply.remote_source.address)  # type: ignore[union-attr]
    world.hub.disconnect(client.engine)
    assert world.broker.node(address) is None


# -- anonymous relay ----------------------------------------------------------------------------


def test_AnonymousRelay_routes_each_message_by_its_to_when_the_target_has_no_address() -> None:
    world = World()
    client = world.client()
    one = client.receiver("one")
    two = client.receiver("two")
    fan = client.receiver("topic://fan")
    relay = client.sender(None)
    world.pump()
    client.send(relay, "a", properties=Properties(to="one"))
    client.send(relay, "b", properties=Properties(to="two"))
    client.send(relay, "c", properties=Properties(to="one"))
    client.send(relay, "d", properties=Properties(to="topic://fan"))
    world.pump()
    assert client.bodies(one) == ["a", "c"]
    assert client.bodies(two) == ["b"]
    assert client.bodies(fan) == ["d"]
    assert [type(o) for o in client.outcomes.values()] == [Accepted] * 4


def test_AnonymousRelay_reaches_a_dynamic_reply_node_when_to_is_its_address() -> None:
    world = World()
    server = world.client("server")
    requests = server.receiver("requests")
    replies = server.sender(None)
    caller = world.client("caller")
    reply_to = caller.receiver(None, dynamic=True)
    ask = caller.sender("requests")
    world.pump()
    address = str(reply_to.remote_source.address)  # type: ignore[union-attr]
    caller.send(ask, "ping", properties=Properties(message_id="id-1", reply_to=address))
    world.pump()
    request = server.take(requests)[0]
    props = Message.decode(request.payload).properties
    assert props is not None and props.reply_to == address
    server.send(replies, "pong", properties=Properties(to=props.reply_to, correlation_id=props.message_id))
    request.accept()
    world.pump()
    reply = Message.decode(caller.take(reply_to)[0].payload)
    assert reply.body == "pong" and reply.properties is not None
    assert reply.properties.correlation_id == "id-1"


def test_AnonymousRelay_rejects_a_message_when_it_has_no_to() -> None:
    world = World()
    client = world.client()
    relay = client.sender(None)
    world.pump()
    delivery = client.send(relay, "lost?")
    world.pump()
    outcome = client.outcomes[delivery]
    assert isinstance(outcome, Rejected) and outcome.error is not None
    assert outcome.error.condition == AmqpErrorCondition.PRECONDITION_FAILED


def test_AnonymousRelay_rejects_a_message_when_to_names_a_deleted_dynamic_node() -> None:
    world = World()
    client = world.client()
    relay = client.sender(None)
    world.pump()
    delivery = client.send(relay, "x", properties=Properties(to="dynamic/42"))
    world.pump()
    outcome = client.outcomes[delivery]
    assert isinstance(outcome, Rejected) and outcome.error is not None
    assert outcome.error.condition == AmqpErrorCondition.NOT_FOUND


def test_AnonymousRelay_parks_and_later_delivers_when_the_destination_queue_is_full() -> None:
    world = World(Broker(limits=NodeLimits(max_messages=3), credit_window=10))
    client = world.client()
    relay = client.sender(None)
    world.pump()
    sent = [client.send(relay, i, properties=Properties(to="full")) for i in range(8)]
    world.pump()
    node = world.broker.node("full")
    assert isinstance(node, Queue) and node.held == 3
    assert sum(1 for d in sent if d in client.outcomes) == 3
    receiver = client.receiver("full", credit=100)
    for _ in range(10):
        world.pump()
        for d in client.take(receiver):
            d.accept()
    assert all(isinstance(client.outcomes.get(d), Accepted) for d in sent)
    assert node.held == 0


# -- outcomes -----------------------------------------------------------------------------------


def _one_message(world: World, address: str = "q", **fields: object) -> tuple[object, object]:
    client = world.clients[0] if world.clients else world.client()
    sender = client.sender(address)
    world.pump()
    client.send(sender, "m", **fields)
    world.pump()
    return client, sender


def test_Broker_redelivers_a_released_message_without_counting_it_as_failed() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10)
    _one_message(world)
    first = client.take(receiver)
    assert len(first) == 1
    first[0].release()
    world.pump()
    again = client.take(receiver)
    assert len(again) == 1 and _delivery_count(again[0]) == 0
    again[0].accept()
    world.pump()
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.held == 0


def test_Broker_counts_a_failed_delivery_when_a_message_is_modified_with_delivery_failed() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10)
    _one_message(world, header=Header(durable=True))
    client.take(receiver)[0].modify(delivery_failed=True, message_annotations={"x-why": "retry"})
    world.pump()
    again = client.take(receiver)[0]
    message = Message.decode(again.payload)
    assert message.header is not None and message.header.delivery_count == 1
    assert message.header.durable is True
    assert message.message_annotations == {"x-why": "retry"}
    assert message.body == "m"
    again.modify(delivery_failed=True)
    world.pump()
    assert _delivery_count(client.take(receiver)[0]) == 2


def test_Broker_sends_a_message_elsewhere_when_it_is_modified_undeliverable_here() -> None:
    world = World()
    client = world.client()
    picky = client.receiver("q", credit=10)
    world.pump()
    _one_message(world)
    other = client.receiver("q", credit=10)
    world.pump()
    client.take(picky)[0].modify(undeliverable_here=True)
    world.pump()
    assert client.received[picky] == []
    assert len(client.received[other]) == 1


def test_Broker_holds_an_undeliverable_here_message_when_only_that_receiver_is_attached() -> None:
    world = World()
    client = world.client()
    picky = client.receiver("q", credit=10)
    _one_message(world)
    client.take(picky)[0].modify(undeliverable_here=True)
    world.pump()
    assert client.received[picky] == []
    picky.detach()
    later = client.receiver("q", credit=10)
    world.pump()
    assert len(client.received[later]) == 1


def test_Broker_drops_a_message_when_it_is_rejected() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10)
    _one_message(world)
    client.take(receiver)[0].reject("app:bad", "no thanks")
    world.pump()
    assert client.received[receiver] == []
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.held == 0


def test_Broker_takes_settlement_without_outcome_as_accepted_when_no_default_outcome_is_set() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10)
    _one_message(world)
    client.take(receiver)[0].settle()
    world.pump()
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.held == 0


def test_Broker_applies_the_default_outcome_when_a_receiver_settles_without_one() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10, default_outcome=Released())
    _one_message(world)
    client.take(receiver)[0].settle()
    world.pump()
    assert len(client.take(receiver)) == 1  # released, hence redelivered


def test_Broker_sends_presettled_and_forgets_when_the_receiver_asks_for_settled() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=10, settled=True)
    _one_message(world)
    [delivery] = client.take(receiver)
    assert delivery.remote_settled
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.held == 0


def test_Broker_stores_a_presettled_message_when_the_sender_sends_at_most_once() -> None:
    world = World()
    client = world.client()
    sender = client.sender("q", settled=True)
    receiver = client.receiver("q")
    world.pump()
    client.send(sender, "fire and forget")
    world.pump()
    assert client.bodies(receiver) == ["fire and forget"]
    assert client.outcomes == {}


def test_Broker_accepts_without_settling_when_the_sender_asks_for_rcv_settle_mode_second() -> None:
    world = World()
    client = world.client()
    sender = client.sender("q", rcv_settle_mode=ReceiverSettleMode.SECOND)
    world.pump()
    delivery = client.send(sender, "x")
    world.pump()
    assert isinstance(client.outcomes[delivery], Accepted)
    assert not delivery.remote_settled
    delivery.settle()
    world.pump()
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.depth == 1


# -- receivers going away -----------------------------------------------------------------------


def test_Broker_returns_unsettled_messages_to_the_queue_when_their_receiver_detaches() -> None:
    world = World()
    client = world.client()
    greedy = client.receiver("q", credit=10)
    sender = client.sender("q")
    world.pump()
    for i in range(4):
        client.send(sender, i)
    world.pump()
    got = client.take(greedy)
    got[0].accept()
    greedy.detach()
    world.pump()
    patient = client.receiver("q", credit=10)
    world.pump()
    again = client.take(patient)
    assert [Message.decode(d.payload).body for d in again] == [1, 2, 3]
    assert [_delivery_count(d) for d in again] == [1, 1, 1]


def test_Broker_returns_unsettled_messages_to_the_queue_when_the_connection_is_lost() -> None:
    world = World()
    producer = world.client("producer")
    sender = producer.sender("q")
    doomed = world.client("doomed")
    receiver = doomed.receiver("q", credit=10)
    world.pump()
    for i in range(3):
        producer.send(sender, i)
    world.pump()
    assert len(doomed.received[receiver]) == 3
    world.hub.disconnect(doomed.engine)
    survivor = world.client("survivor")
    other = survivor.receiver("q", credit=10)
    world.pump()
    assert survivor.bodies(other) == [0, 1, 2]


def test_Broker_forgets_a_subscription_with_its_messages_when_the_subscriber_detaches() -> None:
    world = World()
    client = world.client()
    stays = client.receiver("topic://t", credit=10)
    leaves = client.receiver("topic://t", credit=0)
    sender = client.sender("topic://t")
    world.pump()
    client.send(sender, "x")
    world.pump()
    leaves.detach()
    world.pump()
    topic = world.broker.node("topic://t")
    assert isinstance(topic, Topic) and topic.subscribers == 1
    assert client.bodies(stays) == ["x"]


# -- bounded memory -----------------------------------------------------------------------------


def test_Queue_limit_back_pressures_a_fast_sender_and_loses_nothing() -> None:
    limit = 10
    total = 250
    world = World(Broker(limits=NodeLimits(max_messages=limit), credit_window=50))
    producer = world.client("producer")
    sender = producer.sender("bounded")
    world.pump()
    sent = [producer.send(sender, i) for i in range(total)]
    world.pump()
    node = world.broker.node("bounded")
    assert isinstance(node, Queue)
    # Full: the sender has no credit and the rest waits on the client's side.
    assert node.held == limit
    assert sender.credit.link_credit == 0
    assert sender.queued == total - limit
    consumer = world.client("consumer")
    receiver = consumer.receiver("bounded", credit=7)
    bodies: list[int] = []
    for _ in range(total):
        world.pump()
        assert node.held <= limit
        batch = consumer.take(receiver)
        if not batch and sender.queued == 0 and node.held == 0:
            break
        for delivery in batch:
            bodies.append(Message.decode(delivery.payload).body)
            delivery.accept()
        receiver.flow(7)
    assert bodies == list(range(total))
    assert all(isinstance(producer.outcomes.get(d), Accepted) for d in sent)


def test_Queue_byte_limit_stops_credit_when_the_bytes_held_reach_it() -> None:
    world = World(Broker(limits=NodeLimits(max_messages=1000, max_bytes=4000), credit_window=100))
    client = world.client()
    sender = client.sender("bytes")
    world.pump()
    for _ in range(20):
        client.send(sender, b"x" * 1000)
    world.pump()
    node = world.broker.node("bytes")
    assert isinstance(node, Queue)
    assert node.held_bytes >= 4000
    assert node.held < 20 and sender.credit.link_credit == 0
    receiver = client.receiver("bytes", credit=100)
    for _ in range(10):
        world.pump()
        for d in client.take(receiver):
            d.accept()
    assert node.held == 0 and sender.queued == 0


def test_Broker_refuses_a_message_larger_than_a_queue_may_hold() -> None:
    world = World(Broker(limits=NodeLimits(max_bytes=1000)))
    client = world.client()
    sender = client.sender("small")
    world.pump()
    assert sender.remote_max_message_size == 1000
    assert sender.state is LinkState.ATTACHED


# -- drain and session end ----------------------------------------------------------------------


def test_Broker_answers_a_drain_with_what_it_has_then_gives_back_the_rest_of_the_credit() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", credit=0)
    sender = client.sender("q")
    world.pump()
    for i in range(3):
        client.send(sender, i)
    world.pump()
    receiver.drain(10)
    world.pump()
    assert client.bodies(receiver) == [0, 1, 2]
    drained = [e for e in client.events if getattr(e, "drained", False)]
    assert len(drained) == 1 and receiver.credit.link_credit == 0


def test_Broker_returns_unsettled_messages_when_the_receivers_session_ends() -> None:
    world = World()
    client = world.client()
    other_session = client.engine.begin_session()
    receiver = other_session.attach_receiver(
        "r", source=Source(address="q"), target=Target()
    )
    receiver.flow(10)
    sender = client.sender("q")
    world.pump()
    client.send(sender, "x")
    world.pump()
    assert len(client.received[receiver]) == 1
    other_session.end()
    world.pump()
    node = world.broker.node("q")
    assert isinstance(node, Queue) and node.depth == 1 and node.consumers == 0
