"""Messages <-> TRANSFER frames (spec 2.6.12-2.6.14).

Owns: splitting an outgoing message into TRANSFER frames that fit the peer's max-frame-size,
one frame at a time (each frame spends one unit of the session window, so the session decides
when the next may go), and the size rule for reassembly. Must never: decode message bytes,
track credit or windows, or encode the same performative twice in the common case.

Cost notes (STYLE.md: the Azure stack encodes every transfer once just to measure it): the
first frame's TRANSFER is encoded straight into the outgoing buffer; only when the payload does
not fit is it rewritten once with ``more=true`` (that delivery is at least a frame long, so the
extra encode is noise). Continuation frames reuse one pre-encoded TRANSFER body.
"""

from __future__ import annotations

from typing import Any

from ..codec import encode_described_list
from ..codec.spec import Transfer
from ..framing.frame import FrameType, begin_frame, finish_frame

__all__ = ["OutgoingTransfer", "fits_message_size"]

_TRANSFER_CODE = Transfer._amqp_code_


class OutgoingTransfer:
    """The frames of one outgoing delivery, written one by one into the connection's buffer.

    Args:
        first: the TRANSFER performative of the first frame (``more`` unset).
        payload: the encoded message.
    """

    __slots__ = ("_first", "_payload", "_offset", "_started", "_continuation")

    def __init__(self, first: Transfer, payload: memoryview) -> None:
        self._first = first
        self._payload = payload
        self._offset = 0
        self._started = False
        self._continuation: tuple[bytes, bytes] | None = None

    @property
    def started(self) -> bool:
        """At least one frame has been written."""
        return self._started

    @property
    def remaining(self) -> int:
        """Payload bytes not yet written."""
        return len(self._payload) - self._offset

    def write_frame(self, out: bytearray, channel: int, max_frame_size: int) -> tuple[bool, Any]:
        """Append the next frame; return ``(done, performative_for_trace)``.

        ``done`` is true when this was the last frame of the delivery.
        """
        payload = self._payload
        if not self._started:
            self._started = True
            start = begin_frame(out, FrameType.AMQP, channel)
            encode_described_list(out, _TRANSFER_CODE, self._first._amqp_fields_())
            room = max_frame_size - (len(out) - start)
            if len(payload) <= room:
                out += payload
                finish_frame(out, start)
                self._offset = len(payload)
                return True, self._first
            # Does not fit: rewrite the header once with more=true (spec 2.6.14).
            del out[start:]
            first = _with_more(self._first)
            start = begin_frame(out, FrameType.AMQP, channel)
            encode_described_list(out, _TRANSFER_CODE, first._amqp_fields_())
            room = max_frame_size - (len(out) - start)
            if room <= 0:
                raise ValueError("max-frame-size too small for a TRANSFER header")
            out += payload[:room]
            finish_frame(out, start)
            self._offset = room
            return False, first
        more, last = self._continuation_bodies()
        body = more if self.remaining > max_frame_size - 8 - len(more) else last
        start = begin_frame(out, FrameType.AMQP, channel)
        out += body
        room = max_frame_size - (len(out) - start)
        end = min(len(payload), self._offset + room)
        out += payload[self._offset : end]
        finish_frame(out, start)
        self._offset = end
        done = end == len(payload)
        return done, (Transfer(handle=self._first.handle, delivery_id=self._first.delivery_id, more=not done))

    def write_abort(self, out: bytearray, channel: int) -> Transfer:
        """Append the TRANSFER that aborts this partly written delivery (spec 2.6.14)."""
        abort = Transfer(
            handle=self._first.handle, delivery_id=self._first.delivery_id, aborted=True
        )
        start = begin_frame(out, FrameType.AMQP, channel)
        encode_described_list(out, _TRANSFER_CODE, abort._amqp_fields_())
        finish_frame(out, start)
        self._offset = len(self._payload)
        return abort

    def _continuation_bodies(self) -> tuple[bytes, bytes]:
        if self._continuation is None:
            f = self._first
            more = bytearray()
            encode_described_list(
                more,
                _TRANSFER_CODE,
                Transfer(handle=f.handle, delivery_id=f.delivery_id, more=True)._amqp_fields_(),
            )
            last = bytearray()
            encode_described_list(
                last,
                _TRANSFER_CODE,
                Transfer(handle=f.handle, delivery_id=f.delivery_id)._amqp_fields_(),
            )
            self._continuation = (bytes(more), bytes(last))
        return self._continuation


def _with_more(t: Transfer) -> Transfer:
    return Transfer(
        handle=t.handle,
        delivery_id=t.delivery_id,
        delivery_tag=t.delivery_tag,
        message_format=t.message_format,
        settled=t.settled,
        more=True,
        rcv_settle_mode=t.rcv_settle_mode,
        state=t.state,
        resume=t.resume,
        aborted=t.aborted,
        batchable=t.batchable,
    )


def fits_message_size(current: int, chunk: int, max_message_size: int | None) -> bool:
    """True if ``chunk`` more bytes keep a message within ``max_message_size`` (spec 2.7.3:
    0 or absent means no limit). Checked before the chunk is buffered."""
    return not max_message_size or current + chunk <= max_message_size
