"""A wait for the peer polls for up to ``busy_poll`` seconds before sleeping, only while the
answers it waits for have mostly come that fast (``amqp10._busy_poll``): a wait whose answers
come late sleeps at once, and polling resumes when answers speed up again. The blocking adapter
polls its socket with ``select``; asyncio and trio yield to their loop instead of parking.
Sockets are real (a socketpair, loopback); what is counted is which calls were made, never how
long they took.
"""

from __future__ import annotations

import importlib
import selectors
import socket
import threading
from typing import Any

import pytest
import trio

import amqp10
import amqp10.asyncio
import amqp10.asyncio._client as asyncio_client
import amqp10.blocking._client as client
import amqp10.trio
from amqp10 import Message
from amqp10._busy_poll import BusyPoll
from amqp10.blocking import Listener
from amqp10.blocking._client import _BusyPoller
from amqp10.blocking._reactor import Reactor
from support.async_adapters import AsyncAdapter, each_async_adapter
from support.asyncio_helpers import asyncio_test
from support.asyncio_helpers import serving as asyncio_serving
from support.broker import QueueBroker
from support.trio_helpers import serving as trio_serving
from support.trio_helpers import trio_test

BUDGET = 0.0002  # the default, 200 µs
LATE = 0.02  # an answer this late is far outside the budget on any machine


def _record_selects(monkeypatch: Any) -> list[float]:
    """The timeout of each ``select`` the poller makes."""
    timeouts: list[float] = []
    original = client._select

    def select(socks: list[Any], timeout: float) -> list[Any]:
        timeouts.append(timeout)
        return original(socks, timeout)

    monkeypatch.setattr(client, "_select", select)
    return timeouts


def _answer_after(sock: socket.socket, delay: float) -> threading.Timer:
    timer = threading.Timer(delay, lambda: sock.send(b"x"))
    timer.start()
    return timer


def _late_wait(poller: _BusyPoller, ours: socket.socket, theirs: socket.socket) -> list[Any]:
    timer = _answer_after(theirs, LATE)
    try:
        return poller.wait([ours], 5.0)
    finally:
        timer.join()
        ours.recv(16)


def test_a_wait_whose_answers_come_late_stops_polling_and_sleeps_at_once(monkeypatch: Any) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        poller = _BusyPoller(BUDGET)
        timeouts = _record_selects(monkeypatch)
        assert _late_wait(poller, ours, theirs) == [ours]
        assert 0 in timeouts  # the first wait polls (nothing learned yet)
        for _ in range(5):
            _late_wait(poller, ours, theirs)
        assert poller.policy.hits < 0.5
        del timeouts[:]
        assert _late_wait(poller, ours, theirs) == [ours]
        assert len(timeouts) == 1 and timeouts[0] > 0  # straight to sleep: one select, no polls


def test_polling_resumes_once_answers_come_within_the_budget_again(monkeypatch: Any) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        poller = _BusyPoller(BUDGET)
        for _ in range(6):
            _late_wait(poller, ours, theirs)
        assert poller.policy.hits < 0.5
        for _ in range(20):  # answers already there when the wait begins: within any budget
            theirs.send(b"x")
            assert poller.wait([ours], 5.0) == [ours]
            ours.recv(16)
        assert poller.policy.hits >= 0.5
        timeouts = _record_selects(monkeypatch)
        _late_wait(poller, ours, theirs)
        assert timeouts[0] == 0 and timeouts[-1] > 0  # polled first, then slept


def test_a_budget_of_zero_never_polls(monkeypatch: Any) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        poller = _BusyPoller(0.0)
        timeouts = _record_selects(monkeypatch)
        for _ in range(3):
            theirs.send(b"x")
            assert poller.wait([ours], 5.0) == [ours]
            ours.recv(16)
        assert timeouts == [5.0, 5.0, 5.0]


def test_a_wait_that_times_out_while_polling_returns_nothing() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        assert _BusyPoller(BUDGET).wait([ours], 0.001) == []


def test_requests_polled_for_get_their_replies_and_the_option_reaches_the_poller(listener: Listener) -> None:
    with amqp10.connect(listener.url, timeout=5, busy_poll=0.001) as conn, conn.open_requester("echo") as requester:
        assert conn._sync._poller.policy.budget == 0.001
        for i in range(20):
            assert requester.request(Message(body=f"call-{i}"), timeout=5).body == f"call-{i}"


@pytest.mark.parametrize("value", [-0.001, float("nan")])
def test_a_negative_or_nan_busy_poll_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="busy_poll"):
        amqp10.connect("amqp://127.0.0.1:1", busy_poll=value)


# -- the policy all three adapters share ------------------------------------------------------------

