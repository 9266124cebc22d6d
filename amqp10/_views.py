"""Read-only facts of the public client objects, written once for both adapters.

Owns: the properties that only *read* what ``_api`` records and the engine knows (container
ids, the peer's OPEN and ATTACH fields, credit, queue lengths, closed flags). Both adapters'
``Connection``, ``Sender``, ``Receiver`` and ``Requester`` inherit them, so they cannot drift
apart. Must never: change state, wait, or import an adapter.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol, TypeVar

from ._api import OUTCOMES, ClientCore, LinkRecord
from ._options import ClientOptions
from ._outcomes import DeliveryState, Outcome
from ._reconnect import Outage
from ._requests import Requests
from ._settle_modes import kept_downgrade, mode_name
from ._terminus_checks import distribution_mode_in_force, filters_in_force, source_downgrade
from .engine.delivery import Delivery as EngineDelivery
from .engine.recovery import UnsettledMap
from .errors import SettleModeDowngradedError, SourceDowngradedError
from .url import URL

_T = TypeVar("_T")

__all__ = ["ConnectionView", "LinkView", "SenderView", "ReceiverView", "RequesterView", "TrackerView"]


class _Redialing(Protocol):
    outage: Outage
    url: URL


class ConnectionView:
    """What a client connection knows about itself and its peer."""

    _options: ClientOptions
    _core: ClientCore
    _redialer: _Redialing | None

    @property
    def reconnects(self) -> int:
        """How many times the connection was lost and made again (``connect(reconnect=...)``)."""
        return 0 if self._redialer is None else self._redialer.outage.reconnects

    @property
    def url(self) -> str:
        """The URL connected to now (after a failover or a redirect, the new one; the password
        is not shown)."""
        return str(self._options.url if self._redialer is None else self._redialer.url)

    @property
    def container_id(self) -> str:
        """Our container-id."""
        return self._options.config.container_id

    @property
    def remote_container_id(self) -> str | None:
        """The peer's container-id (``None`` before its OPEN)."""
        remote = self._core.engine.remote_open
        return None if remote is None else str(remote.container_id)

    @property
    def remote_properties(self) -> Any:
        """The peer's OPEN properties."""
        remote = self._core.engine.remote_open
        return None if remote is None else remote.properties

    @property
    def remote_offered_capabilities(self) -> Any:
        """The capabilities the peer offered in OPEN (e.g. ``ANONYMOUS-RELAY``)."""
        remote = self._core.engine.remote_open
        return None if remote is None else remote.offered_capabilities

    @property
    def closed(self) -> bool:
        """The connection is over (closed by you, by the peer, or broken, and not being
        reconnected)."""
        core = self._core
        return (core.finished and not core.reconnecting) or core.closing


class LinkView:
    """What a link knows: its name, address and the peer's answer to its ATTACH."""

    _record: LinkRecord

    @property
    def address(self) -> str | None:
        """The node address (for a dynamic link: the one the peer created)."""
        return self._record.address

    @property
    def name(self) -> str:
        """The link name."""
        return self._record.link.name

    @property
    def remote_properties(self) -> Any:
        """The link properties the peer sent in its ATTACH."""
        return self._record.link.remote_properties

    @property
    def remote_offered_capabilities(self) -> Any:
        """The capabilities the peer offered in its ATTACH."""
        return self._record.link.remote_offered_capabilities

    @property
    def remote_source(self) -> Any:
        """The source terminus as the peer answered it (filters it applied, ...)."""
        return self._record.link.remote_source

    @property
    def remote_target(self) -> Any:
        """The target terminus as the peer answered it."""
        return self._record.link.remote_target

    @property
    def closed(self) -> bool:
        """Detached or closed, by either side (not while a reconnect is putting it back)."""
        record = self._record
        return (record.detached and not (record.with_connection and record.core.reconnecting)) or record.closing

    @property
    def credit(self) -> int:
        """Credit the receiver granted and the sender has not used yet."""
        return self._record.link.credit.link_credit

    @property
    def unsettled_map(self) -> UnsettledMap:
        """What this end has not settled, to resume the link from on a new connection (spec
        2.6.13; docs/recovery.md): read it once the connection is lost and pass it as
        ``open_sender(..., name=self.name, unsettled=...)`` / ``open_receiver(...)`` on the
        new connection. At a sender it carries each unsettled message (sent and awaiting its
        outcome, or not sent yet) with its delivery-tag; at a receiver, the tags of the
        deliveries received and not settled, with the outcome given to each, if any."""
        return self._read_engine(lambda: self._record.link.unsettled)

    def _read_engine(self, read: Callable[[], _T]) -> _T:
        """Read engine state consistently (the blocking adapter takes the connection's lock)."""
        return read()


