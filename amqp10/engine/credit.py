"""Link flow control (spec 2.6.7): delivery-count, link-credit, available, drain, as arithmetic.

Owns: the flow state of one link end and how FLOW frames and transfers change it, for either
role. Every delivery-count step goes through ``serial.py``. Must never: send frames or hold
deliveries.

Spec 2.6.7, sender side: on a FLOW from the receiver,
``link-credit = delivery-count(rcv) + link-credit(rcv) - delivery-count(snd)``; each delivery
sent increments delivery-count and decrements link-credit; when drain is set and nothing is
left to send, the sender advances delivery-count by link-credit and sets link-credit to zero.
Receiver side: it sets link-credit absolutely; each transfer received increments its
delivery-count and decrements its credit; a transfer arriving with no credit is a violation.
"""

from __future__ import annotations

from .serial import serial_add, serial_diff

__all__ = ["LinkCredit", "CreditExceeded"]

_UINT_MAX = (1 << 32) - 1


class CreditExceeded(Exception):
    """The peer sent a transfer for which no credit was granted."""


class LinkCredit:
    """The flow state of one link end.

    Attributes:
        delivery_count: deliveries sent (sender) or seen (receiver), mod 2**32.
        link_credit: deliveries the sender may still send.
        available: deliveries the sender says it has waiting.
        drain: the receiver asked the sender to use up or give back all credit.
    """

    __slots__ = ("delivery_count", "link_credit", "available", "drain")

    def __init__(self, delivery_count: int = 0) -> None:
        self.delivery_count = delivery_count & 0xFFFFFFFF
        self.link_credit = 0
        self.available = 0
        self.drain = False

    # -- sender ------------------------------------------------------------------------------
    def sender_on_flow(self, rcv_delivery_count: int | None, rcv_link_credit: int, drain: bool) -> None:
        """Apply a FLOW from the receiver to the sender's state (spec 2.6.7)."""
        # An absent delivery-count means the receiver has not seen our ATTACH yet: it counts
        # from our initial-delivery-count, which is still our delivery_count only if we have
        # sent nothing; using ours is the spec's rule ("the initial-delivery-count").
        base = self.delivery_count if rcv_delivery_count is None else rcv_delivery_count
        # Credit the receiver granted before seeing our latest transfers is partly used up.
        # link-credit is a uint (spec 2.7.4): all 2**32 values are credit, so the formula is
        # not one serial difference (which reads a credit of 2**31 or more as negative).
        # Only the deliveries we sent since the receiver's delivery-count are a serial
        # distance (small, RFC 1982); the uint credit minus that, clamped to [0, 2**32).
        sent_since = serial_diff(self.delivery_count, base)
        self.link_credit = min(max(0, rcv_link_credit - sent_since), _UINT_MAX)
        self.drain = drain

    def sender_consume(self) -> None:
        """One delivery sent: spend a credit (the caller checked there was one)."""
        self.delivery_count = serial_add(self.delivery_count, 1)
        self.link_credit -= 1

    def sender_drain(self) -> int:
        """Nothing left to send while draining: give back all credit. Returns how much."""
        spent = self.link_credit
        self.delivery_count = serial_add(self.delivery_count, spent)
        self.link_credit = 0
        return spent

    # -- receiver ----------------------------------------------------------------------------
    def receiver_grant(self, credit: int, drain: bool = False) -> None:
        """Set the credit the receiver grants (absolute, spec 2.6.7) and the drain flag."""
        self.link_credit = credit
        self.drain = drain

    def receiver_on_transfer(self) -> None:
        """One new delivery arrived.

        Raises:
            CreditExceeded: there was no credit for it.
        """
        if self.link_credit <= 0:
            raise CreditExceeded("transfer received with no link credit")
        self.link_credit -= 1
        self.delivery_count = serial_add(self.delivery_count, 1)

    def receiver_on_flow(self, snd_delivery_count: int | None, available: int | None) -> bool:
        """Apply a FLOW from the sender; return True if it completed a drain.

        The sender advances its delivery-count past ours only when it drains (or gives credit
        back), so the difference is credit it consumed without sending.
        """
        if available is not None:
            self.available = available
        if snd_delivery_count is None:
            return False
        # The sender moves its delivery-count forward by at most the credit it had, which
        # may be up to 2**32-1 (a uint, spec 2.7.4): measure the step as an unsigned
        # distance so a drain of 2**31 or more credits is not read as a step backwards.
        advanced = (snd_delivery_count - self.delivery_count) & _UINT_MAX
        if advanced > self.link_credit and serial_diff(snd_delivery_count, self.delivery_count) <= 0:
            advanced = 0  # behind ours (RFC 1982): an old count, nothing was consumed
        if advanced:
            self.delivery_count = snd_delivery_count
            self.link_credit = max(0, self.link_credit - advanced)
        if self.drain and self.link_credit == 0:
            self.drain = False
            return True
        return False
