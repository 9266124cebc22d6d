"""The embedded peer's transaction coordinator (spec part 4): local transactions over its nodes.

Owns: the coordinator links clients attach (a target of type ``coordinator``, 4.2), the
transactions they declare (``Txn``: the transfers held until commit and the outcomes that
apply only then), the answers to ``declare`` and ``discharge`` (4.5), and the bounds that keep
all of it finite: declared transactions per connection, and the bytes of messages held by
every open transaction together. Must never: touch a node or apply an outcome itself: the
broker applies a discharged transaction's work (``broker.py``); nor do I/O or read a clock.

Behaviour, with the spec sections it follows:

- *Attach* (4.2): the answer's target is a ``coordinator`` offering ``amqp:local-transactions``
  only (the link's offered-capabilities say so too); a declare with a ``global-id``
  (distributed transactions) is rejected with ``amqp:not-implemented``.
- *Declare* (4.5.2): a fresh txn-id (never reused) comes back in ``declared``, settled. A
  connection holding ``max_transactions`` undischarged ones gets ``rejected`` with
  ``amqp:resource-limit-exceeded``.
- *Transactional work* (4.4): a transfer carrying a transactional-state is answered at once
  with a transactional-state holding ``accepted`` and settled; its message enters its node
  only on commit. An outcome given in a transaction applies only on commit; until then the
  message stays held by its queue, and on rollback it returns to it. A txn-id this connection
  did not declare (or already discharged) is ``amqp:transaction:unknown-id``.
- *Discharge* (4.5.4): ``fail=true`` rolls back; otherwise it commits, unless the transaction
  can only be rolled back (a transfer of it was refused for lack of room), when it is rolled
  back and the discharge is ``rejected`` with ``amqp:transaction:rollback``. An unknown txn-id
  is ``rejected`` with ``amqp:transaction:unknown-id``.
- A coordinator link that goes away (or its connection) rolls back what it declared.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from ..codec import DecodeError
from ..codec.message import Message
from ..codec.spec import (
    Accepted,
    AmqpErrorCondition,
    Coordinator,
    Declare,
    Declared,
    Discharge,
    Error,
    Rejected,
    TransactionErrorCondition,
    TxnCapability,
)
from ..codec.types import Symbol

if TYPE_CHECKING:
    from ..engine.connection import Connection
    from ..engine.delivery import Delivery
    from ..engine.link import Receiver
    from .links import Outlet
    from .nodes import Node, StoredMessage

__all__ = ["Txn", "Coordinators", "LOCAL_TRANSACTIONS"]

log = logging.getLogger("amqp10.peer")

#: the one transaction capability this peer offers (4.5.7)
LOCAL_TRANSACTIONS = TxnCapability.LOCAL_TRANSACTIONS.value
_OFFERED = [Symbol(LOCAL_TRANSACTIONS)]
#: credit a coordinator link keeps granted for control messages
_CONTROL_CREDIT = 64


@dataclasses.dataclass(eq=False)
class Txn:
    """One declared, undischarged transaction.

    Attributes:
        txn_id: its id (4.5.6).
        connection: the engine connection it belongs to (its txn-id means nothing elsewhere).
        link: the coordinator link that declared it.
        enqueues: messages received in it, with the node each goes to on commit.
        retirements: outcomes given in it: the outlet and message they are for.
        failed: why it can only be rolled back (``None``: it can commit).
        held_bytes: the bytes of ``enqueues``.
    """

    txn_id: bytes
    connection: "Connection"
    link: "Receiver"
    enqueues: list[tuple["StoredMessage", "Node"]] = dataclasses.field(default_factory=list)
    retirements: list[tuple["Outlet", "StoredMessage", Any]] = dataclasses.field(default_factory=list)
    failed: str | None = None
    held_bytes: int = 0


class TxnRefused(Exception):
    """Transactional work or a control message refused, with the condition to answer with."""

    def __init__(self, condition: str, description: str) -> None:
        super().__init__(description)
        self.condition = condition
        self.description = description

    def rejected(self) -> Rejected:
        """The ``rejected`` outcome that carries it."""
        return Rejected(error=Error(condition=Symbol(self.condition), description=self.description))


class Coordinators:
    """Every coordinator link and open transaction of one broker.

    Args:
        max_transactions: undischarged transactions one connection may hold at once.
        max_held_bytes: the bytes of messages all open transactions may hold together, before
            their commit puts them into nodes (a transfer beyond it is refused and its
            transaction can then only roll back).
    """

    def __init__(self, *, max_transactions: int = 64, max_held_bytes: int = 64 << 20) -> None:
        self.max_transactions = max_transactions
        self.max_held_bytes = max_held_bytes
        self.links: dict["Receiver", set[bytes]] = {}
        self._txns: dict[bytes, Txn] = {}
        self._per_connection: dict["Connection", int] = {}
        self._serial = 0
        self._held_bytes = 0

    @property
    def open_transactions(self) -> int:
        """How many transactions are declared and not yet discharged."""
        return len(self._txns)

    # -- links -----------------------------------------------------------------------------------
    def attach(self, link: "Receiver") -> None:
        """Answer a client's ATTACH to the coordinator (4.2) and grant control-message credit."""
        asked = link.remote_target
        assert isinstance(asked, Coordinator)
        link.target = Coordinator(capabilities=_OFFERED)
        link.offered_capabilities = _OFFERED
        link.attach()
        link.flow(_CONTROL_CREDIT)
        self.links[link] = set()
        log.debug("attached coordinator link %r", link.name)

    def forget_link(self, link: "Receiver") -> list[Txn]:
        """The coordinator link went away: the transactions it declared, to roll back."""
        ids = self.links.pop(link, None)
        return [self._end(txn_id) for txn_id in sorted(ids or ())]

    def _end(self, txn_id: bytes) -> Txn:
        txn = self._txns.pop(txn_id)
        self.links.get(txn.link, set()).discard(txn_id)
        self._held_bytes -= txn.held_bytes
        count = self._per_connection.get(txn.connection, 0) - 1
        if count > 0:
            self._per_connection[txn.connection] = count
        else:
            self._per_connection.pop(txn.connection, None)
        return txn

    def lookup(self, connection: "Connection", txn_id: Any) -> Txn:
        """The open transaction ``txn_id`` of ``connection``.

        Raises:
            TxnRefused: ``amqp:transaction:unknown-id``.
        """
        key = bytes(txn_id) if isinstance(txn_id, (bytes, bytearray, memoryview)) else None
        txn = self._txns.get(key) if key is not None else None
        if txn is None or txn.connection is not connection:
            raise TxnRefused(TransactionErrorCondition.UNKNOWN_ID.value, f"no transaction {txn_id!r} is open on this connection")
        return txn

    # -- control messages (4.5) ---------------------------------------------------------------------
    def on_control(self, link: "Receiver", delivery: "Delivery") -> tuple[Txn, bool] | None:
        """Answer a declare or discharge received on a coordinator link.

        Returns:
            For a discharge: the transaction and whether to commit it (the broker applies its
            work, then ``discharged`` answers); ``None`` when answered already.
        """
        if link.credit.link_credit <= _CONTROL_CREDIT // 2:
            link.flow(_CONTROL_CREDIT)
        try:
            body = Message.decode(bytes(delivery.payload)).body
            if isinstance(body, Declare):
                self._declare(link, delivery, body)
                return None
            if isinstance(body, Discharge):
                txn = self.lookup(link.session.connection, body.txn_id)
                return txn, not body.fail
            raise TxnRefused(AmqpErrorCondition.DECODE_ERROR.value, f"a coordinator takes declare or discharge, not {type(body).__name__}")
        except DecodeError as exc:
            self._answer(delivery, TxnRefused(AmqpErrorCondition.DECODE_ERROR.value, f"cannot read the control message: {exc}").rejected())
        except TxnRefused as refusal:
            log.info("refused a control message on %r: %s", link.name, refusal.description)
            self._answer(delivery, refusal.rejected())
        return None

    def _declare(self, link: "Receiver", delivery: "Delivery", declare: Declare) -> None:
        if declare.global_id is not None:
            raise TxnRefused(AmqpErrorCondition.NOT_IMPLEMENTED.value, "only local transactions are supported (no global-id)")
        connection = link.session.connection
        if self._per_connection.get(connection, 0) >= self.max_transactions:
            raise TxnRefused(
                AmqpErrorCondition.RESOURCE_LIMIT_EXCEEDED.value,
                f"this connection already holds {self.max_transactions} undischarged transactions",
            )
        self._serial += 1
        txn_id = self._serial.to_bytes(8, "big")
        self._txns[txn_id] = Txn(txn_id, connection, link)
        self.links.setdefault(link, set()).add(txn_id)
        self._per_connection[connection] = self._per_connection.get(connection, 0) + 1
        self._answer(delivery, Declared(txn_id=txn_id))

    def discharged(self, txn: Txn, delivery: "Delivery", committed: bool, asked_to_commit: bool) -> None:
        """Forget ``txn`` (its work was applied or dropped) and answer its discharge: a commit
        that turned into a rollback is ``amqp:transaction:rollback`` (4.5.4)."""
        if txn.txn_id in self._txns:
            self._end(txn.txn_id)
        if asked_to_commit and not committed:
            reason = txn.failed or "the transaction could not commit"
            self._answer(delivery, TxnRefused(TransactionErrorCondition.TRANSACTION_ROLLBACK.value, reason).rejected())
        else:
            self._answer(delivery, Accepted())

    @staticmethod
    def _answer(delivery: "Delivery", state: Any) -> None:
        if not delivery.settled:
            delivery.update(state, settle=True)

    # -- transactional work (4.4) -------------------------------------------------------------------
    def hold(self, txn: Txn, message: "StoredMessage", node: "Node") -> None:
        """Keep a message received in ``txn`` until it is discharged.

        Raises:
            TxnRefused: ``amqp:resource-limit-exceeded`` when open transactions hold too much
                already; ``txn`` can then only roll back.
        """
        if txn.failed is not None:
            raise TxnRefused(TransactionErrorCondition.TRANSACTION_ROLLBACK.value, txn.failed)
        if self._held_bytes + message.size > self.max_held_bytes:
            txn.failed = f"open transactions hold over {self.max_held_bytes} bytes of messages"
            raise TxnRefused(AmqpErrorCondition.RESOURCE_LIMIT_EXCEEDED.value, txn.failed)
        txn.enqueues.append((message, node))
        txn.held_bytes += message.size
        self._held_bytes += message.size

    @staticmethod
    def retire(txn: Txn, outlet: "Outlet", message: "StoredMessage", outcome: Any) -> None:
        """Record an outcome given in ``txn``; it applies on commit."""
        txn.retirements.append((outlet, message, outcome))

