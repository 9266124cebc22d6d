"""The opening of a connection: protocol headers and SASL, up to the first AMQP frame.

Owns: the bytes each side must exchange before AMQP frames flow (spec 2.2 and 5.3): which
protocol header we send and which we accept next, the SASL exchange (one frame at a time,
through the negotiator ``Config.sasl`` makes), and the AMQP frames a client pipelines behind
it (OPEN, BEGIN, ATTACH queued at once are *held* until authentication succeeds, spec 5.3.2).
The path is header -> SASL -> header; when the AMQP headers have been exchanged the
handshake is ``done`` and hands over to ``Connection``, which sends or answers OPEN (the
handshake-as-its-own-object idea of wsproto).

Must never: touch the connection's state machine, sessions or events. It says what happened
(``Progress``, ``SaslFinished``) or raises the peer's violation (``PeerViolation``), and the
connection acts on it; its frames and headers are traced through the connection's one tracer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable

from ..codec.composite import Composite
from ..codec.errors import DecodeError
from ..codec.limits import Limits
from ..errors import AMQPError, FramingError, SASLError
from ..framing.frame import Frame, FrameType, encode_frame
from ..framing.headers import AMQP_HEADER, SASL_HEADER, ProtocolId, answer_header, parse_header
from ..framing.performatives import decode_body
from ..framing.reader import FrameReader
from . import trace
from .config import Config, ConnectionRole, SaslNegotiator
from .events import SaslOutcomeReceived
from .violations import PeerViolation, Violation

__all__ = ["Handshake", "Phase", "Progress", "SaslFinished", "Tracer", "decode_frame_body"]

#: ``Connection._trace``: (direction, channel, body or header bytes, payload size, header=...)
Tracer = Callable[..., None]


class Phase(enum.Enum):
    """What the next bytes from the peer must be."""

    ANY_HEADER = "any header"  # server, first bytes: SASL, or AMQP if SASL may be skipped
    SASL_HEADER = "SASL header"
    SASL_FRAMES = "SASL frames"
    AMQP_HEADER = "AMQP header"
    DONE = "done"  # headers exchanged: AMQP frames, the connection's business


class Progress(enum.Enum):
    """What one ``Handshake.read`` did, besides finishing SASL."""

    NEED_BYTES = "need more bytes"
    CONTINUE = "continue"  # a header or SASL frame handled; read on
    AMQP_HEADER_RECEIVED = "AMQP header received"  # handed over: the handshake is done


@dataclass(frozen=True, slots=True)
class SaslFinished:
    """The SASL exchange ended.

    Attributes:
        event: what to report (``SaslOutcomeReceived``).
        error: ``None`` on success (the AMQP header exchange follows); otherwise the
            connection ends with this error.
        by_peer: the peer ended it (a client told "authentication failed").
    """

    event: SaslOutcomeReceived
    error: AMQPError | None = None
    by_peer: bool = False


def decode_frame_body(frame: Frame, limits: Limits) -> tuple[Any, memoryview]:
    """A frame's performative and payload; a body that does not decode is the peer's
    ``DECODE_ERROR`` (for the connection's AMQP frames as for SASL frames)."""
    try:
        return decode_body(frame, limits)
    except DecodeError as exc:
        raise PeerViolation(Violation.DECODE_ERROR, exc.description or str(exc)) from None


class Handshake:
    """Headers and SASL for one connection, writing into the connection's output buffer.

    Args:
        config: the connection's configuration (role, SASL negotiator factory, limits).
        out: the connection's outgoing bytes.
        tracer: the connection's one tracing function, called when ``trace.ENABLED``.

    Attributes:
        phase: what the peer must send next.
        header_sent: our AMQP header is in ``out``, so AMQP frames may follow it there.
        sasl: the SASL negotiator, once the SASL layer is in use.
        user: the identity SASL authenticated (server side), if any.
    """

    def __init__(self, config: Config, out: bytearray, tracer: Tracer) -> None:
        self.config = config
        self._out = out
        self._held = bytearray()  # AMQP frames (and our AMQP header) waiting for SASL
        self._trace = tracer
        self.header_sent = False
        self.sasl: SaslNegotiator | None = None
        self.user: str | None = None
        if config.role is not ConnectionRole.CLIENT:
            self.phase = Phase.ANY_HEADER
            return
        # A client speaks first (spec 2.2): the SASL header with its first SASL frames, or the
        # AMQP header straight away.
        if config.sasl is not None:
            self.sasl = config.sasl()
            self._write_header(SASL_HEADER, out)
            self._write_header(AMQP_HEADER, self._held)  # released after SASL
            self.phase = Phase.SASL_HEADER
            for body in self.sasl.initial_frames():
                self._send_sasl(body)
        else:
            self._write_header(AMQP_HEADER, out)
            self.header_sent = True
            self.phase = Phase.AMQP_HEADER

    @property
    def done(self) -> bool:
        """The AMQP headers are exchanged: input is AMQP frames from now on."""
        return self.phase is Phase.DONE

    def buffer(self) -> bytearray:
        """Where AMQP frames go now: the output, or held until SASL succeeds."""
        return self._out if self.header_sent else self._held

    def stop(self) -> None:
        """The connection is over: drop what is held (it will never be sent)."""
        self._held.clear()

    def read(self, reader: FrameReader) -> Progress | SaslFinished:
        """Handle the next header or SASL frame ``reader`` has.

        Raises:
            PeerViolation: a bad header (``BAD_HEADER``), a bad frame (``FRAMING_ERROR``,
                ``DECODE_ERROR``), or an AMQP frame during SASL (``ILLEGAL_STATE``).
        """
        if self.phase is Phase.SASL_FRAMES:
            try:
                # One at a time: the AMQP header follows the outcome in the same bytes.
                frames = reader.read_frames(1)
            except FramingError as exc:
                raise PeerViolation(Violation.FRAMING_ERROR, exc.description or str(exc)) from None
            if not frames:
                return Progress.NEED_BYTES
            return self._on_sasl_frame(frames[0])
        try:
            raw = reader.read_header()
            if raw is None:
                return Progress.NEED_BYTES
            return self._on_header(raw)
        except FramingError as exc:
            raise PeerViolation(Violation.BAD_HEADER, exc.description or str(exc)) from None

    # -- headers ---------------------------------------------------------------------------
    def _on_header(self, raw: bytes) -> Progress:
        header = parse_header(raw)
        if trace.ENABLED:
            self._trace("<-", 0, raw, header=True)
        config = self.config
        phase = self.phase
        if phase is Phase.ANY_HEADER:
            acceptable = [ProtocolId.SASL] if config.sasl is not None else []
            if config.sasl is None or config.allow_no_sasl:
                acceptable.append(ProtocolId.AMQP)
        else:
            acceptable = [ProtocolId.SASL if phase is Phase.SASL_HEADER else ProtocolId.AMQP]
        # A client has sent its header already; a server answers with its own (spec 2.2).
        already_sent = phase is not Phase.ANY_HEADER and config.role is ConnectionRole.CLIENT
        answer = answer_header(header, acceptable, already_sent=already_sent)
        if not answer.accepted:
            if answer.reply:
                self._write_header(answer.reply, self._out)
            raise PeerViolation(Violation.BAD_HEADER, answer.description or "")
        if header.protocol_id is ProtocolId.SASL:
            if answer.reply:
                self._write_header(answer.reply, self._out)
            if self.sasl is None and config.sasl is not None:
                self.sasl = config.sasl()
            self.phase = Phase.SASL_FRAMES
            if config.role is ConnectionRole.SERVER and self.sasl is not None:
                for body in self.sasl.initial_frames():  # sasl-mechanisms (spec 5.3.3.1)
                    self._send_sasl(body)
            return Progress.CONTINUE
        # The AMQP header (spec 2.2): hand over to the connection.
        self.phase = Phase.DONE
        if config.role is ConnectionRole.SERVER:
            self._write_header(AMQP_HEADER, self._out)
            self._release_held()
        return Progress.AMQP_HEADER_RECEIVED

    def _write_header(self, header: bytes, out: bytearray) -> None:
        if trace.ENABLED:
            self._trace("->", 0, header, header=True)
        out += header

    def _release_held(self) -> None:
        self.header_sent = True
        if self._held:
            self._out += self._held
            self._held.clear()

    # -- SASL --------------------------------------------------------------------------------
    def _on_sasl_frame(self, frame: Frame) -> Progress | SaslFinished:
        sasl = self.sasl
        if frame.type is not FrameType.SASL or sasl is None or sasl.done:
            raise PeerViolation(Violation.ILLEGAL_STATE, "AMQP frame during the SASL exchange")
        body, _ = decode_frame_body(frame, self.config.limits)
        if trace.ENABLED:
            self._trace("<-", 0, body)
        try:
            replies = sasl.receive(body)
        except SASLError as exc:
            # A negotiator refusing a peer's SASL frame: the SASL layer cannot send CLOSE.
            return SaslFinished(SaslOutcomeReceived(succeeded=False, error=exc), exc, by_peer=False)
        for reply in replies:
            self._send_sasl(reply)
        if not sasl.done:
            return Progress.CONTINUE
        self.user = sasl.user
        event = SaslOutcomeReceived(succeeded=sasl.succeeded, error=sasl.error, user=sasl.user)
        if not sasl.succeeded:
            error = sasl.error or SASLError("SASL negotiation failed")
            return SaslFinished(event, error, by_peer=self.config.role is ConnectionRole.CLIENT)
        self.phase = Phase.AMQP_HEADER
        if self.config.role is ConnectionRole.CLIENT:
            self._release_held()  # our AMQP header and the pipelined frames go out now
        return SaslFinished(event)

    def _send_sasl(self, body: Composite) -> None:
        if trace.ENABLED:
            self._trace("->", 0, body)
        encode_frame(self._out, 0, body, frame_type=FrameType.SASL)
