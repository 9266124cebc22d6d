"""What the blocking and async stream objects share: everything but how they wait.

Owns: ``IncomingStreamView`` (a streamed message's sections before the body, its outcome
helpers, which drop the unread rest when given before the end) and ``OutgoingStreamView``
(what is known of a stream being sent). Must never: wait or do I/O.
"""

from __future__ import annotations

from typing import Any, Callable

from . import _streaming
from ._delivery import Delivery, Runner
from ._outcomes import Outcome
from .codec.message import Message
from .codec.spec import Header, Properties

__all__ = ["IncomingStreamView", "OutgoingStreamView"]


class IncomingStreamView(Delivery):
    """A message arriving as a stream on a receiver opened with ``streaming=True``.

    The sections before the body (``header``, ``properties``, ``application_properties``,
    the annotations) are known when ``receive_stream`` returns it; the body's bytes (its
    ``data`` sections) are read as they arrive, each read giving one frame back to the
    session window. ``accept``, ``reject``, ``release`` and ``modify`` work as on a
    ``Delivery``; given before the end, they also drop the rest of the body (the sender
    sees the outcome and stops). A body that is not data sections (an amqp-value) and the
    footer are in ``message`` once the stream has ended.
    """

    __slots__ = ("_state",)

    def __init__(self, state: "_streaming.IncomingState", run: Runner) -> None:
        super().__init__(state.delivery, run)
        self._state = state

    def __repr__(self) -> str:
        return f"<IncomingStream tag={self.tag!r} ended={self.ended} settled={self.settled}>"

    def _head(self) -> Message:
        head = self._state.reader.head
        return head if head is not None else Message()

    @property
    def header(self) -> Header | None:
        """The header section, if the message has one."""
        return self._head().header

    @property
    def properties(self) -> Properties | None:
        """The properties section (message_id, subject, content_type, ...), if any."""
        return self._head().properties

    @property
    def application_properties(self) -> dict[str, Any] | None:
        """The application-properties section, if any."""
        return self._head().application_properties

    @property
    def message_annotations(self) -> dict[Any, Any] | None:
        """The message-annotations section, if any."""
        return self._head().message_annotations

    @property
    def delivery_annotations(self) -> dict[Any, Any] | None:
        """The delivery-annotations section, if any."""
        return self._head().delivery_annotations

    @property
    def message(self) -> Message:
        """Everything but the data sections' bytes (which were read from the stream): the
        sections before the body, and once the stream ended, any other body and the footer."""
        state = self._state
        return state.message if state.message is not None else self._head()

    @property
    def payload(self) -> bytes:
        """Not available: a streamed message is never assembled (read the stream)."""
        raise AttributeError("a streamed message has no assembled payload: iterate over the stream")

    @property
    def ended(self) -> bool:
        """The last part has arrived (it may not all be read yet)."""
        return self._state.ended

    @property
    def aborted(self) -> bool:
        """The sender aborted it (spec 2.6.14)."""
        return self._state.aborted

    @property
    def size(self) -> int:
        """Bytes of the encoded message received so far (sections and framing included)."""
        return self._state.delivery.size

    def _update(self, action: Callable[[], None]) -> None:
        state = self._state

        def act() -> None:
            d = state.delivery
            if not (d.remote_settled and d.settled and d.local_state is None):
                action()
            _streaming.settle_early(state)

        self._run(act)


class OutgoingStreamView:
    """What is known of a message being streamed out."""

    __slots__ = ("_state",)

    def __init__(self, state: "_streaming.OutgoingState") -> None:
        self._state = state

    @property
    def written(self) -> int:
        """Body bytes given to ``write`` so far."""
        return self._state.written

    @property
    def outcome(self) -> "Outcome | None":
        """The receiver's outcome if it has one already (it may decide before the end:
        then ``write`` drops what it is given and ``close`` returns it), else ``None``."""
        state: Outcome | None = self._state.delivery.remote_state
        return state

    @property
    def aborted(self) -> bool:
        """It was aborted (``abort``, or a failure while streaming)."""
        return self._state.delivery.aborted

