"""Passive frame decoding for ``amqp10 trace``: one direction of a byte stream, as text.

Owns: ``FrameLog``, which watches the bytes one peer sends (protocol headers, SASL frames, AMQP
frames) and turns each into a readable line, and the formatting of performatives and messages.
It is a *passive* reader: no engine, no state beyond where the stream is (header, SASL, AMQP)
and the payload of a transfer still being split across frames. Must never: change, hold back
or answer the bytes it sees, or raise on bad input (a stream it cannot follow is reported once
and then counted, not decoded).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from ..codec import DecodeError, decode_prefix
from ..codec.message import Message
from ..errors import FramingError
from ..framing import Frame, FrameReader, FrameType
from ..framing.headers import HEADER_SIZE, ProtocolId, parse_header

__all__ = ["FrameLog", "describe"]

# How much of a long value or message to show before eliding the rest.
_MAX_VALUE_CHARS = 120
_MAX_LINE_CHARS = 2000
# Transfers split over frames are reassembled for display up to this size only.
_MAX_REASSEMBLY = 1 << 20
# SASL frames are small (spec 5.3: at most 512 bytes until the AMQP open); allow some slack.
_MAX_SASL_FRAME = 1 << 16
# SASL fields that may carry a password: shown as a length, never as bytes.
_SECRET_FIELDS = {"initial_response", "response"}


class _Phase(enum.Enum):
    HEADER = "header"
    SASL = "sasl"
    AMQP = "amqp"
    OPAQUE = "opaque"  # TLS, or a stream we lost track of: bytes only counted


class FrameLog:
    """Decode what one side of a connection sends, frame by frame.

    Args:
        label: prefix of every line (for example ``"[1] client -> server"``).

    ``feed(data)`` returns the lines describing every header and frame completed by ``data``.
    """

    def __init__(self, label: str) -> None:
        self.label = label
        self._phase = _Phase.HEADER
        # Headers and SASL frames are split here by hand: a SASL frame may be followed by a
        # protocol header (the client pipelines it after sasl-init), which a frame reader
        # would take for a frame. From the AMQP header on, the FrameReader does the work.
        self._pending = bytearray()
        self._reader = FrameReader((1 << 32) - 1)
        self._opaque_bytes = 0
        self._partial: dict[tuple[int, int], bytearray] = {}

    @property
    def lost(self) -> bool:
        """The stream can no longer be followed (TLS, or bytes that are not AMQP)."""
        return self._phase is _Phase.OPAQUE

    def feed(self, data: bytes) -> list[str]:
        """Take the next bytes of the stream; return one line per header or frame completed."""
        if self.lost:
            self._opaque_bytes += len(data)
            return []
        lines: list[str] = []
        try:
            if self._phase is _Phase.AMQP:
                self._reader.feed(data)
            else:
                self._pending += data
                self._split_pending(lines)
            if self._phase is _Phase.AMQP:
                for frame in self._reader.read_frames():
                    lines.append(self._frame_line(frame))
        except FramingError as exc:
            lines.append(f"{self.label} cannot follow the stream any further: {exc}")
            self._phase = _Phase.OPAQUE
        return lines

    def _split_pending(self, lines: list[str]) -> None:
        """Take headers and SASL frames off ``_pending``; hand the rest to the reader once
        the AMQP header has been seen."""
        pending = self._pending
        while pending and self._phase in (_Phase.HEADER, _Phase.SASL):
            if pending[:4] == b"AMQP"[: len(pending[:4])]:
                if len(pending) < HEADER_SIZE:
                    return
                raw = bytes(pending[:HEADER_SIZE])
                del pending[:HEADER_SIZE]
                lines.append(self._header_line(raw))
                continue
            if self._phase is _Phase.HEADER:
                raise FramingError(f"not an AMQP protocol header: {bytes(pending[:HEADER_SIZE])!r}")
            if len(pending) < 4:
                return
            size = int.from_bytes(pending[:4], "big")
            if size > _MAX_SASL_FRAME:
                raise FramingError(f"a SASL frame of {size} bytes is not plausible")
            if len(pending) < size:
                return
            reader = FrameReader()
            reader.feed(bytes(pending[:size]))
            del pending[:size]
            for frame in reader.read_frames():
                lines.append(self._frame_line(frame))
        if self._phase is _Phase.AMQP:
            self._reader.feed(pending)
            pending.clear()
        elif self._phase is _Phase.OPAQUE:
            self._opaque_bytes += len(pending)
            pending.clear()

    def _header_line(self, raw: bytes) -> str:
        header = parse_header(raw)
        pid = header.protocol_id
        name = pid.name if isinstance(pid, ProtocolId) else f"unknown protocol id {pid}"
        if pid is ProtocolId.SASL:
            self._phase = _Phase.SASL
        elif pid is ProtocolId.AMQP:
            self._phase = _Phase.AMQP
        else:
            self._phase = _Phase.OPAQUE
        version = f"{header.major}.{header.minor}.{header.revision}"
        suffix = " (encrypted from here: not decoded)" if pid is ProtocolId.TLS else ""
        return f"{self.label} header {name} {version}{suffix}"

    def _frame_line(self, frame: Frame) -> str:
        if frame.is_heartbeat:
            return f"{self.label} ch {frame.channel} (empty frame: heartbeat)"
        try:
            performative, used = decode_prefix(frame.body)
        except DecodeError as exc:
            return f"{self.label} ch {frame.channel} undecodable frame body: {exc}"
        name = type(performative).__name__
        if frame.type is FrameType.SASL:
            return f"{self.label} sasl {describe(performative)}"
        text = f"{self.label} ch {frame.channel} {describe(performative)}"
        payload = frame.body[used:]
        if name == "Transfer" or len(payload):
            text += self._payload_text(frame.channel, performative, payload)
        return text[:_MAX_LINE_CHARS]

    def _payload_text(self, channel: int, transfer: Any, payload: memoryview) -> str:
        key = (channel, int(getattr(transfer, "handle", 0) or 0))
        more = bool(getattr(transfer, "more", False))
        if getattr(transfer, "aborted", False):
            self._partial.pop(key, None)
            return " (aborted)"
        buffered = self._partial.get(key)
        if more:
            if buffered is None:
                buffered = self._partial[key] = bytearray()
            if len(buffered) + len(payload) <= _MAX_REASSEMBLY:
                buffered += payload
            return f" +{len(payload)} bytes (more follow)"
        if buffered is not None:
            del self._partial[key]
            if len(buffered) + len(payload) > _MAX_REASSEMBLY:
                return f" last {len(payload)} bytes of a message too large to show"
            buffered += payload
            whole: bytes | memoryview = bytes(buffered)
        else:
            whole = payload
        try:
            message = Message.decode(whole)
        except DecodeError as exc:
            return f" {len(whole)} bytes (not a valid message: {exc})"
        return f" {len(whole)} bytes {_message_text(message)}"


def _message_text(message: Message) -> str:
    parts = []
    for name in (
        "header",
        "delivery_annotations",
        "message_annotations",
        "properties",
        "application_properties",
        "body",
        "footer",
    ):
        value = getattr(message, name)
        if value is not None:
            parts.append(f"{name}={_value(value)}")
    return "message(" + ", ".join(parts) + ")"


def describe(obj: Any) -> str:
    """A compact one-line form of a performative or any decoded composite: its type name in
    lower case and its fields that are set (``attach(name='x', handle=0, role=SENDER, ...)``)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = []
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if value is None:
                continue
            if f.name in _SECRET_FIELDS and isinstance(value, (bytes, bytearray, memoryview)):
                fields.append(f"{f.name}=<{len(value)} bytes hidden>")
            else:
                fields.append(f"{f.name}={_value(value)}")
        return f"{_snake(type(obj).__name__)}({', '.join(fields)})"
    return _value(obj)


def _snake(name: str) -> str:
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i:
            out.append("-")
        out.append(ch.lower())
    return "".join(out)


def _value(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return value.name
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return describe(value)
    if isinstance(value, memoryview):
        value = bytes(value)
    if isinstance(value, list):
        text = "[" + ", ".join(_value(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{_value(k)}: {_value(v)}" for k, v in value.items()) + "}"
    elif isinstance(value, str):
        text = repr(str(value))
    elif isinstance(value, (bytes, bytearray)):
        text = repr(bytes(value))
    elif isinstance(value, bool):
        text = str(value)
    elif isinstance(value, int):
        text = str(int(value))
    else:
        text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text
