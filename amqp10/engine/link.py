"""Links (spec 2.6): ATTACH/DETACH, termini, settle modes, and the two ends, Sender and Receiver.

Owns: ``Link`` (handshake, terminus and capability fields, both as we sent them and as the
peer sent them), ``Sender`` (queued deliveries, credit spending, drain answers) and
``Receiver`` (credit grants, drain requests, assembly of incoming transfers). A link the peer
attached is the same class as one we attached (DESIGN.md rule 4); it starts in ATTACH_RCVD.
Must never: touch the session window or write frames except through its session.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..codec.spec import (
    Attach,
    Detach,
    Error,
    Flow,
    ReceiverSettleMode,
    Role,
    SenderSettleMode,
    Source,
    Target,
    Transfer,
)
from ..codec.types import UInt
from ..errors import LinkDetachedError, LocalProtocolError
from .credit import CreditExceeded, LinkCredit
from .delivery import Delivery
from .events import (
    CreditChanged,
    DeliveryAborted,
    DeliveryPartReceived,
    DeliveryReceived,
    LinkAttached,
    LinkDetached,
)
from .fsm import StateMachine, TransitionRefused
from . import resuming
from .recovery import UnsettledDelivery, UnsettledMap, remote_map
from .streaming import StreamedTransfer
from .states import LinkInput, LinkState
from .tables import LINK_TRANSITIONS
from .transfer import OutgoingTransfer, fits_message_size
from .violations import PeerViolation, Violation

if TYPE_CHECKING:
    from .session import Session

__all__ = ["Link", "Sender", "Receiver", "link_error"]

_SENDING_STATES = (LinkState.ATTACH_SENT, LinkState.ATTACHED)
_FORMAT_0 = UInt(0)  # message-format 0, the standard AMQP message (spec 2.7.5)
_STATE = 7  # index of ``state`` in the TRANSFER field list (spec 2.7.5)


def link_error(error: Error | None) -> LinkDetachedError | None:
    """The typed exception for a DETACH's error field."""
    if error is None:
        return None
    return LinkDetachedError(error.description, condition=error.condition, info=error.info)


