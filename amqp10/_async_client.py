"""The async client classes both async adapters share: Connection, Session, Sender, Receiver,
Requester, Tracker, written once for ``amqp10.trio`` and ``amqp10.asyncio``.

Owns: the user-facing async surface (the same as ``amqp10.blocking`` with ``await``,
``async with`` and ``async for``), each method one of ``amqp10._calls`` performed by the
connection's ``AsyncDriver``. What differs between the adapters is the driver (how a task
waits, drives a call, shields cleanup from cancellation) and how a connection opens, closes
and stops its I/O: those stay in ``amqp10.trio._client`` and ``amqp10.asyncio._client``,
which subclass ``AsyncDriver`` and ``Connection`` here. Must never: import trio or asyncio,
or do socket I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Awaitable, Callable, Concatenate, Generator, Generic, Iterable, ParamSpec, Protocol, TypeVar

from . import _calls, _settlement, _streaming, _transactions
from ._async_streams import IncomingStream, OutgoingStream, send_chunks
from ._async_transaction import Transaction
from ._api import ACK_DELAY, PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from ._async_redial import AsyncRedialer
from ._busy_poll import BusyPoll
from ._reconnect import OutageState, ReconnectSettings, in_doubt, retryable
from ._calls import Steps
from ._delivery import Delivery, Runner
from ._outcomes import DeliveryState, Outcome
from ._options import ClientOptions, ReceiverOptions, SenderOptions
from ._requests import Requests
from ._views import ConnectionView, ReceiverView, RequesterView, SenderView, TrackerView
from .codec.message import Message
from .codec.spec import Header, Properties
from .engine.connection import Connection as EngineConnection
from .engine.delivery import Delivery as EngineDelivery
from .engine.events import Event
from .errors import ConnectionClosedError, LinkDetachedError, SessionEndedError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "AsyncDriver", "start_connection", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "Transaction",
    "OutgoingStream", "IncomingStream",
]

_T = TypeVar("_T")
_P = ParamSpec("_P")
_R = TypeVar("_R", bound="_Closable | Transaction")
_S = TypeVar("_S", bound="_Closable")
_C = TypeVar("_C", bound="Connection")
_Q = TypeVar("_Q", bound="_Writing")


#: a pump's callbacks: on_events, on_lost, on_written
_Hooks = tuple[Callable[[list[Event]], None], Callable[[str], None], Callable[[], None]]


class _Pump(Protocol):
    """What the driver needs of an adapter's pump."""

    done: bool

    def wakeup(self) -> None: ...

    def kick(self) -> None: ...

    def flush_within(self, delay: float) -> None: ...


class _Writing(Protocol):
    """What ``start_connection`` needs of the pump it has an adapter make."""

    @property
    def in_flight(self) -> int: ...


class _Lock(Protocol):
    """What ``Connection.request`` needs of an adapter's lock (``trio.Lock``, ``asyncio.Lock``)."""

    async def __aenter__(self) -> Any: ...

    async def __aexit__(self, *exc_info: Any) -> Any: ...


