"""The trio client API: ``connect()`` and async Connection, Session, Sender, Receiver, Requester.

Owns: the async face of ``amqp10._api``, the same surface as ``amqp10.blocking`` with
``await``, ``async with`` and ``async for``. Commands change engine state synchronously and
wake the pump; waits park on a ``ParkingLot`` that every batch of events unparks.

Cancellation: a cancelled ``receive`` has taken nothing (a delivery is taken from the buffer
and returned with no checkpoint in between); a cancelled ``send`` either withdrew its message
before any of it went out, or leaves it in flight with its outcome still tracked and settled
on arrival (``Sender.unsettled``). Either way the connection stays usable. Must never: do
socket I/O outside the pump.
"""

from __future__ import annotations

import math
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Generator, Generic, TypeVar

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .. import _api
from .._api import PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from .._requests import Requests
from .._options import DEFAULT_CREDIT, ClientOptions, ReceiverOptions, SenderOptions, SettleMode, client_options, receiver_attach, sender_attach
from ..codec.message import Message
from ..engine.connection import Connection as EngineConnection
from ..engine.events import Event
from ..errors import AMQPError, ConnectionClosedError, LinkDetachedError, SessionEndedError, Timeout
from ._driver import Pump, describe_failure

if sys.version_info < (3, 11):  # pragma: no cover - trio depends on the backport there
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    import ssl
    from typing import Mapping, Sequence

    from typing_extensions import Unpack

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester"]

_T = TypeVar("_T")
_R = TypeVar("_R", bound="_Closable")
_S = TypeVar("_S", bound="_Closable")


class _Closable:
    """``async with`` support for everything with an ``aclose``."""

    async def aclose(self) -> None:
        raise NotImplementedError  # pragma: no cover

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        with trio.CancelScope(shield=True):
            await self.aclose()


class _Opening(Generic[_R]):
    """What ``open_*`` returns: ``await`` it for the resource, or ``async with`` it to have
    the resource closed on exit."""

    def __init__(self, opener: Callable[[], Awaitable[_R]]) -> None:
        self._opener = opener
        self._resource: _R | None = None

    def __await__(self) -> Generator[Any, None, _R]:
        return self._opener().__await__()

    async def __aenter__(self) -> _R:
        self._resource = await self._opener()
        return self._resource

    async def __aexit__(self, *exc_info: object) -> None:
        if self._resource is not None:
            with trio.CancelScope(shield=True):
                await self._resource.aclose()


class _Async:
    """Runs commands and waits for predicates on one connection."""

    def __init__(self, core: ClientCore, pump: Pump, default_timeout: float | None) -> None:
        self.core = core
        self.pump = pump
        self.default_timeout = default_timeout
        self.lot = trio.lowlevel.ParkingLot()

    def run(self, fn: Callable[[], _T]) -> _T:
        result = fn()
        self.pump.wakeup()
        return result

    def changed(self) -> None:
        self.lot.unpark_all()

    async def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, *, default: bool = True) -> _T:
        """Re-evaluate ``predicate`` on every batch of events until it is not ``PENDING``.

        Raises:
            Timeout: not within ``timeout`` seconds (``None``: the connection's default if
                ``default``, else forever).
        """
        if timeout is None and default:
            timeout = self.default_timeout
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        while True:
            result = predicate()
            if self.core.output_pending:
                self.core.output_pending = False
                self.pump.wakeup()
            if result is not PENDING:
                return result
            if self.pump.done and not self.core.finished:
                self.core.finished = True
                continue
            if trio.current_time() >= deadline:
                raise Timeout(f"{what} did not complete within {timeout:g} s")
            with trio.move_on_at(deadline):
                await self.lot.park()


