"""The blocking client API: ``connect()`` and its Connection, Session, Sender, Receiver, Requester.

Owns: the synchronous face of ``amqp10._api``: each call runs its engine command under the
connection's lock, wakes the I/O thread, and waits on the lock's condition for its predicate,
with a timeout that raises ``amqp10.Timeout``. Every object here is safe to use from several
threads at once. Must never: touch a socket (the reactor does) or decide protocol meaning
(``_api`` does).
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from .. import _api
from .._api import PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from .._requests import Requests
from .._options import DEFAULT_CREDIT, ClientOptions, ReceiverOptions, SenderOptions, SettleMode, client_options, receiver_attach, sender_attach
from ..codec.message import Message
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event
from ..errors import AMQPError, ConnectionClosedError, LinkDetachedError, SessionEndedError, Timeout
from ._reactor import Channel, Reactor
from ._transport import Transport

if TYPE_CHECKING:
    import ssl
    from typing import Mapping, Sequence

    from typing_extensions import Unpack

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester"]

_T = TypeVar("_T")


class _Sync:
    """Runs commands and waits for predicates on one connection's reactor."""

    def __init__(self, reactor: Reactor, core: ClientCore, default_timeout: float | None) -> None:
        self.reactor = reactor
        self.core = core
        self.default_timeout = default_timeout

    def run(self, fn: Callable[[], _T]) -> _T:
        with self.reactor.lock:
            result = fn()
        self.reactor.wakeup()
        return result

    def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, *, default: bool = True) -> _T:
        """Evaluate ``predicate`` each time events arrive until it is not ``PENDING``.

        Args:
            timeout: seconds; ``None`` means the connection's default if ``default`` else
                forever.

        Raises:
            Timeout: it did not happen in time.
        """
        if timeout is None and default:
            timeout = self.default_timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        reactor = self.reactor
        with reactor.changed:
            while True:
                result = predicate()
                if self.core.output_pending:
                    self.core.output_pending = False
                    reactor.wakeup()
                if result is not PENDING:
                    return result
                if reactor.stopped:
                    self.core.finished = True
                    self.core.check()
                    raise ConnectionClosedError(f"the connection to {self.core.peer} is closed")
                if deadline is None:
                    reactor.changed.wait()
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout(f"{what} did not complete within {timeout:g} s")
                reactor.changed.wait(remaining)


def connect(
    url: str,
    *,
    container_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    sasl_mechanisms: "Sequence[str] | None" = None,
    allow_insecure_plain: bool = False,
    ssl_context: "ssl.SSLContext | None" = None,
    hostname: str | None = None,
    idle_timeout: float | None = None,
    max_frame_size: int | None = None,
    channel_max: int | None = None,
    properties: "Mapping[str, Any] | None" = None,
    offered_capabilities: "Sequence[str] | None" = None,
    desired_capabilities: "Sequence[str] | None" = None,
    timeout: float | None = 30.0,
) -> "Connection":
    """Open an AMQP connection and return it once the peer's OPEN has arrived.

    One I/O thread per connection moves bytes and ticks the engine, so heartbeats keep
    flowing however long your code is busy elsewhere.

    Args:
        url: ``amqp[s]://[user[:password]@]host[:port][/address]``; the address part is
            ignored here (pass addresses to ``open_sender``/``open_receiver``).
        container_id: our container-id (default: a fresh ``amqp10-<uuid>``).
        username, password: SASL credentials (override the URL's). Without any, ANONYMOUS.
        sasl_mechanisms: only consider these (e.g. ``["EXTERNAL"]`` with a client
            certificate, ``["SCRAM-SHA-256"]``); default: the strongest both sides support.
        allow_insecure_plain: permit SASL PLAIN over plain TCP (it sends the password in
            clear; without this flag the connection fails with ``SASLError``).
        ssl_context: TLS settings (see ``amqp10.tls.client_context``); given, TLS is used
            whatever the scheme. ``amqps://`` without one verifies against the system CAs.
        hostname: the virtual host to ask for in OPEN and SASL (default: the URL's host).
        idle_timeout: seconds of silence after which *we* give up on the peer (advertised,
            so the peer sends heartbeats at least that often). ``None``: no limit.
        max_frame_size, channel_max: our limits, advertised in OPEN.
        properties, offered_capabilities, desired_capabilities: sent in OPEN.
        timeout: seconds allowed for connecting, and the default limit of every later call
            that waits for the peer (``None``: wait forever). ``receive`` waits forever by
            default.

    Returns:
        The open ``Connection`` (a context manager that closes it).

    Raises:
        ConnectionClosedError: TCP or TLS failed (a certificate that does not verify, a host
            name that does not match), or the peer closed the connection at once.
        SASLError: authentication failed or was refused by policy.
        Timeout: no answer within ``timeout``.
        ValueError: a malformed URL or option.
    """
    options = client_options(
        url,
        container_id=container_id,
        username=username,
        password=password,
        sasl_mechanisms=sasl_mechanisms,
        allow_insecure_plain=allow_insecure_plain,
        ssl_context=ssl_context,
        hostname=hostname,
        idle_timeout=idle_timeout,
        max_frame_size=max_frame_size,
        channel_max=channel_max,
        properties=properties,
        offered_capabilities=offered_capabilities,
        desired_capabilities=desired_capabilities,
        timeout=timeout,
    )
    return Connection._open(options)


