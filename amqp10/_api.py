"""Sans-IO waiting logic shared by the blocking and trio adapters (written once, used twice).

Owns: what the engine's events mean to a client's waiting calls. ``ClientCore`` folds every
event into per-session and per-link records; the *predicates* (``opened``, ``attached``,
``outcome``, ``take_delivery``, ``drained``, ``reply``, ...) answer "is it done?" with a
value, ``PENDING``, or the typed error that says why it never will be; the *commands*
(``begin_session``, ``attach_sender``, ``send``, ...) queue engine work. The prefetch credit
policy lives here too; the public ``Delivery`` is in ``_delivery`` and request/reply
correlation in ``_requests``.

The public calls that combine commands and predicates are written once in ``_calls``; the
read-only properties of the public objects in ``_views``. An adapter only adds two things: a
*runner* that executes a command with exclusive access to the engine and then wakes its I/O
(blocking: under the connection's lock; trio: on the trio thread), and a *wait* that
re-evaluates a predicate whenever events arrive (blocking: a ``Condition``; trio: a
``ParkingLot``) until it stops being ``PENDING`` or the timeout passes.

Must never: do I/O, block, sleep, read a clock, or import an adapter.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from typing import Any, Callable, Mapping

from .codec.message import Message
from .codec.spec import Accepted, Declared, Error, Modified, Rejected, Released, SenderSettleMode, TransactionalState
from .engine.connection import Connection as EngineConnection
from .engine.delivery import Delivery as EngineDelivery
from .engine.events import (
    ConnectionClosed,
    ConnectionOpened,
    CreditChanged,
    DeliveryAborted,
    DeliveryPartReceived,
    DeliveryReceived,
    DeliverySettled,
    DeliveryUpdated,
    Event,
    LinkAttached,
    LinkDetached,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SaslOutcomeReceived,
    SessionBegun,
    SessionEnded,
    SessionRemotelyBegun,
    UnsettledReconciled,
)
from .engine.link import Link, Receiver, Sender
from .engine.session import Session
from .engine.states import LinkState
from .errors import (
    AMQPError,
    ConnectionClosedError,
    DeliveryInDoubtError,
    LinkDetachedError,
    LinkRedirectError,
    LocalProtocolError,
    SessionEndedError,
)
from ._delivery import Delivery, Runner

__all__ = ["PENDING", "Pending", "Runner", "ClientCore", "SessionRecord", "LinkRecord", "Delivery", "encode_for", "ACK_DELAY"]

log = logging.getLogger("amqp10.client")



#: The most (seconds) a delayed acknowledgement (``ClientCore.ack_delayed``: a reply's accept)
#: waits for a frame to ride with before it is written alone. A request/reply caller's next
#: request usually comes well within it, so the accept costs the peer no read of its own;
#: TCP delays its ACKs for the same reason (RFC 1122 4.2.3.2), for up to 500 ms.
ACK_DELAY = 0.005

class Pending(enum.Enum):
    """The single value ``PENDING``: a predicate's "not yet"."""

    PENDING = "pending"


PENDING = Pending.PENDING

#: The outcomes that end an unsettled delivery's life at the sender (spec 3.4).
OUTCOMES = (Accepted, Rejected, Released, Modified)
#: The outcomes that refuse a delivery: nobody took it (3.4.3-3.4.5); a request so settled gets no reply.
REFUSALS = (Rejected, Released, Modified)


def is_final(state: Any) -> bool:
    """``state`` ends a sent delivery's life: an outcome (3.4), a coordinator's ``declared``
    (4.5.3), or a ``transactional-state`` carrying the outcome it will have on commit (4.4.1)."""
    if isinstance(state, TransactionalState):
        return state.outcome is not None
    return isinstance(state, OUTCOMES) or isinstance(state, Declared)


_NOT_ALLOWED = "amqp:not-allowed"


