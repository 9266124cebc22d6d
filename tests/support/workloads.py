"""The benchmark workloads of issue 3 point 8, as amqp10 values (``bench/codec_compare.py``
builds the same ones for every stack it compares).

- ``small_message()``: properties with ids and addresses, five application properties and a
  ~100-byte string body: a typical small message.
- ``mixed_values()``: a list of 1000 mixed values (longs, strings, doubles, booleans, nulls,
  binaries, uuids, small maps).
- ``binary_body()``: a message whose body is one 1 MiB data section.
"""

from __future__ import annotations

import uuid
from typing import Any

from amqp10.codec import Symbol, Timestamp
from amqp10.codec.message import Message, Properties

__all__ = ["small_message", "mixed_values", "binary_body", "BODY_SIZE"]

BODY_SIZE = 1 << 20


def small_message() -> Message:
    """Properties with ids and addresses, five application properties, a 100-char body."""
    return Message(
        body="The quick brown fox jumps over the lazy dog; " * 2 + "0123456789",
        properties=Properties(
            message_id="msg-000123",
            to="queue://orders",
            reply_to="queue://replies",
            correlation_id="corr-000042",
            subject="order.created",
            content_type=Symbol("text/plain"),
            creation_time=Timestamp(1_700_000_000_000),
        ),
        application_properties={
            "customer": "ACME",
            "priority": 5,
            "express": True,
            "amount": 129.95,
            "region": "eu-west",
        },
    )


def mixed_values() -> list[Any]:
    """1000 values cycling through eight types every stack can express."""
    values: list[Any] = []
    for i in range(1000):
        kind = i % 8
        values.append(
            [i, f"value-{i}", i * 0.5, i % 2 == 0, None, b"bytes-%d" % i, uuid.UUID(int=i), {"k": i}][
                kind
            ]
        )
    return values


def binary_body() -> Message:
    """One 1 MiB data section."""
    return Message(body=bytes(range(256)) * (BODY_SIZE // 256))