class AsyncDriver:
    """Runs commands and drives ``_calls`` on one connection. An adapter subclasses it with
    its way to wait (``changed``, ``drive``, ``wait``) and to shield a cleanup from
    cancellation (``shielded``); running a command and performing a call are the same."""

    core: ClientCore
    pump: _Pump
    default_timeout: float | None
    #: whether a wait polls before it parks (``ConnectOptions.busy_poll``; off on accepted
    #: connections, whose waits are a server's)
    busy_poll: BusyPoll = BusyPoll(0.0)
    #: set once the connection may reconnect: calls failing in an outage wait and retry
    resilience: AsyncRedialer | None = None

    def run(self, fn: Callable[[], _T]) -> _T:
        """Run an engine command (we are on the event loop's thread), then get its output
        moving: written at once from this task when the connection is idle (``kick``)."""
        result = fn()
        self.pump.kick()
        return result

    def changed(self) -> None:
        """Events arrived: let every waiter re-evaluate its predicate."""
        raise NotImplementedError  # pragma: no cover

    async def call(self, steps: Callable[Concatenate[Runner, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Perform one of ``_calls``: run its commands, wait where it waits, return its result."""
        resilience = self.resilience
        if resilience is None:
            return await self.drive(steps(self.run, *args, **kwargs))
        return await resilience.retry(lambda: self.drive(steps(self.run, *args, **kwargs)), retryable(steps, args), in_doubt(steps, args))

    async def drive(self, steps: Steps[_T]) -> _T:
        """Wait for each ``Wait`` the call yields and send the value back (or throw the error in)."""
        raise NotImplementedError  # pragma: no cover

    async def shielded(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` to the end even if the task is cancelled meanwhile."""
        raise NotImplementedError  # pragma: no cover

    async def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, watch: object = None) -> _T:
        """Re-evaluate ``predicate`` whenever events arrive until it is not ``PENDING``."""
        raise NotImplementedError  # pragma: no cover

    def ready(self, predicate: Callable[[], "_T | Pending"]) -> "_T | Pending":
        """``predicate``'s value now, with its output moving: each look of a ``wait`` is one
        of these, and a call whose result is usually there already tries one first without
        setting up the wait (``_calls.take_buffered``)."""
        while True:
            result = predicate()
            core = self.core
            if core.output_pending:
                core.output_pending = False
                core.ack_delayed = False  # the writer's turn writes the accept too
                self.pump.wakeup()
            elif core.ack_delayed:
                # A reply's accept: it rides with the caller's next request, or goes out
                # within ACK_DELAY (no writer turn per call).
                core.ack_delayed = False
                self.pump.flush_within(ACK_DELAY)
            if result is PENDING and self.pump.done and not core.finished:
                core.finished = True
                continue
            return result


def start_connection(
    settings: ClientOptions,
    new_connection: Callable[[ClientOptions, ClientCore], _C],
    new_pump: Callable[[EngineConnection, Callable[[list[Event]], None], Callable[[str], None], Callable[[], None]], _Q],
) -> tuple[_C, _Q]:
    """The engine, core and ``Connection`` of a connection being opened, and the adapter's
    pump (``new_pump(engine, on_events, on_lost, on_written)``) over its open transport,
    wired together: events go to the core and wake the waiters. The adapter then gives the
    connection its driver (``_attach_pump``), runs the pump and waits for the OPEN.
    """
    engine = EngineConnection(settings.config)
    core = ClientCore(engine, str(settings.url))
    core.write_buffer_limit = settings.write_buffer_limit
    engine.open()
    connection = new_connection(settings, core)

    def hooks(engine: EngineConnection) -> _Hooks:
        # A pump's callbacks, for its own engine only: once a reconnect has given the core a
        # new engine, what the old pump still reports is about a connection already given up.
        def on_events(events: list[Event]) -> None:
            if engine is not core.engine:
                return
            core.handle(events)
            if core.finished:  # the peer closed: reconnecting (if on) begins now
                connection._lost()
            connection._sync.changed()

        def on_lost(reason: str) -> None:
            if engine is not core.engine:
                return
            core.transport_failed(reason)
            connection._lost()
            core.wake_all()
            connection._sync.changed()

        def on_written() -> None:
            if engine is core.engine and core.wrote():
                connection._sync.changed()

        return on_events, on_lost, on_written

    pump = new_pump(engine, *hooks(engine))
    core.unwritten = lambda: engine.bytes_to_send + pump.in_flight
    connection._hooks = hooks
    return connection, pump


class _Closable:
    """``async with`` support for everything with an ``aclose``: leaving the block closes it,
    shielded from cancellation."""

    _sync: AsyncDriver

    async def aclose(self) -> None:
        raise NotImplementedError  # pragma: no cover

    async def __aenter__(self: _S) -> _S:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._sync.shielded(self.aclose())


class _Opening(Generic[_R]):
    """What ``open_*`` returns: ``await`` it for the resource, or ``async with`` it to have
    the resource closed on exit (as leaving its own ``async with`` would)."""

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


class Connection(ConnectionView, _Closable):
    """An AMQP connection for an async adapter (each adapter subclasses it)."""

    def __init__(self, options: ClientOptions, core: ClientCore, lock: _Lock) -> None:
        self._options = options
        self._core = core
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = lock
        self._redialer: AsyncRedialer | None = None
        #: makes a pump's callbacks for its engine (``start_connection``); a reconnect's new
        #: pump gets its own
        self._hooks: Callable[[EngineConnection], _Hooks] | None = None

    def _enable_reconnect(self, settings: ReconnectSettings) -> None:
        """Reconnect per ``settings`` (``connect``'s options) once the connection is open."""
        self._core.follow_redirects = settings.follow_redirects
        self._redialer = AsyncRedialer(self, self._core, settings, self._options.url)  # type: ignore[arg-type]
        if settings.policy is not None:
            self._sync.resilience = self._redialer

    def _io_ended(self, pump: object = None) -> None:
        """The pump has finished: every waiter learns the connection is over (and, with
        reconnecting on, a reconnect begins). A pump a reconnect has replaced says nothing."""
        if pump is not None and pump is not self._sync.pump:
            return
        self._core.finished = True
        self._lost()
        self._core.wake_all()
        self._sync.changed()

    def _lost(self) -> None:
        """The connection is lost (the transport broke, or the pump ended): with reconnecting
        on, a reconnect begins (once per outage)."""
        redialer = self._redialer
        if redialer is not None:
            redialer.lost()
            if redialer.outage.state is OutageState.DOWN:
                self._sync.resilience = redialer

    def _changed(self) -> None:
        self._sync.changed()

    async def _wait_open(self, timeout: float | None) -> None:
        """Wait for the peer's OPEN (``connect``), following a redirect if it sends one."""
        core = self._core
        what = f"connecting to {self._options.url}"
        redialer = self._redialer
        if redialer is None:
            await self._sync.wait(core.opened_or_failed, timeout, what)
            return
        await redialer.retry(lambda: self._sync.wait(core.opened_or_failed, timeout, what), True)
        redialer.opened = True

    async def _wait(self, predicate: Callable[[], Any], timeout: float | None, what: str) -> Any:
        return await self._sync.wait(predicate, timeout, what)

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

    def transaction(self, *, timeout: float | None = None) -> "_Opening[Transaction]":
        """Declare a transaction on the default session (see ``Session.transaction``)."""
        return _Opening(lambda: self._default_session()._transaction(timeout))

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
        if self._redialer is not None:
            self._redialer.stopped = True
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

    def transaction(self, *, timeout: float | None = None) -> "_Opening[Transaction]":
        """Declare a transaction on this session (see ``amqp10.blocking.Session.transaction``):
        ``async with`` it to commit on success and roll back on error, or ``await`` it."""
        return _Opening(lambda: self._transaction(timeout))

    async def _transaction(self, timeout: float | None) -> "Transaction":
        return Transaction(self._sync, await self._sync.call(_transactions.declare, self._record, timeout))

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

    @property
    def recovered(self) -> "dict[bytes, Tracker]":
        """On a sender opened with ``unsettled=`` (a resumed link, spec 2.6.13): a ``Tracker``
        for each message of that map, by delivery-tag (``Tracker.tag`` of the old sender's
        trackers), once the peer's answer is in (``open_sender`` returns after it). Those
        the receiver had accepted (or rejected...) already carry that outcome; the others
        were sent again and their outcome arrives as usual. Empty for a plain attach."""
        return {tag: Tracker(self._sync, self._record, d) for tag, d in self._record.recovered.items()}

    async def send(self, message: Message | Any, *, timeout: float | None = None) -> "Outcome | None":
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

    async def send_many(
        self, messages: Iterable[Message | Any], *, timeout: float | None = None, window: int | None = None
    ) -> "list[Outcome | None]":
        """Send ``messages`` keeping up to the link credit (at most ``window``) in flight and
        return their outcomes in order (see ``amqp10.blocking.Sender.send_many``).

        If cancelled, messages not yet on the wire are withdrawn; those sent keep being
        tracked and settled.
        """
        return await self._sync.call(_calls.send_many, self._record, messages, timeout, window)

    async def send_stream(
        self,
        chunks: Any,
        *,
        length: int | None = None,
        properties: Properties | None = None,
        application_properties: dict[str, Any] | None = None,
        header: Header | None = None,
        message_annotations: dict[Any, Any] | None = None,
        timeout: float | None = None,
    ) -> "Outcome | None":
        """Send one message whose body comes from ``chunks`` (an async or plain iterable of
        bytes, or a binary file) without holding it whole (see
        ``amqp10.blocking.Sender.send_stream``). If cancelled, the message is aborted."""
        stream = await self.open_stream(
            length=length, properties=properties, application_properties=application_properties,
            header=header, message_annotations=message_annotations, timeout=timeout,
        )
        return await send_chunks(stream, chunks, timeout)

    async def open_stream(
        self,
        *,
        length: int | None = None,
        properties: Properties | None = None,
        application_properties: dict[str, Any] | None = None,
        header: Header | None = None,
        message_annotations: dict[Any, Any] | None = None,
        timeout: float | None = None,
    ) -> OutgoingStream:
        """Start a message whose body you ``await write(...)`` piece by piece, then
        ``await aclose()`` (see ``amqp10.blocking.Sender.open_stream``)."""
        head = _streaming.encode_head(
            header=header, message_annotations=message_annotations, properties=properties, application_properties=application_properties
        )
        return OutgoingStream(self._sync, await self._sync.call(_streaming.open_stream, self._record, head, length, timeout))


class Tracker(TrackerView):
    """The fate of one message given to ``Sender.submit`` (Proton's ``Tracker``).

    ``settled``, ``outcome`` and ``remote_state`` read what is known now; ``await
    tracker.wait()`` until the outcome arrives.
    """

    __slots__ = ("_sync",)

    def __init__(self, sync: AsyncDriver, record: LinkRecord, delivery: EngineDelivery) -> None:
        super().__init__(record, delivery)
        self._sync = sync

    async def wait(self, timeout: float | None = None) -> "Outcome | None":
        """Wait for the outcome and return it (see ``amqp10.blocking.Tracker.wait``); the
        task is woken only when this delivery changes (or the link or connection fails).
        Cancellation-safe: a cancelled or timed-out wait changes nothing.
        """
        resilience = self._sync.resilience
        if resilience is None:
            return await self._sync.drive(_calls.track(self._record, self._delivery, timeout))
        record = self._record
        return await resilience.retry(lambda: self._sync.drive(_calls.track(record, record.current(self._delivery), timeout)), True, record.at_most_once)

    def abort(self) -> None:
        """Abort the message if it is not sent whole yet (spec 2.6.14; see
        ``amqp10.blocking.Tracker.abort``). Does not wait.

        Raises:
            NotAbortableError: it is sent whole, or it was aborted already.
        """
        self._sync.run(lambda: _settlement.abort(self._record, self._delivery))


class Receiver(_Link, ReceiverView):
    """The receiving end of a link; ``async for`` receives until it closes."""

    async def receive(self, *, timeout: float | None = None) -> Delivery:
        """Wait for the next delivery (see ``amqp10.blocking.Receiver.receive``).

        Cancellation-safe: a cancelled receive has taken nothing; the delivery stays buffered
        for the next one.
        """
        sync = self._sync
        record = self._record
        if record.deliveries and sync.resilience is None:
            delivery = sync.ready(lambda: _calls.take_buffered(sync.run, record))
            if delivery is not PENDING:
                return delivery  # as a wait's first look returns it: with no checkpoint
        return await sync.call(_calls.receive, record, timeout)

    async def receive_stream(self, *, timeout: float | None = None) -> IncomingStream:
        """Wait for the next message on a receiver opened with ``streaming=True`` (see
        ``amqp10.blocking.Receiver.receive_stream``). Cancellation-safe: a cancelled call
        has taken nothing."""
        return IncomingStream(self._sync, await self._sync.call(_streaming.receive_stream, self._record, timeout))

    def __aiter__(self) -> "Receiver":
        return self

    async def __anext__(self) -> Delivery:
        try:
            return await self.receive()
        except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
            if exc.condition is None:
                raise StopAsyncIteration from None
            raise

    def flow(self, count: int, *, echo: bool = False) -> None:
        """Grant ``count`` more credit (manual flow control); ``echo=True`` asks the sender
        for its flow state at once (see ``amqp10.blocking.Receiver.flow``)."""
        self._sync.run(lambda: _settlement.grant(self._record, count, echo=echo))

    async def wait_settled(self, delivery: Delivery, *, timeout: float | None = None) -> "DeliveryState | None":
        """Wait until ``delivery`` is settled here (rcv-settle-mode ``second``: the sender
        settled after your outcome) and return its state (see
        ``amqp10.blocking.Receiver.wait_settled``). Cancellation-safe: nothing changes."""
        return await self._sync.drive(_settlement.wait_settled(self._record, delivery._delivery, timeout))

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
            RequestRefusedError: the request was rejected, released or modified (no reply
            will come), raised as soon as that outcome arrives.
        """
        return await self._sync.call(_calls.request, self._requests, message, timeout)

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close both links."""
        await self._sync.call(_calls.close_requester, self._requests, timeout)
