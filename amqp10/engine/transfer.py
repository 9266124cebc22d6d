"""Messages <-> TRANSFER frames (spec 2.6.12-2.6.14).

Owns: splitting an outgoing message into TRANSFER frames that fit the peer's max-frame-size,
one frame at a time (each frame spends one unit of the session window, so the session decides
when the next may go), and the size rule for reassembly. Must never: decode message bytes,
track credit or windows, or encode the same performative twice in the common case.

Cost notes (STYLE.md: the Azure stack encodes every transfer once just to measure it): the
first frame's TRANSFER fields are built by the sender as a plain list of wire values (no
``Transfer`` object per delivery unless the frame tracer asks for one) and encoded straight
into the outgoing buffer; only when the payload does
not fit is it rewritten once with ``more=true`` (that delivery is at least a frame long, so the
extra encode is noise). Continuation frames reuse one pre-encoded TRANSFER body.

A large delivery's payload is not copied into the output buffer (issue 9): a frame's
payload slice of at least ``_BY_REFERENCE`` bytes is handed on as a view of the encoded
message, after the frame's header, in the connection's list of output parts, so the bytes
are copied once, when ``Connection.data_to_send`` joins them, instead of twice.
"""

from __future__ import annotations

import struct
from typing import Any

from ..codec import encode_described_list
from ..codec.spec import Transfer
from ..framing.frame import FrameType, begin_frame, finish_frame

__all__ = ["OutgoingTransfer", "fits_message_size"]

_TRANSFER_CODE = Transfer._amqp_code_


#: Index of ``more`` in the TRANSFER field list (spec 2.7.5: handle, delivery-id,
#: delivery-tag, message-format, settled, more, ...).
_MORE = 5

#: A payload slice at least this long goes out by reference (a view in the output parts)
#: rather than copied into the output buffer; smaller ones are cheaper to copy.
_BY_REFERENCE = 1 << 12

_SIZE = struct.Struct(">I")


def _put_payload(out: bytearray, start: int, chunk: memoryview, parts: list[Any] | None) -> None:
    """End the frame begun at ``start`` in ``out`` with ``chunk`` as its payload."""
    if parts is not None and len(chunk) >= _BY_REFERENCE:
        _SIZE.pack_into(out, start, len(out) - start + len(chunk))
        parts.append(bytes(out))
        out.clear()
        parts.append(chunk)
    else:
        out += chunk
        finish_frame(out, start)


class OutgoingTransfer:
    """The frames of one outgoing delivery, written one by one into the connection's buffer.

    Args:
        fields: the first frame's TRANSFER as wire values (``Transfer._amqp_fields_()``
            order, already of their wire types, ``more`` unset, trailing nulls trimmed). The
            sender builds this list directly, so the common single-frame delivery costs no
            ``Transfer`` object; one is made only for the frame tracer (``performative``).
        payload: the encoded message.
    """

    __slots__ = ("_fields", "_payload", "_offset", "_started", "_continuation", "_more")

    def __init__(self, fields: list[Any], payload: memoryview) -> None:
        self._fields = fields
        self._payload = payload
        self._offset = 0
        self._started = False
        self._continuation: tuple[bytes, bytes] | None = None
        self._more = False  # the frame written last had more=true

    @property
    def started(self) -> bool:
        """At least one frame has been written."""
        return self._started

    @property
    def remaining(self) -> int:
        """Payload bytes not yet written."""
        return len(self._payload) - self._offset

    def performative(self) -> Transfer:
        """The TRANSFER of the frame written last, for the frame tracer (built on demand)."""
        f = self._fields
        if self._continuation is not None:
            return Transfer(handle=f[0], delivery_id=f[1], more=self._more or None)
        names = ("handle", "delivery_id", "delivery_tag", "message_format", "settled", "more",
                 "rcv_settle_mode", "state", "resume", "aborted")
        first = dict(zip(names, f))
        first["more"] = self._more or None
        return Transfer(**first)

    def write_frame(
        self, out: bytearray, channel: int, max_frame_size: int, parts: list[Any] | None = None
    ) -> bool:
        """Append the next frame; return true when it was the delivery's last.

        With ``parts`` (the output that precedes ``out``, see the module docstring), a large
        payload slice is not copied: what ``out`` holds moves to ``parts``, then the slice.
        """
        payload = self._payload
        if not self._started:
            self._started = True
            start = begin_frame(out, FrameType.AMQP, channel)
            encode_described_list(out, _TRANSFER_CODE, self._fields)
            room = max_frame_size - (len(out) - start)
            if len(payload) <= room:
                if parts is None or len(payload) < _BY_REFERENCE:  # the common small message
                    out += payload
                    finish_frame(out, start)
                else:
                    _put_payload(out, start, payload, parts)
                self._offset = len(payload)
                return True
            # Does not fit: rewrite the header once with more=true (spec 2.6.14).
            del out[start:]
            fields = list(self._fields)
            if len(fields) > _MORE:  # a resumed delivery's fields (a resumed or transactional one) reach past ``more``
                fields[_MORE] = True
            else:
                fields += [None] * (_MORE - len(fields)) + [True]
            start = begin_frame(out, FrameType.AMQP, channel)
            encode_described_list(out, _TRANSFER_CODE, fields)
            room = max_frame_size - (len(out) - start)
            if room <= 0:
                raise ValueError("max-frame-size too small for a TRANSFER header")
            _put_payload(out, start, payload[:room], parts)
            self._offset = room
            self._more = True
            return False
        more, last = self._continuation_bodies()
        body = more if self.remaining > max_frame_size - 8 - len(more) else last
        start = begin_frame(out, FrameType.AMQP, channel)
        out += body
        room = max_frame_size - (len(out) - start)
        end = min(len(payload), self._offset + room)
        _put_payload(out, start, payload[self._offset : end], parts)
        self._offset = end
        done = end == len(payload)
        self._more = not done
        return done

    def write_abort(self, out: bytearray, channel: int) -> Transfer:
        """Append the TRANSFER that aborts this partly written delivery (spec 2.6.14)."""
        abort = Transfer(handle=self._fields[0], delivery_id=self._fields[1], aborted=True)
        start = begin_frame(out, FrameType.AMQP, channel)
        encode_described_list(out, _TRANSFER_CODE, abort._amqp_fields_())
        finish_frame(out, start)
        self._offset = len(self._payload)
        return abort

    def _continuation_bodies(self) -> tuple[bytes, bytes]:
        if self._continuation is None:
            handle, delivery_id = self._fields[0], self._fields[1]
            more = bytearray()
            encode_described_list(more, _TRANSFER_CODE, [handle, delivery_id, None, None, None, True])
            last = bytearray()
            encode_described_list(last, _TRANSFER_CODE, [handle, delivery_id])
            self._continuation = (bytes(more), bytes(last))
        return self._continuation


def fits_message_size(current: int, chunk: int, max_message_size: int | None) -> bool:
    """True if ``chunk`` more bytes keep a message within ``max_message_size`` (spec 2.7.3:
    0 or absent means no limit). Checked before the chunk is buffered."""
    return not max_message_size or current + chunk <= max_message_size
