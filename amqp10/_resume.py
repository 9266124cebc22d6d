"""Moving a client connection's sessions and links onto a new engine after a reconnect
(docs/reconnect.md), written once for every adapter.

Owns: ``rebind`` — the same ``ClientCore``, ``SessionRecord`` and ``LinkRecord`` objects (so
the public Connection, Session, Sender and Receiver objects keep working) are pointed at a
fresh engine: each session still in use is begun again, each link still in use attached again
by its name with the options it was opened with. What happens to the deliveries in flight:

* a link that is recoverable (terminus ``durable="unsettled-state"``, docs/recovery.md) is
  *resumed*: its old unsettled map goes in the ATTACH and spec 2.6.13 decides what is sent
  again (the engine's recovery);
* a plain at-least-once sender sends every message whose outcome had not arrived again, as a
  new delivery (the receiver may get it twice); its ``Tracker``s follow the new delivery;
* a receiver drops what it had buffered and not settled (the peer delivers those again) and
  gets its prefetch credit window back.

``attached_again`` is the predicate an adapter waits on after dialling. Must never: do I/O,
block, sleep, read a clock, or import an adapter.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import deque
from typing import Any

from ._api import PENDING, ClientCore, LinkRecord, Pending
from .codec.spec import TerminusDurability
from .engine.connection import Connection as EngineConnection
from .engine.delivery import Delivery as EngineDelivery
from .engine.link import Receiver, Sender

__all__ = ["rebind", "attached_again", "recoverable", "redirect_link", "LINK_REDIRECT"]

#: the condition of a DETACH that sends the link elsewhere (spec 2.8.18)
LINK_REDIRECT = "amqp:link:redirect"

log = logging.getLogger("amqp10.client")


def recoverable(record: LinkRecord) -> bool:
    """The link's own terminus asks the peer to keep its unsettled state (2.6.13)."""
    fields = record.attach_fields or {}
    terminus = fields.get("target") if record.link.is_sender else fields.get("source")
    durable = getattr(terminus, "durable", None)
    return durable is not None and int(durable) == int(TerminusDurability.UNSETTLED_STATE)


def rebind(core: ClientCore, engine: EngineConnection, peer: str) -> None:
    """Point ``core`` and its records at ``engine`` (already ``open()``ed) and queue the
    BEGINs, ATTACHes, resent messages and credit that carry on from the lost connection.
    Call with exclusive access to ``core``."""
    # In use: open before the loss (or put back by an earlier dial that failed in turn), and
    # not ended or detached on its own (by us, or by the peer before the loss).
    sessions = [r for r in core.sessions.values() if (r.begun or r.rebound) and not r.closing and (not r.ended or r.with_connection)]
    links = [
        r
        for r in core.links.values()
        if (r.attached or r.rebound) and not r.closing and (not r.detached or r.with_connection) and r.session in sessions
    ]
    core.engine = engine
    core.peer = peer
    core.opened = False
    core.finished = False
    core.error = None
    core.sessions = {}
    core.links = {}
    for session_record in sessions:
        session = engine.begin_session()
        session_record.session = session
        session_record.begun = False
        session_record.ended = False
        session_record.error = None
        session_record.with_connection = False
        session_record.rebound = True
        core.sessions[session] = session_record
    if core.default_session is not None and core.default_session not in sessions:
        core.default_session = None
    for record in links:
        _reattach(core, record)
    core.wake_all()


def redirect_link(core: ClientCore, record: LinkRecord, info: Any) -> bool:
    """The peer detached ``record``'s link with ``amqp:link:redirect`` (spec 2.8.18): attach
    it again, on the same session, to the ``address`` in ``info``, if that names one on this
    connection's host (another host: ``False``, and the link stays detached with the error)."""
    fields = {str(k): v for k, v in (info or {}).items()}
    address = fields.get("address")
    if not address or record.attach_fields is None or record.session.ended or core.finished:
        return False
    host = fields.get("network-host")
    if host and str(host) not in core.peer:
        return False
    key = "target" if record.link.is_sender else "source"
    terminus = record.attach_fields.get(key)
    if terminus is None:
        return False
    attach = dict(record.attach_fields)
    attach[key] = dataclasses.replace(terminus, address=str(address))
    record.attach_fields = attach
    record.requested_address = str(address)
    log.info("%s redirected to %r", record.describe(), str(address))
    _reattach(core, record)
    return True


def _reattach(core: ClientCore, record: LinkRecord) -> None:
    old = record.link
    fields: dict[str, Any] = dict(record.attach_fields or {})
    resume = recoverable(record)
    fields["unsettled"] = old.unsettled if resume else None
    session = record.session.session
    if old.is_sender:
        link: Sender | Receiver = session.attach_sender(old.name, **fields)
    else:
        link = session.attach_receiver(old.name, **fields)
    record.link = link
    record.attached = False
    record.detached = False
    record.detached_by_peer = False
    record.draining = False
    record.error = None
    record.with_connection = False
    record.rebound = True
    record._described = None
    core.links[link] = record
    if isinstance(link, Sender):
        pending = sorted(record.in_flight, key=_order)
        record.in_flight = set()
        if not resume:
            for delivery in pending:
                if record.known(delivery):
                    continue
                fresh = link.send(bytes(delivery.payload))
                record.follow(delivery, fresh)
                record.in_flight.add(fresh)
            if pending:
                log.info("%s: sent %d messages again after reconnecting (their outcome never came)", record.describe(), len(pending))
    else:
        # Unsettled deliveries of the old link come again from the peer; settled ones
        # (at-most-once) are the application's still.
        buffered = len(record.deliveries)
        record.deliveries = deque(d for d in record.deliveries if d.settled)
        dropped = buffered - len(record.deliveries)
        window = record.credit_window
        assert isinstance(link, Receiver)
        if window:
            link.flow(max(0, window - len(record.deliveries)))
        else:
            # Manual flow control: the credit not used yet, plus what the dropped deliveries
            # used (they come again), plus what was granted during the outage.
            owed = (old.credit.link_credit if isinstance(old, Receiver) else 0) + dropped + record.credit_owed
            if owed > 0:
                link.flow(owed)
        record.credit_owed = 0


def _order(delivery: EngineDelivery) -> tuple[int, bytes]:
    # Sent ones by delivery-id, then those still queued by their (counter) tag: send order.
    return (1, bytes(delivery.tag)) if delivery.id is None else (0, int(delivery.id).to_bytes(8, "big"))


def attached_again(core: ClientCore) -> "bool | Pending":
    """Predicate: the new connection is open and every link put back has its answer (a link
    the peer refused now is left detached, its error raised by its next call)."""
    core.check()
    if not core.opened:
        return PENDING
    for record in core.links.values():
        if not record.attached and not record.detached and record.error is None:
            return PENDING
    return True
