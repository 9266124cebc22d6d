"""What the embedded peer reads and writes inside a message it routes: as little as possible.

Owns: finding a message's ``to`` (spec 3.2.4) for the anonymous relay, and rewriting the header
and message annotations of a message that comes back ``modified`` (spec 3.4.5). Both work on
the encoded bytes: the sections are located by ``codec.split_sections`` (which skips each body by
its declared size), only the one small section needed is decoded, and every other section,
the body above all, is copied through untouched. Must never: decode a body or application
properties, or keep state.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from ..codec import DecodeError, Limits, UInt, decode_prefix, encode, split_sections
from ..codec.spec import Header, Properties
from ..codec.types import Symbol

__all__ = ["find_to", "rewrite_for_redelivery"]

# 3.2: section descriptor codes, and their symbolic forms (1.5 allows either on the wire).
_HEADER = 0x70
_DELIVERY_ANNOTATIONS = 0x71
_MESSAGE_ANNOTATIONS = 0x72
_PROPERTIES = 0x73
_NAMES = {
    "amqp:header:list": _HEADER,
    "amqp:delivery-annotations:map": _DELIVERY_ANNOTATIONS,
    "amqp:message-annotations:map": _MESSAGE_ANNOTATIONS,
    "amqp:properties:list": _PROPERTIES,
}

# Generous bounds for the one small section decoded here; the body is never decoded.
_SECTION_LIMITS = Limits(max_depth=16, max_count=1 << 12, max_string_size=1 << 16)


def _code(descriptor: Any) -> int:
    if isinstance(descriptor, str):
        return _NAMES.get(descriptor, 0x7F)
    return int(descriptor)


def _spans(payload: bytes | memoryview) -> list[tuple[int, int, int]]:
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    return [(_code(d), start, end) for d, start, end in split_sections(view)]


def find_to(payload: bytes | memoryview) -> str | None:
    """The ``to`` of an encoded message, decoding only its properties section.

    Returns:
        The address, or ``None`` when the message has no properties section or no ``to``.

    Raises:
        DecodeError: the sections before the body are not well formed.
    """
    view = payload if isinstance(payload, memoryview) else memoryview(payload)
    for code, start, end in _spans(view):
        if code == _PROPERTIES:
            value, _ = decode_prefix(view[start:end], _SECTION_LIMITS)
            if not isinstance(value, Properties):
                raise DecodeError("the properties section does not hold a properties list")
            to = value.to
            return None if to is None else str(to)
        if code > _PROPERTIES:
            return None  # 3.2: properties come before application-properties and the body
    return None


def rewrite_for_redelivery(
    payload: bytes | memoryview,
    *,
    delivery_failed: bool,
    annotations: Mapping[Any, Any] | None,
) -> bytes | memoryview:
    """Apply a ``modified`` outcome (spec 3.4.5) to the message it concerns.

    Args:
        payload: the encoded message.
        delivery_failed: count the failed attempt: the header's delivery-count goes up by one
            (a header is added when there was none).
        annotations: merged into the message annotations, replacing keys already there.

    Returns:
        The new encoded message; ``payload`` itself when there is nothing to change. Only the
        header and message-annotations sections are rebuilt; the rest is copied as it was.

    Raises:
        DecodeError: the header or message annotations are not well formed.
    """
    if not delivery_failed and not annotations:
        return payload
    view = memoryview(payload)
    spans = _spans(view)
    header: Header | None = None
    kept_annotations: dict[Any, Any] | None = None
    delivery_annotations = b""
    rest_start = len(payload)
    for code, start, end in spans:
        if code == _HEADER:
            value, _ = decode_prefix(view[start:end], _SECTION_LIMITS)
            if not isinstance(value, Header):
                raise DecodeError("the header section does not hold a header list")
            header = value
        elif code == _DELIVERY_ANNOTATIONS:
            delivery_annotations = bytes(view[start:end])
        elif code == _MESSAGE_ANNOTATIONS:
            value, _ = decode_prefix(view[start:end], _SECTION_LIMITS)
            inner = getattr(value, "value", None)
            if not isinstance(inner, dict):
                raise DecodeError("the message-annotations section does not hold a map")
            kept_annotations = inner
        else:
            rest_start = start
            break
    out = bytearray()
    if delivery_failed:
        count = 0 if header is None or header.delivery_count is None else int(header.delivery_count)
        header = (
            Header(delivery_count=UInt(count + 1))
            if header is None
            else dataclasses.replace(header, delivery_count=UInt(count + 1))
        )
    if header is not None:
        out += b"\x00\x53\x70"
        out += encode(header._amqp_fields_())
    out += delivery_annotations
    if annotations:
        merged = dict(kept_annotations or {})
        for key, value in annotations.items():
            merged[Symbol(key) if type(key) is str else key] = value
        kept_annotations = merged
    if kept_annotations is not None:
        out += b"\x00\x53\x72"
        out += encode(kept_annotations)
    out += view[rest_start:]
    return bytes(out)
