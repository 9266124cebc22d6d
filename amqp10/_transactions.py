"""Client transactions (spec part 4), written once for every adapter.

Owns: the transaction controller's side: the coordinator link (one per session, attached on
first use, 4.2), ``TransactionRecord`` (a declared transaction's id and state), and the calls
``declare``, ``discharge`` and a transactional ``send`` as generators of ``_calls.Wait``
steps; the transactional outcome of a received delivery (``dispose``, 4.4.2) needs no wait.
``TransactionView`` holds the read-only facts every adapter's ``Transaction`` shares. Must
never: do I/O, block, read a clock, or import an adapter.

Scope (4.4): local transactions only (``amqp:local-transactions``): the work of a transaction
goes through links of the session whose coordinator declared it, unless the coordinator
offers ``amqp:multi-ssns-per-txn``. Transactional *acquisition* (4.4.3, a txn-id on FLOW) is
not offered: received messages join a transaction when their outcome is given in it.
"""

from __future__ import annotations

import enum
from typing import Any

from ._api import OUTCOMES, PENDING, LinkRecord, SessionRecord, encode_for
from ._calls import Budget, Steps, Wait
from ._delivery import Delivery, Runner
from .codec.message import Message
from .codec.spec import (
    Accepted,
    Coordinator,
    Declare,
    Declared,
    Discharge,
    ReceiverSettleMode,
    Rejected,
    SenderSettleMode,
    Source,
    TransactionalState,
    TransactionErrorCondition,
    TxnCapability,
)
from .codec.types import Symbol
from .engine.delivery import Delivery as EngineDelivery
from .errors import LinkDetachedError, LocalProtocolError, SessionEndedError, TransactionError, TransactionRolledBack

__all__ = [
    "TransactionState",
    "TransactionRecord",
    "TransactionView",
    "coordinator_for",
    "declare",
    "discharge",
    "send",
    "dispose",
]


class TransactionState(enum.Enum):
    """Where a transaction is in its life (spec 4.3)."""

    #: the declare was sent; no txn-id yet
    DECLARING = "declaring"
    #: declared: work may be done in it
    ACTIVE = "active"
    #: a discharge was sent and its answer has not come (or nobody waited for it)
    DISCHARGING = "discharging"
    #: discharged with ``fail=false`` and accepted: the work took effect
    COMMITTED = "committed"
    #: discharged with ``fail=true``, or the peer rolled it back: no work took effect
    ROLLED_BACK = "rolled back"


#: 4.5.1: the controller proposes the outcomes it understands for its control messages; a
#: failed discharge comes back ``rejected`` with a transaction-error (4.3).
_CONTROL_OUTCOMES = [Symbol(Accepted._amqp_name_), Symbol(Rejected._amqp_name_)]
_ROLLBACK_CONDITIONS = (TransactionErrorCondition.TRANSACTION_ROLLBACK.value, TransactionErrorCondition.TRANSACTION_TIMEOUT.value)


def coordinator_attach() -> dict[str, Any]:
    """ATTACH fields of a link to the coordinator (4.2: its target is a ``coordinator``
    asking for the local transactions this client uses)."""
    return {
        "source": Source(outcomes=_CONTROL_OUTCOMES),
        "target": Coordinator(capabilities=[Symbol(TxnCapability.LOCAL_TRANSACTIONS.value)]),
        "snd_settle_mode": SenderSettleMode.UNSETTLED,
        "rcv_settle_mode": ReceiverSettleMode.FIRST,
    }


def coordinator_for(session: SessionRecord) -> LinkRecord:
    """The session's coordinator link, attached now if it has none usable (a command)."""
    record = session.coordinator
    if record is None or record.detached or record.closing:
        session.check()
        record = session.attach_sender(None, coordinator_attach(), name=session.core.next_name("coordinator"))
        record._described = "transaction coordinator link"
        session.coordinator = record
    return record


