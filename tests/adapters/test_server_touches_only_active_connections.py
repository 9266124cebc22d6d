"""A handler call costs the connections it wrote to, not every connection served (ADAPTERS.md,
``amqp10._handler``): both server adapters flush exactly the engines that queued output
(``engine.on_output``) and tick an engine only when it was woken, had I/O, or its own deadline
came due. With 10,000 connections a scan of all of them after every call starved heartbeats."""

from __future__ import annotations

import asyncio
import types
from typing import Any, Callable, Sequence

import trio

import amqp10.asyncio
import amqp10.trio
import amqp10.trio._driver as driver
from amqp10 import Accepted, Message
from amqp10._handler import Handler, ServerConnection
from amqp10.blocking import connect, listen
from amqp10.engine.connection import Connection as EngineConnection
from amqp10.engine.events import DeliveryReceived, Event, LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.engine.link import Receiver, Sender
from support import asyncio_helpers
from support.trio_helpers import serving, trio_test

BYSTANDERS = 8


class _Forward(Handler):
    """Forwards every message it receives to the one receiving client (on another connection)."""

    def __init__(self) -> None:
        self.outlet: Sender | None = None

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        for event in events:
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            elif isinstance(event, LinkRemotelyAttached):
                event.link.attach()
                if isinstance(event.link, Receiver):
                    event.link.flow(100)
                elif isinstance(event.link, Sender):
                    self.outlet = event.link
            elif isinstance(event, DeliveryReceived):
                event.delivery.accept()
                assert self.outlet is not None
                self.outlet.send(bytes(event.delivery.payload))


class _CountedConnection(EngineConnection):
    """An engine that counts what an adapter asks of it (installed on a live engine by
    switching its class, so the adapter's own calls are the ones counted)."""

    calls: int

    def tick(self, now: float) -> float | None:
        self.calls += 1
        return super().tick(now)

    def data_to_send(self) -> bytes:
        self.calls += 1
        return super().data_to_send()

    def receive_data(self, data: bytes | bytearray | memoryview) -> list[Event]:
        self.calls += 1
        return super().receive_data(data)

    def take_events(self) -> list[Event]:
        self.calls += 1
        return super().take_events()

    @property
    def has_data_to_send(self) -> bool:
        self.calls += 1
        return EngineConnection.has_data_to_send.fget(self)  # type: ignore[attr-defined,no-any-return]


def _count(engines: Sequence[EngineConnection]) -> list[_CountedConnection]:
    for engine in engines:
        engine.calls = 0  # type: ignore[attr-defined]
        engine.__class__ = _CountedConnection
    return list(engines)  # type: ignore[arg-type]


def test_listen_routes_a_message_without_touching_the_other_connections_engines() -> None:
    with listen("127.0.0.1", 0, _Forward()) as served:
        with connect(served.url, timeout=5) as watcher:
            receiver = watcher.open_receiver("out")
            bystanders = [connect(served.url, timeout=5) for _ in range(BYSTANDERS)]
            try:
                with connect(served.url, timeout=5) as talker:
                    sender = talker.open_sender("in")
                    assert sender.send(Message(body="warm-up")) == Accepted()
                    assert receiver.receive(timeout=5).message.body == "warm-up"
                    watcher_conn, *idle, talker_conn = served.connections  # in accepting order
                    assert len(idle) == BYSTANDERS
                    counted_idle = _count(served.call(lambda: [c.engine for c in idle]))
                    counted_active = _count([watcher_conn.engine, talker_conn.engine])
                    for n in range(20):
                        assert sender.send(Message(body=n)) == Accepted()
                        assert receiver.receive(timeout=5).message.body == n
                    assert all(c.calls > 0 for c in counted_active)  # the counters do count
                    assert [c.calls for c in counted_idle] == [0] * BYSTANDERS
            finally:
                for conn in bystanders:
                    conn.close()


@trio_test
async def test_serve_routes_a_message_without_touching_the_other_connections_engines() -> None:
    async with serving(_Forward()) as server:
        async with amqp10.trio.connect(server.url, timeout=5) as watcher:
            receiver = await watcher.open_receiver("out")
            async with trio.open_nursery() as nursery:
                stop = trio.Event()

                async def bystander(ready: trio.Event) -> None:
                    async with amqp10.trio.connect(server.url, timeout=5):
                        ready.set()
                        await stop.wait()

                for _ in range(BYSTANDERS):
                    ready = trio.Event()
                    nursery.start_soon(bystander, ready)
                    await ready.wait()
                watcher_conn, *idle = server.connections
                async with amqp10.trio.connect(server.url, timeout=5) as talker:
                    sender = await talker.open_sender("in")
                    assert await sender.send(Message(body="warm-up")) == Accepted()
                    assert (await receiver.receive(timeout=5)).message.body == "warm-up"
                    talker_conn = server.connections[-1]
                    counted_idle = _count([c.engine for c in idle])
                    counted_active = _count([watcher_conn.engine, talker_conn.engine])
                    for n in range(20):
                        assert await sender.send(Message(body=n)) == Accepted()
                        assert (await receiver.receive(timeout=5)).message.body == n
                    assert all(c.calls > 0 for c in counted_active)  # the counters do count
                    assert [c.calls for c in counted_idle] == [0] * BYSTANDERS
                stop.set()


