"""The embedded broker served over loopback by each server adapter, for blocking clients."""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Iterator

import pytest
import trio

from amqp10.peer import Broker, NodeLimits
from amqp10.peer.server import serve_asyncio, serve_trio, start

#: seconds any start or stop of a served peer may take
_LIMIT = 10.0


class ServedPeer:
    """Where a broker is served, and by which adapter."""

    def __init__(self, adapter: str, url: str) -> None:
        self.adapter = adapter
        self.url = url


def _serve_with_trio(broker: Broker, ready: list[str], started: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        async with trio.open_nursery() as nursery:
            server = await nursery.start(functools.partial(serve_trio, "127.0.0.1", 0, broker=broker))
            ready.append(server.url)
            started.set()
            await trio.to_thread.run_sync(stop.wait)
            nursery.cancel_scope.cancel()

    trio.run(main)


def _serve_with_asyncio(broker: Broker, ready: list[str], started: threading.Event, stop: threading.Event) -> None:
    async def main() -> None:
        listening: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        serving = asyncio.ensure_future(serve_asyncio("127.0.0.1", 0, broker=broker, started=listening))
        server = await listening
        ready.append(server.url)  # type: ignore[attr-defined]
        started.set()
        await asyncio.to_thread(stop.wait)
        serving.cancel()
        await asyncio.wait((serving,))

    asyncio.run(main())


_SERVE_ON_A_THREAD = {"trio": _serve_with_trio, "asyncio": _serve_with_asyncio}


def serve_peer(adapter: str, broker: Broker) -> Iterator[ServedPeer]:
    """Serve ``broker`` with the named adapter on a free 127.0.0.1 port for a test."""
    if adapter == "blocking":
        with start("127.0.0.1", 0, broker=broker) as peer:
            yield ServedPeer(adapter, peer.url)
        return
    ready: list[str] = []
    started, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=_SERVE_ON_A_THREAD[adapter], args=(broker, ready, started, stop), daemon=True)
    thread.start()
    try:
        assert started.wait(_LIMIT), f"the {adapter} peer did not start"
        yield ServedPeer(adapter, ready[0])
    finally:
        stop.set()
        thread.join(_LIMIT)
        assert not thread.is_alive(), f"the {adapter} peer did not stop"


@pytest.fixture(params=["blocking", "trio", "asyncio"])
def served(request: pytest.FixtureRequest) -> Iterator[ServedPeer]:
    """A default broker served by each adapter in turn."""
    yield from serve_peer(request.param, Broker())


@pytest.fixture(params=["blocking", "trio", "asyncio"])
def served_small(request: pytest.FixtureRequest) -> Iterator[ServedPeer]:
    """A broker whose queues hold 10 messages, served by each adapter in turn."""
    yield from serve_peer(request.param, Broker(limits=NodeLimits(max_messages=10), credit_window=50))


@pytest.fixture(params=["blocking", "trio", "asyncio"])
def served_with_broker(request: pytest.FixtureRequest) -> Iterator[tuple[ServedPeer, Broker]]:
    """A default broker served by each adapter in turn, with the broker itself (read its
    state from the test thread only for polling)."""
    broker = Broker()
    for peer in serve_peer(request.param, broker):
        yield peer, broker