class TransactionRecord:
    """One transaction as the adapters see it: its session, coordinator link, id and state."""

    def __init__(self, session: SessionRecord, coordinator: LinkRecord) -> None:
        self.session = session
        self.coordinator = coordinator
        self.state = TransactionState.DECLARING
        self.txn_id: bytes | None = None

    def describe(self) -> str:
        """``transaction 0x0001`` for messages."""
        return "transaction" if self.txn_id is None else f"transaction 0x{self.txn_id.hex()}"

    def check_active(self) -> bytes:
        """The txn-id, or raise why no work can be done in the transaction now."""
        if self.state is not TransactionState.ACTIVE or self.txn_id is None:
            raise TransactionError(f"the {self.describe()} is {self.state.value}: no more work can be done in it")
        return self.txn_id

    def check_link(self, record: LinkRecord) -> None:
        """Refuse work on a link of another session unless the coordinator allows it (4.4:
        without ``amqp:multi-ssns-per-txn`` a transaction is scoped to its session)."""
        if record.session is self.session:
            return
        offered = self.coordinator.link.remote_offered_capabilities
        offered = () if offered is None else ([offered] if isinstance(offered, str) else offered)
        if TxnCapability.MULTI_SSNS_PER_TXN.value not in {str(c) for c in offered}:
            raise LocalProtocolError(
                f"the {record.describe()} is on another session than the {self.describe()}; "
                "the peer does not offer amqp:multi-ssns-per-txn"
            )

    # -- commands ------------------------------------------------------------------------------
    def send_declare(self) -> EngineDelivery:
        """Send ``declare`` to the coordinator (4.5.2)."""
        return self.coordinator.send(_DECLARE)

    def send_discharge(self, fail: bool) -> EngineDelivery:
        """Send ``discharge`` (4.5.4); the transaction is DISCHARGING from now on."""
        txn_id = self.check_active()
        self.coordinator.check()
        delivery = self.coordinator.send(Message(body=Discharge(txn_id=txn_id, fail=fail or None)).encode())
        self.state = TransactionState.DISCHARGING
        return delivery

    def send_on(self, record: LinkRecord, payload: bytes) -> EngineDelivery:
        """Queue a transfer in this transaction (4.4.1: its state is a transactional-state)."""
        txn_id = self.check_active()
        self.check_link(record)
        record.check()
        link = record.link
        assert link.is_sender
        delivery: EngineDelivery = link.send(payload, settled=record.at_most_once, state=TransactionalState(txn_id=txn_id))  # type: ignore[attr-defined]
        if not record.at_most_once:
            record.in_flight.add(delivery)
        return delivery


_DECLARE = Message(body=Declare()).encode()


class TransactionView:
    """What a ``Transaction`` knows about itself (shared by every adapter)."""

    __slots__ = ()

    _txn: TransactionRecord

    @property
    def txn_id(self) -> bytes | None:
        """The id the coordinator gave the transaction (``None`` before it is declared)."""
        return self._txn.txn_id

    @property
    def state(self) -> TransactionState:
        """``ACTIVE`` until discharged, then ``COMMITTED`` or ``ROLLED_BACK``."""
        return self._txn.state


# -- steps ----------------------------------------------------------------------------------------
def _control_outcome(record: LinkRecord, delivery: EngineDelivery) -> Any:
    """Predicate: the coordinator's answer to a declare or discharge (4.5)."""
    state = delivery.remote_state
    if isinstance(state, (Declared, *OUTCOMES)) or delivery.remote_settled:
        return state
    record.check()
    return PENDING


def _error(what: str, state: Any) -> TransactionError:
    """The typed error for a coordinator's refusal (``rejected`` with a transaction-error)."""
    error = state.error if isinstance(state, Rejected) else None
    if error is None:
        return TransactionError(f"{what}: the coordinator answered {state!r}")
    condition = None if error.condition is None else str(error.condition)
    text = f"{what}: {condition}" + (f": {error.description}" if error.description else "")
    kind = TransactionRolledBack if condition in _ROLLBACK_CONDITIONS else TransactionError
    return kind(text, condition=condition, info=error.info)


