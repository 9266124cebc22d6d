"""The server-side contract both adapters serve (ADAPTERS.md): ``ServerConnection`` and ``Handler``.

Owns: what ``amqp10.listen()`` and ``amqp10.trio.serve()`` hand to user code for each accepted
socket, and the ``Handler`` base class with no-op methods. Must never: do I/O itself.

Rules the adapters guarantee:

- All handler calls of one listener happen on one thread (blocking: the listener's reactor
  thread; trio: the trio thread), never concurrently, so a handler may touch *any* of its
  connections' engines without locks (an embedded broker routes a message from connection A
  to a receiver on connection B inside one call).
- Before ``connection_made`` the adapter has configured SASL per its options and called
  ``engine.open()``; the handler never sees a connection that failed TLS.
- Whatever a handler call writes to *any* engine goes out without the handler saying so: a
  handler may write to connection B while handling A without waking B. Each
  ``ServedConnection`` hooks its engine's ``on_output``, which the engine calls when it queues
  output for the first time since its output was last drained; that wakes just that
  connection (the trio pump's writer, or the blocking reactor's channel). So a handler call
  costs the connections it wrote to, never a scan of every connection: with 10,000
  connections served, one message routed from A to B touches A and B only.
  Code running *outside* handler calls (another thread, another task) that changes an engine
  must call ``conn.wakeup()`` afterwards (it may also have changed a deadline, which makes no
  output), and in the blocking adapter must hold ``Listener.call``'s lock.

Both adapters make every handler call through ``call_handler`` and hand out
``ServedConnection`` objects, so these rules are written once; the async adapters (trio,
asyncio) also serve each accepted connection with the one ``serve_async``.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Protocol, Sequence

from .codec.spec import Error
from .engine.connection import Connection as EngineConnection
from .engine.events import Event

__all__ = ["ServerConnection", "Handler", "ServedConnection", "call_handler", "serve_async", "Listening"]

log = logging.getLogger("amqp10.server")


class ServerConnection(Protocol):
    """One accepted socket, as a handler sees it.

    Attributes:
        engine: the sans-IO engine (server role), already opened.
        peer_address: the client's (host, port).
        tls_identity: the subject of the client's verified TLS certificate (RFC 4514), or
            ``None`` (no TLS, or no certificate).
    """

    engine: EngineConnection
    peer_address: tuple[str, int]
    tls_identity: str | None

    def wakeup(self) -> None:
        """Thread-safe: this engine has new output or needs a tick; flush it soon."""
        ...


class Handler:
    """Base class for server handlers: override what you need; the rest do nothing.

    A handler answers the engine's events itself: ``SessionRemotelyBegun`` with
    ``event.session.begin()``, ``LinkRemotelyAttached`` with ``event.link.attach()`` (and
    ``flow`` for a receiving link), deliveries with ``accept()`` and so on (see
    ``amqp10.engine.events``). Exceptions a handler raises are logged and close that one
    connection with ``amqp:internal-error``; the listener keeps serving.
    """

    def connection_made(self, conn: ServerConnection) -> None:
        """A client connected (TLS done, engine opened, SASL not yet finished)."""

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        """The engine reported ``events`` for ``conn``."""

    def connection_lost(self, conn: ServerConnection) -> None:
        """The socket closed (cleanly or not); ``conn.engine`` is finished."""


class ServedConnection:
    """The ``ServerConnection`` both adapters hand to handlers.

    It sets ``engine.on_output`` to ``wake``: every write to the engine, by any handler call,
    flushes this connection soon.

    Args:
        engine: the server-role engine, already opened.
        peer_address: the client's (host, port).
        tls_identity: the verified client certificate's subject, or ``None``.
        wake: the adapter's thread-safe "flush this connection soon".
    """

    __slots__ = ("engine", "peer_address", "tls_identity", "_wake")

    def __init__(self, engine: EngineConnection, peer_address: tuple[str, int], tls_identity: str | None, wake: Callable[[], None]) -> None:
        self.engine = engine
        self.peer_address = peer_address
        self.tls_identity = tls_identity
        self._wake = wake
        engine.on_output = wake

    def __repr__(self) -> str:
        return f"<ServerConnection {self.peer_address[0]}:{self.peer_address[1]}>"

    def wakeup(self) -> None:
        """Thread-safe: flush this engine's output (and tick it) soon."""
        self._wake()


def call_handler(call: Callable[[], None], conn: ServerConnection | None) -> None:
    """Make one handler call the way the rules above promise (on the listener's one thread).

    A handler's exception is logged and closes ``conn`` (the connection the call was about;
    ``None``: log only) with ``amqp:internal-error``; the listener keeps serving. Nothing is
    scanned afterwards: what the call wrote to any engine woke that connection already
    (``ServedConnection`` hooks ``engine.on_output``).
    """
    try:
        call()
    except Exception as exc:
        log.exception("the handler failed%s", "" if conn is None else f"; closing {conn!r}")
        engine = None if conn is None else conn.engine
        if engine is not None and not engine.finished:
            try:
                engine.close(Error(condition="amqp:internal-error", description=f"server error: {type(exc).__name__}"))
            except Exception:  # already closing: the close handshake in progress ends it
                log.exception("closing %r after a handler failure failed", conn)


class Listening:
    """Where an async adapter's server listens and what it serves (the base of trio's and
    asyncio's ``Server``, which document these attributes)."""

    def __init__(self, host: str, port: int, tls: bool) -> None:
        self.host = host
        self.port = port
        bracketed = f"[{host}]" if ":" in host else host
        self.url = f"{'amqps' if tls else 'amqp'}://{bracketed}:{port}"
        self.connections: list[ServedConnection] = []


#: the CLOSE a server shutting down sends (one for every connection: it is never changed)
_SHUTTING_DOWN = Error(condition="amqp:connection:forced", description="the server is shutting down")


class AsyncPump(Protocol):
    """What ``serve_async`` needs of an async adapter's pump (trio's and asyncio's ``Pump``)."""

    goodbye: Error | None

    def wakeup(self) -> None: ...

    def run(self) -> Awaitable[None]: ...


async def serve_async(
    handler: Handler,
    connections: list[ServedConnection],
    engine: EngineConnection,
    address: tuple[str, int],
    identity: str | None,
    make_pump: Callable[[Callable[[list[Event]], None], Callable[[str], None]], AsyncPump],
    adapter_log: logging.Logger,
) -> None:
    """Serve one accepted connection of an async adapter (trio, asyncio) until it ends.

    ``engine`` is open (SASL configured); ``make_pump(on_events, on_lost)`` builds the
    adapter's pump over the accepted stream. The connection is in ``connections`` while
    served; the handler hears of it through ``call_handler`` (``connection_made``, every
    batch of events, ``connection_lost``), and a server shutting down closes it with
    ``amqp:connection:forced`` (the pump's ``goodbye``).
    """

    def on_events(events: list[Event]) -> None:
        call_handler(lambda: handler.events_received(conn, events), conn)

    def on_lost(reason: str) -> None:
        adapter_log.debug("connection from %s:%d lost: %s", address[0], address[1], reason)
        events = engine.receive_data(b"")
        if events:
            on_events(events)

    pump = make_pump(on_events, on_lost)
    pump.goodbye = _SHUTTING_DOWN
    conn = ServedConnection(engine, address, identity, pump.wakeup)
    connections.append(conn)
    try:
        call_handler(lambda: handler.connection_made(conn), conn)
        await pump.run()
    finally:
        connections.remove(conn)
        call_handler(lambda: handler.connection_lost(conn), None)
