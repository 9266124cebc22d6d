"""Transactions (spec part 4) against independent implementations, both ways:

- amqp10's client (blocking, trio, asyncio) against qpidd, whose coordinator does AMQP 1.0
  local transactions: a commit publishes and consumes, a rollback publishes nothing and gives
  accepted messages back;
- python-qpid-proton's own transaction controller (``Container.declare_transaction``, as in its
  ``tx_send``/``tx_recv`` examples; ``interop/proton/tx_client.py``) against amqp10's embedded
  peer;
- the typed errors from peers without transactions: RabbitMQ 3.x ends the session with
  ``amqp:not-implemented``; Proton's C++ example broker answers a declare with ``accepted``
  and no txn-id.

A peer that is not running is skipped with instructions, or fails under
``AMQP10_REQUIRE_PEERS=1`` (CI).
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import amqp10
import amqp10.asyncio
import amqp10.trio
from amqp10 import Accepted, TransactionError, TransactionState
from amqp10.peer import Broker
from amqp10.peer.server import start
from support.asyncio_helpers import asyncio_test
from support.peers import INTEROP, PeerInfo, peer_info, require_client
from support.trio_helpers import trio_test

pytestmark = pytest.mark.interop

_WAIT = 15.0


def _queue() -> str:
    return f"amqp10-txn-{uuid.uuid4().hex[:8]}"


def _qpidd() -> tuple[PeerInfo, dict[str, Any]]:
    info = peer_info("QPIDD")
    options: dict[str, Any] = {"timeout": _WAIT}
    if info.user is not None:
        options.update(username=info.user, password=info.password, allow_insecure_plain=True)
    return info, options


def _drain(receiver: amqp10.Receiver) -> list[object]:
    bodies = []
    while True:
        try:
            delivery = receiver.receive(timeout=0.5)
        except amqp10.Timeout:
            return bodies
        bodies.append(delivery.message.body)
        delivery.accept()


# -- amqp10's client against qpidd ----------------------------------------------------------------
def test_qpidd_transaction_commit_publishes_and_rollback_publishes_nothing() -> None:
    info, options = _qpidd()
    q = _queue()
    with amqp10.connect(info.url(), **options) as conn:
        sender = conn.open_sender(q)
        receiver = conn.open_receiver(q, credit=10)
        with conn.transaction() as txn:
            assert txn.send(sender, "committed") == Accepted()
            with pytest.raises(amqp10.Timeout):
                receiver.receive(timeout=0.5)  # qpidd holds it until the commit
        assert txn.state is TransactionState.COMMITTED
        with pytest.raises(RuntimeError):
            with conn.transaction() as failing:
                failing.send(sender, "rolled back")
                raise RuntimeError("the application failed")
        assert failing.state is TransactionState.ROLLED_BACK
        assert _drain(receiver) == ["committed"]


def test_qpidd_transactional_accept_removes_on_commit_and_redelivers_on_rollback() -> None:
    info, options = _qpidd()
    q = _queue()
    with amqp10.connect(info.url(), **options) as conn:
        conn.open_sender(q).send("m")
        receiver = conn.open_receiver(q, credit=1)
        delivery = receiver.receive(timeout=_WAIT)
        rollback = conn.transaction()
        rollback.accept(delivery)
        rollback.rollback()
        again = receiver.receive(timeout=_WAIT)  # qpidd gives it back on rollback
        assert again.message.body == "m"
        with conn.transaction() as txn:
            txn.accept(again)
        receiver.close()
        assert _drain(conn.open_receiver(q, credit=10)) == []


@trio_test
async def test_qpidd_trio_transaction_commits_a_send_and_an_accept() -> None:
    info, options = _qpidd()
    q = _queue()
    async with amqp10.trio.connect(info.url(), **options) as conn:
        sender = await conn.open_sender(q)
        await sender.send("first")
        receiver = await conn.open_receiver(q, credit=1)
        delivery = await receiver.receive(timeout=_WAIT)
        async with conn.transaction() as txn:
            txn.accept(delivery)
            assert await txn.send(sender, "second") == Accepted()
        assert (await receiver.receive(timeout=_WAIT)).message.body == "second"


@asyncio_test
async def test_qpidd_asyncio_transaction_rolls_back_on_error() -> None:
    info, options = _qpidd()
    q = _queue()
    async with amqp10.asyncio.connect(info.url(), **options) as conn:
        sender = await conn.open_sender(q)
        receiver = await conn.open_receiver(q, credit=1)
        with pytest.raises(RuntimeError):
            async with conn.transaction() as txn:
                await txn.send(sender, "never")
                raise RuntimeError("the application failed")
        await sender.send("after")
        assert (await receiver.receive(timeout=_WAIT)).message.body == "after"


# -- the typed errors from peers without transactions ------------------------------------------------
def test_rabbitmq_without_transactions_raises_TransactionError_not_implemented() -> None:
    info = peer_info("RABBITMQ")
    if info.user is None:
        pytest.skip("set AMQP10_PEER_RABBITMQ_USER/_PASSWORD")
    with amqp10.connect(info.url(), username=info.user, password=info.password, allow_insecure_plain=True, timeout=_WAIT) as conn:
        with pytest.raises(TransactionError) as caught:
            conn.transaction()
        assert caught.value.condition == "amqp:not-implemented"
        q = f"/queue/{_queue()}"
        assert conn.open_sender(q).send("still usable") == Accepted()  # a new default session


def test_proton_cpp_broker_answering_declare_without_a_txn_id_raises_TransactionError() -> None:
    info = peer_info("PROTON_CPP_BROKER")
    with amqp10.connect(info.url(), timeout=_WAIT) as conn:
        with pytest.raises(TransactionError, match="refused to declare"):
            conn.transaction()


# -- python-qpid-proton's controller against amqp10's embedded peer ------------------------------------
@pytest.fixture
def embedded() -> Iterator[str]:
    """The embedded peer (its coordinator is sans-IO, the same under every server adapter),
    served on a free loopback port; its URL."""
    with start("127.0.0.1", 0, broker=Broker()) as peer:
        yield peer.url


def _proton_tx(url: str, scenario: str, address: str, *args: str) -> dict[str, Any]:
    require_client("proton")
    command = [sys.executable, str(INTEROP / "proton" / "tx_client.py"), url, scenario, "--address", address, "--timeout", "10", *args]
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=60, check=False)
    lines = done.stdout.decode(errors="replace").strip().splitlines()
    report: dict[str, Any] = json.loads(lines[-1]) if lines else {}
    report["returncode"] = done.returncode
    report["stderr"] = done.stderr.decode(errors="replace")
    return report


def test_proton_transactional_client_commits_and_rolls_back_against_the_embedded_peer(embedded: str) -> None:
    q = _queue()
    sent = _proton_tx(embedded, "send", q, "--count", "3")
    assert (sent["returncode"], sent.get("discharged"), sent.get("sent")) == (0, "committed", 3), sent
    rolled = _proton_tx(embedded, "send", q, "--count", "2", "--rollback")
    assert (rolled["returncode"], rolled.get("discharged")) == (0, "aborted"), rolled
    undone = _proton_tx(embedded, "receive", q, "--count", "3", "--rollback")
    assert (undone["returncode"], undone.get("discharged")) == (0, "aborted"), undone
    taken = _proton_tx(embedded, "receive", q, "--count", "3")
    assert (taken["returncode"], taken.get("discharged")) == (0, "committed"), taken
    # Only the committed sends arrived, in order, and the rolled-back accepts gave them back.
    assert taken["bodies"] == ["tx-0", "tx-1", "tx-2"]
    with amqp10.connect(embedded, timeout=_WAIT) as conn:
        assert _drain(conn.open_receiver(q, credit=10)) == []  # the committed accepts took them


def test_proton_transactional_send_is_invisible_to_an_amqp10_receiver_until_commit(embedded: str) -> None:
    q = _queue()
    with amqp10.connect(embedded, timeout=_WAIT) as conn:
        receiver = conn.open_receiver(q, credit=10)
        aborted = _proton_tx(embedded, "send", q, "--count", "2", "--rollback")
        assert aborted["returncode"] == 0, aborted
        with pytest.raises(amqp10.Timeout):
            receiver.receive(timeout=0.5)
        committed = _proton_tx(embedded, "send", q, "--count", "2")
        assert committed["returncode"] == 0, committed
        assert _drain(receiver) == ["tx-0", "tx-1"]

