"""Streaming large messages, written once for every adapter (sans-IO, like ``_calls``).

Owns: how a streamed message is framed (the sections before the body, then the body as
``data`` sections: one of a known ``length``, or one per chunk), the state of one outgoing
stream (``OutgoingState``) and of one incoming stream (``IncomingState``: the chunks that
arrived and were not read yet, each holding one frame of the session's incoming window until
it is read), the events that feed them, and the steps (``Wait`` generators) of the public
calls: ``open_stream``, ``write``, ``finish``, ``send_stream``, ``receive_stream`` and
``next_chunk``.

Memory: a sender holds at most ``STREAM_BUFFER`` bytes not yet framed plus the connection's
write buffer; a receiver at most one session incoming window of frames it has not read.
Must never: do I/O, block, sleep, read a clock, or import an adapter.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Iterable

from ._api import PENDING, ClientCore, LinkRecord, Pending
from ._calls import Budget, Steps, Wait, track
from ._delivery import Runner
from ._outcomes import Outcome
from ._section_reader import SectionReader
from .codec import DecodeError
from .codec.message import Message
from .codec.spec import Header, Properties
from .engine.delivery import Delivery as EngineDelivery
from .engine.events import DeliveryAborted, DeliveryPartReceived
from .engine.link import Receiver, Sender
from .errors import AMQPError, DeliveryAbortedError, LocalProtocolError

__all__ = [
    "STREAM_BUFFER",
    "OutgoingState",
    "IncomingState",
    "encode_head",
    "chunks_of",
    "open_stream",
    "write",
    "finish",
    "send_stream",
    "receive_stream",
    "next_chunk",
    "on_part",
    "on_aborted",
    "drop_streams",
    "settle_early",
]

#: Bytes a stream's writer may have handed over that are not in frames yet; ``write``
#: waits beyond it (together with the connection's ``write_buffer_limit``).
STREAM_BUFFER = 1 << 20

_MAX_DATA = (1 << 32) - 1  # a data section's size is a uint (vbin32)


def encode_head(
    *,
    header: Header | None = None,
    delivery_annotations: dict[Any, Any] | None = None,
    message_annotations: dict[Any, Any] | None = None,
    properties: Properties | None = None,
    application_properties: dict[str, Any] | None = None,
) -> bytes:
    """The sections before the body, encoded (spec 3.2)."""
    return Message(
        header=header,
        delivery_annotations=delivery_annotations,
        message_annotations=message_annotations,
        properties=properties,
        application_properties=application_properties,
    ).encode()


#: how much of a file ``chunks_of`` reads at a time
FILE_CHUNK = 1 << 16


def chunks_of(source: Any) -> Iterable[bytes | bytearray | memoryview]:
    """``source`` as an iterable of bytes: a binary file (anything with ``read``) is read in
    ``FILE_CHUNK`` pieces; anything else is taken as an iterable of bytes already."""
    read = getattr(source, "read", None)
    if read is None:
        chunks: Iterable[bytes | bytearray | memoryview] = source
        return chunks
    return iter(lambda: read(FILE_CHUNK), b"")


def _data_header(size: int) -> bytes:
    return b"\x00\x53\x75\xb0" + size.to_bytes(4, "big")


class OutgoingState:
    """One message being streamed out: its engine delivery and how its body is framed."""

    def __init__(self, record: LinkRecord, delivery: EngineDelivery, length: int | None) -> None:
        self.record = record
        self.delivery = delivery
        self.length = length
        self.written = 0  # body bytes given so far
        self.finished = False

    @property
    def given_up(self) -> bool:
        """The stream cannot go on: aborted here, or the receiver settled it early (its
        outcome is known: it took or refused the message before the end)."""
        d = self.delivery
        return d.aborted or d.remote_settled or d.remote_state is not None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Frame ``data`` as body bytes and hand it to the engine (exclusive access)."""
        if self.finished:
            raise LocalProtocolError("the stream is finished (closed or aborted)")
        if self.given_up:
            return  # the receiver has decided already: the rest is not wanted
        self.record.check()
        link = self.record.link
        assert isinstance(link, Sender)
        if not data:
            return
        if self.length is None:
            if len(data) > _MAX_DATA:
                raise ValueError("a chunk is at most 2**32-1 bytes (one data section)")
            link.stream_write(self.delivery, _data_header(len(data)))
        elif self.written + len(data) > self.length:
            raise ValueError(f"more body bytes than the length {self.length} given")
        link.stream_write(self.delivery, data)
        self.written += len(data)

    def end(self) -> None:
        """Send the rest and end the delivery (exclusive access)."""
        if self.finished:
            raise LocalProtocolError("the stream is finished (closed or aborted)")
        if self.length is not None and self.written != self.length and not self.given_up:
            self.abort()
            raise ValueError(f"{self.written} body bytes given, not the length {self.length}: the message was aborted")
        self.finished = True
        link = self.record.link
        assert isinstance(link, Sender)
        if self.given_up:
            if not self.delivery.aborted and not self.delivery.complete and self.delivery.id is not None:
                self.delivery.abort()  # the receiver settled early: stop sending the rest
            return
        if self.length is None and self.written == 0:
            link.stream_write(self.delivery, _data_header(0))  # a message has a body (3.2)
        link.stream_finish(self.delivery)

    def abort(self) -> None:
        """Abort the delivery (spec 2.6.14); nothing if it is over already (exclusive access)."""
        self.finished = True
        d = self.delivery
        if not d.aborted and not d.complete:
            try:
                d.abort()
            except AMQPError:
                pass
            self.record.in_flight.discard(d)

    # -- predicates ---------------------------------------------------------------------------
    def room(self) -> "None | Pending":
        """Predicate: the stream may take more bytes (its buffer and the connection's write
        buffer are below their limits), or it was given up (``feed`` then drops them)."""
        stream = self.delivery._stream
        core = self.record.core
        if self.given_up or stream is None or (stream.buffered < STREAM_BUFFER and not core.write_buffer_full()):
            return None
        self.record.check()
        core.room_wanted = True  # woken when the transport takes bytes (``ClientCore.wrote``)
        return PENDING


