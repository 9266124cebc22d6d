"""What ``fuzz_frame_reader.py`` feeds and to whom: the input layout, the engine variants, a
deterministic application driving the engine, and the recorded preludes.

Shared by the harness and by ``make_frame_reader_seeds.py`` (which writes seeds in exactly this
input layout), so the two can never disagree. Not a harness itself (``.ci/run`` only runs
``fuzz_*.py``).

Input layout (one fuzzer input)::

    byte 0      variant: bit 0 role (0 client, 1 server); bits 1-2 prelude (0 none, 1 the
                peer's protocol header, 2 header + OPEN, 3 everything until sessions and links
                are up and credit granted); bits 3-4 SASL (0 none, 1 ANONYMOUS, 2 PLAIN,
                3 SCRAM-SHA-256; only with prelude 0); bit 5 small frames (max-frame-size 512
                instead of 65536); bit 6 idle-time-out (tick a virtual clock between chunks)
    byte 1      n = byte % 16: how many split points follow
    n bytes     chunk sizes (byte + 1) of the first n chunks; the rest of the stream is one chunk
    the rest    the byte stream "from the peer"

The engine under test always answers like a small, permissive application (``Driver``): it
begins sessions and attaches links the peer began, grants credit, accepts what it receives and
sends a few messages when given credit. That takes the fuzzer past the handshake into sessions,
links, transfers and settlement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from amqp10.codec.message import Message
from amqp10.codec.spec import Source, Target
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.engine.events import (
    CreditChanged,
    DeliveryReceived,
    Event,
    LinkAttached,
    LinkRemotelyAttached,
    SessionRemotelyBegun,
)
from amqp10.engine.link import Receiver, Sender
from amqp10.engine.sasl import SaslClient, SaslServer
from amqp10.errors import LocalProtocolError

__all__ = [
    "Variant",
    "Driver",
    "parse_input",
    "make_input",
    "new_engine",
    "prelude_chunks",
    "record_exchange",
    "Exchange",
]

SMALL_FRAMES = 512
LARGE_FRAMES = 1 << 16
IDLE_TIMEOUT = 5.0
CREDIT = 10
MAX_SENDS = 3  # per connection: bounds what the driver adds to the output
USERS = {"user": "secret"}


@dataclass(frozen=True)
class Variant:
    """Which engine, in which state, the stream goes to."""

    server: bool
    prelude: int
    sasl: int
    small_frames: bool
    idle: bool

    @classmethod
    def from_byte(cls, b: int) -> Variant:
        prelude = (b >> 1) & 3
        return cls(
            server=bool(b & 1),
            prelude=prelude,
            sasl=0 if prelude else (b >> 3) & 3,
            small_frames=bool(b & 0x20),
            idle=bool(b & 0x40),
        )

    def to_byte(self) -> int:
        return (
            int(self.server)
            | self.prelude << 1
            | self.sasl << 3
            | int(self.small_frames) << 5
            | int(self.idle) << 6
        )

    @property
    def max_frame_size(self) -> int:
        return SMALL_FRAMES if self.small_frames else LARGE_FRAMES

    def peer(self) -> Variant:
        """The same settings in the opposite role (the peer of a recorded exchange)."""
        return Variant(not self.server, self.prelude, self.sasl, self.small_frames, self.idle)


def parse_input(data: bytes) -> tuple[Variant, list[bytes]]:
    """Split one fuzzer input into its variant and the stream's chunks (never empty chunks)."""
    variant = Variant.from_byte(data[0] if data else 0)
    count = data[1] % 16 if len(data) > 1 else 0
    sizes = data[2 : 2 + count]
    stream = data[2 + count :]
    chunks = []
    pos = 0
    for size in sizes:
        if pos >= len(stream):
            break
        chunks.append(stream[pos : pos + size + 1])
        pos += size + 1
    if pos < len(stream):
        chunks.append(stream[pos:])
    return variant, chunks


