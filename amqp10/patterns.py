"""Messaging patterns over links: RPC call/cast, fanout, notifications, competing consumers.

A small layer, not a framework: each helper is a few client calls you could write yourself
(open a link, send or receive, settle), with the conventions the patterns need written down
once. The same code runs over a connection to an intermediary (a broker, a router network)
and peer to peer, over a connection a listener of yours accepted (``amqp10.listen(host,
port)`` without a handler, ``AcceptedConnection``): there the node *is* your process, and
the links the caller attaches are accepted instead of opened.

The blocking helpers are here; ``amqp10.async_patterns`` has the same ones for
``amqp10.trio`` and ``amqp10.asyncio``. Conventions (those of brokers' management nodes and of
RPC over AMQP, e.g. OpenStack's oslo.messaging AMQP 1.0 driver):

- a request carries ``message-id`` and ``reply-to``; its reply carries ``correlation-id`` =
  the request's ``message-id`` and goes to ``reply-to``. The server accepts the request only
  after its reply was accepted (through a router, which stores nothing, the caller then
  knows the reply is on its way). A request without ``reply-to`` is a *cast*: handled, no
  reply.
- a handler that raises answers with an error reply: application property ``error`` = the
  error's text; ``call`` raises it as ``RemoteError``.

Address conventions differ per intermediary: pass an ``Addresses`` mapping (presets:
``EMBEDDED``, ``RABBITMQ``, ``RABBITMQ_V2``, ``QPIDD``, ``DISPATCH``) and the helpers use its
templates; nothing is guessed from the peer.
"""

from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable

from ._requests import Requests
from .blocking._accepting import AcceptedConnection
from .blocking._client import Connection, Receiver, Requester, Sender
from .codec.message import Message
from .codec.spec import Properties
from .errors import AMQPError, ConnectionClosedError, LinkDetachedError, SessionEndedError

__all__ = [
    "Addresses",
    "EMBEDDED",
    "RABBITMQ",
    "RABBITMQ_V2",
    "QPIDD",
    "DISPATCH",
    "RemoteError",
    "reply_to",
    "error_of",
    "call",
    "open_caller",
    "cast",
    "Responder",
    "open_responder",
    "serve_rpc",
    "fanout",
    "Fanout",
    "subscribe",
    "notify",
    "subscribe_notifications",
    "consume",
]

log = logging.getLogger("amqp10.patterns")

#: The application property an error reply carries (the handler's error, as text).
ERROR_PROPERTY = "error"


@dataclass(frozen=True, slots=True)
class Addresses:
    """How one intermediary names the nodes the patterns use: ``{name}`` templates.

    Attributes:
        queue: a point-to-point node: RPC servers, casts, competing consumers (each message
            to one receiver; stored by a broker until taken).
        fanout: a multicast node: a copy to every receiver attached *now* (nothing stored
            for a receiver that comes later).
        notification: a node notifications are published to and listened on; a broker
            stores them until listeners take them.

    Example: ``Addresses(queue="/queues/{name}", fanout="/exchanges/amq.fanout",
    notification="/queues/{name}")`` for a broker set up that way.
    """

    queue: str = "{name}"
    fanout: str = "topic://{name}"
    notification: str = "{name}"

    def for_queue(self, name: str) -> str:
        """The point-to-point address for ``name``."""
        return self.queue.format(name=name)

    def for_fanout(self, name: str) -> str:
        """The multicast address for ``name``."""
        return self.fanout.format(name=name)

    def for_notification(self, name: str) -> str:
        """The notification address for ``name``."""
        return self.notification.format(name=name)


