from __future__ import annotations

import pytest

from amqp10.codec.spec import (
    Accepted,
    Modified,
    ReceiverSettleMode,
    Received,
    Rejected,
    Released,
    SenderSettleMode,
    TransactionalState,
)
from amqp10.engine.events import DeliveryReceived, DeliverySettled, DeliveryUpdated
from amqp10.errors import LocalProtocolError

from support.engine_pairs import link_pair, of_type, opened_pair


def _received(pair, sender, count=1, **send):  # type: ignore[no-untyped-def]
    deliveries = [sender.send(b"m%d" % i, **send) for i in range(count)]
    _, s = pair.pump()
    return deliveries, [e.delivery for e in of_type(s, DeliveryReceived)]


def _setup(**sender_options):  # type: ignore[no-untyped-def]
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair, sender_options=sender_options)
    receiver.flow(100)
    pair.pump()
    return pair, sender, receiver


@pytest.mark.parametrize(
    "settle_call,state_type",
    [
        (lambda d: d.accept(), Accepted),
        (lambda d: d.reject("amqp:invalid-field", "bad body"), Rejected),
        (lambda d: d.release(), Released),
        (lambda d: d.modify(delivery_failed=True, undeliverable_here=True, message_annotations={"x": 1}), Modified),
    ],
)
def test_each_outcome_reaches_the_sender_with_settlement(settle_call, state_type) -> None:  # type: ignore[no-untyped-def]
    pair, sender, _ = _setup()
    (sent,), (got,) = _received(pair, sender)
    settle_call(got)
    c, _ = pair.pump()
    (updated,) = of_type(c, DeliveryUpdated)
    assert isinstance(updated.state, state_type) and updated.settled
    assert of_type(c, DeliverySettled)[0].delivery is sent
    assert isinstance(sent.remote_state, state_type) and sent.remote_settled
    if state_type is Rejected:
        assert sent.remote_state.error.condition == "amqp:invalid-field"
    if state_type is Modified:
        assert sent.remote_state.message_annotations == {"x": 1}


def test_presettled_deliveries_need_no_disposition() -> None:
    pair, sender, _ = _setup(snd_settle_mode=SenderSettleMode.SETTLED)
    (sent,), (got,) = _received(pair, sender)
    assert sent.settled and got.remote_settled and got.settled
    with pytest.raises(LocalProtocolError):
        got.accept()
    assert pair.server.data_to_send() == b""


def test_unsettled_mode_refuses_a_presettled_send() -> None:
    pair, sender, _ = _setup(snd_settle_mode=SenderSettleMode.UNSETTLED)
    with pytest.raises(LocalProtocolError):
        sender.send(b"x", settled=True)


def test_mixed_mode_allows_both() -> None:
    pair, sender, _ = _setup()
    a = sender.send(b"a", settled=True)
    b = sender.send(b"b")
    _, s = pair.pump()
    got = [e.delivery for e in of_type(s, DeliveryReceived)]
    assert [g.remote_settled for g in got] == [True, False]
    assert a.settled and not b.settled


def test_rcv_settle_mode_second_settles_after_the_sender() -> None:
    pair, sender, _ = _setup(rcv_settle_mode=ReceiverSettleMode.SECOND)
    (sent,), (got,) = _received(pair, sender)
    got.accept()  # second mode: the outcome goes unsettled
    c, _ = pair.pump()
    (updated,) = of_type(c, DeliveryUpdated)
    assert isinstance(updated.state, Accepted) and not updated.settled
    assert not got.settled
    sent.settle()
    _, s = pair.pump()
    assert of_type(s, DeliverySettled)[0].delivery is got
    assert got.settled and got.remote_settled


def test_consecutive_dispositions_go_out_as_one_range() -> None:
    pair, sender, _ = _setup()
    sent, got = _received(pair, sender, count=5)
    for d in got:
        d.accept()
    data = pair.server.data_to_send()
    from amqp10.framing import FrameReader
    from amqp10.framing.performatives import decode_body

    reader = FrameReader(1 << 16)
    reader.feed(data)
    (disposition,) = [decode_body(f)[0] for f in reader.read_frames()]
    assert (disposition.first, disposition.last) == (got[0].id, got[-1].id)
    c = pair.client.receive_data(data)
    assert len(of_type(c, DeliverySettled)) == 5
    assert all(s.remote_settled for s in sent)


def test_received_state_and_unsettled_update_then_settle() -> None:
    pair, sender, _ = _setup()
    (sent,), (got,) = _received(pair, sender)
    got.update(Received(section_number=1, section_offset=10))
    c, _ = pair.pump()
    (u,) = of_type(c, DeliveryUpdated)
    assert isinstance(u.state, Received) and not u.settled and not sent.remote_settled
    got.accept()
    c, _ = pair.pump()
    assert of_type(c, DeliverySettled)


def test_transactional_state_passes_through_untouched() -> None:
    pair, sender, _ = _setup()
    (sent,), (got,) = _received(pair, sender)
    state = TransactionalState(txn_id=b"tx-1", outcome=Accepted())
    got.update(state, settle=True)
    c, _ = pair.pump()
    assert of_type(c, DeliveryUpdated)[0].state == state


def test_sender_settling_first_informs_the_receiver() -> None:
    pair, sender, _ = _setup()
    (sent,), (got,) = _received(pair, sender)
    sent.update(Released(), settle=True)
    _, s = pair.pump()
    assert of_type(s, DeliverySettled)[0].delivery is got
    assert isinstance(got.remote_state, Released)


def test_updating_a_settled_delivery_is_local_misuse() -> None:
    pair, sender, _ = _setup()
    (sent,), (got,) = _received(pair, sender)
    got.accept()
    with pytest.raises(LocalProtocolError):
        got.reject()
