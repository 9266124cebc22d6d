"""The public ``Delivery``: a received message and how its receiver settles it.

Owns: the application's view of one incoming delivery (lazy message decoding, the outcome
helpers) and the ``Runner`` protocol through which it reaches the engine safely in either
adapter. Must never: do I/O or wait.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Protocol, TypeVar

from .codec.message import Message
from .codec.types import Symbol
from .engine.delivery import Delivery as EngineDelivery

__all__ = ["Delivery", "Runner"]

_T = TypeVar("_T")


class Runner(Protocol):
    """Runs ``fn`` with exclusive access to the engine, wakes the I/O, returns ``fn()``."""

    def __call__(self, fn: Callable[[], _T]) -> _T: ...



class Delivery:
    """A message received on a ``Receiver``, and how you settle it.

    ``message`` is decoded on first use (so a malformed message surfaces as a ``DecodeError``
    you can answer with ``reject``). ``accept``, ``reject``, ``release`` and ``modify`` report
    the outcome to the sender and settle the delivery (spec 3.4); a delivery the sender sent
    pre-settled needs no outcome, and they do nothing for it. Safe to call from any thread.
    """

    __slots__ = ("_delivery", "_run", "_message")

    def __init__(self, delivery: EngineDelivery, run: Runner) -> None:
        self._delivery = delivery
        self._run = run
        self._message: Message | None = None

    def __repr__(self) -> str:
        return f"<Delivery tag={self.tag!r} settled={self.settled}>"

    @property
    def message(self) -> Message:
        """The decoded message.

        Raises:
            DecodeError: the payload is not a valid AMQP message.
        """
        if self._message is None:
            payload = self._delivery.payload
            limits = self._delivery.link.session.connection.config.limits
            if len(payload) > limits.max_message_size:
                # The receiver took it under a larger max-message-size of its own (or 0, no
                # limit), which already bounded it: decode what the link accepted.
                limits = replace(limits, max_message_size=len(payload))
            self._message = Message.decode(payload, limits)
        return self._message

    @property
    def payload(self) -> bytes:
        """The encoded message, as received."""
        return bytes(self._delivery.payload)

    @property
    def tag(self) -> bytes:
        """The delivery-tag the sender chose."""
        return self._delivery.tag

    @property
    def settled(self) -> bool:
        """Settled at this end (by an outcome, auto-accept, or because the sender pre-settled)."""
        return self._delivery.settled

    @property
    def state(self) -> Any:
        """The outcome given here so far (``Accepted()`` ...), or ``None``."""
        return self._delivery.local_state

    @property
    def resumed(self) -> bool:
        """It came on a resumed link as a resumed delivery (spec 2.6.13): received on the
        link this one resumes, and not settled there; it may have been seen before."""
        return self._delivery.resumed

    def _update(self, action: Callable[[], None]) -> None:
        def run() -> None:
            if self._delivery.remote_settled and self._delivery.settled and self._delivery.local_state is None:
                return  # pre-settled by the sender: there is no one to tell
            action()

        self._run(run)

    def accept(self) -> None:
        """Accept: processed successfully (spec 3.4.2)."""
        self._update(lambda: self._delivery.accept())

    def reject(self, condition: str | None = None, description: str | None = None, *, info: Mapping[str, Any] | None = None) -> None:
        """Reject: invalid and will not be processed (spec 3.4.3); ``condition`` and
        ``description`` tell the sender why (e.g. ``"amqp:decode-error"``)."""
        self._update(lambda: self._delivery.reject(condition, description, info=info))

    def release(self) -> None:
        """Release: not processed; the sender may deliver it again, to anyone (spec 3.4.4)."""
        self._update(lambda: self._delivery.release())

    def modify(self, *, delivery_failed: bool = True, undeliverable_here: bool = False, message_annotations: Mapping[Any, Any] | None = None) -> None:
        """Modify: not processed, with changes for redelivery (spec 3.4.5): count it as a
        failed attempt, keep it from this receiver, and/or annotate it."""
        annotations = None
        if message_annotations is not None:
            annotations = {Symbol(k) if isinstance(k, str) else k: v for k, v in message_annotations.items()}
        self._update(lambda: self._delivery.modify(
            delivery_failed=delivery_failed,
            undeliverable_here=undeliverable_here,
            message_annotations=annotations,
        ))
