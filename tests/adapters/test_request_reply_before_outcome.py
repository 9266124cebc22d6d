"""``request()`` returns the reply as soon as it arrives, whether or not the request's own
outcome has come back yet.

Through a router (Qpid Dispatch) nothing stores the request: its at-least-once outcome is the
service's, and a service commonly settles a request only once its reply has been accepted. A
requester that waited for the request's outcome before taking replies would then wait for the
service while the service waits for it, until the timeout (found against the router network of
tests/interop/test_router_network.py). Here a broker that withholds the outcome of every request
stands in for that service, on both adapters.
"""

from __future__ import annotations

from typing import Any

import pytest

from amqp10 import Accepted, Message, Properties
from amqp10.peer import Broker
from support.interop_api import Adapter, connect, run_scenario, serve_broker, together

SERVICE = "service-that-settles-late"


class OutcomeWithholdingBroker(Broker):
    """The embedded broker, except that messages to ``SERVICE`` are queued but never settled."""

    def _store(self, delivery: Any, message: Any, node: Any) -> None:
        if getattr(delivery.link.target, "address", None) != SERVICE:
            super()._store(delivery, message, node)
            return
        node.put(message)
        self._dirty_queues.add(node)


async def _answer_one(adapter: Adapter, url: str) -> None:
    async with connect(adapter, url) as conn:
        requests = await conn.receiver(SERVICE, credit=1)
        delivery = await requests.receive(10)
        request = delivery.message
        assert request.properties is not None and request.properties.reply_to is not None
        replies = await conn.sender(str(request.properties.reply_to))
        reply = Message(body="answer", properties=Properties(correlation_id=request.properties.message_id))
        assert await replies.send(reply, timeout=10) == Accepted()
        delivery.accept()


async def _request_before_outcome(adapter: Adapter) -> None:
    async with serve_broker(adapter, OutcomeWithholdingBroker()) as served:
        async with connect(adapter, served.url) as conn, together(adapter) as group:
            group.spawn(_answer_one, adapter, served.url)
            reply = await conn.request(SERVICE, Message(body="question"), timeout=10)
            assert reply.body == "answer"


@pytest.mark.parametrize("adapter", list(Adapter), ids=[a.value for a in Adapter])
def test_request_returns_the_reply_while_the_requests_outcome_is_still_outstanding(adapter: Adapter) -> None:
    run_scenario(adapter, _request_before_outcome, limit=30)
