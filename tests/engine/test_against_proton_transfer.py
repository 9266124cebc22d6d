"""Transfers between our engine and python-qpid-proton's, in memory: messages both ways,
multi-frame messages, credit and drain, every outcome, settle modes and session windows.

Each scenario runs in the four topologies: our engine as client or server (the client attaches
the link) times our end sending or receiving. Both sides are checked: our events and state, and
what Proton's objects report. The wiring is ``support.proton_pump``.
"""

from __future__ import annotations

from typing import Any, Callable

import proton
import pytest

from amqp10 import Header, Message, Properties
from amqp10.codec.spec import Accepted, Modified, ReceiverSettleMode, Rejected, Released
from amqp10.codec.types import Symbol
from amqp10.engine import Link, Receiver, Sender
from amqp10.errors import LocalProtocolError
from amqp10.engine.events import (
    CreditChanged,
    DeliveryAborted,
    DeliveryReceived,
    DeliverySettled,
    DeliveryUpdated,
    ProtocolViolationDetected,
    SessionBegun,
)

from support.engine_pairs import of_type
from support.proton_pump import ProtonPump, WireLog, link_to_proton, opened, read_proton

E = proton.Event
PD = proton.Delivery
TOPOLOGIES = pytest.mark.parametrize(
    "ours_client,ours_sends",
    [(True, True), (True, False), (False, True), (False, False)],
    ids=["ours-client-sends", "ours-client-receives", "ours-server-sends", "ours-server-receives"],
)
ROLES = pytest.mark.parametrize("ours_client", [True, False], ids=["ours-client", "proton-client"])
DISPOSITION = b"\x00\x53\x15"  # spec 2.7.6 descriptor, as it starts a frame body


def _linked(
    ours_client: bool, ours_sends: bool, *, frame: int | None = None, **options: Any
) -> tuple[ProtonPump, Any, Any]:
    """Both OPENs done and one link attached by the client side; frames capped at ``frame``."""
    config: dict[str, Any] = {}
    configure = None
    if frame is not None:
        config["max_frame_size"] = frame
        configure = lambda t, c: setattr(t, "max_frame_size", frame)  # noqa: E731
    pump = opened(ours_client, configure=configure, **config)
    ours, theirs = link_to_proton(pump, ours_sends=ours_sends, ours_attaches=ours_client, **options)
    return pump, ours, theirs


def _proton_send(sender: proton.Link, payload: bytes, tag: bytes, *, settle: bool = False) -> PD:
    delivery = sender.delivery(tag)
    sender.send(payload)
    if settle:
        delivery.settle()
    sender.advance()
    return delivery


def _send_one_way(pump: ProtonPump, ours: Link, theirs: Any, ours_sends: bool, payloads: list[bytes]) -> list[bytes]:
    """Grant credit for ``payloads``, send them, pump; return what the receiving side read."""
    if ours_sends:
        assert isinstance(ours, Sender)
        theirs.flow(len(payloads))
        pump.pump()
        for p in payloads:
            ours.send(p)
        pump.pump()
        return [body for _, body in read_proton(theirs)]
    assert isinstance(ours, Receiver)
    ours.flow(len(payloads))
    pump.pump()
    for i, p in enumerate(payloads):
        _proton_send(theirs, p, b"t%d" % i)
    events, _ = pump.pump()
    return [bytes(e.delivery.payload) for e in of_type(events, DeliveryReceived)]


# -- messages ---------------------------------------------------------------------------------


