"""The delivery-state types of the public API (spec 3.4, 4.5), named once.

Owns: ``Outcome`` (what a receiver finally says of a message) and ``DeliveryState`` (any state
a delivery can carry). ``amqp10`` exports both; ``Sender.send``, ``Tracker.wait``,
``Delivery.state`` and the rest are typed with them. Must never: import anything above the
codec.
"""

from __future__ import annotations

from typing import TypeAlias

from .codec.spec import Accepted, Declared, Modified, Received, Rejected, Released, TransactionalState

__all__ = ["Outcome", "DeliveryState", "OUTCOME_TYPES"]

#: The terminal delivery states a receiver reports (spec 3.4): what ``Sender.send`` and
#: ``Tracker.wait`` return at-least-once. ``isinstance(x, OUTCOME_TYPES)`` tells one apart.
Outcome: TypeAlias = Accepted | Rejected | Released | Modified

#: The classes of ``Outcome``, for ``isinstance``.
OUTCOME_TYPES = (Accepted, Rejected, Released, Modified)

#: Every delivery state a peer may report: the outcomes; ``Received`` (how much of a message
#: has arrived, spec 3.4.1, not final); ``Declared`` and ``TransactionalState`` (transactions,
#: spec 4.5).
DeliveryState: TypeAlias = Accepted | Rejected | Released | Modified | Received | Declared | TransactionalState