def open_stream(
    run: Runner, record: LinkRecord, head: bytes, length: int | None, timeout: float | Budget | None
) -> Steps[OutgoingState]:
    """Queue a streamed delivery and give it the sections before its body."""
    if length is not None and not 0 <= length <= _MAX_DATA:
        raise ValueError("length must be in [0, 2**32-1] (one data section)")
    if record.core.write_buffer_full():
        yield Wait(record.room_to_send, timeout, f"sending on the {record.describe()}")

    def start() -> OutgoingState:
        record.check()
        link = record.link
        assert isinstance(link, Sender)
        delivery = link.open_stream(settled=record.at_most_once)
        if not record.at_most_once:
            record.in_flight.add(delivery)
        state = OutgoingState(record, delivery, length)
        prefix = head if length is None else head + _data_header(length)
        if prefix:
            link.stream_write(delivery, prefix)
        return state

    state: OutgoingState = run(start)
    return state


def write(run: Runner, state: OutgoingState, data: bytes | bytearray | memoryview, timeout: float | Budget | None) -> Steps[None]:
    """Wait for room, then hand ``data`` over as body bytes."""
    if state.finished:
        raise LocalProtocolError("the stream is finished (closed or aborted)")
    yield Wait(state.room, timeout, f"streaming on the {state.record.describe()}")
    run(lambda: state.feed(data))


def finish(run: Runner, state: OutgoingState, timeout: float | Budget | None) -> Steps[Outcome | None]:
    """End the stream and wait for what ``send`` returns (the outcome; at-most-once:
    ``None`` once written)."""
    run(state.end)
    return (yield from track(state.record, state.delivery, timeout))


def send_stream(
    run: Runner,
    record: LinkRecord,
    chunks: Iterable[bytes | bytearray | memoryview],
    head: bytes,
    length: int | None,
    timeout: float | None,
) -> Steps[Outcome | None]:
    """Stream a whole message from ``chunks`` (each wait bounded by ``timeout``); on any
    failure, the delivery is aborted. Stops reading ``chunks`` once the receiver decided."""
    state = yield from open_stream(run, record, head, length, timeout)
    try:
        for chunk in chunks:
            yield from write(run, state, chunk, timeout)
            if state.given_up:
                break
        return (yield from finish(run, state, timeout))
    except BaseException:
        run(state.abort)
        raise