class SenderView(LinkView):
    """What a sender knows besides the link's facts."""

    @property
    def unsettled(self) -> int:
        """Messages sent at-least-once whose outcome has not arrived yet (including those
        whose ``send`` timed out or was cancelled after they went out: their outcome is
        still settled when it comes)."""
        return len(self._record.in_flight)

    @property
    def rcv_settle_mode(self) -> str:
        """The receiver settle mode the peer's receiver stated in its ATTACH (its actual mode,
        spec 2.8.3), ``"first"`` or ``"second"``; what was asked for until it answers."""
        return mode_name(self._record.link.rcv_settle_mode)


class ReceiverView(LinkView):
    """What a receiver knows besides the link's facts."""

    @property
    def queued(self) -> int:
        """Deliveries arrived and not yet taken by ``receive``."""
        return len(self._record.deliveries)

    @property
    def filters(self) -> dict[str, Any]:
        """The filters in force: the filter set of the peer's attached source (spec 3.5.3:
        it lists only the filters the peer applies), by name; ``{}`` when none."""
        return filters_in_force(self._record.link)

    @property
    def distribution_mode(self) -> str | None:
        """The distribution-mode the peer stated for the source (``"move"``: messages are
        taken; ``"copy"``: they are browsed), or ``None`` if it stated none."""
        return distribution_mode_in_force(self._record.link)

    @property
    def downgrade(self) -> SourceDowngradedError | None:
        """How the attached source falls short of the one asked for (filters not applied, a
        different distribution-mode), or ``None``. Only a receiver opened with
        ``on_downgrade="keep"`` can have one; otherwise ``open_receiver`` raised it."""
        return source_downgrade(self._record.link, self._record.describe())


    @property
    def rcv_settle_mode(self) -> str:
        """The receiver settle mode in force, ``"first"`` or ``"second"`` (spec 2.6.12): what
        was asked for (``open_receiver(rcv_settle_mode=...)``), or ``"first"`` when the peer
        stated it instead and the receiver was kept (``on_downgrade="keep"``)."""
        return mode_name(self._record.link.rcv_settle_mode)

    @property
    def settle_mode_downgrade(self) -> SettleModeDowngradedError | None:
        """The peer stated rcv-settle-mode ``first`` where ``second`` was asked for and the
        receiver was kept (``on_downgrade="keep"``); ``None`` otherwise (with the default,
        ``open_receiver`` raised it)."""
        return kept_downgrade(self._record.link)

    @property
    def available(self) -> int:
        """Messages the sender last said it has waiting for this link (its ``available``,
        spec 2.6.7): a hint, refreshed by each FLOW it sends, e.g. the answer to
        ``flow(0, echo=True)`` or to a drain."""
        return self._record.link.credit.available


class RequesterView:
    """What a requester knows."""

    _requests: Requests

    @property
    def closed(self) -> bool:
        """Either of its links is closed."""
        requests = self._requests
        return any(
            (r.detached and not (r.with_connection and r.core.reconnecting)) or r.closing for r in (requests.sender, requests.receiver)
        )


class TrackerView:
    """What is known of one submitted message's delivery (Proton's ``Tracker``).

    The values change as the peer answers; read them any time (without waiting), or wait
    with the adapter's ``Tracker.wait``.
    """

    __slots__ = ("_record", "_delivery")

    def __init__(self, record: LinkRecord, delivery: EngineDelivery) -> None:
        self._record = record
        self._delivery = delivery

    def __repr__(self) -> str:
        return f"<{type(self).__name__} tag={self._delivery.tag!r} settled={self.settled} remote_state={self.remote_state!r}>"

    @property
    def tag(self) -> bytes:
        """The delivery-tag (spec 2.8.7) the message goes out with."""
        return self._delivery.tag

    @property
    def settled(self) -> bool:
        """Its fate is final: the outcome arrived (or the receiver settled it without one);
        at-most-once, the message is written out."""
        return self._record.known(self._delivery)

    @property
    def aborted(self) -> bool:
        """``abort()`` ended it before it was sent whole (spec 2.6.14): no outcome will come."""
        return self._delivery.aborted

    @property
    def outcome(self) -> "Outcome | None":
        """The receiver's outcome, ``Accepted()``, ``Rejected(...)``, ``Released()`` or
        ``Modified(...)``; ``None`` until it is known (and always at-most-once)."""
        state = self._delivery.remote_state
        return state if isinstance(state, OUTCOMES) else None

    @property
    def remote_state(self) -> "DeliveryState | None":
        """The last delivery state the receiver reported, an outcome or a non-terminal one
        such as ``Received(...)`` (spec 3.4.1); ``None`` before any."""
        state: DeliveryState | None = self._delivery.remote_state
        return state