def make_input(variant: Variant, stream: bytes, sizes: list[int] | tuple[int, ...] = ()) -> bytes:
    """The fuzzer input ``parse_input`` reads back as ``variant`` and ``stream`` (seeds)."""
    sizes = [max(1, min(256, s)) - 1 for s in sizes][:15]
    return bytes([variant.to_byte(), len(sizes), *sizes]) + stream


def _fixed_nonce() -> str:
    return "fuzzfuzzfuzzfuzzfuzzfuzz"  # deterministic runs: the engine has no randomness of its own


def _sasl_factory(variant: Variant) -> Callable[[], Any] | None:
    if variant.sasl == 0:
        return None
    mechanism = {1: "ANONYMOUS", 2: "PLAIN", 3: "SCRAM-SHA-256"}[variant.sasl]
    if variant.server:
        auth = SimpleAuthenticator(USERS, iterations=4096, salt=lambda: b"0123456789abcdef")
        return lambda: SaslServer(
            auth,
            mechanisms=[mechanism],
            allow_anonymous=True,
            allow_insecure_plain=True,
            nonce=_fixed_nonce,
        )
    if variant.sasl == 1:
        return lambda: SaslClient(mechanisms=[mechanism], nonce=_fixed_nonce)
    return lambda: SaslClient(
        username="user",
        password="secret",
        mechanisms=[mechanism],
        allow_insecure_plain=True,
        nonce=_fixed_nonce,
    )


def _payload(n: int, size: int) -> bytes:
    body = bytes((n + i) % 251 for i in range(size))
    return Message(body=body, application_properties={"n": n}).encode()