class ClientCore:
    """What one client connection's engine has told us, in the shape waiters need.

    Args:
        engine: the sans-IO connection (client role).
        peer: how to name the peer in error messages (the URL, password hidden).
    """

    def __init__(self, engine: EngineConnection, peer: str) -> None:
        self.engine = engine
        self.peer = peer
        self.opened = False
        self.finished = False  # ConnectionClosed seen: no more events will come
        self.closing = False  # the user called close()
        self.error: AMQPError | None = None  # why it ended badly (peer, SASL, transport)
        self.sessions: dict[Session, SessionRecord] = {}
        self.links: dict[Link, LinkRecord] = {}
        self.default_session: SessionRecord | None = None
        #: a predicate queued engine output (credit top-up, auto-accept): the adapter must
        #: wake its I/O after evaluating it, then clear this.
        self.output_pending = False
        #: that output may wait to be batched with more: the receiver handing it out has
        #: more deliveries buffered, so more accepts follow at once (an adapter that could
        #: write it at once lets its I/O batch it instead; read and cleared with the above)
        self.output_deferrable = False
        #: a predicate accepted what it handed out (or topped up credit that still covers
        #: every awaited reply) and nothing else needs writing now: that output may wait up
        #: to ``ACK_DELAY`` for a frame to ride with (the caller's next request, usually).
        #: The adapter has its output written by then at the latest, without waking anything
        #: per call, then clears this (``output_pending`` wins).
        self.ack_delayed = False
        #: bytes beyond which ``send`` waits for the transport to take some (``None``: no
        #: limit), and how many are not yet written: the engine's, plus what the adapter's
        #: transport holds (the adapter replaces this function to add its own count).
        self.write_buffer_limit: int | None = None
        self.unwritten: Callable[[], int] = lambda: engine.bytes_to_send
        #: a send waits for room: the adapter wakes waiters when ``wrote()`` says so
        self.room_wanted = False
        #: waits that watch one thing (a ``Wait.watch`` key, e.g. the delivery whose outcome
        #: they await) and are woken only when it changes, or when anything fails: key ->
        #: the adapter's wake-up (a ``Condition.notify`` / ``trio.Event.set``). Every other
        #: wait is woken after each batch of events.
        self.watchers: dict[object, Callable[[], None]] = {}
        self._names = 0
        #: follow ``amqp:link:redirect`` (``connect(follow_redirects=...)``)
        self.follow_redirects = False
        #: the connection was lost and a reconnect is under way (set by the adapter's redialer)
        self.reconnecting = False
        #: sessions and links ended in this batch of events: if the connection ends in the
        #: same batch they ended with it, not on their own (``_resume`` puts those back)
        self._ended_in_batch: list[SessionRecord | LinkRecord] = []
        self._handlers: dict[type[Event], Callable[[Any], None]] = {
            SaslOutcomeReceived: self._on_sasl,
            ConnectionOpened: self._on_opened,
            ConnectionClosed: self._on_closed,
            SessionRemotelyBegun: self._on_session_remotely_begun,
            SessionBegun: self._on_session_begun,
            SessionEnded: self._on_session_ended,
            LinkRemotelyAttached: self._on_link_remotely_attached,
            LinkAttached: self._on_link_attached,
            LinkDetached: self._on_link_detached,
            CreditChanged: self._on_credit,
            DeliveryReceived: self._on_delivery_received,
            DeliveryPartReceived: self._on_part,
            DeliveryAborted: self._on_aborted,
            DeliveryUpdated: self._on_delivery_updated,
            DeliverySettled: self._on_delivery_settled,
            ProtocolViolationDetected: self._on_violation,
            UnsettledReconciled: self._on_reconciled,
        }

    # -- events --------------------------------------------------------------------------------
    def handle(self, events: list[Event]) -> None:
        """Fold engine events into the records (call with exclusive engine access)."""
        if self._ended_in_batch:
            self._ended_in_batch.clear()
        for event in events:
            handler = self._handlers.get(type(event))
            if handler is not None:
                handler(event)

    def transport_failed(self, reason: str) -> None:
        """The socket or TLS broke: end the engine and remember why, in words."""
        if self.error is None and not self.finished:
            self.error = ConnectionClosedError(f"the connection to {self.peer} broke: {reason}")
        self.handle(self.engine.receive_data(b""))
        self.finished = True
        self.wake_all()

    def wake(self, key: object) -> None:
        """Wake the wait watching ``key``, if there is one (call with exclusive access)."""
        waiter = self.watchers.get(key)
        if waiter is not None:
            waiter()

    def wake_all(self) -> None:
        """Wake every watching wait: something failed that any of them may depend on (a
        link, session or the connection ended), so each re-evaluates its predicate."""
        for waiter in list(self.watchers.values()):
            waiter()

    def _on_sasl(self, event: SaslOutcomeReceived) -> None:
        if not event.succeeded and self.error is None:
            self.error = event.error
            log.warning("SASL with %s failed: %s", self.peer, event.error)

    def _on_opened(self, event: ConnectionOpened) -> None:
        self.opened = True
        log.debug("connection to %s open (peer container %s)", self.peer, event.container_id)

    def _on_closed(self, event: ConnectionClosed) -> None:
        for ended in self._ended_in_batch:
            ended.with_connection = True
        self.finished = True
        self.wake_all()
        if event.error is not None and self.error is None:
            self.error = event.error
            log.info("connection to %s closed: %s", self.peer, event.error)

    def _on_session_remotely_begun(self, event: SessionRemotelyBegun) -> None:
        # A client API has nowhere to hand a session the peer starts: refuse it cleanly.
        event.session.end(Error(condition=_NOT_ALLOWED, description="this client does not accept sessions begun by the peer"))

    def _on_session_begun(self, event: SessionBegun) -> None:
        record = self.sessions.get(event.session)
        if record is not None:
            record.begun = True

    def _on_session_ended(self, event: SessionEnded) -> None:
        record = self.sessions.get(event.session)
        if record is not None:
            record.ended = True
            record.error = event.error
            self._ended_in_batch.append(record)
        self.wake_all()

    def _on_link_remotely_attached(self, event: LinkRemotelyAttached) -> None:
        event.link.detach(error=Error(condition=_NOT_ALLOWED, description="this client does not accept links attached by the peer"))

    def _on_link_attached(self, event: LinkAttached) -> None:
        record = self.links.get(event.link)
        if record is None:
            return
        link = event.link
        # Spec 2.6.3: a refusing peer answers with a null terminus, then detaches.
        terminus = link.remote_target if link.is_sender else link.remote_source
        record.attached = terminus is not None

    def _on_link_detached(self, event: LinkDetached) -> None:
        record = self.links.get(event.link)
        if record is None:
            return
        error = event.error
        if event.by_peer and error is not None and error.condition == "amqp:link:redirect" and self.follow_redirects and not record.closing:
            from ._resume import redirect_link  # here: _resume builds on this module

            if redirect_link(self, record, error.info):
                self.wake_all()
                return
        record.detached = True
        record.error = event.error
        record.detached_by_peer = event.by_peer
        self._ended_in_batch.append(record)
        if record.streaming:
            from . import _streaming

            _streaming.drop_streams(record)
        self.wake_all()
        if event.error is not None:
            log.info("%s detached by %s: %s", record.describe(), self.peer, event.error)

    def _on_credit(self, event: CreditChanged) -> None:
        record = self.links.get(event.link)
        if record is not None and event.drained:
            record.draining = False

    def _on_delivery_received(self, event: DeliveryReceived) -> None:
        record = self.links.get(event.delivery.link)
        if record is not None:
            record.deliveries.append(event.delivery)
            if self.watchers:
                self.wake(record)

    def _on_part(self, event: DeliveryPartReceived) -> None:
        from . import _streaming  # it builds on this module

        _streaming.on_part(self, event)

    def _on_aborted(self, event: DeliveryAborted) -> None:
        from . import _streaming

        _streaming.on_aborted(self, event)

    def _on_delivery_updated(self, event: DeliveryUpdated) -> None:
        delivery = event.delivery
        # Spec 2.6.12: with rcv-settle-mode second the receiver waits for us to settle once it
        # has decided; settling as soon as the outcome is known keeps nothing dangling, even
        # when nobody waits for it any more (a cancelled or timed-out send).
        if delivery.link.is_sender and is_final(event.state) and not delivery.settled:
            delivery.settle()
            self.output_pending = True
        if not delivery.settled:
            if self.watchers:
                self.wake(delivery)
                if isinstance(event.state, REFUSALS):
                    self._wake_on_refusal(self.links.get(delivery.link))
        elif not event.settled:
            # Settled here just now; one the peer settled has its DeliverySettled next.
            self._on_delivery_settled(event)

    def _on_delivery_settled(self, event: DeliverySettled | DeliveryUpdated) -> None:
        delivery = event.delivery
        record = self.links.get(delivery.link)
        if record is not None:
            record.in_flight.discard(delivery)
        if self.watchers:
            self.wake(delivery)
            if isinstance(delivery.remote_state, REFUSALS):
                self._wake_on_refusal(record)

    def _wake_on_refusal(self, record: "LinkRecord | None") -> None:
        # A requester's reply wait watches its receiver, not the request: wake it as well.
        if record is not None and record.wake_on_refusal is not None:
            self.wake(record.wake_on_refusal)

    def _on_reconciled(self, event: UnsettledReconciled) -> None:
        # A resumed link (spec 2.6.13): the deliveries sent again or resumed are in flight
        # like any other; all of them are kept by tag for ``Sender.recovered``.
        record = self.links.get(event.link)
        if record is None:
            return
        # Aborted or lost ones (a snapshot without their messages) have no outcome to wait for.
        record.recovered = {tag: d for tag, d in event.deliveries.items() if not d.aborted and not d._ignored}
        if event.link.is_sender:
            record.in_flight.update(d for d in event.deliveries.values() if not d.settled)
        if event.lost:
            log.warning("%s: %d unsettled messages could not be sent again (no payload)", record.describe(), len(event.lost))

    def _on_violation(self, event: ProtocolViolationDetected) -> None:
        log.warning("%s broke the protocol: %s: %s", self.peer, event.condition, event.description)

    # -- the write buffer ------------------------------------------------------------------------
    def write_buffer_full(self) -> bool:
        """More bytes wait for the transport than ``write_buffer_limit`` allows."""
        limit = self.write_buffer_limit
        return limit is not None and self.unwritten() > limit

    def wrote(self) -> bool:
        """The adapter's transport took bytes: True when a send waiting for room should look
        again (then wake the waiters)."""
        if self.room_wanted and not self.write_buffer_full():
            self.room_wanted = False
            return True
        return False

    # -- checks ------------------------------------------------------------------------------------
    def check(self) -> None:
        """Raise why the connection cannot be used, or return if it can."""
        if self.error is not None:
            raise self.error
        if self.closing:
            raise ConnectionClosedError(f"the connection to {self.peer} is closed (you closed it)")
        if self.finished:
            raise ConnectionClosedError(f"the connection to {self.peer} is closed")

    def opened_or_failed(self) -> "ClientCore | Pending":
        """Predicate: the peer's OPEN arrived (raises the SASL/close/transport error otherwise)."""
        if self.opened and not self.finished:
            return self
        if self.error is not None:
            raise self.error
        if self.finished:
            raise ConnectionClosedError(f"the connection to {self.peer} closed before it opened")
        return PENDING

    def closed(self) -> "bool | Pending":
        """Predicate: the close handshake finished (or the connection died anyway)."""
        return True if self.finished else PENDING

    def next_name(self, kind: str) -> str:
        """A link name unique within this connection's container (spec 2.6.1)."""
        self._names += 1
        return f"{self.engine.config.container_id}-{kind}-{self._names}"

    # -- commands (run them through the adapter's Runner) -----------------------------------------
    def begin_session(self, **options: Any) -> "SessionRecord":
        """Begin a session; wait on ``SessionRecord.begun_or_failed``."""
        self.check()
        session = self.engine.begin_session(**options)
        record = SessionRecord(self, session)
        self.sessions[session] = record
        return record

    def session_for_links(self) -> "SessionRecord":
        """The connection's default session, begun on first use."""
        if self.default_session is None or self.default_session.ended:
            self.default_session = self.begin_session()
        return self.default_session

    def close(self) -> None:
        """Start the close handshake (nothing if the connection is already over)."""
        self.closing = True
        if not self.finished and not self.engine.finished:
            self.engine.close()


