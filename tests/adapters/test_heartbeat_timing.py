"""Both adapters send heartbeats at 3/4 of the peer's advertised idle-time-out (spec 2.4.5):
never later, and not twice as often as that (the advertised value already has the margin).

A plain-socket peer advertises an idle-time-out, times out a silent client itself, and records
when the client's bytes arrive. The client is left alone: only its I/O sends anything. An
adapter that ticked the engine only at its deadlines used to send each heartbeat a whole
interval late (at the peer's full idle-time-out, which loses the race with the peer's expiry).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import trio

import amqp10.asyncio
import amqp10.trio
from amqp10.blocking import connect
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.events import Event, ProtocolViolationDetected
from amqp10.engine.sasl import SaslServer
from amqp10.engine.violations import Violation
from support.asyncio_helpers import asyncio_test
from support.trio_helpers import trio_test

PEER_IDLE = 0.4  # seconds: advertised as 0.2 s, so the client writes every 0.15 s
INTERVAL = 0.75 * PEER_IDLE / 2
SILENCE = 2.0


class _TimingPeer:
    """A server on a thread that ticks its engine and records when client bytes arrive."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.arrivals: list[float] = []
        self.timed_out = False  # the peer gave up on the client (idle-time-out expired)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        sock, _ = self.server.accept()
        sock.settimeout(0.01)
        config = Config(container_id="timing", role=ConnectionRole.SERVER, idle_timeout=PEER_IDLE,
                        sasl=lambda: SaslServer(allow_anonymous=True))
        engine = Connection(config)
        engine.open()
        with sock:
            while not self._stop.is_set() and not engine.finished:
                engine.tick(time.monotonic())
                self._note(engine.take_events())
                out = engine.data_to_send()
                if out:
                    sock.sendall(out)
                try:
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                self.arrivals.append(time.monotonic())
                self._note(engine.receive_data(data))
            out = engine.data_to_send()
            if out:
                sock.sendall(out)

    def _note(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ProtocolViolationDetected) and event.violation is Violation.IDLE_TIMEOUT:
                self.timed_out = True

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.server.close()

    def heartbeats_in_the_silence(self) -> tuple[int, float]:
        """How many arrivals a window inside the client's silence saw (past the opening,
        before the close), and the window's length."""
        start, end = self.arrivals[0] + 0.5, self.arrivals[0] + SILENCE - 0.2
        return sum(1 for t in self.arrivals if start <= t <= end), end - start

    def longest_gap(self) -> float:
        gaps = [later - earlier for earlier, later in zip(self.arrivals, self.arrivals[1:])]
        return max(gaps)


def test_blocking_Connection_sends_heartbeats_at_three_quarters_of_the_peers_advertised_idle_timeout() -> None:
    peer = _TimingPeer()
    try:
        with connect(f"amqp://127.0.0.1:{peer.port}", timeout=5) as conn:
            time.sleep(SILENCE)
            assert not conn.closed
    finally:
        peer.stop()
    assert not peer.timed_out
    assert len(peer.arrivals) >= SILENCE / INTERVAL - 2
    count, window = peer.heartbeats_in_the_silence()
    assert count <= window / INTERVAL + 1  # every 0.15 s at most, not every 0.1 s
    assert peer.longest_gap() < PEER_IDLE * 0.75  # 0.15 s plus scheduling slack, not 0.4 s


@trio_test
async def test_trio_Connection_sends_heartbeats_at_three_quarters_of_the_peers_advertised_idle_timeout() -> None:
    peer = _TimingPeer()
    try:
        async with amqp10.trio.connect(f"amqp://127.0.0.1:{peer.port}", timeout=5) as conn:
            await trio.sleep(SILENCE)
            assert not conn.closed
    finally:
        await trio.to_thread.run_sync(peer.stop)
    assert not peer.timed_out
    assert len(peer.arrivals) >= SILENCE / INTERVAL - 2
    count, window = peer.heartbeats_in_the_silence()
    assert count <= window / INTERVAL + 1  # every 0.15 s at most, not every 0.1 s
    assert peer.longest_gap() < PEER_IDLE * 0.75


@asyncio_test
async def test_asyncio_Connection_sends_heartbeats_at_half_the_peers_idle_timeout() -> None:
    peer = _TimingPeer()
    try:
        async with amqp10.asyncio.connect(f"amqp://127.0.0.1:{peer.port}", timeout=5) as conn:
            await asyncio.sleep(SILENCE)
            assert not conn.closed
    finally:
        await asyncio.to_thread(peer.stop)
    assert not peer.timed_out
    assert len(peer.arrivals) >= SILENCE / (PEER_IDLE / 2) - 2
    assert peer.longest_gap() < PEER_IDLE * 0.75
