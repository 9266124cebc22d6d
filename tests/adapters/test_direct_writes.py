"""The async adapters write a command's frames from the calling task when the connection is
idle (``Pump.kick``), not by waking the pump's writer task; frames that can wait (a delivery's
accept) still reach the peer without another command.

Each test blocks the event loop's thread after the command (``time.sleep``, no ``await``), so
no other task can run meanwhile: what the embedded peer (the blocking listener, on its own
thread) sees then was written by the calling task itself. Waits are bounded; nothing is timed.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import amqp10
from amqp10 import Message, Properties
from amqp10.peer.server import EmbeddedPeer, start
from support.async_adapters import AsyncAdapter, each_async_adapter

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