class SessionRecord:
    """A session as the adapters see it."""

    def __init__(self, core: ClientCore, session: Session) -> None:
        self.core = core
        self.session = session
        self.begun = False
        self.ended = False
        self.closing = False
        self.error: SessionEndedError | None = None
        #: the link to the transaction coordinator, attached on first use (``_transactions``)
        self.coordinator: LinkRecord | None = None
        #: it ended because the connection did (``_resume`` may begin it again)
        self.with_connection = False
        #: ``_resume`` began it again on a new connection (still to be, if that one failed)
        self.rebound = False

    def check(self) -> None:
        """Raise why the session cannot be used."""
        self.core.check()
        if self.error is not None:
            raise self.error
        if self.ended or self.closing:
            raise SessionEndedError("the session is ended (you ended it)" if self.closing else "the peer ended the session")

    def begun_or_failed(self) -> "SessionRecord | Pending":
        """Predicate: the peer answered our BEGIN."""
        self.check()
        return self if self.begun else PENDING

    def ended_or_gone(self) -> "bool | Pending":
        """Predicate: the END handshake finished (or the connection is over)."""
        return True if self.ended or self.core.finished else PENDING

    def end(self) -> None:
        """Start ending the session."""
        self.closing = True
        if not self.ended and not self.core.finished:
            self.session.end()

    def attach_sender(self, address: str | None, attach: Mapping[str, Any], *, name: str | None = None) -> "LinkRecord":
        """Attach a sending link with ``_options.sender_attach`` fields."""
        self.check()
        link = self.session.attach_sender(name or self.core.next_name("sender"), **attach)
        record = self._track(link, address, credit=0, auto_accept=False)
        record.at_most_once = attach.get("snd_settle_mode") is SenderSettleMode.SETTLED
        record.attach_fields = attach
        return record

    def attach_receiver(
        self, address: str | None, attach: Mapping[str, Any], *, credit: int, auto_accept: bool, name: str | None = None
    ) -> "LinkRecord":
        """Attach a receiving link and grant the prefetch credit at once (pipelined)."""
        if credit < 0:
            raise ValueError("credit must be >= 0 (0: manual flow control)")
        self.check()
        link = self.session.attach_receiver(name or self.core.next_name("receiver"), **attach)
        record = self._track(link, address, credit=credit, auto_accept=auto_accept)
        record.attach_fields = attach
        record.streaming = bool(attach.get("streaming"))
        if credit:
            assert isinstance(link, Receiver)
            link.flow(credit)
        return record

    def _track(self, link: Link, address: str | None, *, credit: int, auto_accept: bool) -> "LinkRecord":
        record = LinkRecord(self, link, address, credit_window=credit, auto_accept=auto_accept)
        self.core.links[link] = record
        return record


