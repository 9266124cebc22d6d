"""An accepted connection seen the way a client sees its own: links as Sender/Receiver records.

Owns: ``AcceptedCore``, the ``ClientCore`` of a connection we *accepted* (server role): the
sessions the peer begins are begun, the links it attaches wait in ``incoming`` until the
application accepts them (``accept_link``), and a receiving link with a dynamic source (a
caller's reply-to) is given a node address at once, so replies can be sent to it by address.
Everything else (sending, receiving, credit, settlement, waiting) is the client's own
``_api``/``_calls`` code: an accepted link is a ``LinkRecord`` like any other.

Also ``AcceptingHandler``: the ``Handler`` an adapter's accepting listener uses to feed each
accepted connection's events to its core and wake its waiters.

Must never: do I/O, block, sleep, read a clock, or import an adapter.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Any, Callable, Sequence

from ._calls import Steps, Wait
from ._delivery import Runner
from ._api import PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from ._handler import Handler, ServerConnection
from .codec.spec import SenderSettleMode
from .engine.connection import Connection as EngineConnection
from .engine.events import DeliveryReceived, Event, LinkRemotelyAttached, SessionRemotelyBegun
from .engine.link import Link, Receiver
from .engine.states import LinkState

__all__ = ["AcceptedCore", "NodeRecord", "AcceptingHandler", "INCOMING", "link_address", "accept_link", "accepted_sender"]

#: The ``Wait.watch`` key of a wait for an incoming link (woken when one arrives).
INCOMING = object()


class AcceptedCore(ClientCore):
    """What an accepted connection's engine has told us, for client-style objects.

    Args:
        engine: the server-role engine, already opened.
        peer: how to name the peer in messages (``host:port``).

    Attributes:
        incoming: links the peer attached that the application has not accepted yet.
        reply_nodes: node address -> our sending ``LinkRecord`` for each receiving link the
            peer attached with a dynamic source (spec 3.5.3 ``dynamic``): where a reply
            addressed ``reply-to`` = that address goes.
    """

    def __init__(self, engine: EngineConnection, peer: str) -> None:
        super().__init__(engine, peer)
        self.incoming: deque[Link] = deque()
        self.reply_nodes: dict[str, LinkRecord] = {}
        #: node address -> the receiving record later sending links to it join
        self.nodes: dict[str, NodeRecord] = {}
        self._dynamic = 0
        self._node_of: dict[Link, NodeRecord] = {}

    def _on_session_remotely_begun(self, event: SessionRemotelyBegun) -> None:
        # A server answers every BEGIN: the session is where the peer's links will come.
        event.session.begin()
        record = SessionRecord(self, event.session)
        record.begun = True
        self.sessions[event.session] = record

    def _on_link_remotely_attached(self, event: LinkRemotelyAttached) -> None:
        link = event.link
        source = link.source
        if link.is_sender and source is not None and source.dynamic:
            # 3.5.3: the node is ours to create; its address goes back in our ATTACH. A
            # caller's reply-to: answered now, so the caller's open_receiver completes without
            # the application having to know about it.
            self._dynamic += 1
            address = f"{self.engine.config.container_id}-dynamic-{self._dynamic}"
            link.source = replace(source, address=address)
            self.reply_nodes[address] = self.accept_link(link, credit=0, auto_accept=False)
            return
        node = self.nodes.get(link_address(link) or "") if not link.is_sender else None
        if node is not None and not (node.detached or node.closing):
            # Another link of the peer's to a node the application receives from: its
            # messages arrive on that receiver, as a broker's queue takes every sender's.
            member = self.accept_link(link, credit=node.credit_window, auto_accept=node.auto_accept)
            member.deliveries = node.deliveries
            node.members.append(member)
            self._node_of[link] = node
            return
        self.incoming.append(link)
        self.wake(INCOMING)

    def _on_delivery_received(self, event: DeliveryReceived) -> None:
        node = self._node_of.get(event.delivery.link)
        if node is None:
            super()._on_delivery_received(event)
            return
        node.deliveries.append(event.delivery)  # the node's buffer: its receiver hands it out
        if self.watchers:
            self.wake(node)

    # -- predicates ------------------------------------------------------------------------------
    def incoming_link(self, want_receiver: bool | None, address: str | None) -> "Link | Pending":
        """Predicate: the oldest link the peer attached that we have not accepted, of the kind
        asked for (``want_receiver``: our end receives, i.e. the peer sends; ``None``: any)
        and to ``address`` (``None``: any). Links the peer gave up meanwhile are skipped."""
        for link in list(self.incoming):
            if link.state is not LinkState.ATTACH_RCVD:
                self.incoming.remove(link)  # the peer detached before we answered
                continue
            if want_receiver is not None and (not link.is_sender) != want_receiver:
                continue
            if address is not None and link_address(link) != address:
                continue
            self.incoming.remove(link)
            return link
        self.check()
        return PENDING

    def reply_node(self, address: str) -> "LinkRecord | None":
        """Our sending record for the dynamic node ``address``, if it is still attached."""
        record = self.reply_nodes.get(address)
        if record is not None and record.detached:
            del self.reply_nodes[address]
            return None
        return record

    # -- commands --------------------------------------------------------------------------------
    def accept_link(self, link: Link, *, credit: int, auto_accept: bool, node: bool = False) -> LinkRecord:
        """Answer the peer's ATTACH and track the link like one we attached; a receiving link
        is granted ``credit`` (the prefetch window) at once. ``node``: later sending links
        of the peer's to the same address join this one (``NodeRecord``)."""
        self.check()
        session = self.sessions[link.session]
        link.attach()
        address = link_address(link)
        kind = NodeRecord if node and address is not None and not link.is_sender else LinkRecord
        record = kind(session, link, address, credit_window=credit, auto_accept=auto_accept)
        if isinstance(record, NodeRecord):
            self.nodes[str(address)] = record
        record.attached = True
        record.at_most_once = link.is_sender and link.snd_settle_mode is SenderSettleMode.SETTLED
        self.links[link] = record
        if credit and isinstance(link, Receiver):
            link.flow(credit)
        return record


