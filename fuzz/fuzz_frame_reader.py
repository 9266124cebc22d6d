#!/usr/bin/env python3
"""Fuzz frame reading: ``amqp10.framing.FrameReader`` and the engine's ``receive_data``, both
roles, before and after the protocol header exchange.

Run: ``python fuzz/fuzz_frame_reader.py -max_total_time=3600 -timeout=10 SCRATCH_DIR
fuzz/corpus/frame_reader`` (libFuzzer adds new inputs to the first directory; see README.md).
It fuzzes whichever codec ``amqp10.codec`` picked (``AMQP10_PURE=1`` forces pure Python). The
input layout (a variant byte, fuzzer-chosen split points, then the peer's byte stream) is
described in ``frame_scenarios.py``; seeds come from ``make_frame_reader_seeds.py``.

Each input goes to:

1. A ``FrameReader`` (max-frame-size 512 or 65536), fed whole, in the fuzzer-chosen chunks and
   byte by byte. Invariant: headers and frames, or a ``FramingError``, nothing else; the same
   headers, frames and error however the bytes were split; after every successful read the
   reader holds less than one max-frame-size (it never buffers a frame it has not checked).
   Every frame body decodes to a performative or raises ``DecodeError``.
2. An engine ``Connection`` of the chosen role, with or without SASL, after replaying the
   chosen prelude (nothing, the peer's header, header and OPEN, or a whole session setup),
   fed the stream in the chunks, with a small application answering its events, a virtual
   clock ticking between chunks and past our idle-time-out at the end, then end-of-stream.
   Invariants: ``receive_data``, ``tick`` and ``data_to_send`` never raise; every violation
   is reported with an ``amqp:`` condition and answered at its level or above (the link
   detaching, the session ending, the connection closing); ``ConnectionClosed`` comes exactly
   once, by end-of-stream at the latest; and everything the engine sends is well-formed:
   protocol headers and whole frames whose bodies decode, none larger than the max-frame-size
   the peer announced, and output proportional to the input.

The structure-aware mutator in ``frame_mutator.py`` edits performative fields and whole frames
half of the time, so hostile *values* reach the state machines, not just undecodable bytes.
"""

from __future__ import annotations

import sys
from typing import Any

import atheris

with atheris.instrument_imports(include=["amqp10"]):
    from amqp10.codec.errors import DecodeError
    from amqp10.engine.events import ConnectionClosed, ConnectionOpened, Event, ProtocolViolationDetected
    from amqp10.engine.states import ConnectionState, LinkState, SessionState
    from amqp10.engine.violations import Level
    from amqp10.errors import FramingError
    from amqp10.framing import Frame, FrameReader, FrameType
    from amqp10.framing.frame import MIN_MAX_FRAME_SIZE
    from amqp10.framing.performatives import decode_body

    from frame_scenarios import IDLE_TIMEOUT, Variant, new_engine, parse_input, prelude_chunks

from frame_mutator import mutate

_SESSION_ENDING = (SessionState.END_SENT, SessionState.DISCARDING, SessionState.UNMAPPED)
_LINK_DETACHING = (LinkState.DETACH_SENT, LinkState.DETACHED)
BYTE_BY_BYTE_MAX = 2048  # longer streams are only fed whole and in chunks (speed)
# every state in which our CLOSE has gone out (spec 2.4.6 diagram)
_CLOSING = (
    ConnectionState.OC_PIPE,
    ConnectionState.CLOSE_PIPE,
    ConnectionState.CLOSE_SENT,
    ConnectionState.DISCARDING,
    ConnectionState.END,
)


# -- 1. the frame reader ---------------------------------------------------------------------
def read_all(chunks: list[bytes], max_frame_size: int, header: bool) -> tuple[list[Any], str | None]:
    """Feed ``chunks`` one by one, taking the header (if expected) and then every frame;
    return what came out and the error, if any."""
    reader = FrameReader(max_frame_size)
    out: list[Any] = []
    want_header = header
    for chunk in chunks:
        reader.feed(chunk)
        try:
            if want_header:
                got = reader.read_header()
                if got is None:
                    continue
                out.append(got)
                want_header = False
            # Until it returns nothing: the frames before a bad header come first, the
            # FramingError with the next call.
            while frames := reader.read_frames():
                out += [(f.type, f.channel, bytes(f.body)) for f in frames]
        except FramingError as exc:
            if exc.condition != "amqp:connection:framing-error":
                raise AssertionError(f"FramingError with condition {exc.condition!r}") from None
            return out, str(exc)
        # A complete frame is always taken, so what stays is less than one frame, and no frame
        # over the limit is ever waited for (spec 2.3.1, DESIGN.md rule 5).
        if reader.buffered >= max(reader.max_frame_size, 8):
            raise AssertionError(f"reader holds {reader.buffered} bytes, limit {reader.max_frame_size}")
    return out, None


def check_reader(variant: Variant, chunks: list[bytes]) -> None:
    stream = b"".join(chunks)
    limit = variant.max_frame_size
    header = stream.startswith(b"AMQP")
    whole = read_all([stream], limit, header)
    split = read_all(chunks, limit, header)
    if split != whole:
        raise AssertionError(f"split feed differs from whole feed: {split!r} != {whole!r}")
    if len(stream) <= BYTE_BY_BYTE_MAX:
        single = read_all([stream[i : i + 1] for i in range(len(stream))], limit, header)
        if single != whole:
            raise AssertionError(f"byte-by-byte feed differs from whole feed: {single!r} != {whole!r}")
    for item in whole[0]:
        if isinstance(item, tuple) and item[2]:
            try:
                body, payload = decode_body(Frame(item[0], item[1], memoryview(item[2])))
            except DecodeError:
                continue
            if len(payload) > len(item[2]):
                raise AssertionError("payload longer than the frame body")