# -- receiving ---------------------------------------------------------------------------------
class IncomingState:
    """One streamed message arriving: the chunks not read yet, and how it ended."""

    def __init__(self, record: LinkRecord, delivery: EngineDelivery, limit: int) -> None:
        self.record = record
        self.delivery = delivery
        self.reader = SectionReader(limit)
        self.chunks: deque[tuple[bytes, bool]] = deque()  # (bytes, holds a window frame)
        self.ended = False
        self.aborted = False
        self.discarding = False  # settled before its end: later parts are dropped
        self.error: AMQPError | None = None
        self.message: Message | None = None  # the non-data parts, once known

    @property
    def head_known(self) -> bool:
        """The sections before the body are in (or the stream is over)."""
        return self.reader.head is not None or self.ended or self.aborted or self.error is not None

    def release(self, count: int) -> None:
        """Give ``count`` held frames back to the session window (exclusive access)."""
        link = self.record.link
        if count and isinstance(link, Receiver):
            link.release_parts(count)
            self.record.core.output_pending = True

    def discard(self) -> None:
        """Drop what is unread and whatever else arrives (settled early; exclusive access)."""
        self.discarding = True
        held = sum(1 for _, h in self.chunks if h)
        self.chunks.clear()
        self.release(held)

    def take(self) -> "bytes | None | Pending":
        """Predicate: the next chunk; ``None`` at the end; raises if aborted or malformed."""
        if self.chunks:
            data, held = self.chunks.popleft()
            if held:
                self.release(1)
            return data
        if self.error is not None:
            raise self.error
        if self.aborted:
            raise DeliveryAbortedError(f"the sender aborted the message on the {self.record.describe()}")
        if self.ended or self.discarding:
            return None
        self.record.check()
        return PENDING


def _limit(record: LinkRecord) -> int:
    return int(record.link.session.connection.config.limits.max_message_size)


def on_part(core: ClientCore, event: DeliveryPartReceived) -> None:
    """Fold one streamed TRANSFER into its stream (the core's handler)."""
    delivery = event.delivery
    record = core.links.get(delivery.link)
    if record is None:
        return
    state = record.streams_by_delivery.get(delivery)
    if state is None:
        state = IncomingState(record, delivery, _limit(record))
        record.streams_by_delivery[delivery] = state
        record.streams.append(state)
    pieces: list[bytes] = []
    if not state.discarding and state.error is None:
        try:
            pieces = state.reader.feed(event.chunk)
        except DecodeError as exc:
            state.error = exc
    if pieces:
        state.chunks.append((pieces[0] if len(pieces) == 1 else b"".join(pieces), event.held))
    elif event.held:
        state.release(1)  # nothing for the application in this frame (sections, or dropped)
    if not event.more:
        state.ended = True
        del record.streams_by_delivery[delivery]
        if state.error is None and not state.discarding:
            try:
                state.message = state.reader.finish()
            except DecodeError as exc:
                state.error = exc
    if core.watchers:
        core.wake(state)
        core.wake(record)


def on_aborted(core: ClientCore, event: DeliveryAborted) -> None:
    """The sender aborted a streamed delivery: unread chunks are dropped."""
    delivery = event.delivery
    record = core.links.get(delivery.link)
    if record is None:
        return
    state = record.streams_by_delivery.pop(delivery, None)
    if state is None:
        return
    state.aborted = True
    held = sum(1 for _, h in state.chunks if h)
    state.chunks.clear()
    state.release(held)
    if core.watchers:
        core.wake(state)
        core.wake(record)


def drop_streams(record: LinkRecord) -> None:
    """The link is gone: give back every frame its streams hold (exclusive access)."""
    for state in list(record.streams) + list(record.streams_by_delivery.values()):
        held = sum(1 for _, h in state.chunks if h)
        state.chunks.clear()
        if held:
            session = record.link.session
            session._held_transfers = max(0, session._held_transfers - held)


def _take_stream(record: LinkRecord) -> "IncomingState | Pending":
    streams = record.streams
    while streams:
        state = streams[0]
        if state.aborted and not state.chunks:
            streams.popleft()  # aborted before anyone saw it: there is nothing to read
            continue
        if not state.head_known:
            break
        streams.popleft()
        taken: IncomingState = state
        return taken
    record.check()
    record._top_up_streams()
    return PENDING


def receive_stream(run: Runner, record: LinkRecord, timeout: float | None) -> Steps[IncomingState]:
    """Wait for the next streamed message whose sections before the body are in."""
    if not record.streaming:
        raise LocalProtocolError("this receiver was not opened with streaming=True: use receive()")
    state: IncomingState = yield Wait(
        lambda: _take_stream(record), timeout, f"receiving on the {record.describe()}", default=False, watch=record
    )
    return state


def next_chunk(run: Runner, state: IncomingState, timeout: float | None) -> Steps[bytes | None]:
    """Wait for the next chunk of the stream's body (``None``: it ended)."""
    chunk: bytes | None = yield Wait(
        lambda: state.take(), timeout, f"reading a message on the {state.record.describe()}", watch=state
    )
    return chunk


def settle_early(state: IncomingState) -> None:
    """After an outcome given before the end: drop the rest (exclusive access)."""
    if not state.ended and not state.aborted:
        state.discard()

