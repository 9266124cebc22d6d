"""One scenario, every adapter: a thin async face over ``amqp10.blocking``, ``amqp10.trio``
and ``amqp10.asyncio``.

The interop matrix writes each scenario once, as an ``async`` function, and runs it on each
adapter under ``trio.run``. With ``Adapter.TRIO`` every call awaits the real trio API; with
``Adapter.ASYNCIO`` trio runs as a *guest* of an asyncio loop, on its one thread, and every call
awaits the real asyncio API as an asyncio task; with ``Adapter.BLOCKING`` every call is the
blocking API called directly (it blocks the trio thread, which is fine: nothing else of ours
runs on it). Work that must overlap (a receiver draining a queue while senders fill it, two
subscribers) goes through ``together(adapter)``: trio tasks for trio and asyncio, one OS thread
each for blocking (each running its part under its own ``trio.run``).

Servers: ``serve_broker`` runs amqp10's embedded broker (``amqp10.peer``) and ``serve_handler``
any ``amqp10.Handler`` on ``amqp10.listen`` (blocking), ``amqp10.trio.serve`` or
``amqp10.asyncio.start_server``.

Every waiting call is bounded: ``DEFAULT_TIMEOUT`` unless the caller says otherwise. This module
only forwards; it decides nothing about AMQP.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Delivery, Handler
from amqp10.peer import Broker
from amqp10.peer.server import serve_asyncio, serve_trio, start

__all__ = [
    "DEFAULT_TIMEOUT",
    "Adapter",
    "Conn",
    "Snd",
    "Rcv",
    "Served",
    "connect",
    "serve_broker",
    "serve_handler",
    "together",
    "run_scenario",
    "unique",
]

#: Seconds any single call may wait for the peer unless told otherwise.
DEFAULT_TIMEOUT = 15.0

_T = TypeVar("_T")


class Adapter(str, enum.Enum):
    """Which amqp10 adapter a cell exercises."""

    BLOCKING = "blocking"
    TRIO = "trio"
    ASYNCIO = "asyncio"


def run_scenario(adapter: Adapter, scenario: Callable[..., Awaitable[None]], *args: Any, limit: float = 120.0) -> None:
    """Run ``scenario(adapter, *args)`` under ``trio.run`` (for asyncio: as the guest of an
    asyncio loop), failing after ``limit`` seconds (a blocking call cannot be interrupted, but
    each has its own timeout)."""

    async def main() -> None:
        with trio.fail_after(limit):
            await scenario(adapter, *args)

    if adapter is not Adapter.ASYNCIO:
        trio.run(main)
        return

    async def host() -> None:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Any] = loop.create_future()
        trio.lowlevel.start_guest_run(
            main, run_sync_soon_threadsafe=loop.call_soon_threadsafe, done_callback=done.set_result,
            host_uses_signal_set_wakeup_fd=True,
        )
        (await done).unwrap()

    asyncio.run(host())


async def _on_asyncio(awaitable: Awaitable[_T]) -> _T:
    """Await an ``amqp10.asyncio`` awaitable from trio code running as asyncio's guest: it
    runs as an asyncio task; cancelling the trio side cancels it."""
    task = asyncio.ensure_future(awaitable)
    token = trio.lowlevel.current_trio_token()
    finished = trio.Event()
    task.add_done_callback(lambda _: token.run_sync_soon(finished.set))
    try:
        await finished.wait()
    except BaseException:
        task.cancel()
        raise
    return task.result()


async def _call(adapter: Adapter, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``method(*args, **kwargs)``: called (blocking) or awaited (trio, asyncio)."""
    if adapter is Adapter.BLOCKING:
        return method(*args, **kwargs)
    if adapter is Adapter.ASYNCIO:
        return await _on_asyncio(method(*args, **kwargs))
    return await method(*args, **kwargs)


# -- client side -----------------------------------------------------------------------------------

