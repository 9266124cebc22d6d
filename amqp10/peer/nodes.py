"""The embedded peer's nodes: bounded queues (anycast) and topics (multicast), sans-IO.

Owns: where a message waits between the link that brought it and the link that takes it, who
gets it next, and how much memory that may take. A ``Queue`` hands each message to exactly one
consumer, rotating over the consumers that have credit (so consumers with equal credit get equal
shares); a ``Topic`` gives every subscriber its own bounded ``Queue`` and puts a copy of each
message in all of them. A consumer's filters (``Consumer.accepts``) decide which messages it
may take from a queue and which copies go into its subscription; a ``Browser`` (distribution
mode ``copy``) is shown each waiting message once, in arrival order, and takes none.
Must never: touch an engine, a socket or a clock, decode a message, or decide what an outcome
means (``broker.py`` owns the protocol; this module only counts and orders).

Memory is bounded by ``NodeLimits``: a node reports ``room()``, the number of messages it may
still take, and the broker grants senders no more credit than that, so a full queue stops its
senders instead of dropping messages (back-pressure). A message handed to a consumer but not
yet settled still counts against its queue until it is settled or comes back.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator, Protocol

__all__ = [
    "NodeKind",
    "NodeLimits",
    "StoredMessage",
    "Consumer",
    "Browser",
    "Queue",
    "Topic",
    "Node",
]

log = logging.getLogger("amqp10.peer.nodes")


class NodeKind(enum.Enum):
    """How a node distributes messages (spec 3.5.3 distribution-mode, roughly)."""

    #: each message to one consumer (a queue; distribution-mode ``move``)
    QUEUE = "queue"
    #: each message to every subscriber (a topic; distribution-mode ``copy`` per subscriber)
    TOPIC = "topic"


@dataclass(frozen=True, slots=True)
class NodeLimits:
    """How much one queue (or one topic subscription) may hold.

    Attributes:
        max_messages: messages held, queued plus handed out and not yet settled.
        max_bytes: encoded bytes held, counted the same way. A node at or over either limit
            has no room; the limit is soft by at most the credit a sender already holds
            (messages in flight when the node filled up are taken, never dropped).
    """

    max_messages: int = 10_000
    max_bytes: int = 64 << 20

    def __post_init__(self) -> None:
        if self.max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")


@dataclass(slots=True, eq=False)
class StoredMessage:
    """One message held by a node: its encoded bytes, never decoded here.

    Attributes:
        payload: the encoded message (the concatenated transfer payloads).
        message_format: the transfer's message-format (spec 2.7.5), passed on unchanged.
        excluded: consumers that must not get it again (they modified it with
            ``undeliverable-here``, spec 3.4.5).
    """

    payload: bytes | memoryview
    message_format: int = 0
    excluded: set[object] = field(default_factory=set)
    #: the connection (engine) it arrived on, for the no-local filter; opaque here
    origin: object = None
    #: the decoded fields filters look at (``filters.MessageFields``), made on first use
    fields: object = None
    #: its place in the queue's arrival order (a browser's cursor compares these)
    serial: int = 0

    @property
    def size(self) -> int:
        """Encoded size in bytes, what the byte limit counts."""
        return len(self.payload)

    def copy(self) -> StoredMessage:
        """A copy for one topic subscriber, sharing the (immutable) payload bytes."""
        return StoredMessage(self.payload, self.message_format, origin=self.origin, fields=self.fields)


class Consumer(Protocol):
    """What a queue needs from whoever takes its messages (the broker's outgoing link)."""

    def capacity(self) -> int:
        """How many more messages it can take right now (its link credit)."""
        ...

    def deliver(self, queue: Queue, message: StoredMessage) -> None:
        """Take ``message``; it stays held by ``queue`` until ``queue.remove`` or
        ``queue.give_back`` says what became of it."""
        ...

    def accepts(self, message: StoredMessage) -> bool:
        """Whether its filters (selector, bindings, no-local) let ``message`` through."""
        ...


class Browser(Protocol):
    """What a queue needs from a browsing consumer (distribution-mode ``copy``, spec 3.5.3):
    it sees each message once, in order, and never takes it."""

    def capacity(self) -> int:
        """How many more messages it can take right now (its link credit)."""
        ...

    def browse(self, message: StoredMessage) -> None:
        """Send a copy of ``message``; the queue keeps the message."""
        ...

    def accepts(self, message: StoredMessage) -> bool:
        """Whether its filters let ``message`` through."""
        ...


class Queue:
    """A bounded FIFO of messages shared by competing consumers (anycast).

    Args:
        address: the node's address.
        limits: its memory bound.
        dynamic: created for a dynamic terminus (spec 3.5.3 ``dynamic``); deleted when the
            link that created it goes away.
    """

    kind = NodeKind.QUEUE

    def __init__(
        self,
        address: str,
        limits: NodeLimits,
        *,
        dynamic: bool = False,
        topic: Topic | None = None,
    ) -> None:
        self.address = address
        self.limits = limits
        self.dynamic = dynamic
        #: the topic this queue is a subscription of, or ``None`` for a queue node
        self.topic = topic
        self._ready: deque[StoredMessage] = deque()
        self._consumers: list[Consumer] = []
        self._next = 0  # round-robin position in _consumers
        # browser -> [serial of the last message it saw, whether a message it has not seen
        # was given back to the front since (then its unseen messages are not only a suffix)]
        self._browsers: dict[Browser, list[Any]] = {}
        self._serial = 0  # serial of the last message put
        self._held_count = 0  # ready + handed out, unsettled
        self._held_bytes = 0
        #: the links attached to this node in either direction (opaque to the node; the
        #: broker keeps them here to know when an auto-created node may be forgotten)
        self.links: set[object] = set()

    def __repr__(self) -> str:
        return (
            f"<Queue {self.address!r} ready={len(self._ready)} held={self._held_count} "
            f"consumers={len(self._consumers)}>"
        )

    # -- accounting --------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        """Messages waiting for a consumer."""
        return len(self._ready)

    @property
    def held(self) -> int:
        """Messages held: waiting plus handed out and not yet settled."""
        return self._held_count

    @property
    def held_bytes(self) -> int:
        """Bytes held, counted like ``held``."""
        return self._held_bytes

    def room(self) -> int:
        """How many more messages this queue may take before it is full (0 when full)."""
        if self._held_bytes >= self.limits.max_bytes:
            return 0
        return max(0, self.limits.max_messages - self._held_count)

    @property
    def idle(self) -> bool:
        """No messages and no links: an auto-created queue can be forgotten."""
        return self._held_count == 0 and not self.links

    def ready_messages(self) -> Iterator[StoredMessage]:
        """The waiting messages, oldest first (for inspection and tests)."""
        return iter(self._ready)

    # -- consumers ---------------------------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        """Start handing messages to ``consumer``."""
        self._consumers.append(consumer)

    def remove_consumer(self, consumer: Consumer) -> None:
        """Stop handing messages to ``consumer``. What it holds unsettled is the caller's to
        ``give_back`` or ``remove``."""
        try:
            index = self._consumers.index(consumer)
        except ValueError:
            return
        del self._consumers[index]
        if index < self._next:
            self._next -= 1
        if self._next >= len(self._consumers):
            self._next = 0
        for message in self._ready:
            message.excluded.discard(consumer)

    @property
    def consumers(self) -> int:
        """How many consumers are attached."""
        return len(self._consumers)

    def add_browser(self, browser: Browser) -> None:
        """Start showing ``browser`` the messages waiting from now on, each once, oldest
        first, without taking them (it starts before every message still waiting)."""
        self._browsers[browser] = [0, True]

    def remove_browser(self, browser: Browser) -> None:
        """Stop showing ``browser`` messages."""
        self._browsers.pop(browser, None)

    @property
    def browsers(self) -> int:
        """How many browsers are attached."""
        return len(self._browsers)

    # -- messages ----------------------------------------------------------------------------
    def put(self, message: StoredMessage) -> None:
        """Append a message. Always succeeds: the broker checks ``room()`` before granting
        the credit that brought it, so a message that arrives is never refused."""
        self._serial += 1
        message.serial = self._serial
        self._ready.append(message)
        self._held_count += 1
        self._held_bytes += message.size

    def remove(self, message: StoredMessage) -> None:
        """A message handed out is gone for good (accepted, rejected, or sent pre-settled)."""
        self._held_count -= 1
        self._held_bytes -= message.size

    def give_back(self, messages: Iterable[StoredMessage]) -> None:
        """Messages handed out come back (released, modified, or their link went away).

        They go to the front, in the order given, so a redelivery keeps its place ahead of
        newer messages. ``payload`` may have been rewritten meanwhile (a modified header).
        """
        back = list(messages)
        for message in reversed(back):
            self._ready.appendleft(message)
        if self._browsers and back:
            newest = max(message.serial for message in back)
            for state in self._browsers.values():
                if newest > state[0]:
                    state[1] = True

    def resize(self, message: StoredMessage, new_payload: bytes | memoryview) -> None:
        """Replace a held message's payload (a rewritten header), keeping the byte count."""
        self._held_bytes += len(new_payload) - message.size
        message.payload = new_payload
        message.fields = None  # the header changed: decode it again when a filter asks

    def drop_all(self) -> int:
        """Forget every waiting message (the node is being deleted). Returns how many."""
        dropped = len(self._ready)
        for message in self._ready:
            self._held_count -= 1
            self._held_bytes -= message.size
        self._ready.clear()
        return dropped

    def dispatch(self) -> int:
        """Hand waiting messages to browsers and consumers with credit.

        Returns:
            How many messages were handed out (copies shown to browsers included).

        Browsers go first, so each sees a message before a consumer takes it. Then each
        message goes to the next consumer in turn that has capacity, whose filters accept it
        and that has not excluded it (``undeliverable-here``). A message no able consumer
        takes waits (for another consumer, or for one whose selector matches it) without
        holding up the messages behind it.
        """
        sent = self._show_browsers() if self._browsers else 0
        ready = self._ready
        # Fast path: the head message goes to someone.
        while ready and self._consumers:
            target = self._pick(ready[0])
            if target is None:
                break
            target.deliver(self, ready.popleft())
            sent += 1
        if not ready or not self._consumers or not any(c.capacity() > 0 for c in self._consumers):
            return sent
        # The head is stuck: one pass over the rest, keeping what nobody takes in order.
        kept: deque[StoredMessage] = deque()
        while ready:
            message = ready.popleft()
            target = self._pick(message)
            if target is None:
                kept.append(message)
                if not any(c.capacity() > 0 for c in self._consumers):
                    break
                continue
            target.deliver(self, message)
            sent += 1
        kept.extend(ready)
        self._ready = kept
        return sent

    def _pick(self, message: StoredMessage) -> Consumer | None:
        consumers = self._consumers
        n = len(consumers)
        start = self._next
        for step in range(n):
            index = (start + step) % n
            consumer = consumers[index]
            if consumer.capacity() > 0 and consumer not in message.excluded and consumer.accepts(message):
                self._next = (index + 1) % n
                return consumer
        return None

    def _show_browsers(self) -> int:
        shown = 0
        for browser, state in self._browsers.items():
            cursor, scattered = state
            if cursor >= self._serial and not scattered:
                continue  # seen everything put so far
            room = browser.capacity()
            if room <= 0:
                continue
            if scattered:
                # Unseen messages given back to the front: all of them, in arrival order (a
                # message keeps its serial when given back, so none is shown twice).
                unseen = sorted((m for m in self._ready if m.serial > cursor), key=lambda m: m.serial)
                state[1] = False
            else:
                # Otherwise the unseen messages are the newest: a suffix of the queue.
                unseen = []
                for message in reversed(self._ready):
                    if message.serial <= cursor:
                        break
                    unseen.append(message)
                unseen.reverse()
            for message in unseen:
                if room <= 0:
                    state[1] = state[1] or scattered  # the rest is still out of order
                    break
                cursor = message.serial
                if browser.accepts(message):
                    browser.browse(message)
                    room -= 1
                    shown += 1
            state[0] = cursor
        return shown


class Topic:
    """A multicast node: every subscriber has its own bounded ``Queue`` and gets a copy.

    A message published with no subscribers reaches nobody (it is accepted and forgotten,
    as a topic without bound queues does). ``room()`` is the room of the fullest
    subscription, so one slow subscriber back-pressures the publishers rather than losing
    its copies.
    """

    kind = NodeKind.TOPIC

    def __init__(self, address: str, limits: NodeLimits) -> None:
        self.address = address
        self.limits = limits
        self.dynamic = False
        self._subscriptions: dict[Consumer, Queue] = {}
        self.links: set[object] = set()
        self.published = 0
        self.unheard = 0  # published while nobody was subscribed

    def __repr__(self) -> str:
        return f"<Topic {self.address!r} subscribers={len(self._subscriptions)}>"

    def subscribe(self, consumer: Consumer) -> Queue:
        """Give ``consumer`` its own subscription queue, which receives every later message."""
        queue = Queue(self.address, self.limits, topic=self)
        queue.add_consumer(consumer)
        self._subscriptions[consumer] = queue
        return queue

    def unsubscribe(self, consumer: Consumer) -> Queue | None:
        """End ``consumer``'s subscription; returns its queue (whose messages the caller
        drops: nobody else wanted that copy)."""
        queue = self._subscriptions.pop(consumer, None)
        if queue is not None:
            queue.remove_consumer(consumer)
        return queue

    def subscriptions(self) -> list[Queue]:
        """The subscription queues, one per subscriber."""
        return list(self._subscriptions.values())

    @property
    def subscribers(self) -> int:
        """How many subscriptions exist."""
        return len(self._subscriptions)

    def room(self) -> int:
        """Messages that every subscription can still take (the limit when there are none)."""
        if not self._subscriptions:
            return self.limits.max_messages
        return min(queue.room() for queue in self._subscriptions.values())

    @property
    def idle(self) -> bool:
        """No links: the topic can be forgotten (subscriptions end with their links)."""
        return not self.links

    def put(self, message: StoredMessage) -> None:
        """Publish: one copy into each subscription."""
        self.published += 1
        if not self._subscriptions:
            self.unheard += 1
            log.debug("topic %r: message published with no subscribers", self.address)
            return
        for consumer, queue in self._subscriptions.items():
            if consumer.accepts(message):  # a subscriber's filters apply as it is published
                queue.put(message.copy())

    def dispatch(self) -> int:
        """Hand waiting copies to subscribers with credit. Returns how many."""
        return sum(queue.dispatch() for queue in self._subscriptions.values())


Node = Queue | Topic
