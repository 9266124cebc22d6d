"""One delivery (spec 2.6.12): tag, id, states both ends, settlement, and its bytes.

Owns: ``Delivery``, the object a sender's ``send`` returns and a receiver's
``DeliveryReceived`` carries, with ``update``/``settle`` and the outcome helpers
(``accept``, ``reject``, ``release``, ``modify``). Must never: decode the payload (it is an
opaque encoded message) or write frames itself (the session batches dispositions).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..codec.spec import Accepted, Error, Modified, ReceiverSettleMode, Rejected, Released
from ..errors import LocalProtocolError
from ..framing.gather import Gather

if TYPE_CHECKING:
    from .link import Link
    from .streaming import StreamedTransfer

__all__ = ["Delivery"]


class Delivery:
    """A message in flight on a link, seen from one end.

    Attributes:
        link: the link it travels on.
        tag: the delivery-tag (at most 32 bytes, spec 2.8.7).
        id: the delivery-id, assigned when its first transfer goes out (sender) or came in
            (receiver); ``None`` while a sent delivery waits for credit.
        message_format: the message-format of the transfer (0 for a standard AMQP message).
        payload: the encoded message. Complete for a received delivery once
            ``DeliveryReceived`` is reported: ``bytes`` when it came in one frame, a
            read-only ``memoryview`` of the one buffer its frames were gathered into when it
            came in several (no copy is made to turn it into ``bytes``; see
            ``framing/gather.py``).
        local_state / remote_state: the last delivery state set here / reported by the peer
            (``Accepted``, ``Rejected``, ``Received``, ... passed through as decoded).
        settled / remote_settled: this end / the peer has settled it.
        aborted: the transfer was aborted (spec 2.6.14).
        resumed: it travels on a resumed link as a resumed delivery (spec 2.6.13): sent
            with ``resume=true``, or received so (a receiver may have seen it before).
    """

    __slots__ = (
        "link",
        "tag",
        "id",
        "message_format",
        "payload",
        "local_state",
        "remote_state",
        "settled",
        "remote_settled",
        "aborted",
        "complete",
        "resumed",
        "_ignored",
        "_chunks",
        "_assembly",
        "_size",
        "_sent",
        "_stream",
    )

    def __init__(
        self,
        link: "Link",
        tag: bytes,
        *,
        payload: bytes | memoryview = b"",
        message_format: int = 0,
        settled: bool = False,
        delivery_id: int | None = None,
    ) -> None:
        self.link = link
        self.tag = tag
        self.id = delivery_id
        self.message_format = message_format
        self.payload: bytes | memoryview = payload
        self.local_state: Any = None
        self.remote_state: Any = None
        self.settled = settled
        self.remote_settled = False
        self.aborted = False
        self.complete = False
        self.resumed = False
        # A resumed delivery to drop (spec 2.6.13): at a receiver, one it does not hold
        # (ignored, 2.7.5 resume); at a sender, one to abort as it is resumed.
        self._ignored = False
        self._chunks: list[bytes | memoryview] = []
        # A multi-frame delivery's bytes, gathered in one buffer as its frames arrive (see
        # ``_append``); ``None`` until a second chunk comes.
        self._assembly: Gather | None = None
        self._size = len(payload)
        self._sent = 0  # bytes of a sent delivery already written into transfer frames
        self._stream: StreamedTransfer | None = None  # a delivery from Sender.open_stream

    def __repr__(self) -> str:
        return (
            f"<Delivery id={self.id} tag={self.tag!r} settled={self.settled} "
            f"remote_settled={self.remote_settled} remote_state={self.remote_state!r}>"
        )

    @property
    def size(self) -> int:
        """Bytes of payload received so far (or the whole payload of a sent delivery)."""
        return self._size

    # -- commands ------------------------------------------------------------------------
    def update(self, state: Any = None, *, settle: bool = False) -> None:
        """Set the local delivery state and/or settle, sending a DISPOSITION (spec 2.7.6).

        Args:
            state: a delivery state (``Accepted()``, ``Rejected(error=...)``, ``Received(...)``,
                ``Modified(...)``, ``Released()``, a transactional state), or ``None`` to keep
                the current one.
            settle: settle the delivery here; afterwards it is forgotten by this end.

        Raises:
            LocalProtocolError: it is already settled here, or was never sent.
        """
        if self.settled:
            raise LocalProtocolError("the delivery is already settled")
        if self.id is None:
            raise LocalProtocolError("the delivery has not been sent yet (no delivery-id)")
        if state is not None:
            self.local_state = state
        self.settled = settle
        self.link._delivery_updated(self, state, settle)

    def settle(self) -> None:
        """Settle with the current local state (spec 2.6.12)."""
        self.update(None, settle=True)

    def _default_settle(self) -> bool:
        # Spec 2.6.12: in rcv-settle-mode "second" the receiver settles only after the sender;
        # otherwise settling together with the outcome spares a round trip.
        return self.link.rcv_settle_mode is not ReceiverSettleMode.SECOND

    def accept(self, *, settle: bool | None = None) -> None:
        """Report ``Accepted`` (spec 3.4.2); settles unless rcv-settle-mode is second."""
        self.update(Accepted(), settle=self._default_settle() if settle is None else settle)

    def reject(
        self,
        condition: str | None = None,
        description: str | None = None,
        *,
        info: Mapping[Any, Any] | None = None,
        settle: bool | None = None,
    ) -> None:
        """Report ``Rejected`` (spec 3.4.3), with an error when ``condition`` is given."""
        error = Error(condition=condition, description=description, info=info) if condition is not None else None
        self.update(Rejected(error=error), settle=self._default_settle() if settle is None else settle)

    def release(self, *, settle: bool | None = None) -> None:
        """Report ``Released`` (spec 3.4.4): not processed, may be redelivered."""
        self.update(Released(), settle=self._default_settle() if settle is None else settle)

    def modify(
        self,
        *,
        delivery_failed: bool | None = None,
        undeliverable_here: bool | None = None,
        message_annotations: Mapping[Any, Any] | None = None,
        settle: bool | None = None,
    ) -> None:
        """Report ``Modified`` (spec 3.4.5)."""
        state = Modified(
            delivery_failed=delivery_failed,
            undeliverable_here=undeliverable_here,
            message_annotations=message_annotations,
        )
        self.update(state, settle=self._default_settle() if settle is None else settle)

    def abort(self) -> None:
        """Abort a delivery this end is sending (spec 2.6.14).

        If none of it was sent yet it is simply dropped (no credit used); if part was sent a
        TRANSFER with ``aborted=true`` ends it.

        Raises:
            LocalProtocolError: it is not an outgoing delivery still being sent.
        """
        self.link._abort(self)

    # -- receive-side assembly (used by the receiver) --------------------------------------
    def _append(self, chunk: memoryview) -> None:
        if chunk:
            assembly = self._assembly
            if assembly is not None:
                # Issue 9: a large delivery is copied once, frame by frame, into the buffer
                # that becomes its payload; the frames' batches are freed as it goes, so it
                # never holds its bytes twice (no list of parts, then a join).
                assembly.append(chunk)
            elif self._chunks:
                # A second frame: from now on gather into one buffer. It grows as frames
                # arrive, each already checked against max-message-size, so a size the peer
                # claims never decides what is allocated.
                assembly = self._assembly = Gather()
                assembly.append(self._chunks[0])
                assembly.append(chunk)
                self._chunks = []
            else:
                # A chunk is a view of the frame reader's batch of frames, and keeping the
                # view keeps the whole batch. Copy one that is under half its batch: what a
                # partial delivery holds then stays within twice ``size``, which
                # max-message-size bounds.
                owner = chunk.obj
                if type(owner) is bytes and len(owner) > 2 * len(chunk):
                    self._chunks.append(bytes(chunk))
                else:
                    self._chunks.append(chunk)
            self._size += len(chunk)

    def _finish(self) -> None:
        assembly = self._assembly
        if assembly is not None:
            # The gathered buffer is the payload, read-only, with no copy (a join or
            # ``bytes()`` would hold the message twice at its peak).
            self.payload = assembly.finish()
            self._assembly = None
        else:
            chunks = self._chunks
            self.payload = bytes(chunks[0]) if chunks else b""
            self._chunks = []
        self.complete = True

    def _finish_whole(self, chunk: memoryview) -> None:
        """``_append`` then ``_finish`` for a delivery that arrives whole in one frame."""
        self.payload = bytes(chunk)
        self._size = len(chunk)
        self.complete = True

    def _discard(self) -> None:
        """Drop what an unfinished incoming delivery gathered (aborted, refused, link gone)."""
        self._chunks = []
        self._assembly = None
