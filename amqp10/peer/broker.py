"""The embedded peer's broker: engine events in, routing and credit out, written once, sans-IO.

Owns: ``Broker``, a server ``Handler`` (notes in ADAPTERS.md) that answers every session and link
a client opens, keeps the nodes of ``nodes.py`` (queues, topics, dynamic reply-to nodes), moves
each received message into its node and from there to the receivers that have credit, applies
the outcomes receivers report, and grants senders credit only while their node has room. It is
driven purely by ``events_received`` calls on the adapter's one thread (blocking listener or trio
``serve``) or by an in-memory pump in tests, and touches the engines of several connections in
one call (a message from connection A goes out on connection B) without locks.

Must never: do I/O, read a clock, or decode a message body (the anonymous relay reads ``to``;
a receiver's filters read the header, properties and application-properties, ``filters.py``).

Behaviour, with the spec sections it follows:

- *Addresses.* An address names a queue unless it starts with ``topic://`` or the terminus
  carries the ``topic`` capability, which make it a topic. Queues and topics are created on
  first use and forgotten when they hold nothing and no link is attached. Addresses under
  ``dynamic/`` are reserved for dynamic nodes (3.5.3 ``dynamic``): a terminus with
  ``dynamic=true`` gets a fresh one, deleted when that link goes away.
- *Anonymous relay.* The connection offers ``ANONYMOUS-RELAY``; a sending link with a null
  target address routes each message by its ``to`` (3.2.4). No ``to``, or an unknown dynamic
  address, rejects that message.
- *Receiving from a client* (our receiver link). Each message is settled with ``accepted`` as
  soon as its node has taken it (unless the client sent it pre-settled); rcv-settle-mode second
  is honoured. Credit is granted up to a window, never above the node's room, and what is left
  of it is taken back (a FLOW with link-credit 0, 2.6.7) when the node fills; a message that
  arrives when its node is full (several senders, the byte limit, or an anonymous sender) is
  parked unsettled on its link until there is room. Nothing is dropped for lack of space.
- *Sending to a client* (our sender link). Each message goes to one receiver of its queue
  (round-robin over those with credit) or to every subscriber of its topic, pre-settled when the
  client's receiver asked for snd-settle-mode ``settled``. Outcomes (3.4): ``accepted`` removes
  it; ``rejected`` removes it and logs; ``released`` puts it back at the front; ``modified``
  puts it back with its header's delivery-count raised when ``delivery-failed`` and its message
  annotations merged, and never again to that link when ``undeliverable-here``. Settling
  without an outcome applies the source's default-outcome (3.5.3), ``accepted`` when the
  client proposed none. Unsettled messages of a receiver that detaches or whose connection
  goes away come back as if ``modified`` with ``delivery-failed``.
- *Link recovery* (2.6.13, ``recovery.py``). A link whose terminus is ``durable``
  ``unsettled-state`` and outlives it (expiry-policy ``never`` or a ``timeout``) is suspended,
  not forgotten, when it is detached without being closed or its connection goes away: our
  unsettled map (and, for a client's receiver, the messages held for it) is kept by client
  container-id, link name and role, bounded in count and time. A client that attaches the same
  link again with an ``unsettled`` map gets ours in the answer and the engine reconciles the
  two: nothing accepted is stored or delivered twice. Attached again without a map, the old
  state is dropped (its held messages come back as ``delivery-failed``). Resuming a link still
  attached on another connection steals it (``amqp:link:stolen``, 2.6.1). Queues only: a topic
  subscription or a browser is not kept.
- *Filters* (3.5.3 ``filter``, ``filters.py``). A receiver's selector, legacy direct/topic
  binding and no-local filters decide which messages it gets: on a topic, which copies go into
  its subscription; on a queue, which messages it may take (the others wait for other
  consumers). The ATTACH answer's source lists exactly the filters in force; a filter type this
  peer does not know is left out, and a malformed one refuses the link with
  ``amqp:invalid-field``.
- *Transactions* (part 4, ``transactions.py``): a link whose target is a ``coordinator``
  declares local transactions; a message received in one enters its node on commit, an
  outcome given in one applies on commit, and on rollback the message stays where it was (a
  received one is dropped, a delivered one goes back to its queue).
- *Distribution mode* (3.5.3 ``distribution-mode``). The answer states the mode in force: ``copy``
  on a topic; on a queue, ``copy`` when asked for (a browser: it is shown each waiting message
  once, its outcomes change nothing, and consumers still take the messages), ``move`` otherwise.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .._handler import Handler, ServerConnection
from ..codec import DecodeError
from ..codec.spec import (
    Accepted,
    AmqpErrorCondition,
    Coordinator,
    Error,
    LinkErrorCondition,
    Modified,
    Rejected,
    Released,
    SenderSettleMode,
    Source,
    StdDistMode,
    Target,
    TransactionalState,
)
from ..codec.types import Symbol
from ..engine.events import (
    UnsettledReconciled,
    ConnectionClosed,
    ConnectionOpened,
    CreditChanged,
    DeliveryReceived,
    DeliverySettled,
    DeliveryUpdated,
    Event,
    LinkDetached,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
)
from ..engine.link import Link, Receiver, Sender
from ..engine.recovery import UnsettledDelivery, UnsettledMap
from ..engine.states import ConnectionState, LinkState
from ..errors import LocalProtocolError
from .filters import FilterError, SourceFilters
from .links import Inlet, Outlet, Refused, capabilities
from .nodes import Node, NodeLimits, Queue, StoredMessage, Topic
from .recovery import SuspendedLink, SuspendedLinks, keeps_unsettled_state
from .sections import find_to, rewrite_for_redelivery
from .transactions import Coordinators, Txn, TxnRefused

if TYPE_CHECKING:
    from ..engine.connection import Connection
    from ..engine.delivery import Delivery

__all__ = [
    "Broker",
    "ANONYMOUS_RELAY",
    "TOPIC_PREFIX",
    "TOPIC_CAPABILITY",
    "DYNAMIC_PREFIX",
]

log = logging.getLogger("amqp10.peer")

#: the connection capability offered for the anonymous relay (a de-facto standard name
#: shared by Qpid, ActiveMQ and Azure)
ANONYMOUS_RELAY = "ANONYMOUS-RELAY"
#: an address with this prefix is a topic
TOPIC_PREFIX = "topic://"
#: a terminus capability that makes its address a topic
TOPIC_CAPABILITY = "topic"
#: addresses of dynamic nodes start with this; it is reserved for them
DYNAMIC_PREFIX = "dynamic/"


class Broker(Handler):
    """The embedded peer: queues, topics, dynamic nodes and the anonymous relay, as a server
    ``Handler``.

    Args:
        limits: the memory bound of every queue and of every topic subscription.
        credit_window: the most credit one sending link is given at a time. It also bounds what
            a link can park when its node is full, hence memory beyond ``limits``.
        max_transactions: undischarged transactions one connection may hold at once; the
            messages all open transactions hold together are bounded by ``limits.max_bytes``.
        suspended: where suspended links are kept for recovery (bounds and clock; default:
            1000 links, an hour at most, no clock, so only the count bounds them).

    Give it to ``amqp10.listen`` or ``amqp10.trio.serve`` (``amqp10.peer.server`` does), with
    ``offered_capabilities=[ANONYMOUS_RELAY]`` so clients know they may use a null target.
    """

    def __init__(
        self,
        *,
        limits: NodeLimits | None = None,
        credit_window: int = 200,
        max_transactions: int = 64,
        suspended: SuspendedLinks | None = None,
    ) -> None:
        if credit_window < 1:
            raise ValueError("credit_window must be at least 1")
        if max_transactions < 1:
            raise ValueError("max_transactions must be at least 1")
        self.limits = limits if limits is not None else NodeLimits()
        self.credit_window = credit_window
        #: the transaction coordinator: coordinator links and open transactions
        self.transactions = Coordinators(max_transactions=max_transactions, max_held_bytes=self.limits.max_bytes)
        self._nodes: dict[str, Node] = {}
        self._outlets: dict[Link, Outlet] = {}
        self._inlets: dict[Link, Inlet] = {}
        self._by_connection: dict[Connection, set[Link]] = {}
        self._servers: dict[Connection, ServerConnection] = {}
        self._dynamic_serial = 0
        #: suspended links kept for recovery (spec 2.6.13)
        self.suspended = suspended if suspended is not None else SuspendedLinks()
        self._resuming: dict[Link, SuspendedLink] = {}  # our senders awaiting reconciliation
        self._attached_by_key: dict[tuple[str, str, str], Link] = {}  # for link stealing (2.6.1)
        # Engines changed while handling one connection's events: a message from connection A
        # goes out on connection B, whose adapter must then be woken to flush it.
        self._touched: set[Connection] = set()
        # Work for the end of the current batch (``_settle``):
        self._dirty_queues: set[Queue] = set()  # may have messages for consumers with credit
        self._recheck: set[Node] = set()  # gained room: their senders may get credit
        self._grant_due: set[Inlet] = set()  # used credit: may need a top-up
        self._parking: set[Inlet] = set()  # hold parked messages

    # -- inspection --------------------------------------------------------------------------
    def node(self, address: str) -> Node | None:
        """The node at ``address``, if it exists now."""
        return self._nodes.get(address)

    @property
    def addresses(self) -> list[str]:
        """The addresses of the nodes that exist now."""
        return sorted(self._nodes)

    # -- the Handler protocol ------------------------------------------------------------------
    def connection_made(self, conn: ServerConnection) -> None:
        """A client connected (after SASL); nothing to do until it opens things."""
        self._by_connection.setdefault(conn.engine, set())
        self._servers[conn.engine] = conn

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        """React to a batch of one connection's engine events, then move messages and credit."""
        engine = conn.engine
        self._servers.setdefault(engine, conn)
        self._expire_suspended()
        for event in events:
            self._on_event(engine, event)
        self._settle()
        self._wake_touched(engine)

    def connection_lost(self, conn: ServerConnection) -> None:
        """The socket is gone: every link of the connection ends as if detached."""
        self._forget_connection(conn.engine)
        self._servers.pop(conn.engine, None)
        self._expire_suspended()
        self._settle()
        self._wake_touched(conn.engine)

    def _wake_touched(self, current: Connection) -> None:
        """Ask the adapter to flush every other engine this batch wrote to (ADAPTERS.md:
        ``wakeup`` is how a handler says another connection has output)."""
        touched = list(self._touched)
        self._touched.clear()  # cleared in place: every outlet holds this very set
        for engine in touched:
            server = self._servers.get(engine)
            if server is not None and engine is not current:
                server.wakeup()

    def _touch(self, link: Link) -> None:
        self._touched.add(link.session.connection)

    # -- events --------------------------------------------------------------------------------
    def _on_event(self, engine: Connection, event: Event) -> None:
        if isinstance(event, DeliveryReceived):
            inlet = self._inlets.get(event.delivery.link)
            if inlet is not None:
                self._on_message(inlet, event.delivery)
            elif event.delivery.link in self.transactions.links:
                self._on_control(event.delivery)
        elif isinstance(event, DeliveryUpdated):
            outlet = self._outlets.get(event.delivery.link)
            if outlet is not None:
                self._on_outcome(outlet, event.delivery, event.state, event.settled)
        elif isinstance(event, DeliverySettled):
            outlet = self._outlets.get(event.delivery.link)
            if outlet is not None and event.delivery in outlet.unsettled:
                # Settled with no terminal outcome: the source's default-outcome applies (3.5.3).
                self._on_outcome(outlet, event.delivery, outlet.default_outcome, True)
        elif isinstance(event, CreditChanged):
            outlet = self._outlets.get(event.link)
            if outlet is not None:
                self._dirty_queues.add(outlet.queue)
        elif isinstance(event, LinkRemotelyAttached):
            self._on_attach(engine, event.link)
        elif isinstance(event, SessionRemotelyBegun):
            event.session.begin()
        elif isinstance(event, LinkDetached):
            self._forget_link(event.link, suspend=not event.closed)
        elif isinstance(event, UnsettledReconciled):
            self._on_reconciled(event)
        elif isinstance(event, ConnectionClosed):
            self._forget_connection(engine)
        elif isinstance(event, ConnectionOpened):
            log.debug("connection from container %r opened", event.container_id)
            if engine.state is ConnectionState.OPEN_RCVD:
                engine.open()  # the adapter did not open it for us: answer the OPEN
        elif isinstance(event, ProtocolViolationDetected):
            log.warning("peer violated the protocol: %s (%s)", event.description, event.condition)

    # -- attach ----------------------------------------------------------------------------------
    def _on_attach(self, engine: Connection, link: Link) -> None:
        key = self._suspension_key(link)
        if link.remote_unsettled is not None:
            self._steal(key, link)
        stored = self.suspended.take(key)
        if link.remote_unsettled is not None:
            # The client resumes the link (2.6.13): answer with what we still hold, or an
            # empty map when we hold nothing (so it resends what we never stored).
            link.local_unsettled = stored.unsettled if stored is not None else UnsettledMap()
            if stored is not None and stored.messages:
                self._resuming[link] = stored
                stored = None
        if stored is not None:
            self._release_suspended(stored)  # attached again without a map: the old state is void
        try:
            if isinstance(link, Sender):
                self._attach_outlet(link)
            elif isinstance(link, Receiver):
                self._attach_inlet(link)
        except Refused as refusal:
            log.info("refused link %r: %s", link.name, refusal.description)
            resuming = self._resuming.pop(link, None)
            if resuming is not None:
                self._release_suspended(resuming)
            link.detach(closed=True, error=refusal.error())
            self._touch(link)
            return
        self._by_connection.setdefault(engine, set()).add(link)
        self._attached_by_key[key] = link

    def _steal(self, key: tuple[str, str, str], link: Link) -> None:
        """Spec 2.6.1: a link is named uniquely between two containers, so *resuming* it
        while the old one is still attached (its connection died unnoticed, say) detaches the
        old one with ``amqp:link:stolen``; it is suspended, so the new one resumes it. A plain
        attach of the same name steals nothing: several clients sharing a container-id and a
        default link name (Proton's names come from the container-id and the address) each
        keep their own link, as before."""
        old = self._attached_by_key.pop(key, None)
        if old is None or old is link or (old not in self._outlets and old not in self._inlets):
            return
        log.info("link %r attached again by %r: the old one is stolen", old.name, key[0])
        error = Error(condition=LinkErrorCondition.STOLEN, description=f"link {old.name!r} was attached again")
        self._forget_link(old, suspend=True)
        try:
            old.detach(closed=False, error=error)
        except LocalProtocolError:
            pass  # its session or connection is already ending
        self._touch(old)

    def _attach_outlet(self, link: Sender) -> None:
        """A client attached a receiver: we send from the node its source names."""
        source = link.remote_source
        if not isinstance(source, Source):
            raise Refused(AmqpErrorCondition.INVALID_FIELD, "a receiving link needs a source")
        owns = bool(source.dynamic)
        if owns:
            node: Node = self._new_dynamic_queue()
        else:
            node = self._lookup(source.address, capabilities(source.capabilities))
        try:
            filters = SourceFilters(source.filter, link.session.connection)
        except FilterError as exc:
            raise Refused(AmqpErrorCondition.INVALID_FIELD, str(exc)) from None
        # 3.5.3 distribution-mode: a topic gives every subscriber a copy; on a queue, ``copy``
        # browses (sees messages without taking them) and anything else takes them (move).
        if isinstance(node, Topic):
            mode = StdDistMode.COPY
        else:
            mode = StdDistMode.COPY if source.distribution_mode == StdDistMode.COPY else StdDistMode.MOVE
        # 3.5.3 filter: the answer lists exactly the filters in force; others are left out.
        link.source = dataclasses.replace(
            source,
            address=node.address,
            filter=filters.applied,
            distribution_mode=mode,
        )
        link.attach()
        outlet = Outlet(
            link,
            node,
            presettle=link.snd_settle_mode is SenderSettleMode.SETTLED,
            owns_node=owns,
            default_outcome=source.default_outcome,
            touched=self._touched,
            filters=filters,
            browsing=mode == StdDistMode.COPY,
        )
        if outlet.browsing:
            self._dirty_queues.add(outlet.queue)
        node.links.add(outlet)
        self._outlets[link] = outlet
        log.debug("attached %r", outlet)

    def _attach_inlet(self, link: Receiver) -> None:
        """A client attached a sender: we receive into the node its target names."""
        target = link.remote_target
        if target is None:
            raise Refused(AmqpErrorCondition.INVALID_FIELD, "a sending link needs a target")
        if isinstance(target, Coordinator):
            self.transactions.attach(link)  # 4.2: a link to the transaction coordinator
            self._touch(link)
            return
        if not isinstance(target, Target):
            raise Refused(AmqpErrorCondition.NOT_IMPLEMENTED, f"this peer has no {type(target).__name__} target")
        owns = bool(target.dynamic)
        node: Node | None
        if owns:
            node = self._new_dynamic_queue()
            link.target = dataclasses.replace(target, address=node.address)
        elif target.address is None:
            node = None  # the anonymous relay: each message says where it goes
        else:
            node = self._lookup(target.address, capabilities(target.capabilities))
        # A message larger than a whole queue may hold could never be taken: refuse it early,
        # and never take more than the connection's own limit (``limits`` of listen/serve).
        configured = link.session.connection.config.limits.max_message_size
        link.max_message_size = min(self.limits.max_bytes, configured) if configured else self.limits.max_bytes
        inlet = Inlet(link, node, owns)
        link.attach()
        if node is not None:
            node.links.add(inlet)
        self._inlets[link] = inlet
        self._grant_due.add(inlet)
        log.debug("attached %r", inlet)

    # -- nodes -----------------------------------------------------------------------------------
    def _lookup(self, address: Any, capabilities: Iterable[str] = ()) -> Node:
        """The node for an address, created on first use (except dynamic ones)."""
        if address is None:
            raise Refused(AmqpErrorCondition.INVALID_FIELD, "the terminus has no address")
        address = str(address)
        want_topic = address.startswith(TOPIC_PREFIX) or TOPIC_CAPABILITY in capabilities
        node = self._nodes.get(address)
        if node is None:
            if address.startswith(DYNAMIC_PREFIX):
                raise Refused(AmqpErrorCondition.NOT_FOUND, f"no dynamic node {address!r} (it was deleted, or never made)")
            node = Topic(address, self.limits) if want_topic else Queue(address, self.limits)
            self._nodes[address] = node
            log.debug("created %r", node)
        elif want_topic and not isinstance(node, Topic):
            raise Refused(
                AmqpErrorCondition.PRECONDITION_FAILED,
                f"{address!r} is a queue; a topic capability cannot attach to it",
            )
        return node

    def _new_dynamic_queue(self) -> Queue:
        self._dynamic_serial += 1
        address = f"{DYNAMIC_PREFIX}{self._dynamic_serial}"
        queue = Queue(address, self.limits, dynamic=True)
        self._nodes[address] = queue
        log.debug("created dynamic %r", queue)
        return queue

    def _delete_node(self, node: Node) -> None:
        """Delete a node: its messages are gone, and links still attached to it are closed
        with ``amqp:resource-deleted``."""
        if self._nodes.get(node.address) is node:
            del self._nodes[node.address]
        for holder in list(node.links):
            link = holder.link if isinstance(holder, (Outlet, Inlet)) else None
            if link is not None and link.state is LinkState.ATTACHED:
                self._touch(link)
                link.detach(
                    closed=True,
                    error=Error(
                        condition=AmqpErrorCondition.RESOURCE_DELETED,
                        description=f"node {node.address!r} was deleted",
                    ),
                )
            if link is not None:
                self._forget_link(link)
        if isinstance(node, Queue):
            dropped = node.drop_all()
            if dropped:
                log.info("deleted %r with %d messages", node, dropped)
        self._recheck.discard(node)

    def _forget_if_idle(self, node: Node) -> None:
        if node.idle and self._nodes.get(node.address) is node:
            del self._nodes[node.address]
            self._recheck.discard(node)
            log.debug("forgot idle %r", node)

    # -- messages in -----------------------------------------------------------------------------
    def _on_message(self, inlet: Inlet, delivery: Delivery) -> None:
        self._grant_due.add(inlet)
        # Stored as received (a multi-frame delivery's payload is a read-only view of the one
        # buffer it was gathered into): copying it here would hold a large message twice.
        message = StoredMessage(delivery.payload, delivery.message_format, origin=inlet.link.session.connection)
        node = inlet.node
        if node is None:
            try:
                node = self._route(message)
            except Refused as refusal:
                log.info("rejected a message on %r: %s", inlet.link.name, refusal.description)
                if not delivery.settled:
                    delivery.reject(refusal.condition, refusal.description)
                    self._touch(delivery.link)
                return
        if isinstance(delivery.remote_state, TransactionalState):
            self._hold(delivery, delivery.remote_state, message, node)
        elif not inlet.parked and node.room() > 0:
            self._store(delivery, message, node)
        else:
            # Full: keep it unsettled here until the node drains (back-pressure, no loss).
            inlet.parked.append((delivery, message, node))
            self._parking.add(inlet)

    def _route(self, message: StoredMessage) -> Node:
        try:
            to = find_to(message.payload)
        except DecodeError as exc:
            raise Refused(AmqpErrorCondition.DECODE_ERROR, f"cannot read the message properties: {exc}") from None
        if to is None:
            raise Refused(
                AmqpErrorCondition.PRECONDITION_FAILED,
                "a message sent on an anonymous-relay link (null target) needs properties.to",
            )
        return self._lookup(to)

    def _store(self, delivery: Delivery, message: StoredMessage, node: Node) -> None:
        if isinstance(node, Topic):
            node.put(message)
            for queue in node.subscriptions():
                self._dirty_queues.add(queue)
        else:
            node.put(message)
            self._dirty_queues.add(node)
        if not delivery.settled:
            delivery.accept()
            self._touch(delivery.link)

    # -- messages out: outcomes --------------------------------------------------------------------
    def _on_outcome(self, outlet: Outlet, delivery: Delivery, state: Any, settled: bool) -> None:
        message = outlet.unsettled.get(delivery)
        if message is None:
            return
        if outlet.browsing:
            # A browser's copy: whatever its outcome, the message stays on the queue (3.5.3).
            if settled or isinstance(state, (Accepted, Rejected, Released, Modified)):
                del outlet.unsettled[delivery]
                if not delivery.settled:
                    delivery.settle()
                    self._touch(delivery.link)
            return
        if isinstance(state, TransactionalState):
            self._retire_in_txn(outlet, delivery, message, state)
            return
        if not isinstance(state, (Accepted, Rejected, Released, Modified)):
            return  # Received (3.4.1) or another non-terminal state: wait for the outcome
        del outlet.unsettled[delivery]
        self._apply_outcome(outlet, message, state)
        if not delivery.settled:
            delivery.settle()
            self._touch(delivery.link)

    def _apply_outcome(self, outlet: Outlet, message: StoredMessage, state: Any) -> None:
        """What a terminal outcome does to a delivered message (3.4), now or on commit."""
        queue = outlet.queue
        if isinstance(state, (Accepted, Rejected)):
            if isinstance(state, Rejected):
                log.info("message on %r rejected: %r", outlet.link.name, state.error)
            queue.remove(message)
            self._room_changed(queue)
        elif isinstance(state, Modified):
            self._redeliver(outlet, [message], state)
        else:  # Released
            queue.give_back([message])
            self._dirty_queues.add(queue)

    # -- transactions (part 4; the bookkeeping is transactions.py's) ----------------------------------
    def _on_control(self, delivery: Delivery) -> None:
        """A declare or discharge on a coordinator link; a discharge's work is applied here."""
        link = delivery.link
        assert isinstance(link, Receiver)
        self._touch(link)
        discharge = self.transactions.on_control(link, delivery)
        if discharge is None:
            return
        txn, commit = discharge
        committed = commit and txn.failed is None
        if committed:
            self._commit(txn)
        else:
            self._rollback(txn)
        self.transactions.discharged(txn, delivery, committed, commit)

    def _hold(self, delivery: Delivery, state: TransactionalState, message: StoredMessage, node: Node) -> None:
        """4.4.1: a message sent in a transaction waits for its commit; the sender learns its
        outcome-to-be at once in a transactional-state."""
        try:
            txn = self.transactions.lookup(delivery.link.session.connection, state.txn_id)
            self.transactions.hold(txn, message, node)
        except TxnRefused as refusal:
            log.info("refused a transactional message on %r: %s", delivery.link.name, refusal.description)
            answer: Any = refusal.rejected()
        else:
            answer = TransactionalState(txn_id=txn.txn_id, outcome=Accepted())
        if not delivery.settled:
            delivery.update(answer, settle=True)
            self._touch(delivery.link)

    def _retire_in_txn(self, outlet: Outlet, delivery: Delivery, message: StoredMessage, state: TransactionalState) -> None:
        """4.4.2: an outcome given in a transaction applies on commit; the message stays held
        by its queue meanwhile. An unknown txn-id closes the link (its messages come back)."""
        if state.outcome is None:
            return  # no outcome yet: wait for it
        try:
            txn = self.transactions.lookup(delivery.link.session.connection, state.txn_id)
        except TxnRefused as refusal:
            log.info("closing %r: %s", outlet.link.name, refusal.description)
            self._touch(outlet.link)
            outlet.link.detach(closed=True, error=Error(condition=Symbol(refusal.condition), description=refusal.description))
            self._forget_link(outlet.link)
            return
        del outlet.unsettled[delivery]
        self.transactions.retire(txn, outlet, message, state.outcome)
        if not delivery.settled:
            delivery.settle()
            self._touch(delivery.link)

    def _commit(self, txn: Txn) -> None:
        for outlet, message, outcome in txn.retirements:
            self._apply_outcome(outlet, message, outcome)
        for message, node in txn.enqueues:
            if self._nodes.get(node.address) is not node:
                if isinstance(node, Queue) and node.dynamic:
                    log.info("dropped a committed message for deleted %r", node)
                    continue
                self._nodes.setdefault(node.address, node)  # forgotten while idle: it is back
                node = self._nodes[node.address]
            # Stored over the node's limit if need be, as parked messages are: the bytes were
            # bounded while the transaction held them.
            node.put(message)
            if isinstance(node, Queue):
                self._dirty_queues.add(node)
            else:
                self._dirty_queues.update(node.subscriptions())
        log.debug("committed %d messages and %d outcomes", len(txn.enqueues), len(txn.retirements))

    def _rollback(self, txn: Txn) -> None:
        back: dict[Queue, list[StoredMessage]] = {}
        for outlet, message, _ in txn.retirements:
            back.setdefault(outlet.queue, []).append(message)
        for queue, messages in back.items():
            queue.give_back(messages)  # to the front, in the order they were delivered
            self._dirty_queues.add(queue)
        log.debug("rolled back %d messages and %d outcomes", len(txn.enqueues), len(txn.retirements))

    def _redeliver(self, outlet: Outlet | None, messages: list[StoredMessage], state: Modified, queue: Queue | None = None) -> None:
        if queue is None:
            assert outlet is not None
            queue = outlet.queue
        back: list[StoredMessage] = []
        for message in messages:
            if state.undeliverable_here and outlet is not None:
                if queue.topic is not None:
                    queue.remove(message)  # a subscription has no other consumer to try
                    self._room_changed(queue)
                    continue
                message.excluded.add(outlet)
            if state.delivery_failed or state.message_annotations:
                try:
                    payload = rewrite_for_redelivery(
                        message.payload,
                        delivery_failed=bool(state.delivery_failed),
                        annotations=state.message_annotations,
                    )
                except DecodeError as exc:
                    log.warning("redelivering a message whose header cannot be updated: %s", exc)
                else:
                    queue.resize(message, payload)
            back.append(message)
        if back:
            queue.give_back(back)
            self._dirty_queues.add(queue)

    # -- links going away ------------------------------------------------------------------------
    def _forget_link(self, link: Link, *, suspend: bool = False) -> None:
        key = self._suspension_key(link)
        if self._attached_by_key.get(key) is link:
            del self._attached_by_key[key]
        resuming = self._resuming.pop(link, None)
        if resuming is not None:
            self._release_suspended(resuming)
        if link in self.transactions.links:
            assert isinstance(link, Receiver)
            for txn in self.transactions.forget_link(link):
                self._rollback(txn)  # 4.3: what a coordinator link declared dies with it
        outlet = self._outlets.pop(link, None)
        if outlet is not None:
            if not (suspend and self._suspend_outlet(outlet)):
                self._close_outlet(outlet)
        inlet = self._inlets.pop(link, None)
        if inlet is not None:
            if suspend:
                self._suspend_inlet(inlet)
            self._close_inlet(inlet)
        conns = self._by_connection.get(link.session.connection)
        if conns is not None:
            conns.discard(link)

    def _close_outlet(self, outlet: Outlet) -> None:
        node = outlet.node
        node.links.discard(outlet)
        unsettled = list(outlet.unsettled.values())
        outlet.unsettled.clear()
        if outlet.browsing:
            outlet.queue.remove_browser(outlet)
        elif isinstance(node, Topic):
            queue = node.unsubscribe(outlet)
            if queue is not None:
                for message in unsettled:
                    queue.remove(message)
                queue.drop_all()
                self._dirty_queues.discard(queue)
                self._room_changed(node)
        else:
            node.remove_consumer(outlet)
            if unsettled:
                # The receiver went away before settling: they may have been seen, so they come
                # back counted as a failed delivery attempt (3.4.5 delivery-failed).
                self._redeliver(outlet, unsettled, Modified(delivery_failed=True))
                log.debug("%d unsettled messages of %r returned to %r", len(unsettled), outlet, node)
        log.debug("detached %r", outlet)
        if outlet.owns_node:
            self._delete_node(node)
        else:
            self._forget_if_idle(node)

    def _close_inlet(self, inlet: Inlet) -> None:
        self._parking.discard(inlet)
        # Parked messages were received whole; the client will not hear that they were taken,
        # so at-least-once allows a duplicate but never a loss: store them over the limit.
        while inlet.parked:
            _, message, destination = inlet.parked.popleft()
            if self._nodes.get(destination.address) is destination:
                destination.put(message)
                if isinstance(destination, Queue):
                    self._dirty_queues.add(destination)
                else:
                    self._dirty_queues.update(destination.subscriptions())
        node = inlet.node
        if node is not None:
            node.links.discard(inlet)
            if inlet.owns_node:
                self._delete_node(node)
            else:
                self._forget_if_idle(node)
        log.debug("detached %r", inlet)

    def _forget_connection(self, engine: Connection) -> None:
        # Links still attached when their connection ends are detached, not closed (2.6.5).
        for link in list(self._by_connection.pop(engine, ())):
            self._forget_link(link, suspend=True)

    # -- link recovery (2.6.13) ------------------------------------------------------------------
    def _suspension_key(self, link: Link) -> tuple[str, str, str]:
        remote = link.session.connection.remote_open
        container = "" if remote is None else str(remote.container_id)
        return (container, str(link.name), "sender" if isinstance(link, Sender) else "receiver")

    def _suspend_outlet(self, outlet: Outlet) -> bool:
        """Keep a detached receiver's unsettled messages for its resumption; False when its
        source asks for no such thing (or it browses, or reads a topic)."""
        link = outlet.link
        seconds = keeps_unsettled_state(link.remote_source)
        node = outlet.node
        if seconds is None or outlet.browsing or not isinstance(node, Queue) or outlet.owns_node:
            return False
        messages = {d.tag: m for d, m in outlet.unsettled.items() if not d.settled}
        snapshot = UnsettledMap.of(d for d in link.unsettled if d.tag in messages)
        record = SuspendedLink(self._suspension_key(link), snapshot, node, messages)
        node.links.discard(outlet)
        node.remove_consumer(outlet)
        outlet.unsettled.clear()
        for dropped in self.suspended.keep(record, seconds):
            self._release_suspended(dropped)
        log.debug("suspended %r with %d unsettled", outlet, len(messages))
        return True

    def _suspend_inlet(self, inlet: Inlet) -> None:
        """Remember what a detached sender's link holds unsettled here: what we stored (its
        parked messages are stored as it closes) is ``accepted``, the rest has no state."""
        link = inlet.link
        seconds = keeps_unsettled_state(link.remote_target)
        if seconds is None or inlet.owns_node:
            return
        parked = {delivery.tag for delivery, _, _ in inlet.parked}
        snapshot = UnsettledMap.of(
            UnsettledDelivery(d.tag, Accepted()) if d.tag in parked else d for d in link.unsettled
        )
        record = SuspendedLink(self._suspension_key(link), snapshot)
        for dropped in self.suspended.keep(record, seconds):
            self._release_suspended(dropped)
        log.debug("suspended %r with %d unsettled", inlet, len(snapshot))

    def _release_suspended(self, record: SuspendedLink) -> None:
        """Give up a suspended link: the messages held for it go back to their queue as a
        failed delivery attempt (3.4.5), as when a receiver detaches for good."""
        queue = record.queue
        messages = list(record.messages.values())
        record.messages.clear()
        if queue is None or not messages:
            return
        if self._nodes.get(queue.address) is not queue:
            for message in messages:
                queue.remove(message)
            return
        self._redeliver(None, messages, Modified(delivery_failed=True), queue=queue)

    def _expire_suspended(self) -> None:
        for record in self.suspended.expire():
            self._release_suspended(record)
            if record.queue is not None:
                self._forget_if_idle(record.queue)

    def _on_reconciled(self, event: UnsettledReconciled) -> None:
        """Our sender resumed a link: match each resumed delivery to its held message."""
        record = self._resuming.pop(event.link, None)
        outlet = self._outlets.get(event.link)
        if record is None:
            return
        queue = record.queue
        assert queue is not None
        back: list[StoredMessage] = []
        for tag, delivery in event.deliveries.items():
            message = record.messages.pop(tag, None)
            if message is None:
                continue
            if delivery.settled:
                state = delivery.remote_state
                if isinstance(state, (Accepted, Rejected)) and not delivery.aborted:
                    queue.remove(message)  # decided before the link was suspended
                    self._room_changed(queue)
                else:
                    back.append(message)  # released, modified, aborted or lost: again
            elif outlet is not None:
                outlet.unsettled[delivery] = message  # sent again: its outcome decides
            else:
                back.append(message)
        back.extend(record.messages.values())  # undecided on this attach
        record.messages.clear()
        if back:
            self._redeliver(outlet, back, Modified(delivery_failed=True), queue=queue)

    # -- after every batch: deliver, unpark, grant credit -------------------------------------------
    def _room_changed(self, queue_or_node: Queue | Topic) -> None:
        node: Node = queue_or_node
        if isinstance(queue_or_node, Queue) and queue_or_node.topic is not None:
            node = queue_or_node.topic
        self._recheck.add(node)

    def _settle(self) -> None:
        """Move what can move after a batch of events: dispatch to receivers with credit,
        store parked messages that now fit, and top up senders' credit.

        Each step only ever makes room or moves messages forward, so the loop ends; it is
        bounded anyway, and anything left is picked up after the next batch.
        """
        for _ in range(4):
            while self._dirty_queues:
                queue = self._dirty_queues.pop()
                if queue.dispatch():
                    self._room_changed(queue)  # pre-settled sends free room at once
            for inlet in list(self._parking):
                self._unpark(inlet)
            recheck, self._recheck = self._recheck, set()
            for node in recheck:
                for holder in node.links:
                    if isinstance(holder, Inlet):
                        self._grant_due.add(holder)
            grant_due, self._grant_due = self._grant_due, set()
            for inlet in grant_due:
                self._grant(inlet)
            if not self._dirty_queues and not self._recheck:
                return

    def _unpark(self, inlet: Inlet) -> None:
        parked = inlet.parked
        while parked:
            delivery, message, node = parked[0]
            if self._nodes.get(node.address) is not node:
                parked.popleft()
                if not delivery.settled:
                    delivery.reject(
                        AmqpErrorCondition.RESOURCE_DELETED, f"node {node.address!r} was deleted"
                    )
                    self._touch(delivery.link)
                continue
            if node.room() <= 0:
                return
            parked.popleft()
            self._store(delivery, message, node)
        self._parking.discard(inlet)
        self._grant_due.add(inlet)

    def _grant(self, inlet: Inlet) -> None:
        """Top up a sender's credit: up to the window, never beyond its node's room, and not
        while it has messages parked."""
        link = inlet.link
        if link.state is not LinkState.ATTACHED:
            return
        want = self.credit_window
        if inlet.parked:
            want = 0
        elif inlet.node is not None:
            want = min(want, inlet.node.room())
        current = link.credit.link_credit
        if want == 0:
            # Full (the byte limit cannot be reserved per credit): take back what is left, so
            # the sender stops; what it sent meanwhile is parked (2.6.7 lets a receiver lower
            # the credit it gave).
            if current > 0:
                link.flow(0)
                self._touch(link)
        elif current <= want // 2:
            # Re-grant only once half the window is used: one FLOW per many messages.
            link.flow(want)
            self._touch(link)