class Link:
    """One end of a link. Use ``Session.attach_sender`` / ``attach_receiver``, or answer a
    ``LinkRemotelyAttached`` event.

    Attributes (ours, sent in ATTACH; settable until attached):
        name, handle, role, source, target, snd_settle_mode, rcv_settle_mode,
        max_message_size (the largest message we accept, spec 2.7.3; 0: no limit, say so
        explicitly; ``None``: a receiver takes its connection's
        ``Config.limits.max_message_size`` when it sends its ATTACH, a sender advertises none),
        offered_capabilities, desired_capabilities, properties,
        local_unsettled (the ``UnsettledMap`` this link resumes from, spec 2.6.13: its tags
        and states go out as the ATTACH ``unsettled`` map; ``None``: a plain attach).
    Attributes (the peer's, from its ATTACH): remote_source, remote_target,
        remote_max_message_size, remote_offered_capabilities, remote_desired_capabilities,
        remote_properties, remote_unsettled, remote_attach (the whole ATTACH).

    ``unsettled`` is the snapshot to resume this link from on a new connection: read it when
    the link is gone (the connection broke) and give it as ``unsettled=`` to the new link of
    the same name (``engine.recovery`` has the rules).
    """

    # Slots, not an instance dict: a server holds a link or two per connection for the
    # connection's life, and a dict of this many keys is not key-shared (CPython shares
    # keys up to 29), so a Sender's dict alone cost 1.5 KiB.
    __slots__ = (
        "session", "name", "handle", "remote_handle", "source", "target", "snd_settle_mode",
        "rcv_settle_mode", "max_message_size", "initial_delivery_count", "offered_capabilities",
        "desired_capabilities", "properties", "local_unsettled", "_reconciled", "_sent_incomplete",
        "_refused_by_peer", "_orphans", "remote_attach", "remote_detach", "_detach_error", "credit",
        "_fsm", "__weakref__",
    )

    role: Role

    def __init__(
        self,
        session: "Session",
        name: str,
        handle: int,
        *,
        source: Source | None = None,
        target: Target | Any = None,
        snd_settle_mode: SenderSettleMode = SenderSettleMode.MIXED,
        rcv_settle_mode: ReceiverSettleMode = ReceiverSettleMode.FIRST,
        max_message_size: int | None = None,
        initial_delivery_count: int = 0,
        offered_capabilities: Sequence[str] | None = None,
        desired_capabilities: Sequence[str] | None = None,
        properties: Mapping[Any, Any] | None = None,
        unsettled: UnsettledMap | None = None,
    ) -> None:
        self.session = session
        self.name = name
        self.handle = handle
        self.remote_handle: int | None = None
        self.source = source
        self.target = target
        self.snd_settle_mode = SenderSettleMode(snd_settle_mode)
        self.rcv_settle_mode = ReceiverSettleMode(rcv_settle_mode)
        self.max_message_size = max_message_size
        self.initial_delivery_count = initial_delivery_count
        self.offered_capabilities = offered_capabilities
        self.desired_capabilities = desired_capabilities
        self.properties = properties
        self.local_unsettled = unsettled
        self._reconciled = False
        self._sent_incomplete = False  # our ATTACH said incomplete-unsettled (spec 2.7.3)
        self._refused_by_peer = False
        # The unsettled deliveries this link had when its session forgot it (for ``unsettled``).
        self._orphans: list[Delivery] | None = None
        self.remote_attach: Attach | None = None
        self.remote_detach: Detach | None = None
        self._detach_error: Error | None = None  # the error our DETACH carried, if any
        self.credit = LinkCredit(initial_delivery_count)
        self._fsm: StateMachine[LinkState, LinkInput] = StateMachine(
            LINK_TRANSITIONS, LinkState.DETACHED
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} handle={self.handle} {self.state.name}>"

    # -- the peer's view -----------------------------------------------------------------
    @property
    def state(self) -> LinkState:
        """Where the attach/detach handshake is."""
        return self._fsm.state

    @property
    def remote_source(self) -> Any:
        """The source the peer sent in its ATTACH."""
        return self.remote_attach.source if self.remote_attach else None

    @property
    def remote_target(self) -> Any:
        """The target the peer sent in its ATTACH."""
        return self.remote_attach.target if self.remote_attach else None

    @property
    def remote_max_message_size(self) -> int | None:
        """The largest message the peer accepts (0 or ``None``: no limit)."""
        return self.remote_attach.max_message_size if self.remote_attach else None

    @property
    def remote_offered_capabilities(self) -> Any:
        """The peer's offered-capabilities."""
        return self.remote_attach.offered_capabilities if self.remote_attach else None

    @property
    def remote_desired_capabilities(self) -> Any:
        """The peer's desired-capabilities."""
        return self.remote_attach.desired_capabilities if self.remote_attach else None

    @property
    def remote_properties(self) -> Any:
        """The peer's link properties."""
        return self.remote_attach.properties if self.remote_attach else None

    @property
    def remote_unsettled(self) -> dict[bytes, Any] | None:
        """The peer's ATTACH ``unsettled`` map (delivery-tag -> state), ``None`` if it sent none."""
        if self.remote_attach is None or self.remote_attach.unsettled is None:
            return None
        return remote_map(self.remote_attach.unsettled)

    @property
    def unsettled(self) -> UnsettledMap:
        """What this end has not settled, to resume the link from (spec 2.6.13).

        Still right after the link, its session or its connection ended: that is when to
        read it, then give it as ``unsettled=`` to the link that resumes this one.
        """
        raise NotImplementedError  # pragma: no cover - both subclasses override

    def _unsettled_deliveries(self) -> list[Delivery]:
        """Our unsettled deliveries the session tracks (or tracked when it forgot the link)."""
        if self._orphans is not None:
            return self._orphans
        table = self.session._outgoing if self.role is Role.SENDER else self.session._incoming
        return [d for d in table.values() if d.link is self]

    @property
    def is_sender(self) -> bool:
        """True for the sending end."""
        return self.role is Role.SENDER

    # -- commands ------------------------------------------------------------------------
    def attach(self) -> None:
        """Send our ATTACH: open a new link, or accept one the peer attached.

        Raises:
            LocalProtocolError: the link is not detached / awaiting our answer, or its session
                is not usable.
        """
        if not self._fsm.can(LinkInput.SEND_ATTACH):
            raise LocalProtocolError(f"cannot attach a link in state {self.state.name}")
        self.session._check_usable()
        self._send_attach(refuse=False)
        if self.remote_attach is not None:
            self._reconcile()  # we answer a peer's ATTACH: both unsettled maps are known now

    def detach(self, *, closed: bool = True, error: Error | None = None) -> None:
        """Detach (``closed=False``) or close the link (spec 2.6.5/2.6.6).

        For a link the peer attached and we have not answered, this refuses it: an ATTACH
        with a null terminus, then the DETACH (spec 2.6.3).

        Raises:
            LocalProtocolError: already detached or detaching.
        """
        if self.state is LinkState.ATTACH_RCVD:
            self._send_attach(refuse=True)
        if not self._fsm.can(LinkInput.SEND_DETACH):
            raise LocalProtocolError(f"cannot detach a link in state {self.state.name}")
        self._fsm.process(LinkInput.SEND_DETACH)
        self._detach_error = error
        self.session._send(Detach(handle=self.handle, closed=closed or None, error=error))
        if self.state is LinkState.DETACHED:
            self.session._forget_link(self)

    def _send_attach(self, *, refuse: bool) -> None:
        source, target = self.source, self.target
        if refuse:
            # Spec 2.6.3: a refusing peer answers with a null terminus for its own end.
            if self.role is Role.SENDER:
                source = None
            else:
                target = None
        if self.role is Role.RECEIVER and self.max_message_size is None:
            # Incoming memory is bounded unless asked otherwise: the default is the
            # connection's limit, advertised so that a conforming sender never crosses it.
            self.max_message_size = self.session.connection.config.limits.max_message_size
        self._fsm.process(LinkInput.SEND_ATTACH)
        resume = None if refuse else self.local_unsettled
        if resume is not None:
            self._resuming(resume)
        attach = Attach(
                name=self.name,
                handle=self.handle,
                role=self.role,
                snd_settle_mode=self.snd_settle_mode,
                rcv_settle_mode=self.rcv_settle_mode,
                source=source,
                target=target,
                unsettled=None if resume is None else resume.states(),
                incomplete_unsettled=True if resume is not None and resume.incomplete else None,
                initial_delivery_count=(
                    self.credit.delivery_count if self.role is Role.SENDER else None
                ),
                max_message_size=self.max_message_size,
                offered_capabilities=self.offered_capabilities,
                desired_capabilities=self.desired_capabilities,
                properties=self.properties,
            )
        if resume is not None and resume.deliveries:
            attach = resuming.fit_unsettled(attach, self.session.connection.remote_max_frame_size)
        self._sent_incomplete = bool(attach.incomplete_unsettled)
        self.session._send(attach)

    # -- the peer's frames (called by the session) -------------------------------------------
    def _on_remote_attach(self, attach: Attach, *, answer: bool) -> None:
        self._fsm.process(LinkInput.RECV_ATTACH)
        self.remote_attach = attach
        # Spec 2.6.3: an answer with a null terminus for the peer's own end refuses the link
        # (nothing to resume then).
        peer_terminus = attach.target if self.role is Role.SENDER else attach.source
        self._refused_by_peer = answer and peer_terminus is None
        # The sender decides snd-settle-mode and the receiver rcv-settle-mode (spec 2.6.3):
        # adopt the peer's choice for its half.
        if self.role is Role.SENDER:
            if attach.rcv_settle_mode is not None:
                self.rcv_settle_mode = ReceiverSettleMode(attach.rcv_settle_mode)
        else:
            if attach.snd_settle_mode is not None:
                self.snd_settle_mode = SenderSettleMode(attach.snd_settle_mode)
            if attach.initial_delivery_count is not None:
                self.credit.delivery_count = int(attach.initial_delivery_count)
        if answer and self.state is LinkState.ATTACHED:
            self.session._events.append(LinkAttached(link=self))
            self._reconcile()

    def _reconcile(self) -> None:
        """Compare our unsettled map with the peer's (spec 2.6.13), once per resumed attach."""

    def _resuming(self, unsettled: UnsettledMap) -> None:
        """Our ATTACH goes out with ``unsettled``: prepare for its deliveries."""

    def _on_remote_detach(self, detach: Detach) -> None:
        try:
            self._fsm.process(LinkInput.RECV_DETACH)
        except TransitionRefused:
            raise PeerViolation(
                Violation.ILLEGAL_STATE, f"DETACH for a link in state {self.state.name}"
            ) from None
        self.remote_detach = detach
        by_peer = self.state is LinkState.DETACH_RCVD
        if by_peer:
            # The engine answers a peer's detach at once (events.py: "Ending and errors").
            self._fsm.process(LinkInput.SEND_DETACH)
            self.session._send(Detach(handle=self.handle, closed=detach.closed or None))
        self.session._forget_link(self)
        # Our own error when we detached because of one (a peer's violation, or the user's
        # detach(error=...)) and the peer's answer carries none, as ConnectionClosed does.
        error = detach.error if detach.error is not None or by_peer else self._detach_error
        self.session._events.append(
            LinkDetached(
                link=self,
                closed=bool(detach.closed),
                error=link_error(error),
                by_peer=by_peer,
            )
        )

    def _on_flow(self, flow: Flow) -> None:
        raise NotImplementedError  # pragma: no cover - both subclasses override

    def _on_transfer(self, transfer: Transfer, payload: memoryview) -> None:
        raise PeerViolation(
            Violation.TRANSFER_TO_SENDER,
            f"TRANSFER on link {self.name!r}, where the peer is the receiver",
            channel=self.session.channel,
            handle=self.handle,
        )

    def _delivery_updated(self, delivery: Delivery, state: Any, settle: bool) -> None:
        self.session._queue_disposition(self.role, delivery, state, settle)

    def _abort(self, delivery: Delivery) -> None:
        raise LocalProtocolError("only a sender can abort a delivery")

    def _session_ended(self, error: Any, by_peer: bool) -> None:
        """The session ended under this link: it is detached without a DETACH (spec 2.5)."""
        if self.state is LinkState.DETACHED:
            return
        self._fsm.state = LinkState.DETACHED
        self.session._events.append(
            LinkDetached(link=self, closed=False, error=error, by_peer=by_peer)
        )

    def _flow_frame(self, *, echo: bool = False) -> Flow:
        w = self.session.window
        c = self.credit
        return Flow(
            next_incoming_id=w.next_incoming_id,
            incoming_window=w.incoming_window,
            next_outgoing_id=w.next_outgoing_id,
            outgoing_window=w.outgoing_window,
            handle=self.handle,
            delivery_count=c.delivery_count,
            link_credit=c.link_credit,
            available=c.available,
            drain=c.drain,
            echo=echo or None,
        )


