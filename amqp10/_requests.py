"""Request/reply correlation shared by both adapters' ``Requester``.

Owns: stamping a request with ``message-id`` and ``reply-to``, and matching replies to waiting
requests by ``correlation-id``. Must never: do I/O or wait (the adapters wait on ``reply``).
"""

from __future__ import annotations

import itertools
import logging
import uuid
from dataclasses import replace
from typing import Any

from ._api import PENDING, REFUSALS, LinkRecord, Pending
from .codec.message import Message
from .codec.spec import Properties
from .engine.delivery import Delivery as EngineDelivery
from .errors import AMQPError, RequestRefusedError

__all__ = ["Requests"]

log = logging.getLogger("amqp10.client")


class Requests:
    """Request/reply correlation over one sender and one dynamic receiver.

    Each request gets a ``message-id`` unless it has one (a string: this requester's UUID, a
    colon and a count, so unique everywhere without a random draw per request) and ``reply-to`` = the
    receiver's address; a reply is matched by its ``correlation-id`` (the convention of
    brokers' management nodes and of RPC over AMQP). Replies nobody waits for any more (the
    request timed out or was cancelled) are accepted and dropped.
    """

    def __init__(self, sender: LinkRecord, receiver: LinkRecord) -> None:
        self.sender = sender
        self.receiver = receiver
        # A refused request gets no reply: its wait (which watches the receiver) must wake.
        sender.wake_on_refusal = receiver
        self._waiting: set[Any] = set()
        self._replies: dict[Any, Message] = {}
        # Message ids: one UUID per requester and a count. A ``uuid4()`` per request read the
        # OS's random source each call (a system call on the request path, issue 9).
        self._id_prefix = f"{uuid.uuid4()}:"
        self._sent = itertools.count(1)

    def prepare(self, message: Message | Any) -> tuple[Message, Any]:
        """A copy of ``message`` addressed for a reply, and the id its reply will carry."""
        if not isinstance(message, Message):
            message = Message(body=message)
        properties = message.properties
        if properties is None:
            # The common case, built directly: ``replace`` costs 4x a plain Properties(...).
            message_id: Any = self._next_id()
            properties = Properties(message_id=message_id, reply_to=self.receiver.address)
        else:
            message_id = properties.message_id if properties.message_id is not None else self._next_id()
            properties = replace(properties, message_id=message_id, reply_to=self.receiver.address)
        copy = Message(
            body=message.body,
            header=message.header,
            delivery_annotations=message.delivery_annotations,
            message_annotations=message.message_annotations,
            properties=properties,
            application_properties=message.application_properties,
            footer=message.footer,
        )
        self._waiting.add(message_id)
        return copy, message_id

    def _next_id(self) -> str:
        return f"{self._id_prefix}{next(self._sent)}"

    def forget(self, key: Any) -> None:
        """Stop waiting for ``key``'s reply (timed out, cancelled, or send failed)."""
        self._waiting.discard(key)
        self._replies.pop(key, None)

    def reply(self, key: Any, request: EngineDelivery | None = None) -> "Message | Pending":
        """Predicate: the reply to request ``key``; raises ``RequestRefusedError`` once the
        ``request`` delivery is refused (rejected, released, modified) with no reply come."""
        receiver = self.receiver
        while receiver.deliveries:
            delivery = receiver.deliveries.popleft()
            try:
                message = Message.decode(delivery.payload)
            except AMQPError as exc:
                log.warning("dropping an undecodable reply on %s: %s", receiver.describe(), exc)
                if not delivery.settled:
                    delivery.reject("amqp:decode-error", str(exc))
                    receiver.core.output_pending = True
                continue
            if not delivery.settled:
                delivery.accept()
                # Not written at once: it rides with the caller's next request, or goes
                # out alone within ACK_DELAY (the adapter sees to it).
                receiver.core.ack_delayed = True
            corr = message.properties.correlation_id if message.properties else None
            if corr in self._waiting:
                self._replies[corr] = message
            else:
                log.debug("dropping a reply nobody waits for (correlation-id %r)", corr)
        receiver._top_up(awaited=len(self._waiting))
        if key in self._replies:
            self._waiting.discard(key)
            return self._replies.pop(key)
        if request is not None:
            self._check_refused(key, request)
        receiver.check()
        self.sender.check()
        return PENDING

    def _check_refused(self, key: Any, request: EngineDelivery) -> None:
        # A reply that came anyway wins (checked first); otherwise a refusal ends the wait:
        # nothing will answer a request nobody took (spec 3.4.3-3.4.5).
        state = self.sender.current(request).remote_state
        if isinstance(state, REFUSALS):
            self._waiting.discard(key)
            raise RequestRefusedError(state)
