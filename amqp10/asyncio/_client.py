"""The asyncio client API: ``connect()`` and async Connection, Session, Sender, Receiver, Requester.

Owns: the asyncio side of the async client: the classes themselves (the same surface as
``amqp10.trio``, and so as ``amqp10.blocking``, with ``await``, ``async with`` and
``async for``) are written once for both in ``amqp10._async_client``; this module adds how a
task waits (``_Async``), how ``connect`` opens the transport and runs the pump task, and the
``Connection`` that closes and stops it. Commands change engine state synchronously and
wake the pump; waits park on futures that every batch of events resolves (``_driver.park``,
the asyncio twin of trio's ``ParkingLot``). The calls themselves are ``amqp10._calls``,
shared with the other adapters.

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
import dataclasses
import ssl
from typing import TYPE_CHECKING, Awaitable, Callable, TypeVar

from .. import _async_client as _shared
from .._api import PENDING, ClientCore, Pending
from .._async_client import AsyncDriver, _Opening, start_connection
from .._async_client import Receiver as Receiver
from .._async_client import Requester as Requester
from .._async_client import Sender as Sender
from .._async_client import Session as Session
from .._async_client import Tracker as Tracker
from .._async_client import Transaction as Transaction
from .._busy_poll import BusyPoll
from .._calls import Steps
from .._options import ClientOptions, client_options
from .._reconnect import ReconnectSettings, split_options
from .._resume import attached_again, rebind
from ..engine.connection import Connection as EngineConnection
from ..url import URL
from ..errors import AMQPError, ConnectionClosedError, Timeout
from ..tls import handshake_failure
from ._driver import Holding, Pump, park, shielded, uninterrupted, unpark_all

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ConnectOptions

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "Transaction"]

_T = TypeVar("_T")


class _Async(AsyncDriver):
    """Runs commands and drives ``_calls`` on one connection: the asyncio way to wait (parked
    on a future that every batch of events resolves) is all this adapter adds."""

    pump: Pump  # the asyncio pump (``read_now`` for busy polling), not only the shared protocol

    def __init__(self, core: ClientCore, pump: Pump, default_timeout: float | None, busy_poll: float = 0.0) -> None:
        self.core = core
        self.pump = pump
        self.default_timeout = default_timeout
        self.lot: set[asyncio.Future[None]] = set()
        if busy_poll > 0:
            self.busy_poll = BusyPoll(busy_poll)

    def changed(self) -> None:
        """Events arrived: let every waiter re-evaluate its predicate."""
        unpark_all(self.lot)

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

    async def shielded(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` to the end, a cancellation meanwhile held back (``_driver.shielded``)."""
        return await shielded(awaitable)

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
        result = self.ready(predicate)
        if result is not PENDING:
            return result  # there already: not a wait, nothing for the polling rule to learn
        busy_poll = self.busy_poll
        started = loop.time()
        # Busy polling (``_busy_poll``): this task reads the socket itself without waiting
        # (``Pump.read_now``), and yielding to the loop with a callback ready lets the other
        # tasks run and the loop look at its sockets without sleeping.
        poll_until = busy_poll.until(started)
        news: asyncio.Future[None] | None = None  # resolved by a change while polling
        while True:
            now = loop.time()
            if deadline is not None and now >= deadline:
                busy_poll.record(None)
                raise Timeout(f"{what} did not complete within {timeout:g} s")
            if now < poll_until:
                if news is None:
                    news = loop.create_future()
                    lot.add(news)
                if not self.pump.read_now():
                    await asyncio.sleep(0)
                if not news.done():
                    continue  # nothing about what we wait for: no need to look
                news = None
            else:
                if news is not None:
                    lot.discard(news)
                    news = None
                await park(lot, deadline)
            result = self.ready(predicate)
            if result is not PENDING:
                busy_poll.record(loop.time() - started)
                return result


