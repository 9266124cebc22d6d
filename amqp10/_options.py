"""Turning the public API's keyword options into engine configuration, for both adapters.

Owns: how ``connect()`` / ``listen()`` / ``serve()`` options and a URL become an engine
``Config`` (with its SASL negotiator factory) and a TLS context, and how ``open_sender`` /
``open_receiver`` options become ATTACH fields (termini, settle modes, filters, properties).
Written once so the blocking and trio adapters cannot drift apart. Must never: do I/O or hold
connection state.
"""

from __future__ import annotations

import enum
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence, TypedDict

from . import tls
from ._busy_poll import checked_budget
from ._reconnect import Reconnect
from ._settle_modes import RcvSettleMode, receiver_settle_mode
from .codec.limits import Limits
from .codec.spec import (
    ReceiverSettleMode,
    SenderSettleMode,
    Source,
    Target,
    TerminusDurability,
    TerminusExpiryPolicy,
)
from .codec.types import Described, Symbol
from .engine.config import Config, ConnectionRole, SaslNegotiator
from .engine.recovery import UnsettledMap
from .engine.mechanisms import Authenticator
from .engine.sasl import SaslClient, SaslServer
from .url import URL, Scheme, parse_url

__all__ = [
    "SettleMode",
    "ConnectOptions",
    "ServerOptions",
    "ClientOptions",
    "client_options",
    "server_configs",
    "sender_attach",
    "receiver_attach",
    "selector_filter",
    "symbol_keys",
    "SenderOptions",
    "ReceiverOptions",
    "DEFAULT_CREDIT",
]

#: The prefetch window of a receiver unless told otherwise.
DEFAULT_CREDIT = 10

#: How many bytes a connection may hold that the socket has not taken yet before ``send``
#: waits (a peer that reads slowly or not at all must not make us buffer without bound).
DEFAULT_WRITE_BUFFER_LIMIT = 16 * 1024 * 1024

#: Seconds a blocking call waiting for the peer polls the socket before it sleeps, while
#: answers have been coming that fast (``ConnectOptions.busy_poll``). 200 µs covers a
#: request/reply round trip on loopback or a LAN with a Python peer; a slower answer sleeps
#: at once after the first few.
DEFAULT_BUSY_POLL = 0.0002

#: Seconds the opening (headers, SASL, OPEN) and the closing (CLOSE answered) may take, on
#: both ends, unless told otherwise (``Config.handshake_timeout``): a peer that stalls there
#: is dropped instead of holding a socket forever.
DEFAULT_HANDSHAKE_TIMEOUT = 30.0

#: A server's idle-time-out unless told otherwise: a client that vanished without closing
#: its socket (a crashed host, a dropped network path) is reclaimed after a minute instead
#: of after the kernel's TCP keep-alive (two hours by default, if enabled at all). We
#: advertise half (30 s, spec 2.4.5), so a client heartbeats at most every 30 s, negligible
#: traffic; 60 s is the idle-time-out JMS clients and Proton-based brokers use by default,
#: and far above any round-trip time, so only a peer that stopped sending is closed.
DEFAULT_SERVER_IDLE_TIMEOUT = 60.0


class SettleMode(str, enum.Enum):
    """Delivery guarantee of a link (spec 2.6.12 settle modes, named as users think of them).

    ``AT_MOST_ONCE``: the sender settles before sending (pre-settled); nothing comes back, a
    lost message is lost. ``AT_LEAST_ONCE``: the sender waits for the receiver's outcome; a
    message may be delivered twice after a failure. Plain strings ``"at-most-once"`` /
    ``"at-least-once"`` are accepted wherever a ``SettleMode`` is.
    """

    AT_MOST_ONCE = "at-most-once"
    AT_LEAST_ONCE = "at-least-once"


def new_container_id() -> str:
    """A unique container-id (spec 2.7.1 asks for one per container)."""
    return f"amqp10-{uuid.uuid4()}"