@TOPOLOGIES
def test_messages_encoded_by_one_side_decode_with_every_section_on_the_other(
    ours_client: bool, ours_sends: bool
) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends)
    if ours_sends:
        encoded = Message(
            header=Header(durable=True, priority=7, ttl=60_000),
            delivery_annotations={Symbol("x-opt-da"): 1},
            message_annotations={Symbol("x-opt-ma"): "mv"},
            properties=Properties(
                message_id="id-1", to="q", subject="subj", reply_to="rt", correlation_id="c-1",
                content_type=Symbol("application/json"),
            ),
            application_properties={"k": 1, "s": "str"},
            body={"map": [1, 2.5, "x"]},
        ).encode()
    else:
        pm = proton.Message(
            durable=True, priority=7, ttl=60.0, id="id-1", address="q", subject="subj",
            reply_to="rt", correlation_id="c-1", content_type="application/json",
            properties={"k": 1, "s": "str"}, body={"map": [1, 2.5, "x"]},
        )
        pm.instructions = {proton.symbol("x-opt-da"): 1}
        pm.annotations = {proton.symbol("x-opt-ma"): "mv"}
        encoded = pm.encode()
    (received,) = _send_one_way(pump, ours, theirs, ours_sends, [encoded])
    if ours_sends:
        got = proton.Message()
        got.decode(received)
        assert (got.durable, got.priority, got.ttl) == (True, 7, 60.0)
        assert got.instructions == {"x-opt-da": 1} and got.annotations == {"x-opt-ma": "mv"}
        assert (got.id, got.address, got.subject, got.reply_to, got.correlation_id) == (
            "id-1", "q", "subj", "rt", "c-1"
        )
        assert got.content_type == "application/json"
        assert got.properties == {"k": 1, "s": "str"} and got.body == {"map": [1, 2.5, "x"]}
    else:
        msg = Message.decode(received)
        assert msg.header is not None and msg.properties is not None
        assert (msg.header.durable, msg.header.priority, msg.header.ttl) == (True, 7, 60_000)
        assert msg.delivery_annotations == {"x-opt-da": 1}
        assert msg.message_annotations == {"x-opt-ma": "mv"}
        p = msg.properties
        assert (p.message_id, p.to, p.subject, p.reply_to, p.correlation_id) == ("id-1", "q", "subj", "rt", "c-1")
        assert p.content_type == "application/json"
        assert msg.application_properties == {"k": 1, "s": "str"} and msg.body == {"map": [1, 2.5, "x"]}


@TOPOLOGIES
@pytest.mark.parametrize("size", [64 * 1024, 1024 * 1024], ids=["64KiB", "1MiB"])
def test_a_message_larger_than_max_frame_size_is_split_into_512_byte_frames_and_reassembled(
    ours_client: bool, ours_sends: bool, size: int
) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends, frame=512)
    blob = bytes(range(256)) * (size // 256)
    if ours_sends:
        encoded = Message(body=blob).encode()
    else:
        encoded = proton.Message(body=blob, inferred=True).encode()  # inferred: one data section
    (received,) = _send_one_way(pump, ours, theirs, ours_sends, [encoded])
    assert received == encoded
    assert Message.decode(received).body == blob
    wire: WireLog = pump.ours_out if ours_sends else pump.proton_out
    assert wire.max_frame <= 512  # the receiver's max-frame-size was honoured
    assert wire.transfers >= len(encoded) // 512
    assert of_type(pump.our_events, ProtocolViolationDetected) == []


# -- credit and drain ---------------------------------------------------------------------------


@TOPOLOGIES
def test_the_sender_sends_only_what_the_receiver_credited(ours_client: bool, ours_sends: bool) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends)
    payloads = [b"m%d" % i for i in range(5)]
    if ours_sends:
        theirs.flow(2)
        ours_events, _ = pump.pump()
        assert of_type(ours_events, CreditChanged)[-1].link_credit == 2
        for p in payloads:
            ours.send(p)
        pump.pump()
        first = [body for _, body in read_proton(theirs)]
        assert first == payloads[:2] and ours.queued == 3 and ours.credit.link_credit == 0
        theirs.flow(3)
        pump.pump()
        rest = [body for _, body in read_proton(theirs)]
        assert ours.queued == 0 and ours.credit.delivery_count == 5
    else:
        for i, p in enumerate(payloads):
            _proton_send(theirs, p, b"t%d" % i)
        pump.pump()
        assert theirs.queued == 5  # nothing goes without credit
        ours.flow(2)
        ours_events, _ = pump.pump()
        first = [bytes(e.delivery.payload) for e in of_type(ours_events, DeliveryReceived)]
        assert first == payloads[:2] and theirs.queued == 3
        ours.flow(3)  # absolute credit (spec 2.6.7)
        ours_events, _ = pump.pump()
        rest = [bytes(e.delivery.payload) for e in of_type(ours_events, DeliveryReceived)]
        assert theirs.queued == 0 and ours.credit.delivery_count == 5
    assert first + rest == payloads


