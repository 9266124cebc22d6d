"""The blocking stream objects: ``OutgoingStream`` (from ``Sender.open_stream``) and
``IncomingStream`` (from ``Receiver.receive_stream``).

Owns: the blocking face of ``amqp10._streaming``. Must never: decide protocol meaning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from .. import _streaming
from .._outcomes import Outcome
from .._stream_views import IncomingStreamView, OutgoingStreamView

if TYPE_CHECKING:
    from ._client import _Sync

__all__ = ["OutgoingStream", "IncomingStream"]


class OutgoingStream(OutgoingStreamView):
    """A message being streamed out (``Sender.open_stream``): ``write`` its body, then
    ``close`` to finish it and get its outcome, or ``abort``. As a context manager it closes
    on a normal exit and aborts on an exception."""

    __slots__ = ("_sync",)

    def __init__(self, sync: "_Sync", state: _streaming.OutgoingState) -> None:
        super().__init__(state)
        self._sync = sync

    def __enter__(self) -> "OutgoingStream":
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._state.finished:
            self.close()

    def write(self, data: bytes | bytearray | memoryview, *, timeout: float | None = None) -> None:
        """Add body bytes; waits while the stream's buffer (1 MiB) or the connection's write
        buffer is full. Once the receiver has given its outcome early (``outcome``), the
        bytes are dropped.

        Raises:
            Timeout: no room in time (nothing was taken; write again or ``abort``).
            ValueError: more bytes than the ``length`` given to ``open_stream``.
            LocalProtocolError: the stream is closed or aborted.
            LinkDetachedError, SessionEndedError, ConnectionClosedError.
        """
        self._sync.drive(_streaming.write(self._sync.run, self._state, data, timeout))

    def close(self, *, timeout: float | None = None) -> "Outcome | None":
        """Finish the message and wait for its outcome (what ``Sender.send`` returns).

        Raises:
            ValueError: fewer bytes were written than the ``length`` given (the message is
                aborted). Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError.
        """
        return self._sync.drive(_streaming.finish(self._sync.run, self._state, timeout))

    def abort(self) -> None:
        """Abort the message (spec 2.6.14): the receiver discards it (``DeliveryAbortedError``
        on its side). Nothing if it is closed already."""
        self._sync.run(self._state.abort)


class IncomingStream(IncomingStreamView):
    """A message arriving as a stream (see ``IncomingStreamView``). Iterate over it for the
    body's bytes as they arrive (each wait bounded by the connection's default timeout),
    or ``read()`` them all."""

    __slots__ = ("_sync",)

    def __init__(self, sync: "_Sync", state: _streaming.IncomingState) -> None:
        super().__init__(state, sync.run)
        self._sync = sync

    def read_chunk(self, *, timeout: float | None = None) -> bytes | None:
        """The next piece of the body as it arrived (``None``: the body ended).

        Raises:
            DeliveryAbortedError: the sender aborted the message.
            DecodeError: the message's sections are malformed.
            Timeout: nothing arrived in time (wait again).
            LinkDetachedError, SessionEndedError, ConnectionClosedError.
        """
        return self._sync.drive(_streaming.next_chunk(self._sync.run, self._state, timeout))

    def __iter__(self) -> Iterator[bytes]:
        """The body's pieces until it ends (errors as ``read_chunk``)."""
        while True:
            chunk = self.read_chunk()
            if chunk is None:
                return
            yield chunk

    def read(self, *, timeout: float | None = None) -> bytes:
        """The rest of the body, whole (it is then held in memory: for small messages)."""
        return b"".join(iter(lambda: self.read_chunk(timeout=timeout), None))
