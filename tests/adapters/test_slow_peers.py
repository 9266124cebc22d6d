"""Both adapters against a peer that stops reading: a drain it never answers gives up at its
timeout and leaves the receiver usable; a sender stops at the write buffer's limit (waiting,
within its timeout) instead of buffering without bound, and goes on once the peer reads."""

from __future__ import annotations

import asyncio
import time

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10.blocking import connect
from support.asyncio_helpers import asyncio_test, eventually
from support.stalling_peer import StallingPeer
from support.trio_helpers import trio_test

DRAIN_TIMEOUT = 0.3

LIMIT = 1 << 20  # the write buffer limit under test
CHUNK = 256 * 1024  # one message body
MAX_CHUNKS = 200  # 50 MiB: unbounded buffering would take them all without a Timeout
#: what the kernel may hold besides our buffer: the client's send buffer (Linux autotunes it up
#: to tcp_wmem's 4 MiB maximum) plus the peer's small receive buffer
KERNEL_SLACK = 5 << 20


def test_Receiver_drain_raises_Timeout_and_the_receiver_stays_usable_when_the_peer_never_answers() -> None:
    with StallingPeer() as peer, connect(peer.url, timeout=5) as conn:
        receiver = conn.open_receiver("q")
        peer.offer("q", "before 1")
        peer.offer("q", "before 2")
        deadline = time.monotonic() + 5
        while receiver.queued < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        peer.stop_reading()
        started = time.monotonic()
        with pytest.raises(amqp10.Timeout, match="draining"):
            receiver.drain(timeout=DRAIN_TIMEOUT)
        assert DRAIN_TIMEOUT * 0.9 < time.monotonic() - started < DRAIN_TIMEOUT + 2
        assert not receiver.closed and not conn.closed
        # What had arrived is still there, though the peer still reads nothing.
        assert [receiver.receive(timeout=1).message.body for _ in range(2)] == ["before 1", "before 2"]
        peer.resume_reading()
        peer.offer("q", "after the drain")
        assert receiver.receive(timeout=5).message.body == "after the drain"
        assert receiver.drain(timeout=5) == []  # answered this time
        peer.offer("q", "and again")
        assert receiver.receive(timeout=5).message.body == "and again"


@trio_test
async def test_trio_Receiver_drain_raises_Timeout_and_the_receiver_stays_usable_when_the_peer_never_answers() -> None:
    with StallingPeer() as peer:
        async with amqp10.trio.connect(peer.url, timeout=5) as conn:
            receiver = await conn.open_receiver("q")
            peer.offer("q", "before 1")
            peer.offer("q", "before 2")
            with trio.fail_after(5):
                while receiver.queued < 2:
                    await trio.sleep(0.01)
            await trio.to_thread.run_sync(peer.stop_reading)
            started = trio.current_time()
            with pytest.raises(amqp10.Timeout, match="draining"):
                await receiver.drain(timeout=DRAIN_TIMEOUT)
            assert DRAIN_TIMEOUT * 0.9 < trio.current_time() - started < DRAIN_TIMEOUT + 2
            assert not receiver.closed and not conn.closed
            assert [(await receiver.receive(timeout=1)).message.body for _ in range(2)] == ["before 1", "before 2"]
            peer.resume_reading()
            peer.offer("q", "after the drain")
            assert (await receiver.receive(timeout=5)).message.body == "after the drain"
            assert await receiver.drain(timeout=5) == []
            peer.offer("q", "and again")
            assert (await receiver.receive(timeout=5)).message.body == "and again"


