"""A sender's TRANSFER carries the delivery state it is given (spec 2.7.5 ``state``; 4.4.1: a
transactional-state makes the delivery part of a transaction), in one frame or split."""

from __future__ import annotations

import pytest

from amqp10.codec.spec import Transfer, TransactionalState
from amqp10.engine.events import DeliveryReceived
from amqp10.framing import FrameReader
from amqp10.framing.performatives import decode_body

from support.engine_pairs import link_pair, of_type, opened_pair, server_config


@pytest.mark.parametrize("size", [10, 5000])
def test_Sender_send_with_a_state_puts_it_on_the_first_transfer_and_the_receiver_sees_it(size: int) -> None:
    pair = opened_pair(server=server_config(max_frame_size=512))
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(1)
    pair.pump()
    state = TransactionalState(txn_id=b"\x00\x07")
    payload = bytes(i % 251 for i in range(size))
    sender.send(payload, state=state)
    data = pair.client.data_to_send()
    reader = FrameReader(512)
    reader.feed(data)
    transfers = [decode_body(f)[0] for f in reader.read_frames()]
    assert all(isinstance(t, Transfer) for t in transfers)
    assert transfers[0].state == state
    assert [bool(t.more) for t in transfers] == [True] * (len(transfers) - 1) + [False]
    assert (len(transfers) > 1) == (size > 512)
    (got,) = of_type(pair.server.receive_data(data), DeliveryReceived)
    assert got.delivery.remote_state == state
    assert bytes(got.delivery.payload) == payload
