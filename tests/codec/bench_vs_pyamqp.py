"""Quick timing of amqp10.codec against the Azure SDK's pure-Python ``_pyamqp`` codec.

Not a test (pytest does not collect it): run ``python tests/codec/bench_vs_pyamqp.py`` (with
``AMQP10_PURE=1`` to time the pure path). It prints each case's time and the ratio
azure/ours (above 1: we are faster). The values are the same on both sides; ``_pyamqp`` is
given them in its own typed-dict form, and decodes our bytes (it returns strings as bytes and
builds no composites, so it does less work than we do on decode).
"""

from __future__ import annotations

import timeit
from typing import Any, Callable

import amqp10.codec as c
from amqp10.codec import DEFAULT_LIMITS, Described, Symbol, Timestamp, UByte, UInt, ULong

from azure.servicebus._pyamqp import _decode as az_decode  # type: ignore[import-untyped]
from azure.servicebus._pyamqp import _encode as az_encode  # type: ignore[import-untyped]
from azure.servicebus._pyamqp.types import TYPE, VALUE  # type: ignore[import-untyped]
from azure.servicebus._pyamqp.types import AMQPTypes as T  # type: ignore[import-untyped]

BODY = "Hello from the benchmark, this is a smallish message body text."
OURS = [
    Described(ULong(0x70), [True, UByte(4), UInt(60000)]),
    Described(ULong(0x73), ["msg-12345", None, "queue/orders", "order", None, None,
                            Symbol("application/json"), None, None, Timestamp(1700000000000)]),
    Described(ULong(0x74), {"customer": "acme", "count": 5, "urgent": True, "ratio": 0.5}),
    Described(ULong(0x77), BODY),
]


def _az_described(code: int, value: Any) -> tuple[Any, Any]:
    return ({TYPE: T.ulong, VALUE: code}, value)


THEIRS = [
    _az_described(0x70, [True, {TYPE: T.ubyte, VALUE: 4}, {TYPE: T.uint, VALUE: 60000}]),
    _az_described(0x73, ["msg-12345", None, "queue/orders", "order", None, None,
                         {TYPE: T.symbol, VALUE: b"application/json"}, None, None,
                         {TYPE: T.timestamp, VALUE: 1700000000000}]),
    _az_described(0x74, {"customer": "acme", "count": {TYPE: T.long, VALUE: 5}, "urgent": True,
                         "ratio": 0.5}),
    _az_described(0x77, BODY),
]
TRANSFER = [UInt(1), UInt(42), b"tag-42", UInt(0), True, False]
TRANSFER_AZ = _az_described(0x14, [{TYPE: T.uint, VALUE: 1}, {TYPE: T.uint, VALUE: 42}, b"tag-42",
                                   {TYPE: T.uint, VALUE: 0}, True, False])


def enc_ours(values: list[Any]) -> bytearray:
    out = bytearray()
    for v in values:
        c.encode_value(out, v)
    return out


def enc_theirs(values: list[Any]) -> bytearray:
    out = bytearray()
    for v in values:
        az_encode.encode_unknown(out, v)
    return out


def dec_ours(data: bytes) -> list[Any]:
    buf, pos, result = memoryview(data), 0, []
    while pos < len(buf):
        value, pos = c.decode_value(buf, pos, DEFAULT_LIMITS)
        result.append(value)
    return result


def dec_theirs(data: bytes) -> list[Any]:
    buf, result = memoryview(data), []
    while buf:
        buf, value = az_decode._DECODE_BY_CONSTRUCTOR[buf[0]](buf[1:])
        result.append(value)
    return result


def bench(name: str, ours: Callable[[], Any], theirs: Callable[[], Any], n: int) -> None:
    # Interleaved batches, best of each: robust to other load on the machine.
    a = b = float("inf")
    for _ in range(25):
        a = min(a, timeit.timeit(ours, number=n) / n)
        b = min(b, timeit.timeit(theirs, number=n) / n)
    print(f"{name:26s} ours {a * 1e6:8.2f} us   azure {b * 1e6:8.2f} us   azure/ours {b / a:5.2f}x")


def main() -> None:
    print(f"amqp10.codec.IMPL = {c.IMPL!r}")
    message = bytes(enc_ours(OURS))
    bench("encode small message", lambda: enc_ours(OURS), lambda: enc_theirs(THEIRS), 2000)
    bench("decode small message", lambda: dec_ours(message), lambda: dec_theirs(message), 2000)
    for name, items in [("ints", [i * 1000 for i in range(1000)]),
                        ("strs", [f"item-{i}" for i in range(1000)])]:
        data = c.encode(items)
        bench(f"encode 1000 {name}", lambda: c.encode(items),
              lambda: az_encode.encode_unknown(bytearray(), items), 100)
        bench(f"decode 1000 {name}", lambda: c.decode(data),
              lambda: az_decode._DECODE_BY_CONSTRUCTOR[data[0]](memoryview(data)[1:]), 100)
    out = bytearray()
    c.encode_described_list(out, 0x14, TRANSFER)
    frame = bytes(out)
    bench("encode transfer", lambda: c.encode_described_list(bytearray(), 0x14, TRANSFER),
          lambda: az_encode.encode_unknown(bytearray(), TRANSFER_AZ), 5000)
    bench("decode transfer", lambda: c.decode_described_list(memoryview(frame), 0, DEFAULT_LIMITS),
          lambda: az_decode._DECODE_BY_CONSTRUCTOR[0](memoryview(frame)[1:]), 5000)


if __name__ == "__main__":
    main()
