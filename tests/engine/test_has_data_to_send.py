"""``Connection.has_data_to_send`` tells an adapter whether ``data_to_send()`` has bytes for it,
without taking them: what a server adapter checks on every connection after a handler call."""

from __future__ import annotations

from amqp10.engine.events import DeliveryReceived
from support.engine_pairs import link_pair, of_type, opened_pair


def test_Connection_has_no_data_to_send_when_everything_was_taken() -> None:
    pair = opened_pair()
    link_pair(pair)
    assert not pair.client.has_data_to_send and not pair.server.has_data_to_send
    assert pair.client.data_to_send() == b""


def test_Connection_has_data_to_send_when_a_delivery_was_queued_with_credit() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(b"payload")
    assert pair.client.has_data_to_send
    assert pair.client.data_to_send()
    assert not pair.client.has_data_to_send


def test_Connection_has_data_to_send_when_a_disposition_is_batched() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(b"payload")
    _, server_events = pair.pump()
    (received,) = of_type(server_events, DeliveryReceived)
    delivery = received.delivery
    assert not pair.server.has_data_to_send
    delivery.accept()
    assert pair.server.has_data_to_send
    assert pair.server.data_to_send()
    assert not pair.server.has_data_to_send


def test_Connection_has_data_to_send_when_an_idle_sender_owes_a_drain_answer() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(5)
    pair.pump()
    receiver.drain()
    pair.client.receive_data(pair.server.data_to_send())  # the FLOW(drain) reaches the sender
    assert pair.client.has_data_to_send  # nothing queued: the drain is answered at once
    answer = pair.client.data_to_send()
    assert answer and not pair.client.has_data_to_send
    assert sender.credit.link_credit == 0
