"""What the embedded peer keeps of suspended links for recovery (spec 2.6.13), and for how long:
only termini that ask for ``unsettled-state`` durability and outlive the link, bounded in
count and in time (``amqp10.peer.recovery``)."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterator

import pytest

import amqp10
from amqp10 import Accepted, Timeout
from amqp10.codec.spec import Source, TerminusDurability, TerminusExpiryPolicy
from amqp10.engine.recovery import UnsettledDelivery, UnsettledMap
from amqp10.peer.broker import Broker
from amqp10.peer.recovery import SuspendedLink, SuspendedLinks, keeps_unsettled_state
from amqp10.peer.server import EmbeddedPeer, start

from support.cut_proxy import CutProxy

LIMIT = 10.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def peer(clock: FakeClock) -> Iterator[EmbeddedPeer]:
    with start("127.0.0.1", 0, broker=Broker(suspended=SuspendedLinks(clock=clock))) as served:
        yield served


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _suspended(peer: EmbeddedPeer) -> int:
    return peer.call(lambda b: len(b.suspended))  # type: ignore[no-any-return]


def _fill(peer: EmbeddedPeer, count: int) -> None:
    with amqp10.connect(peer.url) as conn, conn.open_sender("q") as sender:
        sender.send_many([f"m{i}" for i in range(count)])


def _take_and_cut(peer: EmbeddedPeer, **receiver_options: Any) -> None:
    """A receiver prefetches everything, takes nothing, and its connection is reset."""
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app")
        receiver = conn.open_receiver("q", name="reader", credit=10, **receiver_options)
        _until(lambda: receiver.queued == 3, "the prefetch")
        proxy.cut()
        _until(lambda: conn.closed, "the reset")
        conn.close()


def _receive_all(peer: EmbeddedPeer) -> list[Any]:
    got = []
    with amqp10.connect(peer.url) as conn, conn.open_receiver("q", auto_accept=True) as receiver:
        while True:
            try:
                got.append(receiver.receive(timeout=0.5).message)
            except Timeout:
                return got


def test_terminus_keeping_unsettled_state_for_a_timeout_is_forgotten_after_it(peer: EmbeddedPeer, clock: FakeClock) -> None:
    _fill(peer, 3)
    _take_and_cut(peer, durable="unsettled-state", expiry_timeout=5)
    _until(lambda: _suspended(peer) == 1, "the link to be suspended")
    assert _receive_all(peer) == []  # held for the suspended link, not given to others
    clock.now += 6
    # The next thing the peer handles finds it expired: the messages come back, counted as
    # a failed delivery attempt.
    messages = _receive_all(peer)
    assert sorted(m.body for m in messages) == ["m0", "m1", "m2"]
    assert all(m.header is not None and m.header.delivery_count == 1 for m in messages)
    assert _suspended(peer) == 0


def test_receiver_without_unsettled_state_durability_is_not_kept(peer: EmbeddedPeer) -> None:
    _fill(peer, 3)
    _take_and_cut(peer)
    _until(lambda: peer.call(lambda b: b.node("q").depth) == 3, "the messages to come back")
    assert _suspended(peer) == 0


def test_store_keeps_at_most_max_links_dropping_the_oldest() -> None:
    store = SuspendedLinks(max_links=2)
    records = [SuspendedLink(("c", f"l{i}", "sender"), UnsettledMap()) for i in range(3)]
    assert store.keep(records[0], 10) == []
    assert store.keep(records[1], 10) == []
    assert store.keep(records[2], 10) == [records[0]]
    assert store.get(records[0].key) is None and len(store) == 2


def test_store_refuses_a_link_with_too_many_unsettled_deliveries() -> None:
    store = SuspendedLinks(max_deliveries=1)
    big = SuspendedLink(("c", "l", "sender"), UnsettledMap.of([UnsettledDelivery(b"a"), UnsettledDelivery(b"b")]))
    assert store.keep(big, 10) == [big] and len(store) == 0


def test_store_drops_a_record_at_its_deadline_and_caps_never_at_max_seconds(clock: FakeClock) -> None:
    store = SuspendedLinks(clock=clock, max_seconds=100)
    short = SuspendedLink(("c", "short", "sender"), UnsettledMap())
    forever = SuspendedLink(("c", "forever", "sender"), UnsettledMap())
    store.keep(short, 5)
    store.keep(forever, float("inf"))
    clock.now += 6
    assert store.expire() == [short]
    clock.now += 100
    assert store.expire() == [forever]


def test_which_termini_ask_for_their_unsettled_state_to_be_kept() -> None:
    durable = TerminusDurability.UNSETTLED_STATE
    assert keeps_unsettled_state(Source(durable=durable, expiry_policy=TerminusExpiryPolicy.NEVER)) == float("inf")
    assert keeps_unsettled_state(Source(durable=durable, timeout=30)) == 30.0
    assert keeps_unsettled_state(Source(durable=durable)) is None  # expires with its session
    assert keeps_unsettled_state(Source(durable=TerminusDurability.CONFIGURATION, timeout=30)) is None
    assert keeps_unsettled_state(Source(durable=durable, timeout=30, dynamic=True)) is None
    assert keeps_unsettled_state(None) is None


def test_every_server_adapter_resumes_a_sender_with_no_loss_and_no_duplicate(served_with_broker: Any) -> None:
    peer, broker = served_with_broker
    adapter = peer.adapter
    port = int(peer.url.rsplit(":", 1)[1])
    recoverable = {"durable": "unsettled-state", "expiry_policy": "never"}

    def held() -> int:  # read from this thread: a poll of an int the server thread updates
        node = broker.node("q")
        return 0 if node is None else node.held

    with CutProxy(port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-" + adapter)
        sender = conn.open_sender("q", name="out", **recoverable)
        proxy.hold("down")
        for i in range(10):
            sender.submit(f"m{i}")
        _until(lambda: held() == 10, "the messages to be stored")
        proxy.cut()
        _until(lambda: conn.closed, "the reset")
        _until(lambda: len(broker.suspended) == 1, "the link to be suspended")
        snapshot = sender.unsettled_map
        conn.close()
    with amqp10.connect(peer.url, container_id="app-" + adapter) as conn:
        resumed = conn.open_sender("q", name="out", unsettled=snapshot, **recoverable)
        assert all(isinstance(t.wait(timeout=LIMIT), Accepted) for t in resumed.recovered.values())
        with conn.open_receiver("q", auto_accept=True) as receiver:
            bodies = []
            while True:
                try:
                    bodies.append(receiver.receive(timeout=0.5).message.body)
                except Timeout:
                    break
    assert sorted(bodies) == sorted(f"m{i}" for i in range(10))
