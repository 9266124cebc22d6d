"""Link recovery (spec 2.6.13) against python-qpid-proton's engine, in memory: what Proton
actually does with unsettled maps, and that our resuming ends stay correct with it.

What is true of Proton (0.40, the C engine under python-qpid-proton): its ATTACH never carries
an ``unsettled`` map, not even for a link attached again by name while the old one holds
unsettled deliveries; it answers a resuming ATTACH with a null map. A null answer tells a
resuming end that the peer holds nothing: our sender sends every unsettled message again as a
new delivery (at-least-once, nothing lost) and forgets those whose outcome it knew; our
receiver considers its entries settled. Nothing is resumed with ``resume=true``.
"""

from __future__ import annotations

import proton

from amqp10.codec.spec import Accepted, Attach
from amqp10.engine import Receiver, Sender
from amqp10.engine.events import (
    DeliveryReceived,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
    UnsettledReconciled,
)
from amqp10.engine.recovery import UnsettledDelivery, UnsettledMap
from amqp10.codec import decode_prefix

from support.engine_pairs import of_type
from support.proton_pump import ProtonPump, link_to_proton, opened, read_proton

ATTACH_CODE = b"\x00\x53\x12"  # spec 2.7.3 descriptor, as it starts a frame body


def _proton_attaches(pump: ProtonPump) -> list[Attach]:
    """Every ATTACH Proton wrote, decoded."""
    found = []
    for _, _, _, body in pump.proton_out.frames:
        if body[:3] == ATTACH_CODE:
            attach, _ = decode_prefix(body)
            assert isinstance(attach, Attach)
            found.append(attach)
    return found


def test_proton_attaches_a_link_again_by_name_without_an_unsettled_map_though_it_holds_unsettled_deliveries() -> None:
    pump = opened(False)  # Proton is the client and attaches
    session = pump.connection.session()
    session.open()
    sender = session.sender("L")
    sender.target.address = "q"
    sender.open()
    ours: Receiver | None = None
    for event in pump.pump()[0]:
        if isinstance(event, SessionRemotelyBegun):
            event.session.begin()
        elif isinstance(event, LinkRemotelyAttached):
            event.link.attach()
            ours = event.link  # type: ignore[assignment]
    assert isinstance(ours, Receiver)
    ours.flow(10)
    pump.pump()
    for i in range(3):
        sender.delivery(b"t%d" % i)
        sender.send(b"x")
        sender.advance()
    c, _ = pump.pump()
    assert len(of_type(c, DeliveryReceived)) == 3 and sender.unsettled == 3
    sender.detach()
    pump.pump()
    again = session.sender("L")
    again.target.address = "q"
    again.open()
    c, _ = pump.pump()
    (reattached,) = of_type(c, LinkRemotelyAttached)
    assert reattached.link.remote_unsettled is None
    attaches = _proton_attaches(pump)
    assert len(attaches) == 2
    assert all(a.unsettled is None and not a.incomplete_unsettled for a in attaches)


def test_our_resuming_sender_sends_again_what_proton_does_not_hold_and_forgets_what_it_knew() -> None:
    pump = opened(True)
    snapshot = UnsettledMap.of(
        [UnsettledDelivery(b"a", None, b"A"), UnsettledDelivery(b"b", Accepted(), b"B"), UnsettledDelivery(b"c", None, b"C")]
    )
    ours, theirs = link_to_proton(pump, ours_sends=True, ours_attaches=True, unsettled=snapshot)
    assert isinstance(ours, Sender)
    assert ours.remote_unsettled is None  # Proton's answer: a null map
    (reconciled,) = of_type(pump.our_events, UnsettledReconciled)
    assert reconciled.settled == (b"b",)
    theirs.flow(10)
    pump.pump()
    got = read_proton(theirs)
    assert [(d.tag, body) for d, body in got] == [("a", b"A"), ("c", b"C")]
    for d, _ in got:
        d.update(proton.Delivery.ACCEPTED)
        d.settle()
    pump.pump()
    assert all(isinstance(reconciled.deliveries[t].remote_state, Accepted) for t in (b"a", b"c"))
    assert len(ours.unsettled) == 0
    assert not of_type(pump.our_events, ProtocolViolationDetected)


def test_our_resuming_receiver_takes_protons_deliveries_as_new_and_settles_its_old_entries() -> None:
    pump = opened(True)
    snapshot = UnsettledMap.of([UnsettledDelivery(b"old", Accepted())])
    ours, theirs = link_to_proton(pump, ours_sends=False, ours_attaches=True, unsettled=snapshot)
    assert isinstance(ours, Receiver)
    (reconciled,) = of_type(pump.our_events, UnsettledReconciled)
    assert reconciled.settled == (b"old",) and not reconciled.deliveries
    ours.flow(5)
    pump.pump()
    delivery = theirs.delivery(b"new")
    theirs.send(b"payload")
    theirs.advance()
    c, _ = pump.pump()
    (received,) = of_type(c, DeliveryReceived)
    assert bytes(received.delivery.payload) == b"payload" and not received.delivery.resumed
    received.delivery.accept()
    pump.pump()
    assert delivery.remote_state == proton.Delivery.ACCEPTED
    assert len(ours.unsettled) == 0
