"""The endpoint states and state-machine inputs, named as in the spec.

Owns: ``ConnectionState`` (spec 2.4.6), ``SessionState`` (spec 2.5.5), ``LinkState``
(spec 2.6.3-2.6.6: attach and detach exchanges), and the ``*Input`` enums that drive them.
Must never: hold transitions (``tables.py``) or behaviour.
"""

from __future__ import annotations

import enum

__all__ = [
    "ConnectionState",
    "ConnectionInput",
    "SessionState",
    "SessionInput",
    "LinkState",
    "LinkInput",
]


class ConnectionState(enum.Enum):
    """Connection states of spec 2.4.6 (figure 2.23)."""

    START = "START"
    HDR_RCVD = "HDR_RCVD"
    HDR_SENT = "HDR_SENT"
    HDR_EXCH = "HDR_EXCH"
    OPEN_PIPE = "OPEN_PIPE"
    OC_PIPE = "OC_PIPE"
    OPEN_RCVD = "OPEN_RCVD"
    OPEN_SENT = "OPEN_SENT"
    CLOSE_PIPE = "CLOSE_PIPE"
    OPENED = "OPENED"
    CLOSE_RCVD = "CLOSE_RCVD"
    CLOSE_SENT = "CLOSE_SENT"
    DISCARDING = "DISCARDING"
    END = "END"


class ConnectionInput(enum.Enum):
    """What moves a connection: a header, OPEN or CLOSE sent or received, or the transport."""

    SEND_HEADER = "SEND_HEADER"
    RECV_HEADER = "RECV_HEADER"
    SEND_OPEN = "SEND_OPEN"
    RECV_OPEN = "RECV_OPEN"
    SEND_CLOSE = "SEND_CLOSE"
    #: a CLOSE carrying an error: afterwards incoming frames are discarded (spec 2.4.6)
    SEND_CLOSE_ERROR = "SEND_CLOSE_ERROR"
    RECV_CLOSE = "RECV_CLOSE"
    TRANSPORT_CLOSED = "TRANSPORT_CLOSED"


class SessionState(enum.Enum):
    """Session states of spec 2.5.5 (figure 2.30)."""

    UNMAPPED = "UNMAPPED"
    BEGIN_SENT = "BEGIN_SENT"
    BEGIN_RCVD = "BEGIN_RCVD"
    MAPPED = "MAPPED"
    END_SENT = "END_SENT"
    END_RCVD = "END_RCVD"
    DISCARDING = "DISCARDING"


class SessionInput(enum.Enum):
    """What moves a session: BEGIN or END sent or received."""

    SEND_BEGIN = "SEND_BEGIN"
    RECV_BEGIN = "RECV_BEGIN"
    SEND_END = "SEND_END"
    #: an END carrying an error: incoming frames are discarded until the peer's END
    SEND_END_ERROR = "SEND_END_ERROR"
    RECV_END = "RECV_END"


class LinkState(enum.Enum):
    """Link endpoint states (spec 2.6.3 attach, 2.6.5 detach, 2.6.6 close)."""

    DETACHED = "DETACHED"
    ATTACH_SENT = "ATTACH_SENT"
    ATTACH_RCVD = "ATTACH_RCVD"
    ATTACHED = "ATTACHED"
    DETACH_SENT = "DETACH_SENT"
    DETACH_RCVD = "DETACH_RCVD"


class LinkInput(enum.Enum):
    """What moves a link: ATTACH or DETACH sent or received."""

    SEND_ATTACH = "SEND_ATTACH"
    RECV_ATTACH = "RECV_ATTACH"
    SEND_DETACH = "SEND_DETACH"
    RECV_DETACH = "RECV_DETACH"