@asynccontextmanager
async def connect(
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
) -> AsyncIterator["Connection"]:
    """``async with amqp10.trio.connect(url) as conn:``: an open connection for the block.

    Arguments, errors and defaults are those of ``amqp10.blocking.connect``. The connection's
    I/O runs in tasks of a nursery owned by this context manager; leaving the block closes the
    connection (CLOSE handshake, bounded by ``timeout``).
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
    deadline = math.inf if timeout is None else trio.current_time() + timeout
    stream = await _open_stream(options, deadline)
    engine = EngineConnection(options.config)
    core = ClientCore(engine, str(options.url))
    engine.open()
    connection = Connection(options, core)

    def on_events(events: list[Event]) -> None:
        core.handle(events)
        connection._sync.changed()

    def on_lost(reason: str) -> None:
        core.transport_failed(reason)
        connection._sync.changed()

    pump = Pump(stream, engine, on_events, on_lost)
    connection._attach_pump(pump)
    try:
        async with trio.open_nursery() as nursery:

            async def run_pump() -> None:
                await pump.run()
                core.finished = True
                connection._sync.changed()

            nursery.start_soon(run_pump)
            try:
                remaining = None if timeout is None else max(0.0, deadline - trio.current_time())
                await connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {options.url}", default=False)
                yield connection
            finally:
                with trio.CancelScope(shield=True):
                    with trio.move_on_after(5 if timeout is None else timeout):
                        try:
                            await connection.aclose()
                        except AMQPError:
                            pass
                nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        # Newer trio wraps whatever left the block in a group because of our hidden nursery;
        # the user's own exception (the pump never raises) must come out as itself.
        raise _sole(group)


def _sole(group: BaseExceptionGroup[BaseException]) -> BaseException:
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        item = pending.pop()
        if isinstance(item, BaseExceptionGroup):
            pending.extend(item.exceptions)
        else:
            leaves.append(item)
    return leaves[0] if len(leaves) == 1 else group


async def _open_stream(options: ClientOptions, deadline: float) -> trio.abc.Stream:
    url = options.url
    with trio.move_on_at(deadline) as scope:
        try:
            stream: trio.abc.Stream = await trio.open_tcp_stream(url.host, url.port)
        except OSError as exc:
            raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
        if options.ssl_context is None:
            return stream
        tls = trio.SSLStream(stream, options.ssl_context, server_hostname=url.host)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            await trio.aclose_forcefully(stream)
            raise ConnectionClosedError(f"could not connect to {url}: {describe_failure(exc)}") from exc
        return tls
    assert scope.cancelled_caught
    raise Timeout(f"connecting to {url} did not complete within {options.timeout:g} s")


class Connection(_Closable):
    """An AMQP connection for trio. Use ``async with amqp10.trio.connect(url) as conn``."""

    def __init__(self, options: ClientOptions, core: ClientCore) -> None:
        self._options = options
        self._core = core
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = trio.Lock()

    def _attach_pump(self, pump: Pump) -> None:
        self._pump = pump
        self._sync = _Async(self._core, pump, self._options.timeout)

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
        """The capabilities the peer offered in OPEN."""
        remote = self._core.engine.remote_open
        return None if remote is None else remote.offered_capabilities

    @property
    def closed(self) -> bool:
        """The connection is over (closed by you, by the peer, or broken)."""
        return self._core.finished or self._core.closing

    def open_session(self, *, timeout: float | None = None) -> "_Opening[Session]":
        """Begin a session (``await`` it, or ``async with`` it)."""

        async def opener() -> Session:
            record = self._sync.run(self._core.begin_session)
            await self._sync.wait(record.begun_or_failed, timeout, "beginning a session")
            return Session(self, record)

        return _Opening(opener)

    def _default_session(self) -> "Session":
        return Session(self, self._sync.run(self._core.session_for_links))

    def open_sender(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[SenderOptions]") -> "_Opening[Sender]":
        """Open a sender on the default session (see ``amqp10.blocking.Session.open_sender``)."""
        return _Opening(lambda: self._default_session()._open_sender(address, timeout, options))

    def open_receiver(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[ReceiverOptions]") -> "_Opening[Receiver]":
        """Open a receiver on the default session (see ``amqp10.blocking.Session.open_receiver``)."""
        return _Opening(lambda: self._default_session()._open_receiver(address, timeout, options))

    def open_requester(self, address: str, *, timeout: float | None = None) -> "_Opening[Requester]":
        """Open a request/reply helper for ``address`` (see ``Requester``)."""
        return _Opening(lambda: self._default_session()._open_requester(address, timeout))

    async def request(self, address: str, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send ``message`` to ``address`` and return the correlated reply (a ``Requester``
        per address is opened on first use and reused)."""
        async with self._requesters_lock:  # one requester per address, even with many tasks
            requester = self._requesters.get(address)
            if requester is None or requester.closed:
                requester = await self.open_requester(address, timeout=timeout)
                self._requesters[address] = requester
        return await requester.request(message, timeout=timeout)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close the connection (CLOSE handshake). Idempotent."""
        core = self._core
        self._sync.run(core.close)
        await self._sync.wait(core.closed, timeout, "closing the connection")


class Session(_Closable):
    """A session; ``async with`` ends it on exit."""

    def __init__(self, connection: Connection, record: SessionRecord) -> None:
        self._connection = connection
        self._sync = connection._sync
        self._record = record

    @property
    def connection(self) -> Connection:
        """The connection this session belongs to."""
        return self._connection

    def open_sender(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[SenderOptions]") -> "_Opening[Sender]":
        """Attach a sender (see ``amqp10.blocking.Session.open_sender``)."""
        return _Opening(lambda: self._open_sender(address, timeout, options))

    def open_receiver(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[ReceiverOptions]") -> "_Opening[Receiver]":
        """Attach a receiver (see ``amqp10.blocking.Session.open_receiver``)."""
        return _Opening(lambda: self._open_receiver(address, timeout, options))

    def open_requester(self, address: str, *, timeout: float | None = None) -> "_Opening[Requester]":
        """A sender to ``address`` plus a dynamic receiver for its replies."""
        return _Opening(lambda: self._open_requester(address, timeout))

    async def _open_sender(self, address: str | None, timeout: float | None, options: SenderOptions) -> "Sender":
        attach = sender_attach(address, **options)
        at_most_once = SettleMode(options.get("settle_mode", SettleMode.AT_LEAST_ONCE)) is SettleMode.AT_MOST_ONCE
        record = self._sync.run(lambda: self._record.attach_sender(address, attach, name=options.get("name")))
        await self._sync.wait(record.attached_or_failed, timeout, f"attaching a sender to {address!r}")
        return Sender(self._connection, record, at_most_once=at_most_once)

    async def _open_receiver(self, address: str | None, timeout: float | None, options: ReceiverOptions) -> "Receiver":
        attach = receiver_attach(address, **options)
        credit = options.get("credit", DEFAULT_CREDIT)
        auto_accept = options.get("auto_accept", False)
        record = self._sync.run(lambda: self._record.attach_receiver(address, attach, credit=credit, auto_accept=auto_accept, name=options.get("name")))
        what = "a dynamic receiver" if options.get("dynamic") else f"a receiver from {address!r}"
        await self._sync.wait(record.attached_or_failed, timeout, f"attaching {what}")
        return Receiver(self._connection, record)

    async def _open_requester(self, address: str, timeout: float | None) -> "Requester":
        sender = await self._open_sender(address, timeout, {})
        try:
            receiver = await self._open_receiver(None, timeout, {"dynamic": True})
        except BaseException:
            with trio.CancelScope(shield=True):
                await sender.aclose()
            raise
        return Requester(sender, receiver)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """End the session (and its links). Idempotent."""
        self._sync.run(self._record.end)
        await self._sync.wait(self._record.ended_or_gone, timeout, "ending the session")


class _Link(_Closable):
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
        """The source terminus as the peer answered it."""
        return self._record.link.remote_source

    @property
    def remote_target(self) -> Any:
        """The target terminus as the peer answered it."""
        return self._record.link.remote_target

    @property
    def closed(self) -> bool:
        """Detached or closed, by either side."""
        return self._record.detached or self._record.closing

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close the link (DETACH with closed=true)."""
        await self._finish(True, timeout)

    async def detach(self, *, timeout: float | None = None) -> None:
        """Detach without closing (a durable subscription survives)."""
        await self._finish(False, timeout)

    async def _finish(self, closed: bool, timeout: float | None) -> None:
        record = self._record
        self._sync.run(lambda: record.detach(closed=closed))
        await self._sync.wait(record.detached_or_gone, timeout, f"detaching the {record.describe()}")


