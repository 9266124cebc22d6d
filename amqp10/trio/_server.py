"""The trio server role: ``serve()`` accepts connections and serves them with a ``Handler``.

Owns: the listening sockets, TLS handshakes, a server-role engine and a ``Pump`` per accepted
stream, and calling the handler, always on the trio thread, never concurrently (ADAPTERS.md).
Runs until cancelled (trio's ``serve_*`` convention). Must never: interpret AMQP beyond SASL
setup.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import TYPE_CHECKING, Any, Callable

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .._handler import Handler, Listening, serve_async
from .._options import server_configs
from ..engine.config import Config
from ..engine.connection import Connection as EngineConnection
from ..tls import certificate_identity
from ._driver import Pump, Timer, describe_failure

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ServerOptions

__all__ = ["serve", "Server"]

log = logging.getLogger("amqp10.trio.server")

#: How long a client may take over its TLS handshake.
_HANDSHAKE_TIMEOUT = 10.0


class Server(Listening):
    """What ``serve()`` reports through ``task_status.started()``: where it listens.

    Attributes:
        host, port: the bound address (``port=0`` picked a free one).
        url: ``amqp[s]://host:port`` for clients.
        connections: the connections being served.
    """


async def serve(
    host: str,
    port: int,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: Any = trio.TASK_STATUS_IGNORED,
    **options: "Unpack[ServerOptions]",
) -> None:
    """Listen on ``host:port`` and serve every connection with ``handler`` until cancelled.

    Use ``server = await nursery.start(amqp10.trio.serve, host, 0, handler)`` to learn the
    port (``Server``). ``ssl_context`` and ``**options`` (``amqp10.ServerOptions``) are those
    of ``amqp10.blocking.listen``.

    Raises:
        OSError: the address cannot be bound. ValueError: bad SASL options.
    """
    make_config = server_configs(tls_active=ssl_context is not None, **options)
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    server = Server(bound[0], bound[1], ssl_context is not None)
    log.info("serving on %s:%d%s", server.host, server.port, " (TLS)" if ssl_context is not None else "")

    # One task wakes every connection at its deadline (heartbeats), rather than a cancel
    # scope per connection firing: see ``Timer``.
    timer = Timer()

    # A partial, not a wrapper coroutine: each connection's task holds one frame less.
    per_connection = functools.partial(_serve_one, handler=handler, server=server, ssl_context=ssl_context,
                                       make_config=make_config, timer=timer)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(timer.run)
        await nursery.start(trio.serve_listeners, per_connection, listeners)
        task_status.started(server)


async def _serve_one(
    raw: trio.SocketStream,
    handler: Handler,
    server: Server,
    ssl_context: ssl.SSLContext | None,
    make_config: Callable[[str | None], Config],
    timer: Timer,
) -> None:
    peer = raw.socket.getpeername()
    address = (str(peer[0]), int(peer[1]))
    stream: trio.abc.Stream = raw
    identity: str | None = None
    if ssl_context is not None:
        tls = trio.SSLStream(raw, ssl_context, server_side=True)
        try:
            with trio.fail_after(_HANDSHAKE_TIMEOUT):
                await tls.do_handshake()
        except (trio.BrokenResourceError, trio.ClosedResourceError, trio.TooSlowError) as exc:
            log.info("TLS handshake with %s:%d failed: %s", address[0], address[1], describe_failure(exc))
            await trio.aclose_forcefully(raw)
            return
        identity = certificate_identity(tls.getpeercert())
        stream = tls
    engine = EngineConnection(make_config(identity))
    engine.open()
    await serve_async(handler, server.connections, engine, address, identity, lambda on_events, on_lost: Pump(stream, engine, on_events, on_lost, timer=timer), log)
