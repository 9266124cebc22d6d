"""Servers keep a quiet client's connection alive and close a silent one (spec 2.4.5), on all
three adapters: heartbeats at 3/4 of the client's advertised idle-time-out, never later and
not twice as often, and a client that stops writing is closed with
``amqp:resource-limit-exceeded`` once the server's own idle-time-out passes.

The client is a plain socket driving a sans-IO engine on a thread, so it shares nothing with
the server under test. trio's server writes a due heartbeat from its shared ``Timer`` task
(no writer turn, no ``send_all``): one test checks that the stream's ``send_all`` is not used
for the heartbeats of an idle connection, while they still arrive in time.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import trio

from amqp10._handler import Handler
from amqp10.blocking import listen
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.events import ConnectionClosed, Event, ProtocolViolationDetected
from amqp10.engine.sasl import SaslClient
from amqp10.engine.violations import Violation
from support import asyncio_helpers
from support.trio_helpers import serving, trio_test

CLIENT_IDLE = 0.4  # seconds: advertised as 0.2 s, so the server writes every 0.15 s
INTERVAL = 0.75 * CLIENT_IDLE / 2
SILENCE = 2.0
SERVER_IDLE = 0.6  # the server's own: it closes a client silent for this long


class _Client:
    """A client on a thread: opens, then records when the server's bytes arrive. ``silent``:
    after the opening it never writes again (no heartbeats), so the server must close it."""

    def __init__(self, port: int, *, silent: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.settimeout(0.01)
        self.silent = silent
        self.arrivals: list[float] = []
        self.timed_out = False  # we gave up on the server (our idle-time-out expired)
        self.closed_with: str | None = None  # the condition of the server's CLOSE
        self.opened_at: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        engine = Connection(Config(container_id="quiet", role=ConnectionRole.CLIENT, idle_timeout=CLIENT_IDLE,
                                   sasl=lambda: SaslClient()))
        engine.open()
        deadline = time.monotonic() + SILENCE + 5
        with self.sock:
            while not self._stop.is_set() and not engine.finished and time.monotonic() < deadline:
                engine.tick(time.monotonic())
                self._note(engine.take_events())
                out = engine.data_to_send()
                if out and not (self.silent and self.opened_at is not None):
                    self.sock.sendall(out)
                try:
                    data = self.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                if self.opened_at is not None:
                    self.arrivals.append(time.monotonic())
                self._note(engine.receive_data(data))

    def _note(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ProtocolViolationDetected) and event.violation is Violation.IDLE_TIMEOUT:
                self.timed_out = True
            elif isinstance(event, ConnectionClosed) and event.error is not None:
                self.closed_with = event.error.condition
            elif type(event).__name__ == "ConnectionOpened" and self.opened_at is None:
                self.opened_at = time.monotonic()

    def wait(self, timeout: float) -> None:
        self._thread.join(timeout)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def check_heartbeats(self) -> None:
        """Heartbeats kept the connection alive: every 0.15 s, not more often, never late."""
        assert not self.timed_out
        assert self.opened_at is not None
        assert len(self.arrivals) >= SILENCE / INTERVAL - 3
        start, end = self.opened_at + 0.3, self.opened_at + SILENCE - 0.2
        in_window = sum(1 for t in self.arrivals if start <= t <= end)
        assert in_window <= (end - start) / INTERVAL + 1  # every 0.15 s at most, not every 0.1 s
        gaps = [later - earlier for earlier, later in zip(self.arrivals, self.arrivals[1:])]
        assert max(gaps) < CLIENT_IDLE * 0.75  # 0.15 s plus scheduling slack, not 0.2 s or more


def _quiet_client(port: int) -> _Client:
    client = _Client(port)
    time.sleep(SILENCE)
    client.stop()
    return client


def _silent_client(port: int) -> _Client:
    client = _Client(port, silent=True)
    client.wait(SILENCE + 6)
    client.stop()
    return client


def test_listen_heartbeats_a_quiet_client_at_three_quarters_of_its_advertised_idle_timeout() -> None:
    with listen("127.0.0.1", 0, Handler(), idle_timeout=10.0) as listener:
        _quiet_client(listener.port).check_heartbeats()


@trio_test
async def test_trio_serve_heartbeats_a_quiet_client_at_three_quarters_of_its_advertised_idle_timeout() -> None:
    async with serving(Handler(), idle_timeout=10.0) as server:
        client = await trio.to_thread.run_sync(_quiet_client, server.port)
    client.check_heartbeats()


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_heartbeats_a_quiet_client_at_three_quarters_of_its_advertised_idle_timeout() -> None:
    async with asyncio_helpers.serving(Handler(), idle_timeout=10.0) as server:
        client = await asyncio.to_thread(_quiet_client, server.port)
    client.check_heartbeats()


def test_trio_serve_writes_an_idle_connections_heartbeats_without_a_writer_turn(monkeypatch: Any) -> None:
    sends = [0]
    original = trio.SocketStream.send_all

    async def counted(self: Any, data: Any) -> None:
        sends[0] += 1
        await original(self, data)

    @trio_test
    async def run() -> None:
        async with serving(Handler(), idle_timeout=10.0) as server:
            client = _Client(server.port)
            await trio.sleep(0.5)  # the opening is done; from here on only heartbeats go out
            monkeypatch.setattr(trio.SocketStream, "send_all", counted)
            before = len(client.arrivals)
            await trio.sleep(SILENCE - 0.5)
            await trio.to_thread.run_sync(client.stop)
        assert len(client.arrivals) - before >= (SILENCE - 0.5) / INTERVAL - 3
        client.check_heartbeats()

    run()
    assert sends == [0]


def test_listen_closes_a_silent_client_after_its_idle_timeout() -> None:
    with listen("127.0.0.1", 0, Handler(), idle_timeout=SERVER_IDLE) as listener:
        client = _silent_client(listener.port)
    assert client.closed_with == "amqp:resource-limit-exceeded"


@trio_test
async def test_trio_serve_closes_a_silent_client_after_its_idle_timeout() -> None:
    async with serving(Handler(), idle_timeout=SERVER_IDLE) as server:
        client = await trio.to_thread.run_sync(_silent_client, server.port)
        # The client saw the CLOSE; the server forgets the connection once its socket has
        # closed, which may take it a few more scheduler turns: wait for that, bounded.
        with trio.move_on_after(5):
            while server.connections:
                await trio.sleep(0.01)
        assert len(server.connections) == 0
    assert client.closed_with == "amqp:resource-limit-exceeded"


@asyncio_helpers.asyncio_test
async def test_asyncio_serve_closes_a_silent_client_after_its_idle_timeout() -> None:
    async with asyncio_helpers.serving(Handler(), idle_timeout=SERVER_IDLE) as server:
        client = await asyncio.to_thread(_silent_client, server.port)
    assert client.closed_with == "amqp:resource-limit-exceeded"