#: amqp10's embedded peer (``amqp10 serve``) and a peer-to-peer listener of yours: a bare
#: name is a queue, ``topic://`` a topic.
EMBEDDED = Addresses(queue="{name}", fanout="topic://{name}", notification="{name}")
#: RabbitMQ 3.x with ``rabbitmq_amqp1_0`` ("v1" addresses): ``/queue/NAME`` (declared on
#: attach), ``/topic/KEY`` (the ``amq.topic`` exchange; ``/exchange/amq.topic/KEY`` is the
#: same). It has no dynamic nodes: ``call`` needs ``reply_to="/queue/..."``.
RABBITMQ = Addresses(queue="/queue/{name}", fanout="/topic/{name}", notification="/queue/{name}")
#: RabbitMQ 4.x native AMQP 1.0 ("v2" addresses): queues must exist (declare them through
#: management); ``/exchanges/amq.topic/KEY`` sends with routing key KEY.
RABBITMQ_V2 = Addresses(queue="/queues/{name}", fanout="/exchanges/amq.topic/{name}", notification="/queues/{name}")
#: qpidd with nodes made on demand (``queue-patterns`` / ``topic-patterns`` in qpidd.conf,
#: as in the project's interop/qpidd/qpidd.conf: a topic for ``topic/NAME``, a queue for any
#: other name).
QPIDD = Addresses(queue="{name}", fanout="topic/{name}", notification="{name}")
#: Qpid Dispatch / skupper-router with its default address prefixes: ``anycast/`` balanced
#: (the router stores nothing: a sender gets credit only once a receiver exists),
#: ``multicast/`` to every receiver. Notifications need storage: link-route a prefix to a
#: broker and use ``Addresses(notification="broker/{name}", ...)`` (the project's network).
DISPATCH = Addresses(queue="anycast/{name}", fanout="multicast/{name}", notification="anycast/{name}")


class RemoteError(AMQPError):
    """The RPC server's handler failed; ``description`` is its error's text."""


def reply_to(request: Message, result: Message | Any) -> Message:
    """The reply to ``request`` carrying ``result`` (a ``Message``, or the body of one):
    ``correlation-id`` = the request's ``message-id``, ``to`` = its ``reply-to``."""
    reply = result if isinstance(result, Message) else Message(body=result)
    props = request.properties
    reply.properties = replace(
        reply.properties or Properties(),
        correlation_id=props.message_id if props is not None else None,
        to=props.reply_to if props is not None else None,
    )
    return reply


def _error_reply(request: Message, exc: BaseException) -> Message:
    return reply_to(request, Message(body=None, application_properties={ERROR_PROPERTY: f"{type(exc).__name__}: {exc}"}))


def error_of(reply: Message) -> str | None:
    """The error text an error reply carries, or ``None`` for a normal reply."""
    props = reply.application_properties
    if props and ERROR_PROPERTY in props:
        return str(props[ERROR_PROPERTY])
    return None


def _checked(reply: Message) -> Message:
    error = error_of(reply)
    if error is not None:
        raise RemoteError(f"the RPC server failed: {error}")
    return reply


# -- RPC: the caller ---------------------------------------------------------------------------------
def open_caller(conn: Connection, address: str, *, reply_to: str | None = None, timeout: float | None = None) -> Requester:
    """A ``Requester`` for ``address``: replies come to a dynamic node (``reply_to=None``,
    what brokers, routers and amqp10's peers offer) or to the named node ``reply_to`` (for
    RabbitMQ 3.x, which has no dynamic nodes: a queue of this caller's own)."""
    if reply_to is None:
        return conn.open_requester(address, timeout=timeout)
    sender = conn.open_sender(address, timeout=timeout)
    try:
        receiver = conn.open_receiver(reply_to, timeout=timeout)
    except BaseException:
        sender.close()
        raise
    return Requester(conn, Requests(sender._record, receiver._record))


def call(conn: Connection, address: str, message: Message | Any, *, timeout: float | None = None, reply_to: str | None = None) -> Message:
    """Call the RPC server at ``address`` and return its reply (the ``Message``).

    The requester (a sender and a reply receiver) is opened on the first call to an address
    and reused (``Connection.request``); with ``reply_to`` one is opened for this call.

    Raises:
        Timeout: no reply within ``timeout`` (default: the connection's).
        RemoteError: the server's handler failed.
        LinkDetachedError: nobody serves ``address`` (the peer refused the link).
        RequestRefusedError: the request was rejected, released or modified (e.g. a router
            with no server for ``address`` released it): no reply will come.
    """
    if reply_to is None:
        return _checked(conn.request(address, message, timeout=timeout))
    with open_caller(conn, address, reply_to=reply_to, timeout=timeout) as caller:
        return _checked(caller.request(message, timeout=timeout))