class Sender(Link):
    """The sending end: ``send`` queues deliveries; they go out as credit and window allow."""

    role = Role.SENDER
    __slots__ = ("_queue", "_current", "_drain_answer_due", "_tag_counter", "_wire_handle", "_undecided", "_peer_incomplete")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: deque[Delivery] = deque()
        self._current: tuple[Delivery, OutgoingTransfer | StreamedTransfer] | None = None
        self._drain_answer_due = False
        self._tag_counter = 0
        self._wire_handle = UInt(self.handle)
        # Resuming (spec 2.6.13): deliveries the peer's incomplete map left undecided, and
        # whether that map forbids new deliveries on this attach.
        self._undecided: list[UnsettledDelivery] = []
        self._peer_incomplete = False

    @property
    def queued(self) -> int:
        """Deliveries waiting for credit or window (not counting one partly sent)."""
        return len(self._queue)

    @property
    def idle(self) -> bool:
        """Nothing queued and no delivery partly sent."""
        return self._current is None and not self._queue

    def send(
        self,
        payload: bytes | bytearray | memoryview,
        *,
        tag: bytes | None = None,
        settled: bool | None = None,
        message_format: int = 0,
        state: Any = None,
        _stream: bool = False,
    ) -> Delivery:
        """Queue one encoded message; it is sent when credit and the session window allow.

        Args:
            payload: the encoded message (``Message.encode()``); never decoded here.
            tag: the delivery-tag (at most 32 bytes); default: a per-link counter.
            settled: send pre-settled. Default: true for snd-settle-mode ``settled``,
                false otherwise.
            message_format: spec 2.7.5 message-format (0: AMQP message).
            state: the delivery state the first TRANSFER carries (spec 2.7.5 ``state``):
                a ``TransactionalState`` makes the delivery part of a transaction (4.4.1).

        Returns:
            The ``Delivery``; watch for ``DeliveryUpdated``/``DeliverySettled`` unless settled.

        Raises:
            LocalProtocolError: the link is not attached (or attaching), ``settled``
                contradicts the snd-settle-mode, the tag is too long, or the payload exceeds
                the peer's max-message-size.
        """
        if self.state not in _SENDING_STATES:
            raise LocalProtocolError(f"cannot send on a link in state {self.state.name}")
        if self._peer_incomplete:
            raise LocalProtocolError(
                "the peer's unsettled map was incomplete: no new delivery until the link is "
                "resumed again with complete maps (spec 2.6.13)"
            )
        mode = self.snd_settle_mode
        if settled is None:
            settled = mode is SenderSettleMode.SETTLED
        elif settled and mode is SenderSettleMode.UNSETTLED:
            raise LocalProtocolError("snd-settle-mode is unsettled: cannot send pre-settled")
        elif not settled and mode is SenderSettleMode.SETTLED:
            raise LocalProtocolError("snd-settle-mode is settled: every delivery is pre-settled")
        if tag is None:
            tag = self._tag_counter.to_bytes(4, "big") if self._tag_counter < 1 << 32 else (
                self._tag_counter.to_bytes(8, "big")
            )
            self._tag_counter += 1
        elif len(tag) > 32:
            raise LocalProtocolError("a delivery-tag is at most 32 bytes (spec 2.8.7)")
        limit = self.remote_max_message_size
        if limit and len(payload) > limit:
            # 2.7.3: the receiver would close the link with message-size-exceeded; refuse here,
            # before anything is sent, so the link stays usable.
            raise LocalProtocolError(
                f"message of {len(payload)} bytes exceeds the peer's max-message-size {int(limit)}"
            )
        view = payload if isinstance(payload, memoryview) else memoryview(payload)
        if type(tag) is not bytes:
            tag = bytes(tag)
        delivery = Delivery(self, tag, payload=view, message_format=message_format, settled=settled)
        if state is not None:
            delivery.local_state = state
        if _stream:
            delivery._stream = StreamedTransfer()
        self._queue.append(delivery)
        self.session._pump()
        return delivery

    def open_stream(
        self, *, tag: bytes | None = None, settled: bool | None = None, message_format: int = 0
    ) -> Delivery:
        """Queue a delivery whose payload is given piece by piece (``stream_write``), for a
        message too large to hold whole (spec 2.6.14: a delivery spans any number of
        TRANSFER frames with ``more=true``).

        It goes out in full frames as its bytes arrive, when its turn, credit and window
        come; ``stream_finish`` sends the rest and ends it; ``Delivery.abort`` ends it with
        ``aborted=true``. Deliveries queued after it wait until it is finished (a link
        carries one delivery at a time).

        Raises:
            LocalProtocolError: as ``send``.
        """
        delivery = self.send(b"", tag=tag, settled=settled, message_format=message_format, _stream=True)
        return delivery

    def stream_write(self, delivery: Delivery, data: bytes | bytearray | memoryview) -> None:
        """Add payload bytes to a delivery from ``open_stream``.

        Raises:
            LocalProtocolError: it is not an open stream of this sender (finished, aborted),
                or the bytes take it over the peer's max-message-size (then abort it).
        """
        stream = self._open_stream_of(delivery)
        limit = self.remote_max_message_size
        if limit and stream.written + stream.buffered + len(data) > limit:
            raise LocalProtocolError(f"the streamed message exceeds the peer's max-message-size {int(limit)}")
        stream.feed(data)
        self.session._pump()

    def stream_finish(self, delivery: Delivery) -> None:
        """End a delivery from ``open_stream``: its last frame goes out with what is buffered.

        Raises:
            LocalProtocolError: it is not an open stream of this sender.
        """
        self._open_stream_of(delivery).finish()
        self.session._pump()

    def _open_stream_of(self, delivery: Delivery) -> StreamedTransfer:
        stream = delivery._stream
        if delivery.link is not self or stream is None or stream.finished or delivery.aborted:
            raise LocalProtocolError("not an open stream of this sender (finished or aborted)")
        return stream

    def _resuming(self, unsettled: UnsettledMap) -> None:
        # Default tags continue past the resumed ones: a tag is unique among a link's
        # unsettled deliveries (spec 2.8.7).
        for entry in unsettled:
            if len(entry.tag) in (4, 8):
                self._tag_counter = max(self._tag_counter, int.from_bytes(entry.tag, "big") + 1)

    @property
    def unsettled(self) -> UnsettledMap:
        """Every delivery not yet settled here, with its message, oldest first: sent and
        waiting for an outcome, partly sent, or queued (spec 2.6.13; see ``Link``)."""
        return resuming.sender_snapshot(self)

    def _reconcile(self) -> None:
        resuming.reconcile_sender(self)

    def drained(self) -> None:
        """Finish a drain the receiver asked for (spec 2.6.7): give back unused credit.

        The engine calls this itself when ``data_to_send`` is called with nothing queued on a
        draining link; call it earlier if you know nothing more will be sent.
        """
        if self._drain_answer_due and self._current is None and not self._queue:
            self.credit.sender_drain()
            self._send_drain_answer()

    def _send_drain_answer(self) -> None:
        self._drain_answer_due = False
        self.credit.available = len(self._queue)
        self.session._send(self._flow_frame())

    @property
    def _drain_answer_ready(self) -> bool:
        # The receiver asked to drain and we can answer now: nothing left to send, or no
        # credit left to send it with (spec 2.6.7).
        return self._drain_answer_due and self.state is LinkState.ATTACHED and (
            self.idle or self.credit.link_credit == 0
        )

    def _auto_drain(self) -> None:
        if self._drain_answer_ready:
            if self.idle:
                self.credit.sender_drain()
            self._send_drain_answer()

    def _on_flow(self, flow: Flow) -> None:
        self.credit.sender_on_flow(
            None if flow.delivery_count is None else int(flow.delivery_count),
            int(flow.link_credit or 0),
            bool(flow.drain),
        )
        if flow.drain:
            self._drain_answer_due = True
        c = self.credit
        self.session._events.append(
            CreditChanged(
                link=self,
                link_credit=c.link_credit,
                delivery_count=c.delivery_count,
                available=c.available,
                drain=c.drain,
            )
        )
        if flow.echo:
            self.credit.available = len(self._queue)
            self.session._send(self._flow_frame())

    # Called by the session's pump: write at most one frame; return False if blocked.
    def _write_next_frame(self) -> bool:
        if self.state is not LinkState.ATTACHED:
            return False
        if self._current is None:
            if not self._queue or self.credit.link_credit <= 0:
                return False
            head = self._queue[0]
            if head._stream is not None and not head._stream.ready(self.session.connection.remote_max_frame_size):
                return False  # a stream's first frame waits for a frame's worth (or its end)
            delivery = self._queue.popleft()
            delivery.id = did = self.session._allocate_delivery_id()
            self.credit.sender_consume()
            # The first TRANSFER as wire values (spec 2.7.5 field order: handle, delivery-id,
            # delivery-tag, message-format, settled), without a Transfer object per delivery.
            fmt = delivery.message_format
            first: list[Any] = [self._wire_handle, UInt(did), delivery.tag, _FORMAT_0 if fmt == 0 else UInt(fmt)]
            if delivery.settled:
                first.append(True)
            if delivery.local_state is not None:
                # 4.4.1: a transactional transfer carries its transactional-state; fields
                # settled, more and rcv-settle-mode come first (2.7.5 field order).
                first += [None] * (_STATE - len(first)) + [delivery.local_state]
            if delivery.resumed:
                first = resuming.resumed_fields(first, delivery)
            writer: OutgoingTransfer | StreamedTransfer
            if delivery._stream is not None:
                writer = delivery._stream
                writer.start(first)
            else:
                assert isinstance(delivery.payload, memoryview)
                writer = OutgoingTransfer(first, delivery.payload)
            self._current = (delivery, writer)
            if not delivery.settled:
                self.session._track_outgoing(delivery)
        delivery, writer = self._current
        if delivery._stream is not None and not delivery.aborted and not delivery._stream.ready(
            self.session.connection.remote_max_frame_size
        ):
            return False  # the application has not given the next frame's worth yet
        if delivery.aborted:
            # Spec 2.6.14: the abort is itself a transfer frame, so it waits for window too.
            self._current = None
            self.session._write_abort(self, delivery)
            return True
        if self.session._write_transfer(writer):
            self._current = None
            delivery.complete = True
            if delivery._ignored:
                delivery.aborted = True  # the resumed transfer said aborted=true
        return True

    def _abort(self, delivery: Delivery) -> None:
        if delivery.link is not self or delivery.complete or delivery.aborted:
            raise LocalProtocolError("only a delivery still being sent can be aborted")
        if self._current is not None and self._current[0] is delivery:
            delivery.aborted = True
            self.session._pump()
            return
        try:
            self._queue.remove(delivery)
        except ValueError:
            raise LocalProtocolError("the delivery is not queued on this sender") from None
        delivery.aborted = True