class Sender(_Link):
    """The sending end of a link; ``async with`` closes it on exit."""

    def __init__(self, connection: Connection, record: LinkRecord, *, at_most_once: bool) -> None:
        super().__init__(connection, record)
        self._at_most_once = at_most_once

    @property
    def credit(self) -> int:
        """Credit granted by the receiver and not yet used."""
        return self._record.link.credit.link_credit

    @property
    def unsettled(self) -> int:
        """Messages sent at-least-once whose outcome has not arrived yet (including those
        whose ``send`` was cancelled or timed out after they went out)."""
        return len(self._record.in_flight)

    async def send(self, message: Message | Any, *, timeout: float | None = None) -> Any:
        """Send one message (see ``amqp10.blocking.Sender.send``).

        Cancellation-safe: if cancelled (or timed out) before any of the message went out it
        is withdrawn and never sent; after, its outcome is still tracked and settled.
        """
        record = self._record
        payload = _api.encode_for(record, message)
        delivery = self._sync.run(lambda: record.send(payload, settled=self._at_most_once))
        what = f"sending on the {record.describe()}"
        try:
            if self._at_most_once:
                return await self._sync.wait(lambda: record.sent(delivery), timeout, what)
            return await self._sync.wait(lambda: record.outcome(delivery), timeout, what)
        except BaseException:
            self._sync.run(lambda: record.withdraw(delivery))  # no checkpoint: runs even when cancelled
            raise


