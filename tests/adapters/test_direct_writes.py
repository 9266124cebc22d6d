"""The async adapters write a command's frames from the calling task when the connection is
idle (``Pump.kick``), not by waking the pump's writer task; frames that can wait (a delivery's
accept) still reach the peer without another command.

Each test blocks the event loop's thread after the command (``time.sleep``, no ``await``), so
no other task can run meanwhile: what the embedded peer (the blocking listener, on its own
thread) sees then was written by the calling task itself. Waits are bounded; nothing is timed.

A reply's accept is a delayed acknowledgement (``ClientCore.ack_delayed``), on every adapter:
``request`` returns without writing it, the caller's next request carries it in the same
write, and without a next request it goes out alone within ``ACK_DELAY``, with no wake-up of
the I/O thread or writer task per call. The broker holds each reply on the requester's
dynamic queue until the accept settles it, so what it holds says what the requester wrote.
The "waits" tests set ``ACK_DELAY`` to a minute: only a request can have carried an accept
the broker has seen.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

import pytest

import amqp10
import amqp10._async_client
import amqp10.blocking._client
from amqp10 import Message, Properties
from amqp10._options import DEFAULT_CREDIT
from amqp10.peer.server import EmbeddedPeer, start
from support.async_adapters import AsyncAdapter, each_async_adapter
from support.broker import QueueBroker

#: how long a test waits, at most, for the peer to see what it expects
BOUND = 5.0


def _held(peer: EmbeddedPeer, address: str) -> int:
    def held(broker: Any) -> int:
        node = broker.node(address)
        return 0 if node is None else int(node.held)

    return peer.call(held)


def _block_until(condition: Callable[[], bool]) -> bool:
    """Poll ``condition`` with the calling thread blocked (the event loop cannot run) until it
    holds or ``BOUND`` seconds pass; whether it held."""
    end = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.005)
    return True


@each_async_adapter
async def test_Sender_submit_writes_the_message_before_the_task_yields_when_the_connection_is_idle(adapter: AsyncAdapter) -> None:
    with start("127.0.0.1", 0) as peer:
        async with adapter.connect(peer.url, timeout=5) as conn:
            sender = await conn.open_sender("direct")
            await sender.send(Message(body="first"))  # the peer's credit is here
            assert _held(peer, "direct") == 1
            tracker = await sender.submit(Message(body="second"))
            # No await from here: the pump's tasks cannot run, so only the submitting task
            # can have written the message.
            assert _block_until(lambda: _held(peer, "direct") == 2)
            assert await tracker.wait(timeout=5) is not None


@each_async_adapter
async def test_a_receivers_accept_reaches_the_peer_without_another_command(adapter: AsyncAdapter) -> None:
    # An accept alone is left to the pump's writer (so accepts are batched, and a reply's
    # accept rides with the next request); it must still go out on its own.
    with start("127.0.0.1", 0) as peer:
        async with adapter.connect(peer.url, timeout=5) as conn:
            sender = await conn.open_sender("accepted")
            receiver = await conn.open_receiver("accepted", credit=10)
            await sender.send(Message(body="one"))
            delivery = await receiver.receive(timeout=5)
            assert _held(peer, "accepted") == 1
            delivery.accept()
            assert await _eventually(adapter, lambda: _held(peer, "accepted") == 0)


@each_async_adapter
async def test_Requester_request_replies_are_accepted_at_the_peer_without_another_request(adapter: AsyncAdapter) -> None:
    with start("127.0.0.1", 0) as peer:
        stop = threading.Event()
        service = threading.Thread(target=_echo_service, args=(peer.url, stop), daemon=True)
        service.start()
        try:
            async with adapter.connect(peer.url, timeout=5) as conn:
                requester = await conn.open_requester("service")
                for n in range(3):
                    assert (await requester.request(Message(body=n), timeout=5)).body == n
                reply_to = requester.receiver.address
                assert reply_to is not None
                # The last reply's accept waits for no next request: the peer settles it.
                assert await _eventually(adapter, lambda: _held(peer, reply_to) == 0)
        finally:
            stop.set()
            service.join(BOUND)


def _echo_service(url: str, stop: threading.Event) -> None:
    """Answer requests on ``service`` from a blocking client until ``stop`` is set."""
    with amqp10.connect(url, timeout=5) as conn:
        receiver = conn.open_receiver("service", credit=10)
        replier = conn.open_sender(None)  # anonymous: each reply goes by its "to"
        while not stop.is_set():
            try:
                delivery = receiver.receive(timeout=0.1)
            except amqp10.Timeout:
                continue
            request = delivery.message
            assert request.properties is not None
            reply = Message(body=request.body, properties=Properties(to=request.properties.reply_to, correlation_id=request.properties.message_id))
            replier.send(reply, timeout=5)
            delivery.accept()


async def _eventually(adapter: AsyncAdapter, condition: Callable[[], bool]) -> bool:
    """Yield to the event loop until ``condition`` holds or ``BOUND`` seconds pass."""
    end = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > end:
            return False
        if adapter.name == "trio":
            import trio

            await trio.sleep(0.005)
        else:
            import asyncio

            await asyncio.sleep(0.005)
    return True


#: longer than any test: an accept the broker sees was carried by a request
_NEVER = 60.0
#: how long a test lets the client idle to show an accept was *not* written meanwhile
_PAUSE = 0.3


@pytest.fixture
def echo_peer() -> Iterator[EmbeddedPeer]:
    with start("127.0.0.1", 0) as peer:
        stop = threading.Event()
        service = threading.Thread(target=_echo_service, args=(peer.url, stop), daemon=True)
        service.start()
        try:
            yield peer
        finally:
            stop.set()
            service.join(BOUND)


def _no_timely_ack(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where the adapters read it: the blocking one, and the driver both async ones share.
    for module in (amqp10.blocking._client, amqp10._async_client):
        monkeypatch.setattr(module, "ACK_DELAY", _NEVER)


def test_blocking_a_replys_accept_waits_for_the_next_request_and_rides_with_it(echo_peer: EmbeddedPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_timely_ack(monkeypatch)
    with amqp10.connect(echo_peer.url, timeout=5) as conn, conn.open_requester("service") as requester:
        assert requester.request(Message(body=1), timeout=5).body == 1
        reply_to = requester.receiver.address
        assert reply_to is not None
        time.sleep(_PAUSE)
        assert _held(echo_peer, reply_to) == 1  # not written on its own
        assert requester.request(Message(body=2), timeout=5).body == 2
        # The first reply's accept went out with the second request; the second's waits.
        assert _block_until(lambda: _held(echo_peer, reply_to) == 1)
        assert requester.request(Message(body=3), timeout=5).body == 3
        time.sleep(_PAUSE)
        assert _held(echo_peer, reply_to) == 1


#: connections in the test below: enough that a race hit a few times in a hundred shows
_ROUNDS = 60


def test_blocking_a_replys_accept_stays_delayed_whichever_thread_reads_the_reply(echo_peer: EmbeddedPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fresh connection's first reply may be read by the I/O thread (it still watches the
    # socket until the caller's wait takes over reading), or by the caller while the I/O
    # thread wakes for the same bytes and finds them gone. Neither may make the I/O thread's
    # next turn write the accept the caller queued meanwhile: before the reactor's read and
    # its turn shared one hold of the lock, and an empty read asked for no turn, a few first
    # accepts in a hundred went out on their own.
    _no_timely_ack(monkeypatch)
    sent_alone = 0
    for n in range(_ROUNDS):
        with amqp10.connect(echo_peer.url, timeout=5) as conn, conn.open_requester("service") as requester:
            assert requester.request(Message(body=n), timeout=5).body == n
            reply_to = requester.receiver.address
            assert reply_to is not None
            time.sleep(0.05)
            sent_alone += _held(echo_peer, reply_to) != 1
    assert sent_alone == 0, f"{sent_alone} of {_ROUNDS} first accepts were written on their own"


def test_blocking_a_replys_accept_goes_out_alone_without_another_request(echo_peer: EmbeddedPeer) -> None:
    with amqp10.connect(echo_peer.url, timeout=5) as conn, conn.open_requester("service") as requester:
        for n in range(3):
            assert requester.request(Message(body=n), timeout=5).body == n
        reply_to = requester.receiver.address
        assert reply_to is not None
        # Nothing else happens on this connection: the I/O thread writes it by ACK_DELAY.
        assert _block_until(lambda: _held(echo_peer, reply_to) == 0)


def test_blocking_requests_from_several_threads_leave_no_reply_unaccepted(echo_peer: EmbeddedPeer) -> None:
    with amqp10.connect(echo_peer.url, timeout=5) as conn, conn.open_requester("service") as requester:
        failures: list[BaseException] = []

        def calls(base: int) -> None:
            try:
                for n in range(base, base + 20):
                    assert requester.request(Message(body=n), timeout=5).body == n
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        threads = [threading.Thread(target=calls, args=(100 * k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND * 4)
        assert not failures
        reply_to = requester.receiver.address
        assert reply_to is not None
        assert _block_until(lambda: _held(echo_peer, reply_to) == 0)


@each_async_adapter
async def test_async_a_replys_accept_waits_for_the_next_request_and_rides_with_it(adapter: AsyncAdapter, echo_peer: EmbeddedPeer, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_timely_ack(monkeypatch)
    async with adapter.connect(echo_peer.url, timeout=5) as conn:
        requester = await conn.open_requester("service")
        assert (await requester.request(Message(body=1), timeout=5)).body == 1
        reply_to = requester.receiver.address
        assert reply_to is not None
        # Let every task run for a while: no writer turn writes the accept on its own.
        await _pause(adapter, _PAUSE)
        assert _held(echo_peer, reply_to) == 1
        assert (await requester.request(Message(body=2), timeout=5)).body == 2
        assert await _eventually(adapter, lambda: _held(echo_peer, reply_to) == 1)
        await _pause(adapter, _PAUSE)
        assert _held(echo_peer, reply_to) == 1


# A requester tops up its reply credit (window DEFAULT_CREDIT) once half is used; while what
# is left covers every reply awaited, that FLOW waits for the next request like an accept.
# The echo listener's view of its reply link's credit says what the requester wrote.


@pytest.fixture
def echo_listener() -> Iterator[tuple[amqp10.blocking.Listener, QueueBroker]]:
    broker = QueueBroker()
    with amqp10.listen("127.0.0.1", 0, broker) as listener:
        yield listener, broker


def _reply_credit(echo: tuple[amqp10.blocking.Listener, QueueBroker], reply_to: str) -> int:
    listener, broker = echo
    return listener.call(lambda: int(broker.consumers[reply_to][0].credit.link_credit))


def test_blocking_a_requesters_credit_top_up_rides_with_the_next_request(echo_listener: tuple[amqp10.blocking.Listener, QueueBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    _no_timely_ack(monkeypatch)
    half = DEFAULT_CREDIT // 2
    with amqp10.connect(echo_listener[0].url, timeout=5) as conn, conn.open_requester("echo") as requester:
        reply_to = requester.receiver.address
        assert reply_to is not None
        for n in range(half):
            assert requester.request(Message(body=n), timeout=5).body == n
        time.sleep(_PAUSE)
        assert _reply_credit(echo_listener, reply_to) == DEFAULT_CREDIT - half  # no FLOW alone
        assert requester.request(Message(body="next"), timeout=5).body == "next"
        # The FLOW (back to the window) came with that request, before its reply used one.
        assert _reply_credit(echo_listener, reply_to) == DEFAULT_CREDIT - 1


@each_async_adapter
async def test_async_a_requesters_credit_top_up_rides_with_the_next_request(adapter: AsyncAdapter, echo_listener: tuple[amqp10.blocking.Listener, QueueBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    _no_timely_ack(monkeypatch)
    half = DEFAULT_CREDIT // 2
    async with adapter.connect(echo_listener[0].url, timeout=5) as conn:
        requester = await conn.open_requester("echo")
        reply_to = requester.receiver.address
        assert reply_to is not None
        for n in range(half):
            assert (await requester.request(Message(body=n), timeout=5)).body == n
        await _pause(adapter, _PAUSE)
        assert _reply_credit(echo_listener, reply_to) == DEFAULT_CREDIT - half
        assert (await requester.request(Message(body="next"), timeout=5)).body == "next"
        assert _reply_credit(echo_listener, reply_to) == DEFAULT_CREDIT - 1


def test_blocking_more_callers_than_the_reply_credit_all_get_replies_with_no_accept_timer(echo_listener: tuple[amqp10.blocking.Listener, QueueBroker], monkeypatch: pytest.MonkeyPatch) -> None:
    # More callers wait than the credit left covers, each making one request: the top-ups
    # must still reach the peer (``_top_up`` writes at once when the credit left does not
    # cover the awaited replies; the waits of the other threads also get the I/O thread
    # writing), or the last replies would never be sent.
    _no_timely_ack(monkeypatch)
    callers = 3 * DEFAULT_CREDIT
    with amqp10.connect(echo_listener[0].url, timeout=5) as conn, conn.open_requester("echo") as requester:
        start_together = threading.Barrier(callers)
        failures: list[BaseException] = []
        answered: list[int] = []

        def call(n: int) -> None:
            try:
                start_together.wait(BOUND)
                answered.append(requester.request(Message(body=n), timeout=BOUND).body)
            except BaseException as exc:  # reported below, not lost in the thread
                failures.append(exc)

        threads = [threading.Thread(target=call, args=(n,)) for n in range(callers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BOUND * 2)
        assert not failures
        assert sorted(answered) == list(range(callers))


async def _pause(adapter: AsyncAdapter, seconds: float) -> None:
    """Yield to the event loop (every task may run) for ``seconds``."""
    if adapter.name == "trio":
        import trio

        await trio.sleep(seconds)
    else:
        import asyncio

        await asyncio.sleep(seconds)