class NodeRecord(LinkRecord):
    """A receiving link the application accepted for an address, standing for that node:
    the peer's later sending links to the address (``members``) share its buffer, and its
    prefetch policy tops up their credit too. It ends when this first link ends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.members: list[LinkRecord] = []

    def _top_up(self, awaited: int | None = None) -> None:
        super()._top_up(awaited)
        self.members = [m for m in self.members if not m.detached]
        for member in self.members:
            member._top_up()


def link_address(link: Link) -> str | None:
    """The node a link the peer attached is for: its target when the peer sends, its source
    when the peer receives."""
    terminus = link.target if not link.is_sender else link.source
    address = getattr(terminus, "address", None)
    return None if address is None else str(address)


def accept_link(run: Runner, core: AcceptedCore, want_receiver: bool | None, address: str | None, timeout: float | None, credit: int, auto_accept: bool) -> Steps[LinkRecord]:
    """Wait for a link the peer attached (of the kind and to the address asked for), accept
    it, and return its record. Written once for every adapter (a ``_calls``-style step generator)."""
    what = "a receiving" if want_receiver else "a sending" if want_receiver is not None else "a"
    where = "" if address is None else f" for {address!r}"
    link: Link = yield Wait(lambda: core.incoming_link(want_receiver, address), timeout, f"waiting for the peer to attach {what} link{where}", default=False, watch=INCOMING)
    return run(lambda: core.accept_link(link, credit=credit, auto_accept=auto_accept, node=want_receiver is True and address is not None))


def accepted_sender(run: Runner, core: AcceptedCore, address: str, timeout: float | None) -> Steps[LinkRecord]:
    """Our sending record for ``address``: the dynamic node the peer made with its receiver
    (a reply-to), or the next receiving link it attaches from ``address``."""
    record = core.reply_node(address)
    if record is not None:
        return record
    return (yield from accept_link(run, core, False, address, timeout, 0, False))



class AcceptingHandler(Handler):
    """The handler behind an accepting listener: a core per connection, fed every event.

    Args:
        made: called with each new connection's ``ServerConnection`` and ``AcceptedCore``;
            returns the adapter's "events arrived" (wakes the connection's waiters).
        lost: called with the core when its socket closed (after the last events).

    All calls happen on the listener's thread (``_handler`` rules).
    """

    def __init__(self, made: Callable[[ServerConnection, AcceptedCore], Callable[[], None]], lost: Callable[[AcceptedCore], None]) -> None:
        self._made = made
        self._lost = lost
        self._cores: dict[ServerConnection, tuple[AcceptedCore, Callable[[], None]]] = {}

    def connection_made(self, conn: ServerConnection) -> None:
        """Make the connection's core and hand it to the adapter."""
        address = f"{conn.peer_address[0]}:{conn.peer_address[1]}"
        core = AcceptedCore(conn.engine, address)
        self._cores[conn] = (core, self._made(conn, core))

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        """Fold the events into the core and wake whoever waits."""
        entry = self._cores.get(conn)
        if entry is None:
            return
        core, changed = entry
        core.handle(list(events))
        changed()

    def connection_lost(self, conn: ServerConnection) -> None:
        """The socket is gone: every wait learns the connection is over."""
        entry = self._cores.pop(conn, None)
        if entry is None:
            return
        core, changed = entry
        core.finished = True
        core.wake_all()
        changed()
        self._lost(core)
