"""Our engine wired to python-qpid-proton's engine in memory: an independent peer, no sockets.

``proton.Transport`` + ``proton.Connection`` + ``proton.Collector`` are sans-IO like ours: bytes
go in with ``push``, come out with ``peek``/``pop``, time comes in through ``tick(now)`` (seconds)
and what happened is read from the collector. ``ProtonPump`` moves bytes between that and an
``amqp10.engine.Connection`` until both are quiet (bounded), with one virtual clock for both, and
records every frame header each way so tests can check what went over the wire (frame sizes,
heartbeats, transfers per flight).

Proton, like a real application, answers nothing by itself: opening a session or link the peer
began, or closing after the peer closed, is the application's call. ``accept_proton`` plays a
permissive application (it copies the remote termini, as Proton's own handlers do); tests that
need something else drive Proton's objects directly.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import proton

from amqp10.codec.spec import Source, Target
from amqp10.engine import Config, Connection, ConnectionRole, Link, Session
from amqp10.engine.events import Event, LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.testing import VirtualClock

__all__ = [
    "ProtonEnd",
    "ProtonPump",
    "WireLog",
    "accept_ours",
    "accept_proton",
    "link_to_proton",
    "opened",
    "proton_events",
    "read_proton",
    "wired",
]

_ACTIVE = proton.Endpoint.REMOTE_ACTIVE
_UNINIT = proton.Endpoint.LOCAL_UNINIT
_LOCAL_ACTIVE = proton.Endpoint.LOCAL_ACTIVE
_REMOTE_CLOSED = proton.Endpoint.REMOTE_CLOSED


class WireLog:
    """Reads one direction of the byte stream: protocol headers, then frame headers (spec 2.3.1).

    Attributes:
        headers: the 8-byte protocol headers seen, in order.
        frames: ``(size, type, channel, body_bytes)`` of every frame (body: everything after
            the extended header, i.e. performative plus payload).
        flights: how many frames each call to ``feed`` completed.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self.headers: list[bytes] = []
        self.frames: list[tuple[int, int, int, bytes]] = []
        self.flights: list[int] = []

    def feed(self, data: bytes) -> None:
        self._buf += data
        count = 0
        while len(self._buf) >= 8:
            if self._buf.startswith(b"AMQP"):
                self.headers.append(bytes(self._buf[:8]))
                del self._buf[:8]
                continue
            size, doff, ftype, channel = struct.unpack(">IBBH", self._buf[:8])
            if len(self._buf) < size:
                break
            self.frames.append((size, ftype, channel, bytes(self._buf[doff * 4 : size])))
            del self._buf[:size]
            count += 1
        self.flights.append(count)

    @property
    def max_frame(self) -> int:
        """The largest frame seen (0 if none)."""
        return max((f[0] for f in self.frames), default=0)

    @property
    def heartbeats(self) -> int:
        """Empty frames seen (spec 2.4.5: a frame with no body)."""
        return sum(1 for f in self.frames if f[0] == 8)

    @property
    def transfers(self) -> int:
        """TRANSFER frames seen (descriptor 0x14, spec 2.7.5)."""
        return sum(1 for f in self.frames if f[3][:3] == b"\x00\x53\x14")


@dataclass
class ProtonEnd:
    """A Proton connection on its own transport, with a collector.

    Args:
        server: the transport's role (a server waits for the client's header).
        container_id: Proton's container-id.
        configure: called with ``(transport, connection)`` before anything is sent, to set
            frame size, idle timeout, SASL, hostname, capabilities ...
    """

    server: bool
    container_id: str = "proton"
    configure: Callable[[proton.Transport, proton.Connection], None] | None = None
    transport: proton.Transport = field(init=False)
    connection: proton.Connection = field(init=False)
    collector: proton.Collector = field(init=False)

    def __post_init__(self) -> None:
        mode = proton.Transport.SERVER if self.server else proton.Transport.CLIENT
        self.transport = proton.Transport(mode)
        self.connection = proton.Connection()
        self.connection.container = self.container_id
        self.collector = proton.Collector()
        self.connection.collect(self.collector)
        if self.configure is not None:
            self.configure(self.transport, self.connection)
        self.transport.bind(self.connection)

    def take_events(self) -> list[proton.Event]:
        """Pop every event the collector holds."""
        events = []
        while True:
            event = self.collector.peek()
            if event is None:
                return events
            events.append(event)
            self.collector.pop()


