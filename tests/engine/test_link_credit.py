from __future__ import annotations

import pytest

from amqp10.codec.spec import Source, Target, TerminusDurability, TerminusExpiryPolicy, Accepted, Rejected, Released
from amqp10.engine import LinkState
from amqp10.engine.credit import LinkCredit
from amqp10.engine.events import (
    CreditChanged,
    DeliveryReceived,
    LinkAttached,
    LinkDetached,
    LinkRemotelyAttached,
    SessionRemotelyBegun,
)
from amqp10.engine.serial import serial_add, serial_diff, serial_lt
from amqp10.errors import LinkDetachedError, LocalProtocolError
from amqp10.codec.spec import Error, ReceiverSettleMode, SenderSettleMode

from support.engine_pairs import link_pair, of_type, opened_pair, peer_link, pump_accepting


def test_serial_arithmetic_wraps_at_2_to_the_32() -> None:
    top = (1 << 32) - 1
    assert serial_add(top, 1) == 0
    assert serial_diff(0, top) == 1
    assert serial_lt(top, 0)
    assert not serial_lt(0, top)
    assert serial_diff(5, 10) == -5


def test_LinkCredit_sender_credit_accounts_for_transfers_in_flight() -> None:
    credit = LinkCredit(10)
    credit.sender_consume()  # sent one the receiver has not seen yet
    credit.sender_on_flow(10, 5, False)  # receiver's flow written before it saw that one
    assert credit.link_credit == 4


def test_LinkCredit_delivery_count_wraps_when_draining() -> None:
    credit = LinkCredit((1 << 32) - 2)
    credit.sender_on_flow(None, 5, True)
    assert credit.sender_drain() == 5
    assert credit.delivery_count == 3 and credit.link_credit == 0


def test_Receiver_flow_grants_credit_the_sender_sees() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.flow(7)
    c, _ = pair.pump()
    (changed,) = of_type(c, CreditChanged)
    assert changed.link is sender and changed.link_credit == 7 and not changed.drain
    assert sender.credit.link_credit == 7


def test_Sender_queues_without_credit_and_sends_when_credit_arrives() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    for i in range(3):
        sender.send(b"m%d" % i)
    _, s = pair.pump()
    assert of_type(s, DeliveryReceived) == []
    assert sender.queued == 3
    receiver.flow(2)
    _, s = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"m0", b"m1"]
    assert sender.queued == 1 and sender.credit.link_credit == 0
    receiver.flow(5)
    _, s = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"m2"]


def test_Receiver_drain_consumes_all_credit_when_sender_has_nothing() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.drain(10)
    c, s = pair.pump()
    assert of_type(c, CreditChanged)[0].drain
    (drained,) = of_type(s, CreditChanged)
    assert drained.drained and drained.link_credit == 0 and drained.delivery_count == 10
    assert sender.credit.delivery_count == 10 and sender.credit.link_credit == 0
    assert receiver.credit.delivery_count == 10


def test_Receiver_drain_delivers_what_is_queued_then_returns_the_rest() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    sender.send(b"a")
    sender.send(b"b")
    receiver.drain(5)
    _, s = pair.pump()
    assert len(of_type(s, DeliveryReceived)) == 2
    (drained,) = of_type(s, CreditChanged)
    assert drained.drained and drained.link_credit == 0
    assert receiver.credit.delivery_count == 5


def test_Sender_drained_gives_back_credit_early() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    receiver.drain(3)
    c, s = pair.pump()
    # already answered by data_to_send; an explicit call now is a harmless no-op
    sender.drained()
    assert pair.client.data_to_send() == b""


def test_flow_echo_makes_the_sender_report_its_state() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    sender.send(b"x")  # queued: no credit
    receiver.flow(0, echo=True)
    _, s = pair.pump()
    (echoed,) = of_type(s, CreditChanged)
    assert echoed.available == 1 and receiver.credit.available == 1


def test_delivery_count_wraps_across_2_to_the_32_on_both_ends() -> None:
    pair = opened_pair()
    start = (1 << 32) - 2
    sender, receiver, _, _ = link_pair(pair, sender_options={"initial_delivery_count": start})
    assert receiver.credit.delivery_count == start
    receiver.flow(10)
    for i in range(5):
        sender.send(b"%d" % i)
    _, s = pair.pump()
    assert len(of_type(s, DeliveryReceived)) == 5
    assert sender.credit.delivery_count == 3 == receiver.credit.delivery_count
    assert sender.credit.link_credit == 5


def test_attach_carries_every_terminus_field_and_link_option_to_the_peer() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    source = Source(
        address="src",
        durable=TerminusDurability.UNSETTLED_STATE,
        expiry_policy=TerminusExpiryPolicy.NEVER,
        timeout=60,
        dynamic=False,
        distribution_mode="copy",
        filter={"f": "x"},
        default_outcome=Released(),
        outcomes=["amqp:accepted:list", "amqp:rejected:list"],
        capabilities=["queue"],
    )
    target = Target(
        address="dst",
        durable=TerminusDurability.CONFIGURATION,
        expiry_policy=TerminusExpiryPolicy.LINK_DETACH,
        timeout=5,
        capabilities=["topic"],
    )
    session.attach_receiver(
        "r",
        source=source,
        target=target,
        snd_settle_mode=SenderSettleMode.UNSETTLED,
        rcv_settle_mode=ReceiverSettleMode.SECOND,
        max_message_size=1 << 20,
        offered_capabilities=["o"],
        desired_capabilities=["d"],
        properties={"p": 1},
    )
    _, s = pair.pump()
    link = peer_link(s)
    assert link.remote_source == source
    assert link.remote_target == target
    assert link.remote_max_message_size == 1 << 20
    assert list(link.remote_offered_capabilities) == ["o"]
    assert list(link.remote_desired_capabilities) == ["d"]
    assert link.remote_properties == {"p": 1}
    assert link.rcv_settle_mode is ReceiverSettleMode.SECOND
    assert link.snd_settle_mode is SenderSettleMode.UNSETTLED