@ROLES
def test_proton_receiver_drains_our_sender_and_both_agree_on_the_delivery_count(ours_client: bool) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends=True)
    ours.send(b"one")
    ours.send(b"two")
    theirs.drain(5)
    ours_events, theirs_events = pump.pump()
    assert of_type(ours_events, CreditChanged)[0].drain
    assert [body for _, body in read_proton(theirs)] == [b"one", b"two"]
    assert theirs.drained() == 3  # we gave back the three credits we could not use
    assert theirs.credit == 0 and not theirs.draining()
    assert (ours.credit.delivery_count, ours.credit.link_credit) == (5, 0)
    theirs.flow(2)
    ours_events, _ = pump.pump()
    # Credit is computed from the receiver's delivery-count: any disagreement shows here.
    (changed,) = of_type(ours_events, CreditChanged)
    assert (changed.link_credit, changed.delivery_count, changed.drain) == (2, 5, False)


@ROLES
def test_our_receiver_drains_a_proton_sender_and_both_agree_on_the_delivery_count(ours_client: bool) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends=False)
    ours.drain(5)
    _, theirs_events = pump.pump()
    assert E.LINK_FLOW in [e.type for e in theirs_events]
    assert theirs.credit == 5 and theirs.drain_mode
    _proton_send(theirs, b"only one", b"t0")
    assert theirs.drained() == 4  # Proton's application had one message: the rest goes back
    ours_events, _ = pump.pump()
    assert [bytes(e.delivery.payload) for e in of_type(ours_events, DeliveryReceived)] == [b"only one"]
    (changed,) = of_type(ours_events, CreditChanged)
    assert changed.drained and (changed.link_credit, changed.delivery_count) == (0, 5)
    ours.flow(3)
    pump.pump()
    assert theirs.credit == 3 and not theirs.drain_mode  # agreement: exactly the new credit


# -- outcomes and settlement ----------------------------------------------------------------------

ANNOTATIONS = {"x-opt-why": "retry"}


def _proton_outcome(delivery: PD, outcome: str) -> None:
    local = delivery.local
    if outcome == "rejected":
        local.condition = proton.Condition("amqp:invalid-field", "bad body")
    if outcome == "modified":
        local.failed = True
        local.undeliverable = True
        local.annotations = {proton.symbol(k): v for k, v in ANNOTATIONS.items()}
    delivery.update(getattr(PD, outcome.upper()))


OUR_OUTCOMES: dict[str, Callable[[Any], None]] = {
    "accepted": lambda d: d.accept(),
    "rejected": lambda d: d.reject("amqp:invalid-field", "bad body"),
    "released": lambda d: d.release(),
    "modified": lambda d: d.modify(
        delivery_failed=True, undeliverable_here=True,
        message_annotations={Symbol(k): v for k, v in ANNOTATIONS.items()},
    ),
}
STATE_TYPES = {"accepted": Accepted, "rejected": Rejected, "released": Released, "modified": Modified}