class _Link:
    def __init__(self, adapter: Adapter, raw: Any) -> None:
        self.adapter = adapter
        self.raw = raw

    @property
    def address(self) -> str | None:
        return self.raw.address  # type: ignore[no-any-return]

    @property
    def remote_source(self) -> Any:
        return self.raw.remote_source

    @property
    def remote_target(self) -> Any:
        return self.raw.remote_target

    @property
    def closed(self) -> bool:
        return self.raw.closed  # type: ignore[no-any-return]

    async def close(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        await _call(self.adapter, self.raw.close if self.adapter is Adapter.BLOCKING else self.raw.aclose, timeout=timeout)


class Snd(_Link):
    """A sender, either adapter."""

    @property
    def credit(self) -> int:
        return self.raw.credit  # type: ignore[no-any-return]

    @property
    def unsettled(self) -> int:
        return self.raw.unsettled  # type: ignore[no-any-return]

    async def send(self, message: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return await _call(self.adapter, self.raw.send, message, timeout=timeout)

    async def send_all(self, messages: Iterable[Any], *, window: int, timeout: float = DEFAULT_TIMEOUT) -> list[Any]:
        """Send every message with up to ``window`` sends in flight at once (each waits for its
        own outcome); return the outcomes in message order."""
        numbered = list(enumerate(messages))
        outcomes: list[Any] = [None] * len(numbered)
        if self.adapter is Adapter.BLOCKING:
            def one(item: tuple[int, Any]) -> None:
                outcomes[item[0]] = self.raw.send(item[1], timeout=timeout)

            with ThreadPoolExecutor(max_workers=window, thread_name_prefix="interop-send") as pool:
                for _ in pool.map(one, numbered):
                    pass
            return outcomes
        feed = iter(numbered)

        async def worker() -> None:
            for index, message in feed:
                outcomes[index] = await _call(self.adapter, self.raw.send, message, timeout=timeout)

        async with trio.open_nursery() as nursery:
            for _ in range(window):
                nursery.start_soon(worker)
        return outcomes


class Rcv(_Link):
    """A receiver, either adapter."""

    @property
    def credit(self) -> int:
        return self.raw.credit  # type: ignore[no-any-return]

    @property
    def queued(self) -> int:
        return self.raw.queued  # type: ignore[no-any-return]

    async def receive(self, timeout: float = DEFAULT_TIMEOUT) -> Delivery:
        return await _call(self.adapter, self.raw.receive, timeout=timeout)  # type: ignore[no-any-return]

    async def receive_n(self, count: int, timeout: float = DEFAULT_TIMEOUT) -> list[Delivery]:
        """Exactly ``count`` deliveries (each may take up to ``timeout``), not settled."""
        return [await self.receive(timeout) for _ in range(count)]

    async def nothing_within(self, seconds: float) -> Delivery | None:
        """``None`` when nothing arrives within ``seconds``, else the unexpected delivery."""
        try:
            return await self.receive(seconds)
        except amqp10.Timeout:
            return None

    def flow(self, count: int) -> None:
        self.raw.flow(count)

    async def drain(self, timeout: float = DEFAULT_TIMEOUT) -> list[Delivery]:
        return await _call(self.adapter, self.raw.drain, timeout=timeout)  # type: ignore[no-any-return]


class Conn:
    """A connection (or a session, through ``session()``), either adapter."""

    def __init__(self, adapter: Adapter, raw: Any, owner: Any = None) -> None:
        self.adapter = adapter
        self.raw = raw  # the Connection, or a Session for session()
        self._owner = owner if owner is not None else raw  # the Connection

    @property
    def remote_container_id(self) -> str | None:
        return self._owner.remote_container_id  # type: ignore[no-any-return]

    @property
    def remote_offered_capabilities(self) -> list[str]:
        return [str(c) for c in (self._owner.remote_offered_capabilities or ())]

    @property
    def remote_properties(self) -> Any:
        return self._owner.remote_properties

    @property
    def closed(self) -> bool:
        return self._owner.closed  # type: ignore[no-any-return]

    async def sender(self, address: str | None, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> Snd:
        return Snd(self.adapter, await _call(self.adapter, self.raw.open_sender, address, timeout=timeout, **options))

    async def receiver(self, address: str | None, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> Rcv:
        return Rcv(self.adapter, await _call(self.adapter, self.raw.open_receiver, address, timeout=timeout, **options))

    async def session(self, timeout: float = DEFAULT_TIMEOUT) -> Conn:
        """A new session, with the same ``sender``/``receiver`` methods."""
        return Conn(self.adapter, await _call(self.adapter, self._owner.open_session, timeout=timeout), self._owner)

    async def request(self, address: str, message: Any, timeout: float = DEFAULT_TIMEOUT) -> Any:
        return await _call(self.adapter, self._owner.request, address, message, timeout=timeout)


@asynccontextmanager
async def connect(adapter: Adapter, url: str, *, timeout: float = DEFAULT_TIMEOUT, **options: Any) -> AsyncIterator[Conn]:
    """An open connection for the block, closed on exit (CLOSE handshake, bounded)."""
    if adapter is Adapter.BLOCKING:
        raw = amqp10.connect(url, timeout=timeout, **options)
        try:
            yield Conn(adapter, raw)
        finally:
            raw.close(timeout=timeout)
    elif adapter is Adapter.ASYNCIO:
        connection = await _on_asyncio(amqp10.asyncio.connect(url, timeout=timeout, **options))
        try:
            yield Conn(adapter, connection)
        finally:
            with trio.CancelScope(shield=True):
                await _on_asyncio(connection.__aexit__(None, None, None))
    else:
        async with amqp10.trio.connect(url, timeout=timeout, **options) as connection:
            yield Conn(adapter, connection)


class _Together:
    def __init__(self, adapter: Adapter, nursery: trio.Nursery) -> None:
        self._adapter = adapter
        self._nursery = nursery
        self._threads: list[tuple[threading.Thread, list[BaseException]]] = []

    def spawn(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> None:
        """Run ``fn(*args)`` alongside the rest of the block; the block waits for it."""
        if self._adapter is not Adapter.BLOCKING:  # asyncio too: trio tasks, on the loop's thread
            self._nursery.start_soon(functools.partial(fn, *args))
            return
        # Its own OS thread and its own trio loop, started now: the block's next blocking call
        # holds the trio thread, so a trio task would not even start until that call returned.
        errors: list[BaseException] = []

        def run() -> None:
            try:
                trio.run(functools.partial(fn, *args))
            except BaseException as exc:  # handed to the block's end, like a task's error
                errors.append(exc)

        thread = threading.Thread(target=run, name=f"interop-{getattr(fn, '__name__', 'part')}", daemon=True)
        thread.start()
        self._threads.append((thread, errors))

    async def join(self, *, check: bool = True) -> None:
        """Wait for the threads; with ``check``, raise the first error one of them had."""
        for thread, _ in self._threads:
            await trio.to_thread.run_sync(thread.join)
        for _, errors in self._threads:
            if errors and check:
                raise errors[0]


@asynccontextmanager
async def together(adapter: Adapter) -> AsyncIterator[_Together]:
    """A group of concurrent parts (see ``_Together.spawn``); leaving the block waits for all."""
    async with trio.open_nursery() as nursery:
        group = _Together(adapter, nursery)
        try:
            yield group
        except BaseException:
            with trio.CancelScope(shield=True):  # every part has bounded waits of its own
                await group.join(check=False)  # the block's own error is the one to report
            raise
        await group.join()


# -- server side -----------------------------------------------------------------------------------

class Served:
    """A server of ours on loopback: where it listens, and a safe way to look at its handler."""

    def __init__(self, url: str, port: int, call: Callable[[Callable[[], Any]], Any]) -> None:
        self.url = url
        self.port = port
        self._call = call

    def call(self, fn: Callable[[], _T]) -> _T:
        """Run ``fn()`` where the server's handler runs (its lock, or the trio thread)."""
        return self._call(fn)  # type: ignore[no-any-return]


@asynccontextmanager
async def serve_broker(adapter: Adapter, broker: Broker | None = None, **options: Any) -> AsyncIterator[Served]:
    """amqp10's embedded broker on a free 127.0.0.1 port (``amqp10.peer.server``)."""
    served = broker if broker is not None else Broker()
    if adapter is Adapter.BLOCKING:
        peer = start("127.0.0.1", 0, broker=served, **options)
        try:
            yield Served(peer.url, peer.port, lambda fn: peer.call(lambda _broker: fn()))
        finally:
            peer.close()
        return
    if adapter is Adapter.ASYNCIO:
        started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
        task = asyncio.ensure_future(serve_asyncio("127.0.0.1", 0, broker=served, started=started, **options))
        try:
            server = await _on_asyncio(started)
            yield Served(server.url, server.port, lambda fn: fn())
        finally:
            task.cancel()
            with trio.CancelScope(shield=True):
                await _on_asyncio(asyncio.wait((task,)))
        return
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(serve_trio, "127.0.0.1", 0, broker=served, **options))
        yield Served(server.url, server.port, lambda fn: fn())
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def serve_handler(adapter: Adapter, handler: Handler, **options: Any) -> AsyncIterator[Served]:
    """Any handler on ``amqp10.listen``, ``amqp10.trio.serve`` or ``amqp10.asyncio``, on a free
    127.0.0.1 port."""
    if adapter is Adapter.BLOCKING:
        with amqp10.listen("127.0.0.1", 0, handler, **options) as listener:
            yield Served(listener.url, listener.port, listener.call)
        return
    if adapter is Adapter.ASYNCIO:
        running = await _on_asyncio(amqp10.asyncio.start_server("127.0.0.1", 0, handler, **options))
        try:
            yield Served(running.url, running.port, lambda fn: fn())
        finally:
            with trio.CancelScope(shield=True):
                await _on_asyncio(running.aclose())
        return
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(amqp10.trio.serve, "127.0.0.1", 0, handler, **options))
        yield Served(server.url, server.port, lambda fn: fn())
        nursery.cancel_scope.cancel()


def unique(prefix: str) -> str:
    """A node name no other test (or earlier run against the same broker) has used."""
    return f"amqp10-{prefix}-{uuid.uuid4().hex[:12]}"
