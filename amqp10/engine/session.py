"""Sessions (spec 2.5): BEGIN/END, the handle map, delivery-ids, and frame routing to links.

Owns: ``Session``: its state machine, its ``SessionWindow``, the local and remote handle maps
(and handle-max), delivery-id allocation and checking, the unsettled deliveries of both
directions, routing of FLOW, TRANSFER and DISPOSITION, the batching of outgoing dispositions
into ranges, and the pump that writes queued transfers while credit and window allow. Must
never: touch the byte stream (it asks its connection to write frames) or decide conditions
(it raises ``PeerViolation`` with a row of ``violations.py``).
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..codec.composite import Composite
from ..codec.spec import (
    Accepted,
    Attach,
    Begin,
    Detach,
    Disposition,
    End,
    Error,
    Flow,
    Modified,
    Received,
    ReceiverSettleMode,
    Rejected,
    Released,
    Role,
    SenderSettleMode,
    Source,
    Target,
    Transfer,
)
from ..codec.types import UInt
from ..errors import LocalProtocolError, SessionEndedError
from . import trace
from .delivery import Delivery
from .events import (
    DeliverySettled,
    DeliveryUpdated,
    Event,
    LinkRemotelyAttached,
    SessionBegun,
    SessionEnded,
)
from .fsm import StateMachine, TransitionRefused
from .link import Link, Receiver, Sender, link_error
from .serial import serial_add, serial_diff, serial_in_range, serial_le
from .states import LinkState, SessionInput, SessionState
from .tables import SESSION_TRANSITIONS
from .streaming import StreamedTransfer
from .transfer import OutgoingTransfer
from .violations import PeerViolation, Violation
from .window import SessionWindow, WindowViolation

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["Session", "session_error"]

_ACTIVE = (SessionState.BEGIN_SENT, SessionState.MAPPED)
_DISPOSITION_CODE = Disposition._amqp_code_
#: delivery states a DISPOSITION may carry as they are (each is a delivery-state, so the
#: check ``Disposition._amqp_fields_`` makes is known to pass); ``None``: no state
_PLAIN_OUTCOMES = frozenset({type(None), Accepted, Rejected, Released, Modified, Received})
_DISCARDING = (SessionState.DISCARDING, SessionState.END_SENT)


def _m(value: Any) -> Any:
    """A mandatory field's value: ``decode_body`` already refused frames missing one."""
    assert value is not None
    return value


def session_error(error: Error | None) -> SessionEndedError | None:
    """The typed exception for an END's error field."""
    if error is None:
        return None
    return SessionEndedError(error.description, condition=error.condition, info=error.info)


