"""Settlement beyond "send and get the outcome", written once for both adapters.

Owns: waiting for the sender to settle a delivery a receiver answered in rcv-settle-mode
``second`` (spec 2.6.12); aborting a delivery a sender has not finished sending (spec 2.6.14); granting credit with
``echo`` (spec 2.7.4). The adapters' ``Receiver.wait_settled``, ``Tracker.abort`` and
``Receiver.flow(echo=True)`` are thin calls into it. Must never: do I/O, block, sleep, read a
clock, or import an adapter.
"""

from __future__ import annotations

from ._api import PENDING, LinkRecord, Pending
from ._calls import Steps, Wait
from ._outcomes import DeliveryState
from .engine.delivery import Delivery as EngineDelivery
from .engine.link import Receiver as EngineReceiver
from .engine.link import Sender as EngineSender
from .errors import AMQPError, NotAbortableError

__all__ = ["settled_state", "wait_settled", "abort", "grant"]


def settled_state(record: LinkRecord, delivery: EngineDelivery) -> "DeliveryState | None | Pending":
    """Predicate: ``delivery`` is settled at this end; returns the state it was settled with
    (ours when we gave one, else the peer's)."""
    if delivery.settled:
        return _final_state(delivery)
    record.check()
    return PENDING


def _final_state(delivery: EngineDelivery) -> DeliveryState | None:
    state: DeliveryState | None = delivery.local_state if delivery.local_state is not None else delivery.remote_state
    return state


def wait_settled(record: LinkRecord, delivery: EngineDelivery, timeout: float | None) -> Steps[DeliveryState | None]:
    """Wait until a received delivery is settled here. In rcv-settle-mode ``second`` an
    outcome goes out unsettled and the delivery is settled when the sender's settlement
    arrives (spec 2.6.12); in mode ``first`` the outcome settled it already. A failed wait
    changes nothing."""
    if delivery.settled:
        return _final_state(delivery)
    state: DeliveryState | None = yield Wait(
        lambda: settled_state(record, delivery), timeout, f"waiting for the sender to settle on the {record.describe()}", watch=delivery
    )
    return state


def abort(record: LinkRecord, delivery: EngineDelivery) -> None:
    """Abort a delivery the sender has not finished sending (spec 2.6.14): one still queued
    for credit is dropped (no credit spent); one partly sent ends with a TRANSFER carrying
    ``aborted=true``, and the receiver discards what it got. Either way no outcome will come:
    a wait on it returns ``None``. Run it with exclusive access to the engine.

    Raises:
        NotAbortableError: it was sent whole (its outcome is still tracked), it went out
            pre-settled, or it was aborted already.
        LinkDetachedError, SessionEndedError, ConnectionClosedError: the link is gone.
    """
    if delivery.aborted:
        raise NotAbortableError("the delivery was aborted already")
    if delivery.complete:
        what = "written out pre-settled" if record.at_most_once else "sent whole: only the receiver's outcome settles it now"
        raise NotAbortableError(f"the delivery cannot be aborted: it was {what}")
    record.check()
    assert isinstance(record.link, EngineSender)
    try:
        delivery.abort()
    except AMQPError as exc:
        raise NotAbortableError(f"the delivery cannot be aborted: {exc.description or exc}") from None
    record.in_flight.discard(delivery)
    record.core.wake(delivery)


def grant(record: LinkRecord, count: int, *, echo: bool) -> None:
    """Grant ``count`` more credit; with ``echo`` ask the sender to answer with its own flow
    state at once (spec 2.7.4: ``available``, ``delivery-count``), which ``Receiver.available``
    then shows. ``count=0, echo=True`` only asks. Run it with exclusive access to the engine."""
    if count < 0:
        raise ValueError("count must be >= 0")
    if record.with_connection and record.core.reconnecting:
        record.credit_owed += count  # the link is being put back: granted on the new one
        return
    record.check()
    link = record.link
    assert isinstance(link, EngineReceiver)
    link.flow(link.credit.link_credit + count, echo=echo)
