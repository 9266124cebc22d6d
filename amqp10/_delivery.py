"""The public ``Delivery``: a received message and how its receiver settles it.

Owns: the application's view of one incoming delivery (lazy message decoding, the outcome
helpers) and the ``Runner`` protocol through which it reaches the engine safely in either
adapter. Must never: do I/O or wait.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Protocol, TypeVar

from ._outcomes import DeliveryState
from .codec import DecodeError, Limits, split_sections
from .codec.message import Message
from .codec.spec import ReceiverSettleMode, Received
from .codec.types import Symbol, UInt, ULong
from .engine.delivery import Delivery as EngineDelivery
from .errors import LocalProtocolError
from .framing.gather import take_slice

__all__ = ["Delivery", "Runner"]

_T = TypeVar("_T")

#: A payload gathered from several frames and at least this large gives its single data
#: section to the message's body in place, where ``take_slice`` can (CPython, either path).
_HAND_OVER_AT = 1 << 16
#: An empty data section, standing in for the body while the other sections are decoded.
_EMPTY_DATA = b"\x00\x53\x75\xa0\x00"
#: ``Delivery._handed`` while a hand-over is under way (the engine's payload may be gone).
_PENDING: tuple[bytes, bytes, bytes] = (b"", b"", b"")


def _decode_handing_over(delivery: EngineDelivery, limits: Limits) -> tuple[Message, tuple[bytes, bytes, bytes] | None]:
    """Decode a large received payload; when it is one data section between small ones, let
    the body be the gathered buffer itself (issue 9: the message is then held once, not as a
    payload and a copy of it). Returns the message, and when the body was handed over, the
    bytes before it, the body and the bytes after it, which make the payload again.

    Whatever the bytes are, the result or the ``DecodeError`` is that of ``Message.decode``:
    anything unusual is decoded by it, whole.
    """
    view = delivery.payload
    assert isinstance(view, memoryview)
    if type(view.obj) is not bytes:  # not a gathered buffer (``Gather`` makes bytes): never taken
        return Message.decode(view, limits), None
    try:
        data = [(start, end) for descriptor, start, end in split_sections(view, limits) if descriptor == 0x75]
    except DecodeError:
        data = []
    if len(data) != 1:
        return Message.decode(view, limits), None
    start, end = data[0]
    head = bytes(view[start : start + 4])
    if head == b"\x00\x53\x75\xb0":
        body_start = start + 8
    elif head == b"\x00\x53\x75\xa0":
        body_start = start + 5
    else:
        return Message.decode(view, limits), None
    if end - body_start > limits.max_binary_size:
        return Message.decode(view, limits), None
    before, after = bytes(view[:body_start]), bytes(view[end:])
    try:
        message = Message.decode(before[:start] + _EMPTY_DATA + after, limits)
    except DecodeError:
        return Message.decode(view, limits), None  # its own error, with the whole's offsets
    obj = view.obj
    try:
        view.release()  # refused while something reads through the view: then keep it
    except BufferError:
        return Message.decode(view, limits), None
    delivery.payload = b""
    holder = [obj]
    del obj, view
    taken, body = take_slice(holder, body_start, end)
    if not taken:  # someone else holds the buffer
        delivery.payload = memoryview(body)
        return Message.decode(delivery.payload, limits), None
    message.body = body
    return message, (before, body, after)


class Runner(Protocol):
    """Runs ``fn`` with exclusive access to the engine, wakes the I/O, returns ``fn()``."""

    def __call__(self, fn: Callable[[], _T]) -> _T: ...



class Delivery:
    """A message received on a ``Receiver``, and how you settle it.

    ``message`` is decoded on first use (so a malformed message surfaces as a ``DecodeError``
    you can answer with ``reject``). ``accept``, ``reject``, ``release`` and ``modify`` report
    the outcome to the sender and settle the delivery (spec 3.4); a delivery the sender sent
    pre-settled needs no outcome, and they do nothing for it. On a receiver opened with
    ``rcv_settle_mode="second"`` the outcome goes out unsettled and the delivery is settled
    when the sender's settlement arrives (spec 2.6.12: ``remote_settled``; the receiver's
    ``wait_settled`` waits for it). ``received`` reports progress without an outcome. Safe to
    call from any thread.
    """

    __slots__ = ("_delivery", "_run", "_message", "_handed")

    def __init__(self, delivery: EngineDelivery, run: Runner) -> None:
        self._delivery = delivery
        self._run = run
        self._message: Message | None = None
        # A large payload whose body went to the message (``_decode_handing_over``): the
        # bytes before the body, the body, the bytes after it.
        self._handed: tuple[bytes, bytes, bytes] | None = None

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
            try:
                # The hand-over is read after the payload: it marks itself before it takes
                # the payload, and releases the view (len() then raises ValueError).
                large = self._handed is not None or (
                    type(payload) is memoryview and len(payload) >= _HAND_OVER_AT
                )
            except ValueError:
                large = True
            if large:
                self._run(self._decode_large)  # one at a time, under the engine's lock
            else:
                self._message = Message.decode(payload, self._limits(payload))
        assert self._message is not None
        return self._message

    def _limits(self, payload: bytes | memoryview) -> Limits:
        limits = self._delivery.link.session.connection.config.limits
        if len(payload) > limits.max_message_size:
            # The receiver took it under a larger max-message-size of its own (or 0, no
            # limit), which already bounded it: decode what the link accepted.
            limits = replace(limits, max_message_size=len(payload))
        return limits

    def _decode_large(self) -> None:
        if self._message is None:  # not decoded by another thread meanwhile
            limits = self._limits(self._delivery.payload)
            self._handed = _PENDING
            try:
                self._message, self._handed = _decode_handing_over(self._delivery, limits)
            except BaseException:
                self._handed = None  # a DecodeError comes before anything is taken
                raise

    @property
    def payload(self) -> bytes:
        """The encoded message, as received."""
        return self._run(self._payload)

    def _payload(self) -> bytes:
        handed = self._handed
        if handed is not None:
            return b"".join(handed)
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
    def state(self) -> "DeliveryState | None":
        """The state given here so far (``Accepted()``, ``Received(...)`` ...), or ``None``."""
        state: DeliveryState | None = self._delivery.local_state
        return state

    @property
    def remote_settled(self) -> bool:
        """The sender has settled it: sent pre-settled, or (rcv-settle-mode ``second``)
        settled after your outcome (spec 2.6.12)."""
        return self._delivery.remote_settled

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

    def received(self, section_number: int, section_offset: int) -> None:
        """Report ``Received`` (spec 3.4.1): how much of the message has been processed,
        ``section_offset`` bytes into section ``section_number`` (both from 0), so a resumed
        delivery may start there. Not an outcome: the delivery stays unsettled and you still
        give one (``accept`` ...) later.

        Raises:
            ValueError: a number that is not a uint / ulong.
            LocalProtocolError: the delivery is settled already.
        """
        if not 0 <= section_number < 1 << 32 or not 0 <= section_offset < 1 << 64:
            raise ValueError("section_number must be a uint and section_offset a ulong")
        state = Received(section_number=UInt(section_number), section_offset=ULong(section_offset))
        self._update(lambda: self._delivery.update(state))

    def settle(self) -> None:
        """Settle with the state given so far, or none (the sender then applies the source's
        default outcome, spec 3.5.3). In rcv-settle-mode ``second`` call it only after the
        sender has settled (``remote_settled``); ``Receiver.wait_settled`` waits for that.

        Raises:
            LocalProtocolError: rcv-settle-mode ``second`` and the sender has not settled.
        """
        delivery = self._delivery

        def settle() -> None:
            if delivery.settled:
                return  # the sender's settlement settled it here already
            if delivery.link.rcv_settle_mode is ReceiverSettleMode.SECOND and not delivery.remote_settled:
                raise LocalProtocolError(
                    "rcv-settle-mode is second: the sender settles first (spec 2.6.12); "
                    "give an outcome and wait for that with the receiver's wait_settled"
                )
            delivery.settle()

        self._run(settle)

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