class Session:
    """One session of a connection. Use ``Connection.begin_session`` or answer a
    ``SessionRemotelyBegun`` event with ``begin()``.

    Attributes:
        channel: our channel number; remote_channel: the peer's (once known).
        window: the transfer windows (spec 2.5.6).
        handle_max: the highest handle we accept; remote_handle_max: the peer's.
        remote_begin: the peer's BEGIN.
    """

    def __init__(
        self,
        connection: "Connection",
        channel: int,
        *,
        incoming_window: int,
        outgoing_window: int,
        handle_max: int,
        next_outgoing_id: int = 0,
        offered_capabilities: Sequence[str] | None = None,
        desired_capabilities: Sequence[str] | None = None,
        properties: Mapping[Any, Any] | None = None,
    ) -> None:
        self.connection = connection
        self.channel = channel
        self.remote_channel: int | None = None
        self.window = SessionWindow(next_outgoing_id, incoming_window, outgoing_window)
        self.handle_max = handle_max
        self.remote_handle_max = (1 << 32) - 1
        self.offered_capabilities = offered_capabilities
        self.desired_capabilities = desired_capabilities
        self.properties = properties
        self.remote_begin: Begin | None = None
        self._events: list[Event] = connection._events_sink
        self._fsm: StateMachine[SessionState, SessionInput] = StateMachine(
            SESSION_TRANSITIONS, SessionState.UNMAPPED
        )
        self._links: dict[int, Link] = {}  # local handle -> link
        self._remote_links: dict[int, Link] = {}  # remote handle -> link
        self._names: dict[tuple[str, Role], Link] = {}
        # Outgoing delivery-ids share the first transfer-id as their origin (spec 2.7.5
        # leaves the choice to the sender).
        self._first_delivery_id = self.window.next_outgoing_id
        self._next_delivery_id = self._first_delivery_id
        self._incoming_first_id: int | None = None
        self._incoming_next_id: int | None = None
        self._outgoing: dict[int, Delivery] = {}  # unsettled deliveries we sent, by id
        self._incoming: dict[int, Delivery] = {}  # unsettled deliveries we received, by id
        self._pending_dispositions: list[tuple[Role, int, Any, bool]] = []
        self._senders: list[Sender] = []  # round-robin order for the pump
        # Transfer frames of streamed deliveries whose bytes the application has not taken
        # yet (``Receiver.release_parts``): our incoming window is reopened only past them,
        # so a slow reader holds at most one window of frames.
        self._held_transfers = 0
        self._rr = 0

    def __repr__(self) -> str:
        return f"<Session channel={self.channel} {self.state.name}>"

    @property
    def state(self) -> SessionState:
        """Where the begin/end handshake is."""
        return self._fsm.state

    @property
    def links(self) -> list[Link]:
        """The links currently mapped in this session."""
        return list(self._links.values())

    # -- commands ------------------------------------------------------------------------
    def begin(self) -> None:
        """Send our BEGIN (done for you by ``Connection.begin_session``; call it yourself to
        accept a session the peer began)."""
        if not self._fsm.can(SessionInput.SEND_BEGIN):
            raise LocalProtocolError(f"cannot begin a session in state {self.state.name}")
        self.connection._check_can_send()
        self._fsm.process(SessionInput.SEND_BEGIN)
        w = self.window
        self._send(
            Begin(
                remote_channel=self.remote_channel,
                next_outgoing_id=w.next_outgoing_id,
                incoming_window=w.incoming_window,
                outgoing_window=w.outgoing_window,
                handle_max=self.handle_max,
                offered_capabilities=self.offered_capabilities,
                desired_capabilities=self.desired_capabilities,
                properties=self.properties,
            )
        )

    def end(self, error: Error | None = None) -> None:
        """End the session (spec 2.5.4), with an error if given. A session the peer began
        and we have not answered is refused: BEGIN then END."""
        if self.state is SessionState.BEGIN_RCVD:
            self.begin()
        inp = SessionInput.SEND_END_ERROR if error is not None else SessionInput.SEND_END
        if not self._fsm.can(inp):
            raise LocalProtocolError(f"cannot end a session in state {self.state.name}")
        self._flush_dispositions()
        self._fsm.process(inp)
        self._send(End(error=error))
        if self.state is SessionState.UNMAPPED:
            self._finish(None, by_peer=True, emit=False)

    def attach_sender(self, name: str, **options: Any) -> Sender:
        """Create a sending link and send its ATTACH (pipelining is fine: the ATTACH may go
        before the peer's BEGIN answer arrives).

        Options are ``Link``'s: ``source``, ``target``, ``snd_settle_mode``,
        ``rcv_settle_mode``, ``max_message_size``, ``initial_delivery_count``,
        ``offered_capabilities``, ``desired_capabilities``, ``properties``.
        """
        link = Sender(self, name, self._allocate_handle(name, Role.SENDER), **options)
        self._add_link(link)
        link.attach()
        return link

    def attach_receiver(self, name: str, **options: Any) -> Receiver:
        """Create a receiving link and send its ATTACH. Grant credit with ``flow``.

        Without ``max_message_size`` the link takes ``Config.limits.max_message_size`` (a
        larger delivery closes it with ``amqp:link:message-size-exceeded``); ``0`` asks for
        no limit.
        """
        link = Receiver(self, name, self._allocate_handle(name, Role.RECEIVER), **options)
        self._add_link(link)
        link.attach()
        return link

    def flow(self, *, echo: bool = False) -> None:
        """Send a session-level FLOW with our current windows."""
        self._send(self._flow_frame(echo=echo))

    # -- helpers for links -----------------------------------------------------------------
    def _check_usable(self) -> None:
        if self.state not in _ACTIVE:
            raise LocalProtocolError(f"the session is {self.state.name}")
        self.connection._check_can_send()

    def _send(self, performative: Composite) -> None:
        self.connection._send_frame(self.channel, performative)

    def _allocate_handle(self, name: str, role: Role) -> int:
        self._check_usable()
        if (name, role) in self._names:
            raise LocalProtocolError(f"a {role.name.lower()} link named {name!r} exists")
        limit = min(self.handle_max, self.remote_handle_max)
        handle = 0
        while handle in self._links:
            handle += 1
        if handle > limit:
            raise LocalProtocolError(f"no free handle (handle-max {limit})")
        return handle

    def _add_link(self, link: Link) -> None:
        self._links[link.handle] = link
        self._names[(link.name, link.role)] = link
        if isinstance(link, Sender):
            self._senders.append(link)

    def _forget_link(self, link: Link) -> None:
        if link.state is not LinkState.DETACHED:
            return
        self._links.pop(link.handle, None)
        if link.remote_handle is not None and self._remote_links.get(link.remote_handle) is link:
            del self._remote_links[link.remote_handle]
        if self._names.get((link.name, link.role)) is link:
            del self._names[(link.name, link.role)]
        if isinstance(link, Sender) and link in self._senders:
            self._senders.remove(link)
        elif isinstance(link, Receiver) and link._incoming is not None:
            link._drop_incoming(link._incoming)  # its bytes no longer count as held
        # What the link had not settled stays readable as ``link.unsettled`` (spec 2.6.13).
        orphans: list[Delivery] = []
        for table in (self._outgoing, self._incoming):
            for did in [d for d, dl in table.items() if dl.link is link]:
                orphans.append(table.pop(did))
        link._orphans = orphans

    def _allocate_delivery_id(self) -> int:
        did = self._next_delivery_id
        self._next_delivery_id = serial_add(did, 1)
        return did

    def _track_outgoing(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        self._outgoing[delivery.id] = delivery

    def _track_incoming(self, delivery: Delivery) -> None:
        assert delivery.id is not None
        self._incoming[delivery.id] = delivery

    def _untrack_incoming(self, delivery: Delivery) -> None:
        if delivery.id is not None:
            self._incoming.pop(delivery.id, None)

    def _check_incoming_delivery_id(self, delivery_id: int) -> None:
        # Spec 2.7.5: the sending session numbers deliveries in sequence, so after the first
        # each new delivery-id is exactly one past the previous.
        expected = self._incoming_next_id
        if expected is not None and delivery_id != expected:
            raise PeerViolation(
                Violation.BAD_DELIVERY_ID,
                f"delivery-id {delivery_id}, expected {expected}",
                channel=self.channel,
            )
        if self._incoming_first_id is None:
            self._incoming_first_id = delivery_id
        self._incoming_next_id = serial_add(delivery_id, 1)

    def _queue_disposition(self, role: Role, delivery: Delivery, state: Any, settle: bool) -> None:
        assert delivery.id is not None
        self._pending_dispositions.append((role, delivery.id, state, settle))
        if settle:
            (self._outgoing if role is Role.SENDER else self._incoming).pop(delivery.id, None)
        self.connection._dispositions_pending.add(self)
        self.connection._note_output()

    def _flush_dispositions(self) -> None:
        """Write queued dispositions, merging consecutive ids with the same role, state and
        settled flag into one first..last range (spec 2.7.6)."""
        pending = self._pending_dispositions
        if not pending:
            return
        self._pending_dispositions = []
        self.connection._dispositions_pending.discard(self)
        if self.state not in (SessionState.MAPPED, SessionState.END_RCVD, SessionState.BEGIN_SENT):
            return
        role, first, state, settled = pending[0]
        last = first
        for r, did, s, st in pending[1:]:
            if r is role and st == settled and s == state and did == serial_add(last, 1):
                last = did
                continue
            self._write_disposition(role, first, last, state, settled)
            role, first, state, settled, last = r, did, s, st, did
        self._write_disposition(role, first, last, state, settled)

    def _write_disposition(self, role: Role, first: int, last: int, state: Any, settled: bool) -> None:
        if type(state) in _PLAIN_OUTCOMES and not trace.ENABLED:
            # The hot case (an accept, a settle): the DISPOSITION as wire values, in spec 2.7.6
            # field order with trailing nulls left off, encoded as Disposition(...) would be
            # but without building and re-checking one (tests/engine/test_disposition_fast_path.py).
            fields: list[Any] = [role is Role.RECEIVER, UInt(first), None if last == first else UInt(last), settled or None, state]
            while fields[-1] is None:
                fields.pop()
            self.connection._send_wire_fields(self.channel, _DISPOSITION_CODE, fields)
            return
        self.connection._send_frame(
            self.channel,
            Disposition(
                role=role,
                first=first,
                last=last if last != first else None,
                settled=settled or None,
                state=state,
            ),
            flush=False,
        )

    def _flow_frame(self, *, echo: bool = False) -> Flow:
        w = self.window
        return Flow(
            next_incoming_id=w.next_incoming_id,
            incoming_window=w.incoming_window,
            next_outgoing_id=w.next_outgoing_id,
            outgoing_window=w.outgoing_window,
            echo=echo or None,
        )

    # -- output pump ---------------------------------------------------------------------------
    def _pump(self) -> None:
        """Write transfer frames round-robin over senders while the peer's window allows."""
        if self.state is not SessionState.MAPPED or not self.connection._can_write_frames():
            return
        senders = self._senders
        window = self.window
        idle = 0  # senders in a row that cannot write now
        while senders and window.can_send and idle < len(senders):
            self._rr %= len(senders)
            sender = senders[self._rr]
            if sender._write_next_frame():
                if sender._current is None:
                    self._rr += 1  # a whole delivery went: next sender's turn
                    # One with nothing more queued counts as idle already, rather than being
                    # asked again (with one sender, the usual case, that ends the loop: issue
                    # 9, this runs for every send).
                    idle = 0 if sender._queue else 1
                else:
                    idle = 0
            else:
                idle += 1
                self._rr += 1

    def _write_transfer(self, writer: "OutgoingTransfer | StreamedTransfer") -> bool:
        self.window.on_send_transfer()
        return self.connection._write_transfer(self.channel, writer)

    def _write_abort(self, sender: Sender, delivery: Delivery) -> None:
        self.window.on_send_transfer()
        if delivery.id is not None:
            self._outgoing.pop(delivery.id, None)
        self.connection._write_abort(self.channel, sender, delivery)

    def _answer_drains(self) -> None:
        for sender in self._senders:
            sender._auto_drain()

    def _after_input(self) -> None:
        """Reopen our incoming window once half of it can be given back: frames of streamed
        deliveries the application has not taken yet still count as used."""
        held = self._held_transfers
        if self.state is SessionState.MAPPED and self.window.needs_update_holding(held):
            self.window.reopen(held)
            self._send(self._flow_frame())

    def _release_held(self, count: int) -> None:
        self._held_transfers = max(0, self._held_transfers - count)
        self._after_input()

    # -- the peer's frames ---------------------------------------------------------------------
    def _on_begin(self, begin: Begin, remote_channel: int) -> None:
        answer = self.state is not SessionState.UNMAPPED
        try:
            self._fsm.process(SessionInput.RECV_BEGIN)
        except TransitionRefused:
            raise PeerViolation(Violation.ILLEGAL_STATE, f"BEGIN in session state {self.state.name}") from None
        self.remote_channel = remote_channel
        self.remote_begin = begin
        self.remote_handle_max = int(begin.handle_max if begin.handle_max is not None else (1 << 32) - 1)
        self.window.on_remote_begin(
            int(_m(begin.next_outgoing_id)), int(_m(begin.incoming_window)), int(_m(begin.outgoing_window))
        )
        if answer and self.state is SessionState.MAPPED:
            self._events.append(SessionBegun(session=self))
            self._pump()

    def _on_end(self, end: End) -> None:
        try:
            self._fsm.process(SessionInput.RECV_END)
        except TransitionRefused:
            raise PeerViolation(Violation.ILLEGAL_STATE, f"END in session state {self.state.name}") from None
        error = session_error(end.error)
        by_peer = self.state is SessionState.END_RCVD
        if by_peer:
            self._flush_dispositions()
            self._fsm.process(SessionInput.SEND_END)
            self._send(End())
        self._finish(error, by_peer=by_peer, emit=True)

    def _finish(self, error: SessionEndedError | None, *, by_peer: bool, emit: bool) -> None:
        """The session is unmapped: detach its links and leave the connection's maps."""
        for link in list(self._links.values()):
            link._session_ended(link_error(None) if error is None else _as_link_error(error), by_peer)
            self._forget_link(link)
        self._fsm.state = SessionState.UNMAPPED
        self.connection._forget_session(self)
        if emit:
            self._events.append(SessionEnded(session=self, error=error, by_peer=by_peer))

    def _is_discarding(self) -> bool:
        return self._fsm.state in _DISCARDING

    def _link_for(self, handle: Any, what: str) -> Link:
        link = self._remote_links.get(int(handle))
        if link is None:
            if int(handle) > self.handle_max:
                raise PeerViolation(Violation.HANDLE_OUT_OF_RANGE, f"{what} on handle {handle}")
            raise PeerViolation(
                Violation.UNATTACHED_HANDLE, f"{what} on unattached handle {handle}", channel=self.channel
            )
        return link

    def _on_attach(self, attach: Attach) -> None:
        handle = int(_m(attach.handle))
        if handle > self.handle_max:
            raise PeerViolation(
                Violation.HANDLE_OUT_OF_RANGE, f"ATTACH handle {handle} > handle-max {self.handle_max}"
            )
        if handle in self._remote_links:
            raise PeerViolation(
                Violation.HANDLE_IN_USE, f"ATTACH on handle {handle}, already in use", channel=self.channel
            )
        peer_role = Role(_m(attach.role))
        our_role = Role.RECEIVER if peer_role is Role.SENDER else Role.SENDER
        name: str = _m(attach.name)
        link = self._names.get((name, our_role))
        if link is not None:
            if link.state not in (LinkState.ATTACH_SENT, LinkState.DETACH_SENT):
                raise PeerViolation(
                    Violation.ILLEGAL_STATE, f"ATTACH for link {attach.name!r} in state {link.state.name}"
                )
            link.remote_handle = handle
            self._remote_links[handle] = link
            link._on_remote_attach(attach, answer=True)
            self._pump()
            return
        # The peer opens a new link: same classes as ours (DESIGN.md rule 4).
        local = 0
        while local in self._links:
            local += 1
        cls = Receiver if our_role is Role.RECEIVER else Sender
        new = cls(
            self,
            attach.name,
            local,
            source=attach.source,
            target=attach.target,
            snd_settle_mode=SenderSettleMode(
                attach.snd_settle_mode if attach.snd_settle_mode is not None else SenderSettleMode.MIXED
            ),
            rcv_settle_mode=ReceiverSettleMode(
                attach.rcv_settle_mode if attach.rcv_settle_mode is not None else ReceiverSettleMode.FIRST
            ),
        )
        new.remote_handle = handle
        self._add_link(new)
        self._remote_links[handle] = new
        new._on_remote_attach(attach, answer=False)
        self._events.append(LinkRemotelyAttached(link=new))

    def _on_detach(self, detach: Detach) -> None:
        link = self._link_for(detach.handle, "DETACH")
        link._on_remote_detach(detach)

    def _on_flow(self, flow: Flow) -> None:
        self.window.on_remote_flow(
            None if flow.next_incoming_id is None else int(flow.next_incoming_id),
            int(_m(flow.incoming_window)),
            int(_m(flow.next_outgoing_id)),
            int(_m(flow.outgoing_window)),
        )
        if flow.handle is not None:
            link = self._link_for(flow.handle, "FLOW")
            if link.state is LinkState.DETACH_SENT:
                return
            link._on_flow(flow)
        elif flow.echo:
            self._send(self._flow_frame())
        self._pump()

    def _on_transfer(self, transfer: Transfer, payload: memoryview) -> None:
        handle = transfer.handle  # mandatory: decode_body refused a TRANSFER without one
        link = self._remote_links.get(handle) if handle is not None else None  # UInt hashes as int
        if link is None:
            link = self._link_for(transfer.handle, "TRANSFER")  # raises the right violation
        try:
            self.window.on_receive_transfer()
        except WindowViolation:
            raise PeerViolation(
                Violation.WINDOW_VIOLATION,
                f"TRANSFER with incoming-window 0 (next-incoming-id {self.window.next_incoming_id})",
                channel=self.channel,
            ) from None
        if link.state is LinkState.DETACH_SENT:
            return  # in flight before the peer saw our DETACH
        link._on_transfer(transfer, payload)

    def _on_disposition(self, disposition: Disposition) -> None:
        first = int(_m(disposition.first))
        last = first if disposition.last is None else int(disposition.last)
        settled = bool(disposition.settled)
        state = disposition.state
        # The peer's role names its end: a receiver's disposition is about what we sent.
        ours = bool(_m(disposition.role))  # Role.RECEIVER is truthy (BoolEnum), as is True
        if ours:
            lo, hi = self._first_delivery_id, self._next_delivery_id
            table = self._outgoing
        else:
            lo = self._incoming_first_id if self._incoming_first_id is not None else 0
            hi = self._incoming_next_id if self._incoming_next_id is not None else lo
            table = self._incoming
        if not (serial_le(first, last) and serial_le(lo, first) and serial_diff(hi, last) > 0):
            raise PeerViolation(
                Violation.UNKNOWN_DELIVERY_IDS,
                f"DISPOSITION for delivery-ids {first}..{last}, never sent",
                channel=self.channel,
            )
        span = serial_diff(last, first) + 1
        if span == 1:  # the common case: one delivery
            ids = [first] if first in table else []
        elif span <= len(table):
            ids = [did for did in map(serial_add, repeat(first, span), range(span)) if did in table]
        else:
            ids = sorted(
                (d for d in table if serial_in_range(d, first, last)),
                key=lambda d: serial_diff(d, first),
            )
        for did in ids:
            delivery = table[did]
            if state is not None:
                delivery.remote_state = state
            if state is not None or settled:
                self._events.append(DeliveryUpdated(delivery=delivery, state=state, settled=settled))
            if settled:
                # The peer is done with it; nothing more can be said about it (spec 2.6.12),
                # so this end settles and forgets it without a frame.
                delivery.remote_settled = True
                delivery.settled = True
                del table[did]
                self._events.append(DeliverySettled(delivery=delivery))


def _as_link_error(error: SessionEndedError) -> Any:
    from ..errors import LinkDetachedError

    return LinkDetachedError(error.description, condition=error.condition, info=error.info)