def test_the_policy_polls_until_answers_prove_slow_and_again_once_they_are_fast() -> None:
    policy = BusyPoll(BUDGET)
    assert policy.until(10.0) == 10.0 + BUDGET  # a new connection polls
    for _ in range(6):
        policy.record(LATE)
    assert policy.until(10.0) == 10.0  # answers came late: sleep at once
    for _ in range(6):
        policy.record(None)  # timed out: no better
    assert policy.until(10.0) == 10.0
    for _ in range(20):
        policy.record(BUDGET / 2)
    assert policy.until(10.0) == 10.0 + BUDGET


def test_a_policy_with_no_budget_never_polls_whatever_it_records() -> None:
    policy = BusyPoll(0.0)
    for _ in range(5):
        policy.record(0.0)
    assert policy.until(3.0) == 3.0


# -- asyncio and trio: a polling wait yields to the loop instead of parking -------------------------

def _count_calls(monkeypatch: Any, owner: Any, name: str) -> list[int]:
    calls: list[int] = []
    original = getattr(owner, name)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls


@pytest.mark.parametrize("busy_poll", [0.0, 5.0])
@asyncio_test
async def test_asyncio_a_polling_request_is_answered_without_parking(broker: QueueBroker, monkeypatch: Any, busy_poll: float) -> None:
    # With a budget longer than any answer takes the wait never parks; with none it parks
    # for every reply (the server runs in this loop: a parked wait is how it lets it answer).
    async with asyncio_serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5, busy_poll=busy_poll) as conn:
        async with conn.open_requester("echo") as requester:
            parks = _count_calls(monkeypatch, asyncio_client, "park")
            await _ten_requests(requester)
    assert (len(parks) == 0) if busy_poll else (len(parks) >= 10)


@pytest.mark.parametrize("busy_poll", [0.0, 5.0])
@trio_test
async def test_trio_a_polling_request_is_answered_without_parking(broker: QueueBroker, monkeypatch: Any, busy_poll: float) -> None:
    async with trio_serving(broker) as server, amqp10.trio.connect(server.url, timeout=5, busy_poll=busy_poll) as conn:
        async with conn.open_requester("echo") as requester:
            waits = _count_calls(monkeypatch, trio.Event, "wait")
            await _ten_requests(requester)
    assert (len(waits) == 0) if busy_poll else (len(waits) >= 10)


@each_async_adapter
async def test_a_polling_wait_still_times_out(adapter: AsyncAdapter, broker: QueueBroker) -> None:
    async with adapter.serving(broker) as server, adapter.connect(server.url, timeout=5, busy_poll=5.0) as conn:
        receiver = await conn.open_receiver("nothing-comes")
        with pytest.raises(amqp10.Timeout):
            await receiver.receive(timeout=0.05)


# -- the blocking listener's thread ---------------------------------------------------------------

class _CountingSelector:
    """The reactor's selector, recording the timeout of each ``select``."""

    def __init__(self, selector: Any) -> None:
        self._selector = selector
        self.timeouts: list[float | None] = []

    def select(self, timeout: float | None = None) -> Any:
        self.timeouts.append(timeout)
        return self._selector.select(timeout)


@pytest.fixture
def reactor_with_socket() -> Any:
    """An unstarted listener reactor (budget set per test) with one socket of a pair to watch."""
    made: list[Reactor] = []
    ours, theirs = socket.socketpair()

    def make(budget: float) -> tuple[Reactor, _CountingSelector]:
        reactor = Reactor("test", stop_when_idle=False, busy_poll=budget)
        reactor._selector.register(ours, selectors.EVENT_READ, "ours")
        counting = _CountingSelector(reactor._selector)
        reactor._selector = counting  # type: ignore[assignment]
        made.append(reactor)
        return reactor, counting

    yield make, ours, theirs
    for reactor in made:
        counting = reactor._selector
        reactor._selector = counting._selector  # type: ignore[attr-defined]
        reactor._selector.close()
        reactor._wake_r.close()
        reactor._wake_w.close()
    ours.close()
    theirs.close()


def test_a_listener_polls_before_sleeping_and_stops_once_its_clients_pause_longer(reactor_with_socket: Any) -> None:
    make, ours, theirs = reactor_with_socket
    reactor, counting = make(BUDGET)
    theirs.send(b"x")
    assert [key.data for key, _ in reactor._select(5.0)] == ["ours"]
    assert counting.timeouts == [0]  # polled, and the frame was there: no sleep
    ours.recv(16)
    for _ in range(6):  # the next frames come late
        timer = _answer_after(theirs, LATE)
        assert reactor._select(5.0)
        timer.join()
        ours.recv(16)
    assert reactor._busy_poll.hits < 0.5
    del counting.timeouts[:]
    theirs.send(b"x")
    assert reactor._select(5.0)
    assert len(counting.timeouts) == 1 and counting.timeouts[0] not in (0, None)  # slept at once


