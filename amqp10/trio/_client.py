"""The trio client API: ``connect()`` and async Connection, Session, Sender, Receiver, Requester.

Owns: the trio side of the async client: the classes themselves (the same surface as
``amqp10.blocking`` with ``await``, ``async with`` and ``async for``) are written once for
trio and asyncio in ``amqp10._async_client``; this module adds how a task waits (``_Async``),
how ``connect`` opens the stream and runs the pump in a nursery, and the ``Connection`` that
uses them. Commands change engine state synchronously and wake the pump; waits park on a ``ParkingLot`` that every batch of events unparks, except those
that watch one thing (a message's outcome, a receiver's next delivery), which park on their
own ``trio.Event`` set only when that thing changes.

Cancellation: a cancelled ``receive`` has taken nothing (a delivery is taken from the buffer
and returned with no checkpoint in between); a cancelled ``send`` either withdrew its message
before any of it went out, or leaves it in flight with its outcome still tracked and settled
on arrival (``Sender.unsettled``). Either way the connection stays usable. Must never: do
socket I/O outside the pump.
"""

from __future__ import annotations

import dataclasses
import math
import ssl
import sys
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, TypeVar

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .. import _async_client as _shared
from .._api import PENDING, ClientCore, Pending
from .._async_client import AsyncDriver, start_connection
from .._async_client import Receiver as Receiver
from .._async_client import Requester as Requester
from .._async_client import Sender as Sender
from .._async_client import Session as Session
from .._async_client import Tracker as Tracker
from .._async_client import Transaction as Transaction
from .._busy_poll import BusyPoll
from .._calls import Steps
from .._options import ClientOptions, client_options
from .._reconnect import split_options
from .._resume import attached_again, rebind
from ..engine.connection import Connection as EngineConnection
from ..url import URL
from ..errors import AMQPError, ConnectionClosedError, Timeout
from ..tls import handshake_failure
from ._driver import Pump, describe_failure

if sys.version_info < (3, 11):  # pragma: no cover - trio depends on the backport there
    from exceptiongroup import BaseExceptionGroup

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ConnectOptions

__all__ = ["connect", "Connection", "Session", "Sender", "Receiver", "Requester", "Tracker", "Transaction"]

_T = TypeVar("_T")


class _Async(AsyncDriver):
    """Runs commands and drives ``_calls`` on one connection: the trio way to wait (parked
    on a ``ParkingLot`` that every batch of events unparks) is all this adapter adds."""

    pump: Pump  # the trio pump (``read_now`` for busy polling), not only the shared protocol

    def __init__(self, core: ClientCore, pump: Pump, default_timeout: float | None, busy_poll: float = 0.0) -> None:
        self.core = core
        self.pump = pump
        self.default_timeout = default_timeout
        self.lot = trio.lowlevel.ParkingLot()
        if busy_poll > 0:
            self.busy_poll = BusyPoll(busy_poll)

    def changed(self) -> None:
        """Events arrived: let every waiter re-evaluate its predicate."""
        self.lot.unpark_all()

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

    async def shielded(self, awaitable: Awaitable[_T]) -> _T:
        """Await ``awaitable`` in a shielded cancel scope."""
        # CancelScope.__exit__ is typed as possibly swallowing the exception, so the return
        # sits after the block; a shielded scope is never cancelled, so ``result`` is set.
        with trio.CancelScope(shield=True):
            result = await awaitable
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
        result, event = self._evaluate(watch, predicate)
        if result is not PENDING:
            return result  # no scope at all when it is there already (a buffered delivery)
        started = trio.current_time()
        if started >= deadline:
            raise Timeout(f"{what} did not complete within {timeout:g} s")
        busy_poll = self.busy_poll
        # Busy polling (``_busy_poll``): this task reads the socket itself without waiting
        # (``Pump.read_now``: the answer is taken in without a scheduler round through the
        # reader task), and a checkpoint with it still runnable lets the other tasks run and
        # trio look at its sockets without sleeping. No cancel scope while polling: the
        # deadline is checked here, and an answer that comes meanwhile costs no scope.
        poll_until = min(busy_poll.until(started), deadline)
        while trio.current_time() < poll_until:
            if not self.pump.read_now():
                await trio.lowlevel.checkpoint()
            if event is not None and not event.is_set():
                continue  # nothing about what we watch: no need to look
            result, event = self._evaluate(watch, predicate)
            if result is not PENDING:
                busy_poll.record(trio.current_time() - started)
                return result
        if trio.current_time() < deadline:
            # One cancel scope for the rest of the wait, not one per wake-up: entering and
            # leaving a scope with a deadline costs trio a deadline-heap update each time.
            with trio.CancelScope(deadline=deadline):
                while True:
                    if event is None:
                        await self.lot.park()
                    else:
                        await event.wait()
                    result, event = self._evaluate(watch, predicate)
                    if result is not PENDING:
                        busy_poll.record(trio.current_time() - started)
                        return result
        # The deadline passed while polling or parked: one last look, then the timeout.
        result, _ = self._evaluate(watch, predicate)
        if result is not PENDING:
            busy_poll.record(trio.current_time() - started)
            return result
        busy_poll.record(None)
        raise Timeout(f"{what} did not complete within {timeout:g} s")

    def _evaluate(self, watch: object, predicate: Callable[[], "_T | Pending"]) -> "tuple[_T | Pending, trio.Event | None]":
        """The predicate's value, and the event a change to ``watch`` will set (registered
        before the predicate runs, so no change after its look is missed)."""
        event = None
        if watch is not None:
            event = trio.Event()
            self.core.watchers[watch] = event.set
        return self.ready(predicate), event


