"""Reconnecting over real sockets (docs/reconnect.md): blocking, trio and asyncio clients.

The connection is cut mid-stream by a relay (the embedded peer survives and holds the queue),
or the peer itself is killed (SIGKILL) and started again on the same port: a receiving peer
in its own process that writes every message down before accepting it. In every case each
message whose send was accepted is there afterwards; messages may arrive twice (their outcome
was lost with the connection, so they were sent again), which the tests count but allow.
Also: failing over to a second peer, giving up when the policy runs out, following an
``amqp:connection:redirect`` (and refusing to when told), reconnecting being off by default,
and a durable (recoverable) link resumed across the reconnect without duplicates.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

import pytest
import trio

import amqp10
from amqp10 import Accepted, Reconnect, Timeout
from amqp10.codec.spec import Error
from amqp10.codec.types import Symbol
from amqp10.engine.events import ConnectionOpened, Event, LinkRemotelyAttached
from amqp10.peer.broker import Broker
from amqp10.peer.nodes import NodeLimits
from amqp10.peer.recovery import SuspendedLinks
from amqp10.peer.server import EmbeddedPeer, start

from support.async_adapters import AsyncAdapter, each_async_adapter
from support.cut_proxy import CutProxy

N = 60
LIMIT = 20.0  # seconds any wait here may take
FAST = Reconnect(initial_delay=0.02, multiplier=2, max_delay=0.2, jitter=0.2, max_attempts=None, deadline=LIMIT)
RECORDER = Path(__file__).parent.parent / "support" / "recording_peer.py"


@pytest.fixture
def peer() -> Iterator[EmbeddedPeer]:
    with start("127.0.0.1", 0, broker=Broker(suspended=SuspendedLinks(clock=time.monotonic))) as served:
        yield served


def _drain(url: str, address: str = "q") -> list[str]:
    """Every message now at ``address``, taken on a plain connection."""
    bodies: list[str] = []
    with amqp10.connect(url) as conn, conn.open_receiver(address, auto_accept=True) as receiver:
        for _ in range(10 * N):
            try:
                bodies.append(receiver.receive(timeout=0.5).message.body)
            except Timeout:
                break
    return bodies


def _until_held(peer: EmbeddedPeer, count: int) -> None:
    """Wait until the peer's queue "q" holds ``count`` messages."""
    deadline = time.monotonic() + LIMIT
    while peer.call(lambda b: b.node("q").held if b.node("q") is not None else 0) < count:
        assert time.monotonic() < deadline, f"the peer did not get {count} messages in time"
        time.sleep(0.01)


async def _until_held_async(adapter: AsyncAdapter, peer: EmbeddedPeer, count: int) -> None:
    """``_until_held`` without blocking the event loop (the pump must keep writing)."""
    sleep = trio.sleep if adapter.name == "trio" else asyncio.sleep
    deadline = time.monotonic() + LIMIT
    while peer.call(lambda b: b.node("q").held if b.node("q") is not None else 0) < count:
        assert time.monotonic() < deadline, f"the peer did not get {count} messages in time"
        await sleep(0.01)


