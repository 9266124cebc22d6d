"""The blocking server role: ``listen()`` accepts sockets and serves them with a ``Handler``.

Owns: the listening socket, one reactor thread for it and every connection it accepts (so all
handler calls of a listener are on one thread, ADAPTERS.md), a server-role engine per accepted
socket configured with the listener's SASL and TLS options, and shutting it all down. Must
never: interpret AMQP beyond SASL setup (the handler does), or call the handler concurrently.
"""

from __future__ import annotations

import logging
import socket
import ssl
import time
from typing import TYPE_CHECKING, Callable, TypeVar, overload

from .._busy_poll import checked_budget
from .._handler import Handler, ServedConnection, call_handler
from .._options import DEFAULT_BUSY_POLL, server_configs
from ..codec.spec import Error
from ..engine.config import Config
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event
from ..errors import Timeout
from ..tls import certificate_identity
from ._reactor import Channel, Reactor
from ._transport import Transport

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ServerOptions
    from ._accepting import AcceptingListener

__all__ = ["listen", "Listener"]

log = logging.getLogger("amqp10.blocking.server")

_T = TypeVar("_T")


@overload
def listen(
    host: str, port: int, handler: Handler, *, ssl_context: ssl.SSLContext | None = None, backlog: int = 128, timeout: float | None = 30.0,
    busy_poll: float = DEFAULT_BUSY_POLL,
    **options: "Unpack[ServerOptions]",
) -> "Listener": ...


@overload
def listen(
    host: str, port: int, handler: None = None, *, ssl_context: ssl.SSLContext | None = None, backlog: int = 128, timeout: float | None = 30.0,
    busy_poll: float = DEFAULT_BUSY_POLL,
    **options: "Unpack[ServerOptions]",
) -> "AcceptingListener": ...


def listen(
    host: str,
    port: int,
    handler: Handler | None = None,
    *,
    ssl_context: ssl.SSLContext | None = None,
    backlog: int = 128,
    timeout: float | None = 30.0,
    busy_poll: float = DEFAULT_BUSY_POLL,
    **options: "Unpack[ServerOptions]",
) -> "Listener":
    """Listen on ``host:port`` and serve every connection with ``handler``, on one thread.

    Without a ``handler`` the listener hands each connection to you instead, as a
    client-style object: ``conn = listener.accept()`` returns an ``AcceptedConnection``
    whose ``accept_receiver()`` / ``accept_sender()`` give the links the peer attaches as
    ``Receiver``/``Sender`` objects (``timeout``, default 30 s, is then its calls' default
    time limit, as ``connect``'s); see ``amqp10.blocking.AcceptingListener``.

    Returns once the socket is bound (``port=0`` picks a free port: read ``Listener.port``).

    Args:
        host, port: where to listen.
        handler: an ``amqp10.Handler``; all its calls happen on the listener's thread.
        ssl_context: serve TLS (``amqp10.tls.server_context``); clients' verified
            certificates enable SASL EXTERNAL.
        backlog: the listen queue length.
        busy_poll: seconds the listener's thread polls its sockets before sleeping, while
            its clients' next frames have mostly come within it (default 200 µs, as
            ``connect``'s; ``0``: never poll). Saves a wake-up from sleep per request on
            fast round trips, for up to that much CPU each time the listener goes idle; a
            listener whose clients pause longer soon stops polling (``amqp10._busy_poll``).
        **options: see ``amqp10.ServerOptions`` (container_id, authenticator,
            sasl_mechanisms, allow_anonymous, allow_insecure_plain, idle_timeout, ...).

    Raises:
        OSError: the address cannot be bound.
        ValueError: the SASL options leave nothing to offer, or ``busy_poll`` is negative.
    """
    busy_poll = checked_budget(busy_poll)
    if handler is None:
        from ._accepting import listen_accepting

        return listen_accepting(host, port, ssl_context=ssl_context, backlog=backlog, timeout=timeout, busy_poll=busy_poll, options=options)
    make_config = server_configs(tls_active=ssl_context is not None, **options)
    sock = socket.create_server((host, port), backlog=backlog, reuse_port=False)
    return Listener(sock, handler, ssl_context, make_config, busy_poll)


