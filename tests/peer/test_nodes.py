"""Queue and Topic bookkeeping on their own, with plain consumer objects (no engine needed)."""

from __future__ import annotations

import pytest

from amqp10.peer.nodes import NodeLimits, Queue, StoredMessage, Topic


class Taker:
    """A consumer that takes up to ``credit`` messages and remembers them."""

    def __init__(self, credit: int) -> None:
        self.credit = credit
        self.got: list[StoredMessage] = []

    def capacity(self) -> int:
        return self.credit

    def deliver(self, queue: Queue, message: StoredMessage) -> None:
        self.credit -= 1
        self.got.append(message)


def _messages(n: int) -> list[StoredMessage]:
    return [StoredMessage(bytes([i])) for i in range(n)]


def test_Queue_room_counts_handed_out_messages_until_they_are_removed() -> None:
    queue = Queue("q", NodeLimits(max_messages=3))
    taker = Taker(10)
    queue.add_consumer(taker)
    for m in _messages(3):
        queue.put(m)
    assert queue.room() == 0
    assert queue.dispatch() == 3
    assert queue.depth == 0 and queue.room() == 0
    queue.remove(taker.got[0])
    assert queue.room() == 1


def test_Queue_gives_back_messages_in_order_ahead_of_newer_ones() -> None:
    queue = Queue("q", NodeLimits())
    first = Taker(2)
    queue.add_consumer(first)
    msgs = _messages(4)
    for m in msgs:
        queue.put(m)
    queue.dispatch()
    queue.give_back(first.got)
    assert list(queue.ready_messages()) == msgs


def test_Queue_skips_a_message_every_able_consumer_excluded_without_blocking_the_rest() -> None:
    queue = Queue("q", NodeLimits())
    only = Taker(10)
    queue.add_consumer(only)
    head, *rest = _messages(3)
    head.excluded.add(only)
    queue.put(head)
    for m in rest:
        queue.put(m)
    assert queue.dispatch() == 2
    assert only.got == rest
    assert list(queue.ready_messages()) == [head]
    other = Taker(1)
    queue.add_consumer(other)
    queue.dispatch()
    assert other.got == [head]


def test_Queue_forgets_exclusions_of_a_consumer_when_it_is_removed() -> None:
    queue = Queue("q", NodeLimits())
    gone = Taker(0)
    queue.add_consumer(gone)
    [m] = _messages(1)
    m.excluded.add(gone)
    queue.put(m)
    queue.remove_consumer(gone)
    assert m.excluded == set()


def test_Queue_byte_limit_leaves_no_room_when_reached() -> None:
    queue = Queue("q", NodeLimits(max_messages=100, max_bytes=10))
    queue.put(StoredMessage(b"0123456789"))
    assert queue.room() == 0


def test_Topic_puts_a_copy_in_every_subscription() -> None:
    topic = Topic("topic://t", NodeLimits(max_messages=5))
    a, b = Taker(10), Taker(10)
    topic.subscribe(a)
    topic.subscribe(b)
    topic.put(StoredMessage(b"x"))
    assert topic.dispatch() == 2
    assert a.got[0] is not b.got[0] and a.got[0].payload == b.got[0].payload == b"x"


def test_Topic_room_is_the_fullest_subscriptions_room() -> None:
    topic = Topic("topic://t", NodeLimits(max_messages=2))
    topic.subscribe(Taker(10))
    topic.subscribe(Taker(0))
    for m in _messages(2):
        topic.put(m)
    topic.dispatch()
    assert topic.room() == 0


def test_Topic_counts_a_message_nobody_heard_when_there_are_no_subscribers() -> None:
    topic = Topic("topic://t", NodeLimits())
    topic.put(StoredMessage(b"x"))
    assert topic.unheard == 1 and topic.room() == NodeLimits().max_messages


def test_NodeLimits_refuses_a_limit_below_one() -> None:
    with pytest.raises(ValueError):
        NodeLimits(max_messages=0)
    with pytest.raises(ValueError):
        NodeLimits(max_bytes=0)