class _CountingTrio(types.ModuleType):
    """``trio`` as the pump sees it, counting the Events and CancelScopes it makes."""

    def __init__(self) -> None:
        super().__init__("trio")
        self.__dict__.update(vars(trio))
        self.made: dict[str, int] = {"Event": 0, "CancelScope": 0}
        for name in self.made:
            setattr(self, name, self._counting(name, getattr(trio, name)))

    def _counting(self, name: str, cls: Any) -> Callable[..., Any]:
        def make(*args: Any, **kwargs: Any) -> Any:
            self.made[name] += 1
            return cls(*args, **kwargs)

        return make


def _pump_turns(monkeypatch: Any) -> tuple[_CountingTrio, list[int]]:
    counting = _CountingTrio()
    monkeypatch.setattr(driver, "trio", counting)
    turns = [0]
    original = driver._Waker.set

    def woken(self: Any) -> None:
        turns[0] += 1
        original(self)

    monkeypatch.setattr(driver._Waker, "set", woken)
    return counting, turns


def test_the_trio_pump_makes_no_event_or_cancel_scope_per_wake_up(monkeypatch: Any) -> None:
    counting, wakes = _pump_turns(monkeypatch)

    @trio_test
    async def exchange() -> None:
        async with serving(_Forward()) as server:
            async with amqp10.trio.connect(server.url, timeout=5) as watcher:
                receiver = await watcher.open_receiver("out")
                async with amqp10.trio.connect(server.url, timeout=5) as talker:
                    sender = await talker.open_sender("in")
                    for n in range(50):
                        assert await sender.send(Message(body=n)) == Accepted()
                        assert (await receiver.receive(timeout=5)).message.body == n

    exchange()
    # the server's two pumps woke for each of 50 round trips (the clients' commands mostly
    # write directly, without waking their writers)
    assert wakes[0] >= 100
    # one cancel scope per pump's run, its writer and its shutdown; none per wake-up
    assert counting.made["Event"] == 0
    assert counting.made["CancelScope"] <= 4 * 4



IDLE = 0.3  # seconds: the silent period below is several of these


def test_listen_heartbeats_every_silent_connection_at_its_own_deadline() -> None:
    # Nothing wakes these channels but their deadlines: a reactor that only serviced woken
    # channels would let every client time out. The clients are trio's, so they do not
    # share the reactor under test.
    with listen("127.0.0.1", 0, _Forward()) as served:

        async def silent_clients() -> list[bool]:
            async with amqp10.trio.connect(served.url, idle_timeout=IDLE, timeout=5) as one:
                async with amqp10.trio.connect(served.url, idle_timeout=IDLE, timeout=5) as two:
                    await trio.sleep(5 * IDLE)
                    return [one.closed, two.closed, len(served.connections) == 2]

        assert trio.run(silent_clients) == [False, False, True]


@trio_test
async def test_serve_heartbeats_every_silent_connection_at_its_own_deadline() -> None:
    # The clients are blocking ones (threads), so they do not share the pumps under test.
    async with serving(_Forward()) as server:
        conns = [await trio.to_thread.run_sync(lambda: connect(server.url, idle_timeout=IDLE, timeout=5)) for _ in range(2)]
        try:
            await trio.sleep(5 * IDLE)
            assert [conn.closed for conn in conns] == [False, False]
            assert len(server.connections) == 2
        finally:
            for conn in conns:
                await trio.to_thread.run_sync(conn.close)


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_routes_a_message_without_touching_the_other_connections_engines() -> None:
    async with asyncio_helpers.serving(_Forward()) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as watcher:
            receiver = await watcher.open_receiver("out")
            bystanders = [await amqp10.asyncio.connect(server.url, timeout=5) for _ in range(BYSTANDERS)]
            try:
                watcher_conn, *idle = server.connections
                async with amqp10.asyncio.connect(server.url, timeout=5) as talker:
                    sender = await talker.open_sender("in")
                    assert await sender.send(Message(body="warm-up")) == Accepted()
                    assert (await receiver.receive(timeout=5)).message.body == "warm-up"
                    talker_conn = server.connections[-1]
                    counted_idle = _count([c.engine for c in idle])
                    counted_active = _count([watcher_conn.engine, talker_conn.engine])
                    for n in range(20):
                        assert await sender.send(Message(body=n)) == Accepted()
                        assert (await receiver.receive(timeout=5)).message.body == n
                    assert all(c.calls > 0 for c in counted_active)  # the counters do count
                    assert [c.calls for c in counted_idle] == [0] * BYSTANDERS
            finally:
                for conn in bystanders:
                    await conn.aclose()


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_heartbeats_every_silent_connection_at_its_own_deadline() -> None:
    # The clients are blocking ones (threads), so they do not share the loop under test.
    async with asyncio_helpers.serving(_Forward()) as server:
        conns = [await asyncio.to_thread(lambda: connect(server.url, idle_timeout=IDLE, timeout=5)) for _ in range(2)]
        try:
            await asyncio.sleep(5 * IDLE)
            assert [conn.closed for conn in conns] == [False, False]
            assert len(server.connections) == 2
        finally:
            for conn in conns:
                await asyncio.to_thread(conn.close)
