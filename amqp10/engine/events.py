"""What the engine tells you: small frozen dataclasses returned by ``Connection.receive_data``.

Owns: every event type. Events are built complete (no fields filled in later), named in the
past tense, and carry the endpoint object they concern so you can act on it directly. Must
never: carry behaviour or be delivered by callback.

Peer-initiated endpoints
------------------------
When the *peer* begins a session or attaches a link, the engine creates the local object in a
half-open state and returns ``SessionRemotelyBegun(session)`` / ``LinkRemotelyAttached(link)``.
You answer:

- accept: ``session.begin()`` or ``link.attach()``. Before attaching you may adjust the link,
  e.g. give a dynamic node its address (``link.source = replace(link.source, address=...)``
  when ``link.remote_source.dynamic`` is true), change ``link.target``, settle modes,
  ``max_message_size``, capabilities or properties. Once answered the endpoint is open; no
  ``SessionBegun`` / ``LinkAttached`` follows (those report the peer's *answer* to our own
  begin/attach).
- refuse: ``session.end(error)`` (the engine sends BEGIN then END, spec 2.5.5) or
  ``link.detach(error=..., closed=True)`` (the engine sends ATTACH with a null terminus, then
  DETACH, as spec 2.6.3 requires for a refused link).

The embedded broker and the server adapters build on exactly this.

Ending and errors
-----------------
A peer's DETACH/END/CLOSE is answered by the engine at once; the event reports it, with the
peer's error as a typed exception (``LinkDetachedError``, ``SessionEndedError``,
``ConnectionClosedError``) or ``None``. A peer's protocol *violation* produces
``ProtocolViolationDetected`` (the engine has already queued the CLOSE/END/DETACH that
``violations.py`` prescribes), followed later by the ordinary ended/closed event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from ..errors import (
    AMQPError,
    LinkDetachedError,
    SASLError,
    SessionEndedError,
)
from .violations import Level, Violation

if TYPE_CHECKING:
    from ..codec.spec import Open
    from .delivery import Delivery
    from .link import Link
    from .session import Session

__all__ = [
    "Event",
    "SaslOutcomeReceived",
    "ConnectionOpened",
    "ConnectionClosed",
    "SessionRemotelyBegun",
    "SessionBegun",
    "SessionEnded",
    "LinkRemotelyAttached",
    "LinkAttached",
    "LinkDetached",
    "CreditChanged",
    "DeliveryReceived",
    "DeliveryAborted",
    "DeliveryPartReceived",
    "DeliveryUpdated",
    "DeliverySettled",
    "UnsettledReconciled",
    "ProtocolViolationDetected",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Base class of every engine event."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SaslOutcomeReceived(Event):
    """SASL negotiation finished (client: the server's outcome; server: we sent it).

    Attributes:
        succeeded: authentication succeeded; the AMQP header exchange follows.
        error: why it failed, or ``None``.
        user: the authenticated identity (server side), if any.
    """

    succeeded: bool
    error: SASLError | None = None
    user: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionOpened(Event):
    """The peer's OPEN arrived (spec 2.4.1).

    Attributes:
        container_id: the peer's container-id.
        open: the peer's whole OPEN (hostname, capabilities, properties, ...).
    """

    container_id: str
    open: "Open"


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionClosed(Event):
    """The connection is over: the peer closed it, answered our close, or the transport ended.

    Attributes:
        error: the peer's error (``ConnectionClosedError``), ours if we closed because of an
            error, the ``SASLError`` if authentication failed, or a ``ConnectionClosedError``
            without condition if the transport ended before the close handshake; ``None``
            for a clean close.
        by_peer: the peer started the close (or the transport broke).
    """

    error: AMQPError | None
    by_peer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionRemotelyBegun(Event):
    """The peer began a session; answer with ``session.begin()`` or ``session.end(error)``."""

    session: "Session"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionBegun(Event):
    """The peer answered our BEGIN: the session is mapped."""

    session: "Session"


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEnded(Event):
    """The session ended (peer's END, answer to ours, or the connection closing).

    Attributes:
        error: the peer's (or the connection's) error, ``None`` for a clean end.
        by_peer: the peer started the end.
    """

    session: "Session"
    error: SessionEndedError | None
    by_peer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkRemotelyAttached(Event):
    """The peer attached a link; answer with ``link.attach()`` or ``link.detach(error=...)``.

    ``link.remote_source`` / ``link.remote_target`` hold what the peer asked for.
    """

    link: "Link"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkAttached(Event):
    """The peer answered our ATTACH. A null remote terminus means it refused; its DETACH
    follows (spec 2.6.3)."""

    link: "Link"


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkDetached(Event):
    """The link is detached (peer's DETACH, answer to ours, or its session ending).

    Attributes:
        closed: the peer closed the link (spec 2.6.6) rather than only detaching it.
        error: the peer's error; when we detached with an error (the peer broke a link rule,
            e.g. ``amqp:link:message-size-exceeded``, or you passed one) and the peer's
            answer carries none, ours; otherwise ``None``.
        by_peer: the peer started the detach.
    """

    link: "Link"
    closed: bool
    error: LinkDetachedError | None
    by_peer: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CreditChanged(Event):
    """The link's flow state changed by a FLOW from the peer (spec 2.6.7).

    For a sender: the receiver granted credit (``link_credit``) or asked to ``drain``.
    For a receiver: the sender reported ``available`` or finished a drain (``drained``).
    """

    link: "Link"
    link_credit: int
    delivery_count: int
    available: int
    drain: bool
    drained: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryReceived(Event):
    """A whole delivery arrived on a receiver (all its transfers; spec 2.6.14).

    ``delivery.payload`` holds the encoded message bytes (never decoded by the engine).
    """

    delivery: "Delivery"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryAborted(Event):
    """The sender aborted a partly sent delivery (transfer ``aborted=true``, spec 2.6.14).
    Its bytes are discarded."""

    delivery: "Delivery"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryPartReceived(Event):
    """A TRANSFER of a delivery arrived on a receiver opened with ``streaming=True``: its
    bytes are handed on instead of being assembled (spec 2.6.14).

    Attributes:
        delivery: the delivery (``size`` counts its bytes so far; ``complete`` once the
            last part came).
        chunk: this frame's payload bytes.
        more: more parts follow (the transfer said ``more=true``).
        held: the frame counts against the session's incoming window until the
            application calls ``Receiver.release_parts`` for it (true for a non-empty chunk).
    """

    delivery: "Delivery"
    chunk: bytes
    more: bool
    held: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryUpdated(Event):
    """The peer sent a new state for a delivery (a DISPOSITION or a transfer's state).

    Attributes:
        state: the delivery state (``Accepted``, ``Rejected``, ``Received``, a transactional
            state, ...), passed through as decoded.
        settled: the peer also settled it.
    """

    delivery: "Delivery"
    state: Any
    settled: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverySettled(Event):
    """The peer settled a delivery (spec 2.6.12); its final state is ``delivery.remote_state``."""

    delivery: "Delivery"


@dataclass(frozen=True, slots=True, kw_only=True)
class UnsettledReconciled(Event):
    """A resumed link's two unsettled maps were compared (spec 2.6.13; ``engine.recovery``).

    Reported once per resumed attach, when both ATTACH frames are known (the link was given
    ``unsettled=UnsettledMap(...)``).

    Attributes:
        deliveries: delivery-tag -> the ``Delivery`` that now stands for it on this link. At a
            sender: each delivery sent again, resumed, or settled by a resumed transfer
            (watch them as any sent delivery), and those already over (``settled``). At a
            receiver: those awaiting the sender's resumed transfer.
        settled: tags over without any transfer: at a receiver, those the sender no longer
            holds (the spec has the receiver consider them settled); at a sender, those whose
            outcome it knew and the receiver no longer holds.
        lost: at a sender, tags the receiver does not hold and that came with no payload to
            send again.
        peer_incomplete: the peer's map was incomplete: tags it left out stay undecided (a
            sender then starts no new delivery until the link is resumed again).
    """

    link: "Link"
    deliveries: "Mapping[bytes, Delivery]"
    settled: tuple[bytes, ...] = ()
    lost: tuple[bytes, ...] = ()
    peer_incomplete: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ProtocolViolationDetected(Event):
    """The peer broke the protocol; the engine queued the CLOSE/END/DETACH per the table.

    Attributes:
        violation: the row of ``violations.VIOLATIONS``.
        level: which endpoint ends.
        condition: the ``amqp:`` condition sent to the peer.
        description: what happened.
        session: the session concerned (SESSION and LINK levels).
        link: the link concerned (LINK level).
    """

    violation: Violation
    level: Level
    condition: str
    description: str
    session: "Session | None" = None
    link: "Link | None" = None
