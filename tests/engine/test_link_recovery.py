"""Link recovery (spec 2.6.13) between two of our engines: a link is cut with deliveries in
flight, each end's ``unsettled`` snapshot is given to the link that resumes it on a new
connection, and the table of the spec decides what is sent again, settled or aborted."""

from __future__ import annotations

from typing import Any

import pytest

from amqp10.codec.spec import (
    Accepted,
    Attach,
    ReceiverSettleMode,
    Rejected,
    Source,
    Target,
)
from amqp10.engine import Receiver, Sender
from amqp10.engine.events import (
    DeliveryAborted,
    DeliveryReceived,
    DeliverySettled,
    DeliveryUpdated,
    LinkDetached,
    LinkRemotelyAttached,
    ProtocolViolationDetected,
    SessionRemotelyBegun,
    UnsettledReconciled,
)
from amqp10.engine.recovery import ResumeAction, UnsettledDelivery, UnsettledMap, sender_action
from amqp10.engine.violations import Violation
from amqp10.errors import LocalProtocolError
from amqp10.framing.frame import FrameType
from amqp10.framing.performatives import decode_body
from amqp10.framing.reader import FrameReader
from amqp10.testing import EnginePair

from support.engine_pairs import of_type, opened_pair, server_config

SECOND = ReceiverSettleMode.SECOND


def _cut(pair: EnginePair) -> None:
    """The transport breaks: both engines see the end of their byte stream."""
    pair.client.receive_data(b"")
    pair.server.receive_data(b"")


def _first_link(pair: EnginePair, *, client_sends: bool, unsettled: UnsettledMap | None = None,
                server_unsettled: UnsettledMap | None = None, credit: int = 100) -> tuple[Sender, Receiver, list[Any], list[Any]]:
    """Attach link "L" from the client (sender or receiver); the server answers, optionally
    resuming from ``server_unsettled``. Returns (sender, receiver, client events, server events)."""
    session = pair.client.begin_session()
    options: dict[str, Any] = {"source": Source(address="q"), "target": Target(address="q"), "rcv_settle_mode": SECOND}
    if unsettled is not None:
        options["unsettled"] = unsettled
    local = session.attach_sender("L", **options) if client_sends else session.attach_receiver("L", **options)
    all_c: list[Any] = []
    all_s: list[Any] = []
    for _ in range(6):
        c, s = pair.pump()
        all_c += c
        all_s += s
        for e in s:
            if isinstance(e, SessionRemotelyBegun):
                e.session.begin()
            elif isinstance(e, LinkRemotelyAttached):
                e.link.local_unsettled = server_unsettled
                e.link.attach()
                if isinstance(e.link, Receiver):
                    e.link.flow(credit)
        if credit and isinstance(local, Receiver) and local.credit.link_credit == 0 and local.state.name == "ATTACHED":
            local.flow(credit)
        if not c and not s:
            break
    (remote,) = [e.link for e in all_s if isinstance(e, LinkRemotelyAttached)]
    if client_sends:
        return local, remote, all_c, all_s  # type: ignore[return-value]
    return remote, local, all_c, all_s  # type: ignore[return-value]


def test_sender_table_follows_spec_2_6_13() -> None:
    with_payload = UnsettledDelivery(b"t", None, b"msg")
    no_payload = UnsettledDelivery(b"t", None, None)
    decided = UnsettledDelivery(b"t", Accepted(), b"msg")
    assert sender_action(with_payload, {}, False) is ResumeAction.RESEND
    assert sender_action(no_payload, {}, False) is ResumeAction.LOST
    assert sender_action(decided, {}, False) is ResumeAction.FORGET
    assert sender_action(with_payload, {}, True) is ResumeAction.UNDECIDED
    assert sender_action(with_payload, {b"t": None}, False) is ResumeAction.RESUME
    assert sender_action(no_payload, {b"t": None}, False) is ResumeAction.ABORT
    assert sender_action(with_payload, {b"t": Accepted()}, False) is ResumeAction.SETTLE
    assert sender_action(decided, {b"t": None}, False) is ResumeAction.SETTLE


def test_unsettled_map_refuses_a_tag_twice_and_long_tags() -> None:
    with pytest.raises(ValueError):
        UnsettledMap((UnsettledDelivery(b"a"), UnsettledDelivery(b"a")))
    with pytest.raises(ValueError):
        UnsettledDelivery(b"x" * 33)