class Receiver(Link):
    """The receiving end: grant credit with ``flow``; deliveries arrive as events."""

    role = Role.RECEIVER
    __slots__ = ("streaming", "_incoming", "_awaiting")

    def __init__(self, *args: Any, streaming: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: hand each TRANSFER's bytes on as ``DeliveryPartReceived`` instead of assembling
        #: whole messages: nothing is held, so they do not count against
        #: ``Limits.max_partial_deliveries_size`` (``max_message_size`` still applies; the
        #: client API sets it to 0 for streaming receivers); see ``release_parts``
        self.streaming = streaming
        self._incoming: Delivery | None = None
        # Resuming (spec 2.6.13): deliveries both maps hold, awaiting the sender's resumed
        # transfer, by tag; and whether first transfers need the recovery checks at all.
        self._awaiting: dict[bytes, Delivery] = {}

    def flow(self, credit: int, *, drain: bool = False, echo: bool = False) -> None:
        """Set the link-credit to ``credit`` (absolute, spec 2.6.7) and send a FLOW.

        Raises:
            LocalProtocolError: the link is not attached or attaching, or credit is not a uint.
        """
        if self.state not in _SENDING_STATES:
            raise LocalProtocolError(f"cannot grant credit on a link in state {self.state.name}")
        if not 0 <= credit < 1 << 32:
            raise LocalProtocolError("credit must be in [0, 2**32)")
        self.credit.receiver_grant(credit, drain)
        self.session._send(self._flow_frame(echo=echo))

    def drain(self, credit: int | None = None) -> None:
        """Ask the sender to use the credit now or give it back (spec 2.6.7 drain).

        ``CreditChanged(drained=True)`` reports when the sender has answered.
        """
        self.flow(self.credit.link_credit if credit is None else credit, drain=True)

    def _on_flow(self, flow: Flow) -> None:
        drained = self.credit.receiver_on_flow(
            None if flow.delivery_count is None else int(flow.delivery_count),
            None if flow.available is None else int(flow.available),
        )
        c = self.credit
        self.session._events.append(
            CreditChanged(
                link=self,
                link_credit=c.link_credit,
                delivery_count=c.delivery_count,
                available=c.available,
                drain=c.drain,
                drained=drained,
            )
        )
        if flow.echo:
            self.session._send(self._flow_frame())

    @property
    def unsettled(self) -> UnsettledMap:
        """Every delivery received and not settled here, with the state set here, oldest
        first, and those still awaiting a resumed transfer (spec 2.6.13; see ``Link``)."""
        return resuming.receiver_snapshot(self)

    def _reconcile(self) -> None:
        resuming.reconcile_receiver(self)

    def release_parts(self, count: int = 1) -> None:
        """The application took ``count`` held parts (``DeliveryPartReceived.held``) of
        streamed deliveries, or dropped them: their frames no longer hold the session's
        incoming window shut, and it is reopened (a FLOW) once half of it can be."""
        self.session._release_held(count)

    def _drop_incoming(self, delivery: Delivery) -> None:
        """Discard the unfinished incoming delivery (aborted, refused, or the link gone)."""
        self._incoming = None
        delivery._discard()  # its buffer goes now, not when the last event about it does
        if not self.streaming:
            self.session.connection._release_partial(delivery.size)
        self.session._untrack_incoming(delivery)

    def _on_transfer(self, transfer: Transfer, payload: memoryview) -> None:
        # The hot path of every received message: each field is read once.
        session = self.session
        delivery = self._incoming
        delivery_id = transfer.delivery_id
        delivery_tag = transfer.delivery_tag
        settled = transfer.settled
        if delivery is None:
            if delivery_id is None or delivery_tag is None:
                raise PeerViolation(
                    Violation.BAD_DELIVERY_ID,
                    "first TRANSFER of a delivery without delivery-id or delivery-tag",
                    channel=session.channel,
                )
            session._check_incoming_delivery_id(int(delivery_id))
            try:
                self.credit.receiver_on_transfer()
            except CreditExceeded:
                raise PeerViolation(
                    Violation.TRANSFER_LIMIT_EXCEEDED,
                    f"TRANSFER on {self.name!r} with no link credit",
                    channel=session.channel,
                    handle=self.handle,
                ) from None
            if len(delivery_tag) > 32:
                raise PeerViolation(
                    Violation.DELIVERY_TAG_TOO_LONG,
                    f"delivery-tag of {len(delivery_tag)} bytes on {self.name!r}",
                    channel=session.channel,
                    handle=self.handle,
                )
            if transfer.resume or self.local_unsettled is not None:
                delivery = resuming.first_transfer(self, transfer, bytes(delivery_tag), int(delivery_id))
            else:
                delivery = Delivery(
                    self,
                    bytes(delivery_tag),
                    message_format=int(transfer.message_format or 0),
                    delivery_id=int(delivery_id),
                )
            self._incoming = delivery
            if not settled:
                session._track_incoming(delivery)
        elif delivery_id is not None and delivery_id != delivery.id:
            raise PeerViolation(
                Violation.BAD_DELIVERY_ID,
                f"continuation TRANSFER with delivery-id {delivery_id}, "
                f"expected {delivery.id}",
                channel=session.channel,
            )
        elif delivery_tag is not None and bytes(delivery_tag) != delivery.tag:
            self._drop_incoming(delivery)
            raise PeerViolation(
                Violation.DELIVERY_TAG_CHANGED,
                f"continuation TRANSFER on {self.name!r} with tag {bytes(delivery_tag)!r}, "
                f"expected {delivery.tag!r}",
                channel=session.channel,
                handle=self.handle,
            )
        if settled:
            delivery.remote_settled = True
        state = transfer.state
        if state is not None:
            delivery.remote_state = state
        if transfer.aborted:
            # Spec 2.6.14: an aborted delivery is discarded; its bytes never surface.
            self._drop_incoming(delivery)
            delivery.aborted = True
            delivery.settled = True
            session._events.append(DeliveryAborted(delivery=delivery))
            return
        limit = self.max_message_size
        if limit is None:
            limit = session.connection.config.limits.max_message_size
        # 2.7.3 / 2.8.17: checked before the chunk is kept, so an oversized delivery never
        # holds more than the limit (a single oversized frame is refused the same way).
        if not fits_message_size(delivery.size, len(payload), limit):
            self._drop_incoming(delivery)
            raise PeerViolation(
                Violation.MESSAGE_SIZE_EXCEEDED,
                f"delivery on {self.name!r} reaches {delivery.size + len(payload)} bytes, "
                f"over max-message-size {limit}",
                channel=session.channel,
                handle=self.handle,
            )
        if self.streaming and not delivery.resumed:
            self._on_part(delivery, transfer, payload)
            return
        connection = session.connection
        if transfer.more or delivery._size or delivery.resumed or connection._partial_bytes:
            # Limits.max_partial_deliveries_size, also before the chunk is kept.
            connection._hold_partial(delivery.size, len(payload))
            delivery._append(payload)
            if transfer.more:
                return
            connection._release_partial(delivery.size)
            delivery._finish()
        else:
            # A whole message in one frame while no other delivery holds partial bytes (so
            # that limit cannot be crossed): kept as one copy, without gathering (issue 9:
            # the usual case of every received message).
            delivery._finish_whole(payload)
        self._incoming = None
        if delivery.remote_settled:
            # A pre-settled delivery needs no disposition: this end is done with it too.
            delivery.settled = True
        if delivery.resumed:
            resuming.finish_resumed(self, delivery)
            return
        session._events.append(DeliveryReceived(delivery=delivery))

    def _on_part(self, delivery: Delivery, transfer: Transfer, payload: memoryview) -> None:
        # A streaming receiver keeps nothing: each frame's bytes go to the application, and
        # the frame is "held" (its window slot not given back) until it says it took them.
        session = self.session
        held = len(payload) > 0
        if held:
            session._held_transfers += 1
        delivery._size += len(payload)
        more = bool(transfer.more)
        if not more:
            self._incoming = None
            delivery.complete = True
            if delivery.remote_settled:
                delivery.settled = True
        session._events.append(DeliveryPartReceived(delivery=delivery, chunk=bytes(payload), more=more, held=held))