def symbol_keys(mapping: Mapping[Any, Any] | None) -> dict[Any, Any] | None:
    """``fields`` maps (link/connection properties, filter sets) are keyed by symbols (spec
    2.7.1, 3.5.8): turn plain ``str`` keys into ``Symbol``."""
    if mapping is None:
        return None
    return {Symbol(k) if isinstance(k, str) and not isinstance(k, Symbol) else k: v for k, v in mapping.items()}


def _symbols(values: str | Iterable[str] | None) -> list[Symbol] | None:
    if values is None:
        return None
    if isinstance(values, str):
        return [Symbol(values)]
    return [Symbol(v) for v in values]


def _open_fields(
    idle_timeout: float | None,
    max_frame_size: int | None,
    channel_max: int | None,
    properties: Mapping[str, Any] | None,
    offered_capabilities: Sequence[str] | None,
    desired_capabilities: Sequence[str] | None,
) -> dict[str, Any]:
    """``Config`` keywords for what we advertise in OPEN (client and server alike); limits
    left out keep ``Config``'s defaults."""
    fields: dict[str, Any] = {
        "idle_timeout": idle_timeout,
        "properties": symbol_keys(properties),
        "offered_capabilities": _symbols(offered_capabilities),
        "desired_capabilities": _symbols(desired_capabilities),
    }
    if max_frame_size is not None:
        fields["max_frame_size"] = max_frame_size
    if channel_max is not None:
        fields["channel_max"] = channel_max
    return fields


def _engine_fields(limits: Limits | None, incoming_window: int | None, outgoing_window: int | None) -> dict[str, Any]:
    """``Config`` keywords for the decoding limits and the session windows (spec 2.5.6) of
    every session the connection begins or accepts; ``None`` keeps ``Config``'s default
    (documented with its reason in docs/limits.md)."""
    fields: dict[str, Any] = {}
    if limits is not None:
        if not isinstance(limits, Limits):
            raise TypeError(f"limits must be an amqp10.codec.Limits, not {type(limits).__name__}")
        fields["limits"] = limits
    if incoming_window is not None:
        if not 1 <= incoming_window <= (1 << 32) - 1:
            raise ValueError(f"incoming_window must be in [1, 2**32-1] transfer frames, got {incoming_window}")
        fields["incoming_window"] = incoming_window
    if outgoing_window is not None:
        if not 1 <= outgoing_window <= (1 << 32) - 1:
            raise ValueError(f"outgoing_window must be in [1, 2**32-1] transfer frames, got {outgoing_window}")
        fields["outgoing_window"] = outgoing_window
    return fields


