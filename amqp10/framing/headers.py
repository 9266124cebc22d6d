"""The AMQP protocol headers (spec 2.2): ``AMQP`` + protocol-id + major.minor.revision.

Owns: parsing and validating an 8-byte header and deciding the answer to it. Spec 2.2: a peer
that receives a header it does not support "MUST send a protocol header with a supported
protocol version and then close the socket". Must never: touch frames or hold any state
beyond the header itself.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Iterable

from ..errors import FramingError

__all__ = [
    "ProtocolId",
    "ProtocolHeader",
    "HEADER_SIZE",
    "AMQP_HEADER",
    "SASL_HEADER",
    "TLS_HEADER",
    "parse_header",
    "check_header_prefix",
    "HeaderAnswer",
    "answer_header",
]

HEADER_SIZE = 8
_MAGIC = b"AMQP"
_FRAMING_ERROR = "amqp:connection:framing-error"


class ProtocolId(enum.IntEnum):
    """The protocol-id byte of a header (spec 2.2, 5.1, 5.3.1)."""

    AMQP = 0
    TLS = 2
    SASL = 3


@dataclass(frozen=True, slots=True)
class ProtocolHeader:
    """A parsed protocol header. ``protocol_id`` is an ``int`` when it is not a known id."""

    protocol_id: ProtocolId | int
    major: int = 1
    minor: int = 0
    revision: int = 0

    def encode(self) -> bytes:
        """The 8 bytes of this header."""
        return _MAGIC + bytes((int(self.protocol_id), self.major, self.minor, self.revision))

    @property
    def is_supported(self) -> bool:
        """True for version 1.0.0 of a protocol id we speak (AMQP, SASL, TLS)."""
        return (
            isinstance(self.protocol_id, ProtocolId)
            and (self.major, self.minor, self.revision) == (1, 0, 0)
        )


AMQP_HEADER = ProtocolHeader(ProtocolId.AMQP).encode()
SASL_HEADER = ProtocolHeader(ProtocolId.SASL).encode()
TLS_HEADER = ProtocolHeader(ProtocolId.TLS).encode()


def check_header_prefix(data: bytes | bytearray | memoryview) -> None:
    """Fail early on a partial header: raise if the bytes so far cannot start ``AMQP``.

    Lets a reader reject an HTTP request or TLS ClientHello after its first byte instead of
    waiting for eight.

    Raises:
        FramingError: with condition ``amqp:connection:framing-error``.
    """
    n = min(len(data), 4)
    if bytes(data[:n]) != _MAGIC[:n]:
        raise FramingError(
            f"not an AMQP protocol header: {bytes(data[:HEADER_SIZE])!r}",
            condition=_FRAMING_ERROR,
        )


def parse_header(data: bytes | bytearray | memoryview) -> ProtocolHeader:
    """Parse exactly 8 bytes as a protocol header.

    Any protocol id and version parses (so that the caller can answer it per spec 2.2); only a
    missing ``AMQP`` magic is an error.

    Raises:
        FramingError: the bytes are not 8 long or do not start with ``AMQP``.
    """
    if len(data) != HEADER_SIZE:
        raise FramingError(
            f"a protocol header is {HEADER_SIZE} bytes, got {len(data)}", condition=_FRAMING_ERROR
        )
    check_header_prefix(data)
    raw_id = data[4]
    pid: ProtocolId | int
    try:
        pid = ProtocolId(raw_id)
    except ValueError:
        pid = raw_id
    return ProtocolHeader(pid, data[5], data[6], data[7])


@dataclass(frozen=True, slots=True)
class HeaderAnswer:
    """What to do with a received header.

    Attributes:
        accepted: the header is one we expected; carry on with that protocol.
        reply: the header bytes to send back (ours), or ``b""`` when we already sent ours.
        description: why it was refused (``None`` when accepted).
    """

    accepted: bool
    reply: bytes
    description: str | None = None


def answer_header(
    received: ProtocolHeader, acceptable: Iterable[ProtocolId], *, already_sent: bool
) -> HeaderAnswer:
    """Decide the answer to ``received`` when we can continue with any of ``acceptable``.

    Spec 2.2: if the requested protocol is supported we answer with the same header (unless
    we already sent it: a client sends first); otherwise we answer with a header we do support
    (the first of ``acceptable``) and close the socket. The caller does the closing.
    """
    allowed = list(acceptable)
    if received.is_supported and received.protocol_id in allowed:
        return HeaderAnswer(True, b"" if already_sent else received.encode())
    wanted = allowed[0] if allowed else ProtocolId.AMQP
    return HeaderAnswer(
        False,
        b"" if already_sent else ProtocolHeader(wanted).encode(),
        f"unsupported protocol header {received.encode()!r}; expected {ProtocolHeader(wanted).encode()!r}",
    )
