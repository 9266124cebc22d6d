"""Streaming large messages through the embedded peer over loopback sockets.

The blocking client streams through the peer served by each server adapter (the ``served``
fixture); trio and asyncio clients (``@each_async_adapter``) stream through the peer served
by the blocking adapter. The peer relays a streamed message like any multi-frame delivery (it
holds it whole, as it holds every message it stores). Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import io
import threading

import pytest

import amqp10
from amqp10 import Accepted, LocalProtocolError, Properties
from amqp10.peer import Broker
from amqp10.peer.server import start
from support.async_adapters import AsyncAdapter, each_async_adapter

from .conftest import ServedPeer  # type: ignore[import-not-found]

_WAIT = 10.0


def _pieces(total: int, size: int) -> list[bytes]:
    return [bytes([(i // size) % 251]) * min(size, total - i) for i in range(0, total, size)]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_send_stream_from_a_generator_arrives_as_chunks_with_its_sections(served: ServedPeer) -> None:
    pieces = _pieces(3_000_000, 100_000)
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big", streaming=True)
        outcome = sender.send_stream(
            (p for p in pieces), properties=Properties(subject="s"), application_properties={"n": 30}, timeout=_WAIT
        )
        assert outcome == Accepted()
        stream = receiver.receive_stream(timeout=_WAIT)
        assert stream.properties is not None and stream.properties.subject == "s"
        assert stream.application_properties == {"n": 30}
        digest = hashlib.sha256()
        for chunk in stream:
            digest.update(chunk)
        stream.accept()
        assert digest.hexdigest() == _sha(b"".join(pieces))
        assert stream.ended and stream.message.body is None


def test_send_stream_with_a_length_from_a_file_is_one_data_section(served: ServedPeer) -> None:
    body = bytes(range(256)) * 8000
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big")  # a plain receiver gets it whole
        assert sender.send_stream(io.BytesIO(body), length=len(body), timeout=_WAIT) == Accepted()
        delivery = receiver.receive(timeout=_WAIT)
        assert delivery.message.body == body  # one data section: bytes, not a list of Data
        delivery.accept()


def test_send_stream_with_a_wrong_length_raises_and_aborts(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big", streaming=True)
        with pytest.raises(ValueError):
            sender.send_stream([b"a" * 70_000], length=100_000, timeout=_WAIT)
        assert sender.send(b"after") == Accepted()
        stream = receiver.receive_stream(timeout=_WAIT)
        assert stream.read(timeout=_WAIT) == b"after"  # a plain message reads as a stream too


def test_a_large_stream_flows_through_a_small_window(served: ServedPeer) -> None:
    # 16 frames of 64 KiB in flight at most on each side: 24 MiB need the window reopened
    # hundreds of times, as chunks are read.
    total = 24 << 20
    with amqp10.connect(served.url, timeout=_WAIT, incoming_window=16) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big", streaming=True)
        result: list[object] = []
        thread = threading.Thread(target=lambda: result.append(sender.send_stream(_pieces(total, 1 << 20), timeout=_WAIT)))
        thread.start()
        stream = receiver.receive_stream(timeout=_WAIT)
        got = sum(len(chunk) for chunk in stream)
        stream.accept()
        thread.join(_WAIT)
        assert got == total and result == [Accepted()]


def test_rejecting_before_the_end_drops_the_rest_and_frees_the_window(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT, incoming_window=4) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big", streaming=True)
        assert sender.send_stream(_pieces(2_000_000, 50_000), timeout=_WAIT) == Accepted()
        assert sender.send(b"next") == Accepted()
        stream = receiver.receive_stream(timeout=_WAIT)
        assert stream.read_chunk(timeout=_WAIT)
        stream.reject("app:too-big", "no thanks")
        assert stream.read_chunk(timeout=_WAIT) is None  # the rest is dropped
        following = receiver.receive_stream(timeout=_WAIT)
        assert following.read(timeout=_WAIT) == b"next"


def test_an_aborted_open_stream_never_reaches_the_receiver(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        receiver = conn.open_receiver("big", streaming=True)
        with pytest.raises(RuntimeError), sender.open_stream(timeout=_WAIT) as out:
            out.write(b"q" * 300_000, timeout=_WAIT)
            raise RuntimeError("the source failed")
        assert out.aborted
        assert sender.send(b"fine") == Accepted()
        assert receiver.receive_stream(timeout=_WAIT).read(timeout=_WAIT) == b"fine"


def test_receive_and_receive_stream_refuse_the_wrong_kind_of_receiver(served: ServedPeer) -> None:
    with amqp10.connect(served.url, timeout=_WAIT) as conn:
        with pytest.raises(LocalProtocolError, match="receive_stream"):
            conn.open_receiver("big", streaming=True).receive(timeout=_WAIT)
        with pytest.raises(LocalProtocolError, match="streaming=True"):
            conn.open_receiver("big").receive_stream(timeout=_WAIT)


@pytest.fixture
def peer_url() -> object:
    with start("127.0.0.1", 0, broker=Broker()) as peer:
        yield peer.url


@each_async_adapter
async def test_async_open_stream_write_aclose_and_async_iteration(adapter: AsyncAdapter, peer_url: str) -> None:
    pieces = _pieces(2_500_000, 90_000)
    async with adapter.connect(peer_url, timeout=_WAIT, incoming_window=8) as conn:
        sender = await conn.open_sender("big")
        receiver = await conn.open_receiver("big", streaming=True)
        async with await sender.open_stream(properties=Properties(subject="a"), timeout=_WAIT) as out:
            for piece in pieces:
                await out.write(piece, timeout=_WAIT)
        assert out.outcome == Accepted()
        stream = await receiver.receive_stream(timeout=_WAIT)
        assert stream.properties is not None and stream.properties.subject == "a"
        data = b"".join([chunk async for chunk in stream])
        stream.accept()
        assert _sha(data) == _sha(b"".join(pieces))


@each_async_adapter
async def test_async_release_before_the_end_then_the_next_message(adapter: AsyncAdapter, peer_url: str) -> None:
    async with adapter.connect(peer_url, timeout=_WAIT, incoming_window=4) as conn:
        sender = await conn.open_sender("big")
        receiver = await conn.open_receiver("big", streaming=True)
        assert await sender.send_stream(_pieces(1_000_000, 100_000), timeout=_WAIT) == Accepted()
        assert await sender.send(b"next") == Accepted()
        stream = await receiver.receive_stream(timeout=_WAIT)
        assert await stream.read_chunk(timeout=_WAIT)
        stream.release()
        assert await stream.read_chunk(timeout=_WAIT) is None
        assert await (await receiver.receive_stream(timeout=_WAIT)).read(timeout=_WAIT) == b"next"


@each_async_adapter
async def test_async_send_stream_cancelled_half_way_aborts_the_message(adapter: AsyncAdapter, peer_url: str) -> None:
    async with adapter.connect(peer_url, timeout=_WAIT) as conn:
        sender = await conn.open_sender("big")
        receiver = await conn.open_receiver("big", streaming=True)
        if adapter.name == "trio":
            import trio

            started = trio.Event()

            async def source():  # type: ignore[no-untyped-def]
                yield b"c" * 300_000
                started.set()
                await trio.sleep_forever()
                yield b""  # pragma: no cover

            async with trio.open_nursery() as nursery:
                scope = trio.CancelScope()

                async def run() -> None:
                    with scope:
                        await sender.send_stream(source(), timeout=_WAIT)

                nursery.start_soon(run)
                await started.wait()
                scope.cancel()
        else:
            import asyncio

            ready = asyncio.Event()

            async def source_a():  # type: ignore[no-untyped-def]
                yield b"c" * 300_000
                ready.set()
                await asyncio.Event().wait()
                yield b""  # pragma: no cover

            task = asyncio.ensure_future(sender.send_stream(source_a(), timeout=_WAIT))
            await ready.wait()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        assert await sender.send(b"after") == Accepted()
        assert await (await receiver.receive_stream(timeout=_WAIT)).read(timeout=_WAIT) == b"after"