@asynccontextmanager
async def connect(url: str, **options: "Unpack[ConnectOptions]") -> AsyncIterator["Connection"]:
    """``async with amqp10.trio.connect(url) as conn:``: an open connection for the block.

    Options (``amqp10.ConnectOptions``), errors and defaults are those of
    ``amqp10.blocking.connect``. The connection's I/O runs in tasks of a nursery owned by this
    context manager; leaving the block closes the connection (CLOSE handshake, bounded by
    ``timeout``).
    """
    reconnect, rest = split_options(options)
    settings = client_options(url, **rest)
    timeout = settings.timeout
    deadline = math.inf if timeout is None else trio.current_time() + timeout
    stream = await _open_stream(settings, deadline)
    connection, pump = start_connection(settings, Connection, lambda engine, *hooks: Pump(stream, engine, *hooks))
    connection._attach_pump(pump)
    connection._enable_reconnect(reconnect)
    try:
        async with trio.open_nursery() as nursery:
            connection._nursery = nursery
            nursery.start_soon(connection._run_pump, pump)
            try:
                remaining = None if timeout is None else max(0.0, deadline - trio.current_time())
                await connection._wait_open(remaining)
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


class Connection(_shared.Connection):
    """An AMQP connection for trio. Use ``async with amqp10.trio.connect(url) as conn``."""

    _sync: _Async

    def __init__(self, options: ClientOptions, core: ClientCore) -> None:
        super().__init__(options, core, trio.Lock())

    def _attach_pump(self, pump: Pump) -> None:
        self._pump = pump
        self._sync = _Async(self._core, pump, self._options.timeout, self._options.busy_poll)

    _nursery: Any  # the trio.Nursery of connect()

    async def _run_pump(self, pump: Pump) -> None:
        await pump.run()
        self._io_ended(pump)

    # -- reconnecting (``_async_redial.Dialer``) ----------------------------------------------
    def _now(self) -> float:
        return float(trio.current_time())

    async def _sleep(self, seconds: float) -> None:
        await trio.sleep(seconds)

    def _spawn(self, task: Callable[[], Awaitable[None]]) -> None:
        self._nursery.start_soon(task)

    async def _dial(self, url: URL) -> None:
        options = dataclasses.replace(self._options, url=url)
        timeout = options.timeout
        stream = await _open_stream(options, math.inf if timeout is None else trio.current_time() + timeout)
        engine = EngineConnection(options.config)
        engine.open()
        core = self._core
        if core.closing:
            await trio.aclose_forcefully(stream)
            raise ConnectionClosedError("the connection was closed")
        rebind(core, engine, str(url))
        assert self._hooks is not None
        pump = Pump(stream, engine, *self._hooks(engine))
        core.unwritten = lambda: engine.bytes_to_send + pump.in_flight
        self._pump = self._sync.pump = pump
        self._nursery.start_soon(self._run_pump, pump)
        await self._sync.wait(lambda: attached_again(core), timeout, f"reconnecting to {url}")