class Driver:
    """A small, deterministic application on one engine: answers every begin and attach,
    grants credit, accepts deliveries, and sends up to ``MAX_SENDS`` messages (one of them
    larger than a small frame) as credit arrives. Its commands may be refused with
    ``LocalProtocolError`` when the peer has already moved the endpoint on; that is the
    application's misuse, never the peer's, and is ignored."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sent = 0

    def start(self) -> None:
        """Open; a client also pipelines a session with one link each way (spec 2.4.1)."""
        conn = self.conn
        conn.open()
        if conn.config.role is ConnectionRole.CLIENT:
            session = conn.begin_session()
            session.attach_sender("to-peer", target=Target(address="q"))
            receiver = session.attach_receiver("from-peer", source=Source(address="q"))
            receiver.flow(CREDIT)

    def react(self, events: list[Event]) -> None:
        """Answer what the engine reported, like a permissive application."""
        for event in events:
            try:
                self._react(event)
            except LocalProtocolError:
                pass

    def _react(self, event: Event) -> None:
        if isinstance(event, SessionRemotelyBegun):
            event.session.begin()
        elif isinstance(event, LinkRemotelyAttached):
            event.link.attach()
            if isinstance(event.link, Receiver):
                event.link.flow(CREDIT)
        elif isinstance(event, LinkAttached) and isinstance(event.link, Receiver):
            event.link.flow(CREDIT)
        elif isinstance(event, CreditChanged) and isinstance(event.link, Sender):
            if event.link_credit > 0 and self.sent < MAX_SENDS:
                self.sent += 1
                event.link.send(_payload(self.sent, 700 if self.sent == 2 else 40))
        elif isinstance(event, DeliveryReceived):
            if not event.delivery.settled:
                event.delivery.accept()


def new_engine(variant: Variant) -> tuple[Connection, Driver]:
    """A fresh engine for ``variant``, started by its driver (nothing fed yet)."""
    config = Config(
        role=ConnectionRole.SERVER if variant.server else ConnectionRole.CLIENT,
        container_id="server-under-test" if variant.server else "client-under-test",
        max_frame_size=variant.max_frame_size,
        idle_timeout=IDLE_TIMEOUT if variant.idle else None,
        sasl=_sasl_factory(variant),
        incoming_window=64,
        handle_max=15,
        channel_max=7,
    )
    conn = Connection(config)
    driver = Driver(conn)
    driver.start()
    return conn, driver


@dataclass
class Exchange:
    """One recorded run of an engine against its peer: what each side sent, chunk by chunk,
    during setup and during the later stages."""

    peer_setup: list[bytes]
    peer_after: list[bytes]
    ours_setup: list[bytes]
    ours_after: list[bytes]


def record_exchange(
    variant: Variant, stages: Sequence[Callable[[Connection], None]] = (), rounds: int = 50
) -> Exchange:
    """Run the engine for ``variant`` against its peer (same settings, other role, same
    driver) until both are quiet; then apply each of ``stages`` to the peer in turn, running
    until quiet after each. Chunks are kept in the order and size they went over the wire.
    """
    ours, our_driver = new_engine(variant)
    peer, peer_driver = new_engine(variant.peer())
    log = Exchange([], [], [], [])

    def pump(from_peer: list[bytes], from_ours: list[bytes]) -> None:
        for _ in range(rounds):
            a = ours.data_to_send()
            b = peer.data_to_send()
            if not a and not b:
                return
            if a:
                from_ours.append(a)
                peer_driver.react(peer.receive_data(a))
            if b:
                from_peer.append(b)
                our_driver.react(ours.receive_data(b))
        raise RuntimeError("the recorded exchange never went quiet")

    pump(log.peer_setup, log.ours_setup)
    for stage in stages:
        stage(peer)
        pump(log.peer_after, log.ours_after)
    return log


def _first_frame_end(data: bytes) -> int:
    """Where the first frame after the 8-byte protocol header ends."""
    size = int.from_bytes(data[8:12], "big")
    return 8 + size


_PRELUDES: dict[tuple[bool, int, bool, bool], list[bytes]] = {}


def prelude_chunks(variant: Variant) -> list[bytes]:
    """What the peer had sent, in its original chunking, by the time the stream starts.

    Prelude 1: its protocol header; 2: header and OPEN; 3: everything until both sides are
    quiet after setting up a session with a link each way and credit. Replaying them in the
    recorded chunking, with the same driver, puts the engine in exactly the recorded state.
    Recorded without SASL (after the header exchange there is none).
    """
    if variant.prelude == 0:
        return []
    key = (variant.server, variant.prelude, variant.small_frames, variant.idle)
    if key not in _PRELUDES:
        plain = Variant(variant.server, 3, 0, variant.small_frames, variant.idle)
        from_peer = record_exchange(plain).peer_setup
        first = from_peer[0]
        if variant.prelude == 1:
            chunks = [first[:8]]
        elif variant.prelude == 2:
            chunks = [first[: _first_frame_end(first)]]
        else:
            chunks = from_peer
        _PRELUDES[key] = chunks
    return _PRELUDES[key]


def describe(data: bytes) -> str:
    """A fuzzer input in words: the variant, the prelude, the chunks and the frames in them
    (for turning a crash file into a regression test)."""
    variant, chunks = parse_input(data)
    lines = [f"{variant}", f"prelude chunks: {[len(c) for c in prelude_chunks(variant)]}"]
    stream = b"".join(chunks)
    lines.append(f"stream: {len(stream)} bytes in chunks of {[len(c) for c in chunks]}")
    pos = 0
    while pos < len(stream):
        if stream[pos : pos + 4] == b"AMQP":
            lines.append(f"  @{pos} header {stream[pos:pos + 8]!r}")
            pos += 8
            continue
        head = stream[pos : pos + 8]
        if len(head) < 8:
            lines.append(f"  @{pos} {len(head)} trailing bytes {head.hex()}")
            break
        size = int.from_bytes(head[:4], "big")
        lines.append(
            f"  @{pos} frame size={size} doff={head[4]} type={head[5]} "
            f"channel={int.from_bytes(head[6:8], 'big')} body={stream[pos + 8 : pos + min(size, 48)].hex()}"
        )
        if size < 8:
            lines.append("  (size below 8: the rest is not frames)")
            break
        pos += size
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            print(f"{path}:\n{describe(f.read())}")
