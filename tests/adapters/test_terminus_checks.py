"""The client noticing what a peer did not grant: filters left out of the ATTACH answer, another
distribution-mode, and an anonymous sender on a peer without ANONYMOUS-RELAY (blocking and trio)."""

from __future__ import annotations

from typing import Iterator

import pytest
import trio

import amqp10
import amqp10.trio
from amqp10 import AnonymousRelayNotOfferedError, LinkDetachedError, SourceDowngradedError
from amqp10._handler import ServerConnection
from amqp10.blocking import Listener, connect, listen
from amqp10.codec.spec import Source
from amqp10.engine.link import Link, Sender
from support.broker import QueueBroker
from support.trio_helpers import serving, trio_test

_SELECTOR = amqp10.selector_filter("colour = 'red'")


class ForgetfulBroker(QueueBroker):
    """Answers every receiver with a bare source (its address only), as a peer that ignores
    filters and distribution modes does (the Proton C++ example broker, for one)."""

    def _attach(self, conn: ServerConnection, link: Link) -> None:
        if isinstance(link, Sender) and link.remote_source is not None and not link.remote_source.dynamic:
            link.source = Source(address=link.remote_source.address)
        super()._attach(conn, link)


@pytest.fixture
def forgetful() -> Iterator[tuple[ForgetfulBroker, Listener]]:
    broker = ForgetfulBroker()
    with listen("127.0.0.1", 0, broker) as served:
        yield broker, served


def test_open_receiver_raises_and_closes_the_link_when_the_peer_drops_a_filter(forgetful: tuple[ForgetfulBroker, Listener]) -> None:
    broker, served = forgetful
    with connect(served.url, timeout=5) as conn:
        with pytest.raises(SourceDowngradedError, match="did not apply the filter 'jms-selector'") as caught:
            conn.open_receiver("paint", filter=_SELECTOR)
        assert isinstance(caught.value, LinkDetachedError)
        assert caught.value.missing_filters == ("jms-selector",)
        assert caught.value.condition == "amqp:not-implemented"
        # the link was closed: the broker has no consumer left, so a message stays queued
        conn.open_sender("paint").send("kept")
        assert broker.consumers.get("paint") == []
        assert [m for m in broker.queues["paint"]]  # still there


def test_open_receiver_raises_when_the_peer_answers_no_copy_mode_for_a_browser(forgetful: tuple[ForgetfulBroker, Listener]) -> None:
    _, served = forgetful
    with connect(served.url, timeout=5) as conn:
        with pytest.raises(SourceDowngradedError, match="stated no distribution-mode where 'copy' was asked for") as caught:
            conn.open_receiver("stock", distribution_mode="copy")
        assert caught.value.requested_distribution_mode == "copy"
        assert caught.value.distribution_mode is None
        assert caught.value.missing_filters == ()


def test_open_receiver_keeps_a_downgraded_link_and_reports_it_with_on_downgrade_keep(forgetful: tuple[ForgetfulBroker, Listener]) -> None:
    _, served = forgetful
    with connect(served.url, timeout=5) as conn:
        receiver = conn.open_receiver("paint", filter=_SELECTOR, distribution_mode="copy", on_downgrade="keep")
        assert not receiver.closed
        assert receiver.filters == {}
        assert receiver.distribution_mode is None
        downgrade = receiver.downgrade
        assert isinstance(downgrade, SourceDowngradedError)
        assert downgrade.missing_filters == ("jms-selector",)
        conn.open_sender("paint").send("anything")
        assert receiver.receive(timeout=5).message.body == "anything"


def test_open_receiver_rejects_an_unknown_on_downgrade_value(forgetful: tuple[ForgetfulBroker, Listener]) -> None:
    _, served = forgetful
    with connect(served.url, timeout=5) as conn:
        with pytest.raises(ValueError, match="on_downgrade"):
            conn.open_receiver("paint", on_downgrade="shrug")  # type: ignore[typeddict-item]


def test_open_receiver_accepts_a_peer_that_applies_what_was_asked(listener: Listener) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver("paint", filter=_SELECTOR, distribution_mode="copy")  # echoed whole
        assert receiver.downgrade is None
        assert set(receiver.filters) == {"jms-selector"}
        assert receiver.distribution_mode == "copy"


def test_open_sender_None_raises_when_the_peer_offers_no_anonymous_relay(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        assert conn.remote_offered_capabilities is None
        with pytest.raises(AnonymousRelayNotOfferedError, match="did not offer ANONYMOUS-RELAY"):
            conn.open_sender(None)
        assert broker.attaches == []  # no link was attached
        conn.open_sender("somewhere").send("still usable")


@trio_test
async def test_trio_open_receiver_raises_when_the_peer_drops_a_filter() -> None:
    async with serving(ForgetfulBroker()) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        with pytest.raises(SourceDowngradedError) as caught:
            await conn.open_receiver("paint", filter=_SELECTOR)
        assert caught.value.missing_filters == ("jms-selector",)
        receiver = await conn.open_receiver("paint", filter=_SELECTOR, on_downgrade="keep")
        assert receiver.downgrade is not None and receiver.filters == {}
        await receiver.aclose()


@trio_test
async def test_trio_open_sender_None_raises_when_the_peer_offers_no_anonymous_relay() -> None:
    async with serving(QueueBroker()) as server, amqp10.trio.connect(server.url, timeout=5) as conn:
        with pytest.raises(AnonymousRelayNotOfferedError):
            await conn.open_sender()
        with trio.fail_after(5):
            sender = await conn.open_sender("somewhere")
            await sender.send("still usable")