async def _close_off_loop(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    """Stop ``peer`` from a thread: its goodbye waits for our client, whose loop must run."""
    if adapter.name == "trio":
        await trio.to_thread.run_sync(peer.close)
    else:
        await asyncio.to_thread(peer.close)


def _accepted(outcomes: Sequence[Any]) -> set[str]:
    return {f"m{i}" for i, outcome in enumerate(outcomes) if outcome == Accepted()}


def _nothing_lost(accepted: set[str], arrived: list[str]) -> int:
    """Assert every accepted message arrived; return how many arrived more than once."""
    assert accepted - set(arrived) == set(), "accepted messages were lost"
    return len(arrived) - len(set(arrived))


class _Recorder:
    """The recording peer process (tests/support/recording_peer.py), killable and restartable."""

    def __init__(self, path: Path, port: int = 0) -> None:
        self.path = path
        self.proc = subprocess.Popen([sys.executable, str(RECORDER), str(port), str(path)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line.startswith("listening on"), line
        self.port = int(line.split()[-1])
        self.url = f"amqp://127.0.0.1:{self.port}"

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def restart(self) -> "_Recorder":
        self.kill()
        return _Recorder(self.path, self.port)

    def lines(self) -> list[str]:
        return self.path.read_text(encoding="utf-8").split() if self.path.exists() else []


class _Redirecting(amqp10.Handler):
    """Answers every OPEN with a CLOSE ``amqp:connection:redirect`` to ``port`` (spec 2.8.17)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def events_received(self, conn: amqp10.ServerConnection, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, ConnectionOpened):
                info = {Symbol("hostname"): "127.0.0.1", Symbol("network-host"): "127.0.0.1", Symbol("port"): self.port}
                conn.engine.close(Error(condition=Symbol("amqp:connection:redirect"), description="moved", info=info))


# -- blocking -------------------------------------------------------------------------------------


def test_blocking_sender_through_cut_connections_loses_nothing_accepted(peer: EmbeddedPeer) -> None:
    seen: list[object] = []
    with CutProxy(peer.port) as proxy:
        with amqp10.connect(proxy.url, reconnect=FAST, on_disconnect=seen.append, on_reconnect=seen.append) as conn:
            sender = conn.open_sender("q")
            outcomes = []
            for i in range(N):
                outcomes.append(sender.send(f"m{i}", timeout=LIMIT))
                if i in (N // 3, 2 * N // 3):
                    proxy.cut()
            assert conn.reconnects == 2 and not conn.closed and not sender.closed
    assert all(outcome == Accepted() for outcome in outcomes)
    assert len(seen) == 4 and isinstance(seen[0], amqp10.ConnectionClosedError) and seen[1] == proxy.url
    _nothing_lost(_accepted(outcomes), _drain(peer.url))


def test_blocking_trackers_follow_their_messages_across_a_cut(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        with amqp10.connect(proxy.url, reconnect=FAST) as conn:
            sender = conn.open_sender("q")
            proxy.hold("down")  # the peer stores messages whose outcomes never come back
            trackers = [sender.submit(f"m{i}") for i in range(N // 2)]
            _until_held(peer, N // 2)
            proxy.release()  # the outcomes sent so far are lost; the next connection is relayed
            proxy.cut()
            trackers += [sender.submit(f"m{i}") for i in range(N // 2, N)]
            outcomes = [tracker.wait(timeout=LIMIT) for tracker in trackers]
    assert all(outcome == Accepted() for outcome in outcomes)
    duplicates = _nothing_lost(_accepted(outcomes), _drain(peer.url))
    assert duplicates <= N // 2  # only those in flight at the cut may come twice


def test_blocking_receiver_gets_every_message_after_a_cut_with_its_credit_restored(peer: EmbeddedPeer) -> None:
    with amqp10.connect(peer.url) as direct:
        direct.open_sender("q").send_many([f"m{i}" for i in range(N)], timeout=LIMIT)
    got: list[str] = []
    with CutProxy(peer.port) as proxy:
        with amqp10.connect(proxy.url, reconnect=FAST) as conn:
            receiver = conn.open_receiver("q", credit=10)
            for _ in range(3 * N):
                if len(set(got)) == N:
                    break
                delivery = receiver.receive(timeout=LIMIT)
                got.append(delivery.message.body)
                delivery.accept()
                if len(got) == N // 2:
                    proxy.cut()
            assert conn.reconnects == 1
            assert receiver.credit > 0
    assert set(got) == {f"m{i}" for i in range(N)}


def test_blocking_sender_to_a_killed_and_restarted_peer_loses_nothing_accepted(tmp_path: Path) -> None:
    recorder = _Recorder(tmp_path / "accepted.txt")
    try:
        with amqp10.connect(recorder.url, reconnect=FAST) as conn:
            sender = conn.open_sender("q")
            trackers = [sender.submit(f"m{i}") for i in range(N)]
            recorder = recorder.restart()  # SIGKILL with messages in flight, then back on the port
            trackers += [sender.submit(f"m{i}") for i in range(N, 2 * N)]
            outcomes = [tracker.wait(timeout=LIMIT) for tracker in trackers]
            assert conn.reconnects == 1
    finally:
        recorder.kill()
    assert all(outcome == Accepted() for outcome in outcomes)
    _nothing_lost(_accepted(outcomes), recorder.lines())


def test_blocking_fails_over_to_a_second_peer(peer: EmbeddedPeer) -> None:
    first = start("127.0.0.1", 0)
    with amqp10.connect(first.url, reconnect=FAST, failover=[peer.url]) as conn:
        sender = conn.open_sender("q")
        assert sender.send("before", timeout=LIMIT) == Accepted()
        first.close()
        outcomes = [sender.send(f"m{i}", timeout=LIMIT) for i in range(N)]
        assert conn.url == peer.url and conn.reconnects == 1
    _nothing_lost(_accepted(outcomes), _drain(peer.url))


def test_blocking_reconnect_gives_up_with_ReconnectFailedError_when_the_policy_runs_out() -> None:
    gone = start("127.0.0.1", 0)
    with amqp10.connect(gone.url, reconnect=Reconnect(initial_delay=0.01, max_attempts=3, deadline=LIMIT)) as conn:
        sender = conn.open_sender("q")
        gone.close()
        with pytest.raises(amqp10.ReconnectFailedError, match="3 attempts"):
            sender.send("lost", timeout=LIMIT)
        with pytest.raises(amqp10.ReconnectFailedError):
            conn.open_sender("q")
        assert conn.closed and sender.closed


def test_blocking_without_reconnect_a_cut_ends_the_connection(peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        with amqp10.connect(proxy.url) as conn:
            sender = conn.open_sender("q")
            proxy.cut()
            with pytest.raises(amqp10.ConnectionClosedError):
                for _ in range(100):
                    sender.send("m", timeout=LIMIT)
            assert conn.reconnects == 0


def test_blocking_follows_a_connection_redirect_or_raises_it_when_told_not_to(peer: EmbeddedPeer) -> None:
    with amqp10.listen("127.0.0.1", 0, _Redirecting(peer.port)) as redirector:
        with amqp10.connect(f"amqp://127.0.0.1:{redirector.port}") as conn:
            assert conn.url == peer.url
            assert conn.open_sender("q").send("redirected", timeout=LIMIT) == Accepted()
        with pytest.raises(amqp10.ConnectionRedirectError) as info:
            amqp10.connect(f"amqp://127.0.0.1:{redirector.port}", follow_redirects=False)
        assert info.value.url == peer.url and info.value.condition == "amqp:connection:redirect"
    assert _drain(peer.url) == ["redirected"]


def test_blocking_durable_sender_is_resumed_across_a_reconnect_without_duplicates(peer: EmbeddedPeer) -> None:
    """A recoverable link (docs/recovery.md) is resumed, not re-sent: exactly once."""
    durable = {"durable": "unsettled-state", "expiry_policy": "never"}
    with CutProxy(peer.port) as proxy:
        with amqp10.connect(proxy.url, reconnect=FAST, container_id="resumer") as conn:
            sender = conn.open_sender("q", name="orders", **durable)
            proxy.hold("down")  # the peer stores them; the outcomes are lost
            trackers = [sender.submit(f"m{i}") for i in range(N // 2)]
            _until_held(peer, N // 2)
            proxy.release()
            proxy.cut()
            outcomes = [tracker.wait(timeout=LIMIT) for tracker in trackers]
    assert all(outcome == Accepted() for outcome in outcomes)
    arrived = _drain(peer.url)
    assert sorted(arrived) == sorted(f"m{i}" for i in range(N // 2))  # no duplicates


# -- trio and asyncio -------------------------------------------------------------------------------


@each_async_adapter
async def test_async_sender_through_cut_connections_loses_nothing_accepted(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        async with adapter.connect(proxy.url, reconnect=FAST) as conn:
            sender = await conn.open_sender("q")
            outcomes = []
            for i in range(N):
                outcomes.append(await sender.send(f"m{i}", timeout=LIMIT))
                if i in (N // 3, 2 * N // 3):
                    proxy.cut()
            assert conn.reconnects == 2
    assert all(outcome == Accepted() for outcome in outcomes)
    _nothing_lost(_accepted(outcomes), _drain(peer.url))


@each_async_adapter
async def test_async_trackers_follow_their_messages_across_a_cut(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    with CutProxy(peer.port) as proxy:
        async with adapter.connect(proxy.url, reconnect=FAST) as conn:
            sender = await conn.open_sender("q")
            proxy.hold("down")
            trackers = [await sender.submit(f"m{i}") for i in range(N // 2)]
            await _until_held_async(adapter, peer, N // 2)
            proxy.release()  # the outcomes sent so far are lost; the next connection is relayed
            proxy.cut()
            trackers += [await sender.submit(f"m{i}") for i in range(N // 2, N)]
            outcomes = [await tracker.wait(timeout=LIMIT) for tracker in trackers]
    assert all(outcome == Accepted() for outcome in outcomes)
    _nothing_lost(_accepted(outcomes), _drain(peer.url))


@each_async_adapter
async def test_async_receiver_gets_every_message_after_a_cut(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    with amqp10.connect(peer.url) as direct:
        direct.open_sender("q").send_many([f"m{i}" for i in range(N)], timeout=LIMIT)
    got: list[str] = []
    with CutProxy(peer.port) as proxy:
        async with adapter.connect(proxy.url, reconnect=FAST) as conn:
            receiver = await conn.open_receiver("q", credit=10)
            for _ in range(3 * N):
                if len(set(got)) == N:
                    break
                delivery = await receiver.receive(timeout=LIMIT)
                got.append(delivery.message.body)
                delivery.accept()
                if len(got) == N // 2:
                    proxy.cut()
            assert conn.reconnects == 1
    assert set(got) == {f"m{i}" for i in range(N)}


@each_async_adapter
async def test_async_sender_to_a_killed_and_restarted_peer_loses_nothing_accepted(adapter: AsyncAdapter, tmp_path: Path) -> None:
    recorder = _Recorder(tmp_path / "accepted.txt")
    try:
        async with adapter.connect(recorder.url, reconnect=FAST) as conn:
            sender = await conn.open_sender("q")
            trackers = [await sender.submit(f"m{i}") for i in range(N)]
            recorder = recorder.restart()
            trackers += [await sender.submit(f"m{i}") for i in range(N, 2 * N)]
            outcomes = [await tracker.wait(timeout=LIMIT) for tracker in trackers]
            assert conn.reconnects == 1
    finally:
        recorder.kill()
    assert all(outcome == Accepted() for outcome in outcomes)
    _nothing_lost(_accepted(outcomes), recorder.lines())


@each_async_adapter
async def test_async_fails_over_to_a_second_peer(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    first = start("127.0.0.1", 0)
    async with adapter.connect(first.url, reconnect=FAST, failover=[peer.url]) as conn:
        sender = await conn.open_sender("q")
        await _close_off_loop(adapter, first)
        outcomes = [await sender.send(f"m{i}", timeout=LIMIT) for i in range(N)]
        assert conn.url == peer.url and conn.reconnects == 1
    _nothing_lost(_accepted(outcomes), _drain(peer.url))


@each_async_adapter
async def test_async_reconnect_gives_up_with_ReconnectFailedError(adapter: AsyncAdapter) -> None:
    gone = start("127.0.0.1", 0)
    async with adapter.connect(gone.url, reconnect=Reconnect(initial_delay=0.01, max_attempts=3, deadline=LIMIT)) as conn:
        sender = await conn.open_sender("q")
        await _close_off_loop(adapter, gone)
        with pytest.raises(amqp10.ReconnectFailedError):
            await sender.send("lost", timeout=LIMIT)


@each_async_adapter
async def test_async_follows_a_connection_redirect_or_raises_it(adapter: AsyncAdapter, peer: EmbeddedPeer) -> None:
    with amqp10.listen("127.0.0.1", 0, _Redirecting(peer.port)) as redirector:
        async with adapter.connect(f"amqp://127.0.0.1:{redirector.port}") as conn:
            assert conn.url == peer.url
            assert await (await conn.open_sender("q")).send("redirected", timeout=LIMIT) == Accepted()
        with pytest.raises(amqp10.ConnectionRedirectError):
            async with adapter.connect(f"amqp://127.0.0.1:{redirector.port}", follow_redirects=False):
                pass  # pragma: no cover
    assert _drain(peer.url) == ["redirected"]


class _LinkRedirecting(Broker):
    """The embedded peer, except that a link to or from "old" is detached with
    ``amqp:link:redirect`` to "new" (spec 2.8.18)."""

    def events_received(self, conn: amqp10.ServerConnection, events: Sequence[Event]) -> None:
        rest = []
        for event in events:
            link = getattr(event, "link", None)
            if isinstance(event, LinkRemotelyAttached) and link is not None:
                terminus = link.remote_source if link.is_sender else link.remote_target
                if terminus is not None and terminus.address == "old":
                    super().events_received(conn, rest)  # in order: the BEGIN may be among them
                    rest = []
                    link.attach()
                    link.detach(closed=True, error=Error(condition=Symbol("amqp:link:redirect"), description="moved", info={Symbol("address"): "new"}))
                    continue
            rest.append(event)
        super().events_received(conn, rest)


def test_blocking_follows_a_link_redirect_to_the_new_address_or_raises_it() -> None:
    with start("127.0.0.1", 0, broker=_LinkRedirecting()) as redirecting:
        with amqp10.connect(redirecting.url) as conn:
            sender = conn.open_sender("old", timeout=LIMIT)
            assert sender.send("moved", timeout=LIMIT) == Accepted()
            assert sender.address == "new"
            receiver = conn.open_receiver("old", timeout=LIMIT)
            assert receiver.receive(timeout=LIMIT).message.body == "moved"
        with amqp10.connect(redirecting.url, follow_redirects=False) as conn:
            with pytest.raises(amqp10.LinkRedirectError) as info:
                conn.open_sender("old", timeout=LIMIT)
            assert info.value.address == "new"


@each_async_adapter
async def test_async_follows_a_link_redirect(adapter: AsyncAdapter) -> None:
    with start("127.0.0.1", 0, broker=_LinkRedirecting()) as redirecting:
        async with adapter.connect(redirecting.url) as conn:
            sender = await conn.open_sender("old", timeout=LIMIT)
            assert await sender.send("moved", timeout=LIMIT) == Accepted()
            receiver = await conn.open_receiver("old", timeout=LIMIT)
            assert (await receiver.receive(timeout=LIMIT)).message.body == "moved"
        async with adapter.connect(redirecting.url, follow_redirects=False) as conn:
            with pytest.raises(amqp10.LinkRedirectError):
                await conn.open_sender("old", timeout=LIMIT)


def test_blocking_at_most_once_send_cut_off_is_reported_in_doubt_not_sent_again() -> None:
    full = start("127.0.0.1", 0, limits=NodeLimits(max_messages=1), credit_window=1)
    try:
        with CutProxy(full.port) as proxy:
            with amqp10.connect(proxy.url, reconnect=FAST) as conn:
                sender = conn.open_sender("q", settle_mode="at-most-once")
                assert sender.send("fills the queue", timeout=LIMIT) is None
                tracker = sender.submit("waits for credit that never comes")
                proxy.cut()
                with pytest.raises(amqp10.DeliveryInDoubtError):
                    tracker.wait(timeout=LIMIT)
                assert tracker.settled is False  # no outcome was made up for it
    finally:
        full.close()