_senders: "weakref.WeakKeyDictionary[Connection, dict[str, Sender]]" = weakref.WeakKeyDictionary()


def _sender(conn: Connection, address: str, timeout: float | None) -> Sender:
    """A sender to ``address``, opened on first use and kept for the connection's life."""
    senders = _senders.setdefault(conn, {})
    sender = senders.get(address)
    if sender is None or sender.closed:
        if isinstance(conn, AcceptedConnection):
            sender = conn.accept_sender(address, timeout=timeout)
        else:
            sender = conn.open_sender(address, timeout=timeout)
        senders[address] = sender
    return sender


def cast(conn: Connection, address: str, message: Message | Any, *, timeout: float | None = None) -> Any:
    """Send ``message`` to ``address`` with no reply expected; return its outcome.

    The outcome is the node's: a broker's ``Accepted()`` once it holds the message; through
    a router, the consumer's own outcome. The sender is kept for later casts.
    """
    return _sender(conn, address, timeout).send(message, timeout=timeout)


# -- RPC: the server ---------------------------------------------------------------------------------
def _receiver(conn: Connection, address: str, credit: int, timeout: float | None) -> Receiver:
    if isinstance(conn, AcceptedConnection):
        return conn.accept_receiver(address, timeout=timeout, credit=credit)
    return conn.open_receiver(address, timeout=timeout, credit=credit)


class Responder:
    """The server side of RPC on one address: receives requests, answers each to its
    ``reply-to`` with its ``correlation-id``. Use ``open_responder``; a context manager.

    Over an accepted connection the caller's links are accepted (``accept_receiver`` for its
    requests, ``accept_sender`` for the dynamic reply node it made); over a connection to an
    intermediary they are opened. Senders to reply addresses are kept for the responder's life.
    """

    def __init__(self, conn: Connection, receiver: Receiver, timeout: float | None) -> None:
        self.connection = conn
        #: the link requests arrive on
        self.receiver = receiver
        self._timeout = timeout
        self._replies: dict[str, Sender] = {}

    def __enter__(self) -> "Responder":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _reply_sender(self, address: str) -> Sender:
        sender = self._replies.get(address)
        if sender is None or sender.closed:
            conn = self.connection
            if isinstance(conn, AcceptedConnection):
                sender = conn.accept_sender(address, timeout=self._timeout)
            else:
                sender = conn.open_sender(address, timeout=self._timeout)
            self._replies[address] = sender
        return sender

    def handle_one(self, handler: Callable[[Message], Message | Any], *, timeout: float | None = None) -> Message:
        """Receive one request, call ``handler(request)`` and send its result as the reply
        (an error reply if it raised); accept the request once the reply is accepted.
        Returns the request.

        Raises:
            Timeout: no request within ``timeout`` (``None``: wait as long as it takes).
            LinkDetachedError, ConnectionClosedError: the link or connection ended.
        """
        delivery = self.receiver.receive(timeout=timeout)
        request = delivery.message
        try:
            result: Message | Any = handler(request)
        except Exception as exc:
            log.info("the RPC handler failed on %s: %r", self.receiver.address, exc)
            result = exc
        address = request.properties.reply_to if request.properties is not None else None
        if address is None:  # a cast
            delivery.accept()
            return request
        reply = _error_reply(request, result) if isinstance(result, Exception) else reply_to(request, result)
        try:
            self._reply_sender(str(address)).send(reply, timeout=self._timeout)
        except AMQPError:
            delivery.release()  # another server may answer it
            raise
        delivery.accept()
        return request

    def serve(self, handler: Callable[[Message], Message | Any], *, count: int | None = None) -> int:
        """Answer requests until ``count`` are answered (``None``: until the link or the
        connection is closed cleanly); return how many were answered."""
        done = 0
        while count is None or done < count:
            try:
                self.handle_one(handler)
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None and count is None:
                    return done
                raise
            done += 1
        return done

    def close(self) -> None:
        """Close the request link and the reply senders."""
        for sender in self._replies.values():
            try:
                sender.close()
            except AMQPError:
                pass
        self.receiver.close()


def open_responder(conn: Connection, address: str, *, credit: int = 10, timeout: float | None = None) -> Responder:
    """Start serving RPC on ``address``: open (or, peer to peer, accept) the request link
    with ``credit`` requests in flight at most."""
    return Responder(conn, _receiver(conn, address, credit, timeout), timeout)