class ConnectOptions(TypedDict, total=False):
    """Keyword options of ``connect`` (both adapters).

    Keys:
        container_id: our container-id (default: a fresh ``amqp10-<uuid>``).
        username, password: SASL credentials (override the URL's). Without any, ANONYMOUS.
        sasl_mechanisms: only consider these (e.g. ``["EXTERNAL"]`` with a client
            certificate, ``["SCRAM-SHA-256"]``); default: the strongest both sides support.
        allow_insecure_plain: permit SASL PLAIN over plain TCP (it sends the password in
            clear; without this flag the connection fails with ``SASLError``).
        ssl_context: TLS settings (see ``amqp10.tls.client_context``); given, TLS is used
            whatever the scheme. ``amqps://`` without one verifies against the system CAs.
        hostname: the virtual host to ask for in OPEN and SASL (default: the URL's host).
        idle_timeout: seconds of silence after which *we* give up on the peer (advertised,
            so the peer sends heartbeats at least that often). ``None``: no limit.
        max_frame_size, channel_max: our limits, advertised in OPEN.
        properties, offered_capabilities, desired_capabilities: sent in OPEN.
        write_buffer_limit: bytes the connection may hold that the socket has not taken yet
            (default 16 MiB); beyond it ``send`` waits, within its timeout, for the peer to
            read. ``None``: no limit.
        busy_poll: seconds a call waiting for the peer (a reply, a delivery, an outcome)
            polls for it before sleeping, while the peer's answers have mostly come within
            it (default 200 µs; ``0``: never poll). Saves the wake-up from sleep on fast
            round trips (docs/scale.md), for up to that much CPU per wait; waits whose
            answers take longer soon stop polling. The blocking adapter polls the socket
            with ``select``; trio and asyncio read a plain TCP socket from the waiting task
            and otherwise yield to their event loop, which then looks at its sockets
            without sleeping (other tasks run meanwhile as usual).
        handshake_timeout: seconds the AMQP opening (headers, SASL, the server's OPEN) and
            closing (the server's answer to our CLOSE) may each take before the engine
            gives up on the server (default 30; ``None``: no bound).
        timeout: seconds allowed for connecting, and the default limit of every later call
            that waits for the peer (default 30; ``None``: wait forever). ``receive`` waits
            forever by default.
        limits: the decoding limits (``amqp10.codec.Limits``: nesting depth, element count,
            binary/string size, message size, body sections) applied to everything the peer
            sends; its ``max_message_size`` is also what receivers advertise unless given
            their own. Default ``Limits()``.
        incoming_window: transfer frames the peer may send on a session before we reopen the
            window (spec 2.5.6; default 2048, reopened at half).
        outgoing_window: the outgoing-window we advertise for our sessions (spec 2.5.6;
            default 2**31-1: we hold no transfers back beyond the peer's windows and credit).
        (docs/limits.md gives each default's reason.)
        reconnect: ``True`` (the default ``amqp10.Reconnect()`` policy), a ``Reconnect`` or
            ``False`` (the default): after the connection is lost, dial again with backoff,
            put the sessions and links back and carry on; calls made meanwhile wait for it
            (docs/reconnect.md: what is sent again and may arrive twice).
        failover: more URLs to try when reconnecting, in order (the peer's
            ``failover-server-list`` is tried after them).
        follow_redirects: on ``amqp:connection:redirect`` connect where the peer says
            (default ``True``); ``False`` raises ``ConnectionRedirectError``.
        on_disconnect: called (on an amqp10 thread or task) with the error when the connection
            is lost and a reconnect begins. on_reconnect: called with the new URL once back.
    """

    container_id: str | None
    username: str | None
    password: str | None
    sasl_mechanisms: Sequence[str] | None
    allow_insecure_plain: bool
    ssl_context: ssl.SSLContext | None
    hostname: str | None
    idle_timeout: float | None
    max_frame_size: int | None
    channel_max: int | None
    properties: Mapping[str, Any] | None
    offered_capabilities: Sequence[str] | None
    desired_capabilities: Sequence[str] | None
    write_buffer_limit: int | None
    busy_poll: float
    handshake_timeout: float | None
    timeout: float | None
    limits: Limits | None
    incoming_window: int | None
    outgoing_window: int | None
    reconnect: bool | Reconnect
    failover: Sequence[str] | None
    follow_redirects: bool
    on_disconnect: Callable[[Exception], None] | None
    on_reconnect: Callable[[str], None] | None


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything a client adapter needs to open one connection.

    Attributes:
        url: the parsed URL (its password never printed).
        config: the engine configuration (client role, SASL factory included).
        ssl_context: the TLS context, or ``None`` for plain TCP.
        timeout: the default time limit, in seconds, of calls that wait for the peer.
        write_buffer_limit: unwritten bytes beyond which ``send`` waits (``None``: no limit).
        busy_poll: seconds a wait for the peer polls before sleeping (0: never; ``_busy_poll``).
    """

    url: URL
    config: Config
    ssl_context: ssl.SSLContext | None
    timeout: float | None
    write_buffer_limit: int | None = DEFAULT_WRITE_BUFFER_LIMIT
    busy_poll: float = DEFAULT_BUSY_POLL


def client_options(
    url: str,
    *,
    container_id: str | None = None,
    username: str | None = None,
    password: str | None = None,
    sasl_mechanisms: Sequence[str] | None = None,
    allow_insecure_plain: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    hostname: str | None = None,
    idle_timeout: float | None = None,
    max_frame_size: int | None = None,
    channel_max: int | None = None,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
    write_buffer_limit: int | None = DEFAULT_WRITE_BUFFER_LIMIT,
    busy_poll: float = DEFAULT_BUSY_POLL,
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    timeout: float | None = 30.0,
    limits: Limits | None = None,
    incoming_window: int | None = None,
    outgoing_window: int | None = None,
) -> ClientOptions:
    """Build a client's configuration from ``connect()``'s arguments (``ConnectOptions``).

    Credentials given as arguments win over those in the URL. TLS is used for ``amqps://``
    URLs and whenever ``ssl_context`` is given; without a context ``amqps://`` gets
    ``tls.client_context()`` (verification on).

    Raises:
        ValueError: a malformed URL or option (an unknown SASL mechanism, a bad frame size,
            a negative write buffer limit, a window outside [1, 2**32-1]).
        TypeError: an unknown option, or ``limits`` that is not a ``Limits``.
    """
    engine_fields = _engine_fields(limits, incoming_window, outgoing_window)
    if write_buffer_limit is not None and write_buffer_limit < 0:
        raise ValueError("write_buffer_limit must be >= 0 (or None: no limit)")
    busy_poll = checked_budget(busy_poll)
    parsed = parse_url(url)
    user = username if username is not None else parsed.username
    secret = password if password is not None else parsed.password
    if ssl_context is None and parsed.scheme is Scheme.AMQPS:
        ssl_context = tls.client_context()
    tls_active = ssl_context is not None
    mechanisms = None if sasl_mechanisms is None else tuple(sasl_mechanisms)
    # Fail now, in the caller's thread, rather than inside the I/O loop.
    SaslClient(username=user, password=secret, mechanisms=mechanisms)

    def make_sasl() -> SaslNegotiator:
        return SaslClient(
            username=user,
            password=secret,
            hostname=hostname or parsed.host,
            mechanisms=mechanisms,
            tls_active=tls_active,
            allow_insecure_plain=allow_insecure_plain,
        )

    config = Config(
        role=ConnectionRole.CLIENT,
        container_id=container_id or new_container_id(),
        hostname=hostname or parsed.host,
        sasl=make_sasl,
        handshake_timeout=handshake_timeout,
        **_open_fields(idle_timeout, max_frame_size, channel_max, properties, offered_capabilities, desired_capabilities),
        **engine_fields,
    )
    return ClientOptions(url=parsed, config=config, ssl_context=ssl_context, timeout=timeout, write_buffer_limit=write_buffer_limit, busy_poll=busy_poll)


class ServerOptions(TypedDict, total=False):
    """Keyword options of ``listen`` and ``amqp10.trio.serve`` (besides ``ssl_context``).

    Keys:
        container_id: our container-id (default: a fresh one).
        authenticator: checks PLAIN / SCRAM / EXTERNAL credentials
            (e.g. ``amqp10.engine.authenticators.SimpleAuthenticator``); ``None``: ANONYMOUS only.
        sasl_mechanisms: offer only these.
        allow_anonymous: offer ANONYMOUS (and accept clients that skip SASL); default true.
        allow_insecure_plain: offer PLAIN without TLS.
        idle_timeout: seconds without a frame after which a client is closed (default 60,
            ``DEFAULT_SERVER_IDLE_TIMEOUT``: reclaims clients that vanished without closing;
            ``None``: never); advertised in OPEN, as half.
        handshake_timeout: seconds a client may take to finish the opening (headers, SASL,
            OPEN) and to answer our CLOSE before it is dropped (default 30; ``None``: no
            bound, so a socket that connects and sends nothing stays open forever).
        max_frame_size, channel_max, properties, offered_capabilities,
            desired_capabilities: our OPEN, for every connection.
        limits, incoming_window, outgoing_window: decoding limits and session windows of
            every connection, as for ``connect`` (``ConnectOptions``; docs/limits.md).
    """

    container_id: str | None
    authenticator: Authenticator | None
    sasl_mechanisms: Sequence[str] | None
    allow_anonymous: bool
    allow_insecure_plain: bool
    idle_timeout: float | None
    handshake_timeout: float | None
    max_frame_size: int | None
    channel_max: int | None
    properties: Mapping[str, Any] | None
    offered_capabilities: Sequence[str] | None
    desired_capabilities: Sequence[str] | None
    limits: Limits | None
    incoming_window: int | None
    outgoing_window: int | None


def server_configs(
    *,
    tls_active: bool,
    container_id: str | None = None,
    authenticator: Authenticator | None = None,
    sasl_mechanisms: Sequence[str] | None = None,
    allow_anonymous: bool = True,
    allow_insecure_plain: bool = False,
    idle_timeout: float | None = DEFAULT_SERVER_IDLE_TIMEOUT,
    handshake_timeout: float | None = DEFAULT_HANDSHAKE_TIMEOUT,
    max_frame_size: int | None = None,
    channel_max: int | None = None,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
    limits: Limits | None = None,
    incoming_window: int | None = None,
    outgoing_window: int | None = None,
) -> Callable[[str | None], Config]:
    """A listener's engine configurations: call the result for each accepted socket with the
    client's verified certificate identity (or ``None``) to get its server-role ``Config``.

    SASL: the server offers what ``SaslServer`` may offer here (ANONYMOUS when allowed;
    PLAIN and SCRAM with an ``authenticator``, PLAIN only over TLS unless
    ``allow_insecure_plain``; EXTERNAL when the client presented a verified certificate).
    A client that skips SASL is accepted only when anonymous access is.

    Raises:
        ValueError: nothing left to offer (no authenticator and anonymous refused), or
            another bad option; raised here, once, rather than for each client.
        TypeError: an unknown option.
    """
    mechanisms = None if sasl_mechanisms is None else tuple(sasl_mechanisms)
    cid = container_id or new_container_id()
    fields = _open_fields(idle_timeout, max_frame_size, channel_max, properties, offered_capabilities, desired_capabilities)
    fields.update(_engine_fields(limits, incoming_window, outgoing_window))

    def config_for(peer_identity: str | None) -> Config:
        def make_sasl() -> SaslNegotiator:
            return SaslServer(
                authenticator,
                mechanisms=mechanisms,
                tls_active=tls_active,
                allow_insecure_plain=allow_insecure_plain,
                allow_anonymous=allow_anonymous,
                external_identity=peer_identity,
            )

        make_sasl()  # raises ValueError if the options leave nothing to offer
        return Config(
            role=ConnectionRole.SERVER,
            container_id=cid,
            sasl=make_sasl,
            allow_no_sasl=allow_anonymous,
            handshake_timeout=handshake_timeout,
            **fields,
        )

    config_for(None)  # bad options fail now, not for each client
    return config_for


# -- links -------------------------------------------------------------------------------------

#: Spec 3.5.1 / the Apache registry of filter types: the JMS selector filter as the
#: legacy ``apache.org:selector-filter:string`` descriptor, which every broker we know accepts.
SELECTOR_DESCRIPTOR = Symbol("apache.org:selector-filter:string")


def selector_filter(expression: str) -> dict[str, Described]:
    """A source filter set holding one JMS selector (``"color = 'red'"``), for
    ``open_receiver(filter=...)``."""
    return {"jms-selector": Described(SELECTOR_DESCRIPTOR, expression)}


def _durability(value: TerminusDurability | int | str | None) -> TerminusDurability | None:
    if value is None:
        return None
    if isinstance(value, str):
        return TerminusDurability[value.upper().replace("-", "_")]
    return TerminusDurability(value)


def _expiry(value: TerminusExpiryPolicy | str | None) -> TerminusExpiryPolicy | None:
    if value is None:
        return None
    return TerminusExpiryPolicy(value)


def _settle(mode: SettleMode | str | None) -> SettleMode | None:
    return None if mode is None else SettleMode(mode)


class SenderOptions(TypedDict, total=False):
    """Keyword options of ``open_sender`` (both adapters).

    Keys:
        name: the link name (default: unique per connection); give a stable one to re-attach.
        settle_mode: ``"at-least-once"`` (default: ``send`` waits for and returns the outcome)
            or ``"at-most-once"`` (pre-settled: ``send`` returns ``None`` once written).
        durable: target terminus durability (``TerminusDurability`` or ``"none"``,
            ``"configuration"``, ``"unsettled-state"``; spec 3.5.5). ``"unsettled-state"``
            (with ``expiry_policy="never"`` or an ``expiry_timeout``) asks the peer to keep
            the link's unsettled state for recovery, and makes the link use rcv-settle-mode
            ``second`` (the receiver settles after us), so a resumed link neither loses nor
            duplicates a message (docs/recovery.md).
        expiry_policy: ``TerminusExpiryPolicy`` or ``"link-detach"``, ``"session-end"``,
            ``"connection-close"``, ``"never"`` (spec 3.5.6).
        expiry_timeout: seconds the node outlives its expiry trigger (the terminus timeout).
        capabilities: target capabilities (e.g. ``"topic"``, ``"queue"``).
        dynamic: ask the peer to create the target node.
        properties: link properties (``str`` keys are sent as symbols).
        offered_capabilities, desired_capabilities: link capabilities in ATTACH.
        rcv_settle_mode: the receiver settle mode to ask of the peer's receiver, ``"first"``
            (default) or ``"second"`` (spec 2.6.12: it sends its outcome unsettled and settles
            after us). Either way the sender settles each delivery as its outcome arrives.
        unsettled: resume a suspended link (spec 2.6.13): the ``Sender.unsettled_map`` read
            from the old sender once its connection was lost; give the same ``name`` (and the
            same container-id). Its messages the peer does not hold are sent again, those it
            accepted are settled, the others resumed. ``None`` (default): a plain attach.
    """

    name: str
    settle_mode: SettleMode | str
    unsettled: UnsettledMap | None
    durable: TerminusDurability | int | str | None
    expiry_policy: TerminusExpiryPolicy | str | None
    expiry_timeout: int | None
    capabilities: str | Sequence[str] | None
    dynamic: bool
    properties: Mapping[str, Any] | None
    offered_capabilities: Sequence[str] | None
    desired_capabilities: Sequence[str] | None
    rcv_settle_mode: ReceiverSettleMode | RcvSettleMode | None


class ReceiverOptions(TypedDict, total=False):
    """Keyword options of ``open_receiver`` (both adapters).

    Keys:
        name: the link name (default: unique per connection). A durable subscription is
            found again by container-id and link name: give both stable values.
        credit: the prefetch window (default 10): credit is topped up as you take messages.
            0 means manual flow control with ``flow(n)`` and ``drain()``.
        auto_accept: accept each delivery as ``receive`` hands it to you.
        dynamic: ask the peer to create a node (a reply queue); its address is
            ``Receiver.address`` once open. Give no address with it.
        settle_mode: ask the sender to pre-settle (``"at-most-once"``) or not
            (``"at-least-once"``); default: the sender decides.
        filter: the source filter set, name -> ``Described`` value (e.g.
            ``selector_filter("color = 'red'")``); names are sent as symbols.
        durable, expiry_policy, expiry_timeout: source terminus durability (durable
            subscriptions: ``durable="unsettled-state", expiry_policy="never"``).
        distribution_mode: ``"move"`` (compete for messages) or ``"copy"`` (browse).
        capabilities: source capabilities (e.g. ``"topic"``).
        dynamic_node_properties: properties of the node a dynamic receiver asks for.
        properties: link properties (``str`` keys are sent as symbols).
        offered_capabilities, desired_capabilities: link capabilities in ATTACH.
        on_downgrade: what ``open_receiver`` does when the peer's ATTACH leaves out a
            filter asked for or states another distribution-mode (spec 3.5.3): ``"close"``
            (default) closes the link and raises ``SourceDowngradedError``; ``"keep"`` keeps
            it, and ``Receiver.downgrade`` says what is missing (``Receiver.filters`` and
            ``Receiver.distribution_mode`` say what is in force either way).
        rcv_settle_mode: ``"first"`` (default: an outcome settles the delivery at once) or
            ``"second"`` (spec 2.6.12: an outcome goes out unsettled, the sender settles, and
            only then does the receiver; ``Receiver.wait_settled`` waits for that). A peer
            stating ``first`` in its ATTACH is a downgrade, handled as ``on_downgrade`` says
            (``SettleModeDowngradedError``; ``"keep"`` carries on in mode ``first``).
        max_message_size: the largest message this receiver takes, in bytes, advertised in
            ATTACH; a larger delivery closes the link with
            ``amqp:link:message-size-exceeded`` (``LinkDetachedError``) before it is
            buffered. Default: ``Limits.max_message_size`` (100 MiB); ``0``: no limit.
        unsettled: resume a suspended link (spec 2.6.13): the ``Receiver.unsettled_map`` read
            from the old receiver once its connection was lost; give the same ``name`` (and
            the same container-id). What was accepted or rejected before is not delivered
            again; what was received but not settled comes again (``Delivery.resumed``).
        streaming: messages arrive as streams (``receive_stream`` returns an
            ``IncomingStream``: its body bytes as they come, never assembled; see
            docs/streaming.md); ``receive`` is refused. ``max_message_size`` then defaults to
            0 (no limit): memory is bounded by the session's incoming window instead.
    """

    name: str
    unsettled: UnsettledMap | None
    streaming: bool
    credit: int
    auto_accept: bool
    dynamic: bool
    settle_mode: SettleMode | str | None
    filter: Mapping[str, Any] | None
    durable: TerminusDurability | int | str | None
    expiry_policy: TerminusExpiryPolicy | str | None
    expiry_timeout: int | None
    distribution_mode: str | None
    capabilities: str | Sequence[str] | None
    dynamic_node_properties: Mapping[str, Any] | None
    properties: Mapping[str, Any] | None
    offered_capabilities: Sequence[str] | None
    desired_capabilities: Sequence[str] | None
    max_message_size: int | None
    on_downgrade: Literal["close", "keep"]
    rcv_settle_mode: ReceiverSettleMode | RcvSettleMode | None


def sender_attach(
    address: str | None,
    *,
    name: str | None = None,
    settle_mode: SettleMode | str = SettleMode.AT_LEAST_ONCE,
    durable: TerminusDurability | int | str | None = None,
    expiry_policy: TerminusExpiryPolicy | str | None = None,
    expiry_timeout: int | None = None,
    capabilities: str | Sequence[str] | None = None,
    dynamic: bool = False,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
    rcv_settle_mode: ReceiverSettleMode | str | None = None,
    unsettled: UnsettledMap | None = None,
) -> dict[str, Any]:
    """ATTACH fields for a sending link (``Session.attach_sender`` keyword arguments).

    ``address=None`` without ``dynamic`` is an anonymous sender: a target with no address,
    every message routed by its ``to`` (the ANONYMOUS-RELAY convention). ``name`` is not an
    ATTACH field here (the session takes it separately) and is ignored.
    """
    mode = _settle(settle_mode)
    durability = _durability(durable)
    if unsettled is not None and not isinstance(unsettled, UnsettledMap):
        raise TypeError("unsettled must be an UnsettledMap (Sender.unsettled_map of the link to resume)")
    if unsettled is not None and name is None:
        raise ValueError("resuming a link (unsettled=...) needs its name: name=<the old sender's name>")
    target = Target(
        address=address,
        durable=durability,
        expiry_policy=_expiry(expiry_policy),
        timeout=expiry_timeout,
        dynamic=True if dynamic else None,
        capabilities=_symbols(capabilities),
    )
    return {
        "source": Source(),
        "target": target,
        "snd_settle_mode": SenderSettleMode.SETTLED if mode is SettleMode.AT_MOST_ONCE else SenderSettleMode.UNSETTLED,
        # Spec 2.6.13: a receiver that settles first forgets what it accepted, and a resumed
        # link then sends it again (a duplicate); settling second keeps it in the receiver's
        # unsettled map until the sender settles, so recovery is exact. An explicit
        # rcv_settle_mode wins; a durable link asks for second on its own.
        "rcv_settle_mode": (
            receiver_settle_mode(rcv_settle_mode)
            if rcv_settle_mode is not None or durability is not TerminusDurability.UNSETTLED_STATE
            else ReceiverSettleMode.SECOND
        ),
        "properties": symbol_keys(properties),
        "offered_capabilities": _symbols(offered_capabilities),
        "desired_capabilities": _symbols(desired_capabilities),
        "unsettled": unsettled,
    }


def receiver_attach(
    address: str | None,
    *,
    name: str | None = None,
    credit: int = DEFAULT_CREDIT,
    auto_accept: bool = False,
    dynamic: bool = False,
    settle_mode: SettleMode | str | None = None,
    filter: Mapping[str, Any] | None = None,
    durable: TerminusDurability | int | str | None = None,
    expiry_policy: TerminusExpiryPolicy | str | None = None,
    expiry_timeout: int | None = None,
    distribution_mode: str | None = None,
    capabilities: str | Sequence[str] | None = None,
    dynamic_node_properties: Mapping[str, Any] | None = None,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
    max_message_size: int | None = None,
    on_downgrade: str = "close",
    rcv_settle_mode: ReceiverSettleMode | str | None = None,
    unsettled: UnsettledMap | None = None,
    streaming: bool = False,
) -> dict[str, Any]:
    """ATTACH fields for a receiving link (``Session.attach_receiver`` keyword arguments).

    ``name``, ``credit``, ``auto_accept`` and ``on_downgrade`` are the adapter's business, not
    ATTACH fields: they are accepted here so ``ReceiverOptions`` can be passed through whole
    (``on_downgrade`` is only checked; ``name`` must be given with ``unsettled``).

    Raises:
        ValueError: ``dynamic`` together with an address (the peer chooses it, spec 3.5.3),
            a ``max_message_size`` that is not a ulong, or an ``on_downgrade`` other than
            ``"close"`` or ``"keep"``.
    """
    if on_downgrade not in ("close", "keep"):
        raise ValueError(f"on_downgrade must be 'close' or 'keep', not {on_downgrade!r}")
    if dynamic and address is not None:
        raise ValueError("a dynamic receiver gets its address from the peer: pass address=None")
    if max_message_size is not None and not 0 <= max_message_size < 1 << 64:
        raise ValueError("max_message_size must be in [0, 2**64) (0: no limit)")
    mode = _settle(settle_mode)
    durability = _durability(durable)
    if unsettled is not None and not isinstance(unsettled, UnsettledMap):
        raise TypeError("unsettled must be an UnsettledMap (Receiver.unsettled_map of the link to resume)")
    if unsettled is not None and name is None:
        raise ValueError("resuming a link (unsettled=...) needs its name: name=<the old receiver's name>")
    source = Source(
        address=address,
        durable=durability,
        expiry_policy=_expiry(expiry_policy),
        timeout=expiry_timeout,
        dynamic=True if dynamic else None,
        dynamic_node_properties=symbol_keys(dynamic_node_properties),
        distribution_mode=None if distribution_mode is None else Symbol(distribution_mode),
        filter=symbol_keys(filter),
        capabilities=_symbols(capabilities),
    )
    snd_mode = SenderSettleMode.MIXED
    if mode is SettleMode.AT_MOST_ONCE:
        snd_mode = SenderSettleMode.SETTLED
    elif mode is SettleMode.AT_LEAST_ONCE:
        snd_mode = SenderSettleMode.UNSETTLED
    return {
        "source": source,
        "target": Target(),
        "snd_settle_mode": snd_mode,
        # Spec 2.6.13: a receiver that settles first forgets what it accepted, and a resumed
        # link then sends it again (a duplicate); settling second keeps it in the receiver's
        # unsettled map until the sender settles, so recovery is exact. An explicit
        # rcv_settle_mode wins; a durable link asks for second on its own.
        "rcv_settle_mode": (
            receiver_settle_mode(rcv_settle_mode)
            if rcv_settle_mode is not None or durability is not TerminusDurability.UNSETTLED_STATE
            else ReceiverSettleMode.SECOND
        ),
        "unsettled": unsettled,
        "properties": symbol_keys(properties),
        "offered_capabilities": _symbols(offered_capabilities),
        "desired_capabilities": _symbols(desired_capabilities),
        # None leaves the engine's default (Config.limits.max_message_size) in place; a
        # streaming receiver holds no message whole, so it takes any size unless told.
        "max_message_size": 0 if streaming and max_message_size is None else max_message_size,
        "streaming": streaming,
    }

