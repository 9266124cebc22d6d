"""The blocking adapter's transport writes a large message's frames from where they are
(``Connection.data_to_send_parts`` and ``Transport.write_parts``, issue 9): every byte
arrives in order however little the socket takes at a time, and queuing large buffers
copies none of them. Socket pairs on this machine; every loop is bounded.
"""

from __future__ import annotations

import socket
import tracemalloc

from amqp10.blocking._transport import Transport

_ROUNDS = 100_000


def _pair() -> tuple[Transport, socket.socket]:
    a, b = socket.socketpair()
    for s in (a, b):  # small buffers: the socket takes a little at a time
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    b.setblocking(False)
    return Transport(a), b


def _drain(transport: Transport, reader: socket.socket, expected: int) -> bytes:
    got = bytearray()
    for _ in range(_ROUNDS):
        transport.flush()
        try:
            got += reader.recv(1 << 16)
        except BlockingIOError:
            pass
        if len(got) >= expected and not transport.wants_write:
            return bytes(got)
    raise AssertionError(f"only {len(got)} of {expected} bytes arrived")


def test_Transport_write_parts_sends_small_and_large_buffers_in_order_through_a_slow_socket() -> None:
    transport, reader = _pair()
    try:
        big = bytes(i % 251 for i in range(300_000))
        transport.write(b"written before")
        parts: list[bytes | memoryview] = [b"h1", memoryview(big), b"h2", memoryview(big)[1000:90_000], b"end"]
        transport.write_parts(parts)
        transport.write(b"written after" * 1000)
        expected = b"written before" + b"h1" + big + b"h2" + big[1000:90_000] + b"end" + b"written after" * 1000
        assert transport.buffered == len(expected)
        assert _drain(transport, reader, len(expected)) == expected
        assert transport.buffered == 0
    finally:
        transport.close()
        reader.close()


def test_Transport_write_parts_queues_large_buffers_without_copying_them() -> None:
    transport, reader = _pair()
    try:
        big = bytes(4 << 20)
        parts: list[bytes | memoryview] = []
        for i in range(0, len(big), 1 << 16):
            parts += [b"frame header", memoryview(big)[i : i + (1 << 16)]]
        tracemalloc.start()
        try:
            transport.write_parts(parts)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 1 << 17, f"queuing 4 MiB allocated {peak} bytes"
        assert _drain(transport, reader, len(big) + 64 * 12) == b"".join(parts)
    finally:
        transport.close()
        reader.close()
