"""The async ``Transaction`` both async adapters share: ``async with conn.transaction() as txn:``.

Owns: the async face of ``amqp10._transactions`` (each method one of its calls, performed by
the connection's ``AsyncDriver``), for ``amqp10.trio`` and ``amqp10.asyncio`` alike. Must
never: import trio or asyncio, or decide protocol meaning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _transactions
from ._delivery import Delivery
from ._transactions import TransactionRecord, TransactionState, TransactionView
from .codec.message import Message
from .codec.spec import Accepted
from .errors import AMQPError

if TYPE_CHECKING:
    from ._async_client import AsyncDriver, Sender

__all__ = ["Transaction"]


class Transaction(TransactionView):
    """A declared transaction (see ``amqp10.blocking.Transaction``), async.

    ``async with conn.transaction() as txn:`` declares it, commits when the block ends
    normally and rolls back when it raises (rolling back is shielded from cancellation);
    ``txn = await conn.transaction()`` declares one to commit or roll back yourself.
    """

    __slots__ = ("_sync", "_txn")

    def __init__(self, sync: "AsyncDriver", txn: TransactionRecord) -> None:
        self._sync = sync
        self._txn = txn

    def __repr__(self) -> str:
        return f"<Transaction {self._txn.describe()} {self.state.value}>"

    async def __aenter__(self) -> "Transaction":
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.state is not TransactionState.ACTIVE:
            return  # committed or rolled back inside the block
        if exc_type is None:
            await self.commit()
            return
        try:
            await self._sync.shielded(self.rollback())
        except AMQPError:
            pass  # the block's own error is the news; the peer rolls back a lost transaction

    async def send(self, sender: "Sender", message: Message | Any, *, timeout: float | None = None) -> Any:
        """Send ``message`` on ``sender`` in this transaction and return the outcome it will
        have on commit (see ``amqp10.blocking.Transaction.send``). Cancellation-safe like
        ``Sender.send``."""
        return await self._sync.call(_transactions.send, self._txn, sender._record, message, timeout)

    def accept(self, delivery: Delivery) -> None:
        """Accept a received delivery in this transaction: consumed on commit, back on its
        queue on rollback (see ``amqp10.blocking.Transaction.accept``)."""
        self.update(delivery, Accepted())

    def update(self, delivery: Delivery, outcome: Any) -> None:
        """Give a received delivery ``outcome`` in this transaction; it applies on commit."""
        self._sync.run(lambda: _transactions.dispose(self._txn, delivery, outcome))

    async def commit(self, *, timeout: float | None = None) -> None:
        """Discharge so the work takes effect (see ``amqp10.blocking.Transaction.commit``).

        Raises:
            TransactionRolledBack: the peer rolled it back instead.
            TransactionError: the discharge was refused, or the transaction is not active.
        """
        await self._sync.call(_transactions.discharge, self._txn, False, timeout)

    async def rollback(self, *, timeout: float | None = None) -> None:
        """Discharge with ``fail=true``: none of the work takes effect."""
        await self._sync.call(_transactions.discharge, self._txn, True, timeout)
