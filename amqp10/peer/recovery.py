"""Suspended links the embedded peer remembers, so a client can resume them (spec 2.6.13).

Owns: ``SuspendedLink`` (what one suspended link endpoint of ours still holds: its unsettled
map and, for our sending end, the queued messages behind it) and ``SuspendedLinks``, the store
keyed by (client container-id, link name, our role), bounded in count and in time. Must never:
decide outcomes or touch queues (``broker.py`` gives back what expires).

Which links are kept (spec 3.5.5, 3.5.6): those whose terminus asked for ``durable``
``unsettled-state`` and would outlive the link, expiry-policy ``never`` or a ``timeout`` above
zero. A link that is *closed* (not detached) is not kept: closing ends its termini (2.6.6).
The state is kept for the terminus ``timeout`` (``never``: the store's ``max_seconds``),
counted from when the link was suspended.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable

from ..codec.spec import TerminusDurability, TerminusExpiryPolicy
from ..engine.recovery import UnsettledMap
from .nodes import Queue, StoredMessage

__all__ = ["SuspendedLink", "SuspendedLinks", "keeps_unsettled_state"]

log = logging.getLogger("amqp10.peer")

Key = tuple[str, str, str]


def keeps_unsettled_state(terminus: Any) -> float | None:
    """How long (seconds; ``inf``: no limit) a terminus asks its unsettled state to be kept
    after its link is suspended, or ``None`` if it asks for none (spec 3.5.5/3.5.6)."""
    if terminus is None:
        return None
    durable = getattr(terminus, "durable", None)
    if durable is None or int(durable) < TerminusDurability.UNSETTLED_STATE:
        return None
    if getattr(terminus, "dynamic", None):
        return None  # a dynamic node goes away with its link
    policy = getattr(terminus, "expiry_policy", None)
    timeout = int(getattr(terminus, "timeout", None) or 0)
    if policy is not None and str(policy) == TerminusExpiryPolicy.NEVER.value:
        return float("inf")
    return float(timeout) if timeout > 0 else None


@dataclass(eq=False)
class SuspendedLink:
    """One suspended link endpoint of ours.

    Attributes:
        key: (client container-id, link name, ``"sender"``/``"receiver"``: our role).
        unsettled: our unsettled map, given to the link that resumes it.
        queue: for our sending end, the queue the unsettled messages are held by.
        messages: for our sending end, delivery-tag -> the held message.
        deadline: when it expires (the store's clock), ``None``: never by time.
    """

    key: Key
    unsettled: UnsettledMap
    queue: Queue | None = None
    messages: dict[bytes, StoredMessage] = field(default_factory=dict)
    deadline: float | None = None


class SuspendedLinks:
    """The store: at most ``max_links`` records, each dropped at its deadline.

    Args:
        max_links: the most suspended links kept; the oldest goes first beyond it.
        max_seconds: the longest any is kept (also for expiry-policy ``never``).
        clock: seconds from an arbitrary origin (the server passes ``time.monotonic``);
            ``None``: no deadlines, only the count bound.
        max_deliveries: a link with more unsettled deliveries is not kept.
    """

    def __init__(
        self,
        *,
        max_links: int = 1000,
        max_seconds: float = 3600.0,
        clock: Callable[[], float] | None = None,
        max_deliveries: int = 10_000,
    ) -> None:
        self.max_links = max_links
        self.max_seconds = max_seconds
        self.max_deliveries = max_deliveries
        self._clock = clock
        self._links: OrderedDict[Key, SuspendedLink] = OrderedDict()

    def __len__(self) -> int:
        return len(self._links)

    def get(self, key: Key) -> SuspendedLink | None:
        """The record for ``key``, left in place (for inspection)."""
        return self._links.get(key)

    def keep(self, record: SuspendedLink, seconds: float) -> list[SuspendedLink]:
        """Keep ``record`` for ``seconds``; returns the records it pushed out (too many, or a
        former record with the same key), which the caller releases."""
        dropped: list[SuspendedLink] = []
        if len(record.unsettled) > self.max_deliveries or self.max_links <= 0:
            return [record]
        seconds = min(seconds, self.max_seconds)
        record.deadline = None if self._clock is None else self._clock() + seconds
        former = self._links.pop(record.key, None)
        if former is not None:
            dropped.append(former)
        self._links[record.key] = record
        while len(self._links) > self.max_links:
            _, oldest = self._links.popitem(last=False)
            log.info("forgot suspended link %r: too many kept", oldest.key)
            dropped.append(oldest)
        return dropped

    def take(self, key: Key) -> SuspendedLink | None:
        """Remove and return the record for ``key`` (a link resumes or re-attaches)."""
        return self._links.pop(key, None)

    def expire(self) -> list[SuspendedLink]:
        """Remove and return the records past their deadline."""
        if self._clock is None or not self._links:
            return []
        now = self._clock()
        gone = [r for r in self._links.values() if r.deadline is not None and r.deadline <= now]
        for record in gone:
            del self._links[record.key]
            log.info("suspended link %r expired", record.key)
        return gone
