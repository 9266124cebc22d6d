"""The connection (spec 2.4): OPEN/CLOSE, the channel maps, idle time-out, and violations.

Owns: ``Connection``, the object adapters drive: ``receive_data(bytes) -> [Event]``,
``data_to_send() -> bytes``, ``tick(now) -> deadline``, plus the commands ``open``,
``close`` and ``begin_session``. It holds the one outgoing buffer, the ``FrameReader``, the
channel maps, the connection state machine and the idle timer, and it is the single choke
point where a peer's ``PeerViolation`` is turned into the CLOSE/END/DETACH the violation
table prescribes (a peer's violation never raises out of ``receive_data``; only your own
misuse raises ``LocalProtocolError``). The protocol headers and SASL come first and are
``handshake.py``'s: the connection feeds it input until it hands over (header -> SASL ->
header), then reads AMQP frames itself.

Must never: do I/O, read a clock, decode message bodies, or log frames except through
``_trace`` (the one place frames and headers reach the tracer, the handshake's included).

Pipelining (spec 2.4.1 and 2.5.1): a client may call ``open()``, ``begin_session()`` and
``attach_*()`` at once; the frames queue behind the protocol header. With SASL they wait in
the handshake's held buffer, released only when authentication succeeds.
"""

from __future__ import annotations

from typing import Any, Callable

from ..codec import encode_described_list
from ..codec.composite import Composite
from ..codec.spec import Attach, Begin, Close, Detach, Disposition, End, Error, Flow, Open, Transfer
from ..errors import AMQPError, ConnectionClosedError, FramingError, LocalProtocolError, SessionEndedError
from ..framing.frame import EMPTY_FRAME, MIN_MAX_FRAME_SIZE, Frame, FrameType, begin_frame, encode_frame, finish_frame
from ..framing.reader import FrameReader
from . import trace
from .config import Config, ConnectionRole, SaslNegotiator
from .delivery import Delivery
from .events import (
    ConnectionClosed,
    ConnectionOpened,
    Event,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
)
from .fsm import StateMachine, TransitionRefused
from .handshake import Handshake, Progress, SaslFinished, decode_frame_body
from .idle import IdleAction, IdleTimer
from .link import Sender
from .session import Session
from .states import ConnectionInput as CI
from .states import ConnectionState as CS
from .states import LinkState, SessionState
from .tables import CONNECTION_TRANSITIONS
from .transfer import OutgoingTransfer
from .streaming import StreamedTransfer
from .violations import Level, PeerViolation, Violation

__all__ = ["Connection"]


_OPEN_SENT_STATES = frozenset(
    {CS.OPEN_PIPE, CS.OPEN_SENT, CS.OPENED, CS.CLOSE_RCVD}
)


def _error(condition: str, description: str | None) -> Error:
    return Error(condition=condition, description=description)