def test_peer_attached_link_gets_a_dynamic_address_before_answering() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    receiver = session.attach_receiver("reply", source=Source(dynamic=True, dynamic_node_properties={"lifetime-policy": "x"}))
    _, s = pair.pump()
    for e in s:
        if hasattr(e, "session") and not hasattr(e, "link"):
            e.session.begin()
    link = peer_link(s)
    assert link.remote_source.dynamic
    assert link.remote_source.dynamic_node_properties == {"lifetime-policy": "x"}
    from dataclasses import replace

    link.source = replace(link.remote_source, address="tmp.1", dynamic=True)
    link.attach()
    c, _ = pair.pump()
    (attached,) = of_type(c, LinkAttached)
    assert attached.link is receiver and receiver.remote_source.address == "tmp.1"


def test_peer_refusing_a_link_sends_null_terminus_then_detach_with_error() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    sender = session.attach_sender("s", target=Target(address="nope"))
    _, s = pair.pump()
    of_type(s, SessionRemotelyBegun)[0].session.begin()  # accept the session, refuse the link
    link = peer_link(s)
    link.detach(error=Error(condition="amqp:not-found", description="no such node"))
    c, _ = pair.pump()
    assert [type(e) for e in c][-2:] == [LinkAttached, LinkDetached]
    c = c[-2:]
    assert sender.remote_target is None
    detached = c[1]
    assert isinstance(detached.error, LinkDetachedError)
    assert detached.error.condition == "amqp:not-found" and detached.closed and detached.by_peer
    assert sender.state is LinkState.DETACHED


def test_link_detach_without_close_is_reported_as_not_closed_and_handles_are_reused() -> None:
    pair = opened_pair()
    sender, receiver, csession, _ = link_pair(pair)
    sender.detach(closed=False)
    c, s = pair.pump()
    (d,) = of_type(s, LinkDetached)
    assert not d.closed and d.by_peer and d.link is receiver
    (d2,) = of_type(c, LinkDetached)
    assert not d2.by_peer
    again = csession.attach_sender("link2")
    assert again.handle == sender.handle


def test_Sender_send_on_a_detached_link_is_local_misuse() -> None:
    pair = opened_pair()
    sender, _, _, _ = link_pair(pair)
    sender.detach()
    with pytest.raises(LocalProtocolError):
        sender.send(b"x")


def test_Sender_refuses_a_payload_over_the_peers_max_message_size() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    sender = session.attach_sender("s")
    _, s = pair.pump()
    of_type(s, SessionRemotelyBegun)[0].session.begin()
    link = peer_link(s)
    link.max_message_size = 100
    link.attach()
    pair.pump()
    with pytest.raises(LocalProtocolError):
        sender.send(b"x" * 101)


def test_server_side_sender_serves_a_client_receiver() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair, client_sends=False)
    receiver.flow(1)
    pair.pump()
    sender.send(b"from server")
    c, _ = pair.pump()
    (got,) = of_type(c, DeliveryReceived)
    got.delivery.accept()
    _, s = pair.pump()
    assert of_type(s, CreditChanged) == []
    assert sender.session.connection is pair.server
    assert any(type(e).__name__ == "DeliverySettled" for e in s)
    assert isinstance(got.delivery.local_state, Accepted) and not isinstance(got.delivery.local_state, Rejected)


def test_LinkCredit_sender_reads_a_link_credit_of_2_to_the_31_or_more_as_that_credit() -> None:
    # link-credit is a uint (spec 2.7.4): every value up to 2**32-1 is credit, not a sign.
    for granted in (1 << 31, (1 << 31) + 7, (1 << 32) - 1):
        credit = LinkCredit(5)
        credit.sender_on_flow(5, granted, False)
        assert credit.link_credit == granted
    credit = LinkCredit(5)
    credit.sender_consume()  # one in flight the receiver's FLOW does not know of
    credit.sender_on_flow(5, (1 << 32) - 1, False)
    assert credit.link_credit == (1 << 32) - 2


def test_LinkCredit_receiver_sees_a_drain_of_2_to_the_31_or_more_credits_completed() -> None:
    credit = LinkCredit((1 << 32) - 3)
    credit.receiver_grant((1 << 31) + 10, drain=True)
    # The sender used none and advanced its delivery-count by all of it (wrapping).
    assert credit.receiver_on_flow(serial_add((1 << 32) - 3, (1 << 31) + 10), 0)
    assert credit.link_credit == 0 and credit.delivery_count == serial_add((1 << 32) - 3, (1 << 31) + 10)


def test_LinkCredit_receiver_ignores_a_sender_delivery_count_behind_its_own() -> None:
    credit = LinkCredit(100)
    credit.receiver_grant(10)
    assert not credit.receiver_on_flow(99, 0)
    assert credit.link_credit == 10 and credit.delivery_count == 100


def test_drain_with_a_link_credit_of_2_to_the_31_or_more_is_answered_and_seen_as_drained() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = link_pair(pair)
    big = (1 << 31) + 5
    sender.send(b"one")
    receiver.drain(big)
    c, s = pair.pump()
    (granted,) = of_type(c, CreditChanged)
    assert granted.link_credit == big and granted.drain  # not read as 0
    assert len(of_type(s, DeliveryReceived)) == 1
    (drained,) = of_type(s, CreditChanged)
    assert drained.drained and drained.link_credit == 0
    assert drained.delivery_count == big == receiver.credit.delivery_count == sender.credit.delivery_count
