"""The trio client API: ``connect()`` and async Connection, Session, Sender, Receiver, Requester.

Owns: the async face of ``amqp10._api``, the same surface as ``amqp10.blocking`` with
``await``, ``async with`` and ``async for``. Commands change engine state synchronously and
wake the pump; waits park on a ``ParkingLot`` that every batch of events unparks, except those
that watch one thing (a message's outcome, a receiver's next delivery), which park on their
own ``trio.Event`` set only when that thing changes.

Cancellation: a cancelled ``receive`` has taken nothing (a delivery is taken from the buffer
and returned with no checkpoint in between); a cancelled ``send`` either withdrew its message
before any of it went out, or leaves it in flight with its outcome still tracked and settled
on arrival (``Sender.unsettled``). Either way the connection stays usable. Must never: do
socket I/O outside the pump.
"""

from __future__ import annotations

import math
import ssl
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Concatenate, Generator, Generic, Iterable, ParamSpec, TypeVar

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .. import _calls
from .._api import PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from .._calls import Steps
from .._delivery import Delivery, Runner
from .._options import ClientOptions, ReceiverOptions, SenderOptions, client_options
from .._requests import Requests
from .._views import ConnectionView, ReceiverView, RequesterView, SenderView, TrackerView
from ..codec.message import Message
from ..engine.connection import Connection as EngineConnection
from ..engine.delivery import Delivery as EngineDelivery
from ..engine.events import Event
from ..errors import AMQPError, ConnectionClosedError, LinkDetachedError, SessionEndedError, Timeout
from ..tls import handshake_failure
from ._driver import Pump, describe_failure

if sys.version_info < (3, 11):  # pragma: no cover - trio depends on the backport there
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ConnectOptions

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker"]

