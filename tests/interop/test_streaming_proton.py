"""Streaming large messages against an independent implementation: python-qpid-proton's
``Container``, listening on a real loopback socket (``support.proton_stream_peer``).

Our streamed send (one data section of a known length) is assembled and accepted by Proton;
a message Proton sends in many frames arrives here as chunks; a delivery Proton aborts half
way raises ``DeliveryAbortedError``. Blocking, trio and asyncio; every wait is bounded.
"""

from __future__ import annotations

import hashlib
import io

import pytest

import amqp10
from amqp10 import Accepted, DeliveryAbortedError, Properties
from support.async_adapters import AsyncAdapter, each_async_adapter
from support.proton_stream_peer import proton_peer

_WAIT = 10.0
_BODY = bytes(range(256)) * 12_000  # ~3 MiB: many frames either way


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_blocking_send_stream_with_length_is_assembled_and_accepted_by_proton() -> None:
    with proton_peer("receive") as peer, amqp10.connect(peer.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        pieces = (_BODY[i : i + 100_000] for i in range(0, len(_BODY), 100_000))
        outcome = sender.send_stream(pieces, length=len(_BODY), properties=Properties(subject="streamed"), timeout=_WAIT)
        assert outcome == Accepted()
        assert peer.got.wait(_WAIT)
        got = peer.received[0]
        assert (got["size"], got["sha256"], got["subject"]) == (len(_BODY), _sha(_BODY), "streamed")


def test_blocking_send_stream_from_a_file_is_assembled_by_proton() -> None:
    with proton_peer("receive") as peer, amqp10.connect(peer.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        assert sender.send_stream(io.BytesIO(_BODY), length=len(_BODY), timeout=_WAIT) == Accepted()
        assert peer.got.wait(_WAIT)
        assert peer.received[0]["sha256"] == _sha(_BODY)


def test_blocking_receive_stream_reads_a_multi_frame_proton_message_as_chunks() -> None:
    with proton_peer("send", _BODY, subject="from-proton") as peer, amqp10.connect(peer.url, timeout=_WAIT) as conn:
        receiver = conn.open_receiver("big", streaming=True)
        stream = receiver.receive_stream(timeout=_WAIT)
        assert stream.properties is not None and stream.properties.subject == "from-proton"
        chunks = [chunk for chunk in stream]
        stream.accept()
        assert len(chunks) > 1
        assert max(len(c) for c in chunks) <= 1 << 16
        assert _sha(b"".join(chunks)) == _sha(_BODY)


def test_blocking_IncomingStream_raises_DeliveryAbortedError_when_proton_aborts_half_way() -> None:
    with proton_peer("abort", _BODY) as peer, amqp10.connect(peer.url, timeout=_WAIT) as conn:
        receiver = conn.open_receiver("big", streaming=True)
        stream = receiver.receive_stream(timeout=_WAIT)
        read = 0
        with pytest.raises(DeliveryAbortedError):
            for chunk in stream:
                read += len(chunk)
        assert 0 < read < len(_BODY)
        assert stream.aborted


@each_async_adapter
async def test_async_receive_stream_reads_a_proton_message_and_raises_on_abort(adapter: AsyncAdapter) -> None:
    with proton_peer("send", _BODY) as peer:
        async with adapter.connect(peer.url, timeout=_WAIT) as conn:
            receiver = await conn.open_receiver("big", streaming=True)
            stream = await receiver.receive_stream(timeout=_WAIT)
            data = b"".join([chunk async for chunk in stream])
            stream.accept()
            assert _sha(data) == _sha(_BODY)
    with proton_peer("abort", _BODY) as peer:
        async with adapter.connect(peer.url, timeout=_WAIT) as conn:
            receiver = await conn.open_receiver("big", streaming=True)
            stream = await receiver.receive_stream(timeout=_WAIT)
            with pytest.raises(DeliveryAbortedError):
                async for _ in stream:
                    pass


@each_async_adapter
async def test_async_send_stream_from_an_async_generator_is_accepted_by_proton(adapter: AsyncAdapter) -> None:
    async def pieces():  # type: ignore[no-untyped-def]
        for i in range(0, len(_BODY), 65_000):
            yield _BODY[i : i + 65_000]

    with proton_peer("receive") as peer:
        async with adapter.connect(peer.url, timeout=_WAIT) as conn:
            sender = await conn.open_sender("big")
            assert await sender.send_stream(pieces(), length=len(_BODY), timeout=_WAIT) == Accepted()
        assert peer.got.wait(_WAIT)
        assert peer.received[0]["sha256"] == _sha(_BODY)


def test_blocking_send_stream_stops_reading_its_source_when_proton_rejects_early() -> None:
    taken: list[int] = []

    def pieces():  # type: ignore[no-untyped-def]
        for i in range(400):  # 400 MiB if it were all read
            taken.append(i)
            yield b"r" * (1 << 20)

    with proton_peer("reject-early") as peer, amqp10.connect(peer.url, timeout=_WAIT) as conn:
        sender = conn.open_sender("big")
        outcome = sender.send_stream(pieces(), timeout=_WAIT)
        assert isinstance(outcome, amqp10.Rejected)
        assert len(taken) < 400
        assert sender.send(b"after") is not None  # the link is free again