def connect(url: str, **options: "Unpack[ConnectOptions]") -> "_Opening[Connection]":
    """``async with amqp10.asyncio.connect(url) as conn:``: an open connection for the block
    (as ``amqp10.trio.connect``); ``conn = await amqp10.asyncio.connect(url)`` also works,
    and then ``await conn.aclose()`` ends it.

    Options (``amqp10.ConnectOptions``), errors and defaults are those of
    ``amqp10.blocking.connect``. The connection's I/O runs in a task of the running loop;
    leaving the block closes the connection (CLOSE handshake, bounded by ``timeout``, or 5 s
    when there is none) and stops that task.
    """
    reconnect, rest = split_options(options)
    settings = client_options(url, **rest)
    return _Opening(lambda: _open(settings, reconnect))


async def _open(settings: ClientOptions, reconnect: ReconnectSettings) -> "Connection":
    loop = asyncio.get_running_loop()
    timeout = settings.timeout
    deadline = None if timeout is None else loop.time() + timeout
    transport = await _open_transport(settings, deadline)
    connection, pump = start_connection(settings, Connection, lambda engine, *hooks: Pump(transport, engine, *hooks))
    connection._attach_pump(pump)
    connection._enable_reconnect(reconnect)
    connection._pump_task = asyncio.ensure_future(connection._run_pump(pump))
    try:
        remaining = None if deadline is None else max(0.0, deadline - loop.time())
        await connection._wait_open(remaining)
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
                raise ConnectionClosedError(f"could not connect to {url}: {handshake_failure(exc, None)}") from exc
            except (ConnectionResetError, ConnectionAbortedError) as exc:
                if context is None:
                    raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
                # asyncio hides the peer's first bytes; a peer that hangs up on a ClientHello
                # is most often a plain AMQP port (amqps:// pointed at 5672).
                why = handshake_failure("the peer closed the connection during the handshake", None)
                raise ConnectionClosedError(f"could not connect to {url}: {why}") from exc
            except OSError as exc:
                raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
    except TimeoutError:
        raise Timeout(f"connecting to {url} did not complete within {options.timeout:g} s") from None
    assert isinstance(transport, asyncio.Transport)
    return transport


class Connection(_shared.Connection):
    """An AMQP connection for asyncio. Use ``async with amqp10.asyncio.connect(url) as conn``."""

    _sync: _Async

    def __init__(self, options: ClientOptions, core: ClientCore) -> None:
        super().__init__(options, core, asyncio.Lock())
        self._pump_task: asyncio.Task[None] | None = None

    def _attach_pump(self, pump: Pump) -> None:
        self._pump = pump
        self._sync = _Async(self._core, pump, self._options.timeout, self._options.busy_poll)

    async def _run_pump(self, pump: Pump) -> None:
        try:
            await pump.run()
        finally:
            self._io_ended(pump)

    # -- reconnecting (``_async_redial.Dialer``) ----------------------------------------------
    _redial_task: "asyncio.Task[None] | None" = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    async def _sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def _spawn(self, task: Callable[[], Awaitable[None]]) -> None:
        self._redial_task = asyncio.ensure_future(task())

    async def _dial(self, url: URL) -> None:
        options = dataclasses.replace(self._options, url=url)
        loop = asyncio.get_running_loop()
        timeout = options.timeout
        transport = await _open_transport(options, None if timeout is None else loop.time() + timeout)
        engine = EngineConnection(options.config)
        engine.open()
        core = self._core
        if core.closing:
            transport.abort()
            raise ConnectionClosedError("the connection was closed")
        rebind(core, engine, str(url))
        assert self._hooks is not None
        pump = Pump(transport, engine, *self._hooks(engine))
        core.unwritten = lambda: engine.bytes_to_send + pump.in_flight
        self._pump = self._sync.pump = pump
        self._pump_task = asyncio.ensure_future(self._run_pump(pump))
        await self._sync.wait(lambda: attached_again(core), timeout, f"reconnecting to {url}")

    async def aclose(self, *, timeout: float | None = None) -> None:
        """Close the connection (CLOSE handshake) and stop its I/O task. Idempotent."""
        try:
            await super().aclose(timeout=timeout)
        finally:
            await shielded(self._stop_pump())

    async def _stop_pump(self) -> None:
        redial = self._redial_task
        if redial is not None and not redial.done():
            redial.cancel()
            await asyncio.wait((redial,))
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
