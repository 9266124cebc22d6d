"""The server role's contract (ADAPTERS.md) in every adapter, and the adapters talking to each other."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Iterator, Sequence

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, Message
from amqp10._handler import Handler, ServerConnection
from amqp10.blocking import Listener, connect, listen
from amqp10.engine.events import ConnectionOpened, Event
from support import asyncio_helpers
from support.asyncio_helpers import asyncio_test
from support.broker import QueueBroker
from support.trio_helpers import serving, trio_test


@trio_test
async def test_trio_client_talks_to_the_blocking_listener(listener: Listener) -> None:
    async with amqp10.trio.connect(listener.url, timeout=5) as conn:
        async with conn.open_sender("x") as sender, conn.open_receiver("x") as receiver:
            assert await sender.send(Message(body="trio->blocking")) == Accepted()
            assert (await receiver.receive(timeout=5)).message.body == "trio->blocking"
        assert (await conn.request("echo", "rpc", timeout=5)).body == "rpc"


def _blocking_round_trip(url: str) -> list[object]:
    with connect(url, timeout=5) as conn:
        outcome = conn.open_sender("y").send(Message(body="blocking->trio"))
        body = conn.open_receiver("y").receive(timeout=5).message.body
        reply = conn.request("echo", "rpc", timeout=5).body
        return [outcome, body, reply]


@trio_test
async def test_blocking_client_talks_to_the_trio_server(broker: QueueBroker) -> None:
    async with serving(broker) as server:
        result = await trio.to_thread.run_sync(_blocking_round_trip, server.url)
    assert result == [Accepted(), "blocking->trio", "rpc"]


@asyncio_test
async def test_asyncio_client_talks_to_the_blocking_listener(listener: Listener) -> None:
    async with amqp10.asyncio.connect(listener.url, timeout=5) as conn:
        async with conn.open_sender("x") as sender, conn.open_receiver("x") as receiver:
            assert await sender.send(Message(body="asyncio->blocking")) == Accepted()
            assert (await receiver.receive(timeout=5)).message.body == "asyncio->blocking"
        assert (await conn.request("echo", "rpc", timeout=5)).body == "rpc"


@asyncio_test
async def test_blocking_client_talks_to_the_asyncio_server(broker: QueueBroker) -> None:
    async with asyncio_helpers.serving(broker) as server:
        result = await asyncio.to_thread(_blocking_round_trip, server.url)
    assert result == [Accepted(), "blocking->trio", "rpc"]


@trio_test
async def test_trio_client_talks_to_the_asyncio_server_on_another_thread(broker: QueueBroker) -> None:
    ready = threading.Event()
    stop = threading.Event()
    urls: list[str] = []

    def serve_on_a_thread() -> None:
        async def main() -> None:
            async with asyncio_helpers.serving(broker) as server:
                urls.append(server.url)
                ready.set()
                await asyncio.to_thread(stop.wait, 10)

        asyncio.run(main())

    thread = threading.Thread(target=serve_on_a_thread)
    thread.start()
    try:
        assert await trio.to_thread.run_sync(ready.wait, 5)
        async with amqp10.trio.connect(urls[0], timeout=5) as conn:
            assert await (await conn.open_sender("z")).send(Message(body="trio->asyncio")) == Accepted()
            assert (await (await conn.open_receiver("z")).receive(timeout=5)).message.body == "trio->asyncio"
    finally:
        stop.set()
        await trio.to_thread.run_sync(thread.join, 10)


class _ThreadRecorder(QueueBroker):
    def __init__(self) -> None:
        super().__init__()
        self.threads: set[int] = set()

    def connection_made(self, conn: ServerConnection) -> None:
        self.threads.add(threading.get_ident())
        super().connection_made(conn)

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        self.threads.add(threading.get_ident())
        super().events_received(conn, events)


def test_listen_calls_the_handler_on_one_thread_for_every_connection() -> None:
    recorder = _ThreadRecorder()
    with listen("127.0.0.1", 0, recorder) as served:
        results: list[object] = []

        def client(n: int) -> None:
            with connect(served.url, timeout=5) as conn:
                results.append(conn.open_sender(f"t{n}").send(Message(body=n)))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert results == [Accepted()] * 4
    assert len(recorder.threads) == 1
    assert threading.get_ident() not in recorder.threads


def test_Listener_call_lets_another_thread_act_on_engines_and_flushes(listener: Listener, broker: QueueBroker) -> None:
    with connect(listener.url, timeout=5) as conn:
        receiver = conn.open_receiver("pushed")

        def push() -> None:  # runs with the reactor's lock, outside any handler call
            broker.queues["pushed"].append(Message(body="from outside").encode())
            broker._pump_all()

        listener.call(push)
        assert receiver.receive(timeout=5).message.body == "from outside"


@asyncio_test
async def test_asyncio_serve_calls_the_handler_on_the_event_loop_thread_only() -> None:
    recorder = _ThreadRecorder()
    async with asyncio_helpers.serving(recorder) as server:

        async def client(n: int) -> object:
            async with amqp10.asyncio.connect(server.url, timeout=5) as conn:
                return await (await conn.open_sender(f"t{n}")).send(Message(body=n))

        assert await asyncio.gather(*(client(n) for n in range(4))) == [Accepted()] * 4
        # a blocking client on another thread changes nothing: the handler stays on the loop
        assert await asyncio.to_thread(_blocking_round_trip, server.url) == [Accepted(), "blocking->trio", "rpc"]
    assert recorder.threads == {threading.get_ident()}


class _Exploding(QueueBroker):
    """Raises while handling the connection whose container-id is "boom"."""

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        if any(isinstance(e, ConnectionOpened) and e.container_id == "boom" for e in events):
            raise RuntimeError("handler bug")
        super().events_received(conn, events)


@pytest.fixture
def exploding_listener() -> Iterator[Listener]:
    with listen("127.0.0.1", 0, _Exploding()) as served:
        yield served


def test_listen_closes_only_the_connection_whose_handler_call_failed(exploding_listener: Listener) -> None:
    with connect(exploding_listener.url, timeout=5) as healthy:
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            with connect(exploding_listener.url, container_id="boom", timeout=5) as doomed:
                doomed.open_sender("q")
        assert info.value.condition == "amqp:internal-error"
        assert healthy.open_sender("q").send(Message(body="fine")) == Accepted()


@trio_test
async def test_serve_closes_only_the_connection_whose_handler_call_failed() -> None:
    async with serving(_Exploding()) as server:
        async with amqp10.trio.connect(server.url, timeout=5) as healthy:
            with pytest.raises(amqp10.ConnectionClosedError) as info:
                async with amqp10.trio.connect(server.url, container_id="boom", timeout=5) as doomed:
                    await doomed.open_sender("q")
            assert info.value.condition == "amqp:internal-error"
            assert await (await healthy.open_sender("q")).send(Message(body="fine")) == Accepted()


@asyncio_test
async def test_asyncio_serve_closes_only_the_connection_whose_handler_call_failed() -> None:
    async with asyncio_helpers.serving(_Exploding()) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as healthy:
            with pytest.raises(amqp10.ConnectionClosedError) as info:
                async with amqp10.asyncio.connect(server.url, container_id="boom", timeout=5) as doomed:
                    await doomed.open_sender("q")
            assert info.value.condition == "amqp:internal-error"
            assert await (await healthy.open_sender("q")).send(Message(body="fine")) == Accepted()


def test_Handler_base_class_methods_do_nothing() -> None:
    handler = Handler()
    assert handler.connection_made(None) is None  # type: ignore[arg-type,func-returns-value]
    assert handler.events_received(None, []) is None  # type: ignore[arg-type,func-returns-value]
    assert handler.connection_lost(None) is None  # type: ignore[arg-type,func-returns-value]


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.names: set[str] = set()

    def emit(self, record: logging.LogRecord) -> None:
        self.names.add(record.name)


def test_adapters_log_only_on_amqp10_loggers(listener: Listener) -> None:
    collect = _Collect()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(collect)
    root.setLevel(logging.DEBUG)
    try:
        with connect(listener.url, timeout=5) as conn:
            with pytest.raises(amqp10.LinkDetachedError):
                conn.open_receiver("refuse/q")
            conn.open_sender("q").send(Message(body=1))
        with pytest.raises(amqp10.ConnectionClosedError):
            connect("amqp://127.0.0.1:1", timeout=1)
    finally:
        root.removeHandler(collect)
        root.setLevel(old_level)
    assert collect.names, "expected some log records"
    assert all(name == "amqp10" or name.startswith("amqp10.") for name in collect.names), collect.names


class _BrokenEngineAfterOpen(QueueBroker):
    """Makes the engine of the connection whose container-id is "broken" raise on its next
    input, as an engine bug would (the handler itself never raises)."""

    def events_received(self, conn: ServerConnection, events: Sequence[Event]) -> None:
        if any(isinstance(e, ConnectionOpened) and e.container_id == "broken" for e in events):

            def explode(data: bytes) -> list[Event]:
                raise RuntimeError("engine bug")

            conn.engine.receive_data = explode  # type: ignore[method-assign]
        super().events_received(conn, events)


@asyncio_test
async def test_asyncio_serve_drops_only_the_connection_whose_pump_hit_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with asyncio_helpers.serving(_BrokenEngineAfterOpen()) as server:
        async with amqp10.asyncio.connect(server.url, timeout=5) as healthy:
            with pytest.raises(amqp10.ConnectionClosedError):
                async with amqp10.asyncio.connect(server.url, container_id="broken", timeout=5) as doomed:
                    await doomed.open_sender("q")
            await asyncio_helpers.eventually(lambda: len(server.connections) == 1)
            assert await (await healthy.open_sender("q")).send(Message(body="fine")) == Accepted()
    assert any(r.name == "amqp10.asyncio" and "internal error" in r.getMessage() for r in caplog.records)
