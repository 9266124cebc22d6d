"""A leading blocking wait polls its socket for up to ``busy_poll`` seconds before sleeping,
only while the answers it waits for have mostly come that fast: a wait whose answers come late
sleeps at once, and polling resumes when answers speed up again. Sockets are real
(a socketpair); what is counted is which ``select`` calls were made, never how long they took.
"""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

import amqp10
import amqp10.blocking._client as client
from amqp10 import Message
from amqp10.blocking import Listener
from amqp10.blocking._client import _BusyPoller

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
        assert poller.hits < 0.5
        del timeouts[:]
        assert _late_wait(poller, ours, theirs) == [ours]
        assert timeouts == [5.0]  # straight to sleep: one select, no polls


def test_polling_resumes_once_answers_come_within_the_budget_again(monkeypatch: Any) -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        poller = _BusyPoller(BUDGET)
        for _ in range(6):
            _late_wait(poller, ours, theirs)
        assert poller.hits < 0.5
        for _ in range(20):  # answers already there when the wait begins: within any budget
            theirs.send(b"x")
            assert poller.wait([ours], 5.0) == [ours]
            ours.recv(16)
        assert poller.hits >= 0.5
        timeouts = _record_selects(monkeypatch)
        _late_wait(poller, ours, theirs)
        assert timeouts[0] == 0 and timeouts[-1] == 5.0  # polled first, then slept


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
        assert conn._sync._poller.budget == 0.001
        for i in range(20):
            assert requester.request(Message(body=f"call-{i}"), timeout=5).body == f"call-{i}"


@pytest.mark.parametrize("value", [-0.001, float("nan")])
def test_a_negative_or_nan_busy_poll_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="busy_poll"):
        amqp10.connect("amqp://127.0.0.1:1", busy_poll=value)
