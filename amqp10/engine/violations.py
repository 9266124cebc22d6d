"""THE violation table: every protocol violation by the peer, its condition and its level.

Owns: ``Violation`` (one member per kind of peer misbehaviour), ``VIOLATIONS`` (violation ->
condition, level, description) and ``PeerViolation``, the exception the engine's handlers raise
and ``Connection`` catches at one choke point. The level says which endpoint pays:

- ``CONNECTION``: send CLOSE with the error and discard input until the peer's CLOSE
  (spec 2.4.6 DISCARDING); for a bad protocol header, answer with our header and end.
- ``SESSION``: send END with the error and discard the session's input until its END
  (spec 2.5.5 DISCARDING).
- ``LINK``: send DETACH(closed=true) with the error (spec 2.6.5).

Must never: be duplicated. A rule that detects a violation names a row here; conditions are
not written anywhere else in the engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..codec.spec import (
    AmqpErrorCondition as AmqpError,
    ConnectionErrorCondition,
    LinkErrorCondition as LinkError,
    SessionErrorCondition as SessionError,
)

__all__ = ["Level", "Violation", "ViolationRule", "VIOLATIONS", "PeerViolation"]


class Level(enum.Enum):
    """Which endpoint a violation ends."""

    CONNECTION = "connection"
    SESSION = "session"
    LINK = "link"


class Violation(enum.Enum):
    """Every way the peer can break the protocol that the engine detects."""

    BAD_HEADER = "bad protocol header"
    FRAMING_ERROR = "malformed frame or frame too large"
    DECODE_ERROR = "undecodable frame body"
    INVALID_FIELD = "invalid field value"
    ILLEGAL_STATE = "performative not allowed in the current state"
    CHANNEL_OUT_OF_RANGE = "channel above channel-max"
    UNKNOWN_CHANNEL = "frame on a channel with no session"
    HANDLE_OUT_OF_RANGE = "handle above handle-max"
    HANDLE_IN_USE = "attach on a handle already in use"
    UNATTACHED_HANDLE = "frame for a handle with no attached link"
    WINDOW_VIOLATION = "transfer beyond the session incoming window"
    TRANSFER_LIMIT_EXCEEDED = "transfer beyond link credit"
    MESSAGE_SIZE_EXCEEDED = "message larger than max-message-size"
    BAD_DELIVERY_ID = "delivery-id out of sequence"
    UNKNOWN_DELIVERY_IDS = "disposition for delivery-ids never sent"
    TRANSFER_TO_SENDER = "transfer on a link where the peer is the receiver"
    IDLE_TIMEOUT = "nothing received within our idle-time-out"
    HANDSHAKE_TIMEOUT = "the opening handshake did not finish in time"
    PARTIAL_DELIVERIES_EXCEEDED = "unfinished incoming deliveries hold too many bytes"
    DELIVERY_TAG_TOO_LONG = "delivery-tag longer than 32 bytes"
    DELIVERY_TAG_CHANGED = "continuation transfer with another delivery-tag"
    RESUME_UNKNOWN_TAG = "resumed transfer for a delivery the sender did not list as unsettled"
    NEW_DELIVERY_WHILE_INCOMPLETE = "new delivery after our incomplete unsettled map"


@dataclass(frozen=True, slots=True)
class ViolationRule:
    """One row: the condition we send, the endpoint that ends, and why (spec section)."""

    condition: str
    level: Level
    description: str


_FRAMING = ConnectionErrorCondition.FRAMING_ERROR.value

VIOLATIONS: dict[Violation, ViolationRule] = {
    # 2.2: a header we cannot speak is answered with ours, then the socket closes.
    Violation.BAD_HEADER: ViolationRule(_FRAMING, Level.CONNECTION, "2.2 protocol header mismatch"),
    # 2.3.1: size below 8, doff below 2, unknown type; 2.7.1: above our max-frame-size.
    Violation.FRAMING_ERROR: ViolationRule(_FRAMING, Level.CONNECTION, "2.3.1 malformed frame"),
    # 2.8.15 decode-error: "data could not be decoded".
    Violation.DECODE_ERROR: ViolationRule(
        AmqpError.DECODE_ERROR.value, Level.CONNECTION, "2.8.15 frame body could not be decoded"
    ),
    # 2.8.15 invalid-field: e.g. max-frame-size below MIN-MAX-FRAME-SIZE (512).
    Violation.INVALID_FIELD: ViolationRule(
        AmqpError.INVALID_FIELD.value, Level.CONNECTION, "2.8.15 a field has an invalid value"
    ),
    # 2.8.15 illegal-state: "the peer sent a frame that is not permitted in the current state".
    Violation.ILLEGAL_STATE: ViolationRule(
        AmqpError.ILLEGAL_STATE.value, Level.CONNECTION, "2.8.15 frame not permitted in this state"
    ),
    # 2.7.1 channel-max: "MUST close the connection with the framing-error error-code".
    Violation.CHANNEL_OUT_OF_RANGE: ViolationRule(
        _FRAMING, Level.CONNECTION, "2.7.1 channel outside channel-max"
    ),
    # 2.5.1: frames other than BEGIN need a session mapped on their channel.
    Violation.UNKNOWN_CHANNEL: ViolationRule(
        AmqpError.NOT_ALLOWED.value, Level.CONNECTION, "2.5.1 no session on this channel"
    ),
    # 2.7.2 handle-max: "MUST close the connection with the framing-error error-code".
    Violation.HANDLE_OUT_OF_RANGE: ViolationRule(
        _FRAMING, Level.CONNECTION, "2.7.2 handle outside handle-max"
    ),
    # 2.8.16 handle-in-use: "an attach was received using a handle that is already in use".
    Violation.HANDLE_IN_USE: ViolationRule(
        SessionError.HANDLE_IN_USE.value, Level.SESSION, "2.8.16 handle already in use"
    ),
    # 2.8.16 unattached-handle: "a frame ... was received referencing a handle which is not
    # currently in use of an attached link".
    Violation.UNATTACHED_HANDLE: ViolationRule(
        SessionError.UNATTACHED_HANDLE.value, Level.SESSION, "2.8.16 handle not attached"
    ),
    # 2.5.6 / 2.8.16 window-violation: transfer with our incoming-window at zero.
    Violation.WINDOW_VIOLATION: ViolationRule(
        SessionError.WINDOW_VIOLATION.value, Level.SESSION, "2.5.6 incoming window exceeded"
    ),
    # 2.6.7 / 2.8.17 transfer-limit-exceeded: transfer with no link-credit.
    Violation.TRANSFER_LIMIT_EXCEEDED: ViolationRule(
        LinkError.TRANSFER_LIMIT_EXCEEDED.value, Level.LINK, "2.6.7 link credit exceeded"
    ),
    # 2.7.3 max-message-size / 2.8.17 message-size-exceeded.
    Violation.MESSAGE_SIZE_EXCEEDED: ViolationRule(
        LinkError.MESSAGE_SIZE_EXCEEDED.value, Level.LINK, "2.7.3 max-message-size exceeded"
    ),
    # 2.7.5: delivery-ids are allocated in sequence by the sending session; a continuation
    # transfer must repeat its delivery's id.
    Violation.BAD_DELIVERY_ID: ViolationRule(
        AmqpError.NOT_ALLOWED.value, Level.SESSION, "2.7.5 delivery-id out of sequence"
    ),
    # 2.7.6: a disposition range naming deliveries that were never sent.
    Violation.UNKNOWN_DELIVERY_IDS: ViolationRule(
        AmqpError.NOT_ALLOWED.value, Level.SESSION, "2.7.6 disposition for unknown delivery-ids"
    ),
    # 2.6.12: only the sending end of a link transfers.
    Violation.TRANSFER_TO_SENDER: ViolationRule(
        AmqpError.NOT_ALLOWED.value, Level.LINK, "2.6.12 transfer sent to the sending end"
    ),
    # 2.4.5: "the connection ... MAY be closed with resource-limit-exceeded".
    Violation.IDLE_TIMEOUT: ViolationRule(
        AmqpError.RESOURCE_LIMIT_EXCEEDED.value, Level.CONNECTION, "2.4.5 idle-time-out expired"
    ),
    # 2.4.1 / 5.3: headers, SASL and OPEN not done within Config.handshake_timeout. The spec
    # sets no bound; a peer that stalls there holds a socket and memory for nothing, and
    # 2.8.15 resource-limit-exceeded is what we are protecting.
    Violation.HANDSHAKE_TIMEOUT: ViolationRule(
        AmqpError.RESOURCE_LIMIT_EXCEEDED.value, Level.CONNECTION, "2.4.1 opening handshake timed out"
    ),
    # 2.8.15 resource-limit-exceeded: Limits.max_partial_deliveries_size, the bytes all of a
    # connection's unfinished incoming deliveries may hold together.
    Violation.PARTIAL_DELIVERIES_EXCEEDED: ViolationRule(
        AmqpError.RESOURCE_LIMIT_EXCEEDED.value,
        Level.CONNECTION,
        "2.8.15 unfinished deliveries exceed the connection's buffer limit",
    ),
    # 2.8.7 delivery-tag: "A delivery-tag can be up to 32 octets of binary data"; 2.8.15
    # invalid-field: a field the operation cannot proceed with.
    Violation.DELIVERY_TAG_TOO_LONG: ViolationRule(
        AmqpError.INVALID_FIELD.value, Level.LINK, "2.8.7 delivery-tag over 32 octets"
    ),
    # 2.7.5 delivery-tag: on a continuation transfer it may be omitted, but a different value
    # from the first transfer's is invalid.
    Violation.DELIVERY_TAG_CHANGED: ViolationRule(
        AmqpError.INVALID_FIELD.value, Level.LINK, "2.7.5 continuation transfer changed the delivery-tag"
    ),
    # 2.7.5 resume: "The sender MUST NOT send resumed transfers for deliveries not in its local
    # unsettled map" (the map its ATTACH carried); 2.8.15 not-allowed: a frame used against
    # the semantics of the specification.
    Violation.RESUME_UNKNOWN_TAG: ViolationRule(
        AmqpError.NOT_ALLOWED.value, Level.LINK, "2.7.5 resumed transfer for a tag not in the sender's unsettled map"
    ),
    # 2.7.3 incomplete-unsettled: "a receiving endpoint which sent an incomplete unsettled map
    # MUST detach with an error on receiving a transfer which does not have the resume flag
    # set to true"; 2.8.15 illegal-state: not permitted in the link's current state.
    Violation.NEW_DELIVERY_WHILE_INCOMPLETE: ViolationRule(
        AmqpError.ILLEGAL_STATE.value,
        Level.LINK,
        "2.7.3 new delivery while our unsettled map is incomplete",
    ),
}


class PeerViolation(Exception):
    """Raised inside the engine when the peer broke a rule; caught once, in ``Connection``.

    Attributes:
        violation: the row of ``VIOLATIONS``.
        description: what exactly happened (sent to the peer in the error).
        channel: the local channel of the session it concerns (SESSION and LINK levels).
        handle: the local handle of the link it concerns (LINK level).
    """

    def __init__(
        self,
        violation: Violation,
        description: str,
        *,
        channel: int | None = None,
        handle: int | None = None,
    ) -> None:
        super().__init__(f"{violation.value}: {description}")
        self.violation = violation
        self.description = description
        self.channel = channel
        self.handle = handle

    @property
    def rule(self) -> ViolationRule:
        """The table row for this violation."""
        return VIOLATIONS[self.violation]
