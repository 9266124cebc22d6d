"""The messaging patterns of ``amqp10.patterns`` for ``amqp10.trio`` and ``amqp10.asyncio``.

The same helpers with ``await``: ``call``, ``cast``, ``serve_rpc`` / ``open_responder``,
``fanout``, ``subscribe``, ``Fanout``, ``notify``, ``subscribe_notifications`` and
``consume``, written once for both async adapters (they only await the connection's own
methods). They take a trio or asyncio ``Connection``, or an ``AcceptedConnection`` from
``amqp10.trio.listen`` / ``amqp10.asyncio.listen`` (peer to peer, no broker). Conventions,
``Addresses`` and its presets, ``RemoteError`` and ``error_of`` are those of
``amqp10.patterns``. ``serve_rpc`` and ``consume`` without a ``count`` run until the link or
connection closes, or until cancelled.
"""

from __future__ import annotations

import logging
import weakref
from typing import Any, Callable, Iterable

from ._async_accept import AcceptedConnection
from ._async_client import Connection, Receiver, Requester, Sender
from ._requests import Requests
from .codec.message import Message
from .errors import AMQPError, ConnectionClosedError, LinkDetachedError, SessionEndedError
from .patterns import DISPATCH as DISPATCH
from .patterns import EMBEDDED as EMBEDDED
from .patterns import QPIDD as QPIDD
from .patterns import RABBITMQ as RABBITMQ
from .patterns import RABBITMQ_V2 as RABBITMQ_V2
from .patterns import Addresses as Addresses
from .patterns import RemoteError as RemoteError
from .patterns import _checked, _error_reply
from .patterns import error_of as error_of
from .patterns import reply_to as reply_to

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

# -- RPC: the caller ---------------------------------------------------------------------------------
async def open_caller(conn: Connection, address: str, *, reply_to: str | None = None, timeout: float | None = None) -> Requester:
    """A ``Requester`` for ``address``: replies come to a dynamic node (``reply_to=None``,
    what brokers, routers and amqp10's peers offer) or to the named node ``reply_to`` (for
    RabbitMQ 3.x, which has no dynamic nodes: a queue of this caller's own)."""
    if reply_to is None:
        return await conn.open_requester(address, timeout=timeout)
    sender = await conn.open_sender(address, timeout=timeout)
    try:
        receiver = await conn.open_receiver(reply_to, timeout=timeout)
    except BaseException:
        await sender.aclose()
        raise
    return Requester(conn, Requests(sender._record, receiver._record))


async def call(conn: Connection, address: str, message: Message | Any, *, timeout: float | None = None, reply_to: str | None = None) -> Message:
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
        return _checked(await conn.request(address, message, timeout=timeout))
    async with await open_caller(conn, address, reply_to=reply_to, timeout=timeout) as caller:
        return _checked(await caller.request(message, timeout=timeout))


_senders: "weakref.WeakKeyDictionary[Connection, dict[str, Sender]]" = weakref.WeakKeyDictionary()


async def _sender(conn: Connection, address: str, timeout: float | None) -> Sender:
    """A sender to ``address``, opened on first use and kept for the connection's life."""
    senders = _senders.setdefault(conn, {})
    sender = senders.get(address)
    if sender is None or sender.closed:
        if isinstance(conn, AcceptedConnection):
            sender = await conn.accept_sender(address, timeout=timeout)
        else:
            sender = await conn.open_sender(address, timeout=timeout)
        senders[address] = sender
    return sender


async def cast(conn: Connection, address: str, message: Message | Any, *, timeout: float | None = None) -> Any:
    """Send ``message`` to ``address`` with no reply expected; return its outcome.

    The outcome is the node's: a broker's ``Accepted()`` once it holds the message; through
    a router, the consumer's own outcome. The sender is kept for later casts.
    """
    return await (await _sender(conn, address, timeout)).send(message, timeout=timeout)


# -- RPC: the server ---------------------------------------------------------------------------------
async def _receiver(conn: Connection, address: str, credit: int, timeout: float | None) -> Receiver:
    if isinstance(conn, AcceptedConnection):
        return await conn.accept_receiver(address, timeout=timeout, credit=credit)
    return await conn.open_receiver(address, timeout=timeout, credit=credit)


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

    async def __aenter__(self) -> "Responder":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def _reply_sender(self, address: str) -> Sender:
        sender = self._replies.get(address)
        if sender is None or sender.closed:
            conn = self.connection
            if isinstance(conn, AcceptedConnection):
                sender = await conn.accept_sender(address, timeout=self._timeout)
            else:
                sender = await conn.open_sender(address, timeout=self._timeout)
            self._replies[address] = sender
        return sender

    async def handle_one(self, handler: Callable[[Message], Message | Any], *, timeout: float | None = None) -> Message:
        """Receive one request, call ``handler(request)`` and send its result as the reply
        (an error reply if it raised); accept the request once the reply is accepted.
        Returns the request.

        Raises:
            Timeout: no request within ``timeout`` (``None``: wait as long as it takes).
            LinkDetachedError, ConnectionClosedError: the link or connection ended.
        """
        delivery = await self.receiver.receive(timeout=timeout)
        request = delivery.message
        try:
            result: Message | Any = await _maybe_await(handler(request))
        except Exception as exc:
            log.info("the RPC handler failed on %s: %r", self.receiver.address, exc)
            result = exc
        address = request.properties.reply_to if request.properties is not None else None
        if address is None:  # a cast
            delivery.accept()
            return request
        reply = _error_reply(request, result) if isinstance(result, Exception) else reply_to(request, result)
        try:
            await (await self._reply_sender(str(address))).send(reply, timeout=self._timeout)
        except AMQPError:
            delivery.release()  # another server may answer it
            raise
        delivery.accept()
        return request

    async def serve(self, handler: Callable[[Message], Message | Any], *, count: int | None = None) -> int:
        """Answer requests until ``count`` are answered (``None``: until the link or the
        connection is closed cleanly); return how many were answered."""
        done = 0
        while count is None or done < count:
            try:
                await self.handle_one(handler)
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None and count is None:
                    return done
                raise
            done += 1
        return done

    async def aclose(self) -> None:
        """Close the request link and the reply senders."""
        for sender in self._replies.values():
            try:
                await sender.aclose()
            except AMQPError:
                pass
        await self.receiver.aclose()


