"""Public test helpers: two engines wired together, a virtual clock, a frame factory.

Like ``trio.testing``: use them to test code built on the engine without sockets or time.
Two engines wired together::

    from amqp10.engine import Config, Connection, ConnectionRole
    from amqp10.testing import EnginePair

    pair = EnginePair(Connection(Config(container_id="client")),
                      Connection(Config(container_id="server", role=ConnectionRole.SERVER)))
    pair.client.open(); pair.server.open()
    sender = pair.client.begin_session().attach_sender("s", target=Target(address="q"))
    c_events, s_events = pair.pump()          # server sees SessionRemotelyBegun, ...
    # ...answer them: event.session.begin(), event.link.attach(), receiver.flow(10)
    sender.send(b"encoded message bytes")
    c_events, s_events = pair.pump()          # server sees DeliveryReceived

Must never: be imported by the library itself, or hide a protocol error (``pump`` bounds its
loop and raises if the engines never go quiet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .codec.composite import Composite
from .engine.connection import Connection
from .engine.events import Event
from .framing.frame import EMPTY_FRAME, FrameType, encode_frame
from .framing.headers import AMQP_HEADER, SASL_HEADER

__all__ = ["EnginePair", "VirtualClock", "FrameFactory"]


class VirtualClock:
    """A clock you move by hand: pass ``clock.now`` to ``tick`` instead of a real time."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def advance(self, seconds: float) -> float:
        """Move forward by ``seconds``; return the new time."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self.now += seconds
        return self.now


@dataclass
class EnginePair:
    """Two connections whose transports are each other (Proton's ``pump``, h11's pair).

    Attributes:
        client, server: the two engines (any roles; the names are for reading tests).
        clock: the shared virtual clock; ``tick`` ticks both.
        client_events, server_events: every event each side produced, in order.
    """

    client: Connection
    server: Connection
    clock: VirtualClock = field(default_factory=VirtualClock)
    client_events: list[Event] = field(default_factory=list)
    server_events: list[Event] = field(default_factory=list)

    def pump(self, max_rounds: int = 1000) -> tuple[list[Event], list[Event]]:
        """Move bytes both ways until neither side has anything to send.

        Returns the events each side produced during this call (also appended to
        ``client_events``/``server_events``).

        Raises:
            RuntimeError: still busy after ``max_rounds`` exchanges (a livelock).
        """
        got_c: list[Event] = []
        got_s: list[Event] = []
        got_c += self.client.take_events()
        got_s += self.server.take_events()
        for _ in range(max_rounds):
            to_server = self.client.data_to_send()
            to_client = self.server.data_to_send()
            if not to_server and not to_client:
                break
            if to_server:
                got_s += self.server.receive_data(to_server)
            if to_client:
                got_c += self.client.receive_data(to_client)
        else:
            raise RuntimeError(f"engines still busy after {max_rounds} rounds")
        self.client_events += got_c
        self.server_events += got_s
        return got_c, got_s

    def tick(self, seconds: float = 0.0) -> tuple[float | None, float | None]:
        """Advance the clock, tick both engines, return their next deadlines (no pumping)."""
        now = self.clock.advance(seconds)
        return self.client.tick(now), self.server.tick(now)

    def close_transport(self) -> tuple[list[Event], list[Event]]:
        """Both ends see EOF (the socket went away)."""
        c = self.client.receive_data(b"")
        s = self.server.receive_data(b"")
        self.client_events += c
        self.server_events += s
        return c, s


class FrameFactory:
    """Build raw protocol bytes for tests that play a misbehaving peer (h2's FrameFactory)."""

    amqp_header = AMQP_HEADER
    sasl_header = SASL_HEADER
    heartbeat = EMPTY_FRAME

    @staticmethod
    def frame(body: Composite | None, channel: int = 0, payload: bytes = b"") -> bytes:
        """One AMQP frame carrying ``body`` (``None``: an empty frame) and ``payload``."""
        out = bytearray()
        encode_frame(out, channel, body, payload)
        return bytes(out)

    @staticmethod
    def sasl_frame(body: Composite) -> bytes:
        """One SASL frame."""
        out = bytearray()
        encode_frame(out, 0, body, frame_type=FrameType.SASL)
        return bytes(out)

    @staticmethod
    def raw(size: int, doff: int = 2, frame_type: int = 0, channel: int = 0, body: bytes = b"") -> bytes:
        """A frame header with arbitrary (possibly invalid) fields, then ``body``."""
        return size.to_bytes(4, "big") + bytes((doff, frame_type)) + channel.to_bytes(2, "big") + body

    @classmethod
    def frames(cls, *items: Any) -> bytes:
        """Concatenate frames: each item is a performative or a ``(performative, channel)``
        or ``(performative, channel, payload)`` tuple."""
        out = b""
        for item in items:
            if isinstance(item, tuple):
                out += cls.frame(*item)
            else:
                out += cls.frame(item)
        return out
