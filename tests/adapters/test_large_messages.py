"""Large messages received through the public ``Delivery`` (issue 9).

A payload gathered from several frames whose body is one data section gives that buffer to
the message body, on the compiled and the pure path alike, instead of copying it: the
receiver then holds the message once. Whichever path, the message, its body's type and ``Delivery.payload`` (the
bytes as received) are exactly those of a plain decode, and a malformed payload raises the
decoder's own ``DecodeError``. Real loopback sockets to the embedded peer; bounded waits.
"""

from __future__ import annotations

import threading
import tracemalloc
from typing import Any

import pytest

import amqp10
from amqp10 import Delivery, Header, Message, Properties
from amqp10.codec import DecodeError
from amqp10.engine.events import DeliveryReceived
from amqp10.peer.server import start
from support.async_adapters import AsyncAdapter, each_async_adapter
from support.engine_pairs import link_pair, of_type, opened_pair, server_config

BOUND = 30.0
SIZE = 3 << 20


def _big(size: int = SIZE) -> bytes:
    return bytes(i * 13 % 256 for i in range(1 << 16)) * (size >> 16)


def _full(body: bytes) -> Message:
    return Message(
        body=body,
        header=Header(durable=True, priority=7),
        message_annotations={"x-opt-k": "v"},
        properties=Properties(message_id="m-1", subject="large"),
        application_properties={"n": 3},
        footer={"x-opt-sum": 42},
    )


def test_blocking_Delivery_gives_a_large_message_and_its_payload_exactly() -> None:
    sent = [_full(_big()), Message(_big()[::-1]), _full(b"small")]
    with start("127.0.0.1", 0) as peer, amqp10.connect(peer.url, timeout=BOUND) as conn:
        receiver = conn.open_receiver("large", credit=5)
        sender = conn.open_sender("large")
        for message in sent:
            sender.send(message, timeout=BOUND)
        for message in sent:
            delivery = receiver.receive(timeout=BOUND)
            got = delivery.message
            assert got == message
            assert type(got.body) is bytes
            assert delivery.message is got
            assert delivery.payload == message.encode()
            delivery.accept()


def test_blocking_Delivery_decodes_a_large_message_without_holding_it_twice() -> None:
    # Traced from before the message arrives, so that the buffer it is gathered into is
    # traced too (a realloc of an untraced block would count as a new one).
    tracemalloc.start()
    try:
        with start("127.0.0.1", 0) as peer, amqp10.connect(peer.url, timeout=BOUND) as conn:
            receiver = conn.open_receiver("large", credit=1)
            conn.open_sender("large").send(_full(_big()), timeout=BOUND)
            delivery = receiver.receive(timeout=BOUND)
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            body = delivery.message.body
            _, peak = tracemalloc.get_traced_memory()
            assert body == _big()
    finally:
        tracemalloc.stop()
    # The gathered buffer becomes the body (compiled: ``_speedups._gather``; pure: through
    # ``io.BytesIO``); a copy would be a whole message more.
    bound = 0.1
    assert peak - before < bound * SIZE, f"decoding took {(peak - before) / SIZE:.2f}x the message more"


def test_Delivery_message_from_many_threads_at_once_is_one_message() -> None:
    with start("127.0.0.1", 0) as peer, amqp10.connect(peer.url, timeout=BOUND) as conn:
        receiver = conn.open_receiver("large", credit=1)
        sent = _full(_big())
        conn.open_sender("large").send(sent, timeout=BOUND)
        delivery = receiver.receive(timeout=BOUND)
        got: list[Any] = []
        threads = [threading.Thread(target=lambda: got.append((delivery.message, delivery.payload))) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(BOUND)
        assert len(got) == 4
        assert all(message is got[0][0] for message, _ in got)
        assert got[0][0] == sent
        assert all(payload == sent.encode() for _, payload in got)


@each_async_adapter
async def test_async_Delivery_gives_a_large_message_and_its_payload_exactly(adapter: AsyncAdapter) -> None:
    sent = _full(_big())
    with start("127.0.0.1", 0) as peer:
        async with adapter.connect(peer.url, timeout=BOUND) as conn:
            receiver = await conn.open_receiver("large", credit=2)
            sender = await conn.open_sender("large")
            await sender.send(sent, timeout=BOUND)
            await sender.send(Message(_big()), timeout=BOUND)
            first = await receiver.receive(timeout=BOUND)
            second = await receiver.receive(timeout=BOUND)
            assert first.message == sent
            assert first.payload == sent.encode()
            assert second.message.body == _big()
            assert type(second.message.body) is bytes


def _received(payload: bytes) -> Delivery:
    """The public ``Delivery`` of ``payload`` sent over an engine pair in 64 KiB frames."""
    pair = opened_pair(server=server_config(max_frame_size=1 << 16))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(payload)
    _, events = pair.pump()
    (event,) = of_type(events, DeliveryReceived)
    return Delivery(event.delivery, lambda fn: fn())


@pytest.mark.parametrize(
    "payload",
    [
        Message(_big(1 << 18)).encode()[:-5],  # the data section runs past the end
        Message(_big(1 << 18)).encode() + b"\x00\x53\x73\x45",  # properties after the body
        Message(_big(1 << 18)).encode() + b"\x00\x53\x70\x45",  # a header after the body
        _full(_big(1 << 18)).encode().replace(b"\x00\x53\x74", b"\x00\x53\x7f", 1),  # unknown section
        b"\x00\x53\x75\xa1\x03abc" + bytes(1 << 18),  # a string where binary belongs
    ],
)
def test_Delivery_message_of_a_malformed_large_payload_raises_the_decoders_error(payload: bytes) -> None:
    with pytest.raises(DecodeError) as expected:
        Message.decode(payload)
    delivery = _received(payload)
    with pytest.raises(DecodeError) as got:
        delivery.message
    assert str(got.value) == str(expected.value)
    assert delivery.payload == payload  # still all there


def test_Delivery_of_several_data_sections_decodes_as_a_list_of_Data() -> None:
    from amqp10.codec.message import Data

    message = Message([Data(_big(1 << 18)), Data(b"tail")], properties=Properties(to="q"))
    delivery = _received(message.encode())
    assert delivery.message == message
    assert delivery.payload == message.encode()