@asyncio_test
async def test_asyncio_Receiver_drain_raises_Timeout_and_the_receiver_stays_usable_when_the_peer_never_answers() -> None:
    loop = asyncio.get_running_loop()
    with StallingPeer() as peer:
        async with amqp10.asyncio.connect(peer.url, timeout=5) as conn:
            receiver = await conn.open_receiver("q")
            peer.offer("q", "before 1")
            peer.offer("q", "before 2")
            await eventually(lambda: receiver.queued >= 2)
            await asyncio.to_thread(peer.stop_reading)
            started = loop.time()
            with pytest.raises(amqp10.Timeout, match="draining"):
                await receiver.drain(timeout=DRAIN_TIMEOUT)
            assert DRAIN_TIMEOUT * 0.9 < loop.time() - started < DRAIN_TIMEOUT + 2
            assert not receiver.closed and not conn.closed
            assert [(await receiver.receive(timeout=1)).message.body for _ in range(2)] == ["before 1", "before 2"]
            peer.resume_reading()
            peer.offer("q", "after the drain")
            assert (await receiver.receive(timeout=5)).message.body == "after the drain"
            assert await receiver.drain(timeout=5) == []
            peer.offer("q", "and again")
            assert (await receiver.receive(timeout=5)).message.body == "and again"


def test_Sender_send_waits_at_the_write_buffer_limit_and_raises_Timeout_when_the_peer_stops_reading() -> None:
    with StallingPeer() as peer, connect(peer.url, write_buffer_limit=LIMIT, timeout=5) as conn:
        sender = conn.open_sender("q", settle_mode="at-most-once")
        assert sender.send(b"warm-up") is None
        peer.stop_reading()
        body = bytes(CHUNK)
        sent = 0
        with pytest.raises(amqp10.Timeout, match="sending"):
            for _ in range(MAX_CHUNKS):  # at-most-once: each returns once written to the buffer
                sender.send(body, timeout=0.5)
                sent += 1
        assert sent * CHUNK <= LIMIT + KERNEL_SLACK + CHUNK
        assert not sender.closed and not conn.closed
        peer.resume_reading()
        assert sender.send(body, timeout=5) is None
        deadline = time.monotonic() + 5
        while peer.received < sent + 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert peer.received == sent + 2  # the timed-out message was never queued


@trio_test
async def test_trio_Sender_send_waits_at_the_write_buffer_limit_and_raises_Timeout_when_the_peer_stops_reading() -> None:
    with StallingPeer() as peer:
        async with amqp10.trio.connect(peer.url, write_buffer_limit=LIMIT, timeout=5) as conn:
            sender = await conn.open_sender("q", settle_mode="at-most-once")
            assert await sender.send(b"warm-up") is None
            await trio.to_thread.run_sync(peer.stop_reading)
            body = bytes(CHUNK)
            sent = 0
            with pytest.raises(amqp10.Timeout, match="sending"):
                for _ in range(MAX_CHUNKS):
                    await sender.send(body, timeout=0.5)
                    sent += 1
            assert sent * CHUNK <= LIMIT + KERNEL_SLACK + CHUNK
            assert not sender.closed and not conn.closed
            peer.resume_reading()
            assert await sender.send(body, timeout=5) is None
            with trio.fail_after(5):
                while peer.received < sent + 2:
                    await trio.sleep(0.01)
            assert peer.received == sent + 2


@asyncio_test
async def test_asyncio_Sender_send_waits_at_the_write_buffer_limit_and_raises_Timeout_when_the_peer_stops_reading() -> None:
    with StallingPeer() as peer:
        async with amqp10.asyncio.connect(peer.url, write_buffer_limit=LIMIT, timeout=5) as conn:
            sender = await conn.open_sender("q", settle_mode="at-most-once")
            assert await sender.send(b"warm-up") is None
            await asyncio.to_thread(peer.stop_reading)
            body = bytes(CHUNK)
            sent = 0
            with pytest.raises(amqp10.Timeout, match="sending"):
                for _ in range(MAX_CHUNKS):
                    await sender.send(body, timeout=0.5)
                    sent += 1
            assert sent * CHUNK <= LIMIT + KERNEL_SLACK + CHUNK
            assert not sender.closed and not conn.closed
            peer.resume_reading()
            assert await sender.send(body, timeout=5) is None
            await eventually(lambda: peer.received >= sent + 2)
            assert peer.received == sent + 2


def test_connect_refuses_a_negative_write_buffer_limit() -> None:
    with pytest.raises(ValueError, match="write_buffer_limit"):
        connect("amqp://127.0.0.1:1", write_buffer_limit=-1)
    with pytest.raises(ValueError, match="write_buffer_limit"):
        amqp10.asyncio.connect("amqp://127.0.0.1:1", write_buffer_limit=-1)