def proton_events(events: list[proton.Event], kind: Any) -> list[proton.Event]:
    """The events of one ``proton.Event.*`` type."""
    return [e for e in events if e.type == kind]


class ProtonPump:
    """Moves bytes between ``ours`` and a ``ProtonEnd`` until neither has anything to say.

    Attributes:
        clock: the virtual clock both engines are ticked with (Proton counts in whole
            milliseconds, so it starts well away from zero, which Proton reads as "unset").
        ours_out / proton_out: the wire log of each direction.
        our_events / proton_event_log: everything each side reported, in order.
    """

    def __init__(self, ours: Connection, peer: ProtonEnd, clock: VirtualClock | None = None) -> None:
        self.ours = ours
        self.peer = peer
        self.clock = clock or VirtualClock(1000.0)
        self.ours_out = WireLog()
        self.proton_out = WireLog()
        self.our_events: list[Event] = []
        self.proton_event_log: list[proton.Event] = []
        self._proton_tail_closed = False
        self._ours_saw_eof = False

    @property
    def transport(self) -> proton.Transport:
        return self.peer.transport

    @property
    def connection(self) -> proton.Connection:
        return self.peer.connection

    # -- one direction at a time ------------------------------------------------------------
    def to_proton(self) -> int:
        """Hand what our engine has to send to Proton; returns the byte count. Once our
        engine is finished and flushed, Proton sees end-of-stream."""
        data = self.ours.data_to_send()
        if data:
            self.ours_out.feed(data)
            view = memoryview(data)
            while view:
                room = self.transport.capacity()
                if room < 0:  # Proton closed its input: the rest is lost, as on a socket
                    break
                if room == 0:
                    raise RuntimeError("Proton accepts no input and is not closed")
                self.transport.push(bytes(view[:room]))
                view = view[room:]
        elif self.ours.finished and not self._proton_tail_closed:
            self._proton_tail_closed = True
            if self.transport.capacity() >= 0:
                self.transport.close_tail()
        return len(data)

    def to_ours(self) -> list[Event]:
        """Hand what Proton has to send to our engine (end-of-stream as ``b""``)."""
        _, events = self._move_to_ours()
        self.our_events += events
        return events

    def _move_to_ours(self) -> tuple[int, list[Event]]:
        chunks = []
        for _ in range(10_000):  # Proton writes its output in buffer-sized pieces
            pending = self.transport.pending()
            if pending <= 0:
                break
            chunks.append(self.transport.peek(pending))
            self.transport.pop(pending)
        else:
            raise RuntimeError("Proton never stopped writing")
        data = b"".join(c for c in chunks if c)
        if data:
            self.proton_out.feed(data)
            return len(data), self.ours.receive_data(data)
        if self.transport.pending() < 0 and not self._ours_saw_eof and not self.ours.finished:
            self._ours_saw_eof = True  # Proton closed its output: the socket would be at EOF
            return 0, self.ours.receive_data(b"")
        return 0, []

    # -- both ways ----------------------------------------------------------------------
    def pump(self, max_rounds: int = 10_000) -> tuple[list[Event], list[proton.Event]]:
        """Move bytes both ways until both are quiet; return (our events, Proton's events).

        Raises:
            RuntimeError: still busy after ``max_rounds`` exchanges.
        """
        ours: list[Event] = self.ours.take_events()
        theirs: list[proton.Event] = []
        for _ in range(max_rounds):
            sent = self.to_proton()
            received, got = self._move_to_ours()
            ours += got
            theirs += self.peer.take_events()
            if not sent and not received and not got:
                break
        else:
            raise RuntimeError(f"still busy after {max_rounds} rounds")
        self.our_events += ours
        self.proton_event_log += theirs
        return ours, theirs

    def tick(self, seconds: float = 0.0, *, ours: bool = True, theirs: bool = True) -> tuple[
        float | None, float | None
    ]:
        """Advance the clock and tick the chosen engines (no pumping); return the deadlines
        (Proton's ``0`` meaning "none" becomes ``None``)."""
        now = self.clock.advance(seconds)
        ours_deadline = self.ours.tick(now) if ours else None
        their_deadline = (self.transport.tick(now) or None) if theirs else None
        return ours_deadline, their_deadline

    def pump_accepting(self, rounds: int = 10) -> tuple[list[Event], list[proton.Event]]:
        """Pump, letting both sides accept whatever the other opened, until nothing changes."""
        all_ours: list[Event] = []
        all_theirs: list[proton.Event] = []
        for _ in range(rounds):
            ours, theirs = self.pump()
            all_ours += ours
            all_theirs += theirs
            acted = accept_ours(ours) + accept_proton(self.connection)
            if not acted and not ours and not theirs:
                break
        return all_ours, all_theirs


