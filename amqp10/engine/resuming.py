"""Link recovery applied to links (spec 2.6.13): snapshots, reconciliation, resumed transfers.

Owns: what a ``Sender`` / ``Receiver`` does when it resumes: its ``unsettled`` snapshot, the
comparison of the two ATTACH maps (``recovery.sender_action`` at a sender), the first TRANSFER
fields of a resumed delivery, and a receiver's handling of resumed transfers (no duplicate of a
delivery it had decided). ``link.py`` calls these from its methods; the rules as data live in
``recovery.py``. Must never: write frames except through the link's session.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..codec import encode
from ..codec.spec import Attach, Transfer
from .delivery import Delivery
from .events import DeliveryReceived, DeliverySettled, UnsettledReconciled
from .recovery import ResumeAction, UnsettledDelivery, UnsettledMap, is_terminal, remote_map, sender_action
from .violations import PeerViolation, Violation

if TYPE_CHECKING:
    from .link import Receiver, Sender

__all__ = [
    "fit_unsettled",
    "sender_snapshot",
    "reconcile_sender",
    "resumed_fields",
    "receiver_snapshot",
    "reconcile_receiver",
    "first_transfer",
    "finish_resumed",
]


#: Bytes of a frame beyond its body: the 8-byte frame header (spec 2.3.1).
_FRAME_HEADER = 8


def fit_unsettled(attach: Attach, max_frame_size: int) -> Attach:
    """``attach`` with as much of its ``unsettled`` map as fits in one frame of
    ``max_frame_size`` (oldest deliveries first), and ``incomplete-unsettled`` set when some
    were left out (spec 2.7.3: an endpoint SHOULD send an incomplete map rather than fail).
    Only the map on the wire is cut: the link still reconciles every delivery it holds."""
    if len(encode(attach)) + _FRAME_HEADER <= max_frame_size:
        return attach
    entries = list((attach.unsettled or {}).items())
    lo, hi = 0, len(entries)  # the most entries that fit: lo fits, hi + 1 does not
    while lo < hi:
        mid = (lo + hi + 1) // 2
        candidate = replace(attach, unsettled=dict(entries[:mid]), incomplete_unsettled=True)
        if len(encode(candidate)) + _FRAME_HEADER <= max_frame_size:
            lo = mid
        else:
            hi = mid - 1
    return replace(attach, unsettled=dict(entries[:lo]), incomplete_unsettled=True)


def sender_snapshot(sender: "Sender") -> UnsettledMap:
    """What ``sender`` has not settled, with each message, oldest first: sent and awaiting an
    outcome, partly sent, queued, and left undecided by an incomplete peer map."""
    entries: dict[bytes, UnsettledDelivery] = {}

    def add(d: Delivery) -> None:
        if d.settled or d.aborted or d.tag in entries:
            return
        state = d.remote_state if is_terminal(d.remote_state) else d.local_state
        # A streamed delivery's bytes are gone once framed: it cannot be sent again.
        payload = None if d._stream is not None else bytes(d.payload)
        entries[d.tag] = UnsettledDelivery(d.tag, state, payload, d.message_format)

    for d in sender._unsettled_deliveries():
        add(d)
    if sender._current is not None:
        add(sender._current[0])
    for d in sender._queue:
        add(d)
    for entry in sender._undecided:
        entries.setdefault(entry.tag, entry)
    return UnsettledMap(tuple(entries.values()))


def reconcile_sender(sender: "Sender") -> None:
    """Spec 2.6.13 at the sender: resend, resume, settle or abort each delivery of its
    unsettled map according to the receiver's (``recovery.sender_action``), once both ATTACH
    frames are known."""
    local, attach = sender.local_unsettled, sender.remote_attach
    if local is None or attach is None or sender._reconciled or sender._refused_by_peer:
        return
    sender._reconciled = True
    remote = remote_map(attach.unsettled)
    incomplete = bool(attach.incomplete_unsettled)
    sender._peer_incomplete = incomplete
    deliveries: dict[bytes, Delivery] = {}
    settled: list[bytes] = []
    lost: list[bytes] = []
    again: list[Delivery] = []
    for entry in local:
        action = sender_action(entry, remote, incomplete)
        if action is ResumeAction.UNDECIDED:
            sender._undecided.append(entry)
            continue
        d = Delivery(sender, entry.tag, payload=memoryview(entry.payload or b""), message_format=entry.message_format)
        deliveries[entry.tag] = d
        if action is ResumeAction.FORGET:
            d.settled = d.remote_settled = d.complete = True
            d.local_state = d.remote_state = entry.state
            settled.append(entry.tag)
        elif action is ResumeAction.LOST:
            d.settled = d.aborted = True
            lost.append(entry.tag)
        else:
            d.resumed = action is not ResumeAction.RESEND
            if action is ResumeAction.SETTLE:
                # A resumed transfer with no payload carrying the outcome (2.7.5 resume):
                # the receiver's if it reached one, else ours.
                peer_state = remote.get(entry.tag)
                outcome = peer_state if is_terminal(peer_state) else entry.state
                d.payload = memoryview(b"")
                d.local_state = d.remote_state = outcome
                d.settled = d.remote_settled = True
            elif action is ResumeAction.ABORT:
                d.payload = memoryview(b"")
                d.settled = True  # spec 2.6.14: an aborted delivery is implicitly settled
                d._ignored = True  # at a sender: abort it when its transfer goes
            again.append(d)
    sender._queue.extendleft(reversed(again))
    sender.session._events.append(
        UnsettledReconciled(
            link=sender, deliveries=deliveries, settled=tuple(settled), lost=tuple(lost), peer_incomplete=incomplete
        )
    )
    sender.session._pump()


def resumed_fields(first: list[Any], delivery: Delivery) -> list[Any]:
    """The first TRANSFER of a resumed delivery (spec 2.7.5 fields up to ``aborted``): state
    (the outcome a settling one carries), ``resume=true``, and ``aborted`` for an abort."""
    fields = first + [None] * (10 - len(first))
    if delivery.settled:
        fields[4] = True
        if not delivery._ignored:
            fields[7] = delivery.local_state  # state
    fields[8] = True  # resume
    if delivery._ignored:
        fields[9] = True  # aborted
    while fields[-1] is None:
        fields.pop()
    return fields


def receiver_snapshot(receiver: "Receiver") -> UnsettledMap:
    """What ``receiver`` has not settled, with the state set here, oldest first, and the
    deliveries still awaiting a resumed transfer."""
    entries: dict[bytes, UnsettledDelivery] = {}
    for d in receiver._unsettled_deliveries():
        if not d.settled and not d._ignored and d.tag not in entries:
            entries[d.tag] = UnsettledDelivery(d.tag, d.local_state)
    for tag, d in receiver._awaiting.items():
        entries.setdefault(tag, UnsettledDelivery(tag, d.local_state))
    return UnsettledMap(tuple(entries.values()))


def reconcile_receiver(receiver: "Receiver") -> None:
    """Spec 2.6.13 at the receiver: a delivery the sender no longer holds is settled; one both
    hold awaits the sender's resumed transfer."""
    local, attach = receiver.local_unsettled, receiver.remote_attach
    if local is None or attach is None or receiver._reconciled or receiver._refused_by_peer:
        return
    receiver._reconciled = True
    remote = remote_map(attach.unsettled)
    incomplete = bool(attach.incomplete_unsettled)
    settled: list[bytes] = []
    for entry in local:
        d = Delivery(receiver, entry.tag)
        d.local_state = entry.state
        d.resumed = True
        if entry.tag in remote or incomplete:
            receiver._awaiting[entry.tag] = d
        else:
            settled.append(entry.tag)
    receiver.session._events.append(
        UnsettledReconciled(
            link=receiver, deliveries=dict(receiver._awaiting), settled=tuple(settled), peer_incomplete=incomplete
        )
    )


