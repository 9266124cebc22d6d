"""The blocking server with client-style objects: ``listen()`` without a handler.

Owns: ``AcceptingListener`` (``accept()`` hands out each accepted connection) and
``AcceptedConnection``, a blocking ``Connection`` over an accepted socket whose peer-attached
links become ``Sender``/``Receiver`` objects (``accept_receiver``, ``accept_sender``). The
listener's one reactor thread feeds every connection's ``AcceptedCore`` (``_accept``); the
application's threads wait on the reactor's lock and condition exactly as a client's do
(``_client._Sync``), so sending, receiving and settling are the client's own code.

Must never: call application code on the reactor thread, or decide protocol meaning.
"""

from __future__ import annotations

import collections
import socket
import ssl
import time
from typing import TYPE_CHECKING, Callable, Iterator

from .. import _calls
from .._accept import AcceptedCore, AcceptingHandler, accept_link, accepted_sender
from .._handler import ServerConnection
from .._options import DEFAULT_CREDIT, ClientOptions, server_configs
from ..engine.config import Config
from ..errors import ConnectionClosedError, Timeout
from ..url import parse_url
from ._client import Connection, Receiver, Sender, _Sync
from ._listener import Listener
from ._reactor import Reactor

if TYPE_CHECKING:
    from .._options import ServerOptions

__all__ = ["AcceptingListener", "AcceptedConnection", "listen_accepting"]


class _ServedSync(_Sync):
    """``_Sync`` for an accepted connection: commands wake only its own channel."""

    def __init__(self, reactor: Reactor, core: AcceptedCore, default_timeout: float | None, conn: ServerConnection) -> None:
        super().__init__(reactor, core, default_timeout)
        self._served = conn

    def kick(self) -> None:
        """Flush this connection's output soon (the listener's thread writes it)."""
        self._served.wakeup()


class AcceptedConnection(Connection):
    """A connection a listener accepted, used like a client's (``amqp10.listen()`` without a
    handler, then ``Listener.accept()``).

    The links the peer attaches wait until you accept them: ``accept_receiver`` for a link
    the peer sends on, ``accept_sender`` for one it receives on; each returns the same
    ``Receiver``/``Sender`` a client gets. Links you open yourself (``open_sender``, ...) work
    too, if the peer accepts them. A receiving link the peer attaches with a *dynamic*
    source (a caller's reply-to) is answered at once with a node address of ours; send to it
    with ``accept_sender(address)``. Sessions the peer begins are begun.

    Closing it closes this connection only; the listener keeps serving.
    """

    _core: AcceptedCore

    def __init__(self, options: ClientOptions, reactor: Reactor, core: AcceptedCore, served: ServerConnection) -> None:
        super().__init__(options, reactor, core)
        self._sync = _ServedSync(reactor, core, options.timeout, served)
        #: the client's (host, port)
        self.peer_address = served.peer_address
        #: the subject of the client's verified TLS certificate, or ``None``
        self.tls_identity = served.tls_identity

    def __repr__(self) -> str:
        return f"<AcceptedConnection from {self._core.peer}>"

    def accept_receiver(self, address: str | None = None, *, timeout: float | None = None, credit: int = DEFAULT_CREDIT, auto_accept: bool = False) -> Receiver:
        """Wait for the peer to attach a link it sends on (to ``address``, or any), accept
        it and return our receiving end, granted ``credit`` (the prefetch window, as
        ``open_receiver``'s; 0: manual ``flow``). With an ``address`` the receiver stands
        for that node, as a broker's queue would: the peer's later sending links to the same
        address are accepted at once and their messages arrive on this receiver (it ends
        when the first link ends).

        Args:
            timeout: seconds (``None``: wait as long as it takes).

        Raises:
            Timeout: no such link in time. ConnectionClosedError: the connection ended.
        """
        record = self._sync.call(accept_link, self._core, True, address, timeout, credit, auto_accept)
        return Receiver(self, record)

    def accept_sender(self, address: str | None = None, *, timeout: float | None = None) -> Sender:
        """Our sending end of a link the peer receives on: the dynamic node ``address`` it
        made (a reply-to), or the next receiving link it attaches (from ``address``, or any).

        Raises:
            Timeout: no such link in time. ConnectionClosedError: the connection ended.
        """
        if address is None:
            record = self._sync.call(accept_link, self._core, False, None, timeout, 0, False)
        else:
            record = self._sync.call(accepted_sender, self._core, address, timeout)
        return Sender(self, record)

    def incoming_links(self, *, timeout: float | None = None) -> Iterator[Sender | Receiver]:
        """Accept every link the peer attaches, in order, as ``Sender``/``Receiver``
        (receivers with the default prefetch), until the connection ends cleanly.

        Raises:
            Timeout: no link within ``timeout`` of the previous one (``None``: never).
        """
        while True:
            try:
                record = self._sync.call(accept_link, self._core, None, None, timeout, DEFAULT_CREDIT, False)
            except ConnectionClosedError as exc:
                if exc.condition is None:
                    return
                raise
            yield Sender(self, record) if record.link.is_sender else Receiver(self, record)

    def close(self, *, timeout: float | None = None) -> None:
        """Close this connection (CLOSE handshake); the listener keeps serving. Idempotent."""
        self._sync.call(_calls.close_connection, self._core, timeout)


