"""The blocking client API: ``connect()`` and its Connection, Session, Sender, Receiver, Requester.

Owns: the synchronous face of ``amqp10._api``: each call runs its engine command under the
connection's lock, writes its output (itself when the socket is idle, else by waking the I/O
thread), and waits on a condition of that lock for its predicate, with a timeout that raises
``amqp10.Timeout``: the reactor's, notified after every batch of events, or, for a wait that
watches one thing (a message's outcome, a receiver's next delivery), the thread's own,
notified only when that thing changes. Every object here is safe to use from several
threads at once. A wait that watches one thing reads the socket itself while it waits (through
the reactor's ``Channel``, under the lock), so its reply needs no hand-off from the I/O thread.
Must never: decide protocol meaning (``_api`` does).
"""

from __future__ import annotations

import select
import socket
import threading
import time
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Concatenate, Iterable, Iterator, ParamSpec, TypeVar

from .. import _calls, _settlement, _streaming, _transactions
from .._api import ACK_DELAY, PENDING, ClientCore, LinkRecord, Pending, SessionRecord
from .._busy_poll import BusyPoll
from .._calls import Steps
from .._delivery import Delivery, Runner
from .._outcomes import DeliveryState, Outcome
from .._options import ClientOptions, ReceiverOptions, SenderOptions, client_options
from .._requests import Requests
from .._views import ConnectionView, ReceiverView, RequesterView, SenderView, TrackerView
from ..codec.message import Message
from ..codec.spec import Header, Properties
from ..engine.connection import Connection as EngineConnection
from ..engine.delivery import Delivery as EngineDelivery
from ..engine.events import Event
from ..errors import ConnectionClosedError, LinkDetachedError, SessionEndedError, Timeout
from .._reconnect import ReconnectSettings, in_doubt, retryable, split_options
from ._reactor import Channel, Reactor, poll_then_wait
from ._redial import Redialer
from ._streams import IncomingStream, OutgoingStream
from ._transaction import Transaction
from ._transport import Transport, dial

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ConnectOptions

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "Transaction", "OutgoingStream", "IncomingStream"]

_T = TypeVar("_T")
_P = ParamSpec("_P")