class Connection:
    """A sans-IO AMQP 1.0 connection endpoint, client or server (``config.role``).

    Feed it what the socket read, send what it gives you, tick it at its deadlines::

        events = conn.receive_data(data)     # b"" when the peer closed the socket
        sock.sendall(conn.data_to_send())
        deadline = conn.tick(now)            # call again at `deadline` at the latest

    When ``conn.finished`` is true, send the last ``data_to_send()`` and close the socket.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._events_sink: list[Event] = []
        self._dispositions_pending: set[Session] = set()
        self._out = bytearray()
        # Output queued before what ``_out`` holds: frame headers and, by reference, large
        # transfer payload slices (engine/transfer.py), joined once by data_to_send.
        self._out_parts: list[bytes | memoryview] = []
        #: Called with no arguments when this connection queues output (a frame or a batched
        #: disposition) for the first time since ``data_to_send()`` last drained it: at most
        #: once per drain, so a server adapter can keep a set of connections to flush instead
        #: of asking every connection after every handler call. ``None``: nobody listens.
        self.on_output: Callable[[], None] | None = None
        self._output_noted = False
        self._reader = FrameReader(config.max_frame_size)
        self._fsm: StateMachine[CS, CI] = StateMachine(CONNECTION_TRANSITIONS, CS.START)
        self._idle = IdleTimer(None)
        self._sessions: dict[int, Session] = {}  # our channel -> session
        self._remote_sessions: dict[int, Session] = {}  # peer's channel -> session
        self._reading = True  # False once the connection is over: input is ignored
        self._peer_opened = False
        self._deferred_open = False
        self._closed_reported = False
        self._local_error: Error | None = None
        # Config.handshake_timeout: the deadlines of the opening and of our CLOSE's answer,
        # set at the first tick after each starts (never earlier than it really started).
        self._opening_deadline: float | None = None
        self._closing_deadline: float | None = None
        # Bytes held by unfinished incoming deliveries, all links together
        # (Limits.max_partial_deliveries_size).
        self._partial_bytes = 0
        self.remote_open: Open | None = None
        #: spec 2.4.1: until the peer's OPEN, frames are limited to MIN-MAX-FRAME-SIZE
        self.remote_max_frame_size = MIN_MAX_FRAME_SIZE
        self.remote_channel_max = 0
        if config.role is ConnectionRole.CLIENT:
            self._fsm.process(CI.SEND_HEADER)  # the handshake writes it at once
        self._handshake = Handshake(config, self._out, self._trace)

    # -- public state ----------------------------------------------------------------------
    @property
    def state(self) -> CS:
        """The connection state (spec 2.4.6)."""
        return self._fsm.state

    @property
    def finished(self) -> bool:
        """Nothing more will happen: flush ``data_to_send()`` and close the transport."""
        return self._fsm.state is CS.END

    @property
    def sasl(self) -> SaslNegotiator | None:
        """The SASL negotiator, once the SASL layer is in use (``handshake.py``)."""
        return self._handshake.sasl

    @property
    def user(self) -> str | None:
        """The identity SASL authenticated (server side), if any."""
        return self._handshake.user

    @property
    def sessions(self) -> list[Session]:
        """The sessions currently mapped on our side."""
        return list(self._sessions.values())

    # -- the I/O contract ------------------------------------------------------------------
    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        """Process bytes read from the transport; ``b""`` means the peer closed it (EOF).

        Returns the events they caused, plus any produced since the last call (by ``tick``).
        Never raises for anything the peer sent: violations become a queued CLOSE/END/DETACH
        and a ``ProtocolViolationDetected`` event.
        """
        if self._reading:
            if not data:
                self._terminate(
                    ConnectionClosedError("the transport closed before the AMQP close handshake"),
                    by_peer=True,
                )
            elif data == EMPTY_FRAME and not self._reader.buffered and self._handshake.done:
                # One whole heartbeat (an idle peer's every frame): nothing to decode, route
                # or answer; it only counts as a frame read (spec 2.4.5).
                self._idle.received()
                if trace.ENABLED:
                    self._trace("<-", 0, None)
            else:
                reader = self._reader
                expected = reader.buffered + len(data)
                reader.feed(data)
                self._process_input()
                # Spec 2.4.5 counts frames: only a completed header or frame (something was
                # taken from the buffer) is input, not bytes of a frame still arriving.
                if reader.buffered < expected:
                    self._idle.received()
                for session in list(self._sessions.values()):
                    session._after_input()
        return self.take_events()

    def take_events(self) -> list[Event]:
        """Return (and forget) events produced outside ``receive_data``, e.g. by ``tick``."""
        events = list(self._events_sink)
        self._events_sink.clear()
        return events

    def data_to_send(self) -> bytes:
        """Drain the outgoing buffer: the bytes to write to the transport now.

        Before draining, senders whose receiver asked to drain and that have nothing queued
        complete the drain (spec 2.6.7), and batched dispositions are written.
        """
        self._before_drain()
        parts = self._out_parts
        if parts:
            data = b"".join((*parts, self._out))  # the one copy of a large payload on its way out
            parts.clear()
        elif not self._out:
            return b""
        else:
            data = bytes(self._out)
        self._out.clear()
        self._idle.sent()
        return data

    def data_to_send_parts(self) -> list[bytes | memoryview]:
        """``data_to_send`` without joining: the bytes to write now, as buffers to write in
        this order (an empty list when there is nothing).

        A large delivery's frames come as their headers and, by reference, views of the
        payload given to ``Sender.send``, so a 10 MiB message is not copied here at all
        (issue 9); an adapter writes them with ``sendmsg``/``writelines``. Write them before
        changing a mutable payload you sent (a ``bytes`` payload never changes).
        """
        self._before_drain()
        parts = self._out_parts
        out = self._out
        if not parts and not out:
            return []
        self._out_parts = []
        if out:
            parts.append(bytes(out))
            out.clear()
        self._idle.sent()
        return parts

    def _before_drain(self) -> None:
        self._output_noted = True  # what this call writes leaves with it: nothing to note
        if self._handshake.header_sent and not self.finished:
            for session in list(self._sessions.values()):
                session._answer_drains()
        self._flush_all_dispositions()
        self._output_noted = False

    @property
    def bytes_to_send(self) -> int:
        """How many bytes ``data_to_send()`` holds for the transport now (encoded frames;
        batched dispositions and drain answers are encoded when it is called). Adapters add
        it to what their transport holds to bound the memory a slow peer can cost."""
        if self._out_parts:
            return len(self._out) + sum(map(len, self._out_parts))
        return len(self._out)

    @property
    def has_data_to_send(self) -> bool:
        """``data_to_send()`` would return bytes now (frames queued, dispositions batched, or
        a drain to answer). Lets a server adapter flush exactly the connections a handler
        call wrote to, whichever connection the call was about."""
        if self._out or self._out_parts or self._dispositions_pending:
            return True
        if not self._handshake.header_sent or self.finished:
            return False
        return any(sender._drain_answer_ready for session in self._sessions.values() for sender in session._senders)

    def tick(self, now: float) -> float | None:
        """Advance time to ``now`` (seconds, any monotonic origin); return the next deadline.

        Sends a heartbeat when the peer's idle-time-out needs one, and closes with
        ``amqp:resource-limit-exceeded`` when ours has passed with no frame read (spec
        2.4.5) or when the opening (headers, SASL, the peer's OPEN) has not finished within
        ``Config.handshake_timeout`` of the first tick; a peer that has not answered our
        CLOSE within that time is dropped (spec 2.4.3). Events from that are returned by
        ``take_events()`` / the next ``receive_data``.

        Bytes taken by ``data_to_send()`` count as written at the last ``now`` given here
        (``idle.py``), so an adapter may tick only at the returned deadlines: tick, then send
        what ``data_to_send()`` returns.
        """
        self._idle.observe(now)
        if self.finished:
            return None
        bound = self._handshake_bound(now)
        if self.finished or not (self._peer_opened or self._fsm.state in _OPEN_SENT_STATES):
            return bound
        action, deadline = self._idle.tick(now)
        if action is IdleAction.EXPIRE:
            self._apply_violation(
                PeerViolation(
                    Violation.IDLE_TIMEOUT,
                    f"nothing received for {self.config.idle_timeout} s",
                )
            )
            return None
        if action is IdleAction.SEND_HEARTBEAT and self._handshake.header_sent:
            self._out += EMPTY_FRAME
            if trace.ENABLED:
                self._trace("->", 0, None)
        if bound is not None and (deadline is None or bound < deadline):
            return bound
        return deadline

    def _handshake_bound(self, now: float) -> float | None:
        """Apply ``Config.handshake_timeout`` to the opening and closing handshakes; return
        the earliest deadline still pending (``None``: none)."""
        limit = self.config.handshake_timeout
        if limit is None:
            return None
        pending: float | None = None
        if not self._peer_opened:
            if self._opening_deadline is None:
                self._opening_deadline = now + limit
            if now >= self._opening_deadline:
                self._apply_violation(
                    PeerViolation(
                        Violation.HANDSHAKE_TIMEOUT,
                        f"protocol header, SASL and OPEN not done within {limit} s",
                    )
                )
                if self.finished:
                    return None
            else:
                pending = self._opening_deadline
        if self._fsm.state in (CS.CLOSE_SENT, CS.DISCARDING):
            if self._closing_deadline is None:
                self._closing_deadline = now + limit
            if now >= self._closing_deadline:
                # Spec 2.4.3: we sent CLOSE and waited; the peer is gone or ignoring it.
                error = None if self._local_error is None else _closed_error(self._local_error)
                self._terminate(error, by_peer=False)
                return None
            if pending is None or self._closing_deadline < pending:
                pending = self._closing_deadline
        return pending

    # -- commands --------------------------------------------------------------------------
    def open(self) -> None:
        """Send OPEN with the config's fields (spec 2.7.1). A server may call it before the
        client's header arrived; it is sent right after our header."""
        cfg = self.config
        if not self._fsm.can(CI.SEND_OPEN):
            if self._fsm.state in (CS.START, CS.HDR_RCVD) and cfg.role is ConnectionRole.SERVER:
                self._deferred_open = True
                return
            raise LocalProtocolError(f"cannot open a connection in state {self.state.name}")
        self._fsm.process(CI.SEND_OPEN)
        self._idle.local_timeout = cfg.idle_timeout
        self._send_frame(
            0,
            Open(
                container_id=cfg.container_id,
                hostname=cfg.hostname,
                max_frame_size=cfg.max_frame_size,
                channel_max=cfg.channel_max,
                # 2.4.5: to avoid spurious timeouts the advertised value SHOULD be half our
                # real threshold; Proton-based peers rely on it and may heartbeat a whole
                # advertised interval after their last frame. We still close at the full value.
                idle_time_out=max(1, int(cfg.idle_timeout * 500)) if cfg.idle_timeout else None,
                outgoing_locales=cfg.outgoing_locales,
                incoming_locales=cfg.incoming_locales,
                offered_capabilities=cfg.offered_capabilities,
                desired_capabilities=cfg.desired_capabilities,
                properties=cfg.properties,
            ),
        )

    def close(self, error: Error | None = None) -> None:
        """Close the connection (spec 2.4.3), with an error if given. Sends OPEN first if it
        was never sent (a CLOSE must follow an OPEN). ``ConnectionClosed`` is reported when
        the peer's CLOSE arrives."""
        if self.finished:
            raise LocalProtocolError("the connection is already closed")
        if not self._handshake.header_sent:
            # Nothing AMQP has gone out (still in SASL, or a server before the header).
            self._terminate(None if error is None else _closed_error(error), by_peer=False)
            return
        if self._fsm.can(CI.SEND_OPEN):
            self.open()
        inp = CI.SEND_CLOSE_ERROR if error is not None else CI.SEND_CLOSE
        if not self._fsm.can(inp):
            raise LocalProtocolError(f"cannot close a connection in state {self.state.name}")
        self._flush_all_dispositions()
        self._fsm.process(inp)
        self._local_error = error
        self._send_frame(0, Close(error=error))

    def begin_session(
        self,
        *,
        incoming_window: int | None = None,
        outgoing_window: int | None = None,
        handle_max: int | None = None,
        next_outgoing_id: int = 0,
        offered_capabilities: Any = None,
        desired_capabilities: Any = None,
        properties: Any = None,
    ) -> Session:
        """Create a session on the lowest free channel and send its BEGIN.

        Raises:
            LocalProtocolError: OPEN not sent yet, the connection is closing, or no channel
                is free under channel-max.
        """
        self._check_can_send()
        session = self._new_session(
            incoming_window=incoming_window,
            outgoing_window=outgoing_window,
            handle_max=handle_max,
            next_outgoing_id=next_outgoing_id,
        )
        session.offered_capabilities = offered_capabilities
        session.desired_capabilities = desired_capabilities
        session.properties = properties
        session.begin()
        return session

    # -- helpers used by sessions and links ------------------------------------------------
    def _check_can_send(self) -> None:
        if self._fsm.state not in _OPEN_SENT_STATES or self._fsm.state is CS.CLOSE_RCVD:
            raise LocalProtocolError(
                f"the connection is {self.state.name}: call open() first, and not after close"
            )

    def _can_write_frames(self) -> bool:
        return self._handshake.header_sent and self._fsm.state in (CS.OPENED, CS.OPEN_SENT)

    def _new_session(self, **options: Any) -> Session:
        limit = self.config.channel_max
        if self._peer_opened:
            limit = min(limit, self.remote_channel_max)
        channel = 0
        while channel in self._sessions:
            channel += 1
        if channel > limit:
            raise LocalProtocolError(f"no free channel (channel-max {limit})")
        cfg = self.config
        session = Session(
            self,
            channel,
            incoming_window=options.get("incoming_window") or cfg.incoming_window,
            outgoing_window=options.get("outgoing_window") or cfg.outgoing_window,
            handle_max=cfg.handle_max if options.get("handle_max") is None else options["handle_max"],
            next_outgoing_id=options.get("next_outgoing_id", 0),
        )
        self._sessions[channel] = session
        return session

    def _forget_session(self, session: Session) -> None:
        if self._sessions.get(session.channel) is session:
            del self._sessions[session.channel]
        rc = session.remote_channel
        if rc is not None and self._remote_sessions.get(rc) is session:
            del self._remote_sessions[rc]
        self._dispositions_pending.discard(session)

    def _flush_all_dispositions(self) -> None:
        while self._dispositions_pending:
            self._dispositions_pending.pop()._flush_dispositions()

    def _buffer(self) -> bytearray:
        return self._handshake.buffer()

    def _note_output(self) -> None:
        if not self._output_noted:
            self._output_noted = True
            if self.on_output is not None:
                self.on_output()

    def _send_frame(self, channel: int, body: Composite, *, flush: bool = True) -> None:
        self._note_output()
        if flush and self._dispositions_pending:
            self._flush_all_dispositions()
        if trace.ENABLED:
            self._trace("->", channel, body)
        encode_frame(self._buffer(), channel, body)

    def _send_wire_fields(self, channel: int, code: int, fields: list[Any]) -> None:
        """Like ``_send_frame`` with ``flush=False``, for a performative already given as its
        wire values (a hot frame's untraced fast path: no performative object is built)."""
        self._note_output()
        out = self._buffer()
        start = begin_frame(out, FrameType.AMQP, channel)
        encode_described_list(out, code, fields)
        finish_frame(out, start)

    def _write_transfer(self, channel: int, writer: "OutgoingTransfer | StreamedTransfer") -> bool:
        self._note_output()
        if self._dispositions_pending:
            self._flush_all_dispositions()
        done = writer.write_frame(self._out, channel, self.remote_max_frame_size, self._out_parts)
        if trace.ENABLED:
            self._trace("->", channel, writer.performative())
        return done

    def _write_abort(self, channel: int, sender: Sender, delivery: Delivery) -> None:
        body = Transfer(handle=sender.handle, delivery_id=delivery.id, aborted=True)
        self._send_frame(channel, body)

    def _trace(
        self, direction: str, channel: int, body: Any, size: int = 0, *, header: bool = False
    ) -> None:
        """The one place frames reach the tracer (callers test ``trace.ENABLED`` first, so an
        untraced connection pays one boolean test per frame)."""
        if header:
            trace.log_header(self.config.container_id, direction, body)
        else:
            trace.log_frame(self.config.container_id, direction, channel, body, size)

    # -- input -----------------------------------------------------------------------------
    def _process_input(self) -> None:
        reader = self._reader
        handshake = self._handshake
        while self._reading and not handshake.done:
            try:
                progress = handshake.read(reader)
            except PeerViolation as violation:
                self._apply_violation(violation)  # before AMQP is up: always the end
                return
            if progress is Progress.NEED_BYTES:
                return
            if progress is Progress.AMQP_HEADER_RECEIVED:
                self._on_amqp_header()
            elif isinstance(progress, SaslFinished):
                self._events_sink.append(progress.event)
                if progress.error is not None:
                    self._terminate(progress.error, by_peer=progress.by_peer)
        while self._reading:
            try:
                frames = reader.read_frames(-1)
            except FramingError as exc:
                self._apply_violation(PeerViolation(Violation.FRAMING_ERROR, exc.description or str(exc)))
                return
            if not frames:
                return
            for frame in frames:
                try:
                    self._on_frame(frame)
                except PeerViolation as violation:
                    self._apply_violation(violation)
                if not self._reading:
                    return
            if not reader.buffered:
                return  # all taken: another read_frames would find nothing (a bad header stays buffered)

    def _on_amqp_header(self) -> None:
        """The handshake handed over: the AMQP headers are exchanged (spec 2.2)."""
        self._fsm.process(CI.RECV_HEADER)
        if self.config.role is ConnectionRole.SERVER:
            self._fsm.process(CI.SEND_HEADER)  # the handshake wrote our answer
            if self._deferred_open:
                self._deferred_open = False
                self.open()

    def _on_frame(self, frame: Frame) -> None:
        if frame.type is not FrameType.AMQP:
            raise PeerViolation(Violation.ILLEGAL_STATE, "SASL frame after the SASL exchange")
        if frame.is_heartbeat:
            if trace.ENABLED:
                self._trace("<-", frame.channel, None)
            return
        if frame.channel and not self._peer_opened:
            # Spec 2.4.1: "prior to any explicit negotiation ... the maximum channel number
            # is 0", so OPEN (and anything pipelined before it is read) comes on channel 0.
            raise PeerViolation(
                Violation.CHANNEL_OUT_OF_RANGE, f"frame on channel {frame.channel} before OPEN"
            )
        body, payload = decode_frame_body(frame, self.config.limits)
        if trace.ENABLED:
            self._trace("<-", frame.channel, body, len(payload))
        state = self._fsm.state
        if state in (CS.DISCARDING, CS.CLOSE_SENT) and not isinstance(body, (Close, Open)):
            return  # spec 2.4.6: after our CLOSE the peer's frames are discarded
        handler = _HANDLERS[type(body)]
        handler(self, frame.channel, body, payload)

    # -- performative handlers -----------------------------------------------------------------
    def _on_open(self, channel: int, body: Open, payload: memoryview) -> None:
        try:
            self._fsm.process(CI.RECV_OPEN)
        except TransitionRefused:
            raise PeerViolation(Violation.ILLEGAL_STATE, f"OPEN in state {self.state.name}") from None
        self._peer_opened = True
        self.remote_open = body
        mfs = body.max_frame_size
        self.remote_max_frame_size = (1 << 32) - 1 if mfs is None else int(mfs)
        self.remote_channel_max = 65535 if body.channel_max is None else int(body.channel_max)
        if body.idle_time_out:
            self._idle.remote_timeout = int(body.idle_time_out) / 1000.0
        if self.remote_max_frame_size < MIN_MAX_FRAME_SIZE:
            raise PeerViolation(
                Violation.INVALID_FIELD,
                f"max-frame-size {self.remote_max_frame_size} is below 512 (spec 2.7.1)",
            )
        self._events_sink.append(ConnectionOpened(container_id=str(body.container_id), open=body))

    def _on_close(self, channel: int, body: Close, payload: memoryview) -> None:
        if self._fsm.state is CS.OPEN_RCVD:
            self.open()  # spec 2.4.3: answer a CLOSE with OPEN then CLOSE if not opened yet
        try:
            self._fsm.process(CI.RECV_CLOSE)
        except TransitionRefused:
            raise PeerViolation(Violation.ILLEGAL_STATE, f"CLOSE in state {self.state.name}") from None
        error = None if body.error is None else _closed_error(body.error)
        by_peer = self._fsm.state is CS.CLOSE_RCVD
        if by_peer:
            self._flush_all_dispositions()
            self._fsm.process(CI.SEND_CLOSE)
            self._send_frame(0, Close())
        elif error is None and self._local_error is not None:
            error = _closed_error(self._local_error)
        self._terminate(error, by_peer=by_peer)

    def _hold_partial(self, held_by_delivery: int, size: int) -> None:
        """A receiving link is about to keep ``size`` more bytes of an unfinished delivery
        that holds ``held_by_delivery`` already: refuse it when the connection's total would
        cross ``Limits.max_partial_deliveries_size`` while other deliveries hold bytes too
        (one delivery alone is bounded by max-message-size)."""
        held = self._partial_bytes
        limit = self.config.limits.max_partial_deliveries_size
        if held + size > limit and held > held_by_delivery:
            raise PeerViolation(
                Violation.PARTIAL_DELIVERIES_EXCEEDED,
                f"unfinished deliveries would hold {held + size} bytes, over {limit}",
            )
        self._partial_bytes = held + size

    def _release_partial(self, size: int) -> None:
        """An unfinished delivery's ``size`` bytes are no longer held (finished, aborted or
        its link gone)."""
        self._partial_bytes -= size

    def _require_open(self) -> None:
        if not self._peer_opened:
            raise PeerViolation(Violation.ILLEGAL_STATE, "session frame before OPEN")

    def _on_begin(self, channel: int, body: Begin, payload: memoryview) -> None:
        self._require_open()
        if channel > self.config.channel_max:
            raise PeerViolation(Violation.CHANNEL_OUT_OF_RANGE, f"BEGIN on channel {channel}")
        if channel in self._remote_sessions:
            raise PeerViolation(Violation.ILLEGAL_STATE, f"BEGIN on channel {channel}, already in use")
        if body.remote_channel is not None:
            session = self._sessions.get(int(body.remote_channel))
            if session is None or session.remote_channel is not None:
                raise PeerViolation(
                    Violation.UNKNOWN_CHANNEL, f"BEGIN answers channel {body.remote_channel}, not ours"
                )
            self._remote_sessions[channel] = session
            session._on_begin(body, channel)
            return
        try:
            session = self._new_session()
        except LocalProtocolError:
            raise PeerViolation(Violation.CHANNEL_OUT_OF_RANGE, "no free channel for the peer's BEGIN") from None
        self._remote_sessions[channel] = session
        session._on_begin(body, channel)
        self._events_sink.append(SessionRemotelyBegun(session=session))

    def _session_for(self, channel: int) -> Session | None:
        self._require_open()
        session = self._remote_sessions.get(channel)
        if session is None:
            if channel > self.config.channel_max:
                raise PeerViolation(Violation.CHANNEL_OUT_OF_RANGE, f"frame on channel {channel}")
            raise PeerViolation(Violation.UNKNOWN_CHANNEL, f"frame on channel {channel}, no session")
        return None if session._is_discarding() else session

    def _on_end(self, channel: int, body: End, payload: memoryview) -> None:
        self._require_open()
        session = self._remote_sessions.get(channel)
        if session is None:
            raise PeerViolation(Violation.UNKNOWN_CHANNEL, f"END on channel {channel}, no session")
        session._on_end(body)

    def _on_attach(self, channel: int, body: Attach, payload: memoryview) -> None:
        session = self._session_for(channel)
        if session is not None:
            session._on_attach(body)

    def _on_detach(self, channel: int, body: Detach, payload: memoryview) -> None:
        session = self._session_for(channel)
        if session is not None:
            session._on_detach(body)

    def _on_flow(self, channel: int, body: Flow, payload: memoryview) -> None:
        session = self._session_for(channel)
        if session is not None:
            session._on_flow(body)

    def _on_transfer(self, channel: int, body: Transfer, payload: memoryview) -> None:
        session = self._session_for(channel)
        if session is not None:
            session._on_transfer(body, payload)

    def _on_disposition(self, channel: int, body: Disposition, payload: memoryview) -> None:
        session = self._session_for(channel)
        if session is not None:
            session._on_disposition(body)

    # -- violations and the end ------------------------------------------------------------------
    def _apply_violation(self, violation: PeerViolation) -> None:
        """The one place a peer's violation becomes a CLOSE, END or DETACH (violations.py)."""
        rule = violation.rule
        session = self._sessions.get(violation.channel) if violation.channel is not None else None
        link = None
        if session is not None and violation.handle is not None:
            link = session._links.get(violation.handle)
        self._events_sink.append(
            ProtocolViolationDetected(
                violation=violation.violation,
                level=rule.level,
                condition=rule.condition,
                description=violation.description,
                session=session,
                link=link,
            )
        )
        error = _error(rule.condition, violation.description)
        if rule.level is Level.LINK and link is not None:
            if link.state in (LinkState.ATTACHED, LinkState.ATTACH_SENT):
                link.detach(closed=True, error=error)
                return
        if rule.level in (Level.LINK, Level.SESSION) and session is not None:
            if session.state in (SessionState.MAPPED, SessionState.BEGIN_SENT):
                session.end(error)
                return
        # Connection level. A broken byte stream or a silent peer cannot finish a close
        # handshake: send CLOSE (if AMQP is up) and end at once.
        fatal = violation.violation in (
            Violation.BAD_HEADER,
            Violation.FRAMING_ERROR,
            Violation.IDLE_TIMEOUT,
            Violation.HANDSHAKE_TIMEOUT,
        )
        if self._handshake.header_sent and self._fsm.state not in (CS.CLOSE_SENT, CS.DISCARDING, CS.END):
            if self._fsm.can(CI.SEND_OPEN):
                self.open()
            if self._fsm.can(CI.SEND_CLOSE_ERROR):
                self._flush_all_dispositions()
                self._fsm.process(CI.SEND_CLOSE_ERROR)
                self._local_error = error
                self._send_frame(0, Close(error=error))
        if fatal or not self._handshake.header_sent:
            self._terminate(_closed_error(error), by_peer=False)

    def _terminate(self, error: AMQPError | None, *, by_peer: bool) -> None:
        """The connection is over: end every session, report once, stop reading."""
        for session in list(self._sessions.values()):
            session._finish(
                None if error is None else _session_error_from(error), by_peer=by_peer, emit=True
            )
        self._fsm.process(CI.TRANSPORT_CLOSED)
        self._reading = False
        self._handshake.stop()
        if not self._closed_reported:
            self._closed_reported = True
            self._events_sink.append(ConnectionClosed(error=error, by_peer=by_peer))


def _closed_error(error: Error) -> ConnectionClosedError:
    return ConnectionClosedError(error.description, condition=error.condition, info=error.info)


def _session_error_from(error: AMQPError) -> SessionEndedError:
    return SessionEndedError(error.description, condition=error.condition, info=error.info)


_HANDLERS: dict[type, Any] = {
    Open: Connection._on_open,
    Begin: Connection._on_begin,
    Attach: Connection._on_attach,
    Flow: Connection._on_flow,
    Transfer: Connection._on_transfer,
    Disposition: Connection._on_disposition,
    Detach: Connection._on_detach,
    End: Connection._on_end,
    Close: Connection._on_close,
}
