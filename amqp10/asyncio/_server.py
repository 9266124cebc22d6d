"""The asyncio server role: ``serve()`` / ``start_server()`` accept connections and serve them
with a ``Handler``.

Owns: the listening socket (``loop.create_server``, TLS handshakes included), a server-role
engine and a ``Pump`` per accepted transport, and calling the handler, always on the event
loop's thread, never concurrently (``amqp10._handler``). Mirrors ``amqp10.trio._server``
(both serve an accepted connection with ``amqp10._handler.serve_async``); ``serve`` runs until cancelled (trio's ``serve_*``
convention); ``start_server`` returns a running ``Server`` (asyncio's ``start_server``
convention) for code that has no task to spare. Must never: interpret AMQP beyond SASL setup.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import TYPE_CHECKING, Callable

from .._async_client import _Closable, _Opening
from .._handler import Handler, Listening, serve_async
from .._options import server_configs
from ..engine.config import Config
from ..engine.connection import Connection as EngineConnection
from ..tls import certificate_identity
from ._driver import Holding, Pump, shielded

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ServerOptions

__all__ = ["serve", "start_server", "Server"]

log = logging.getLogger("amqp10.asyncio.server")

#: How long a client may take over its TLS handshake (asyncio drops it after that; its
#: failures are logged by asyncio at debug level only, in the loop's debug mode).
_HANDSHAKE_TIMEOUT = 10.0


class Server(Listening, _Closable):
    """A listening server: where it listens, what it serves; ``aclose()`` (or leaving
    ``async with``) stops it.

    Attributes:
        host, port: the bound address (``port=0`` picked a free one).
        url: ``amqp[s]://host:port`` for clients.
        connections: the connections being served.
    """

    def __init__(self, host: str, port: int, tls: bool) -> None:
        super().__init__(host, port, tls)
        self._listener: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def aclose(self) -> None:
        """Stop listening and close every connection (CLOSE with ``amqp:connection:forced``,
        as trio's ``serve`` does when cancelled). Idempotent."""
        self._closing = True
        if self._listener is not None:
            self._listener.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._listener is not None:
            await self._listener.wait_closed()

    async def __aexit__(self, *exc_info: object) -> None:
        await shielded(self.aclose())

    async def serve_forever(self) -> None:
        """Serve until cancelled; then close (see ``aclose``)."""
        try:
            await asyncio.get_running_loop().create_future()  # resolved by no one
        finally:
            await shielded(self.aclose())


async def serve(
    host: str,
    port: int,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    started: "asyncio.Future[Server] | None" = None,
    **options: "Unpack[ServerOptions]",
) -> None:
    """Listen on ``host:port`` and serve every connection with ``handler`` until cancelled.

    ``started`` (a future) gets the ``Server`` once listening, to learn the port (trio:
    ``task_status``). ``ssl_context`` and ``**options`` (``amqp10.ServerOptions``) are those
    of ``amqp10.blocking.listen``. Cancelling it closes every connection with
    ``amqp:connection:forced``.

    Raises:
        OSError: the address cannot be bound. ValueError: bad SASL options.
    """
    server = await _start(host, port, handler, ssl_context, options)
    if started is not None and not started.done():
        started.set_result(server)
    await server.serve_forever()


def start_server(
    host: str,
    port: int,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    **options: "Unpack[ServerOptions]",
) -> "_Opening[Server]":
    """Listen and serve in the background: ``async with amqp10.asyncio.start_server(host, 0,
    handler) as server:`` serves for the block, ``server = await ...start_server(...)`` until
    ``await server.aclose()``. Arguments and errors as for ``serve``."""
    return _Opening(lambda: _start(host, port, handler, ssl_context, options))


async def _start(host: str, port: int, handler: Handler, ssl_context: ssl.SSLContext | None, options: "ServerOptions") -> Server:
    make_config = server_configs(tls_active=ssl_context is not None, **options)
    loop = asyncio.get_running_loop()
    server: Server | None = None

    def accepted(transport: asyncio.Transport) -> None:
        assert server is not None
        if server._closing:
            transport.abort()
            return
        task = asyncio.ensure_future(_serve_one(transport, handler, server, ssl_context is not None, make_config))
        server._tasks.add(task)
        task.add_done_callback(server._tasks.discard)

    listener = await loop.create_server(
        lambda: Holding(accepted),
        host,
        port,
        ssl=ssl_context,
        ssl_handshake_timeout=None if ssl_context is None else _HANDSHAKE_TIMEOUT,
    )
    bound = listener.sockets[0].getsockname()
    server = Server(bound[0], bound[1], ssl_context is not None)
    server._listener = listener
    log.info("serving on %s:%d%s", server.host, server.port, " (TLS)" if ssl_context is not None else "")
    return server


async def _serve_one(
    transport: asyncio.Transport,
    handler: Handler,
    server: Server,
    tls: bool,
    make_config: Callable[[str | None], Config],
) -> None:
    peer = transport.get_extra_info("peername")
    address = (str(peer[0]), int(peer[1]))
    identity: str | None = None
    if tls:
        identity = certificate_identity(transport.get_extra_info("peercert"))
    engine = EngineConnection(make_config(identity))
    engine.open()
    await serve_async(handler, server.connections, engine, address, identity, lambda on_events, on_lost: Pump(transport, engine, on_events, on_lost), log)