def first_transfer(receiver: "Receiver", transfer: Transfer, tag: bytes, delivery_id: int) -> Delivery:
    """The delivery a first TRANSFER starts on a receiver that resumes, or that was sent a
    resumed transfer (spec 2.7.5 ``resume``, 2.7.3 ``incomplete-unsettled``)."""
    fmt = int(transfer.message_format or 0)
    if transfer.resume:
        held = receiver._awaiting.pop(tag, None)
        if held is not None:
            held.id = delivery_id
            held.message_format = fmt
            return held
        peer = receiver.remote_unsettled
        if peer is None or tag not in peer:
            raise PeerViolation(
                Violation.RESUME_UNKNOWN_TAG,
                f"resumed transfer on {receiver.name!r} for tag {tag!r}, not in the sender's unsettled map",
                channel=receiver.session.channel,
                handle=receiver.handle,
            )
        # 2.7.5: "The receiver MUST ignore resumed deliveries that are not in its local
        # unsettled map": its bytes are dropped and nothing is reported.
        ignored = Delivery(receiver, tag, message_format=fmt, delivery_id=delivery_id)
        ignored.resumed = ignored._ignored = True
        return ignored
    if receiver._sent_incomplete:
        raise PeerViolation(
            Violation.NEW_DELIVERY_WHILE_INCOMPLETE,
            f"new delivery {tag!r} on {receiver.name!r} after our incomplete unsettled map",
            channel=receiver.session.channel,
            handle=receiver.handle,
        )
    return Delivery(receiver, tag, message_format=fmt, delivery_id=delivery_id)


def finish_resumed(receiver: "Receiver", delivery: Delivery) -> None:
    """A resumed delivery arrived whole: deliver it only if it is news (spec 2.6.13)."""
    session = receiver.session
    if delivery._ignored:
        session._untrack_incoming(delivery)
        delivery.settled = True
        return
    if is_terminal(delivery.local_state) or (delivery.remote_settled and not delivery.size):
        # Decided here before the link was suspended, or a transfer that only carries the
        # sender's final state: not a new message, so no duplicate is delivered.
        if delivery.remote_settled:
            session._untrack_incoming(delivery)
            delivery.settled = True
            session._events.append(DeliverySettled(delivery=delivery))
        else:
            # The sender does not know our outcome yet: say it again.
            delivery.update(delivery.local_state, settle=delivery._default_settle())
        return
    session._events.append(DeliveryReceived(delivery=delivery))
