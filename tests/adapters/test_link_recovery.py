"""Link recovery over real sockets against the embedded peer (spec 2.6.13, docs/recovery.md).

A client streams at-least-once messages through a relay that first swallows the peer's
answers (so the peer has taken messages the client never hears about) and then resets the
connection. A new connection resumes the link with ``unsettled=<the old link's
unsettled_map>``: every message reaches the queue exactly once. The same for a receiver: what
it accepted before the reset is not delivered again. Blocking, trio and asyncio clients, against
the peer served by the blocking listener.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Timeout
from amqp10.peer.broker import Broker
from amqp10.peer.recovery import SuspendedLinks
from amqp10.peer.server import EmbeddedPeer, start

from support.cut_proxy import CutProxy

N = 40
HALF = N // 2
LIMIT = 10.0  # seconds any wait here may take
DURABLE = {"durable": "unsettled-state", "expiry_policy": "never"}


@pytest.fixture
def peer() -> Any:
    with start("127.0.0.1", 0, broker=Broker(suspended=SuspendedLinks(clock=time.monotonic))) as served:
        yield served


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIMIT
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def _held(peer: EmbeddedPeer, address: str = "q") -> int:
    return peer.call(lambda b: b.node(address).held if b.node(address) is not None else 0)  # type: ignore[no-any-return]


def _suspended(peer: EmbeddedPeer) -> int:
    return peer.call(lambda b: len(b.suspended))  # type: ignore[no-any-return]


def _drain_queue(peer: EmbeddedPeer) -> list[str]:
    """Every message now in "q", taken with a plain receiver on a direct connection."""
    bodies: list[str] = []
    with amqp10.connect(peer.url) as conn:
        with conn.open_receiver("q", auto_accept=True) as receiver:
            while True:
                try:
                    bodies.append(receiver.receive(timeout=0.5).message.body)
                except Timeout:
                    return bodies


# -- senders --------------------------------------------------------------------------------


def test_blocking_sender_resumed_after_a_reset_stores_every_message_exactly_once(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-1")
        sender = conn.open_sender("q", name="orders", **DURABLE)
        proxy.hold("down")  # the peer's outcomes (and credit) are lost from now on
        for i in range(HALF):
            sender.submit(f"m{i}")
        _until(lambda: _held(peer) == HALF, "the first half to be stored")
        proxy.hold("up")  # the rest never reaches the peer
        for i in range(HALF, N):
            sender.submit(f"m{i}")
        proxy.cut()
        _until(lambda: conn.closed, "the client to see the reset")
        _until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
        snapshot = sender.unsettled_map
        conn.close()
    assert len(snapshot) == N and all(d.state is None for d in snapshot)

    with amqp10.connect(peer.url, container_id="app-1") as conn:
        resumed = conn.open_sender("q", name="orders", unsettled=snapshot, **DURABLE)
        trackers = resumed.recovered
        assert set(trackers) == {d.tag for d in snapshot}
        outcomes = [trackers[d.tag].wait(timeout=LIMIT) for d in snapshot]
        assert all(isinstance(o, Accepted) for o in outcomes)
        assert isinstance(resumed.send("after"), Accepted)
    bodies = _drain_queue(peer)
    assert sorted(bodies) == sorted([f"m{i}" for i in range(N)] + ["after"])


def test_blocking_sender_attached_again_without_a_map_starts_afresh(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-2")
        sender = conn.open_sender("q", name="orders", **DURABLE)
        proxy.hold("down")
        sender.submit("once")
        _until(lambda: _held(peer) == 1, "the message to be stored")
        proxy.cut()
        _until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
        conn.close()
    with amqp10.connect(peer.url, container_id="app-2") as conn:
        conn.open_sender("q", name="orders", **DURABLE)  # a plain attach: no recovery
        _until(lambda: _suspended(peer) == 0, "the old state to be dropped")
    assert _drain_queue(peer) == ["once"]


async def _async_sender_scenario(connect: Any, peer: EmbeddedPeer, sleep: Callable[[float], Any]) -> list[Any]:
    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + LIMIT
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await sleep(0.01)

    with CutProxy(peer.port) as proxy:
        async with connect(proxy.url, container_id="app-async") as conn:
            sender = await conn.open_sender("q", name="orders", **DURABLE)
            proxy.hold("down")
            for i in range(HALF):
                await sender.submit(f"m{i}")
            await until(lambda: _held(peer) == HALF, "the first half to be stored")
            proxy.hold("up")
            for i in range(HALF, N):
                await sender.submit(f"m{i}")
            proxy.cut()
            await until(lambda: conn.closed, "the client to see the reset")
            await until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
            snapshot = sender.unsettled_map
    assert len(snapshot) == N
    async with connect(peer.url, container_id="app-async") as conn:
        resumed = await conn.open_sender("q", name="orders", unsettled=snapshot, **DURABLE)
        return [await resumed.recovered[d.tag].wait(timeout=LIMIT) for d in snapshot]


def test_asyncio_sender_resumed_after_a_reset_stores_every_message_exactly_once(peer: EmbeddedPeer) -> None:
    outcomes = asyncio.run(_async_sender_scenario(amqp10.asyncio.connect, peer, asyncio.sleep))
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert sorted(_drain_queue(peer)) == sorted(f"m{i}" for i in range(N))


def test_trio_sender_resumed_after_a_reset_stores_every_message_exactly_once(peer: EmbeddedPeer) -> None:
    outcomes = trio.run(_async_sender_scenario, amqp10.trio.connect, peer, trio.sleep)
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert sorted(_drain_queue(peer)) == sorted(f"m{i}" for i in range(N))


# -- receivers ------------------------------------------------------------------------------


def _fill_queue(peer: EmbeddedPeer, count: int) -> None:
    with amqp10.connect(peer.url) as conn:
        with conn.open_sender("q") as sender:
            sender.send_many([f"m{i}" for i in range(count)])


def test_blocking_receiver_resumed_after_a_reset_gets_nothing_it_accepted_again(peer: EmbeddedPeer) -> None:
    _fill_queue(peer, N)
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-3")
        receiver = conn.open_receiver("q", name="reader", credit=N, **DURABLE)
        first = [receiver.receive(timeout=LIMIT) for _ in range(HALF)]
        proxy.hold("up")  # our accepts are lost from now on
        for delivery in first:
            delivery.accept()
        proxy.cut()
        _until(lambda: conn.closed, "the client to see the reset")
        _until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
        snapshot = receiver.unsettled_map
        conn.close()
    accepted = {d.tag for d in snapshot if isinstance(d.state, Accepted)}
    assert len(accepted) == HALF  # the rest arrived (prefetched) but was not taken

    with amqp10.connect(peer.url, container_id="app-3") as conn:
        resumed = conn.open_receiver("q", name="reader", credit=N, unsettled=snapshot, **DURABLE)
        again: list[str] = []
        while True:
            try:
                delivery = resumed.receive(timeout=0.5)
            except Timeout:
                break
            assert delivery.tag not in accepted
            delivery.accept()
            again.append(delivery.message.body)
    seen = [d.message.body for d in first] + again
    assert sorted(seen) == sorted(f"m{i}" for i in range(N))
    assert _until(lambda: _held(peer) == 0, "every message to be settled") is None


def test_link_attached_again_while_its_old_connection_is_silent_is_stolen_and_resumed(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-4")
        try:
            sender = conn.open_sender("q", name="orders", **DURABLE)
            proxy.hold("down")
            for i in range(HALF):
                sender.submit(f"m{i}")
            _until(lambda: _held(peer) == HALF, "the messages to be stored")
            proxy.hold("up")  # a dead path with no reset: the peer still thinks the link is attached
            snapshot = sender.unsettled_map
            with amqp10.connect(peer.url, container_id="app-4") as again:
                resumed = again.open_sender("q", name="orders", unsettled=snapshot, **DURABLE)
                outcomes = [resumed.recovered[d.tag].wait(timeout=LIMIT) for d in snapshot]
        finally:
            try:
                conn.close(timeout=0.2)
            except amqp10.AMQPError:
                pass  # the old path is dead: the close handshake cannot finish
    assert all(isinstance(o, Accepted) for o in outcomes)
    assert sorted(_drain_queue(peer)) == sorted(f"m{i}" for i in range(HALF))


def test_blocking_sender_resumes_a_message_cut_in_the_middle_of_its_frames(peer: EmbeddedPeer) -> None:
    big = "x" * 300_000  # several frames at the default max-frame-size
    with CutProxy(peer.port) as proxy:
        conn = amqp10.connect(proxy.url, container_id="app-5")
        sender = conn.open_sender("q", name="big", **DURABLE)
        proxy.hold_after("up", 100_000)  # the peer gets the first frames only
        sender.submit(big)
        _until(lambda: proxy.relayed("up") >= 100_000, "part of the message to go through")
        proxy.cut()
        _until(lambda: conn.closed, "the client to see the reset")
        _until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
        snapshot = sender.unsettled_map
        conn.close()
    assert _held(peer) == 0  # the partial delivery was dropped, not stored
    (entry,) = snapshot
    with amqp10.connect(peer.url, container_id="app-5") as conn:
        resumed = conn.open_sender("q", name="big", unsettled=snapshot, **DURABLE)
        assert isinstance(resumed.recovered[entry.tag].wait(timeout=LIMIT), Accepted)
    assert _drain_queue(peer) == [big]


def test_resuming_without_the_link_name_or_with_something_else_than_a_map_is_refused_before_anything_is_sent(peer: EmbeddedPeer) -> None:
    with amqp10.connect(peer.url) as conn:
        with pytest.raises(ValueError, match="name"):
            conn.open_sender("q", unsettled=amqp10.UnsettledMap())
        with pytest.raises(ValueError, match="name"):
            conn.open_receiver("q", unsettled=amqp10.UnsettledMap())
        with pytest.raises(TypeError):
            conn.open_sender("q", name="x", unsettled={b"tag": None})  # type: ignore[typeddict-item]


def test_asyncio_receiver_resumed_after_a_reset_gets_nothing_it_accepted_again(peer: EmbeddedPeer) -> None:
    _fill_queue(peer, N)

    async def until(condition: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + LIMIT
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            await asyncio.sleep(0.01)

    async def scenario() -> tuple[list[str], list[str], set[bytes], list[bool]]:
        with CutProxy(peer.port) as proxy:
            async with amqp10.asyncio.connect(proxy.url, container_id="app-6") as conn:
                receiver = await conn.open_receiver("q", name="reader", credit=N, **DURABLE)
                first = [await receiver.receive(timeout=LIMIT) for _ in range(HALF)]
                proxy.hold("up")
                for delivery in first:
                    delivery.accept()
                proxy.cut()
                await until(lambda: conn.closed, "the client to see the reset")
                await until(lambda: _suspended(peer) == 1, "the peer to suspend the link")
                snapshot = receiver.unsettled_map
        accepted = {d.tag for d in snapshot if isinstance(d.state, Accepted)}
        again: list[str] = []
        resumed_flags: list[bool] = []
        async with amqp10.asyncio.connect(peer.url, container_id="app-6") as conn:
            resumed = await conn.open_receiver("q", name="reader", credit=N, unsettled=snapshot, **DURABLE)
            while True:
                try:
                    delivery = await resumed.receive(timeout=0.5)
                except Timeout:
                    break
                resumed_flags.append(delivery.resumed)
                delivery.accept()
                again.append(delivery.message.body)
        return [d.message.body for d in first], again, accepted, resumed_flags

    first, again, accepted, resumed_flags = asyncio.run(scenario())
    assert len(accepted) == HALF
    assert sorted(first + again) == sorted(f"m{i}" for i in range(N))
    assert all(resumed_flags)  # the prefetched, untaken half came again as resumed deliveries
    _until(lambda: _held(peer) == 0, "every message to be settled")