# -- 2. the engine ---------------------------------------------------------------------------
class OutputChecker:
    """Parses everything the engine sends, independently of the framing code."""

    def __init__(self) -> None:
        self.buf = bytearray()
        self.total = 0
        self.peer_max_frame_size = MIN_MAX_FRAME_SIZE  # spec 2.4.1: until the peer's OPEN

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        self.buf += data
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 8:
            if buf[pos : pos + 4] == b"AMQP":
                if buf[pos + 4] not in (0, 2, 3) or buf[pos + 5 : pos + 8] != b"\x01\x00\x00":
                    raise AssertionError(f"engine sent a bad protocol header {bytes(buf[pos:pos + 8])!r}")
                pos += 8
                continue
            size = int.from_bytes(buf[pos : pos + 4], "big")
            doff, ftype = buf[pos + 4], buf[pos + 5]
            channel = int.from_bytes(buf[pos + 6 : pos + 8], "big")
            if size < 8 or doff < 2 or doff * 4 > size or ftype > 1:
                raise AssertionError(f"engine sent a bad frame header {bytes(buf[pos:pos + 8]).hex()}")
            if size > self.peer_max_frame_size:
                raise AssertionError(
                    f"engine sent a {size}-byte frame; the peer accepts {self.peer_max_frame_size}"
                )
            if len(buf) - pos < size:
                break
            body = memoryview(bytes(buf[pos + doff * 4 : pos + size]))
            if body:
                decode_body(Frame(FrameType(ftype), channel, body))  # DecodeError here is a bug
            pos += size
        del buf[:pos]
        if buf:
            raise AssertionError(f"engine sent a partial frame or header: {bytes(buf[:16]).hex()}")


def check_events(conn: Any, events: list[Event], closed: list[ConnectionClosed]) -> None:
    for event in events:
        if not isinstance(event, Event):
            raise AssertionError(f"receive_data returned a non-event {event!r}")
        if isinstance(event, ProtocolViolationDetected):
            if not event.condition.startswith("amqp:"):
                raise AssertionError(f"violation with condition {event.condition!r}")
            if event.level is Level.CONNECTION and conn.state not in _CLOSING:
                raise AssertionError(f"connection violation left the connection {conn.state}")
            # The engine answered it at its level or above (a link-level violation on a link
            # it cannot detach ends the session, and so on up).
            answered = (
                conn.state in _CLOSING
                or (event.session is not None and event.session.state in _SESSION_ENDING)
                or (event.link is not None and event.link.state in _LINK_DETACHING)
            )
            if not answered:
                raise AssertionError(f"violation {event!r} left everything open")
        elif isinstance(event, ConnectionClosed):
            closed.append(event)
            if len(closed) > 1:
                raise AssertionError("ConnectionClosed reported twice")
            # (Its error may be the peer's, with any condition: the peer may answer our CLOSE
            # with an error of its own, and that is what gets reported.)


def check_engine(variant: Variant, chunks: list[bytes]) -> None:
    conn, driver = new_engine(variant)
    out = OutputChecker()
    closed: list[ConnectionClosed] = []
    now = 0.0

    def step(data: bytes) -> list[Event]:
        nonlocal now
        events = conn.receive_data(data)
        check_events(conn, events, closed)
        for event in events:
            if isinstance(event, ConnectionOpened):
                mfs = event.open.max_frame_size
                out.peer_max_frame_size = max(MIN_MAX_FRAME_SIZE, (1 << 32) - 1 if mfs is None else int(mfs))
        driver.react(events)
        if variant.idle:
            now += 1.0
            conn.tick(now)
            check_events(conn, conn.take_events(), closed)
        out.feed(conn.data_to_send())
        return events

    out.feed(conn.data_to_send())
    for chunk in prelude_chunks(variant):
        events = step(chunk)
        if any(isinstance(e, ProtocolViolationDetected) for e in events):
            raise AssertionError(f"the recorded prelude is refused: {events!r}")
    prelude_out = out.total
    fed = 0
    for chunk in chunks:
        fed += len(chunk)
        step(chunk)
    if variant.idle:
        # A silence longer than our idle-time-out: heartbeats due, then the idle close.
        now += 2 * IDLE_TIMEOUT
        conn.tick(now)
        check_events(conn, conn.take_events(), closed)
        out.feed(conn.data_to_send())
    step(b"")  # end-of-stream
    if not conn.finished or len(closed) != 1:
        raise AssertionError(f"after end-of-stream: finished={conn.finished}, closed events={closed!r}")
    # Bounded output: a few frames per input frame (>= 8 bytes each) plus the driver's sends.
    if out.total - prelude_out > 64 * fed + (1 << 16):
        raise AssertionError(f"{fed} bytes in made {out.total - prelude_out} bytes out")


def test_one_input(data: bytes) -> None:
    variant, chunks = parse_input(data)
    check_reader(variant, chunks)
    check_engine(variant, chunks)


def main() -> None:
    atheris.Setup(sys.argv, test_one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
