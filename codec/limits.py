"""Decoding limits: the only place their values live.

Every length, count and depth read from the wire is checked against these bounds (and against
the bytes actually left) *before* anything is allocated. The defaults are safe for a process that
talks to untrusted peers; raise them for trusted bulk transfers.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Limits", "DEFAULT_LIMITS"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds the decoder enforces before it allocates.

    Attributes:
        max_depth: deepest nesting of compound, array and described values (a bare scalar is
            depth 0; each list, map, array or described value adds one).
        max_count: most elements in one list, map (counting keys and values) or array. Zero-width
            array elements (null, true, false, uint0, ...) take no bytes, so nothing else bounds
            them: they count against this in total across one decoded value (one call of
            ``decode_value`` / ``decode_described_list``) or one message (``Message.decode``
            decodes all its sections under one budget), not per array, or a list of small
            arrays could each claim the maximum.
        max_binary_size: longest binary value in bytes.
        max_string_size: longest string or symbol, in encoded bytes.
        max_message_size: largest encoded message, in bytes. The message decoder refuses a
            longer input, and the engine's receiving links use it as their max-message-size
            (spec 2.7.3) unless one is given: it is advertised in the receiver's ATTACH and
            a delivery is refused (link closed with ``amqp:link:message-size-exceeded``)
            before the transfer that would cross it is buffered. The trade-off: a receiving
            link may hold this much of one unfinished delivery, so memory per connection is
            up to this times its receiving links with a delivery in progress; a smaller
            value refuses legitimate large messages. 100 MiB sits with what brokers accept
            by default (tens to a hundred MiB) and well above the interop suite's 10 MiB
            messages; lower it for many links from untrusted peers, raise it (or give the
            link ``max_message_size=0``, no limit) for trusted bulk transfers.
        max_partial_deliveries_size: most bytes one connection holds, in total, of incoming
            deliveries not yet complete (a delivery split over many transfers, spec 2.6.14,
            is held until its last transfer). ``max_message_size`` bounds one delivery but
            not how many links a peer fills at once: 128 links each holding 1 MiB of an
            unfinished delivery cost 128 MiB. The transfer that would cross this total is
            refused before it is kept, and the connection closes with
            ``amqp:resource-limit-exceeded``. One delivery alone is bounded by
            ``max_message_size`` only (so a lone large message still fits); the total
            applies as soon as two or more are unfinished. Memory per connection is thus
            at most about the larger of the two. 32 MiB leaves room for several large
            messages at once while a hostile peer cannot make a connection cost hundreds.
        max_body_sections: most body sections in one message (spec 3.2: a body is one or
            more data sections or one or more amqp-sequence sections; every other section
            appears at most once). A section costs 3 to 5 bytes on the wire but an object in
            memory, so the message size alone does not bound them: the count is checked
            before each repeated body section is decoded or listed, and a message of many
            tiny sections is refused at the first one over the limit. At least 1.
    """

    max_depth: int = 64
    max_count: int = 1 << 20
    max_binary_size: int = 1 << 30
    max_string_size: int = 1 << 28
    max_message_size: int = 100 << 20
    max_partial_deliveries_size: int = 32 << 20
    max_body_sections: int = 64

    def __post_init__(self) -> None:
        # Every message may have one body section; a bound below that would refuse them all.
        if self.max_body_sections < 1:
            raise ValueError(f"max_body_sections must be at least 1, got {self.max_body_sections}")
        if self.max_partial_deliveries_size < 0:
            raise ValueError("max_partial_deliveries_size must be >= 0")


#: the limits every decoder uses when it is given none
DEFAULT_LIMITS = Limits()
