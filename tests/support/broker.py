"""A small queue broker implementing the ``amqp10.Handler`` protocol, for the adapter tests.

It is deliberately simple (the real embedded peer lives in ``amqp10/peer``) and has a few
test hooks, chosen by address:

- ``refuse/<anything>``: the link is refused with ``amqp:not-found``.
- ``outcome/reject``, ``outcome/release``, ``outcome/modify``: messages sent there get that
  outcome (reject carries ``amqp:precondition-failed``, "rejected by test").
- ``held``: messages are neither settled nor answered until ``release_held()`` accepts them.
- ``nocredit``: a sender to it never gets credit.
- ``echo``: every message is answered to its ``reply-to`` with ``correlation-id`` = its
  ``message-id`` and the same body.
- a target with no address (anonymous sender) routes each message by its ``to``.
- a dynamic source gets a fresh queue named ``dynamic-<n>``.
- any other address is a queue: messages wait until a receiver has credit; released and
  modified ones are delivered again; unsettled ones of a lost connection are kept.

``attaches`` records every link the clients attached (for asserting filters, durability and
properties); link properties are echoed back in the answer.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Sequence

from amqp10 import Message
from amqp10._handler import Handler, ServerConnection
from amqp10.codec.spec import Accepted, Error, Modified, Properties, Rejected, Released, Source, Target
from amqp10.engine.delivery import Delivery
from amqp10.engine.events import (
    CreditChanged,
    DeliveryReceived,
    DeliveryUpdated,
    Event,
    LinkDetached,
    LinkRemotelyAttached,
    SessionRemotelyBegun,
)
from amqp10.engine.link import Link, Receiver, Sender

__all__ = ["QueueBroker"]

_CREDIT = 50


@dataclass
class AttachRecord:
    """What a client asked for when it attached a link."""

    role: str  # "sender" / "receiver", the *client's* end
    name: str
    address: Any
    source: Source | None
    target: Target | None
    properties: Any
    conn: ServerConnection


class QueueBroker(Handler):
    """Queues per address plus the hooks above. All state is touched on the handler thread."""

    def __init__(self) -> None:
        self.queues: dict[str, deque[bytes]] = {}
        self.consumers: dict[str, list[Sender]] = {}
        self.attaches: list[AttachRecord] = []
        self.unsettled: dict[Delivery, tuple[str, bytes]] = {}
        self.held: list[Delivery] = []
        self.connections: list[ServerConnection] = []
        self.received_count = 0
        self._dynamic = 0
        self._conn_of: dict[Link, ServerConnection] = {}
        #: queues whose messages or consumers' credit changed since the last pump: only they
        #: are pumped (a benchmark's echo service must not walk every queue ever made per call)
        self._dirty: set[str] = set()
        self._queue_of: dict[Link, str] = {}  # a consumer link's queue

    # -- Handler ------------------------------------------------------------------------------------
    def connection_made(self, conn: ServerConnection) -> None:
        self.connections.append(conn)

    def connection_lost(self, conn: ServerConnection) -> None:
        if conn in self.connections:
            self.connections.remove(conn)
        for link in [link for link, c in self._conn_of.items() if c is conn]:
            self._drop_link(link)

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            elif isinstance(event, LinkRemotelyAttached):
                self._attach(conn, event.link)
            elif isinstance(event, DeliveryReceived):
                self._received(event.delivery)
            elif isinstance(event, DeliveryUpdated):
                self._updated(event.delivery, event.state)
            elif isinstance(event, CreditChanged):
                self._credit_changed(event.link)
            elif isinstance(event, LinkDetached):
                self._drop_link(event.link)
        self._pump(self._dirty)

    # -- links ---------------------------------------------------------------------------------------
    def _attach(self, conn: ServerConnection, link: Link) -> None:
        source, target = link.remote_source, link.remote_target
        if isinstance(link, Receiver):  # the client sends
            address = None if target is None else target.address
            self.attaches.append(AttachRecord("sender", link.name, address, source, target, link.remote_properties, conn))
        else:
            address = None if source is None else source.address
            self.attaches.append(AttachRecord("receiver", link.name, address, source, target, link.remote_properties, conn))
        if isinstance(address, str) and address.startswith("refuse/"):
            link.detach(error=Error(condition="amqp:not-found", description=f"no node named {address!r}"))
            return
        link.properties = link.remote_properties
        if isinstance(link, Sender) and source is not None and source.dynamic:
            self._dynamic += 1
            address = f"dynamic-{self._dynamic}"
            link.source = replace(source, address=address)
        self._conn_of[link] = conn
        link.attach()
        if isinstance(link, Receiver):
            if address != "nocredit":
                link.flow(_CREDIT)
        else:
            key = str(address)
            self.queues.setdefault(key, deque())
            self.consumers.setdefault(key, []).append(link)
            self._queue_of[link] = key
            self._dirty.add(key)

    def _credit_changed(self, link: Link) -> None:
        address = self._queue_of.get(link)
        if address is not None:
            self._dirty.add(address)

    def _drop_link(self, link: Link) -> None:
        self._conn_of.pop(link, None)
        address = self._queue_of.pop(link, None)
        if address is not None:
            self.consumers[address].remove(link)
        for delivery in [d for d in self.unsettled if d.link is link]:
            address, payload = self.unsettled.pop(delivery)
            self.queues.setdefault(address, deque()).appendleft(payload)
            self._dirty.add(address)

    # -- messages ------------------------------------------------------------------------------------
    def _received(self, delivery: Delivery) -> None:
        link = delivery.link
        assert isinstance(link, Receiver)
        self.received_count += 1
        payload = bytes(delivery.payload)
        target = link.remote_target
        address = None if target is None else target.address
        if link.credit.link_credit < _CREDIT // 2 and address != "nocredit":
            link.flow(_CREDIT)
        if address == "held":
            self.held.append(delivery)
            return
        if address == "outcome/reject":
            delivery.reject("amqp:precondition-failed", "rejected by test")
            return
        if address == "outcome/release":
            delivery.release()
            return
        if address == "outcome/modify":
            delivery.modify(delivery_failed=True, undeliverable_here=True)
            return
        message = Message.decode(payload)
        if address is None:
            address = message.properties.to if message.properties else None
            if address is None:
                delivery.reject("amqp:not-found", "anonymous message without a to")
                return
        if address == "echo":
            props = message.properties or Properties()
            reply = Message(body=message.body, properties=Properties(to=props.reply_to, correlation_id=props.message_id))
            self.queues.setdefault(str(props.reply_to), deque()).append(reply.encode())
            self._dirty.add(str(props.reply_to))
        else:
            self.queues.setdefault(str(address), deque()).append(payload)
            self._dirty.add(str(address))
        if not delivery.settled:
            delivery.accept()

    def release_held(self) -> None:
        """Accept every delivery held on ``held`` (call on the handler thread)."""
        for delivery in self.held:
            if not delivery.settled:
                delivery.accept()
        self.held.clear()
        for conn in self.connections:
            conn.wakeup()

    def _updated(self, delivery: Delivery, state: Any) -> None:
        entry = self.unsettled.get(delivery)
        if entry is None:
            return
        if isinstance(state, (Accepted, Rejected)) or (isinstance(state, Modified) and state.undeliverable_here):
            del self.unsettled[delivery]
        elif isinstance(state, (Released, Modified)):
            del self.unsettled[delivery]
            self.queues.setdefault(entry[0], deque()).appendleft(entry[1])
            self._dirty.add(entry[0])
        if not delivery.settled:
            delivery.settle()

    def _pump_all(self) -> None:
        """Pump every queue (after a change made outside a handler call)."""
        self._pump(set(self.queues))

    def _pump(self, addresses: set[str]) -> None:
        """Hand queued messages of ``addresses`` to their consumers with credit (emptied)."""
        touched: set[ServerConnection] = set()
        while addresses:
            address = addresses.pop()
            queue = self.queues.get(address)
            if queue is None:
                continue
            consumers = self.consumers.get(address, [])
            progress = True
            while queue and progress:
                progress = False
                for link in consumers:
                    if not queue:
                        break
                    if link.credit.link_credit - link.queued <= 0:
                        continue
                    payload = queue.popleft()
                    delivery = link.send(payload)
                    if not delivery.settled:
                        self.unsettled[delivery] = (address, payload)
                    progress = True
                    touched.add(self._conn_of[link])
            for link in consumers:
                if not queue and link.credit.drain:
                    link.drained()
                    touched.add(self._conn_of[link])
        for conn in touched:
            conn.wakeup()
