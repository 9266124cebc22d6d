"""The embedded broker's source filters and browsing, driven in memory (no sockets, no clock)."""

from __future__ import annotations

from typing import Any

from amqp10.codec import Described, Symbol, ULong
from amqp10.codec.message import Message
from amqp10.codec.spec import AmqpErrorCondition, Header, Properties
from amqp10.engine import LinkState
from amqp10.peer.nodes import Queue
from support.peer_world import World

SELECTOR = Symbol("apache.org:selector-filter:string")
DIRECT = Symbol("apache.org:legacy-amqp-direct-binding:string")
TOPIC = Symbol("apache.org:legacy-amqp-topic-binding:string")
NO_LOCAL = Symbol("apache.org:no-local-filter:list")


def _selector(text: str) -> dict[Any, Any]:
    return {Symbol("jms-selector"): Described(SELECTOR, text)}


def _publish(world: World, address: str, colours: list[str]) -> None:
    producer = world.client("producer")
    sender = producer.sender(address)
    world.pump()
    for i, colour in enumerate(colours):
        producer.send(sender, i, application_properties={"colour": colour, "n": i})
    world.pump()


def test_Broker_gives_a_topic_subscriber_with_a_selector_only_matching_messages() -> None:
    world = World()
    client = world.client()
    red = client.receiver("topic://paint", filter=_selector("colour = 'red'"))
    every = client.receiver("topic://paint")
    world.pump()
    _publish(world, "topic://paint", ["red", "blue", "red", "green"])
    assert client.bodies(red) == [0, 2]
    assert client.bodies(every) == [0, 1, 2, 3]


def test_Broker_leaves_queue_messages_a_selector_rejects_for_other_consumers() -> None:
    world = World()
    _publish(world, "paint", ["red", "blue", "red", "green"])
    client = world.client()
    red = client.receiver("paint", filter=_selector("colour = 'red' AND n >= 0"))
    world.pump()
    assert client.bodies(red) == [0, 2]
    node = world.broker.node("paint")
    assert isinstance(node, Queue) and node.depth == 2
    rest = client.receiver("paint")
    world.pump()
    assert client.bodies(rest) == [1, 3]


def test_Broker_selector_reads_JMS_header_names_from_header_and_properties() -> None:
    world = World()
    client = world.client()
    urgent = client.receiver(
        "topic://t", filter=_selector("JMSPriority > 4 AND JMSType = 'order' AND JMSDeliveryMode = 'PERSISTENT'")
    )
    by_id = client.receiver("topic://t", filter=_selector("JMSMessageID LIKE 'id-%' AND JMSCorrelationID IS NULL"))
    world.pump()
    producer = world.client("producer")
    sender = producer.sender("topic://t")
    world.pump()
    producer.send(sender, 0, header=Header(durable=True, priority=9), properties=Properties(subject="order", message_id="x-0"))
    producer.send(sender, 1, header=Header(priority=9), properties=Properties(subject="order", message_id="id-1"))
    producer.send(sender, 2, properties=Properties(subject="order", message_id="id-2", correlation_id="c"))
    world.pump()
    assert client.bodies(urgent) == [0]
    assert client.bodies(by_id) == [1]


def test_Broker_applies_legacy_direct_and_topic_bindings_to_the_subject() -> None:
    world = World()
    client = world.client()
    direct = client.receiver("topic://x", filter={Symbol("d"): Described(DIRECT, "stock.usd.nyse")})
    star = client.receiver("topic://x", filter={Symbol("t"): Described(TOPIC, "stock.*.nyse")})
    hash_ = client.receiver("topic://x", filter={Symbol("t"): Described(ULong(0x0000468C00000001), "stock.#")})
    world.pump()
    producer = world.client("producer")
    sender = producer.sender("topic://x")
    world.pump()
    for i, subject in enumerate(["stock.usd.nyse", "stock.eur.nyse", "stock", "stock.usd.nyse.late", "bond.usd"]):
        producer.send(sender, i, properties=Properties(subject=subject))
    producer.send(sender, 5)  # no subject: no binding matches it
    world.pump()
    assert client.bodies(direct) == [0]
    assert client.bodies(star) == [0, 1]
    assert client.bodies(hash_) == [0, 1, 2, 3]