def test_resumed_sender_settles_what_the_receiver_accepted_and_resumes_the_rest_without_duplicates() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = _first_link(pair, client_sends=True)
    sent = [sender.send(b"m%d" % i) for i in range(5)]
    _, s = pair.pump()
    got = [e.delivery for e in of_type(s, DeliveryReceived)]
    assert [bytes(d.payload) for d in got] == [b"m%d" % i for i in range(5)]
    for d in got[:3]:
        d.accept()  # rcv-settle-mode second: the receiver keeps them until the sender settles
    _cut(pair)  # the accepts never reach the sender
    client_snapshot, server_snapshot = sender.unsettled, receiver.unsettled
    assert [d.tag for d in client_snapshot] == [d.tag for d in sent]
    assert all(d.state is None and d.payload == b"m%d" % i for i, d in enumerate(client_snapshot))
    assert [type(d.state) for d in server_snapshot] == [Accepted] * 3 + [type(None)] * 2

    pair2 = opened_pair()
    sender2, receiver2, c, s = _first_link(
        pair2, client_sends=True, unsettled=client_snapshot, server_unsettled=server_snapshot
    )
    c2, s2 = pair2.pump()
    c += c2
    s += s2
    (reconciled,) = of_type(c, UnsettledReconciled)
    assert set(reconciled.deliveries) == {d.tag for d in sent} and reconciled.lost == ()
    # The accepted three end with a resumed settling transfer: no new message at the receiver.
    assert [bytes(e.delivery.payload) for e in of_type(s, DeliveryReceived)] == [b"m3", b"m4"]
    assert all(e.delivery.resumed for e in of_type(s, DeliveryReceived))
    assert sorted(e.delivery.tag for e in of_type(s, DeliverySettled)) == [d.tag for d in sent[:3]]
    for tag in (d.tag for d in sent[:3]):
        assert isinstance(reconciled.deliveries[tag].remote_state, Accepted)
        assert reconciled.deliveries[tag].settled
    for e in of_type(s, DeliveryReceived):
        e.delivery.accept()
    c3, _ = pair2.pump()
    assert {e.delivery.tag for e in of_type(c3, DeliveryUpdated)} == {d.tag for d in sent[3:]}
    # A new message after the resumed ones takes a fresh tag.
    new = sender2.send(b"new")
    assert new.tag not in {d.tag for d in sent}
    _, s4 = pair2.pump()
    assert [bytes(e.delivery.payload) for e in of_type(s4, DeliveryReceived)] == [b"new"]
    assert not of_type(pair2.client_events + pair2.server_events, ProtocolViolationDetected)


def test_deliveries_the_receiver_never_held_are_sent_again_as_new_deliveries() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = _first_link(pair, client_sends=True, credit=2)
    for i in range(4):
        sender.send(b"m%d" % i)
    _, s = pair.pump()
    assert len(of_type(s, DeliveryReceived)) == 2  # two wait for credit
    _cut(pair)
    snapshot = sender.unsettled
    assert len(snapshot) == 4
    pair2 = opened_pair()
    # The receiving end lost its state (a fresh receiver resuming with an empty map).
    _, _, _, s = _first_link(pair2, client_sends=True, unsettled=snapshot, server_unsettled=UnsettledMap())
    _, s2 = pair2.pump()
    got = of_type(s + s2, DeliveryReceived)
    assert [bytes(e.delivery.payload) for e in got] == [b"m0", b"m1", b"m2", b"m3"]
    assert not any(e.delivery.resumed for e in got)


def test_a_partial_delivery_is_resumed_from_the_start_and_one_without_payload_is_aborted() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = _first_link(pair, client_sends=True)
    big = bytes(range(256)) * 40  # 10 kB: twenty-odd frames at the resumed link's 512-byte frames
    sender.send(b"small")
    _, s = pair.pump()
    (small,) = of_type(s, DeliveryReceived)
    # The receiver holds "small" unsettled with no state; the sender had two more in flight.
    client = UnsettledMap.of(
        [
            UnsettledDelivery(small.delivery.tag, None, None),  # the message is gone at the sender
            UnsettledDelivery(b"big", None, big),
        ]
    )
    server = UnsettledMap.of([UnsettledDelivery(small.delivery.tag), UnsettledDelivery(b"big")])
    _cut(pair)
    pair2 = opened_pair(server=server_config(max_frame_size=512))
    _, _, _, s = _first_link(pair2, client_sends=True, unsettled=client, server_unsettled=server)
    _, s2 = pair2.pump()
    events = s + s2
    (aborted,) = of_type(events, DeliveryAborted)
    assert aborted.delivery.tag == small.delivery.tag
    (resumed,) = of_type(events, DeliveryReceived)
    assert resumed.delivery.tag == b"big" and bytes(resumed.delivery.payload) == big and resumed.delivery.resumed


