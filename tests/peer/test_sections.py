"""Reading ``to`` and rewriting a redelivered header without touching the body."""

from __future__ import annotations

import pytest

from amqp10.codec import DecodeError, Symbol, encode
from amqp10.codec.message import Message
from amqp10.codec.spec import Header, Properties
from amqp10.peer.sections import find_to, rewrite_for_redelivery


def test_find_to_reads_the_address_when_header_and_annotations_come_first() -> None:
    message = Message(
        "body",
        header=Header(durable=True),
        message_annotations={"x-a": 1},
        properties=Properties(to="queue/a"),
        application_properties={"k": "v"},
    )
    assert find_to(message.encode()) == "queue/a"


def test_find_to_is_None_when_there_is_no_properties_section() -> None:
    assert find_to(Message({"big": "body"}).encode()) is None
    assert find_to(Message("x", properties=Properties(subject="s")).encode()) is None


def test_find_to_reads_a_section_with_a_symbolic_descriptor() -> None:
    props = Properties(to="sym")._amqp_fields_()
    payload = b"\x00\xa3\x14amqp:properties:list" + encode(props) + b"\x00\x53\x77" + encode(1)
    assert find_to(payload) == "sym"


def test_find_to_raises_DecodeError_when_the_sections_are_garbage() -> None:
    with pytest.raises(DecodeError):
        find_to(b"\x00\x53\x73\xc0\xff")


def test_rewrite_for_redelivery_counts_the_failure_and_keeps_the_rest() -> None:
    original = Message(
        b"\x00" * 5000,
        header=Header(durable=True, priority=7, delivery_count=4),
        delivery_annotations={"x-d": 1},
        properties=Properties(message_id="m"),
        footer={"x-f": 2},
    )
    rewritten = Message.decode(
        rewrite_for_redelivery(original.encode(), delivery_failed=True, annotations={"x-new": "n"})
    )
    assert rewritten.header == Header(durable=True, priority=7, delivery_count=5)
    assert rewritten.message_annotations == {Symbol("x-new"): "n"}
    for name in ("delivery_annotations", "properties", "body", "footer"):
        assert getattr(rewritten, name) == getattr(original, name)


def test_rewrite_for_redelivery_adds_a_header_when_there_was_none() -> None:
    payload = Message("x").encode()
    rewritten = Message.decode(rewrite_for_redelivery(payload, delivery_failed=True, annotations=None))
    assert rewritten.header == Header(delivery_count=1)


def test_rewrite_for_redelivery_merges_annotations_replacing_existing_keys() -> None:
    payload = Message("x", message_annotations={"a": 1, "b": 2}).encode()
    rewritten = Message.decode(rewrite_for_redelivery(payload, delivery_failed=False, annotations={"b": 3}))
    assert rewritten.message_annotations == {"a": 1, "b": 3}
    assert rewritten.header is None


def test_rewrite_for_redelivery_returns_the_same_bytes_when_nothing_changes() -> None:
    payload = Message("x").encode()
    assert rewrite_for_redelivery(payload, delivery_failed=False, annotations=None) is payload
