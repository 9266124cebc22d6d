"""A large message is received with one copy into its final buffer: the frames' payloads are
collected as views of what was read and joined once, and the message decodes from that
buffer without copying its body again."""

from __future__ import annotations

import tracemalloc
from typing import Any, Callable

from amqp10.codec.message import Message
from amqp10.engine.events import DeliveryReceived

from support.engine_pairs import link_pair, of_type, opened_pair, server_config

MIB = 1 << 20
READ_SIZE = 1 << 16  # what a socket read hands the engine at a time
SLACK = 256 << 10


def _peak_allocated_during(fn: Callable[[], Any]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak


def _wire_of_one_large_message(size: int, max_frame_size: int) -> tuple[Any, bytes]:
    pair = opened_pair(server=server_config(max_frame_size=max_frame_size))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(Message(body=b"\x5a" * size).encode())
    return pair, pair.client.data_to_send()


def test_Receiver_holds_a_10MiB_message_in_at_most_twice_its_size_while_receiving_and_decoding() -> None:
    # Every copy of the message is made while its source is alive, so a peak near 1x is one
    # copy (views joined into the final buffer); two whole copies alive at once would be ~2x
    # and more copies beyond. Reads are handed over as a socket would, 64 KiB at a time.
    size = 10 * MIB
    pair, wire = _wire_of_one_large_message(size, max_frame_size=1 << 20)
    reads = [wire[i : i + READ_SIZE] for i in range(0, len(wire), READ_SIZE)]
    del wire

    def receive_and_decode() -> Message:
        events: list[Any] = []
        for data in reads:
            events += pair.server.receive_data(data)
        (got,) = of_type(events, DeliveryReceived)
        return Message.decode(got.delivery.payload)

    message, peak = _peak_allocated_during(receive_and_decode)
    assert len(message.body) == size
    # The payload and the decoded body (a bytes object, as Message promises) are the two;
    # the slack is for the frames, events and the message's other objects.
    assert peak <= 2 * size + SLACK, f"receiving a {size}-byte message allocated {peak} bytes at peak"


def test_Receiver_reassembles_a_message_from_many_small_frames_with_one_final_copy() -> None:
    # Frames of 512 bytes: many frames per read, each a view of that read's batch; the
    # session window makes the sender wait for FLOWs, so the two engines are pumped.
    size = 2 * MIB
    pair = opened_pair(server=server_config(max_frame_size=512))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(Message(body=b"\x5a" * size).encode())

    def receive() -> Any:
        events: list[Any] = []
        for _ in range(100_000):
            wire = pair.client.data_to_send()
            if not wire:
                break
            for i in range(0, len(wire), READ_SIZE):
                events += pair.server.receive_data(wire[i : i + READ_SIZE])
            pair.client.receive_data(pair.server.data_to_send())
        (got,) = of_type(events, DeliveryReceived)
        return got.delivery.payload

    payload, peak = _peak_allocated_during(receive)
    assert Message.decode(payload).body == b"\x5a" * size
    # The chunks (each small frame's payload is copied out of its batch, so that a partial
    # delivery never pins whole batches) plus the joined payload: two copies, with a per-
    # chunk overhead of ~7 % at 512-byte frames; a third copy would pass 3x.
    assert peak <= 2.5 * size, f"reassembling {size} bytes from 512-byte frames allocated {peak} bytes at peak"