def test_resumed_receiver_does_not_deliver_again_what_it_accepted_before_the_cut() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = _first_link(pair, client_sends=False)
    for i in range(3):
        sender.send(b"m%d" % i)
    c, _ = pair.pump()
    got = [e.delivery for e in of_type(c, DeliveryReceived)]
    assert len(got) == 3
    got[0].accept()
    got[1].reject("amqp:invalid-field", "no")
    _cut(pair)  # the outcomes never reach the server's sender
    server_snapshot, client_snapshot = sender.unsettled, receiver.unsettled
    assert len(server_snapshot) == 3 and len(client_snapshot) == 3
    pair2 = opened_pair()
    sender2, _, c, s = _first_link(pair2, client_sends=False, unsettled=client_snapshot, server_unsettled=server_snapshot)
    c2, s2 = pair2.pump()
    c += c2
    s += s2
    # Only the undecided one comes again; the decided two are settled with their outcomes.
    assert [bytes(e.delivery.payload) for e in of_type(c, DeliveryReceived)] == [b"m2"]
    (reconciled,) = of_type(s, UnsettledReconciled)
    outcomes = {tag: type(d.remote_state) for tag, d in reconciled.deliveries.items()}
    assert outcomes[got[0].tag] is Accepted and outcomes[got[1].tag] is Rejected


def test_receiver_considers_settled_what_the_sender_no_longer_holds() -> None:
    pair = opened_pair()
    mine = UnsettledMap.of([UnsettledDelivery(b"gone", Accepted())])
    _, receiver, c, _ = _first_link(pair, client_sends=False, unsettled=mine, server_unsettled=UnsettledMap())
    (reconciled,) = of_type(c, UnsettledReconciled)
    assert reconciled.settled == (b"gone",) and not reconciled.deliveries
    assert len(receiver.unsettled) == 0


def test_attach_carries_the_unsettled_map_only_when_resuming() -> None:
    pair = opened_pair()
    session = pair.client.begin_session()
    snapshot = UnsettledMap.of([UnsettledDelivery(b"a", Accepted()), UnsettledDelivery(b"b")], incomplete=True)
    session.attach_receiver("R", source=Source(address="q"), unsettled=snapshot)
    session.attach_receiver("P", source=Source(address="q"))
    attaches = [p for p in _performatives(pair.client.data_to_send()) if isinstance(p, Attach)]
    assert isinstance(attaches[0].unsettled[b"a"], Accepted) and attaches[0].unsettled[b"b"] is None
    assert attaches[0].incomplete_unsettled is True
    assert attaches[1].unsettled is None and not attaches[1].incomplete_unsettled


def _performatives(data: bytes) -> list[Any]:
    reader = FrameReader()
    reader.feed(data)  # the connection is open: frames only, no header
    frames = reader.read_frames()
    return [decode_body(f)[0] for f in frames if f.type is FrameType.AMQP and f.body]


def test_resumed_transfer_for_a_tag_the_sender_never_listed_closes_the_link_with_not_allowed() -> None:
    pair = opened_pair()
    sender, receiver, _, _ = _first_link(pair, client_sends=False, credit=0)
    # Forge a resumed delivery the sending end never listed in its ATTACH (queued for credit).
    d = sender.send(b"x", tag=b"forged")
    d.resumed = True
    receiver.flow(1)
    c, _ = pair.pump()
    (violation,) = of_type(c, ProtocolViolationDetected)
    assert violation.violation is Violation.RESUME_UNKNOWN_TAG
    assert violation.condition == "amqp:not-allowed"
    assert not of_type(c, DeliveryReceived)
    assert of_type(pair.server_events, LinkDetached)