def declare(run: Runner, session: SessionRecord, timeout: float | None) -> Steps[TransactionRecord]:
    """Attach the session's coordinator if needed, declare a transaction, wait for its id.

    Raises:
        TransactionError: the peer refused the coordinator link (no transactions) or the
            declare (``condition`` says why).
    """
    budget = Budget(timeout)
    coordinator = run(lambda: coordinator_for(session))
    try:
        yield Wait(coordinator.attached_or_failed, budget, "attaching the transaction coordinator")
    except (LinkDetachedError, SessionEndedError) as exc:
        # Refused (Proton, rhea), or the whole session ended for it (RabbitMQ 3.x): either
        # way this peer does no transactions here.
        raise TransactionError(f"the peer has no transaction coordinator for us: {exc}", condition=exc.condition, info=exc.info) from exc
    txn = TransactionRecord(session, coordinator)
    delivery = run(txn.send_declare)
    state = yield Wait(lambda: _control_outcome(coordinator, delivery), budget, "declaring a transaction", watch=delivery)
    if not isinstance(state, Declared) or state.txn_id is None:
        raise _error("the peer refused to declare a transaction", state)
    txn.txn_id = bytes(state.txn_id)
    txn.state = TransactionState.ACTIVE
    return txn


def discharge(run: Runner, txn: TransactionRecord, fail: bool, timeout: float | None) -> Steps[None]:
    """Commit (``fail=False``) or roll back the transaction and wait for the coordinator.

    Raises:
        TransactionRolledBack: a commit was answered with a rollback (4.5.4).
        TransactionError: the discharge was refused otherwise (``amqp:transaction:unknown-id``),
            or the transaction is not active.
    """
    delivery = run(lambda: txn.send_discharge(fail))
    what = f"{'rolling back' if fail else 'committing'} the {txn.describe()}"
    state = yield Wait(lambda: _control_outcome(txn.coordinator, delivery), timeout, what, watch=delivery)
    if isinstance(state, Accepted):
        txn.state = TransactionState.ROLLED_BACK if fail else TransactionState.COMMITTED
        return
    error = _error(f"{what} failed", state)
    if isinstance(error, TransactionRolledBack):
        txn.state = TransactionState.ROLLED_BACK
        if fail:
            return  # asked to roll back, and rolled back it is
    raise error


def _send_result(record: LinkRecord, delivery: EngineDelivery) -> Any:
    """Predicate: a transactional transfer's outcome, as it will be on commit (4.4.1: the
    resource answers with a transactional-state carrying it, or settles with the outcome)."""
    if record.at_most_once:
        return record.sent(delivery)
    state = delivery.remote_state
    if isinstance(state, TransactionalState):
        if state.outcome is not None:
            return state.outcome
    elif isinstance(state, OUTCOMES) or delivery.remote_settled:
        return state
    record.check()
    return PENDING


def send(run: Runner, txn: TransactionRecord, record: LinkRecord, message: Message | Any, timeout: float | None) -> Steps[Any]:
    """Send one message in the transaction and wait for its (provisional) outcome; like
    ``_calls.send``, a failed wait withdraws it if none of it went out."""
    payload = encode_for(record, message)
    budget = Budget(timeout)
    what = f"sending on the {record.describe()} in the {txn.describe()}"
    if record.core.write_buffer_full():
        yield Wait(record.room_to_send, budget, what)
    delivery = run(lambda: txn.send_on(record, payload))
    try:
        result = yield Wait(lambda: _send_result(record, delivery), budget, what, watch=None if record.at_most_once else delivery)
    except BaseException:
        run(lambda: record.withdraw(delivery))
        raise
    return result


def dispose(txn: TransactionRecord, delivery: Delivery, outcome: Any) -> None:
    """Give a received delivery its outcome in the transaction (4.4.2: a disposition whose
    state is a transactional-state; the outcome takes effect on commit). A command.

    Raises:
        TransactionError: the transaction is not active.
        LocalProtocolError: the delivery is settled (the sender sent it pre-settled, or an
            outcome was given already), or on a link of another session.
    """
    txn_id = txn.check_active()
    engine_delivery = delivery._delivery
    record = txn.session.core.links.get(engine_delivery.link)
    if record is not None:
        txn.check_link(record)
    if engine_delivery.settled:
        raise LocalProtocolError("the delivery is settled (pre-settled by its sender, or already given an outcome): it cannot join a transaction")
    engine_delivery.update(TransactionalState(txn_id=txn_id, outcome=outcome), settle=engine_delivery._default_settle())

