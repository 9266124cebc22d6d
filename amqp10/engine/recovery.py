"""Link recovery (spec 2.6.13 "Resuming Deliveries"): unsettled maps and what to do with them.

Owns: ``UnsettledDelivery`` and ``UnsettledMap`` (what a link endpoint still considered
unsettled when its link was suspended: the ATTACH ``unsettled`` and ``incomplete-unsettled``
fields, plus, at a sender, the encoded messages it may have to send again), ``ResumeAction``
and ``sender_action``, the sender's side of the spec's table, as data. Must never: write
frames or hold link state (``resuming.py`` applies the actions to links).

The spec divides the delivery-tags of the two maps into three groups (2.6.13):

- only the *source* (sender) holds it: the receiver never got it, or got it and settled it.
  The sender sends it again as a new delivery (``RESEND``; at-least-once: this can duplicate a
  delivery the receiver had settled first, which rcv-settle-mode ``second`` rules out), or, if
  it already knows the outcome, the delivery is over (``FORGET``);
- only the *target* (receiver) holds it: the sender ignores it, the receiver considers it
  settled;
- both hold it: the sender resumes it, a TRANSFER with ``resume=true``: carrying the outcome
  and ``settled=true`` with no payload when either end reached one (``SETTLE``), the message
  again when neither did (``RESUME``), or ``aborted=true`` when it cannot (``ABORT``, spec
  2.6.14: an aborted delivery is implicitly settled).

An incomplete map (``incomplete-unsettled=true``) is no evidence of settlement for the tags it
leaves out; its sender may not start new deliveries until a later attach exchanges complete
maps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Mapping

from ..codec.spec import Accepted, Modified, Rejected, Released

__all__ = ["UnsettledDelivery", "UnsettledMap", "ResumeAction", "sender_action", "is_terminal"]

#: The terminal delivery states (spec 3.4): once reached, the state of a delivery no longer changes.
_TERMINAL = (Accepted, Rejected, Released, Modified)


def is_terminal(state: Any) -> bool:
    """True for an outcome (``Accepted``, ``Rejected``, ``Released``, ``Modified``)."""
    return isinstance(state, _TERMINAL)


@dataclass(frozen=True, slots=True)
class UnsettledDelivery:
    """One delivery a link endpoint still considered unsettled.

    Attributes:
        tag: the delivery-tag (at most 32 bytes, spec 2.8.7).
        state: this end's delivery state (``None``: none yet; a sender that learned the
            receiver's outcome but had not settled holds that outcome).
        payload: at a sender, the encoded message, to send it again; ``None`` when it cannot
            be sent again (a delivery the receiver holds is then aborted). Unused at a receiver.
        message_format: the transfer's message-format (spec 2.7.5).
    """

    tag: bytes
    state: Any = None
    payload: bytes | None = None
    message_format: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.tag, bytes) or len(self.tag) > 32:
            raise ValueError("a delivery-tag is bytes of at most 32 octets (spec 2.8.7)")


@dataclass(frozen=True, slots=True)
class UnsettledMap:
    """What a suspended link endpoint had not settled: the ATTACH ``unsettled`` map to resume
    the link with (spec 2.6.13), read from ``unsettled`` of a link and given to a new one.

    Attributes:
        deliveries: the unsettled deliveries, oldest first (the order they are sent again).
        incomplete: not every unsettled delivery is listed (``incomplete-unsettled``): the
            peer must not take an absent tag as settled, and a sender must not start new
            deliveries on the resumed link.

    An empty map is meaningful: "resume, nothing is unsettled here", so the peer settles what
    it still holds. ``None`` where a map is expected means a plain attach (spec 2.7.3: "when
    reattaching (as opposed to resuming), the unsettled map MUST be null").

    Raises:
        ValueError: two deliveries with the same tag.
    """

    deliveries: tuple[UnsettledDelivery, ...] = ()
    incomplete: bool = False
    _by_tag: dict[bytes, UnsettledDelivery] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        deliveries = tuple(self.deliveries)
        object.__setattr__(self, "deliveries", deliveries)
        by_tag = {d.tag: d for d in deliveries}
        if len(by_tag) != len(deliveries):
            raise ValueError("an unsettled map holds each delivery-tag once")
        object.__setattr__(self, "_by_tag", by_tag)

    @classmethod
    def of(cls, deliveries: Iterable[UnsettledDelivery], *, incomplete: bool = False) -> "UnsettledMap":
        """A map of ``deliveries`` (oldest first)."""
        return cls(tuple(deliveries), incomplete)

    def __len__(self) -> int:
        return len(self.deliveries)

    def __iter__(self) -> Iterator[UnsettledDelivery]:
        return iter(self.deliveries)

    def __contains__(self, tag: object) -> bool:
        return tag in self._by_tag

    def get(self, tag: bytes) -> UnsettledDelivery | None:
        """The delivery with ``tag``, if listed."""
        return self._by_tag.get(tag)

    def states(self) -> dict[bytes, Any]:
        """The ATTACH ``unsettled`` field: delivery-tag -> this end's delivery state."""
        return {d.tag: d.state for d in self.deliveries}


class ResumeAction(enum.Enum):
    """What a resuming sender does with one of its unsettled deliveries (spec 2.6.13)."""

    #: the receiver does not hold it: send it again as a new delivery
    RESEND = "resend"
    #: both hold it and neither reached an outcome: send it again with ``resume=true``
    RESUME = "resume"
    #: both hold it and one end reached an outcome: a resumed TRANSFER carrying the outcome,
    #: ``settled=true``, no payload
    SETTLE = "settle"
    #: both hold it, no outcome, and the message is not available: a resumed TRANSFER with
    #: ``aborted=true``
    ABORT = "abort"
    #: the sender knew the outcome and the receiver holds it no more: it is over at both ends
    FORGET = "forget"
    #: the receiver does not hold it and the message is not available: it cannot be sent
    LOST = "lost"
    #: the receiver's map is incomplete and leaves it out: nothing can be decided on this attach
    UNDECIDED = "undecided"


def sender_action(local: UnsettledDelivery, remote: Mapping[Any, Any], remote_incomplete: bool) -> ResumeAction:
    """The sender's action for ``local`` given the receiver's ``unsettled`` map (spec 2.6.13).

    ``remote`` is the receiver's map as decoded (delivery-tag -> state); ``None`` states mean
    "held, no state yet".
    """
    if local.tag not in remote:
        if remote_incomplete:
            return ResumeAction.UNDECIDED
        if is_terminal(local.state):
            return ResumeAction.FORGET
        return ResumeAction.RESEND if local.payload is not None else ResumeAction.LOST
    if is_terminal(remote[local.tag]) or is_terminal(local.state):
        return ResumeAction.SETTLE
    return ResumeAction.RESUME if local.payload is not None else ResumeAction.ABORT


def remote_map(value: Any) -> dict[bytes, Any]:
    """The peer's ATTACH ``unsettled`` field as ``{tag: state}`` (a null field: empty)."""
    if not value:
        return {}
    return {bytes(k): v for k, v in dict(value).items() if isinstance(k, (bytes, bytearray, memoryview))}