async def open_responder(conn: Connection, address: str, *, credit: int = 10, timeout: float | None = None) -> Responder:
    """Start serving RPC on ``address``: open (or, peer to peer, accept) the request link
    with ``credit`` requests in flight at most."""
    return Responder(conn, await _receiver(conn, address, credit, timeout), timeout)


async def serve_rpc(conn: Connection, address: str, handler: Callable[[Message], Message | Any], *, count: int | None = None, credit: int = 10, timeout: float | None = None) -> int:
    """Serve RPC on ``address`` with ``handler`` (request ``Message`` -> reply ``Message`` or
    body) until ``count`` requests are answered (``None``: until the link or connection
    closes cleanly). Returns how many were answered. Runs identically over a connection to
    an intermediary and over an ``AcceptedConnection`` (peer to peer, no broker).
    """
    async with await open_responder(conn, address, credit=credit, timeout=timeout) as responder:
        return await responder.serve(handler, count=count)


# -- fanout and notifications ---------------------------------------------------------------------------
async def fanout(conn: Connection, topic: str, message: Message | Any, *, addresses: Addresses = EMBEDDED, timeout: float | None = None) -> Any:
    """Send ``message`` to every subscriber of ``topic`` (``addresses.fanout``); return the
    outcome. Subscribers that attach later get nothing of it."""
    return await cast(conn, addresses.for_fanout(topic), message, timeout=timeout)


async def subscribe(conn: Connection, topic: str, *, addresses: Addresses = EMBEDDED, credit: int = 10, timeout: float | None = None) -> Receiver:
    """A receiver for ``topic``'s fanout (``addresses.fanout``); iterate over it."""
    return await conn.open_receiver(addresses.for_fanout(topic), timeout=timeout, credit=credit)


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

    async def send(self, message: Message | Any, *, timeout: float | None = None) -> list[Any]:
        """Send ``message`` to every subscriber; return their outcomes, in order."""
        self.senders = [s for s in self.senders if not s.closed]
        trackers = [await s.submit(message, timeout=timeout) for s in self.senders]
        return [await t.wait(timeout) for t in trackers]


async def notify(conn: Connection, topic: str, message: Message | Any, *, addresses: Addresses = EMBEDDED, timeout: float | None = None) -> Any:
    """Publish a notification to ``topic`` (``addresses.notification``); return the outcome
    (a broker's ``Accepted()`` once it stores it)."""
    return await cast(conn, addresses.for_notification(topic), message, timeout=timeout)


async def subscribe_notifications(conn: Connection, topic: str, *, addresses: Addresses = EMBEDDED, credit: int = 10, timeout: float | None = None) -> Receiver:
    """A receiver for ``topic``'s notifications (``addresses.notification``): listeners on
    one address share them (a pool), each taking what its credit allows."""
    return await _receiver(conn, addresses.for_notification(topic), credit, timeout)


# -- competing consumers --------------------------------------------------------------------------------
async def consume(conn: Connection, address: str, handler: Callable[[Message], Any], *, prefetch: int = 1, count: int | None = None, timeout: float | None = None) -> int:
    """Take messages from ``address`` as one of several competing consumers and call
    ``handler(message)`` for each: accepted if it returns, released (back to the node, for
    another consumer) if it raises, then the error is raised.

    ``prefetch`` is the link credit: how many messages the node may hand this consumer
    ahead of its handler. 1 spreads work most evenly; more raises throughput for short
    tasks. Returns how many were handled when ``count`` is reached or the link closes
    cleanly (``count=None``); ``timeout`` bounds each wait for a message.
    """
    done = 0
    async with await _receiver(conn, address, prefetch, timeout) as receiver:
        while count is None or done < count:
            try:
                delivery = await receiver.receive(timeout=timeout)
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None and count is None:
                    return done
                raise
            try:
                await _maybe_await(handler(delivery.message))
            except Exception:
                delivery.release()
                raise
            delivery.accept()
            done += 1
    return done


async def _maybe_await(value: Any) -> Any:
    """A handler may be a coroutine function: its result is awaited."""
    if hasattr(value, "__await__"):
        return await value
    return value