def accept_ours(events: list[Event]) -> int:
    """Answer every session and link the peer began with our own BEGIN/ATTACH."""
    acted = 0
    for e in events:
        if isinstance(e, SessionRemotelyBegun):
            e.session.begin()
            acted += 1
        elif isinstance(e, LinkRemotelyAttached):
            e.link.attach()
            acted += 1
    return acted


def accept_proton(conn: proton.Connection) -> int:
    """Open whatever the peer opened on Proton's side (copying the remote termini, as a
    permissive Proton application does). Returns how many endpoints it opened."""
    acted = 0
    if conn.state & _UNINIT and conn.state & _ACTIVE:
        conn.open()
        acted += 1
    session = conn.session_head(_UNINIT | _ACTIVE)
    while session is not None:
        session.open()
        acted += 1
        session = session.next(_UNINIT | _ACTIVE)
    link = conn.link_head(_UNINIT | _ACTIVE)
    while link is not None:
        link.source.copy(link.remote_source)
        link.target.copy(link.remote_target)
        # Agree to the settle modes the peer asked for (each side decides its own half).
        link.snd_settle_mode = link.remote_snd_settle_mode
        link.rcv_settle_mode = link.remote_rcv_settle_mode
        link.open()
        acted += 1
        link = link.next(_UNINIT | _ACTIVE)
    return acted


def wired(
    ours_client: bool,
    *,
    configure: Callable[[proton.Transport, proton.Connection], None] | None = None,
    **our_config: Any,
) -> ProtonPump:
    """Our engine in one role, Proton in the other, nothing sent yet."""
    role = ConnectionRole.CLIENT if ours_client else ConnectionRole.SERVER
    our_config.setdefault("container_id", "ours")
    ours = Connection(Config(role=role, **our_config))
    return ProtonPump(ours, ProtonEnd(server=ours_client, configure=configure))


def opened(ours_client: bool, **kw: Any) -> ProtonPump:
    """``wired`` with both OPENs exchanged."""
    pump = wired(ours_client, **kw)
    pump.ours.open()
    pump.connection.open()
    pump.pump()
    return pump


def link_to_proton(
    pump: ProtonPump,
    *,
    ours_sends: bool,
    ours_attaches: bool,
    name: str = "link",
    address: str = "q",
    session: Session | None = None,
    proton_session: proton.Session | None = None,
    proton_options: Callable[[proton.Link], None] | None = None,
    **options: Any,
) -> tuple[Link, proton.Link]:
    """Attach one link between the two, started by either side; returns (ours, Proton's).

    ``options`` go to our ``attach_*`` when we attach (Proton answers copying our termini and
    settle modes); when Proton attaches it sets the address and calls ``proton_options``.
    """
    if ours_attaches:
        session = session or pump.ours.begin_session()
        if ours_sends:
            link: Link = session.attach_sender(name, target=Target(address=address), **options)
        else:
            link = session.attach_receiver(name, source=Source(address=address), **options)
        pump.pump_accepting()
        theirs = _proton_link(pump.connection, name)
        return link, theirs
    if proton_session is None:
        proton_session = pump.connection.session()
        proton_session.open()
    theirs = proton_session.receiver(name) if ours_sends else proton_session.sender(name)
    (theirs.target if ours_sends else theirs.source).address = address
    if proton_options is not None:
        proton_options(theirs)
    theirs.open()
    ours_events, _ = pump.pump_accepting()
    (attached,) = [e for e in ours_events if isinstance(e, LinkRemotelyAttached)]
    return attached.link, theirs


def _proton_link(conn: proton.Connection, name: str) -> proton.Link:
    link = conn.link_head(0)
    while link is not None:
        if link.name == name:
            return link
        link = link.next(0)
    raise LookupError(f"Proton has no link named {name!r}")


def read_proton(receiver: proton.Link) -> list[tuple[proton.Delivery, bytes]]:
    """Take every complete delivery Proton's receiver holds (the application reading)."""
    got = []
    while receiver.current is not None and receiver.current.readable and not receiver.current.partial:
        delivery = receiver.current
        chunks = []
        while True:
            chunk = receiver.recv(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
        got.append((delivery, b"".join(chunks)))
        receiver.advance()
    return got