@TOPOLOGIES
@pytest.mark.parametrize("outcome", ["accepted", "rejected", "released", "modified"])
def test_every_outcome_settled_by_the_receiver_reaches_the_sender(
    ours_client: bool, ours_sends: bool, outcome: str
) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends)
    if ours_sends:
        theirs.flow(1)
        pump.pump()
        sent = ours.send(b"judge me")
        pump.pump()
        ((delivery, _),) = read_proton(theirs)
        _proton_outcome(delivery, outcome)
        delivery.settle()
        ours_events, _ = pump.pump()
        (updated,) = of_type(ours_events, DeliveryUpdated)
        assert updated.delivery is sent and updated.settled
        state = updated.state
        assert isinstance(state, STATE_TYPES[outcome]) and sent.remote_state == state
        assert of_type(ours_events, DeliverySettled)[0].delivery is sent and sent.remote_settled
        if outcome == "rejected":
            assert (state.error.condition, state.error.description) == ("amqp:invalid-field", "bad body")
        if outcome == "modified":
            assert state.delivery_failed and state.undeliverable_here
            assert state.message_annotations == ANNOTATIONS
    else:
        ours.flow(1)
        pump.pump()
        sent = _proton_send(theirs, b"judge me", b"t0")
        ours_events, _ = pump.pump()
        (received,) = of_type(ours_events, DeliveryReceived)
        OUR_OUTCOMES[outcome](received.delivery)  # rcv-settle-mode first: settles too
        assert received.delivery.settled
        _, theirs_events = pump.pump()
        assert E.DELIVERY in [e.type for e in theirs_events]
        assert sent.remote_state == getattr(PD, outcome.upper()) and sent.settled
        remote = sent.remote
        if outcome == "rejected":
            assert (remote.condition.name, remote.condition.description) == ("amqp:invalid-field", "bad body")
        if outcome == "modified":
            assert remote.failed and remote.undeliverable and remote.annotations == ANNOTATIONS


@TOPOLOGIES
def test_a_presettled_delivery_arrives_settled_and_is_never_answered(ours_client: bool, ours_sends: bool) -> None:
    pump, ours, theirs = _linked(ours_client, ours_sends)
    if ours_sends:
        theirs.flow(1)
        pump.pump()
        sent = ours.send(b"fire and forget", settled=True)
        pump.pump()
        ((delivery, body),) = read_proton(theirs)
        assert body == b"fire and forget" and delivery.settled  # settled by us, the sender
        assert sent.settled and ours.credit.link_credit == 0
        delivery.update(PD.ACCEPTED)
        delivery.settle()
        ours_events, _ = pump.pump()
        assert of_type(ours_events, DeliveryUpdated) == []
        answers = [f for f in pump.proton_out.frames if f[3].startswith(DISPOSITION)]
    else:
        ours.flow(1)
        pump.pump()
        _proton_send(theirs, b"fire and forget", b"t0", settle=True)
        ours_events, _ = pump.pump()
        (received,) = of_type(ours_events, DeliveryReceived)
        delivery = received.delivery
        assert delivery.remote_settled and delivery.settled and bytes(delivery.payload) == b"fire and forget"
        answers = [f for f in pump.ours_out.frames if f[3].startswith(DISPOSITION)]
    assert answers == []  # spec 2.6.12: nothing to say about a delivery both ends settled


def _second(link: proton.Link) -> None:
    link.rcv_settle_mode = proton.Link.RCV_SECOND


@TOPOLOGIES
def test_rcv_settle_mode_second_has_the_receiver_settle_only_after_the_sender(
    ours_client: bool, ours_sends: bool
) -> None:
    options: dict[str, Any] = {"rcv_settle_mode": ReceiverSettleMode.SECOND} if ours_client else {}
    pump, ours, theirs = _linked(ours_client, ours_sends, proton_options=_second, **options)
    assert ours.rcv_settle_mode is ReceiverSettleMode.SECOND
    assert theirs.remote_rcv_settle_mode == proton.Link.RCV_SECOND
    if ours_sends:
        theirs.flow(1)
        pump.pump()
        sent = ours.send(b"twice")
        pump.pump()
        ((delivery, _),) = read_proton(theirs)
        delivery.update(PD.ACCEPTED)  # the receiver's outcome, unsettled
        ours_events, _ = pump.pump()
        (updated,) = of_type(ours_events, DeliveryUpdated)
        assert isinstance(updated.state, Accepted) and not updated.settled and not sent.settled
        sent.settle()  # the sender settles first ...
        pump.pump()
        assert delivery.settled  # ... Proton's receiver sees it, and may now settle
        delivery.settle()
        ours_events, _ = pump.pump()
        assert ours_events == []
    else:
        ours.flow(1)
        pump.pump()
        sent = _proton_send(theirs, b"twice", b"t0")
        ours_events, _ = pump.pump()
        (received,) = of_type(ours_events, DeliveryReceived)
        received.delivery.accept()  # mode second: the outcome goes, the settlement waits
        assert not received.delivery.settled
        pump.pump()
        assert sent.remote_state == PD.ACCEPTED and not sent.settled
        sent.settle()
        ours_events, _ = pump.pump()
        assert [e.delivery for e in of_type(ours_events, DeliverySettled)] == [received.delivery]
        assert received.delivery.settled