class Receiver(_Link):
    """The receiving end of a link; ``async for`` receives until it closes."""

    @property
    def credit(self) -> int:
        """Credit granted to the sender and not yet used."""
        return self._record.link.credit.link_credit

    @property
    def queued(self) -> int:
        """Deliveries arrived and not yet taken."""
        return len(self._record.deliveries)

    async def receive(self, *, timeout: float | None = None) -> _api.Delivery:
        """Wait for the next delivery (see ``amqp10.blocking.Receiver.receive``).

        Cancellation-safe: a cancelled receive has taken nothing; the delivery stays buffered
        for the next one.
        """
        record = self._record
        sync = self._sync
        return await sync.wait(lambda: record.take_delivery(sync.run), timeout, f"receiving on the {record.describe()}", default=False)

    def __aiter__(self) -> "Receiver":
        return self

    async def __anext__(self) -> _api.Delivery:
        try:
            return await self.receive()
        except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
            if exc.condition is None:
                raise StopAsyncIteration from None
            raise

    def flow(self, count: int) -> None:
        """Grant ``count`` more credit (manual flow control)."""
        self._sync.run(lambda: self._record.add_credit(count))

    async def drain(self, *, timeout: float | None = None) -> list[_api.Delivery]:
        """Drain the credit and return what has arrived (see ``amqp10.blocking.Receiver.drain``)."""
        record = self._record
        sync = self._sync
        sync.run(record.start_drain)
        try:
            return await sync.wait(lambda: record.drained(sync.run), timeout, f"draining the {record.describe()}")
        except BaseException:
            record.give_up_drain()
            raise


class Requester(_Closable):
    """Request/reply over a sender and a dynamic reply receiver (see
    ``amqp10.blocking.Requester``). Concurrent requests from several tasks are matched to
    their replies by correlation-id."""

    def __init__(self, sender: Sender, receiver: Receiver) -> None:
        self.sender = sender
        self.receiver = receiver
        self._requests = Requests(sender._record, receiver._record)
        self._sync = sender._sync

    @property
    def closed(self) -> bool:
        """Either link is closed."""
        return self.sender.closed or self.receiver.closed

    async def request(self, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send a request and return its reply.

        Raises:
            Timeout: no reply in time. LinkDetachedError, ConnectionClosedError.
        """
        requests = self._requests
        outgoing, key = self._sync.run(lambda: requests.prepare(message))
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        try:
            await self.sender.send(outgoing, timeout=timeout)
            remaining = None if timeout is None else max(0.0, deadline - trio.current_time())
            return await self._sync.wait(lambda: requests.reply(key), remaining, "waiting for a reply")
        finally:
            requests.forget(key)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close both links."""
        await self.sender.aclose(timeout=timeout)
        await self.receiver.aclose(timeout=timeout)