def test_a_listener_with_busy_poll_zero_never_polls(reactor_with_socket: Any) -> None:
    make, ours, theirs = reactor_with_socket
    reactor, counting = make(0.0)
    for _ in range(3):
        theirs.send(b"x")
        assert reactor._select(5.0)
        ours.recv(16)
    assert counting.timeouts == [5.0, 5.0, 5.0]


def test_listen_takes_busy_poll_for_its_thread_and_refuses_a_negative_one(broker: QueueBroker) -> None:
    with amqp10.listen("127.0.0.1", 0, broker, busy_poll=0.001) as served:
        assert served._reactor._busy_poll.budget == 0.001
        with amqp10.connect(served.url, timeout=5, busy_poll=0) as conn, conn.open_requester("echo") as requester:
            assert requester.request(Message(body="polled"), timeout=5).body == "polled"
    with pytest.raises(ValueError, match="busy_poll"):
        amqp10.listen("127.0.0.1", 0, broker, busy_poll=-1.0)


def _record_read_now(monkeypatch: Any, pump_class: Any) -> list[bool]:
    """What each ``read_now`` of ``pump_class`` returned (True: it took something in)."""
    took: list[bool] = []
    original = pump_class.read_now

    def read_now(self: Any) -> bool:
        result: bool = original(self)
        took.append(result)
        return result

    monkeypatch.setattr(pump_class, "read_now", read_now)
    return took


async def _ten_requests(requester: Any) -> None:
    for i in range(10):
        assert (await requester.request(Message(body=f"call-{i}"), timeout=5)).body == f"call-{i}"


@each_async_adapter
async def test_a_polling_request_takes_in_replies_from_its_own_task(adapter: AsyncAdapter, broker: QueueBroker, monkeypatch: Any) -> None:
    # Plain TCP: the polling wait reads the socket itself (``Pump.read_now``; asyncio: behind
    # the selector loop's own transport), so a reply is taken in by the requesting task, not
    # handed over by the reader task or the transport. The server runs in this loop and
    # gets some replies in first through the loop's own look at the sockets.
    pump_class = importlib.import_module(f"amqp10.{adapter.name}._driver").Pump
    took = _record_read_now(monkeypatch, pump_class)
    async with adapter.serving(broker) as server, adapter.connect(server.url, timeout=5, busy_poll=5.0) as conn:
        async with conn.open_requester("echo") as requester:
            del took[:]
            await _ten_requests(requester)
            assert took.count(True) >= 1


@asyncio_test
async def test_asyncio_a_tls_connection_never_reads_behind_its_transport(broker: QueueBroker, certs: Any) -> None:
    from amqp10 import tls

    server_context = tls.server_context(certs.server_cert, certs.server_key)
    client_context = tls.client_context(cafile=certs.ca)
    async with asyncio_serving(broker, ssl_context=server_context) as server:
        async with amqp10.asyncio.connect(f"amqps://localhost:{server.port}", ssl_context=client_context, timeout=5, busy_poll=5.0) as conn:
            assert conn._sync.pump._read_fd is None
            async with conn.open_requester("echo") as requester:
                assert (await requester.request(Message(body="over tls"), timeout=5)).body == "over tls"


@trio_test
async def test_trio_a_polling_wait_is_cancelled_like_a_parked_one(broker: QueueBroker) -> None:
    async with trio_serving(broker) as server, amqp10.trio.connect(server.url, timeout=5, busy_poll=5.0) as conn:
        receiver = await conn.open_receiver("nothing-yet")
        with trio.move_on_after(0.05) as scope:
            await receiver.receive(timeout=5)  # polls until cancelled: the budget outlasts it
        assert scope.cancelled_caught
        sender = await conn.open_sender("nothing-yet")
        await sender.send(Message(body="after the cancel"))
        assert (await receiver.receive(timeout=5)).message.body == "after the cancel"


@asyncio_test
async def test_asyncio_a_polling_wait_is_cancelled_like_a_parked_one(broker: QueueBroker) -> None:
    import asyncio

    async with asyncio_serving(broker) as server, amqp10.asyncio.connect(server.url, timeout=5, busy_poll=5.0) as conn:
        receiver = await conn.open_receiver("nothing-yet")
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(receiver.receive(timeout=5), 0.05)
        sender = await conn.open_sender("nothing-yet")
        await sender.send(Message(body="after the cancel"))
        assert (await receiver.receive(timeout=5)).message.body == "after the cancel"
