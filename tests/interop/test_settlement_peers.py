"""rcv-settle-mode ``second`` (spec 2.6.12) with independent implementations, every adapter.

What is true of the peers (measured; each test below holds it):

- python-qpid-proton's engine carries ``second`` both ways (our client's receiver and sender
  asking for it; Proton's client asking our embedded peer), but its ``MessagingHandler`` only
  auto-settles a sent delivery once the receiver has settled it, so an application must
  settle after the outcome itself: our Proton listener does (sending to our receiver, it
  states ``second`` and settles after our outcome). Proton's client, sending or receiving in
  ``second`` against our embedded peer, finds ours honouring it: our receiver's outcomes go
  out unsettled; our sender settles after the client's outcome, before the client settles.
- Proton's C and C++ broker examples state ``first`` for a receiver that asked ``second``: our
  client raises ``SettleModeDowngradedError`` by default, or carries on in mode ``first``.
- RabbitMQ 3.10 refuses a receiver asking ``second``: it ends the session with
  ``amqp:not-implemented`` ("rcv-settle-mode second not supported"), a ``SessionEndedError``.

(qpidd and the Qpid Dispatch router also state ``first``.) A peer that is
not running is skipped with instructions, or fails under ``AMQP10_REQUIRE_PEERS=1`` (CI).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
import trio

import amqp10
from amqp10 import Accepted, Message
from amqp10.peer import Broker
from support.interop_api import Adapter, _call, connect, run_scenario, serve_broker, unique
from support.peers import ClientRun, Listener, peer_info, require_client, run_client, spawn_listener

pytestmark = pytest.mark.interop

ADAPTERS = list(Adapter)
_T = 15.0


@pytest.fixture(scope="module")
def proton_listener() -> Iterator[Listener]:
    """The python-qpid-proton listener (a small broker), for this module."""
    require_client("proton")
    with spawn_listener("proton", "--events") as listener:
        yield listener


async def _proton_client(url: str, scenario: str, *args: str) -> dict[str, Any]:
    call = functools.partial(run_client, "proton", url, scenario, "--sasl-mechs", "ANONYMOUS", *args, timeout=60.0)
    run: ClientRun = await trio.to_thread.run_sync(call)
    assert run.returncode == 0, f"proton client failed: {run.report} {run.stderr[-2000:]}"
    return run.report


async def _our_receiver_in_second(adapter: Adapter, url: str) -> None:
    queue = unique("second")
    async with connect(adapter, url) as conn:
        assert await (await conn.sender(queue)).send(Message(body="once")) == Accepted()
        receiver = await conn.receiver(queue, credit=5, rcv_settle_mode="second")
        assert receiver.raw.rcv_settle_mode == "second"  # Proton stated second: no downgrade
        delivery = await receiver.receive()
        delivery.accept()
        assert await _call(adapter, receiver.raw.wait_settled, delivery, timeout=_T) == Accepted()
        assert delivery.remote_settled  # Proton settled after our outcome, then we did


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_proton_sending_to_our_receiver_in_mode_second_settles_after_our_outcome(adapter: Adapter, proton_listener: Listener) -> None:
    run_scenario(adapter, _our_receiver_in_second, proton_listener.url())


async def _our_sender_asking_second(adapter: Adapter, listener: Listener) -> None:
    queue = unique("second-out")
    async with connect(adapter, listener.url()) as conn:
        sender = await conn.sender(queue, rcv_settle_mode="second")
        assert sender.raw.rcv_settle_mode == "second"  # Proton's receiver took it on
        tracker = await _call(adapter, sender.raw.submit, Message(body="x"), timeout=_T)
        assert await _call(adapter, tracker.wait, timeout=_T) == Accepted()
        # Proton's receiver kept its accept unsettled until our settlement reached it.
        await trio.to_thread.run_sync(
            lambda: listener.wait_for_event(lambda e: e["event"] == "settled_by_sender" and e["address"] == queue)
        )
        assert tracker.settled and sender.unsettled == 0


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_our_sender_asking_rcv_settle_mode_second_settles_after_protons_outcome(adapter: Adapter, proton_listener: Listener) -> None:
    run_scenario(adapter, _our_sender_asking_second, proton_listener)


async def _proton_client_in_second(adapter: Adapter) -> None:
    queue = unique("second-peer")
    async with serve_broker(adapter, Broker()) as served:
        sent = await _proton_client(served.url, "send", "--address", queue, "--count", "3", "--rcv-settle-second")
        # Our peer's receiver stated second, sent each outcome unsettled and waited for Proton.
        assert sent["remote_rcv_settle_mode"] == 1
        assert sent["outcomes"] == {"accepted": 3} and sent["outcomes_settled_by_peer"] == 0
        got = await _proton_client(served.url, "receive", "--address", queue, "--count", "3", "--rcv-settle-second")
        # Our peer's sender settled each after Proton's unsettled accept (then Proton settled).
        assert got["remote_rcv_settle_mode"] == 1 and got["settled_by_sender"] == 3
        assert got["bodies"] == ["message-0", "message-1", "message-2"]
        async with connect(adapter, served.url) as conn:
            assert await (await conn.receiver(queue, credit=5)).nothing_within(0.3) is None


@pytest.mark.parametrize("adapter", ADAPTERS)
def test_our_embedded_peer_honours_rcv_settle_mode_second_as_receiver_and_as_sender_for_proton(adapter: Adapter) -> None:
    require_client("proton")
    run_scenario(adapter, _proton_client_in_second)


async def _proton_broker_downgrades(adapter: Adapter, url: str) -> None:
    queue = unique("second-c")
    async with connect(adapter, url) as conn:
        with pytest.raises(amqp10.SettleModeDowngradedError) as raised:
            await conn.receiver(queue, rcv_settle_mode="second")
        assert raised.value.rcv_settle_mode == "first"
        kept = await conn.receiver(queue, credit=5, rcv_settle_mode="second", on_downgrade="keep")
        assert kept.raw.rcv_settle_mode == "first" and kept.raw.settle_mode_downgrade is not None
        assert await (await conn.sender(queue)).send(Message(body="x")) == Accepted()
        delivery = await kept.receive()
        delivery.accept()
        assert delivery.settled


@pytest.mark.parametrize("adapter", ADAPTERS)
@pytest.mark.parametrize("broker", ["PROTON_C_BROKER", "PROTON_CPP_BROKER"])
def test_proton_brokers_state_rcv_settle_mode_first_which_is_raised_or_kept(broker: str, adapter: Adapter) -> None:
    run_scenario(adapter, _proton_broker_downgrades, peer_info(broker).url())


def test_rabbitmq_refuses_rcv_settle_mode_second_with_not_implemented() -> None:
    info = peer_info("RABBITMQ")
    with amqp10.connect(info.url(credentials=True), allow_insecure_plain=True, timeout=_T) as conn:
        with pytest.raises(amqp10.SessionEndedError) as raised:
            conn.open_receiver(f"/queue/{unique('second')}", rcv_settle_mode="second", timeout=_T)
        assert raised.value.condition == "amqp:not-implemented"
        # The session ended, not the connection: a receiver in mode first still works.
        receiver = conn.open_receiver(f"/queue/{unique('first')}", timeout=_T)
        assert receiver.rcv_settle_mode == "first"
