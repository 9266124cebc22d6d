"""The trio server role: ``serve()`` accepts connections and serves them with a ``Handler``.

Owns: the listening sockets, TLS handshakes, a server-role engine and a ``Pump`` per accepted
stream, and calling the handler, always on the trio thread, never concurrently (ADAPTERS.md).
Runs until cancelled (trio's ``serve_*`` convention). Must never: interpret AMQP beyond SASL
setup.
"""

from __future__ import annotations

import logging
import ssl
from typing import Any, Callable, Mapping, Sequence

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .._handler import Handler
from .._options import new_container_id, server_config
from ..codec.spec import Error
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event
from ..engine.mechanisms import Authenticator
from ..tls import certificate_identity
from ._driver import Pump, describe_failure

__all__ = ["serve", "Server"]

log = logging.getLogger("amqp10.trio.server")

#: How long a client may take over its TLS handshake.
_HANDSHAKE_TIMEOUT = 10.0


class _ServerConnection:
    """``amqp10.ServerConnection`` for the trio adapter."""

    def __init__(self, engine: EngineConnection, peer_address: tuple[str, int], tls_identity: str | None) -> None:
        self.engine = engine
        self.peer_address = peer_address
        self.tls_identity = tls_identity
        self._pump: Pump | None = None

    def __repr__(self) -> str:
        return f"<ServerConnection {self.peer_address[0]}:{self.peer_address[1]}>"

    def wakeup(self) -> None:
        """Thread-safe: flush this engine's output soon."""
        if self._pump is not None:
            self._pump.wakeup()


class Server:
    """What ``serve()`` reports through ``task_status.started()``: where it listens.

    Attributes:
        host, port: the bound address (``port=0`` picked a free one).
        url: ``amqp[s]://host:port`` for clients.
        connections: the connections being served.
    """

    def __init__(self, host: str, port: int, tls: bool) -> None:
        self.host = host
        self.port = port
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"{'amqps' if tls else 'amqp'}://{bracketed}:{port}"
        self.connections: list[_ServerConnection] = []


async def serve(
    host: str,
    port: int,
    handler: Handler,
    *,
    ssl_context: ssl.SSLContext | None = None,
    container_id: str | None = None,
    authenticator: Authenticator | None = None,
    sasl_mechanisms: Sequence[str] | None = None,
    allow_anonymous: bool = True,
    allow_insecure_plain: bool = False,
    idle_timeout: float | None = None,
    max_frame_size: int | None = None,
    channel_max: int | None = None,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``host:port`` and serve every connection with ``handler`` until cancelled.

    Use ``server = await nursery.start(amqp10.trio.serve, host, 0, handler)`` to learn the
    port (``Server``). Options are those of ``amqp10.blocking.listen``.

    Raises:
        OSError: the address cannot be bound. ValueError: bad SASL options.
    """
    cid = container_id or new_container_id()
    tls_active = ssl_context is not None

    def make_config(identity: str | None) -> Any:
        return server_config(
            tls_active=tls_active,
            peer_identity=identity,
            container_id=cid,
            authenticator=authenticator,
            sasl_mechanisms=sasl_mechanisms,
            allow_anonymous=allow_anonymous,
            allow_insecure_plain=allow_insecure_plain,
            idle_timeout=idle_timeout,
            max_frame_size=max_frame_size,
            channel_max=channel_max,
            properties=properties,
            offered_capabilities=offered_capabilities,
            desired_capabilities=desired_capabilities,
        )

    make_config(None)  # bad options fail here, not per client
    listeners = await trio.open_tcp_listeners(port, host=host)
    bound = listeners[0].socket.getsockname()
    server = Server(bound[0], bound[1], tls_active)
    log.info("serving on %s:%d%s", server.host, server.port, " (TLS)" if tls_active else "")

    async def per_connection(stream: trio.SocketStream) -> None:
        await _serve_one(stream, handler, server, ssl_context, make_config)

    async with trio.open_nursery() as nursery:
        await nursery.start(trio.serve_listeners, per_connection, listeners)
        task_status.started(server)


def _call(handler_call: Callable[[], None], engine: EngineConnection | None) -> None:
    try:
        handler_call()
    except Exception as exc:
        log.exception("the handler failed; closing that connection")
        if engine is not None and not engine.finished:
            try:
                engine.close(Error(condition="amqp:internal-error", description=f"server error: {type(exc).__name__}"))
            except Exception:
                log.exception("closing after a handler failure failed")


async def _serve_one(
    raw: trio.SocketStream,
    handler: Handler,
    server: Server,
    ssl_context: ssl.SSLContext | None,
    make_config: Callable[[str | None], Any],
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
    conn = _ServerConnection(engine, address, identity)

    def on_events(events: list[Event]) -> None:
        _call(lambda: handler.events_received(conn, events), engine)

    def on_lost(reason: str) -> None:
        log.debug("connection from %s:%d lost: %s", address[0], address[1], reason)
        events = engine.receive_data(b"")
        if events:
            on_events(events)

    pump = Pump(stream, engine, on_events, on_lost)
    pump.goodbye = Error(condition="amqp:connection:forced", description="the server is shutting down")
    conn._pump = pump
    server.connections.append(conn)
    try:
        _call(lambda: handler.connection_made(conn), engine)
        await pump.run()
    finally:
        server.connections.remove(conn)
        _call(lambda: handler.connection_lost(conn), None)
