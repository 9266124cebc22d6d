"""The error types of amqp10 (DESIGN.md rule 7), shared by every layer above the codec.

Owns: the exception hierarchy and the split between *your* misuse (``LocalProtocolError``,
raised to the caller at once) and what the *peer or the world* did (``RemoteProtocolError``,
``ConnectionClosedError``, ``SessionEndedError``, ``LinkDetachedError``, ``SASLError``,
``Timeout``: reported by the engine as events, raised by the adapters). Every error carries the
AMQP ``condition`` symbol and ``description`` where one exists, and an optional ``info`` map.
Must never: hold protocol state, or be re-declared elsewhere (the codec's ``DecodeError`` is
re-exported here, not copied; ``AMQPError`` itself lives in the codec,
the lowest layer, so that ``DecodeError`` is one).
"""

from __future__ import annotations

from typing import Any, Mapping

from .codec.errors import AMQPError as AMQPError
from .codec.errors import DecodeError as DecodeError
from .codec.errors import EncodeError as EncodeError

__all__ = [
    "AMQPError",
    "DecodeError",
    "EncodeError",
    "FramingError",
    "LocalProtocolError",
    "RemoteProtocolError",
    "ConnectionClosedError",
    "ReconnectFailedError",
    "ConnectionRedirectError",
    "DeliveryInDoubtError",
    "SessionEndedError",
    "LinkDetachedError",
    "LinkRedirectError",
    "SourceDowngradedError",
    "SettleModeDowngradedError",
    "NotAbortableError",
    "DeliveryAbortedError",
    "RequestRefusedError",
    "AnonymousRelayNotOfferedError",
    "SASLError",
    "Timeout",
    "TransactionError",
    "TransactionRolledBack",
]


class FramingError(AMQPError):
    """Bytes that are not a valid AMQP frame sequence (bad header, frame too large, ...)."""


class LocalProtocolError(AMQPError):
    """You asked the engine for something the protocol forbids in the current state.

    Your code's fault: e.g. sending on a detached link, beginning a session on a closed
    connection. Nothing was sent.
    """


class RemoteProtocolError(AMQPError):
    """The peer broke the protocol; the engine has already queued the close/end/detach."""


class ConnectionClosedError(AMQPError):
    """The connection is closed: by the peer (``condition`` says why), by you, or lost."""


class ReconnectFailedError(ConnectionClosedError):
    """The connection was lost and reconnecting gave up: the ``Reconnect`` policy's attempts
    or deadline are used up (docs/reconnect.md). The connection is over; ``__cause__`` is
    the last dial's failure."""


class ConnectionRedirectError(ConnectionClosedError):
    """The peer closed the connection with ``amqp:connection:redirect`` (spec 2.8.17) and
    following redirects is off. ``url`` is where the peer sent us (``None`` if it named no
    host); ``info`` holds its hostname, network-host and port."""

    def __init__(self, description: str | None = None, *, condition: str | None = None, info: Mapping[Any, Any] | None = None, url: str | None = None) -> None:
        super().__init__(description, condition=condition, info=info)
        self.url = url


class DeliveryInDoubtError(ConnectionClosedError):
    """The connection was lost while an at-most-once (pre-settled) message was being sent: it
    may or may not have arrived, and it is not sent again (that could deliver it twice)."""


class SessionEndedError(AMQPError):
    """The session was ended (by the peer with ``condition``, or locally)."""


class LinkDetachedError(AMQPError):
    """The link was detached or closed (by the peer with ``condition``, or locally)."""


class LinkRedirectError(LinkDetachedError):
    """The peer detached the link with ``amqp:link:redirect`` (spec 2.8.18) and it was not
    followed (``follow_redirects=False``, or the target is on another host). ``address`` is
    the node the peer named; ``info`` holds the rest (``network-host``, ``port``, ...)."""

    def __init__(self, description: str | None = None, *, condition: str | None = None, info: Mapping[Any, Any] | None = None, address: str | None = None) -> None:
        super().__init__(description, condition=condition, info=info)
        self.address = address


class SourceDowngradedError(LinkDetachedError):
    """The peer attached a receiver with less than its source asked for, and the client
    closed the link (``open_receiver``'s default, ``on_downgrade="close"``).

    The peer's ATTACH left out filters it was asked to apply (spec 3.5.3: the answer lists
    only the filters in force) or stated another distribution-mode (``move`` for a ``copy``
    browser: it would take the messages it was meant to show). It is a ``LinkDetachedError``
    because the link is closed when this is raised, just as when the peer refuses it.

    Attributes:
        missing_filters: the names of the filters the peer did not apply.
        requested_distribution_mode: the mode asked for (``None``: none asked).
        distribution_mode: the mode the peer stated (``None``: none stated).
    """

    def __init__(
        self,
        description: str | None = None,
        *,
        condition: str | None = None,
        info: Mapping[Any, Any] | None = None,
        missing_filters: tuple[str, ...] = (),
        requested_distribution_mode: str | None = None,
        distribution_mode: str | None = None,
    ) -> None:
        super().__init__(description, condition=condition, info=info)
        self.missing_filters = missing_filters
        self.requested_distribution_mode = requested_distribution_mode
        self.distribution_mode = distribution_mode


