"""The blocking ``Transaction``: ``with conn.transaction() as txn:`` (spec part 4).

Owns: the synchronous face of ``amqp10._transactions`` (each method one of its calls, driven
by the connection's ``_Sync``). Must never: decide protocol meaning (``_transactions`` does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import _transactions
from .._delivery import Delivery
from .._transactions import TransactionRecord, TransactionView
from ..codec.message import Message
from ..codec.spec import Accepted
from ..errors import AMQPError

if TYPE_CHECKING:
    from ._client import Sender, _Sync

__all__ = ["Transaction"]


class Transaction(TransactionView):
    """A declared transaction (spec 4.3): messages sent and outcomes given through it take
    effect together when it commits, or not at all.

    Get one from ``Connection.transaction()`` or ``Session.transaction()``. As a context
    manager it commits when the block ends normally and rolls back when it raises::

        with conn.transaction() as txn:
            txn.send(sender, Message(body="debit"))
            txn.accept(delivery)

    The links it uses must be on its session (the connection's default session for
    ``Connection.transaction()``), unless the peer's coordinator offers
    ``amqp:multi-ssns-per-txn``. Safe to use from several threads.
    """

    __slots__ = ("_sync", "_txn")

    def __init__(self, sync: "_Sync", txn: TransactionRecord) -> None:
        self._sync = sync
        self._txn = txn

    def __repr__(self) -> str:
        return f"<Transaction {self._txn.describe()} {self.state.value}>"

    def __enter__(self) -> "Transaction":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.state is not _transactions.TransactionState.ACTIVE:
            return  # committed or rolled back inside the block
        if exc_type is None:
            self.commit()
            return
        try:
            self.rollback()
        except AMQPError:
            pass  # the block's own error is the news; the peer rolls back a lost transaction

    def send(self, sender: "Sender", message: Message | Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` on ``sender`` as part of this transaction (spec 4.4.1): the
        receiving node takes it only when the transaction commits.

        Returns:
            The outcome it will have on commit (``Accepted()`` ...), as the peer reports it in
            its transactional-state; ``None`` at-most-once, once written.

        Raises:
            TransactionError: the transaction is no longer active.
            LocalProtocolError: ``sender`` is on another session.
            Timeout, LinkDetachedError, SessionEndedError, ConnectionClosedError: as
                ``Sender.send``.
        """
        return self._sync.call(_transactions.send, self._txn, sender._record, message, timeout)

    def accept(self, delivery: Delivery) -> None:
        """Accept a received delivery as part of this transaction (spec 4.4.2): the message
        is consumed when the transaction commits, and comes back to its queue on rollback.

        Raises:
            TransactionError: the transaction is no longer active.
            LocalProtocolError: the delivery is already settled (or pre-settled).
        """
        self.update(delivery, Accepted())

    def update(self, delivery: Delivery, outcome: Any) -> None:
        """Give a received delivery ``outcome`` (``Accepted()``, ``Rejected(...)``,
        ``Released()``, ``Modified(...)``) as part of this transaction; it applies on commit.
        """
        self._sync.run(lambda: _transactions.dispose(self._txn, delivery, outcome))

    def commit(self, *, timeout: float | None = None) -> None:
        """Discharge the transaction so its work takes effect (spec 4.3).

        Raises:
            TransactionRolledBack: the peer rolled it back instead (``condition``:
                ``amqp:transaction:rollback``): none of its work took effect.
            TransactionError: the peer refused the discharge, or it is no longer active.
            Timeout: no answer in time (its fate is then unknown).
        """
        self._sync.call(_transactions.discharge, self._txn, False, timeout)

    def rollback(self, *, timeout: float | None = None) -> None:
        """Discharge the transaction with ``fail=true``: none of its work takes effect;
        messages it accepted come back to their queues.

        Raises:
            TransactionError: the peer refused the discharge, or it is no longer active.
        """
        self._sync.call(_transactions.discharge, self._txn, True, timeout)
