"""Connection configuration: everything an engine needs to know before the first byte.

Owns: ``Config`` (frozen, shareable across connections: a listener hands the same one to every
accepted socket), ``ConnectionRole`` and ``SaslNegotiator``, the interface the engine drives
the SASL layer through. Must never: hold per-connection state (hence the SASL *factory*).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence

from ..codec.composite import Composite
from ..codec.limits import DEFAULT_LIMITS, Limits
from ..errors import SASLError
from ..framing.frame import MIN_MAX_FRAME_SIZE

__all__ = ["ConnectionRole", "Config", "SaslNegotiator"]


class ConnectionRole(enum.Enum):
    """Who sends the protocol header first (spec 2.2): the client; the server answers."""

    CLIENT = "client"
    SERVER = "server"


class SaslNegotiator(Protocol):
    """One connection's SASL exchange, sans-IO (``amqp10.engine.sasl.SaslClient/SaslServer``).

    The connection sends ``initial_frames()`` right after the SASL header exchange, feeds every
    SASL frame body to ``receive`` and sends what it returns, until ``done``.
    """

    @property
    def done(self) -> bool:
        """Negotiation finished, either way."""
        ...

    @property
    def succeeded(self) -> bool:
        """The outcome was ok."""
        ...

    @property
    def error(self) -> SASLError | None:
        """Why it failed (``None`` when it succeeded or is not done)."""
        ...

    @property
    def user(self) -> str | None:
        """The authenticated identity (server side), if any."""
        ...

    def initial_frames(self) -> list[Composite]:
        """Bodies to send first (server: the mechanisms; client: usually none)."""
        ...

    def receive(self, body: Composite) -> list[Composite]:
        """Handle one SASL frame body from the peer; return the bodies to send in reply."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Config:
    """Settings for one ``Connection`` (spec 2.7.1 OPEN fields and engine policy).

    Attributes:
        role: client (sends the header first) or server (answers it).
        container_id: our container-id (spec 2.7.1, mandatory). Inject a unique one: the engine
            does not generate randomness.
        hostname: the virtual host we ask for (client) (spec 2.7.1).
        max_frame_size: the largest frame we accept; advertised in OPEN. At least 512.
        channel_max: the highest channel number we accept; advertised in OPEN.
        idle_timeout: seconds without a complete frame read after which we close with
            ``amqp:resource-limit-exceeded``; advertised in OPEN (in milliseconds, as half
            the value, spec 2.4.5). ``None`` disables it.
        handshake_timeout: seconds the opening (protocol headers, SASL and the peer's OPEN,
            counted from the first ``tick``) and the closing (from our CLOSE to the peer's)
            may take. When the opening runs over, the connection ends with
            ``amqp:resource-limit-exceeded``; a peer that never answers our CLOSE is dropped
            (spec 2.4.3 lets the closing side stop waiting). ``None``: no bound, a stalled
            peer holds its connection until the transport dies.
        incoming_window: default incoming-window of new sessions, in transfer frames.
        outgoing_window: default outgoing-window we advertise for new sessions.
        handle_max: default handle-max of new sessions.
        offered_capabilities, desired_capabilities, properties: sent in OPEN.
        limits: decoding limits for frame bodies.
        sasl: a factory making this connection's SASL negotiator, or ``None`` for no SASL.
        allow_no_sasl: server only: accept a client that sends the AMQP header directly even
            though ``sasl`` is set. Without ``sasl`` a server always accepts it.
    """

    role: ConnectionRole = ConnectionRole.CLIENT
    container_id: str
    hostname: str | None = None
    max_frame_size: int = 1 << 16
    channel_max: int = 65535
    idle_timeout: float | None = None
    handshake_timeout: float | None = 30.0
    incoming_window: int = 2048
    outgoing_window: int = (1 << 31) - 1
    handle_max: int = (1 << 32) - 1
    offered_capabilities: Sequence[str] | None = None
    desired_capabilities: Sequence[str] | None = None
    properties: Mapping[Any, Any] | None = None
    limits: Limits = DEFAULT_LIMITS
    sasl: Callable[[], SaslNegotiator] | None = None
    allow_no_sasl: bool = False
    outgoing_locales: Sequence[str] | None = field(default=None)
    incoming_locales: Sequence[str] | None = field(default=None)

    def __post_init__(self) -> None:
        if not MIN_MAX_FRAME_SIZE <= self.max_frame_size <= (1 << 32) - 1:
            raise ValueError(f"max_frame_size must be in [512, 2**32-1], got {self.max_frame_size}")
        if not 0 <= self.channel_max <= 65535:
            raise ValueError(f"channel_max must be in [0, 65535], got {self.channel_max}")
        if self.idle_timeout is not None and self.idle_timeout <= 0:
            raise ValueError("idle_timeout must be positive (or None for none)")
        if self.handshake_timeout is not None and self.handshake_timeout <= 0:
            raise ValueError("handshake_timeout must be positive (or None for none)")
        if not 1 <= self.incoming_window <= (1 << 32) - 1:
            raise ValueError("incoming_window must be in [1, 2**32-1]")
        if not 0 <= self.handle_max <= (1 << 32) - 1:
            raise ValueError("handle_max must be a uint")