class Listener:
    """A listening socket and the thread serving its connections. Use ``listen()``.

    A context manager: leaving it closes every connection and stops the thread.
    """

    def __init__(
        self, sock: socket.socket, handler: Handler, ssl_context: ssl.SSLContext | None, make_config: Callable[[str | None], Config], busy_poll: float = 0.0
    ) -> None:
        self._sock = sock
        address = sock.getsockname()
        self.host: str = address[0]
        #: The bound port (useful with ``port=0``).
        self.port: int = address[1]
        self._handler = handler
        self._ssl_context = ssl_context
        self._make_config = make_config
        self._connections: dict[Channel, ServedConnection] = {}
        self._reactor = Reactor(f"amqp10 listener {self.host}:{self.port}", stop_when_idle=False, busy_poll=busy_poll)
        self._reactor.add_listener(sock, self._accept)
        self._reactor.start()
        log.info("listening on %s:%d%s", self.host, self.port, " (TLS)" if ssl_context else "")

    def __enter__(self) -> "Listener":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def url(self) -> str:
        """``amqp[s]://host:port`` for clients of this listener."""
        scheme = "amqps" if self._ssl_context is not None else "amqp"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port}"

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn`` with exclusive access to every engine of this listener (no handler call
        runs meanwhile), then flush their output. Thread-safe; use it to act on connections
        from outside handler calls."""
        with self._reactor.lock:
            result = fn()
        # What ``fn`` wrote to any engine marked that connection (``engine.on_output``); the
        # loop only needs to notice, not to visit every connection.
        self._reactor._interrupt()
        return result

    @property
    def connections(self) -> list[ServedConnection]:
        """The connections currently served."""
        with self._reactor.lock:
            return list(self._connections.values())

    def _accept(self, sock: socket.socket, address: tuple[str, int]) -> None:
        reactor = self._reactor
        server_side = self._ssl_context is not None
        transport = Transport(sock, self._ssl_context, server_side=server_side)
        channel = Channel(
            reactor,
            transport,
            make_engine=lambda ch: self._made(ch, address),
            on_events=self._events,
            on_closed=self._closed,
        )
        reactor.add_channel(channel)
        channel._ensure_engine()  # plain TCP: now; TLS: once the handshake is done
        log.debug("accepted %s:%d", address[0], address[1])

    def _made(self, channel: Channel, address: tuple[str, int]) -> EngineConnection:
        identity = certificate_identity(channel.transport.peer_certificate())
        engine = EngineConnection(self._make_config(identity))
        engine.open()
        conn = ServedConnection(engine, (address[0], address[1]), identity, channel.wakeup)
        self._connections[channel] = conn
        self._call_handler(conn, lambda: self._handler.connection_made(conn))
        return engine

    def _events(self, channel: Channel, events: list[Event]) -> None:
        conn = self._connections.get(channel)
        if conn is not None:
            self._call_handler(conn, lambda: self._handler.events_received(conn, events))

    def _closed(self, channel: Channel, reason: str | None) -> None:
        conn = self._connections.pop(channel, None)
        if conn is None:
            return
        lost = conn
        if not conn.engine.finished:
            events = conn.engine.receive_data(b"")  # the handler sees ConnectionClosed first
            if events:
                self._call_handler(lost, lambda: self._handler.events_received(lost, events))
        self._call_handler(None, lambda: self._handler.connection_lost(lost))

    def _call_handler(self, conn: ServedConnection | None, call: Callable[[], None]) -> None:
        call_handler(call, conn)

    def close(self, *, timeout: float = 5.0) -> None:
        """Stop accepting, close every connection (CLOSE with ``amqp:connection:forced``),
        wait up to ``timeout`` for them to finish, then stop the thread. Idempotent. From a
        handler call it only starts the shutdown (the thread ends after the call returns).

        Raises:
            Timeout: the thread did not stop within ``timeout``.
        """
        reactor = self._reactor
        if reactor.stopped:
            return

        def shut() -> None:
            reactor.remove_listener(self._sock)
            for channel in reactor.channels():
                engine = channel.engine
                if engine is None:
                    channel.close("the listener is closing")
                elif not engine.finished:
                    try:
                        engine.close(Error(condition="amqp:connection:forced", description="the server is shutting down"))
                    except Exception:
                        channel.lose("the listener is closing")

        self.call(shut)
        if reactor.in_reactor_thread:  # called from a handler: we cannot wait for ourselves
            reactor.stop()
            return
        deadline = time.monotonic() + timeout
        with reactor.changed:
            while reactor.channels() and not reactor.stopped:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                reactor.changed.wait(min(remaining, 0.05))
        reactor.stop()
        reactor.join(timeout)
        if not reactor.stopped:
            raise Timeout(f"the listener on {self.host}:{self.port} did not stop within {timeout:g} s")
