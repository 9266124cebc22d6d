"""Streamed outgoing deliveries: a message whose bytes are given piece by piece (spec 2.6.14).

Owns: ``StreamedTransfer``, the frame writer of a delivery whose payload is not known whole when
it is queued. The application feeds bytes (``feed``) and says when they end (``finish``); the
sender's pump writes a TRANSFER with ``more=true`` whenever a whole frame's worth is buffered
and the session window and link credit allow, and the last one (``more`` unset) once the stream
is finished. Only what has not gone into a frame yet is held here, so a sender's memory is
bounded by what the adapter lets it buffer (``buffered``), not by the message size.
Must never: decode or encode message sections (the adapter frames the message), or wait.
"""

from __future__ import annotations

from typing import Any

from ..codec import encode_described_list
from ..codec.spec import Transfer
from ..framing.frame import FrameType, begin_frame, finish_frame

__all__ = ["StreamedTransfer"]

_TRANSFER_CODE = Transfer._amqp_code_
_MORE = 5  # index of ``more`` in the TRANSFER field list (spec 2.7.5)
_FRAME_HEADER = 8


class StreamedTransfer:
    """The frames of one streamed outgoing delivery.

    Created by ``Sender.open_stream``; ``start`` gives it the first frame's TRANSFER fields
    (wire values, as ``OutgoingTransfer`` takes them) when the delivery's turn comes.
    """

    __slots__ = ("_fields", "_buffer", "_finished", "_started", "_continuation", "_more", "_frames", "written")

    def __init__(self) -> None:
        self._fields: list[Any] = []
        self._buffer = bytearray()
        self._finished = False
        self._started = False
        self._continuation: bytes | None = None
        self._more = False
        self._frames = 0
        #: payload bytes written into frames so far
        self.written = 0

    # -- the application's side -------------------------------------------------------------
    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append payload bytes (they go out as frames fill)."""
        self._buffer += data

    def finish(self) -> None:
        """No more bytes: the last frame goes out with what is buffered."""
        self._finished = True

    @property
    def finished(self) -> bool:
        """``finish`` was called."""
        return self._finished

    @property
    def buffered(self) -> int:
        """Bytes fed and not yet written into a frame."""
        return len(self._buffer)

    # -- the pump's side ------------------------------------------------------------------------
    def ready(self, max_frame_size: int) -> bool:
        """A frame can be written now: a full one is buffered, or the stream is finished
        (frames are filled, so small feeds do not become small frames)."""
        return self._finished or len(self._buffer) >= max_frame_size

    def start(self, fields: list[Any]) -> None:
        """The delivery's turn came: ``fields`` is its first TRANSFER (``more`` unset)."""
        self._fields = fields

    @property
    def started(self) -> bool:
        """At least one frame has been written."""
        return self._started

    @property
    def remaining(self) -> int:
        """Payload bytes buffered and not yet written."""
        return len(self._buffer)

    def performative(self) -> Transfer:
        """The TRANSFER of the frame written last, for the frame tracer."""
        f = self._fields
        if self._frames > 1:
            return Transfer(handle=f[0], delivery_id=f[1], more=self._more or None)
        return Transfer(handle=f[0], delivery_id=f[1], delivery_tag=f[2], more=self._more or None)

    def write_frame(
        self, out: bytearray, channel: int, max_frame_size: int, parts: list[Any] | None = None
    ) -> bool:
        """Append the next frame; return true when it was the delivery's last (``parts`` is
        ``OutgoingTransfer.write_frame``'s; a stream's bytes are its own buffer's, copied)."""
        start = begin_frame(out, FrameType.AMQP, channel)
        if not self._started:
            self._started = True
            fields = list(self._fields)
            if len(fields) > _MORE:
                fields[_MORE] = True
            else:
                fields += [None] * (_MORE - len(fields)) + [True]
            encode_described_list(out, _TRANSFER_CODE, fields)
        else:
            out += self._continuation_body()
        room = max_frame_size - (len(out) - start)
        if room <= 0:
            raise ValueError("max-frame-size too small for a TRANSFER header")
        buffer = self._buffer
        last = self._finished and len(buffer) <= room
        if last:
            # The header was written with more=true; the last frame of a stream says
            # more=false by rewriting the frame's body without it (2.7.5: more defaults false).
            del out[start:]
            start = begin_frame(out, FrameType.AMQP, channel)
            if self.written == 0 and not self._more:
                encode_described_list(out, _TRANSFER_CODE, self._fields)
            else:
                encode_described_list(out, _TRANSFER_CODE, [self._fields[0], self._fields[1]])
        take = min(room, len(buffer))
        out += buffer[:take]
        finish_frame(out, start)
        self._frames += 1
        del buffer[:take]
        self.written += take
        self._more = not last
        return last

    def _continuation_body(self) -> bytes:
        if self._continuation is None:
            body = bytearray()
            encode_described_list(body, _TRANSFER_CODE, [self._fields[0], self._fields[1], None, None, None, True])
            self._continuation = bytes(body)
        return self._continuation
