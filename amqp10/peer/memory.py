"""An in-memory stand-in for a listener: run a server ``Handler`` against client engines, no sockets.

Owns: ``MemoryHub``, which plays the adapter's part of the handler protocol (ADAPTERS.md) for
any number of client engines: it makes a server-role engine per client, moves bytes both ways
until everything is quiet (EnginePair's ``pump``, for many pairs at once), and calls the handler
with each server engine's events, on the caller's thread. The embedded broker's tests run on
it; use it to test your own handler the same way. Must never: do I/O, read a clock, or hide a
livelock (``pump`` bounds its rounds and raises).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from .._handler import Handler
from ..engine.config import Config, ConnectionRole
from ..engine.connection import Connection
from ..engine.events import Event
from .broker import ANONYMOUS_RELAY

__all__ = ["MemoryHub", "MemoryConnection"]


@dataclass(eq=False)
class MemoryConnection:
    """The server side of one in-memory connection, as the handler sees it.

    Attributes:
        engine: the server-role engine.
        client: the client engine it is wired to.
        peer_address: a made-up address naming the client (``("memory", n)``).
        tls_identity: always ``None`` (there is no TLS in memory).
        client_events: events of the client engine not yet taken by ``MemoryHub.events``.
    """

    engine: Connection
    client: Connection
    peer_address: tuple[str, int]
    client_events: list[Event] = field(default_factory=list)
    lost: bool = False
    tls_identity: str | None = None
    woken: bool = False

    def wakeup(self) -> None:
        """The handler changed this engine outside a call about it: flush it on the next
        round (as a real adapter would; without this its output would wait)."""
        self.woken = True


class MemoryHub:
    """Connect client engines to a server handler in memory.

    Args:
        handler: the server handler (e.g. ``amqp10.peer.Broker()``).
        container_id: the server engines' container-id.
        offered_capabilities: what the server engines offer in OPEN (default: the anonymous
            relay, as ``amqp10 serve`` does).

    Example::

        hub = MemoryHub(Broker())
        client = Connection(Config(container_id="c"))
        hub.connect(client)
        client.open()
        hub.pump()
    """

    def __init__(
        self,
        handler: Handler,
        *,
        container_id: str = "amqp10-memory-peer",
        offered_capabilities: Sequence[str] | None = (ANONYMOUS_RELAY,),
    ) -> None:
        self.handler = handler
        self._config = Config(
            role=ConnectionRole.SERVER,
            container_id=container_id,
            offered_capabilities=offered_capabilities,
        )
        self._connections: list[MemoryConnection] = []
        self._by_client: dict[Connection, MemoryConnection] = {}

    def connect(self, client: Connection) -> MemoryConnection:
        """Wire ``client`` (a client-role engine, opened or not) to a new server engine."""
        server = Connection(self._config)
        server.open()  # sent right after the client's header arrives
        conn = MemoryConnection(server, client, ("memory", len(self._connections) + 1))
        self._connections.append(conn)
        self._by_client[client] = conn
        self.handler.connection_made(conn)
        return conn

    def pump(self, max_rounds: int = 10_000) -> None:
        """Move bytes between every client and its server engine until nothing moves.

        Server events go to the handler as they happen; client events are kept for
        ``events``. A server engine's output is flushed only after a handler call about that
        connection or its ``wakeup()``, as the adapters do.

        Raises:
            RuntimeError: still busy after ``max_rounds`` rounds (a livelock).
        """
        for _ in range(max_rounds):
            moved = False
            for conn in list(self._connections):
                if conn.lost:
                    continue
                # Like the trio adapter, flush a server engine only after a handler call
                # about it or a wakeup: a handler that writes to another connection's engine
                # and forgets to wake it stalls here just as it would on sockets.
                flush, conn.woken = conn.woken, False
                pending = conn.engine.take_events()
                if pending:
                    self.handler.events_received(conn, pending)
                    flush = True
                to_server = conn.client.data_to_send()
                if to_server:
                    moved = True
                    flush = True
                    events = conn.engine.receive_data(to_server)
                    if events:
                        self.handler.events_received(conn, events)
                to_client = conn.engine.data_to_send() if flush else b""
                if to_client:
                    moved = True
                    conn.client_events += conn.client.receive_data(to_client)
                conn.client_events += conn.client.take_events()
                if conn.engine.finished and conn.client.finished:
                    self._lose(conn)
            if not moved:
                return
        raise RuntimeError(f"still busy after {max_rounds} rounds")

    def events(self, client: Connection) -> list[Event]:
        """Take the events ``client`` produced so far."""
        conn = self._by_client[client]
        events, conn.client_events = conn.client_events, []
        return events

    def disconnect(self, client: Connection) -> None:
        """Drop the transport under ``client`` without a close handshake (both see EOF)."""
        conn = self._by_client[client]
        conn.client_events += conn.client.receive_data(b"")
        events = conn.engine.receive_data(b"")
        if events:
            self.handler.events_received(conn, events)
        self._lose(conn)

    def _lose(self, conn: MemoryConnection) -> None:
        if not conn.lost:
            conn.lost = True
            self.handler.connection_lost(conn)
