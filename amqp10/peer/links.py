"""The broker's view of one link: what it sends from (``Outlet``) or receives into (``Inlet``).

Owns: the per-link state the broker keeps beside the engine's link: for a client's receiver,
the queue it consumes from (or browses), its filters, its unsettled deliveries and settle mode
(``Outlet``, a ``nodes.Consumer`` or ``nodes.Browser``); for a client's sender, its node (or the anonymous relay) and the messages
parked while that node is full (``Inlet``); and ``Refused``, the error an attach or a routed
message is answered with. Must never: decide routing, credit or outcomes (``broker.py`` does).
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Sequence

from ..codec.spec import Accepted, AmqpErrorCondition, Error
from ..engine.link import Receiver, Sender
from ..engine.states import LinkState
from ..errors import LocalProtocolError
from .filters import SourceFilters
from .nodes import Node, Queue, StoredMessage

if TYPE_CHECKING:
    from ..engine.connection import Connection
    from ..engine.delivery import Delivery

__all__ = ["Refused", "Outlet", "Inlet", "capabilities"]

log = logging.getLogger("amqp10.peer")


class Refused(Exception):
    """An attach or a routed message that the broker says no to, with the condition to send."""

    def __init__(self, condition: AmqpErrorCondition, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description

    def error(self) -> Error:
        """The error to send in the DETACH."""
        return Error(condition=self.condition, description=self.description)


def capabilities(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A terminus's capabilities field (one symbol or several) as a tuple of strings."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (str(value),)
    return tuple(str(v) for v in value)


class Outlet:
    """Our sending end of a client's receiver: a ``Consumer`` of one queue."""

    __slots__ = (
        "link",
        "node",
        "queue",
        "presettle",
        "unsettled",
        "owns_node",
        "default_outcome",
        "filters",
        "browsing",
        "_touched",
    )

    def __init__(
        self,
        link: Sender,
        node: Node,
        *,
        presettle: bool,
        owns_node: bool,
        default_outcome: Any,
        touched: set[Connection],
        filters: SourceFilters | None = None,
        browsing: bool = False,
    ) -> None:
        self.link = link
        #: the filters in force (``None``: every message)
        self.filters = filters if filters else None
        #: distribution-mode ``copy`` on a queue: shown each message, takes none (3.5.3)
        self.browsing = browsing and isinstance(node, Queue)
        self._touched = touched  # the broker's set of engines changed in this batch
        self.node = node
        self.presettle = presettle
        self.unsettled: dict[Delivery, StoredMessage] = {}
        self.owns_node = owns_node
        #: what settling without an outcome means (3.5.3 default-outcome; accepted if unset)
        self.default_outcome = default_outcome if default_outcome is not None else Accepted()
        # The queue this consumer takes from: the node itself, or its own subscription.
        self.queue: Queue = node if isinstance(node, Queue) else node.subscribe(self)
        if self.browsing:
            self.queue.add_browser(self)
        elif isinstance(node, Queue):
            node.add_consumer(self)

    def __repr__(self) -> str:
        return f"<outlet {self.link.name!r} from {self.node.address!r}>"

    def capacity(self) -> int:
        """Credit not yet used by deliveries handed to the engine."""
        link = self.link
        if link.state is not LinkState.ATTACHED:
            return 0
        return link.credit.link_credit - link.queued

    def accepts(self, message: StoredMessage) -> bool:
        """Whether the filters in force let ``message`` through."""
        filters = self.filters
        return filters is None or filters.accepts(message)

    def browse(self, message: StoredMessage) -> None:
        """Send a copy of ``message`` to a browser; the queue keeps it, whatever the outcome."""
        try:
            delivery = self.link.send(message.payload, settled=self.presettle, message_format=message.message_format)
        except LocalProtocolError as exc:
            log.warning("cannot show a message to %r: %s", self.link.name, exc)
            return
        self._touched.add(self.link.session.connection)
        if not self.presettle:
            self.unsettled[delivery] = message  # only to settle it when the outcome comes

    def deliver(self, queue: Queue, message: StoredMessage) -> None:
        """Send ``message`` on the link; it stays held by ``queue`` until its outcome."""
        try:
            delivery = self.link.send(
                message.payload, settled=self.presettle, message_format=message.message_format
            )
        except LocalProtocolError as exc:
            # Larger than the client's max-message-size. On a queue another consumer may take
            # it; a topic subscription has no other consumer, so that copy is dropped.
            log.warning("cannot send to %r: %s", self.link.name, exc)
            if queue.topic is not None:
                queue.remove(message)
            else:
                message.excluded.add(self)
                queue.give_back([message])
            return
        self._touched.add(self.link.session.connection)
        if self.presettle:
            queue.remove(message)  # at-most-once: gone once handed to the engine
        else:
            self.unsettled[delivery] = message


class Inlet:
    """Our receiving end of a client's sender: feeds one node, or routes by ``to``."""

    __slots__ = ("link", "node", "parked", "owns_node")

    def __init__(self, link: Receiver, node: Node | None, owns_node: bool) -> None:
        self.link = link
        self.node = node  # None: the anonymous relay
        self.parked: deque[tuple[Delivery, StoredMessage, Node]] = deque()
        self.owns_node = owns_node

    def __repr__(self) -> str:
        where = self.node.address if self.node is not None else "(anonymous relay)"
        return f"<inlet {self.link.name!r} into {where!r}>"
