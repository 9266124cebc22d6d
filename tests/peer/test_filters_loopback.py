"""The embedded peer's filters and browsing over real loopback sockets: blocking clients against
both server adapters, and the trio client against the trio-served peer."""

from __future__ import annotations

import functools

import pytest
import trio

import amqp10
import amqp10.trio
from amqp10 import Message, Properties
from amqp10.codec.types import Described, Symbol
from amqp10.peer import Broker
from amqp10.peer.server import serve_trio
from support.trio_helpers import trio_test

from .conftest import ServedPeer  # type: ignore[import-not-found]

_WAIT = 5.0
_NO_LOCAL = {"no-local": Described(Symbol("apache.org:no-local-filter:list"), [])}


def _topic_binding(pattern: str) -> dict[str, Described]:
    return {"binding": Described(Symbol("apache.org:legacy-amqp-topic-binding:string"), pattern)}


def _direct_binding(subject: str) -> dict[str, Described]:
    return {"binding": Described(Symbol("apache.org:legacy-amqp-direct-binding:string"), subject)}


def _paint(i: int, colour: str) -> Message:
    return Message(i, application_properties={"colour": colour, "size": i})


def _drain(receiver: amqp10.Receiver, n: int) -> list[object]:
    got = [receiver.receive(timeout=_WAIT).message.body for _ in range(n)]
    with pytest.raises(amqp10.Timeout):
        receiver.receive(timeout=0.2)  # and nothing more
    return got


def test_selector_subscriber_gets_only_matching_topic_messages(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        red = conn.open_receiver("topic://paint", filter=amqp10.selector_filter("colour = 'red' AND size < 4"))
        assert set(red.filters) == {"jms-selector"}
        every = conn.open_receiver("topic://paint")
        sender = conn.open_sender("topic://paint")
        for i, colour in enumerate(["red", "blue", "red", "green", "red"]):
            sender.send(_paint(i, colour))
        assert _drain(red, 2) == [0, 2]
        assert _drain(every, 5) == [0, 1, 2, 3, 4]


def test_selector_consumer_takes_only_matching_queue_messages_and_leaves_the_rest(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("jobs")
        for i, colour in enumerate(["red", "blue", "red", "green"]):
            sender.send(_paint(i, colour))
        red = conn.open_receiver("jobs", filter=amqp10.selector_filter("colour IN ('red')"))
        assert _drain(red, 2) == [0, 2]
        rest = conn.open_receiver("jobs")
        assert _drain(rest, 2) == [1, 3]


def test_legacy_bindings_match_the_subject(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        direct = conn.open_receiver("topic://stock", filter=_direct_binding("usd.nyse"))
        pattern = conn.open_receiver("topic://stock", filter=_topic_binding("*.nyse.#"))
        sender = conn.open_sender("topic://stock")
        for i, subject in enumerate(["usd.nyse", "eur.nyse.open", "usd.lse", "nyse"]):
            sender.send(Message(i, properties=Properties(subject=subject)))
        assert _drain(direct, 1) == [0]
        assert _drain(pattern, 2) == [0, 1]


def test_no_local_subscriber_does_not_hear_its_own_connection(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as me, amqp10.connect(served.url, timeout=_WAIT) as other:
        mine = me.open_receiver("topic://chat", filter=_NO_LOCAL)
        me.open_sender("topic://chat").send("from me")
        other.open_sender("topic://chat").send("from other")
        assert _drain(mine, 1) == ["from other"]


def test_malformed_selector_is_refused_with_invalid_field(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        with pytest.raises(amqp10.LinkDetachedError, match="invalid selector") as caught:
            conn.open_receiver("q", filter=amqp10.selector_filter("colour = = 'red'"))
        assert caught.value.condition == "amqp:invalid-field"
        assert not isinstance(caught.value, amqp10.SourceDowngradedError)


def test_unknown_filter_is_left_out_and_the_client_raises(served: ServedPeer) -> None:
    unknown = {"mine": Described(Symbol("example.org:unheard-of:string"), "x")}
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        with pytest.raises(amqp10.SourceDowngradedError) as caught:
            conn.open_receiver("q", filter=unknown)
        assert caught.value.missing_filters == ("mine",)
        kept = conn.open_receiver("q", filter={**unknown, **amqp10.selector_filter("a = 1")}, on_downgrade="keep")
        assert set(kept.filters) == {"jms-selector"}


def test_browser_sees_queue_messages_and_a_consumer_still_gets_them(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("shelf")
        for i in range(3):
            sender.send(i)
        browser = conn.open_receiver("shelf", distribution_mode="copy")
        assert browser.distribution_mode == "copy"
        got = [browser.receive(timeout=_WAIT) for _ in range(3)]
        for delivery in got:
            delivery.accept()  # a no-op for the queue
        assert [d.message.body for d in got] == [0, 1, 2]
        second = conn.open_receiver("shelf", distribution_mode="copy")
        assert _drain(second, 3) == [0, 1, 2]
        consumer = conn.open_receiver("shelf")
        assert consumer.distribution_mode == "move"
        assert _drain(consumer, 3) == [0, 1, 2]


@trio_test
async def test_trio_client_selector_and_browser_against_the_trio_peer() -> None:
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(serve_trio, "127.0.0.1", 0, broker=Broker()))
        async with amqp10.trio.connect(server.url, timeout=_WAIT) as conn:
            red = await conn.open_receiver("topic://paint", filter=amqp10.selector_filter("colour <> 'blue'"))
            sender = await conn.open_sender("topic://paint")
            for i, colour in enumerate(["red", "blue", "green"]):
                await sender.send(_paint(i, colour))
            assert [(await red.receive(timeout=_WAIT)).message.body for _ in range(2)] == [0, 2]
            shelf = await conn.open_sender("shelf")
            await shelf.send("on the shelf")
            browser = await conn.open_receiver("shelf", distribution_mode="copy")
            assert (await browser.receive(timeout=_WAIT)).message.body == "on the shelf"
            consumer = await conn.open_receiver("shelf")
            assert (await consumer.receive(timeout=_WAIT)).message.body == "on the shelf"
            with pytest.raises(amqp10.LinkDetachedError, match="invalid selector"):
                await conn.open_receiver("shelf", filter=amqp10.selector_filter("NOT"))
        nursery.cancel_scope.cancel()