class LinkRecord:
    """A link as the adapters see it, with the receiver's buffer and credit policy.

    Prefetch policy (``credit_window`` > 0): keep ``credit + buffered`` near the window. Each
    time the application takes a delivery, and whenever a receive finds the buffer empty, the
    credit is topped up to ``window - buffered`` once that sum has fallen to half the window,
    so FLOW frames go out in batches rather than one per message. With a window of 0 credit is
    the application's business (``flow``, ``drain``).
    """

    def __init__(self, session: SessionRecord, link: Link, address: str | None, *, credit_window: int, auto_accept: bool) -> None:
        self.session = session
        self.core = session.core
        self.link = link
        self.requested_address = address
        self.credit_window = credit_window
        self.auto_accept = auto_accept
        self.attached = False
        self.detached = False
        self.detached_by_peer = False
        self.closing = False
        self.draining = False
        #: a sender whose deliveries go out pre-settled (``send`` waits for no outcome)
        self.at_most_once = False
        self.error: LinkDetachedError | None = None
        self.deliveries: deque[EngineDelivery] = deque()
        #: sent, unsettled deliveries whose outcome has not arrived (sender)
        self.in_flight: set[EngineDelivery] = set()
        #: a resumed link's deliveries by tag (``UnsettledReconciled.deliveries``)
        self.recovered: dict[bytes, EngineDelivery] = {}
        #: a receiver opened with ``streaming=True``: its messages arrive as streams
        #: (``_streaming.IncomingState``), handed out in order, and those still arriving
        self.streaming = False
        self.streams: deque[Any] = deque()
        self.streams_by_delivery: dict[EngineDelivery, Any] = {}
        self._described: str | None = None
        #: the ATTACH options it was opened with (``_resume`` attaches it again with them)
        self.attach_fields: Mapping[str, Any] | None = None
        #: after a reconnect: a delivery of an earlier link -> the one sent again in its
        #: place (``_resume``), so a ``Tracker`` follows its message
        self.successors: dict[EngineDelivery, EngineDelivery] = {}
        #: it detached because the connection ended (``_resume`` may attach it again)
        self.with_connection = False
        #: ``_resume`` attached it again on a new connection (still to be, if that one failed)
        self.rebound = False
        #: credit granted while a reconnect was putting the link back (granted on the new link)
        self.credit_owed = 0
        #: a sender's watch key to wake as well when one of its deliveries is refused
        #: (rejected, released, modified): a requester's receiver, whose wait then raises
        self.wake_on_refusal: object | None = None

    def current(self, delivery: EngineDelivery) -> EngineDelivery:
        """``delivery``, or, if it belonged to a link lost with its connection, what took its
        place: the message sent again, or the resumed delivery with the same tag."""
        if delivery.link is self.link:
            return delivery
        fresh = self.successors.get(delivery)
        if fresh is None:
            fresh = self.recovered.get(bytes(delivery.tag))
        return delivery if fresh is None else fresh

    def follow(self, old: EngineDelivery, fresh: EngineDelivery) -> None:
        """``fresh`` carries ``old``'s message now (and whatever ``old`` replaced before)."""
        for key, value in self.successors.items():
            if value is old:
                self.successors[key] = fresh
        self.successors[old] = fresh
        watcher = self.core.watchers.get(old)
        if watcher is not None:  # a wait parked on the old delivery wakes for the new one
            self.core.watchers.setdefault(fresh, watcher)

    def describe(self) -> str:
        """``receiver link from 'q'`` / ``sender link to 'q'`` for messages."""
        described = self._described
        if described is not None:
            return described
        if self.link.is_sender:
            text = f"sender link to {self.address!r}"
        else:
            text = f"receiver link from {self.address!r}"
        if self.attached:
            # Every send and receive names its link for a Timeout message: once attached the
            # address is final (a dynamic node's was assigned), so the text is made once.
            self._described = text
        return text

    @property
    def address(self) -> str | None:
        """The node address: what the peer assigned for dynamic termini, else what we asked."""
        terminus = self.link.remote_target if self.link.is_sender else self.link.remote_source
        dynamic_terminus = self.link.target if self.link.is_sender else self.link.source
        if getattr(dynamic_terminus, "dynamic", None) and terminus is not None and terminus.address is not None:
            return str(terminus.address)
        return self.requested_address

    def check(self) -> None:
        """Raise why the link cannot be used."""
        self.session.check()
        if self.detached or self.closing:
            raise self._detached_error()

    def _detached_error(self) -> LinkDetachedError:
        err = self.error
        if err is not None:
            what = "refused" if not self.attached else "detached"
            text = f"the peer {what} the {self.describe()}"
            if err.description:
                text += f": {err.description}"
            if err.condition == "amqp:link:redirect":
                address = {str(k): v for k, v in (err.info or {}).items()}.get("address")
                return LinkRedirectError(text, condition=err.condition, info=err.info, address=None if address is None else str(address))
            return LinkDetachedError(text, condition=err.condition, info=err.info)
        if self.closing:
            return LinkDetachedError(f"the {self.describe()} is closed (you closed it)")
        return LinkDetachedError(f"the peer closed the {self.describe()}")

    # -- predicates ------------------------------------------------------------------------------
    def attached_or_failed(self) -> "LinkRecord | Pending":
        """Predicate: the peer accepted our ATTACH (``LinkDetachedError`` if it refused).

        The ATTACH reply and a later detach can arrive in the same read; then the attach
        succeeded, the link is returned and the detach surfaces on the next call that uses
        it. That holds for a detach of ours (a delivery over max-message-size) and for the
        session or connection ending. A *peer's* detach carrying an error, right behind its
        ATTACH, is a refusal, and raised here: spec 2.6.3 asks for a null terminus in the
        refusing ATTACH, but Proton and rhea answer with an empty one.
        """
        if self.attached and not (self.detached_by_peer and self.error is not None):
            return self
        self.check()
        return PENDING

    def detached_or_gone(self) -> "bool | Pending":
        """Predicate: the DETACH handshake finished (or the session/connection is over)."""
        return True if self.detached or self.session.ended or self.core.finished else PENDING

    def room_to_send(self) -> "None | Pending":
        """Predicate: the connection's write buffer is below its limit (a slow peer makes
        ``send`` wait here rather than let the buffer grow without bound)."""
        core = self.core
        if not core.write_buffer_full():
            return None
        self.check()
        core.room_wanted = True
        return PENDING

    def sent(self, delivery: EngineDelivery) -> "None | Pending":
        """Predicate: every transfer of a pre-settled delivery is written (at-most-once)."""
        if delivery.complete or delivery.aborted:
            return None
        self.check()
        return PENDING

    def outcome(self, delivery: EngineDelivery) -> Any:
        """Predicate: the receiver's outcome (``Accepted``, ``Rejected``, ...; ``None`` if it
        settled without one; ``None`` too once aborted, spec 2.6.14)."""
        state = delivery.remote_state
        if isinstance(state, OUTCOMES) or delivery.remote_settled:
            return state
        if delivery.aborted:
            return None
        self.check()
        return PENDING

    def result(self, delivery: EngineDelivery) -> Any:
        """Predicate: what ``send`` returns for ``delivery``: ``sent`` at-most-once,
        ``outcome`` otherwise."""
        if delivery.link is not self.link:
            delivery = self.current(delivery)
            if delivery.link is not self.link and not self.known(delivery):
                # Lost with an earlier connection and not sent again (at-most-once).
                raise DeliveryInDoubtError(
                    f"the connection was lost before the message on the {self.describe()} was sent whole: "
                    "it may or may not have arrived, and is not sent again"
                )
        return self.sent(delivery) if self.at_most_once else self.outcome(delivery)

    def known(self, delivery: EngineDelivery) -> bool:
        """``result(delivery)`` would not be ``PENDING`` (nor raise): its fate is known."""
        if delivery.link is not self.link:
            delivery = self.current(delivery)
        if delivery.aborted:
            return True
        if self.at_most_once:
            return delivery.complete
        return delivery.remote_settled or isinstance(delivery.remote_state, OUTCOMES)

    def room_for(self, window: int | None, unsettled: int) -> "int | Pending":
        """Predicate: how many more messages ``send_many`` may queue now (> 0): as many as
        the link credit covers beyond what is already queued for it, and (``window``) no
        more than ``window - unsettled``."""
        link = self.link
        assert isinstance(link, Sender)
        room = link.credit.link_credit - link.queued
        if window is not None:
            room = min(room, window - unsettled)
        if room > 0:
            return room
        self.check()
        return PENDING

    def take_delivery(self, run: Runner) -> "Delivery | Pending":
        """Predicate: the next buffered delivery, handed to the application.

        Deliveries that arrived before the link ended are still handed out; then the
        link's end is raised. Tops up prefetch credit (see the class docstring).

        Raises:
            LocalProtocolError: the receiver streams (``receive_stream`` is its call).
        """
        if self.streaming:
            raise LocalProtocolError("this receiver was opened with streaming=True: use receive_stream()")
        if self.deliveries:
            delivery = self.deliveries.popleft()
            self.core.output_deferrable = bool(self.deliveries)
            self._top_up()
            return self._hand_out(delivery, run)
        self.check()
        self._top_up()
        return PENDING

    def take_all(self, run: Runner) -> list["Delivery"]:
        """Every buffered delivery, handed to the application."""
        taken = [self._hand_out(d, run) for d in self._drain_buffer()]
        self._top_up()
        return taken

    def _drain_buffer(self) -> list[EngineDelivery]:
        taken = list(self.deliveries)
        self.deliveries.clear()
        return taken

    def drained(self, run: Runner) -> "list[Delivery] | Pending":
        """Predicate: the sender answered our drain; returns the buffered deliveries."""
        if not self.draining:
            return self.take_all(run)
        self.check()
        return PENDING

    def _hand_out(self, delivery: EngineDelivery, run: Runner) -> "Delivery":
        public = Delivery(delivery, run)
        if self.auto_accept and not delivery.settled:
            delivery.accept()
            self.core.output_pending = True
        return public

    def _top_up(self, awaited: int | None = None) -> None:
        """Keep ``credit + buffered`` near the window. ``awaited``: how many messages callers
        wait for now (a requester's outstanding replies); while the credit left covers them
        the FLOW is not urgent and rides with the next write, as a reply's accept does
        (``ClientCore.ack_delayed``), rather than costing a write of its own (issue 9)."""
        window = self.credit_window
        link = self.link
        if not window or link.state is not LinkState.ATTACHED or not isinstance(link, Receiver):
            return
        buffered = len(self.deliveries) + len(self.streams)
        credit = link.credit.link_credit
        if credit + buffered <= window // 2 and not self.draining:
            link.flow(window - buffered)
            if awaited is not None and credit >= awaited:
                self.core.ack_delayed = True
            else:
                self.core.output_pending = True

    def _top_up_streams(self) -> None:
        self._top_up()

    # -- commands ----------------------------------------------------------------------------------
    def send(self, payload: bytes) -> EngineDelivery:
        """Queue one encoded message on the sender (pre-settled when ``at_most_once``)."""
        self.check()
        assert isinstance(self.link, Sender)
        delivery = self.link.send(payload, settled=self.at_most_once)
        if not self.at_most_once:
            self.in_flight.add(delivery)
        return delivery

    def send_batch(self, payloads: list[bytes]) -> list[EngineDelivery]:
        """Queue several encoded messages at once (one lock, one wake-up for all)."""
        return [self.send(payload) for payload in payloads]

    def withdraw(self, delivery: EngineDelivery) -> bool:
        """Take back a delivery nobody will wait for, if none of it has gone out yet.

        Returns True when it was withdrawn (never sent, no credit spent), False when it is
        already on the wire, in which case its outcome is still tracked and settled on arrival.
        While the connection is lost (a reconnect is coming) it is forgotten instead: the
        call that gives it up sends it again on the new connection.
        """
        if delivery.link is not self.link:
            delivery = self.current(delivery)
        if self.core.finished:
            self.in_flight.discard(delivery)
            return False
        if delivery.id is None and not delivery.aborted and not delivery.complete:
            try:
                delivery.abort()
            except AMQPError:
                return False
            self.in_flight.discard(delivery)
            return True
        return False

    def add_credit(self, count: int) -> None:
        """Grant ``count`` more credit (manual flow control)."""
        if count < 0:
            raise ValueError("count must be >= 0")
        self.check()
        assert isinstance(self.link, Receiver)
        self.link.flow(self.link.credit.link_credit + count)

    def start_drain(self) -> None:
        """Ask the sender to use up or give back all credit (spec 2.6.7)."""
        self.check()
        assert isinstance(self.link, Receiver)
        self.draining = True
        self.link.drain()

    def give_up_drain(self) -> None:
        """Nobody waits for the drain's answer any more (timed out or cancelled): let the
        prefetch policy grant credit again."""
        self.draining = False

    def detach(self, *, closed: bool) -> None:
        """Start closing (``closed``) or detaching the link."""
        self.closing = True
        if not self.detached and not self.session.ended and not self.core.finished:
            self.link.detach(closed=closed)


def encode_for(record: LinkRecord, message: Message | Any) -> bytes:
    """Encode what ``send`` was given; a non-``Message`` becomes the body of one.

    Raises:
        ValueError: an anonymous sender (no target address) got a message without ``to``.
    """
    if not isinstance(message, Message):
        message = Message(body=message)
    target = record.link.target
    if record.requested_address is None and not getattr(target, "dynamic", None):
        if message.properties is None or message.properties.to is None:
            raise ValueError("this sender is anonymous (no address): give each message properties.to")
    return message.encode()