# -- session windows -----------------------------------------------------------------------------


@ROLES
def test_our_sender_stops_at_protons_session_window_and_resumes_when_it_reopens(ours_client: bool) -> None:
    pump = opened(ours_client, max_frame_size=512, configure=lambda t, c: setattr(t, "max_frame_size", 512))
    if ours_client:
        session = pump.ours.begin_session()
        pump.pump()
        proton_session = pump.connection.session_head(proton.Endpoint.LOCAL_UNINIT)
        proton_session.incoming_capacity = 1024  # two 512-byte frames
        proton_session.open()
        assert of_type(pump.pump()[0], SessionBegun)
        ours, theirs = link_to_proton(pump, ours_sends=True, ours_attaches=True, session=session)
    else:
        proton_session = pump.connection.session()
        proton_session.incoming_capacity = 1024
        proton_session.open()
        ours, theirs = link_to_proton(pump, ours_sends=True, ours_attaches=False, proton_session=proton_session)
    theirs.flow(20)
    pump.pump()
    payloads = [bytes([65 + i]) * 300 for i in range(10)]  # one frame each
    for p in payloads:
        ours.send(p)
    got: list[bytes] = []
    rounds = 0
    while len(got) < len(payloads) and rounds < 20:
        rounds += 1
        pump.pump()
        batch = [body for _, body in read_proton(theirs)]  # the application reads: window reopens
        assert 1 <= len(batch) <= 2
        if len(got) + len(batch) < len(payloads):
            assert ours.queued > 0 and ours.session.window.remote_incoming_window == 0
        got += batch
    assert got == payloads and rounds >= 5


@ROLES
def test_proton_sender_respects_our_small_incoming_window_and_nothing_is_lost(ours_client: bool) -> None:
    pump = opened(ours_client, incoming_window=2)
    ours, theirs = link_to_proton(pump, ours_sends=False, ours_attaches=ours_client)
    ours.flow(50)
    pump.pump()
    payloads = [b"w%02d" % i for i in range(20)]
    for i, p in enumerate(payloads):
        _proton_send(theirs, p, b"t%d" % i)
    per_flight: list[int] = []
    got: list[bytes] = []
    for _ in range(100):  # one direction at a time, so each flight is visible
        pump.to_proton()
        events = pump.to_ours()
        batch = [bytes(e.delivery.payload) for e in of_type(events, DeliveryReceived)]
        per_flight.append(len(batch))
        got += batch
        if len(got) == len(payloads):
            break
    assert got == payloads
    assert max(per_flight) <= 2 and len([n for n in per_flight if n]) >= 10
    assert of_type(pump.our_events, ProtocolViolationDetected) == []  # no window violation


# -- aborts, max-message-size, disposition ranges ---------------------------------------------------