def test_Broker_no_local_filter_keeps_a_subscriber_from_its_own_connection_messages() -> None:
    world = World()
    me = world.client("me")
    mine = me.receiver("topic://chat", filter={Symbol("no-local"): Described(NO_LOCAL, [])})
    other = world.client("other")
    theirs = other.receiver("topic://chat")
    world.pump()
    my_sender = me.sender("topic://chat")
    their_sender = other.sender("topic://chat")
    world.pump()
    me.send(my_sender, "from me")
    other.send(their_sender, "from other")
    world.pump()
    assert me.bodies(mine) == ["from other"]
    assert other.bodies(theirs) == ["from me", "from other"]


def test_Broker_answer_lists_exactly_the_filters_it_applies() -> None:
    world = World()
    client = world.client()
    unknown = Described(Symbol("example.org:unheard-of:string"), "x")
    asked = {**_selector("a = 1"), Symbol("odd"): unknown, Symbol("nl"): Described(ULong(0x0000468C00000003), [])}
    receiver = client.receiver("q", filter=asked)
    plain = client.receiver("q2")
    world.pump()
    answered = receiver.remote_source.filter
    assert set(answered) == {"jms-selector", "nl"}
    assert answered[Symbol("jms-selector")] == Described(SELECTOR, "a = 1")
    assert plain.remote_source.filter is None


def test_Broker_refuses_a_malformed_selector_with_invalid_field_naming_the_problem() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", filter=_selector("colour = 'red"))
    world.pump()
    detach = client.detached[receiver]
    assert detach.error is not None
    assert detach.error.condition == AmqpErrorCondition.INVALID_FIELD
    assert "unterminated string" in str(detach.error.description)
    assert receiver.state is not LinkState.ATTACHED


def test_Broker_refuses_a_selector_that_is_not_a_string() -> None:
    world = World()
    client = world.client()
    receiver = client.receiver("q", filter={Symbol("s"): Described(SELECTOR, 42)})
    world.pump()
    assert client.detached[receiver].error.condition == AmqpErrorCondition.INVALID_FIELD


def test_Broker_browser_sees_queue_messages_without_taking_them() -> None:
    world = World()
    _publish(world, "stock", ["red", "blue"])
    client = world.client()
    first = client.receiver("stock", distribution_mode="copy")
    second = client.receiver("stock", distribution_mode="copy")
    world.pump()
    assert first.remote_source.distribution_mode == "copy"
    assert client.bodies(first) == [0, 1]
    assert client.bodies(second) == [0, 1]
    for delivery in client.take(first):
        delivery.accept()  # a no-op for the queue
    world.pump()
    node = world.broker.node("stock")
    assert isinstance(node, Queue) and node.depth == 2
    taker = client.receiver("stock")
    world.pump()
    assert taker.remote_source.distribution_mode == "move"
    assert client.bodies(taker) == [0, 1]
    assert client.bodies(second) == [0, 1]  # nothing shown twice


def test_Broker_browser_with_a_selector_sees_only_matching_messages() -> None:
    world = World()
    _publish(world, "stock", ["red", "blue", "red"])
    client = world.client()
    browser = client.receiver("stock", distribution_mode="copy", filter=_selector("colour = 'red'"))
    world.pump()
    assert client.bodies(browser) == [0, 2]


def test_Broker_keeps_queue_messages_when_a_browser_detaches_with_them_unsettled() -> None:
    world = World()
    _publish(world, "stock", ["red", "blue"])
    client = world.client()
    browser = client.receiver("stock", distribution_mode="copy")
    world.pump()
    assert len(client.received[browser]) == 2
    browser.detach(closed=True)
    world.pump()
    taker = client.receiver("stock")
    world.pump()
    assert client.bodies(taker) == [0, 1]
    # a browser's unsettled copies were no delivery attempt: no delivery-count was raised
    headers = [Message.decode(d.payload).header for d in client.received[taker]]
    assert all(h is None or not h.delivery_count for h in headers)