class Connection:
    """A blocking AMQP connection. Use ``connect()`` to make one.

    Links opened directly on the connection share one session, begun on first use; open
    more sessions with ``open_session``. Closing the connection ends them all.
    """

    def __init__(self, options: ClientOptions, reactor: Reactor, core: ClientCore) -> None:
        self._options = options
        self._reactor = reactor
        self._core = core
        self._sync = _Sync(reactor, core, options.timeout)
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = threading.Lock()

    @classmethod
    def _open(cls, options: ClientOptions) -> "Connection":
        url = options.url
        started = time.monotonic()
        try:
            sock = socket.create_connection((url.host, url.port), timeout=options.timeout)
        except OSError as exc:
            raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
        try:
            transport = Transport(sock, options.ssl_context, server_hostname=url.host if options.ssl_context else None)
        except Exception:
            sock.close()
            raise
        engine = EngineConnection(options.config)
        core = ClientCore(engine, str(url))
        engine.open()
        reactor = Reactor(f"amqp10 {url}", stop_when_idle=True)
        connection = cls(options, reactor, core)

        def on_events(channel: Channel, events: list[Event]) -> None:
            core.handle(events)
            reactor.changed.notify_all()

        def on_closed(channel: Channel, reason: str | None) -> None:
            if reason is not None:
                core.transport_failed(reason)
            core.finished = True
            reactor.changed.notify_all()

        reactor.add_channel(Channel(reactor, transport, engine=engine, on_events=on_events, on_closed=on_closed))
        reactor.start()
        remaining = None if options.timeout is None else max(0.0, options.timeout - (time.monotonic() - started))
        try:
            connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {url}", default=False)
        except BaseException:
            reactor.stop()
            reactor.join(5)
            raise
        return connection

    # -- context manager ------------------------------------------------------------------------
    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- facts ------------------------------------------------------------------------------------
    @property
    def container_id(self) -> str:
        """Our container-id."""
        return self._options.config.container_id

    @property
    def remote_container_id(self) -> str | None:
        """The peer's container-id."""
        remote = self._core.engine.remote_open
        return None if remote is None else str(remote.container_id)

    @property
    def remote_properties(self) -> Any:
        """The peer's OPEN properties."""
        remote = self._core.engine.remote_open
        return None if remote is None else remote.properties

    @property
    def remote_offered_capabilities(self) -> Any:
        """The capabilities the peer offered in OPEN (e.g. ``ANONYMOUS-RELAY``)."""
        remote = self._core.engine.remote_open
        return None if remote is None else remote.offered_capabilities

    @property
    def closed(self) -> bool:
        """The connection is over (closed by you, by the peer, or broken)."""
        return self._core.finished or self._core.closing

    # -- opening things ---------------------------------------------------------------------------
    def open_session(self, *, timeout: float | None = None) -> "Session":
        """Begin a new session and wait for the peer's answer.

        Raises:
            SessionEndedError: the peer refused it. ConnectionClosedError, Timeout.
        """
        record = self._sync.run(self._core.begin_session)
        self._sync.wait(record.begun_or_failed, timeout, "beginning a session")
        return Session(self, record)

    def _default_session(self) -> "Session":
        record = self._sync.run(self._core.session_for_links)
        return Session(self, record)

    def open_sender(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[SenderOptions]") -> "Sender":
        """Open a sender on the connection's default session (see ``Session.open_sender``)."""
        return self._default_session().open_sender(address, timeout=timeout, **options)

    def open_receiver(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[ReceiverOptions]") -> "Receiver":
        """Open a receiver on the connection's default session (see ``Session.open_receiver``)."""
        return self._default_session().open_receiver(address, timeout=timeout, **options)

    def open_requester(self, address: str, *, timeout: float | None = None) -> "Requester":
        """Open a request/reply helper for ``address`` (see ``Requester``)."""
        return self._default_session().open_requester(address, timeout=timeout)

    def request(self, address: str, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send ``message`` to ``address`` and return the reply correlated with it.

        The first request to an address opens a ``Requester`` that later requests reuse.

        Raises:
            Timeout: no reply in time. LinkDetachedError: the peer refused the address.
        """
        with self._requesters_lock:  # one requester per address, even with many threads
            requester = self._requesters.get(address)
            if requester is None or requester.closed:
                requester = self.open_requester(address, timeout=timeout)
                self._requesters[address] = requester
        return requester.request(message, timeout=timeout)

    def close(self, *, timeout: float | None = None) -> None:
        """Close the connection (CLOSE handshake), then stop its I/O thread. Idempotent.

        Raises:
            Timeout: the peer did not answer in time (the socket is closed anyway).
        """
        core = self._core
        self._sync.run(core.close)
        try:
            self._sync.wait(core.closed, timeout, "closing the connection")
        finally:
            self._reactor.stop()
            self._reactor.join(5)


class Session:
    """A session (spec 2.5): an ordered, flow-controlled context for links."""

    def __init__(self, connection: Connection, record: SessionRecord) -> None:
        self._connection = connection
        self._sync = connection._sync
        self._record = record

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def connection(self) -> Connection:
        """The connection this session belongs to."""
        return self._connection

    def open_sender(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[SenderOptions]") -> "Sender":
        """Attach a sending link to ``address`` and wait for the peer to accept it.

        ``address=None`` opens an anonymous sender: each message goes where its
        ``properties.to`` says (the peer must offer ANONYMOUS-RELAY).

        Args:
            address: the target node, or ``None``.
            timeout: seconds to wait (default: the connection's).
            **options: see ``amqp10.SenderOptions`` (settle_mode, durable, expiry_policy,
                capabilities, properties, ...).

        Raises:
            LinkDetachedError: the peer refused the link; ``condition`` says why
                (``amqp:not-found``, ``amqp:unauthorized-access``, ...).
            Timeout, SessionEndedError, ConnectionClosedError.
        """
        attach = sender_attach(address, **options)
        at_most_once = SettleMode(options.get("settle_mode", SettleMode.AT_LEAST_ONCE)) is SettleMode.AT_MOST_ONCE
        record = self._sync.run(lambda: self._record.attach_sender(address, attach, name=options.get("name")))
        self._sync.wait(record.attached_or_failed, timeout, f"attaching a sender to {address!r}")
        return Sender(self._connection, record, at_most_once=at_most_once)

    def open_receiver(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[ReceiverOptions]") -> "Receiver":
        """Attach a receiving link from ``address`` and wait for the peer to accept it.

        Args:
            address: the source node; ``None`` with ``dynamic=True`` for a node the peer
                creates (read it from ``Receiver.address``).
            timeout: seconds to wait (default: the connection's).
            **options: see ``amqp10.ReceiverOptions`` (credit, auto_accept, dynamic, filter,
                durable, ...).

        Raises:
            LinkDetachedError: the peer refused the link, with its condition.
            Timeout, SessionEndedError, ConnectionClosedError.
        """
        attach = receiver_attach(address, **options)
        credit = options.get("credit", DEFAULT_CREDIT)
        auto_accept = options.get("auto_accept", False)
        record = self._sync.run(lambda: self._record.attach_receiver(address, attach, credit=credit, auto_accept=auto_accept, name=options.get("name")))
        what = "a dynamic receiver" if options.get("dynamic") else f"a receiver from {address!r}"
        self._sync.wait(record.attached_or_failed, timeout, f"attaching {what}")
        return Receiver(self._connection, record)

    def open_requester(self, address: str, *, timeout: float | None = None) -> "Requester":
        """Open a sender to ``address`` and a dynamic receiver for its replies."""
        sender = self.open_sender(address, timeout=timeout)
        try:
            receiver = self.open_receiver(None, dynamic=True, timeout=timeout)
        except BaseException:
            sender.close()
            raise
        return Requester(sender, receiver)

    def close(self, *, timeout: float | None = None) -> None:
        """End the session (and with it its links). Idempotent."""
        record = self._record
        self._sync.run(record.end)
        self._sync.wait(record.ended_or_gone, timeout, "ending the session")


class _Link:
    def __init__(self, connection: Connection, record: LinkRecord) -> None:
        self._connection = connection
        self._sync = connection._sync
        self._record = record

    @property
    def address(self) -> str | None:
        """The node address (for a dynamic link: the one the peer created)."""
        return self._record.address

    @property
    def name(self) -> str:
        """The link name."""
        return self._record.link.name

    @property
    def remote_properties(self) -> Any:
        """The link properties the peer sent in its ATTACH."""
        return self._record.link.remote_properties

    @property
    def remote_offered_capabilities(self) -> Any:
        """The capabilities the peer offered in its ATTACH."""
        return self._record.link.remote_offered_capabilities

    @property
    def remote_source(self) -> Any:
        """The source terminus as the peer answered it (filters it applied, ...)."""
        return self._record.link.remote_source

    @property
    def remote_target(self) -> Any:
        """The target terminus as the peer answered it."""
        return self._record.link.remote_target

    @property
    def closed(self) -> bool:
        """Detached or closed, by either side."""
        return self._record.detached or self._record.closing

    def close(self, *, timeout: float | None = None) -> None:
        """Close the link (DETACH with closed=true: the peer may discard the node's state)."""
        self._finish(True, timeout)

    def detach(self, *, timeout: float | None = None) -> None:
        """Detach without closing: a durable subscription survives to be re-attached by name."""
        self._finish(False, timeout)

    def _finish(self, closed: bool, timeout: float | None) -> None:
        record = self._record
        self._sync.run(lambda: record.detach(closed=closed))
        self._sync.wait(record.detached_or_gone, timeout, f"detaching the {record.describe()}")


class Sender(_Link):
    """The sending end of a link."""

    def __init__(self, connection: Connection, record: LinkRecord, *, at_most_once: bool) -> None:
        super().__init__(connection, record)
        self._at_most_once = at_most_once

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def credit(self) -> int:
        """Credit the receiver has granted and we have not used."""
        return self._record.link.credit.link_credit

    @property
    def unsettled(self) -> int:
        """Messages sent at-least-once whose outcome has not arrived yet (including those
        whose ``send`` timed out after they went out: their outcome is still settled)."""
        return len(self._record.in_flight)

    def send(self, message: Message | Any, *, timeout: float | None = None) -> Any:
        """Send one message; with at-least-once, wait for the receiver's outcome.

        Args:
            message: a ``Message`` (anything else becomes ``Message(body=it)``).
            timeout: seconds to wait for credit and (at-least-once) the outcome; default:
                the connection's.

        Returns:
            at-least-once: the outcome, ``Accepted()``, ``Rejected(error=...)``,
            ``Released()`` or ``Modified(...)`` (``None`` if the receiver settled without
            one). at-most-once: ``None``, once the message is written out.

        Raises:
            Timeout: no credit or no outcome in time. If the message had not gone out it
                never will; if it had, its outcome is still settled when it comes.
            LinkDetachedError, SessionEndedError, ConnectionClosedError.
            ValueError: an anonymous sender got a message without ``properties.to``.
        """
        record = self._record
        payload = _api.encode_for(record, message)
        delivery = self._sync.run(lambda: record.send(payload, settled=self._at_most_once))
        try:
            if self._at_most_once:
                return self._sync.wait(lambda: record.sent(delivery), timeout, f"sending on the {record.describe()}")
            return self._sync.wait(lambda: record.outcome(delivery), timeout, f"sending on the {record.describe()}")
        except Timeout:
            self._sync.run(lambda: record.withdraw(delivery))
            raise


class Receiver(_Link):
    """The receiving end of a link. Iterate over it to receive until it closes."""

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def credit(self) -> int:
        """Credit granted to the sender and not yet used."""
        return self._record.link.credit.link_credit

    @property
    def queued(self) -> int:
        """Deliveries arrived and not yet taken by ``receive``."""
        return len(self._record.deliveries)

    def receive(self, *, timeout: float | None = None) -> _api.Delivery:
        """Wait for the next delivery.

        Args:
            timeout: seconds; ``None`` waits forever; ``0`` takes only what has arrived.

        Raises:
            Timeout: nothing arrived in time.
            LinkDetachedError / SessionEndedError / ConnectionClosedError: the link ended
                (after every delivery that had arrived was handed out).
        """
        record = self._record
        sync = self._sync
        return sync.wait(lambda: record.take_delivery(sync.run), timeout, f"receiving on the {record.describe()}", default=False)

    def __iter__(self) -> Iterator[_api.Delivery]:
        """Receive until the link or connection is closed cleanly; errors are raised."""
        while True:
            try:
                yield self.receive()
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None:
                    return
                raise

    def flow(self, count: int) -> None:
        """Grant ``count`` more credit (for ``credit=0``, manual flow control)."""
        self._sync.run(lambda: self._record.add_credit(count))

    def drain(self, *, timeout: float | None = None) -> list[_api.Delivery]:
        """Ask the sender to use all credit now or give it back, wait for its answer, and
        return every delivery that has arrived (spec 2.6.7 drain).

        Raises:
            Timeout: the sender did not answer in time.
        """
        record = self._record
        sync = self._sync
        sync.run(record.start_drain)
        try:
            return sync.wait(lambda: record.drained(sync.run), timeout, f"draining the {record.describe()}")
        except Timeout:
            sync.run(record.give_up_drain)
            raise


class Requester:
    """Request/reply over a sender to one address and a dynamic receiver for the replies.

    Each ``request`` sets ``message-id`` (a UUID unless given) and ``reply-to``, sends, and
    waits for the reply whose ``correlation-id`` matches. Safe to use from several threads:
    replies are matched to their waiting request whatever the order they arrive in.
    """

    def __init__(self, sender: Sender, receiver: Receiver) -> None:
        self.sender = sender
        self.receiver = receiver
        self._requests = Requests(sender._record, receiver._record)
        self._sync = sender._sync

    def __enter__(self) -> "Requester":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        """Either link is closed."""
        return self.sender.closed or self.receiver.closed

    def request(self, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send a request and return its reply.

        Raises:
            Timeout: no reply in time (a late reply is dropped).
            LinkDetachedError, ConnectionClosedError: the links ended.
        """
        requests = self._requests
        outgoing, key = self._sync.run(lambda: requests.prepare(message))
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.sender.send(outgoing, timeout=timeout)
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            return self._sync.wait(lambda: requests.reply(key), remaining, "waiting for a reply")
        except BaseException:
            self._sync.run(lambda: requests.forget(key))
            raise

    def close(self, *, timeout: float | None = None) -> None:
        """Close both links."""
        errors: list[AMQPError] = []
        for link in (self.sender, self.receiver):
            try:
                link.close(timeout=timeout)
            except AMQPError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