def serve_rpc(conn: Connection, address: str, handler: Callable[[Message], Message | Any], *, count: int | None = None, credit: int = 10, timeout: float | None = None) -> int:
    """Serve RPC on ``address`` with ``handler`` (request ``Message`` -> reply ``Message`` or
    body) until ``count`` requests are answered (``None``: until the link or connection
    closes cleanly). Returns how many were answered. Runs identically over a connection to
    an intermediary and over an ``AcceptedConnection`` (peer to peer, no broker).
    """
    with open_responder(conn, address, credit=credit, timeout=timeout) as responder:
        return responder.serve(handler, count=count)


# -- fanout and notifications ---------------------------------------------------------------------------
def fanout(conn: Connection, topic: str, message: Message | Any, *, addresses: Addresses = EMBEDDED, timeout: float | None = None) -> Any:
    """Send ``message`` to every subscriber of ``topic`` (``addresses.fanout``); return the
    outcome. Subscribers that attach later get nothing of it."""
    return cast(conn, addresses.for_fanout(topic), message, timeout=timeout)


def subscribe(conn: Connection, topic: str, *, addresses: Addresses = EMBEDDED, credit: int = 10, timeout: float | None = None) -> Receiver:
    """A receiver for ``topic``'s fanout (``addresses.fanout``); iterate over it."""
    return conn.open_receiver(addresses.for_fanout(topic), timeout=timeout, credit=credit)


class Fanout:
    """Fanout with no intermediary: a publisher that holds a sender per subscriber (each an
    ``AcceptedConnection.accept_sender``, or any ``Sender``) and sends each message to all.

    Subscribers whose link is closed are dropped on the next ``send``.
    """

    def __init__(self, senders: Iterable[Sender] = ()) -> None:
        self.senders: list[Sender] = list(senders)

    def add(self, sender: Sender) -> None:
        """Send to ``sender`` too from now on."""
        self.senders.append(sender)

    def send(self, message: Message | Any, *, timeout: float | None = None) -> list[Any]:
        """Send ``message`` to every subscriber; return their outcomes, in order."""
        self.senders = [s for s in self.senders if not s.closed]
        trackers = [s.submit(message, timeout=timeout) for s in self.senders]
        return [t.wait(timeout) for t in trackers]


def notify(conn: Connection, topic: str, message: Message | Any, *, addresses: Addresses = EMBEDDED, timeout: float | None = None) -> Any:
    """Publish a notification to ``topic`` (``addresses.notification``); return the outcome
    (a broker's ``Accepted()`` once it stores it)."""
    return cast(conn, addresses.for_notification(topic), message, timeout=timeout)


def subscribe_notifications(conn: Connection, topic: str, *, addresses: Addresses = EMBEDDED, credit: int = 10, timeout: float | None = None) -> Receiver:
    """A receiver for ``topic``'s notifications (``addresses.notification``): listeners on
    one address share them (a pool), each taking what its credit allows."""
    return _receiver(conn, addresses.for_notification(topic), credit, timeout)


# -- competing consumers --------------------------------------------------------------------------------
def consume(conn: Connection, address: str, handler: Callable[[Message], Any], *, prefetch: int = 1, count: int | None = None, timeout: float | None = None) -> int:
    """Take messages from ``address`` as one of several competing consumers and call
    ``handler(message)`` for each: accepted if it returns, released (back to the node, for
    another consumer) if it raises, then the error is raised.

    ``prefetch`` is the link credit: how many messages the node may hand this consumer
    ahead of its handler. 1 spreads work most evenly; more raises throughput for short
    tasks. Returns how many were handled when ``count`` is reached or the link closes
    cleanly (``count=None``); ``timeout`` bounds each wait for a message.
    """
    done = 0
    with _receiver(conn, address, prefetch, timeout) as receiver:
        while count is None or done < count:
            try:
                delivery = receiver.receive(timeout=timeout)
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None and count is None:
                    return done
                raise
            try:
                handler(delivery.message)
            except Exception:
                delivery.release()
                raise
            delivery.accept()
            done += 1
    return done
