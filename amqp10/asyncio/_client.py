"""The asyncio client API: ``connect()`` and async Connection, Session, Sender, Receiver, Requester.

Owns: the asyncio face of ``amqp10._api``, the same surface as ``amqp10.trio`` (and so as
``amqp10.blocking``) with ``await``, ``async with`` and ``async for``. Commands change engine
state synchronously and wake the pump; waits park on futures that every batch of events
resolves (``_driver.park``, the asyncio twin of trio's ``ParkingLot``). The calls themselves
are ``amqp10._calls``, shared with the other adapters: this module only waits.

Cancellation (``task.cancel()``, ``asyncio.timeout``, ``wait_for``): a cancelled ``receive``
has taken nothing (a delivery is taken from the buffer and returned with no ``await`` in
between); a cancelled ``send`` either withdrew its message before any of it went out, or
leaves it in flight with its outcome still tracked and settled on arrival
(``Sender.unsettled``). Either way the connection stays usable. A ``_calls`` wait marked
``Wait.cleanup`` (undoing after a failure), ``aclose`` on leaving an ``async with`` and the
closing of a connection run *uncancellable* (``_driver.uninterrupted``: asyncio has no
shielded scopes, so a cancellation arriving meanwhile is held back and raised once they are
done), as trio runs them in a shielded cancel scope. Must never: do socket I/O outside the
pump.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Generator, Generic, Iterable, ParamSpec, TypeVar

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
from ._driver import Holding, Pump, describe_failure, park, shielded, uninterrupted, unpark_all

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
        await shielded(self.aclose())


class _Opening(Generic[_R]):
    """What ``open_*`` and ``connect`` return: ``await`` it for the resource, or
    ``async with`` it to have the resource closed on exit."""

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
            await self._resource.__aexit__(*exc_info)


class _Async:
    """Runs commands and drives ``_calls`` on one connection: the asyncio way to wait (parked
    on a future that every batch of events resolves) is all this adapter adds."""

    def __init__(self, core: ClientCore, pump: Pump, default_timeout: float | None) -> None:
        self.core = core
        self.pump = pump
        self.default_timeout = default_timeout
        self.lot: set[asyncio.Future[None]] = set()

    def run(self, fn: Callable[[], _T]) -> _T:
        """Run an engine command (we are on the event loop's thread), then wake the pump."""
        result = fn()
        self.pump.wakeup()
        return result

    def changed(self) -> None:
        """Events arrived: let every waiter re-evaluate its predicate."""
        unpark_all(self.lot)

    async def call(self, steps: Callable[Concatenate[Runner, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Perform one of ``_calls``: run its commands, wait where it waits, return its result."""
        return await self.drive(steps(self.run, *args, **kwargs))

    async def drive(self, steps: Steps[_T]) -> _T:
        """Wait for each ``Wait`` the call yields and send the value back (or throw the error,
        cancellation included, in, so the call can undo what it started).

        A ``Wait.cleanup`` wait runs to its end even if the task is cancelled meanwhile; the
        cancellation is then raised from the call once the call has finished (trio: a
        shielded cancel scope, whose cancellation arrives at the next checkpoint).
        """
        loop = asyncio.get_running_loop()
        held_back = False
        try:
            wait = next(steps)
            while True:
                try:
                    limit = wait.limit(loop.time(), self.default_timeout)
                    if wait.cleanup:
                        done, interrupted = await uninterrupted(self.wait(wait.predicate, limit, wait.what, wait.watch))
                        held_back = held_back or interrupted
                        value = done.result()
                    else:
                        value = await self.wait(wait.predicate, limit, wait.what, wait.watch)
                except BaseException as exc:
                    wait = steps.throw(exc)
                else:
                    wait = steps.send(value)
        except StopIteration as stop:
            if held_back:
                raise asyncio.CancelledError()
            result: _T = stop.value
            return result
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            if held_back:
                raise asyncio.CancelledError() from exc
            raise

    async def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, watch: object = None) -> _T:
        """Re-evaluate ``predicate`` on every batch of events until it is not ``PENDING``.

        With a ``watch`` key (``Wait.watch``) the task parks on its own future, resolved only
        when the core reports a change to that key or a failure, instead of on the lot every
        batch of events resolves (a key another task already watches uses the lot), as the
        trio adapter does.
        A value is returned with no ``await`` after the predicate produced it, so a cancelled
        wait has taken nothing.

        Raises:
            Timeout: not within ``timeout`` seconds (``None``: wait forever).
        """
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        watchers = self.core.watchers
        if watch is None or watch in watchers:
            return await self._wait_on(self.lot, predicate, deadline, timeout, what)
        own: set[asyncio.Future[None]] = set()
        watchers[watch] = lambda: unpark_all(own)
        try:
            return await self._wait_on(own, predicate, deadline, timeout, what)
        finally:
            watchers.pop(watch, None)

    async def _wait_on(
        self, lot: set["asyncio.Future[None]"], predicate: Callable[[], "_T | Pending"], deadline: float | None, timeout: float | None, what: str
    ) -> _T:
        loop = asyncio.get_running_loop()
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
            if deadline is not None and loop.time() >= deadline:
                raise Timeout(f"{what} did not complete within {timeout:g} s")
            await park(lot, deadline)


def connect(url: str, **options: "Unpack[ConnectOptions]") -> "_Opening[Connection]":
    """``async with amqp10.asyncio.connect(url) as conn:``: an open connection for the block
    (as ``amqp10.trio.connect``); ``conn = await amqp10.asyncio.connect(url)`` also works,
    and then ``await conn.aclose()`` ends it.

    Options (``amqp10.ConnectOptions``), errors and defaults are those of
    ``amqp10.blocking.connect``. The connection's I/O runs in a task of the running loop;
    leaving the block closes the connection (CLOSE handshake, bounded by ``timeout``, or 5 s
    when there is none) and stops that task.
    """
    settings = client_options(url, **options)
    return _Opening(lambda: _open(settings))


async def _open(settings: ClientOptions) -> "Connection":
    loop = asyncio.get_running_loop()
    timeout = settings.timeout
    deadline = None if timeout is None else loop.time() + timeout
    transport = await _open_transport(settings, deadline)
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

    pump = Pump(transport, engine, on_events, on_lost, on_written)
    core.unwritten = lambda: engine.bytes_to_send + pump.in_flight
    connection._attach_pump(pump)

    async def run_pump() -> None:
        try:
            await pump.run()
        finally:
            core.finished = True
            core.wake_all()
            connection._sync.changed()

    connection._pump_task = asyncio.ensure_future(run_pump())
    try:
        remaining = None if deadline is None else max(0.0, deadline - loop.time())
        await connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {settings.url}")
    except BaseException:
        await shielded(connection._shutdown())
        raise
    return connection


async def _open_transport(options: ClientOptions, deadline: float | None) -> asyncio.Transport:
    url = options.url
    context = options.ssl_context
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout_at(deadline):
            try:
                transport, _ = await loop.create_connection(
                    Holding, url.host, url.port, ssl=context, server_hostname=None if context is None else url.host
                )
            except ssl.SSLError as exc:
                raise ConnectionClosedError(f"could not connect to {url}: {describe_failure(exc)}") from exc
            except OSError as exc:
                raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
    except TimeoutError:
        raise Timeout(f"connecting to {url} did not complete within {options.timeout:g} s") from None
    assert isinstance(transport, asyncio.Transport)
    return transport


class Connection(ConnectionView, _Closable):
    """An AMQP connection for asyncio. Use ``async with amqp10.asyncio.connect(url) as conn``."""

    def __init__(self, options: ClientOptions, core: ClientCore) -> None:
        self._options = options
        self._core = core
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = asyncio.Lock()
        self._pump_task: asyncio.Task[None] | None = None

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
        """Close the connection (CLOSE handshake) and stop its I/O task. Idempotent."""
        try:
            await self._sync.call(_calls.close_connection, self._core, timeout)
        finally:
            await shielded(self._stop_pump())

    async def _stop_pump(self) -> None:
        task = self._pump_task
        if task is None:
            return
        if not self._core.finished:  # the handshake did not finish: stop the I/O anyway
            task.cancel()
        await asyncio.wait((task,))

    async def _shutdown(self) -> None:
        """Leaving ``async with`` (trio: the end of ``connect``'s block): close, bounded by
        the connection's timeout (or 5 s), whatever the state."""
        timeout = self._options.timeout
        try:
            await self.aclose(timeout=5 if timeout is None else timeout)
        except AMQPError:
            pass

    async def __aexit__(self, *exc_info: object) -> None:
        await shielded(self._shutdown())


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