@pytest.mark.parametrize("ours_sends", [True, False], ids=["ours-sends", "proton-sends"])
def test_a_partly_sent_delivery_aborted_by_its_sender_is_discarded_by_the_receiver(ours_sends: bool) -> None:
    pump = opened(True, max_frame_size=512, configure=lambda t, c: setattr(t, "max_frame_size", 512))
    proton_session = pump.connection.session()
    proton_session.incoming_capacity = 1024  # two frames: the delivery cannot go out whole
    proton_session.open()
    ours, theirs = link_to_proton(pump, ours_sends=ours_sends, ours_attaches=False, proton_session=proton_session)
    if ours_sends:
        theirs.flow(5)
        pump.pump()
        sent = ours.send(b"y" * 5000)
        pump.pump()
        assert theirs.current.partial and len(theirs.recv(5000)) < 5000  # reading reopens the window
        sent.abort()
        pump.pump()
        assert theirs.current.aborted
        theirs.current.settle()
        theirs.advance()
        ours.send(b"after")
        pump.pump()
        assert [body for _, body in read_proton(theirs)] == [b"after"]
    else:
        ours.flow(5)
        pump.pump()
        delivery = theirs.delivery(b"t0")
        theirs.send(b"x" * 5000)
        assert of_type(pump.pump()[0], DeliveryReceived) == []
        delivery.abort()
        ours_events, _ = pump.pump()
        (aborted,) = of_type(ours_events, DeliveryAborted)
        assert aborted.delivery.tag == b"t0" and aborted.delivery.payload == b""
        _proton_send(theirs, b"after", b"t1")
        ours_events, _ = pump.pump()
        assert [bytes(e.delivery.payload) for e in of_type(ours_events, DeliveryReceived)] == [b"after"]


def test_our_max_message_size_reaches_proton_and_a_larger_message_closes_the_link() -> None:
    pump, ours, theirs = _linked(True, False, max_message_size=1000)
    assert theirs.remote_max_message_size == 1000
    ours.flow(5)
    pump.pump()
    _proton_send(theirs, b"z" * 2000, b"big")
    ours_events, theirs_events = pump.pump()
    (violation,) = of_type(ours_events, ProtocolViolationDetected)
    assert violation.condition == "amqp:link:message-size-exceeded" and violation.link is ours
    assert of_type(ours_events, DeliveryReceived) == []
    assert E.LINK_REMOTE_CLOSE in [e.type for e in theirs_events]
    assert theirs.remote_condition.name == "amqp:link:message-size-exceeded"


def test_our_sender_refuses_a_message_larger_than_protons_max_message_size() -> None:
    pump, ours, theirs = _linked(
        False, True, proton_options=lambda link: setattr(link, "max_message_size", 100)
    )
    assert ours.remote_max_message_size == 100
    with pytest.raises(LocalProtocolError, match="max-message-size"):
        ours.send(b"q" * 200)
    ours.send(b"q" * 100)
    theirs.flow(1)
    pump.pump()
    assert [body for _, body in read_proton(theirs)] == [b"q" * 100]


@pytest.mark.parametrize("ours_sends", [True, False], ids=["ours-sends", "proton-sends"])
def test_a_run_of_settled_outcomes_reaches_the_sender_for_every_delivery(ours_sends: bool) -> None:
    pump, ours, theirs = _linked(True, ours_sends)
    payloads = [b"r%d" % i for i in range(5)]
    if ours_sends:
        sent = [ours.send(p) for p in payloads]
        theirs.flow(5)
        pump.pump()
        for delivery, _ in read_proton(theirs):
            delivery.update(PD.ACCEPTED)
            delivery.settle()
        ours_events, _ = pump.pump()
        assert [e.delivery for e in of_type(ours_events, DeliverySettled)] == sent
        assert all(isinstance(d.remote_state, Accepted) for d in sent)
    else:
        ours.flow(5)
        pump.pump()
        sent = [_proton_send(theirs, p, b"t%d" % i) for i, p in enumerate(payloads)]
        ours_events, _ = pump.pump()
        before = len(pump.ours_out.frames)
        for event in of_type(ours_events, DeliveryReceived):
            event.delivery.accept()
        pump.pump()
        (frame,) = pump.ours_out.frames[before:]  # one DISPOSITION, first=0 last=4 (spec 2.7.6)
        assert frame[3].startswith(DISPOSITION)
        assert [(d.remote_state, d.settled) for d in sent] == [(PD.ACCEPTED, True)] * 5
