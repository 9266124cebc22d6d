"""Queue and Topic bookkeeping on their own, with plain consumer objects (no engine needed)."""

from __future__ import annotations

import pytest

from typing import Callable

from amqp10.peer.nodes import NodeLimits, Queue, StoredMessage, Topic


class Taker:
    """A consumer that takes up to ``credit`` messages it ``wants`` and remembers them."""

    def __init__(self, credit: int, wants: Callable[[StoredMessage], bool] = lambda m: True) -> None:
        self.credit = credit
        self.wants = wants
        self.got: list[StoredMessage] = []

    def capacity(self) -> int:
        return self.credit

    def deliver(self, queue: Queue, message: StoredMessage) -> None:
        self.credit -= 1
        self.got.append(message)

    def accepts(self, message: StoredMessage) -> bool:
        return self.wants(message)


class Looker(Taker):
    """A browser: shown up to ``credit`` messages, takes none."""

    def browse(self, message: StoredMessage) -> None:
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


# -- filters and browsers --------------------------------------------------------------------


def _odd(message: StoredMessage) -> bool:
    return message.payload[0] % 2 == 1


def test_Queue_leaves_messages_a_selective_consumer_does_not_accept_for_other_consumers() -> None:
    queue = Queue("q", NodeLimits())
    picky = Taker(credit=10, wants=_odd)
    queue.add_consumer(picky)
    for message in _messages(6):
        queue.put(message)
    assert queue.dispatch() == 3
    assert [m.payload[0] for m in picky.got] == [1, 3, 5]
    assert [m.payload[0] for m in queue.ready_messages()] == [0, 2, 4]
    anyone = Taker(credit=10)
    queue.add_consumer(anyone)
    queue.dispatch()
    assert [m.payload[0] for m in anyone.got] == [0, 2, 4]
    assert queue.depth == 0


def test_Queue_hands_a_selective_consumer_a_later_match_when_the_head_matches_nobody() -> None:
    queue = Queue("q", NodeLimits())
    picky = Taker(credit=1, wants=_odd)
    queue.add_consumer(picky)
    for message in _messages(4):
        queue.put(message)
    assert queue.dispatch() == 1
    assert [m.payload[0] for m in picky.got] == [1]
    assert [m.payload[0] for m in queue.ready_messages()] == [0, 2, 3]


def test_Topic_puts_a_copy_only_in_the_subscriptions_whose_filters_accept_it() -> None:
    topic = Topic("t", NodeLimits())
    odd, every = Taker(credit=10, wants=_odd), Taker(credit=10)
    topic.subscribe(odd)
    topic.subscribe(every)
    for message in _messages(4):
        topic.put(message)
    topic.dispatch()
    assert [m.payload[0] for m in odd.got] == [1, 3]
    assert [m.payload[0] for m in every.got] == [0, 1, 2, 3]


def test_Queue_shows_a_browser_each_message_once_and_keeps_them_for_consumers() -> None:
    queue = Queue("q", NodeLimits())
    browser = Looker(credit=2)
    queue.add_browser(browser)
    for message in _messages(3):
        queue.put(message)
    assert queue.dispatch() == 2
    browser.credit = 10
    queue.dispatch()
    queue.dispatch()
    assert [m.payload[0] for m in browser.got] == [0, 1, 2]
    assert queue.depth == 3 and queue.held == 3
    taker = Taker(credit=10)
    queue.add_consumer(taker)
    queue.dispatch()
    assert [m.payload[0] for m in taker.got] == [0, 1, 2]


def test_Queue_gives_each_browser_its_own_cursor() -> None:
    queue = Queue("q", NodeLimits())
    first = Looker(credit=10)
    queue.add_browser(first)
    for message in _messages(2):
        queue.put(message)
    queue.dispatch()
    second = Looker(credit=10)
    queue.add_browser(second)
    queue.put(StoredMessage(bytes([2])))
    queue.dispatch()
    assert [m.payload[0] for m in first.got] == [0, 1, 2]
    assert [m.payload[0] for m in second.got] == [0, 1, 2]


def test_Queue_does_not_show_a_browser_a_released_message_it_already_saw() -> None:
    queue = Queue("q", NodeLimits())
    browser = Looker(credit=10)
    queue.add_browser(browser)
    taker = Taker(credit=1)
    queue.add_consumer(taker)
    queue.put(StoredMessage(b"\x00"))
    queue.dispatch()
    assert len(browser.got) == 1 and len(taker.got) == 1
    queue.give_back(taker.got)
    queue.dispatch()
    assert len(browser.got) == 1


def test_Queue_shows_a_browser_a_message_given_back_before_it_saw_it_in_arrival_order() -> None:
    queue = Queue("q", NodeLimits())
    browser = Looker(credit=0)
    queue.add_browser(browser)
    taker = Taker(credit=1)
    queue.add_consumer(taker)
    for message in _messages(3):
        queue.put(message)
    queue.dispatch()
    assert [m.payload[0] for m in taker.got] == [0]
    queue.give_back(taker.got)  # released: back at the front, ahead of 1 and 2
    browser.credit = 2
    queue.dispatch()
    browser.credit = 10
    queue.dispatch()
    assert [m.payload[0] for m in browser.got] == [0, 1, 2]
    queue.put(StoredMessage(b"\x03"))
    queue.dispatch()
    assert [m.payload[0] for m in browser.got] == [0, 1, 2, 3]
