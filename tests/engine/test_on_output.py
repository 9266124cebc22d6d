"""``Connection.on_output`` tells a server adapter which connections have output: it is called
once when output is queued after ``data_to_send()`` last drained the connection, so an adapter
flushes the connections a handler wrote to without asking every connection."""

from __future__ import annotations

from amqp10.engine.events import DeliveryReceived
from support.engine_pairs import link_pair, of_type, opened_pair


def _count(conn: object) -> list[int]:
    calls = [0]

    def noted() -> None:
        calls[0] += 1

    conn.on_output = noted  # type: ignore[attr-defined]
    return calls


def test_on_output_is_called_once_for_several_frames_queued_before_a_drain() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(10)
    pair.pump()
    calls = _count(pair.client)
    sender.send(b"one")
    sender.send(b"two")
    assert calls == [1]
    assert pair.client.data_to_send()
    sender.send(b"three")
    assert calls == [2]


def test_on_output_is_not_called_for_frames_data_to_send_writes_itself() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(b"payload")
    _, server_events = pair.pump()
    (received,) = of_type(server_events, DeliveryReceived)
    calls = _count(pair.server)
    received.delivery.accept()  # batched: noted now, written by data_to_send
    assert calls == [1]
    assert pair.server.data_to_send()
    assert calls == [1]
    assert pair.server.data_to_send() == b""
    assert calls == [1]


def test_on_output_is_called_when_a_disposition_is_batched() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    sender.send(b"payload")
    _, server_events = pair.pump()
    (received,) = of_type(server_events, DeliveryReceived)
    pair.server.data_to_send()
    calls = _count(pair.server)
    received.delivery.accept()
    assert calls == [1] and pair.server.has_data_to_send


def test_on_output_is_not_called_while_nothing_is_written() -> None:
    pair = opened_pair()
    link_pair(pair)
    calls = _count(pair.client)
    pair.client.tick(0.0)
    assert pair.client.data_to_send() == b""
    assert calls == [0]
