"""A blocking wait that watches one thing (a receive, a request's reply) reads the socket in
the waiting thread ("leader"), and while it does the I/O thread does not watch that socket for
reading: what arrives wakes and is read by the waiting thread only, and once the wait ends the
I/O thread reads again. Waits are bounded; nothing is timed.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import amqp10
from amqp10 import Message
from amqp10.blocking import Listener
from amqp10.blocking._reactor import Channel

BOUND = 5.0


def _until(condition: Callable[[], bool]) -> bool:
    end = time.monotonic() + BOUND
    while not condition():
        if time.monotonic() > end:
            return False
        time.sleep(0.002)
    return True


def _record_reads(monkeypatch: Any) -> list[tuple[Channel, threading.Thread]]:
    reads: list[tuple[Channel, threading.Thread]] = []
    original = Channel.on_readable

    def on_readable(self: Channel) -> None:
        reads.append((self, threading.current_thread()))
        original(self)

    monkeypatch.setattr(Channel, "on_readable", on_readable)
    return reads


def test_a_delivery_arriving_while_a_thread_waits_in_receive_is_read_by_that_thread_only(listener: Listener, monkeypatch: Any) -> None:
    reads = _record_reads(monkeypatch)
    with amqp10.connect(listener.url, timeout=5) as conn, amqp10.connect(listener.url, timeout=5) as other:
        receiver = conn.open_receiver("leader-q", credit=10)
        sender = other.open_sender("leader-q")
        channel = conn._sync.channel
        assert channel is not None
        got: list[Any] = []
        waiter = threading.Thread(target=lambda: got.append(receiver.receive(timeout=BOUND)))
        waiter.start()
        try:
            assert _until(lambda: channel.leaders == 1)  # the waiter sleeps in select, leading
            del reads[:]
            sender.send(Message(body="to the leader"))
        finally:
            waiter.join(BOUND + 1)
        assert [d.message.body for d in got] == ["to the leader"]
        mine = [thread for ch, thread in reads if ch is channel]
        assert mine and all(thread is waiter for thread in mine)
        assert channel.leaders == 0


def test_the_io_thread_reads_again_after_the_leading_wait_ended(listener: Listener, monkeypatch: Any) -> None:
    reads = _record_reads(monkeypatch)
    with amqp10.connect(listener.url, timeout=5) as conn, amqp10.connect(listener.url, timeout=5) as other:
        receiver = conn.open_receiver("leader-q2", credit=10)
        sender = other.open_sender("leader-q2")
        with conn.open_requester("echo") as requester:
            assert requester.request(Message(body="ping"), timeout=5).body == "ping"
        channel = conn._sync.channel
        assert channel is not None and channel.leaders == 0
        del reads[:]
        sender.send(Message(body="while nobody waits"))
        # Nobody waits: only the I/O thread can take the delivery in (receive() would lead).
        assert _until(lambda: any(ch is channel for ch, _ in reads))
        assert all(thread is not threading.current_thread() for ch, thread in reads if ch is channel)
        assert receiver.receive(timeout=5).message.body == "while nobody waits"