class SettleModeDowngradedError(LinkDetachedError):
    """The peer attached a receiver that asked for rcv-settle-mode ``second`` but stated
    ``first``, and the client closed the link (``open_receiver``'s default,
    ``on_downgrade="close"``).

    In mode ``second`` the receiver sends its outcome unsettled and settles only once the
    sender has settled (spec 2.6.12); a sender stating ``first`` expects the receiver to settle
    first and may never settle. It is a ``LinkDetachedError`` because the link is closed when
    this is raised. With ``on_downgrade="keep"`` the receiver works in mode ``first`` instead.

    Attributes:
        requested_rcv_settle_mode: the mode asked for (``"second"``).
        rcv_settle_mode: the mode the peer stated (``"first"``).
    """

    def __init__(
        self,
        description: str | None = None,
        *,
        condition: str | None = None,
        info: Mapping[Any, Any] | None = None,
        requested_rcv_settle_mode: str = "second",
        rcv_settle_mode: str = "first",
    ) -> None:
        super().__init__(description, condition=condition, info=info)
        self.requested_rcv_settle_mode = requested_rcv_settle_mode
        self.rcv_settle_mode = rcv_settle_mode


class NotAbortableError(LocalProtocolError):
    """A delivery cannot be aborted (spec 2.6.14): it was sent whole already (its outcome is
    still tracked and settled when it comes), it was sent pre-settled, or it was aborted before.
    Raised by ``Tracker.abort``; it is your misuse, so nothing was sent and nothing changed."""


class AnonymousRelayNotOfferedError(AMQPError):
    """``open_sender(None)`` on a connection whose peer did not offer ``ANONYMOUS-RELAY`` in
    its OPEN: the peer would not route messages by their ``to`` (some accept them and drop
    them), so no link was attached. Open a sender per address instead."""


class TransactionError(AMQPError):
    """A transaction (spec part 4) could not be declared or discharged, or was used after it
    ended. ``condition`` is the peer's when it gave one (``amqp:transaction:unknown-id``;
    ``amqp:not-implemented`` from a peer with no coordinator); ``None`` for your misuse (a
    commit after the rollback)."""


class TransactionRolledBack(TransactionError):
    """The peer rolled the transaction back instead of committing it (spec 4.5:
    ``amqp:transaction:rollback``, or ``amqp:transaction:timeout``): none of its work took
    effect. Nothing is left to discharge."""


class SASLError(AMQPError):
    """SASL negotiation failed: authentication refused, no common mechanism, or a mechanism
    refused by policy (e.g. PLAIN over an unencrypted transport). ``code`` is the
    sasl-outcome code when the peer sent one (1 auth, 2 sys, 3 sys-perm, 4 sys-temp)."""

    def __init__(
        self,
        description: str | None = None,
        *,
        condition: str | None = None,
        info: Mapping[Any, Any] | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(description, condition=condition, info=info)
        self.code = code


class Timeout(AMQPError, TimeoutError):
    """A blocking or async call did not complete within its ``timeout``. The connection is
    still usable unless another error says otherwise."""


class RequestRefusedError(AMQPError):
    """The request was refused, so no reply will come: the service (or a router or broker on
    the way) settled it ``Rejected`` (``condition`` and ``description`` are its error's),
    ``Released`` (nobody took it, e.g. a router with no consumer for the address) or
    ``Modified``. ``outcome`` is the outcome as received. Raised by ``Requester.request``
    instead of waiting out its timeout; a released request may be sent again."""

    def __init__(self, outcome: Any) -> None:
        error = getattr(outcome, "error", None)
        name = type(outcome).__name__.lower()
        super().__init__(
            getattr(error, "description", None) or f"the request was {name}: no reply will come",
            condition=getattr(error, "condition", None),
            info=getattr(error, "info", None),
        )
        #: the outcome the request was settled with (``Rejected``, ``Released``, ``Modified``)
        self.outcome = outcome


class DeliveryAbortedError(AMQPError):
    """The sender aborted the streamed message being read (a transfer with ``aborted=true``,
    spec 2.6.14): the bytes already read are all there will be, and the message is gone (it
    needs no outcome). Raised by ``IncomingStream`` reads and iteration."""
