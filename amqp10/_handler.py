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
- After each handler call the adapter flushes the output of every connection. Code running
  *outside* handler calls (another thread, another task) that changes an engine must call
  ``conn.wakeup()`` afterwards, and in the blocking adapter must hold ``Listener.call``'s lock.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from .engine.connection import Connection as EngineConnection
from .engine.events import Event

__all__ = ["ServerConnection", "Handler"]


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