class AcceptingListener(Listener):
    """A listener that hands each connection to you (``amqp10.listen(host, port)``).

    ``accept()`` returns the next accepted connection as an ``AcceptedConnection``: serve it
    in a thread of yours (the listener's own thread only moves bytes). A context manager:
    leaving it closes every connection and stops the thread.

    Args:
        timeout: the default time limit of the accepted connections' calls (as ``connect``'s).
    """

    def __init__(
        self, sock: socket.socket, ssl_context: ssl.SSLContext | None, make_config: Callable[[str | None], Config], timeout: float | None, busy_poll: float = 0.0
    ) -> None:
        self._accepted: collections.deque[AcceptedConnection] = collections.deque()
        self._default_timeout = timeout
        super().__init__(sock, AcceptingHandler(self._hand_over, lambda core: None), ssl_context, make_config, busy_poll)

    def _hand_over(self, served: ServerConnection, core: AcceptedCore) -> Callable[[], None]:
        reactor = self._reactor
        options = ClientOptions(
            url=parse_url(f"amqp://{self.host if ':' not in self.host else '[' + self.host + ']'}:{self.port}"),
            config=core.engine.config,
            ssl_context=None,
            timeout=self._default_timeout,
        )
        conn = AcceptedConnection(options, reactor, core, served)
        self._accepted.append(conn)
        reactor.changed.notify_all()
        return reactor.changed.notify_all

    def accept(self, *, timeout: float | None = None) -> AcceptedConnection:
        """The next connection a client opened (``None``: wait as long as it takes).

        Raises:
            Timeout: none in time. ConnectionClosedError: the listener is closed.
        """
        reactor = self._reactor
        deadline = None if timeout is None else time.monotonic() + timeout
        with reactor.changed:
            while not self._accepted:
                if reactor.stopped:
                    raise ConnectionClosedError(f"the listener on {self.host}:{self.port} is closed")
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Timeout(f"no connection was accepted within {timeout:g} s")
                reactor.changed.wait(remaining if remaining is not None else 0.5)
            return self._accepted.popleft()


def listen_accepting(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None, backlog: int, timeout: float | None, busy_poll: float, options: "ServerOptions"
) -> AcceptingListener:
    """``listen()`` without a handler (see there)."""
    make_config = server_configs(tls_active=ssl_context is not None, **options)
    sock = socket.create_server((host, port), backlog=backlog, reuse_port=False)
    return AcceptingListener(sock, ssl_context, make_config, timeout, busy_poll)