_T = TypeVar("_T")
_P = ParamSpec("_P")
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
    """Runs commands and drives ``_calls`` on one connection: the trio way to wait (parked
    on a ``ParkingLot`` that every batch of events unparks) is all this adapter adds."""

    def __init__(self, core: ClientCore, pump: Pump, default_timeout: float | None) -> None:
        self.core = core
        self.pump = pump
        self.default_timeout = default_timeout
        self.lot = trio.lowlevel.ParkingLot()

    def run(self, fn: Callable[[], _T]) -> _T:
        """Run an engine command (we are on the trio thread), then wake the pump."""
        result = fn()
        self.pump.wakeup()
        return result

    def changed(self) -> None:
        """Events arrived: let every waiter re-evaluate its predicate."""
        self.lot.unpark_all()

    async def call(self, steps: Callable[Concatenate[Runner, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Perform one of ``_calls``: run its commands, wait where it waits, return its result."""
        return await self.drive(steps(self.run, *args, **kwargs))

    async def drive(self, steps: Steps[_T]) -> _T:
        """Wait for each ``Wait`` the call yields and send the value back (or throw the error,
        cancellation included, in, so the call can undo what it started; its cleanup waits
        are shielded from the cancellation)."""
        try:
            wait = next(steps)
            while True:
                try:
                    limit = wait.limit(trio.current_time(), self.default_timeout)
                    if wait.cleanup:
                        with trio.CancelScope(shield=True):
                            value = await self.wait(wait.predicate, limit, wait.what, wait.watch)
                    else:
                        value = await self.wait(wait.predicate, limit, wait.what, wait.watch)
                except BaseException as exc:
                    wait = steps.throw(exc)
                else:
                    wait = steps.send(value)
        except StopIteration as stop:
            result: _T = stop.value
            return result

    async def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, watch: object = None) -> _T:
        """Re-evaluate ``predicate`` on every batch of events until it is not ``PENDING``.

        With a ``watch`` key (``Wait.watch``) the task parks on its own ``trio.Event``,
        set only when the core reports a change to that key or a failure, instead of the
        lot every batch of events unparks (a key another task watches uses the lot).
        A value is returned with no checkpoint after the predicate produced it, so a
        cancelled wait has taken nothing.

        Raises:
            Timeout: not within ``timeout`` seconds (``None``: wait forever).
        """
        deadline = math.inf if timeout is None else trio.current_time() + timeout
        watchers = self.core.watchers
        if watch is None or watch in watchers:
            return await self._wait_on(None, predicate, deadline, timeout, what)
        try:
            return await self._wait_on(watch, predicate, deadline, timeout, what)
        finally:
            watchers.pop(watch, None)

    async def _wait_on(self, watch: object, predicate: Callable[[], "_T | Pending"], deadline: float, timeout: float | None, what: str) -> _T:
        while True:
            if watch is not None:
                event = trio.Event()
                self.core.watchers[watch] = event.set
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
                if watch is None:
                    await self.lot.park()
                else:
                    await event.wait()


@asynccontextmanager
async def connect(url: str, **options: "Unpack[ConnectOptions]") -> AsyncIterator["Connection"]:
    """``async with amqp10.trio.connect(url) as conn:``: an open connection for the block.

    Options (``amqp10.ConnectOptions``), errors and defaults are those of
    ``amqp10.blocking.connect``. The connection's I/O runs in tasks of a nursery owned by this
    context manager; leaving the block closes the connection (CLOSE handshake, bounded by
    ``timeout``).
    """
    settings = client_options(url, **options)
    timeout = settings.timeout
    deadline = math.inf if timeout is None else trio.current_time() + timeout
    stream = await _open_stream(settings, deadline)
    engine = EngineConnection(settings.config)
    core = ClientCore(engine, str(settings.url))
    core.write_buffer_limit = settings.write_buffer_limit
    engine.open()
    connection = Connection(settings, core)

    def on_events(events: list[Event]) -> None:
        core.handle(events)
        connection._sync.changed()

    def on_lost(reason: str) -> None:
        core.transport_failed(reason)
        core.wake_all()
        connection._sync.changed()

    def on_written() -> None:
        if core.wrote():
            connection._sync.changed()

    pump = Pump(stream, engine, on_events, on_lost, on_written)
    core.unwritten = lambda: engine.bytes_to_send + pump.in_flight
    connection._attach_pump(pump)
    try:
        async with trio.open_nursery() as nursery:

            async def run_pump() -> None:
                await pump.run()
                core.finished = True
                core.wake_all()
                connection._sync.changed()

            nursery.start_soon(run_pump)
            try:
                remaining = None if timeout is None else max(0.0, deadline - trio.current_time())
                await connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {settings.url}")
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


def _ssl_cause(exc: BaseException) -> BaseException | None:
    """The ``ssl`` error under trio's wrapping, or ``None``; a TLS-less end of stream
    during the handshake counts as one (``trio.SSLStream`` reports it without a cause)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ssl.SSLError):
            return cause
        cause = cause.__cause__ or cause.__context__
    return None


class _FirstBytes(trio.abc.Stream):  # type: ignore[misc,unused-ignore]  # trio < 0.23 is untyped
    """A stream that notes the first bytes the peer sent, to explain a failed TLS handshake
    (a plain AMQP port answers a ClientHello with ``AMQP...``)."""

    def __init__(self, inner: trio.abc.Stream) -> None:
        self.inner = inner
        self.first: bytes | None = None

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        await self.inner.send_all(data)

    async def wait_send_all_might_not_block(self) -> None:
        await self.inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        data: bytes | bytearray = await self.inner.receive_some(max_bytes)
        if self.first is None and data:
            self.first = bytes(data[:8])
        return data

    async def aclose(self) -> None:
        await self.inner.aclose()


async def _open_stream(options: ClientOptions, deadline: float) -> trio.abc.Stream:
    url = options.url
    with trio.move_on_at(deadline) as scope:
        try:
            stream: trio.abc.Stream = await trio.open_tcp_stream(url.host, url.port)
        except OSError as exc:
            raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
        if options.ssl_context is None:
            return stream
        recorded = _FirstBytes(stream)
        tls = trio.SSLStream(recorded, options.ssl_context, server_hostname=url.host)
        try:
            await tls.do_handshake()
        except (trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            await trio.aclose_forcefully(stream)
            cause = _ssl_cause(exc)
            why = handshake_failure(cause, recorded.first) if cause is not None else describe_failure(exc)
            raise ConnectionClosedError(f"could not connect to {url}: {why}") from exc
        return tls
    assert scope.cancelled_caught
    raise Timeout(f"connecting to {url} did not complete within {options.timeout:g} s")


class Connection(ConnectionView, _Closable):
    """An AMQP connection for trio. Use ``async with amqp10.trio.connect(url) as conn``."""

    def __init__(self, options: ClientOptions, core: ClientCore) -> None:
        self._options = options
        self._core = core
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = trio.Lock()

    def _attach_pump(self, pump: Pump) -> None:
        self._pump = pump
        self._sync = _Async(self._core, pump, self._options.timeout)

    def open_session(self, *, timeout: float | None = None) -> "_Opening[Session]":
        """Begin a session (``await`` it, or ``async with`` it)."""

        async def opener() -> Session:
            return Session(self, await self._sync.call(_calls.open_session, self._core, timeout))

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
        await self._sync.call(_calls.close_connection, self._core, timeout)


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
        return Sender(self._connection, await self._sync.call(_calls.open_sender, self._record, address, timeout, options))

    async def _open_receiver(self, address: str | None, timeout: float | None, options: ReceiverOptions) -> "Receiver":
        return Receiver(self._connection, await self._sync.call(_calls.open_receiver, self._record, address, timeout, options))

    async def _open_requester(self, address: str, timeout: float | None) -> "Requester":
        return Requester(self._connection, await self._sync.call(_calls.open_requester, self._record, address, timeout))

    async def aclose(self, *, timeout: float | None = None) -> None:
        """End the session (and its links). Idempotent."""
        await self._sync.call(_calls.end_session, self._record, timeout)


class _Link(_Closable):
    def __init__(self, connection: Connection, record: LinkRecord) -> None:
        self._connection = connection
        self._sync = connection._sync
        self._record = record

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close the link (DETACH with closed=true)."""
        await self._sync.call(_calls.finish_link, self._record, closed=True, timeout=timeout)

    async def detach(self, *, timeout: float | None = None) -> None:
        """Detach without closing (a durable subscription survives)."""
        await self._sync.call(_calls.finish_link, self._record, closed=False, timeout=timeout)


class Sender(_Link, SenderView):
    """The sending end of a link; ``async with`` closes it on exit."""

    async def send(self, message: Message | Any, *, timeout: float | None = None) -> Any:
        """Send one message (see ``amqp10.blocking.Sender.send``).

        Cancellation-safe: if cancelled (or timed out) before any of the message went out it
        is withdrawn and never sent; after, its outcome is still tracked and settled.
        """
        return await self._sync.call(_calls.send, self._record, message, timeout)

    async def submit(self, message: Message | Any, *, timeout: float | None = None) -> "Tracker":
        """Queue one message and return a ``Tracker`` for its outcome without waiting for it
        (see ``amqp10.blocking.Sender.submit``): it waits only while the write buffer is
        over its limit. Cancellation-safe: a cancelled submit has queued nothing.
        """
        return Tracker(self._sync, self._record, await self._sync.call(_calls.submit, self._record, message, timeout))

    async def send_many(self, messages: Iterable[Message | Any], *, timeout: float | None = None, window: int | None = None) -> list[Any]:
        """Send ``messages`` keeping up to the link credit (at most ``window``) in flight and
        return their outcomes in order (see ``amqp10.blocking.Sender.send_many``).

        If cancelled, messages not yet on the wire are withdrawn; those sent keep being
        tracked and settled.
        """
        return await self._sync.call(_calls.send_many, self._record, messages, timeout, window)


class Tracker(TrackerView):
    """The fate of one message given to ``Sender.submit`` (Proton's ``Tracker``).

    ``settled``, ``outcome`` and ``remote_state`` read what is known now; ``await
    tracker.wait()`` until the outcome arrives.
    """

    __slots__ = ("_sync",)

    def __init__(self, sync: _Async, record: LinkRecord, delivery: EngineDelivery) -> None:
        super().__init__(record, delivery)
        self._sync = sync

    async def wait(self, timeout: float | None = None) -> Any:
        """Wait for the outcome and return it (see ``amqp10.blocking.Tracker.wait``); the
        task is woken only when this delivery changes (or the link or connection fails).
        Cancellation-safe: a cancelled or timed-out wait changes nothing.
        """
        return await self._sync.drive(_calls.track(self._record, self._delivery, timeout))


class Receiver(_Link, ReceiverView):
    """The receiving end of a link; ``async for`` receives until it closes."""

    async def receive(self, *, timeout: float | None = None) -> Delivery:
        """Wait for the next delivery (see ``amqp10.blocking.Receiver.receive``).

        Cancellation-safe: a cancelled receive has taken nothing; the delivery stays buffered
        for the next one.
        """
        return await self._sync.call(_calls.receive, self._record, timeout)

    def __aiter__(self) -> "Receiver":
        return self

    async def __anext__(self) -> Delivery:
        try:
            return await self.receive()
        except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
            if exc.condition is None:
                raise StopAsyncIteration from None
            raise

    def flow(self, count: int) -> None:
        """Grant ``count`` more credit (manual flow control)."""
        self._sync.run(lambda: self._record.add_credit(count))

    async def drain(self, *, timeout: float | None = None) -> list[Delivery]:
        """Drain the credit and return what has arrived (see ``amqp10.blocking.Receiver.drain``)."""
        return await self._sync.call(_calls.drain, self._record, timeout)


class Requester(RequesterView, _Closable):
    """Request/reply over a sender and a dynamic reply receiver (see
    ``amqp10.blocking.Requester``). Concurrent requests from several tasks are matched to
    their replies by correlation-id."""

    def __init__(self, connection: Connection, requests: Requests) -> None:
        self._sync = connection._sync
        self._requests = requests
        #: the sending link (to the address)
        self.sender = Sender(connection, requests.sender)
        #: the dynamic receiving link (for the replies)
        self.receiver = Receiver(connection, requests.receiver)

    async def request(self, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send a request and return its reply.

        Raises:
            Timeout: no reply in time. LinkDetachedError, ConnectionClosedError.
        """
        return await self._sync.call(_calls.request, self._requests, message, timeout)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close both links."""
        await self._sync.call(_calls.close_requester, self._requests, timeout)