def test_resumed_transfer_the_receiver_does_not_hold_is_ignored() -> None:
    pair = opened_pair()
    listed = UnsettledMap.of([UnsettledDelivery(b"old", None, b"data")])
    # The client's receiver resumes with an empty map; the server's sender lists "old", so
    # it must send it again as a new delivery, but (forged here) resumes it instead.
    sender, receiver, c, s = _first_link(
        pair, client_sends=False, unsettled=UnsettledMap(), server_unsettled=listed, credit=0
    )
    (reconciled,) = of_type(s, UnsettledReconciled)
    assert not reconciled.deliveries[b"old"].resumed  # what the table says: resend
    reconciled.deliveries[b"old"].resumed = True
    receiver.flow(5)
    c2, _ = pair.pump()
    assert not of_type(c + c2, DeliveryReceived)
    assert not of_type(c + c2, ProtocolViolationDetected)
    assert len(receiver.unsettled) == 0
    sender.send(b"after")
    c3, _ = pair.pump()
    assert [bytes(e.delivery.payload) for e in of_type(c3, DeliveryReceived)] == [b"after"]


def test_new_delivery_after_our_incomplete_map_closes_the_link_with_illegal_state() -> None:
    pair = opened_pair()
    incomplete = UnsettledMap.of([UnsettledDelivery(b"a")], incomplete=True)
    sender, receiver, c, _ = _first_link(pair, client_sends=False, unsettled=incomplete)
    sender.send(b"fresh")
    c2, _ = pair.pump()
    (violation,) = of_type(c + c2, ProtocolViolationDetected)
    assert violation.violation is Violation.NEW_DELIVERY_WHILE_INCOMPLETE
    assert violation.condition == "amqp:illegal-state"


def test_sender_sends_nothing_new_after_the_peers_incomplete_map() -> None:
    pair = opened_pair()
    mine = UnsettledMap.of([UnsettledDelivery(b"a", None, b"A"), UnsettledDelivery(b"b", None, b"B")])
    theirs = UnsettledMap.of([UnsettledDelivery(b"a")], incomplete=True)
    sender, _, c, s = _first_link(pair, client_sends=True, unsettled=mine, server_unsettled=theirs)
    _, s2 = pair.pump()
    (reconciled,) = of_type(c, UnsettledReconciled)
    assert reconciled.peer_incomplete and set(reconciled.deliveries) == {b"a"}
    assert [e.delivery.tag for e in of_type(s + s2, DeliveryReceived)] == [b"a"]
    with pytest.raises(LocalProtocolError):
        sender.send(b"new")
    # "b" is still unsettled here, to be decided when the link is resumed again.
    assert b"b" in sender.unsettled


def test_an_unsettled_map_too_large_for_a_frame_goes_out_incomplete_and_the_sender_resumes_what_it_lists() -> None:
    pair = opened_pair(server=server_config(max_frame_size=512))
    tags = [b"%032d" % i for i in range(40)]  # 40 * 32-byte tags: far over 512 bytes
    mine = UnsettledMap.of(UnsettledDelivery(t) for t in tags)
    theirs = UnsettledMap.of(UnsettledDelivery(t, None, b"m" + t) for t in tags)
    session = pair.client.begin_session()
    receiver = session.attach_receiver("L", source=Source(address="q"), rcv_settle_mode=SECOND, unsettled=mine)
    data = pair.client.data_to_send()
    (attach,) = [p for p in _performatives(data) if isinstance(p, Attach)]
    assert attach.incomplete_unsettled is True and 0 < len(attach.unsettled) < len(tags)
    assert all(size <= 512 for size in _frame_sizes(data))
    listed = [t for t in tags if t in attach.unsettled]
    s = pair.server.receive_data(data)
    for e in s:
        if isinstance(e, SessionRemotelyBegun):
            e.session.begin()
    for e in pair.server.take_events() + s:
        if isinstance(e, LinkRemotelyAttached):
            e.link.local_unsettled = theirs
            e.link.attach()
            sender = e.link
    pair.pump()
    receiver.flow(100)
    c, s2 = pair.pump()
    (reconciled,) = of_type(s2 + pair.server_events, UnsettledReconciled)
    assert reconciled.peer_incomplete and set(reconciled.deliveries) == set(listed)
    got = of_type(pair.client_events, DeliveryReceived)
    assert [e.delivery.tag for e in got] == listed  # resumed; the rest wait for a later attach
    with pytest.raises(LocalProtocolError):
        sender.send(b"new")
    # Here every tag is still unsettled: the listed ones received (not yet accepted), the
    # others awaiting a later resumption.
    assert {d.tag for d in receiver.unsettled} == set(tags)


def _frame_sizes(data: bytes) -> list[int]:
    sizes = []
    while data:
        size = int.from_bytes(data[:4], "big")
        sizes.append(size)
        data = data[size:]
    return sizes
