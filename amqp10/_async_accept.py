"""The async server with client-style objects, written once for ``amqp10.trio`` and
``amqp10.asyncio``: ``listen()`` and its ``Listener`` and ``AcceptedConnection``.

Owns: the async ``AcceptedConnection`` (an ``_async_client.Connection`` over an accepted
socket, whose peer-attached links become ``Sender``/``Receiver`` objects through the steps in
``_accept``), the ``Listener`` that hands them out, and the glue that builds them from the
adapter's own server (``amqp10.trio.serve`` / ``amqp10.asyncio.start_server``) run with an
``AcceptingHandler``. What differs per adapter (its driver class, lock, and queue) is passed
in by ``amqp10.trio._accepting`` / ``amqp10.asyncio._accepting``. Must never: import trio or
asyncio, or do socket I/O.
"""

from __future__ import annotations

from typing import AsyncIterator, Awaitable, Callable

from ._accept import AcceptedCore, AcceptingHandler, accept_link, accepted_sender
from ._async_client import AsyncDriver, Connection, Receiver, Sender, _Lock, _Opening
from ._handler import Listening, ServerConnection
from ._options import DEFAULT_CREDIT, ClientOptions
from .errors import ConnectionClosedError
from .url import parse_url

__all__ = ["AcceptedConnection", "Listener", "ServedPump", "accepting_handler"]


class ServedPump:
    """What an adapter's driver needs of a pump, for a connection its server pumps: wake
    that connection (``ServerConnection.wakeup``), and whether its I/O has ended. A
    command's output is left to the server's pump (``kick`` wakes it)."""

    def __init__(self, served: ServerConnection) -> None:
        self.wakeup = served.wakeup
        self.kick = served.wakeup
        self.done = False


class AcceptedConnection(Connection):
    """A connection an async listener accepted, used like a client's (``Listener.accept``).

    The links the peer attaches wait until you accept them: ``accept_receiver`` for a link
    the peer sends on, ``accept_sender`` for one it receives on; each returns the same
    ``Receiver``/``Sender`` a client gets (see ``amqp10.blocking.AcceptedConnection``).
    ``async with`` closes this connection on exit; the listener keeps serving.
    """

    _core: AcceptedCore

    def __init__(self, options: ClientOptions, core: AcceptedCore, lock: _Lock, sync: AsyncDriver, served: ServerConnection) -> None:
        super().__init__(options, core, lock)
        self._sync = sync
        #: the client's (host, port)
        self.peer_address = served.peer_address
        #: the subject of the client's verified TLS certificate, or ``None``
        self.tls_identity = served.tls_identity

    def __repr__(self) -> str:
        return f"<AcceptedConnection from {self._core.peer}>"

    async def accept_receiver(self, address: str | None = None, *, timeout: float | None = None, credit: int = DEFAULT_CREDIT, auto_accept: bool = False) -> Receiver:
        """Wait for the peer to attach a link it sends on (to ``address``, or any) and
        return our receiving end (see ``amqp10.blocking.AcceptedConnection.accept_receiver``)."""
        return Receiver(self, await self._sync.call(accept_link, self._core, True, address, timeout, credit, auto_accept))

    async def accept_sender(self, address: str | None = None, *, timeout: float | None = None) -> Sender:
        """Our sending end of the dynamic node ``address`` the peer made, or of the next
        receiving link it attaches (see ``amqp10.blocking.AcceptedConnection.accept_sender``)."""
        if address is None:
            record = await self._sync.call(accept_link, self._core, False, None, timeout, 0, False)
        else:
            record = await self._sync.call(accepted_sender, self._core, address, timeout)
        return Sender(self, record)

    async def incoming_links(self, *, timeout: float | None = None) -> AsyncIterator[Sender | Receiver]:
        """Accept every link the peer attaches, in order, until the connection ends cleanly
        (``async for link in conn.incoming_links()``)."""
        while True:
            try:
                record = await self._sync.call(accept_link, self._core, None, None, timeout, DEFAULT_CREDIT, False)
            except ConnectionClosedError as exc:
                if exc.condition is None:
                    return
                raise
            yield Sender(self, record) if record.link.is_sender else Receiver(self, record)


class Listener:
    """Where an async accepting listener listens, and the connections it accepted.

    Attributes:
        host, port: the bound address (``port=0`` picked a free one).
        url: ``amqp[s]://host:port`` for clients.
    """

    def __init__(self, server: Listening, take: Callable[[], Awaitable[AcceptedConnection]]) -> None:
        self.host = server.host
        self.port = server.port
        self.url = server.url
        self._take = take

    def accept(self) -> "_Opening[AcceptedConnection]":
        """The next connection a client opened: ``conn = await listener.accept()``, or
        ``async with listener.accept() as conn:`` to close it when the block ends."""
        return _Opening(self._take)


def accepting_handler(
    url_of: Callable[[], Listening | None],
    timeout: float | None,
    new_lock: Callable[[], _Lock],
    new_driver: Callable[[AcceptedCore, ServedPump, float | None], AsyncDriver],
    put: Callable[[AcceptedConnection], None],
) -> AcceptingHandler:
    """The ``AcceptingHandler`` of an async listener: each connection becomes an
    ``AcceptedConnection`` with the adapter's driver and lock, handed to ``put``."""
    pumps: dict[AcceptedCore, ServedPump] = {}

    def made(served: ServerConnection, core: AcceptedCore) -> Callable[[], None]:
        server = url_of()
        options = ClientOptions(url=parse_url(server.url if server is not None else "amqp://localhost"), config=core.engine.config, ssl_context=None, timeout=timeout)
        pump = pumps[core] = ServedPump(served)
        driver = new_driver(core, pump, timeout)
        put(AcceptedConnection(options, core, new_lock(), driver, served))
        return driver.changed

    def lost(core: AcceptedCore) -> None:
        pump = pumps.pop(core, None)
        if pump is not None:
            pump.done = True

    return AcceptingHandler(made, lost)