class _Sync:
    """Runs commands and drives ``_calls`` on one connection's reactor: the blocking way to
    wait (on the reactor lock's condition) is all this adapter adds to them."""

    def __init__(self, reactor: Reactor, core: ClientCore, default_timeout: float | None, busy_poll: float = 0.0) -> None:
        self.reactor = reactor
        self.core = core
        self.default_timeout = default_timeout
        self._local = threading.local()  # each thread's own Condition for watching waits
        #: the connection's socket, once served: commands write their output through it
        self.channel: Channel | None = None
        #: set once the connection may reconnect: calls that fail during an outage wait for
        #: it to end and are performed again (``_redial``)
        self.resilience: Redialer | None = None
        #: waits on this connection that rely on the I/O thread to read (``_follow``)
        self._followers = 0
        #: how a leading wait waits for the socket (``_lead``): polls first while answers
        #: come that fast
        self._poller = _BusyPoller(busy_poll)

    def run(self, fn: Callable[[], _T]) -> _T:
        """Run an engine command under the lock and get its output moving (a ``Runner``)."""
        with self.reactor.lock:
            result = fn()
            self.kick()
        return result

    def kick(self) -> None:
        """Get queued engine output moving (lock held).

        When the socket is idle this thread writes it at once: a message then leaves
        without waiting for the I/O thread to be scheduled, which is most of a request's
        latency and a thread switch per send. The I/O thread is woken only when it has to
        act: the socket did not take everything (it must watch for writability), the engine
        finished (the socket must close), or the engine's next deadline is earlier than the
        one the I/O thread sleeps until. A command that queued nothing wakes nobody.
        """
        reactor = self.reactor
        channel = self.channel
        engine = self.core.engine
        if channel is None or channel.closed or engine.finished or reactor.in_reactor_thread:
            reactor.wakeup()
            return
        if not engine.has_data_to_send:
            return  # the command queued nothing: the I/O thread has nothing new to do
        if channel.transport.wants_write:
            reactor.wakeup()  # the socket is full: the I/O thread writes when it drains
            return
        deadline = channel.service(time.monotonic())
        planned = reactor.planned_wake
        if channel.closed or channel.transport.wants_write or (deadline is not None and (planned is None or deadline < planned)):
            reactor.wakeup()

    def call(self, steps: Callable[Concatenate[Runner, _P], Steps[_T]], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Perform one of ``_calls``: run its commands, wait where it waits, return its result."""
        resilience = self.resilience
        if resilience is None:
            return self.drive(steps(self.run, *args, **kwargs))
        return resilience.retry(lambda: self.drive(steps(self.run, *args, **kwargs)), retryable(steps, args), in_doubt(steps, args))

    def drive(self, steps: Steps[_T]) -> _T:
        """Wait for each ``Wait`` the call yields and send the value back (or throw the error
        in, so the call can undo what it started)."""
        try:
            wait = next(steps)
            while True:
                try:
                    value = self.wait(wait.predicate, wait.limit(time.monotonic(), self.default_timeout), wait.what, wait.watch)
                except BaseException as exc:
                    wait = steps.throw(exc)
                else:
                    wait = steps.send(value)
        except StopIteration as stop:
            result: _T = stop.value
            return result

    def _condition(self) -> threading.Condition:
        cond: threading.Condition | None = getattr(self._local, "cond", None)
        if cond is None:
            cond = self._local.cond = threading.Condition(self.reactor.lock)
        return cond

    def wait(self, predicate: Callable[[], "_T | Pending"], timeout: float | None, what: str, watch: object = None) -> _T:
        """Evaluate ``predicate`` each time events arrive until it is not ``PENDING``.

        Args:
            timeout: seconds; ``None`` waits forever.
            watch: a ``Wait.watch`` key: wait on this thread's own condition (same lock),
                notified only when the core reports a change to that key or a failure,
                instead of the reactor's, which every batch of events notifies. A key
                another thread already watches falls back to the reactor's.

        Raises:
            Timeout: it did not happen in time.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        reactor = self.reactor
        watchers = self.core.watchers
        with reactor.lock:
            if watch is None or watch in watchers:
                return self._follow(reactor.changed, predicate, deadline, timeout, what)
            channel = self.channel
            if _LEAD and channel is not None and not channel.closed and not channel.leaders and not reactor.in_reactor_thread:
                waker = self._waker()
                watchers[watch] = waker.notify
                try:
                    return self._lead(channel, waker, predicate, deadline, timeout, what)
                finally:
                    del watchers[watch]
            cond = self._condition()
            watchers[watch] = cond.notify
            try:
                return self._follow(cond, predicate, deadline, timeout, what)
            finally:
                del watchers[watch]

    def _follow(
        self, cond: threading.Condition, predicate: Callable[[], "_T | Pending"], deadline: float | None, timeout: float | None, what: str
    ) -> _T:
        # A wait that does not read the socket itself relies on the I/O thread reading it:
        # it ends the linger after a leading wait (``_lead``) now, and while it is counted
        # here a leading wait that ends hands reading back at once (lock held).
        self._followers += 1
        try:
            channel = self.channel
            if channel is not None and not channel.leaders:
                self.reactor.watch(channel)
            return self._wait_on(cond, predicate, deadline, timeout, what)
        finally:
            self._followers -= 1

    def _waker(self) -> _Waker:
        waker: _Waker | None = getattr(self._local, "waker", None)
        if waker is None:
            waker = self._local.waker = _Waker()
        return waker

    def _lead(
        self, channel: Channel, waker: _Waker, predicate: Callable[[], "_T | Pending"], deadline: float | None, timeout: float | None, what: str
    ) -> _T:
        """Wait by reading the socket in this thread ("leader/follower"): when the reply or
        delivery this thread waits for arrives, this thread takes it in, with no hand-off
        from the I/O thread (a thread switch, most of a request's latency). While it waits in
        ``select`` the I/O thread does not watch the socket for reading (``Channel.leaders``;
        it still writes, ticks and watches for writability), so the reply wakes one thread,
        not two racing for the lock. One thread leads at a time (``wait``): the others follow,
        woken through their own conditions when what they watch changes; with every waiting
        thread in ``select`` on the socket, each read woke them all to race for the lock (a
        hundred threads each sending one message). The I/O thread's delivering it instead (or a
        failure) wakes this thread through its own socketpair, never lost between a check
        and ``select``. Lock held on entry and exit."""
        try:
            return self._lead_loop(channel, waker, predicate, deadline, timeout, what)
        finally:
            if waker.leading:
                waker.leading = False
                channel.leaders -= 1
                if channel.leaders or channel.closed or self._followers:
                    self.reactor.watch(channel)
                else:
                    # The I/O thread takes up reading again by ACK_DELAY, not at once: a caller
                    # making requests in a loop leads again well before, and the socket's
                    # selector registration would otherwise be dropped and remade every call
                    # (two epoll_ctl calls, issue 9). Bytes coming meanwhile wait in the
                    # kernel for the next leader, a wait that does not lead (it resumes
                    # reading at once: ``_follow``) or that turn; the reply's
                    # delayed accept already has the I/O thread turn by then, so this adds
                    # no wake-up.
                    self.reactor.service_by(channel, time.monotonic() + ACK_DELAY)

    def _lead_loop(
        self, channel: Channel, waker: _Waker, predicate: Callable[[], "_T | Pending"], deadline: float | None, timeout: float | None, what: str
    ) -> _T:
        reactor = self.reactor
        lock = reactor.lock
        sock = channel.transport.sock
        while True:
            result = self._evaluate(predicate)
            if result is not PENDING:
                return result
            if reactor.stopped:
                self.core.finished = True
                self.core.check()
                raise ConnectionClosedError(f"the connection to {self.core.peer} is closed")
            if channel.closed:
                # The socket is gone: wait as a follower (the reactor notifies its close).
                return self._wait_on(reactor.changed, predicate, deadline, timeout, what)
            slice_ = _LEAD_SLICE
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise Timeout(f"{what} did not complete within {timeout:g} s")
                slice_ = min(slice_, remaining)
            if not waker.leading:
                # Reading it ourselves from now on: the I/O thread stops watching it for
                # reading until we are done (``Channel.leaders``). Not before the first wait:
                # a reply already in needs no selector change.
                waker.leading = True
                channel.leaders += 1
                reactor.watch(channel)
            waker.waiting = True
            lock.release()
            try:
                ready = self._poller.wait([sock, waker.r], slice_)
            finally:
                lock.acquire()
                waker.waiting = False
            if waker.r in ready:
                waker.drain()
            if sock in ready and not channel.closed:
                channel.on_readable()
                self.kick()  # what the input made the engine say (flow, a close) goes out

    def ready(self, predicate: Callable[[], "_T | Pending"]) -> "_T | Pending":
        """``predicate``'s value now, as the first look of a ``wait`` would take it (its
        output moving the same way), without setting up the wait: a call's fast path when
        what it waits for is usually there already (``_calls.take_buffered``)."""
        with self.reactor.lock:
            return self._evaluate(predicate)

    def _evaluate(self, predicate: Callable[[], "_T | Pending"]) -> "_T | Pending":
        result = predicate()
        core = self.core
        if core.output_pending:
            # A predicate's by-products (accepting what it handed out, topping up
            # credit): written at once like a command's, unless more deliveries are
            # buffered, when the I/O thread batches them (one write for many accepts,
            # not one per receive).
            core.output_pending = False
            core.ack_delayed = False  # whatever writes that output writes the accept too
            if core.output_deferrable:
                core.output_deferrable = False
                self.reactor.wakeup()
            else:
                self.kick()
        elif core.ack_delayed:
            # A reply's accept: the caller's next request (whose write takes it along) is
            # likely to come first; the I/O thread writes it by ACK_DELAY otherwise.
            core.ack_delayed = False
            channel = self.channel
            if channel is None or channel.closed or self.reactor.in_reactor_thread:
                self.kick()
            else:
                self.reactor.service_by(channel, time.monotonic() + ACK_DELAY)
        return result

    def _wait_on(
        self, cond: threading.Condition, predicate: Callable[[], "_T | Pending"], deadline: float | None, timeout: float | None, what: str
    ) -> _T:
        reactor = self.reactor
        while True:
            result = self._evaluate(predicate)
            if result is not PENDING:
                return result
            if reactor.stopped:
                self.core.finished = True
                self.core.check()
                raise ConnectionClosedError(f"the connection to {self.core.peer} is closed")
            if deadline is None:
                cond.wait()
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout(f"{what} did not complete within {timeout:g} s")
            cond.wait(remaining)


#: whether a watching wait reads the socket itself (off: it parks until the I/O thread hands
#: the news over; kept switchable for benchmarking the two)
_LEAD = True
#: longest a leading wait sleeps in ``select`` before looking again (a socket the I/O thread
#: closed meanwhile is noticed by then)
_LEAD_SLICE = 0.05


class _BusyPoller:
    """How a leading wait waits for its sockets: polls them (``select`` with no timeout,
    which releases the GIL each look) while the connection's ``BusyPoll`` says so, then
    sleeps in ``select``. Only a leading wait polls: one thread per connection."""

    def __init__(self, budget: float) -> None:
        self.policy = BusyPoll(budget)

    def wait(self, socks: list[Any], timeout: float) -> list[Any]:
        """The sockets of ``socks`` readable within ``timeout`` seconds (``[]``: none, or one
        was closed meanwhile). Called without the reactor lock."""
        return poll_then_wait(self.policy, lambda limit: _select(socks, limit), timeout)


def _select(socks: list[Any], timeout: float | None) -> list[Any]:
    try:
        return select.select(socks, (), (), timeout)[0]
    except (OSError, ValueError):  # the I/O thread closed the socket meanwhile
        return []


class _Waker:
    """A thread's own socketpair: how the I/O thread wakes a wait that sleeps in ``select``."""

    def __init__(self) -> None:
        self.r, self._w = socket.socketpair()
        self.r.setblocking(False)
        self._w.setblocking(False)
        #: the owning thread is in (or about to enter) ``select``; only then is a byte sent
        self.waiting = False
        #: the owning thread counts in its channel's ``leaders`` (reads the socket itself)
        self.leading = False

    def notify(self) -> None:
        """Wake the owner if it sleeps (called with the reactor lock held)."""
        if self.waiting:
            try:
                self._w.send(b"\0")
            except (BlockingIOError, InterruptedError):
                pass  # a wake-up byte is already pending

    def __del__(self) -> None:  # the thread or connection that made it is gone
        self.r.close()
        self._w.close()

    def drain(self) -> None:
        try:
            while self.r.recv(64):
                pass
        except (BlockingIOError, InterruptedError):
            pass


def connect(url: str, **options: "Unpack[ConnectOptions]") -> "Connection":
    """Open an AMQP connection and return it once the peer's OPEN has arrived.

    One I/O thread per connection moves bytes and ticks the engine, so heartbeats keep
    flowing however long your code is busy elsewhere.

    Args:
        url: ``amqp[s]://[user[:password]@]host[:port][/address]``; the address part is
            ignored here (pass addresses to ``open_sender``/``open_receiver``).
        **options: see ``amqp10.ConnectOptions``: ``container_id``, ``username``,
            ``password``, ``sasl_mechanisms``, ``allow_insecure_plain``, ``ssl_context``,
            ``hostname``, ``idle_timeout``, ``max_frame_size``, ``channel_max``,
            ``properties``, ``offered_capabilities``, ``desired_capabilities``,
            ``write_buffer_limit`` and ``timeout`` (default 30 s: for connecting, and the
            default limit of every later call that waits for the peer but ``receive``).

    Returns:
        The open ``Connection`` (a context manager that closes it).

    Raises:
        ConnectionClosedError: TCP or TLS failed (a certificate that does not verify, a host
            name that does not match), or the peer closed the connection at once.
        SASLError: authentication failed or was refused by policy.
        Timeout: no answer within ``timeout``.
        ValueError: a malformed URL or option. TypeError: an unknown option.
    """
    settings, rest = split_options(options)
    return Connection._open(client_options(url, **rest), settings)


class Connection(ConnectionView):
    """A blocking AMQP connection. Use ``connect()`` to make one.

    Links opened directly on the connection share one session, begun on first use; open
    more sessions with ``open_session``. Closing the connection ends them all.
    """

    def __init__(self, options: ClientOptions, reactor: Reactor, core: ClientCore) -> None:
        self._options = options
        self._reactor = reactor
        self._core = core
        self._sync = _Sync(reactor, core, options.timeout, options.busy_poll)
        self._requesters: dict[str, Requester] = {}
        self._requesters_lock = threading.Lock()
        self._redialer: Redialer | None = None

    @classmethod
    def _open(cls, options: ClientOptions, settings: ReconnectSettings | None = None) -> "Connection":
        url = options.url
        started = time.monotonic()
        transport = dial(url, options.ssl_context, options.timeout)
        engine = EngineConnection(options.config)
        core = ClientCore(engine, str(url))
        core.write_buffer_limit = options.write_buffer_limit
        core.unwritten = lambda: engine.bytes_to_send + transport.buffered
        engine.open()
        reactor = Reactor(f"amqp10 {url}", stop_when_idle=True)
        connection = cls(options, reactor, core)

        def on_events(channel: Channel, events: list[Event]) -> None:
            if channel is not connection._sync.channel:
                return
            core.handle(events)
            if core.finished and redialer is not None:  # the peer closed: reconnecting begins now
                redialer.on_lost()
            reactor.changed.notify_all()

        def on_closed(channel: Channel, reason: str | None) -> None:
            if channel is not connection._sync.channel:
                return  # replaced by a reconnect: its engine is not the core's any more
            if reason is not None:
                core.transport_failed(reason)
            core.finished = True
            if redialer is not None:
                redialer.on_lost()
            core.wake_all()
            reactor.changed.notify_all()

        def on_written(channel: Channel) -> None:
            if core.wrote():
                reactor.changed.notify_all()

        def new_channel(transport: Transport, engine: EngineConnection) -> Channel:
            return Channel(reactor, transport, engine=engine, on_events=on_events, on_closed=on_closed, on_written=on_written)

        redialer = None
        if settings is not None:
            core.follow_redirects = settings.follow_redirects
            redialer = connection._redialer = Redialer(options, settings, reactor, core, connection._sync, new_channel)
            if settings.policy is not None:
                connection._sync.resilience = redialer
        channel = new_channel(transport, engine)
        reactor.add_channel(channel)
        connection._sync.channel = channel
        reactor.start()
        remaining = None if options.timeout is None else max(0.0, options.timeout - (time.monotonic() - started))
        try:
            if redialer is None:
                connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {url}")
            else:  # a redirect is followed (within the timeout)
                redialer.retry(lambda: connection._sync.wait(core.opened_or_failed, remaining, f"connecting to {url}"), True)
                redialer.opened = True
        except BaseException:
            if redialer is not None:
                redialer.stop()
            reactor.stop()
            reactor.join(5)
            raise
        return connection

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open_session(self, *, timeout: float | None = None) -> "Session":
        """Begin a new session and wait for the peer's answer.

        Raises:
            SessionEndedError: the peer refused it. ConnectionClosedError, Timeout.
        """
        return Session(self, self._sync.call(_calls.open_session, self._core, timeout))

    def _default_session(self) -> "Session":
        return Session(self, self._sync.run(self._core.session_for_links))

    def open_sender(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[SenderOptions]") -> "Sender":
        """Open a sender on the connection's default session (see ``Session.open_sender``)."""
        return self._default_session().open_sender(address, timeout=timeout, **options)

    def open_receiver(self, address: str | None = None, *, timeout: float | None = None, **options: "Unpack[ReceiverOptions]") -> "Receiver":
        """Open a receiver on the connection's default session (see ``Session.open_receiver``)."""
        return self._default_session().open_receiver(address, timeout=timeout, **options)

    def open_requester(self, address: str, *, timeout: float | None = None) -> "Requester":
        """Open a request/reply helper for ``address`` (see ``Requester``)."""
        return self._default_session().open_requester(address, timeout=timeout)

    def transaction(self, *, timeout: float | None = None) -> "Transaction":
        """Declare a transaction on the default session (see ``Session.transaction``)."""
        return self._default_session().transaction(timeout=timeout)

    def request(self, address: str, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send ``message`` to ``address`` and return the reply correlated with it.

        The first request to an address opens a ``Requester`` that later requests reuse.

        Raises:
            Timeout: no reply in time. LinkDetachedError: the peer refused the address.
            RequestRefusedError: the request was rejected, released or modified.
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
        if self._redialer is not None:
            self._redialer.stop()
        try:
            self._sync.call(_calls.close_connection, self._core, timeout)
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
        return Sender(self._connection, self._sync.call(_calls.open_sender, self._record, address, timeout, options))

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
        return Receiver(self._connection, self._sync.call(_calls.open_receiver, self._record, address, timeout, options))

    def open_requester(self, address: str, *, timeout: float | None = None) -> "Requester":
        """Open a sender to ``address`` and a dynamic receiver for its replies."""
        return Requester(self._connection, self._sync.call(_calls.open_requester, self._record, address, timeout))

    def transaction(self, *, timeout: float | None = None) -> "Transaction":
        """Declare a transaction (spec 4.3) on this session and wait for its id; use it
        with ``with`` to commit on success and roll back on error (see ``Transaction``).
        The session's link to the peer's coordinator is attached on first use.

        Raises:
            TransactionError: the peer has no coordinator or refused the declare.
            Timeout, SessionEndedError, ConnectionClosedError.
        """
        return Transaction(self._sync, self._sync.call(_transactions.declare, self._record, timeout))

    def close(self, *, timeout: float | None = None) -> None:
        """End the session (and with it its links). Idempotent."""
        self._sync.call(_calls.end_session, self._record, timeout)


class _Link:
    def __init__(self, connection: Connection, record: LinkRecord) -> None:
        self._connection = connection
        self._sync = connection._sync
        self._record = record

    def close(self, *, timeout: float | None = None) -> None:
        """Close the link (DETACH with closed=true: the peer may discard the node's state)."""
        self._sync.call(_calls.finish_link, self._record, closed=True, timeout=timeout)

    def detach(self, *, timeout: float | None = None) -> None:
        """Detach without closing: a durable subscription survives to be re-attached by name."""
        self._sync.call(_calls.finish_link, self._record, closed=False, timeout=timeout)

    def _read_engine(self, read: Callable[[], _T]) -> _T:
        return self._sync.run(read)  # under the connection's lock: the I/O thread may be at work


class Sender(_Link, SenderView):
    """The sending end of a link."""

    def __enter__(self) -> "Sender":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def recovered(self) -> "dict[bytes, Tracker]":
        """On a sender opened with ``unsettled=`` (a resumed link, spec 2.6.13): a ``Tracker``
        for each message of that map, by delivery-tag (``Tracker.tag`` of the old sender's
        trackers), once the peer's answer is in (``open_sender`` returns after it). Those
        the receiver had accepted (or rejected...) already carry that outcome; the others
        were sent again and their outcome arrives as usual. Empty for a plain attach."""
        return {tag: Tracker(self._sync, self._record, d) for tag, d in self._record.recovered.items()}

    def send(self, message: Message | Any, *, timeout: float | None = None) -> "Outcome | None":
        """Send one message; with at-least-once, wait for the receiver's outcome.

        Args:
            message: a ``Message`` (anything else becomes ``Message(body=it)``).
            timeout: seconds to wait for room in the write buffer, credit and (at-least-once)
                the outcome; default: the connection's.

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
        return self._sync.call(_calls.send, self._record, message, timeout)

    def submit(self, message: Message | Any, *, timeout: float | None = None) -> "Tracker":
        """Queue one message and return at once with a ``Tracker`` for its outcome.

        Waits only while the connection's write buffer is over ``write_buffer_limit``; the
        message goes out as soon as the receiver's credit allows. Submit many, then wait on
        their trackers: one thread keeps as many messages in flight as you like (see also
        ``send_many``).

        Args:
            message: a ``Message`` (anything else becomes ``Message(body=it)``).
            timeout: seconds to wait for room in the write buffer; default: the connection's.

        Raises:
            Timeout: no room in time (nothing was queued).
            LinkDetachedError, SessionEndedError, ConnectionClosedError.
            ValueError: an anonymous sender got a message without ``properties.to``.
        """
        return Tracker(self._sync, self._record, self._sync.call(_calls.submit, self._record, message, timeout))

    def send_many(
        self, messages: Iterable[Message | Any], *, timeout: float | None = None, window: int | None = None
    ) -> "list[Outcome | None]":
        """Send ``messages`` in order, keeping up to the link credit of them in flight, and
        return what ``send`` would have returned for each (the outcomes; at-most-once
        ``None``s), in the same order.

        Args:
            messages: any iterable; it is consumed as credit allows, not all at once.
            timeout: the longest to wait for any one step (room, credit, the oldest
                outcome); default: the connection's.
            window: at most this many messages without a known outcome at a time (``None``:
                as many as the link credit allows).

        Raises:
            Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError: messages
                not yet on the wire are withdrawn; those sent keep being tracked and settled.
            ValueError: ``window`` < 1, or an anonymous sender got a message without ``to``.
        """
        return self._sync.call(_calls.send_many, self._record, messages, timeout, window)

    def send_stream(
        self,
        chunks: "Iterable[bytes | bytearray | memoryview] | BinaryIO",
        *,
        length: int | None = None,
        properties: Properties | None = None,
        application_properties: dict[str, Any] | None = None,
        header: Header | None = None,
        message_annotations: dict[Any, Any] | None = None,
        timeout: float | None = None,
    ) -> "Outcome | None":
        """Send one message whose body comes from ``chunks`` (an iterable of bytes, or a
        binary file, read in 64 KiB pieces), without holding it whole: its bytes go out in
        frames as credit and the receiver's window allow. See docs/streaming.md.

        Args:
            chunks: the body's bytes, in order.
            length: the body's total size, when known: it then goes out as one data section
                (what brokers handle best); without it each chunk is a data section.
            properties, application_properties, header, message_annotations: the sections
                before the body.
            timeout: the longest to wait for any one step (room, the outcome).

        Returns:
            What ``send`` returns: the outcome (a receiver may give it before the end, and
            the rest of ``chunks`` is then not read).

        Raises:
            ValueError: the chunks did not add up to ``length`` (the message was aborted).
            Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError: the message
                is aborted.
        """
        head = _streaming.encode_head(
            header=header, message_annotations=message_annotations, properties=properties, application_properties=application_properties
        )
        return self._sync.call(_streaming.send_stream, self._record, _streaming.chunks_of(chunks), head, length, timeout)

    def open_stream(
        self,
        *,
        length: int | None = None,
        properties: Properties | None = None,
        application_properties: dict[str, Any] | None = None,
        header: Header | None = None,
        message_annotations: dict[Any, Any] | None = None,
        timeout: float | None = None,
    ) -> OutgoingStream:
        """Start a message whose body you ``write`` piece by piece, then ``close`` (see
        ``send_stream`` for the arguments). Other messages on this sender wait until it is
        closed or aborted.

        Raises:
            Timeout: no room in the write buffer in time. LinkDetachedError, ...
        """
        head = _streaming.encode_head(
            header=header, message_annotations=message_annotations, properties=properties, application_properties=application_properties
        )
        return OutgoingStream(self._sync, self._sync.call(_streaming.open_stream, self._record, head, length, timeout))


class Tracker(TrackerView):
    """The fate of one message given to ``Sender.submit`` (Proton's ``Tracker``).

    ``settled``, ``outcome`` and ``remote_state`` read what is known now; ``wait`` blocks
    until the outcome arrives. Safe to use from any thread.
    """

    __slots__ = ("_sync",)

    def __init__(self, sync: "_Sync", record: LinkRecord, delivery: "EngineDelivery") -> None:
        super().__init__(record, delivery)
        self._sync = sync

    def wait(self, timeout: float | None = None) -> "Outcome | None":
        """Wait until the outcome is known and return it (what ``Sender.send`` returns:
        ``Accepted()``, ``Rejected(...)``, ...; at-most-once ``None`` once written).

        The waiting thread is woken only when this delivery changes (or the link or
        connection fails), however many others wait.

        Args:
            timeout: seconds; default: the connection's. A timed-out wait changes nothing:
                the message stays in flight and you may wait again.

        Raises:
            Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError.
        """
        resilience = self._sync.resilience
        if resilience is None:
            return self._sync.drive(_calls.track(self._record, self._delivery, timeout))
        record = self._record
        return resilience.retry(lambda: self._sync.drive(_calls.track(record, record.current(self._delivery), timeout)), True, record.at_most_once)

    def abort(self) -> None:
        """Abort the message if it is not sent whole yet (spec 2.6.14): still waiting for
        credit, it is dropped; partly sent (a large message over several frames), a TRANSFER
        with ``aborted=true`` ends it and the receiver discards it. No outcome will come:
        ``wait`` returns ``None`` and ``aborted`` is true.

        Raises:
            NotAbortableError: it is sent whole (its outcome is still on its way), or it
                was aborted already. LinkDetachedError, ConnectionClosedError.
        """
        self._sync.run(lambda: _settlement.abort(self._record, self._delivery))


class Receiver(_Link, ReceiverView):
    """The receiving end of a link. Iterate over it to receive until it closes."""

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def receive(self, *, timeout: float | None = None) -> Delivery:
        """Wait for the next delivery.

        Args:
            timeout: seconds; ``None`` waits forever; ``0`` takes only what has arrived.

        Raises:
            Timeout: nothing arrived in time.
            LinkDetachedError / SessionEndedError / ConnectionClosedError: the link ended
                (after every delivery that had arrived was handed out).
        """
        sync = self._sync
        record = self._record
        if record.deliveries and sync.resilience is None:
            delivery = sync.ready(lambda: _calls.take_buffered(sync.run, record))
            if delivery is not PENDING:
                return delivery
        return sync.call(_calls.receive, record, timeout)

    def receive_stream(self, *, timeout: float | None = None) -> IncomingStream:
        """Wait for the next message on a receiver opened with ``streaming=True``; it is
        returned once the sections before its body are in, and its body is read from it as
        it arrives (see docs/streaming.md).

        Args:
            timeout: seconds; ``None`` waits forever.

        Raises:
            LocalProtocolError: the receiver was not opened with ``streaming=True``.
            Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError.
        """
        return IncomingStream(self._sync, self._sync.call(_streaming.receive_stream, self._record, timeout))

    def __iter__(self) -> Iterator[Delivery]:
        """Receive until the link or connection is closed cleanly; errors are raised."""
        while True:
            try:
                yield self.receive()
            except (LinkDetachedError, SessionEndedError, ConnectionClosedError) as exc:
                if exc.condition is None:
                    return
                raise

    def flow(self, count: int, *, echo: bool = False) -> None:
        """Grant ``count`` more credit (for ``credit=0``, manual flow control).

        ``echo=True`` asks the sender to answer at once with its flow state (spec 2.7.4),
        which updates ``available`` (its count of messages waiting); ``flow(0, echo=True)``
        only asks.
        """
        self._sync.run(lambda: _settlement.grant(self._record, count, echo=echo))

    def wait_settled(self, delivery: Delivery, *, timeout: float | None = None) -> "DeliveryState | None":
        """Wait until ``delivery`` is settled here and return the state it was settled with.

        With ``rcv_settle_mode="second"`` an outcome (``delivery.accept()`` ...) goes out
        unsettled; the sender settles once it has it, and that settles the delivery here
        (spec 2.6.12): after this returns the sender has forgotten the message, so it will
        not be redelivered. In mode ``first`` the outcome settled it already.

        Raises:
            Timeout: not settled in time (nothing changed: wait again).
            LinkDetachedError / SessionEndedError / ConnectionClosedError: the link ended first.
        """
        return self._sync.drive(_settlement.wait_settled(self._record, delivery._delivery, timeout))

    def drain(self, *, timeout: float | None = None) -> list[Delivery]:
        """Ask the sender to use all credit now or give it back, wait for its answer, and
        return every delivery that has arrived (spec 2.6.7 drain).

        Raises:
            Timeout: the sender did not answer in time; the receiver stays usable (its
                prefetch credit is granted again; a late answer is harmless).
        """
        return self._sync.call(_calls.drain, self._record, timeout)


class Requester(RequesterView):
    """Request/reply over a sender to one address and a dynamic receiver for the replies.

    Each ``request`` sets ``message-id`` (unique, unless given) and ``reply-to``, sends, and
    waits for the reply whose ``correlation-id`` matches. Safe to use from several threads:
    replies are matched to their waiting request whatever the order they arrive in.
    """

    def __init__(self, connection: Connection, requests: Requests) -> None:
        self._sync = connection._sync
        self._requests = requests
        #: the sending link (to the address)
        self.sender = Sender(connection, requests.sender)
        #: the dynamic receiving link (for the replies)
        self.receiver = Receiver(connection, requests.receiver)

    def __enter__(self) -> "Requester":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(self, message: Message | Any, *, timeout: float | None = None) -> Message:
        """Send a request and return its reply.

        Raises:
            Timeout: no reply in time (a late reply is dropped).
            RequestRefusedError: the request was rejected, released or modified (no reply
            will come), raised as soon as that outcome arrives.
            LinkDetachedError, ConnectionClosedError: the links ended.
        """
        return self._sync.call(_calls.request, self._requests, message, timeout)

    def close(self, *, timeout: float | None = None) -> None:
        """Close both links."""
        self._sync.call(_calls.close_requester, self._requests, timeout)
