"""A blocking wait that watches one thing (a receive, a request's reply) reads the socket in
the waiting thread ("leader"), and while it does the I/O thread does not watch that socket for
reading: what arrives wakes and is read by the waiting thread only. Once the wait ends the I/O
thread reads again by ACK_DELAY (so back-to-back requests do not change the selector's
registration each call), or at once when a wait that does not read the socket itself begins.
Waits are bounded; nothing is timed.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

import amqp10
import amqp10.blocking._client
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

    def on_readable(self: Channel) -> bool:
        reads.append((self, threading.current_thread()))
        return original(self)

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


def _count_selector_changes(conn: Any, monkeypatch: Any) -> list[str]:
    changes: list[str] = []
    selector = conn._sync.reactor._selector
    for name in ("register", "unregister", "modify"):
        original = getattr(selector, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            changes.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(selector, name, counted)
    return changes


def test_back_to_back_requests_leave_the_sockets_selector_registration_alone(listener: Listener, monkeypatch: Any) -> None:
    # The I/O thread takes reading up again only by ACK_DELAY after a leading wait; made long
    # here, so no turn of its own can change the registration while the requests run.
    monkeypatch.setattr(amqp10.blocking._client, "ACK_DELAY", 60.0)
    with amqp10.connect(listener.url, timeout=5) as conn, conn.open_requester("echo") as requester:
        assert requester.request(Message(body=0), timeout=5).body == 0
        changes = _count_selector_changes(conn, monkeypatch)
        for n in range(1, 21):
            assert requester.request(Message(body=n), timeout=5).body == n
        # It was two per request (stop reading, read again): 40 here. A turn the I/O thread
        # takes for its own reasons between two requests may still add a pair now and then.
        assert len(changes) <= 4, changes


def test_a_wait_that_does_not_read_the_socket_itself_resumes_the_io_threads_reading_at_once(listener: Listener, monkeypatch: Any) -> None:
    monkeypatch.setattr(amqp10.blocking._client, "ACK_DELAY", 60.0)
    with amqp10.connect(listener.url, timeout=5) as conn, conn.open_requester("echo") as requester:
        assert requester.request(Message(body="ping"), timeout=5).body == "ping"
        channel = conn._sync.channel
        assert channel is not None and channel.leaders == 0
        # Attaching waits for the peer's ATTACH, which only the I/O thread reads: it must not
        # wait out the linger (60 s here) after the request's leading wait.
        sender = conn.open_sender("elsewhere", timeout=2)
        assert sender.send(Message(body="after a request"), timeout=2) is not None


def test_a_leading_wait_that_ends_while_another_thread_waits_on_the_io_thread_hands_reading_back_at_once(listener: Listener, monkeypatch: Any) -> None:
    monkeypatch.setattr(amqp10.blocking._client, "ACK_DELAY", 60.0)  # no turn ends the linger
    with amqp10.connect(listener.url, timeout=5) as conn, conn.open_requester("held") as requester:
        channel = conn._sync.channel
        assert channel is not None
        # A leads (waiting for a reply that never comes); B waits for an ATTACH, which only
        # the I/O thread reads for it. The listener answers B only after A's wait ended.
        leading = threading.Thread(target=lambda: _ignore_timeout(lambda: requester.request(Message(body="no reply"), timeout=1.0)))
        leading.start()
        assert _until(lambda: channel.leaders == 1)
        held, gate = threading.Event(), threading.Event()
        blocker = threading.Thread(target=lambda: listener.call(lambda: (held.set(), gate.wait(BOUND))))
        blocker.start()
        assert held.wait(BOUND)  # the listener is stopped until the gate opens
        senders: list[Any] = []
        follower = threading.Thread(target=lambda: senders.append(conn.open_sender("after-the-lead", timeout=BOUND)))
        follower.start()
        assert _until(lambda: conn._sync._followers == 1)
        leading.join(BOUND)
        assert not leading.is_alive() and channel.leaders == 0
        gate.set()
        blocker.join(BOUND)
        follower.join(BOUND + 1)
        assert len(senders) == 1  # without the hand-back nobody read the ATTACH: timed out


def _ignore_timeout(call: Callable[[], Any]) -> None:
    try:
        call()
    except amqp10.Timeout:
        pass
