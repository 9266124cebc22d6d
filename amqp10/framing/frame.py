"""The frame layout (spec 2.3) and frame encoding.

A frame is ``SIZE(4) DOFF(1) TYPE(1) CHANNEL(2) [extended header] body``; ``DOFF`` counts
4-byte words from the start of the frame to the body and is at least 2. An AMQP frame with no
body is a heartbeat (spec 2.4.5).

Owns: ``Frame`` (a received, still-undecoded frame), ``encode_frame`` (append one frame to the
outgoing buffer, performative encoded once, in place) and the size constants. Must never:
decide what a performative means, or copy a payload more than once.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

from ..codec import encode_described_list
from ..codec.composite import Composite

__all__ = [
    "FrameType",
    "Frame",
    "FRAME_HEADER_SIZE",
    "MIN_MAX_FRAME_SIZE",
    "EMPTY_FRAME",
    "encode_frame",
    "begin_frame",
    "finish_frame",
]

#: size of the fixed frame header (spec 2.3.1)
FRAME_HEADER_SIZE = 8
#: spec 2.7.1 / constant MIN-MAX-FRAME-SIZE: no peer may limit frames below this
MIN_MAX_FRAME_SIZE = 512

_HEADER = struct.Struct(">IBBH")


class FrameType(enum.IntEnum):
    """The frame TYPE byte: 0 carries AMQP performatives, 1 SASL frames (spec 2.3.2, 5.3.1)."""

    AMQP = 0
    SASL = 1


#: an AMQP heartbeat: an 8-byte frame with no body, on channel 0 (spec 2.4.5)
EMPTY_FRAME = _HEADER.pack(FRAME_HEADER_SIZE, 2, FrameType.AMQP, 0)


@dataclass(frozen=True, slots=True)
class Frame:
    """A frame as read off the wire, body not yet decoded.

    Attributes:
        type: AMQP or SASL.
        channel: the channel number (ignored for SASL frames).
        body: the bytes after the (extended) header: the performative then any payload.
            Empty for a heartbeat. A read-only view of an immutable ``bytes`` object, so it
            stays valid after the reader moves on.
    """

    type: FrameType
    channel: int
    body: memoryview

    @property
    def is_heartbeat(self) -> bool:
        """True for an empty frame (spec 2.4.5), which only keeps the connection alive."""
        return len(self.body) == 0


def begin_frame(out: bytearray, frame_type: FrameType, channel: int, extended: bytes = b"") -> int:
    """Reserve a frame header (and extended header) at the end of ``out``; return its offset.

    ``extended`` is padded with zeros to a whole number of 4-byte words (spec 2.3.1: doff is a
    word count). Call ``finish_frame`` after appending the body.
    """
    start = len(out)
    if not extended:  # the usual frame: doff 2, the 8-byte header alone (spec 2.3.1)
        out += _HEADER.pack(0, 2, frame_type, channel)
        return start
    pad = (-len(extended)) % 4
    doff = 2 + (len(extended) + pad) // 4
    if doff > 255:
        raise ValueError("extended frame header longer than 1012 bytes")
    out += _HEADER.pack(0, doff, frame_type, channel)
    out += extended
    out += bytes(pad)
    return start


def finish_frame(out: bytearray, start: int) -> int:
    """Write the size of the frame that began at ``start`` and runs to the end of ``out``."""
    size = len(out) - start
    struct.pack_into(">I", out, start, size)
    return size


def encode_frame(
    out: bytearray,
    channel: int,
    performative: Composite | None,
    payload: bytes | bytearray | memoryview = b"",
    *,
    frame_type: FrameType = FrameType.AMQP,
    extended: bytes = b"",
) -> int:
    """Append one whole frame to ``out`` and return its size in bytes.

    The performative is encoded straight into ``out`` (never into a temporary first) and the
    size field is patched afterwards, so each performative is encoded exactly once.
    ``performative=None`` makes an empty frame (a heartbeat).
    """
    start = begin_frame(out, frame_type, channel, extended)
    if performative is not None:
        fields: list[Any] = performative._amqp_fields_()
        encode_described_list(out, performative._amqp_code_, fields)
    if payload:
        out += payload
    return finish_frame(out, start)
