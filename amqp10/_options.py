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
from typing import Any, Iterable, Mapping, Sequence, TypedDict

from . import tls
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
from .engine.mechanisms import Authenticator
from .engine.sasl import SaslClient, SaslServer
from .url import URL, Scheme, parse_url

__all__ = [
    "SettleMode",
    "ClientOptions",
    "client_options",
    "server_config",
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


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Everything a client adapter needs to open one connection.

    Attributes:
        url: the parsed URL (its password never printed).
        config: the engine configuration (client role, SASL factory included).
        ssl_context: the TLS context, or ``None`` for plain TCP.
        timeout: the default time limit, in seconds, of calls that wait for the peer.
    """

    url: URL
    config: Config
    ssl_context: ssl.SSLContext | None
    timeout: float | None


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
    timeout: float | None = 30.0,
) -> ClientOptions:
    """Build a client's configuration from ``connect()``'s arguments (see its docstring).

    Credentials given as arguments win over those in the URL. TLS is used for ``amqps://``
    URLs and whenever ``ssl_context`` is given; without a context ``amqps://`` gets
    ``tls.client_context()`` (verification on).

    Raises:
        ValueError: a malformed URL or option (an unknown SASL mechanism, a bad frame size).
    """
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

    extra: dict[str, Any] = {}
    if max_frame_size is not None:
        extra["max_frame_size"] = max_frame_size
    if channel_max is not None:
        extra["channel_max"] = channel_max
    config = Config(
        role=ConnectionRole.CLIENT,
        container_id=container_id or new_container_id(),
        hostname=hostname or parsed.host,
        idle_timeout=idle_timeout,
        properties=symbol_keys(properties),
        offered_capabilities=_symbols(offered_capabilities),
        desired_capabilities=_symbols(desired_capabilities),
        sasl=make_sasl,
        **extra,
    )
    return ClientOptions(url=parsed, config=config, ssl_context=ssl_context, timeout=timeout)


def server_config(
    *,
    tls_active: bool,
    peer_identity: str | None,
    container_id: str,
    authenticator: Authenticator | None = None,
    sasl_mechanisms: Sequence[str] | None = None,
    allow_anonymous: bool = True,
    allow_insecure_plain: bool = False,
    idle_timeout: float | None = None,
    max_frame_size: int | None = None,
    channel_max: int | None = None,
    properties: Mapping[str, Any] | None = None,
    offered_capabilities: Sequence[str] | None = None,
    desired_capabilities: Sequence[str] | None = None,
) -> Config:
    """The engine configuration for one accepted socket (server role).

    SASL: the server offers what ``SaslServer`` may offer here (ANONYMOUS when allowed;
    PLAIN and SCRAM with an ``authenticator``, PLAIN only over TLS unless
    ``allow_insecure_plain``; EXTERNAL when the client presented a verified certificate,
    ``peer_identity``). A client that skips SASL is accepted only when anonymous access is.

    Raises:
        ValueError: nothing left to offer (no authenticator and anonymous refused).
    """
    mechanisms = None if sasl_mechanisms is None else tuple(sasl_mechanisms)

    def make_sasl() -> SaslNegotiator:
        return SaslServer(
            authenticator,
            mechanisms=mechanisms,
            tls_active=tls_active,
            allow_insecure_plain=allow_insecure_plain,
            allow_anonymous=allow_anonymous,
            external_identity=peer_identity,
        )

    make_sasl()  # raises ValueError now if the options leave nothing to offer
    extra: dict[str, Any] = {}
    if max_frame_size is not None:
        extra["max_frame_size"] = max_frame_size
    if channel_max is not None:
        extra["channel_max"] = channel_max
    return Config(
        role=ConnectionRole.SERVER,
        container_id=container_id,
        idle_timeout=idle_timeout,
        properties=symbol_keys(properties),
        offered_capabilities=_symbols(offered_capabilities),
        desired_capabilities=_symbols(desired_capabilities),
        sasl=make_sasl,
        allow_no_sasl=allow_anonymous,
        **extra,
    )


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
            ``"configuration"``, ``"unsettled-state"``; spec 3.5.5).
        expiry_policy: ``TerminusExpiryPolicy`` or ``"link-detach"``, ``"session-end"``,
            ``"connection-close"``, ``"never"`` (spec 3.5.6).
        expiry_timeout: seconds the node outlives its expiry trigger (the terminus timeout).
        capabilities: target capabilities (e.g. ``"topic"``, ``"queue"``).
        dynamic: ask the peer to create the target node.
        properties: link properties (``str`` keys are sent as symbols).
        offered_capabilities, desired_capabilities: link capabilities in ATTACH.
    """

    name: str
    settle_mode: SettleMode | str
    durable: TerminusDurability | int | str | None
    expiry_policy: TerminusExpiryPolicy | str | None
    expiry_timeout: int | None
    capabilities: str | Sequence[str] | None
    dynamic: bool
    properties: Mapping[str, Any] | None
    offered_capabilities: Sequence[str] | None
    desired_capabilities: Sequence[str] | None


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
    """

    name: str
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
) -> dict[str, Any]:
    """ATTACH fields for a sending link (``Session.attach_sender`` keyword arguments).

    ``address=None`` without ``dynamic`` is an anonymous sender: a target with no address,
    every message routed by its ``to`` (the ANONYMOUS-RELAY convention). ``name`` is not an
    ATTACH field here (the session takes it separately) and is ignored.
    """
    mode = _settle(settle_mode)
    target = Target(
        address=address,
        durable=_durability(durable),
        expiry_policy=_expiry(expiry_policy),
        timeout=expiry_timeout,
        dynamic=True if dynamic else None,
        capabilities=_symbols(capabilities),
    )
    return {
        "source": Source(),
        "target": target,
        "snd_settle_mode": SenderSettleMode.SETTLED if mode is SettleMode.AT_MOST_ONCE else SenderSettleMode.UNSETTLED,
        "rcv_settle_mode": ReceiverSettleMode.FIRST,
        "properties": symbol_keys(properties),
        "offered_capabilities": _symbols(offered_capabilities),
        "desired_capabilities": _symbols(desired_capabilities),
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
) -> dict[str, Any]:
    """ATTACH fields for a receiving link (``Session.attach_receiver`` keyword arguments).

    ``name``, ``credit`` and ``auto_accept`` are the adapter's business, not ATTACH fields: they are
    accepted here so ``ReceiverOptions`` can be passed through whole, and ignored.

    Raises:
        ValueError: ``dynamic`` together with an address (the peer chooses it, spec 3.5.3).
    """
    if dynamic and address is not None:
        raise ValueError("a dynamic receiver gets its address from the peer: pass address=None")
    mode = _settle(settle_mode)
    source = Source(
        address=address,
        durable=_durability(durable),
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
        "rcv_settle_mode": ReceiverSettleMode.FIRST,
        "properties": symbol_keys(properties),
        "offered_capabilities": _symbols(offered_capabilities),
        "desired_capabilities": _symbols(desired_capabilities),
    }

