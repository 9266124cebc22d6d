"""A request the service refuses raises ``RequestRefusedError`` at once, on every adapter.

A rejected, released or modified request will get no reply (spec 3.4.3-3.4.5): a router with no
consumer for the address releases it, a broker rejects what it will not take. Waiting out the
request's timeout for a reply that cannot come hides the cause behind a ``Timeout``; the
requester instead raises with the outcome (and, when rejected, the error's condition).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from amqp10 import Message, Modified, Rejected, Released, RequestRefusedError
from amqp10.peer import Broker
from support.interop_api import Adapter, connect, run_scenario, serve_broker

# Long enough that a request waiting it out would fail the elapsed-time bound below.
TIMEOUT = 30.0


class RefusingBroker(Broker):
    """The embedded broker, except that messages to ``refuse/<outcome>`` get that outcome."""

    def _store(self, delivery: Any, message: Any, node: Any) -> None:
        address = getattr(delivery.link.target, "address", None) or ""
        if address == "refuse/reject":
            delivery.reject("amqp:precondition-failed", "not today")
        elif address == "refuse/release":
            delivery.release()
        elif address == "refuse/modify":
            delivery.modify(delivery_failed=True, undeliverable_here=True)
        else:
            super()._store(delivery, message, node)
            return
        self._touch(delivery.link)


async def _refused(adapter: Adapter, address: str) -> RequestRefusedError:
    async with serve_broker(adapter, RefusingBroker()) as served:
        async with connect(adapter, served.url) as conn:
            began = time.monotonic()
            with pytest.raises(RequestRefusedError) as caught:
                await conn.request(address, Message(body="question"), timeout=TIMEOUT)
            assert time.monotonic() - began < TIMEOUT / 3
            # The requester is still usable: a refusal is about one request, not the link.
            with pytest.raises(RequestRefusedError):
                await conn.request(address, Message(body="again"), timeout=TIMEOUT)
            return caught.value


ADAPTERS = pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])


@ADAPTERS
def test_a_rejected_request_raises_with_the_rejections_condition_instead_of_timing_out(adapter: Adapter) -> None:
    async def scenario(adapter: Adapter) -> None:
        error = await _refused(adapter, "refuse/reject")
        assert isinstance(error.outcome, Rejected)
        assert error.condition == "amqp:precondition-failed"
        assert "not today" in str(error)

    run_scenario(adapter, scenario, limit=TIMEOUT)


@ADAPTERS
def test_a_released_request_raises_instead_of_timing_out(adapter: Adapter) -> None:
    async def scenario(adapter: Adapter) -> None:
        error = await _refused(adapter, "refuse/release")
        assert isinstance(error.outcome, Released)
        assert error.condition is None

    run_scenario(adapter, scenario, limit=TIMEOUT)


@ADAPTERS
def test_a_modified_request_raises_instead_of_timing_out(adapter: Adapter) -> None:
    async def scenario(adapter: Adapter) -> None:
        error = await _refused(adapter, "refuse/modify")
        assert isinstance(error.outcome, Modified)
        assert error.outcome.undeliverable_here is True

    run_scenario(adapter, scenario, limit=TIMEOUT)
