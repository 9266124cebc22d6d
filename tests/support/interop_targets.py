"""Where amqp10's client goes for each client-side column of the interop matrix.

A ``Target`` says how to reach one peer (URLs, credentials, TLS) and how that peer names things
(a queue is ``/queue/NAME`` on RabbitMQ and a bare name elsewhere; a topic is ``/topic/NAME`` or
``topic://NAME``). ``Targets`` makes them: the brokers come from ``AMQP10_PEER_*`` (skipped with
instructions, or failed under ``AMQP10_REQUIRE_PEERS=1``, by ``support.peers``); the proton and
rhea listeners are spawned once per flag set for the whole session and reused by every test
(each test uses its own node names, so they cannot interfere).
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass, field
from typing import Any

from amqp10.tls import client_context
from support.certs import CertificateSet
from support.interop_api import unique
from support.peers import HOWTO, Listener, missing_peer, peer_info, spawn_listener

__all__ = ["Target", "Targets", "REFUSED_ADDRESS", "QPIDD_REFUSED", "LISTENER_USER", "LISTENER_PASSWORD",
           "FRAME_SIZE", "ROUTER_BROKER_PREFIX"]

#: The address the spawned listeners refuse (``--refuse``).
REFUSED_ADDRESS = "refused-by-the-listener"
#: An address qpidd makes no node for (interop/qpidd/qpidd.conf: queue-patterns=^[^~]).
QPIDD_REFUSED = "~refused-by-qpidd"
#: Where the router network link-routes attaches to qpidd (interop/router/router-b.conf.in).
ROUTER_BROKER_PREFIX = "broker/"
#: SASL PLAIN credentials of the spawned rhea listener.
LISTENER_USER = "interop-user"
LISTENER_PASSWORD = "interop-secret"
#: max-frame-size both ends advertise, so a 10 MiB message is always split.
FRAME_SIZE = 65536


@dataclass
class Target:
    """One peer, as amqp10's client sees it.

    Attributes:
        column: the matrix column.
        url: ``amqp://host:port`` (no credentials).
        tls_url: the amqps URL, when the peer serves TLS here.
        ca: the CA file that verifies ``tls_url``.
        user, password: SASL PLAIN credentials the peer knows.
        echo: the address of a request/reply service on the peer (``None``: we answer ourselves).
        refused: an address the peer refuses with ``amqp:not-found``.
        routed_prefix: for a router, the prefix of its message-routed (anycast) addresses, which
            store nothing; ``None`` for peers whose every address is a queue.
        listener: the spawned listener process (listeners only), for its ``--events``.
    """

    column: str
    url: str
    tls_url: str | None = None
    ca: str | None = None
    user: str | None = None
    password: str | None = None
    queue_prefix: str = ""
    topic_prefix: str = "topic://"
    routed_prefix: str | None = None
    echo: str | None = None
    refused: str | None = None
    listener: Listener | None = field(default=None, repr=False)

    def queue(self, tag: str) -> str:
        """A fresh queue address."""
        return self.queue_prefix + unique(tag)

    def topic(self, tag: str) -> str:
        """A fresh topic address."""
        return self.topic_prefix + unique(tag)

    def routed(self, tag: str) -> str:
        """A fresh address routed by the peer itself: a router's anycast address (it stores
        nothing, so receivers must attach before messages are sent), a queue elsewhere."""
        return (self.routed_prefix if self.routed_prefix is not None else self.queue_prefix) + unique(tag)

    @property
    def stores(self) -> bool:
        """Whether the peer's routed addresses keep messages until a receiver comes."""
        return self.routed_prefix is None

    def ssl_context(self) -> ssl.SSLContext:
        """Verification on, against the CA that signed this peer's certificate."""
        assert self.ca is not None
        return client_context(cafile=self.ca)

    def events(self, predicate: Any) -> list[dict[str, Any]]:
        """The listener's events matching ``predicate`` (listeners only)."""
        assert self.listener is not None
        return [e for e in self.listener.events() if predicate(e)]


class Targets:
    """Makes ``Target``s; the listeners it spawns live until ``close()`` (end of the session)."""

    def __init__(self, certs: CertificateSet) -> None:
        self._certs = certs
        self._stack = contextlib.ExitStack()
        self._listeners: dict[tuple[str, tuple[str, ...]], Listener] = {}

    def close(self) -> None:
        """Stop every listener this made (by PID)."""
        self._stack.close()

    def _listener(self, kind: str, flags: tuple[str, ...]) -> Listener:
        key = (kind, flags)
        listener = self._listeners.get(key)
        if listener is None or listener.process.poll() is not None:
            listener = self._stack.enter_context(spawn_listener(kind, *flags))
            self._listeners[key] = listener
        return listener

    def get(self, column: str, *extra: str, tls: bool = False) -> Target:
        """The target of ``column``; for listeners, one spawned with the default flags plus
        ``extra`` (``--outcome reject``, ``--idle-timeout 0.5``) and, with ``tls``, serving TLS."""
        if column in ("proton-listener", "rhea-listener"):
            return self._listener_target(column, extra, tls)
        if extra:
            raise ValueError(f"{column} is a running broker: it takes no listener flags")
        if column == "rabbitmq":
            info = peer_info("RABBITMQ")
            tls_url = ca = None
            if tls:
                tls_info = peer_info("RABBITMQ_TLS")
                if tls_info.ca_file is None:
                    missing_peer("the RabbitMQ TLS CA (AMQP10_PEER_RABBITMQ_TLS_CA)", HOWTO["RABBITMQ_TLS"])
                tls_url, ca = tls_info.url(tls=True), tls_info.ca_file
            if info.user is None or info.password is None:
                missing_peer("a RabbitMQ user (AMQP10_PEER_RABBITMQ_USER/_PASSWORD)", HOWTO["RABBITMQ"])
            return Target(column, info.url(), tls_url, ca, info.user, info.password,
                          queue_prefix="/queue/", topic_prefix="/topic/")
        if column == "proton-cpp-broker":
            return Target(column, peer_info("PROTON_CPP_BROKER").url())
        if column == "proton-c-broker":
            info = peer_info("PROTON_C_BROKER")
            tls_url = ca = None
            if tls:
                tls_info = peer_info("PROTON_C_BROKER_TLS")
                if tls_info.ca_file is None:
                    missing_peer("the Proton C broker's TLS CA (AMQP10_PEER_PROTON_C_BROKER_TLS_CA)",
                                 HOWTO["PROTON_C_BROKER_TLS"])
                tls_url, ca = tls_info.url(tls=True), tls_info.ca_file
            return Target(column, info.url(), tls_url, ca)
        if column == "qpidd":
            info = peer_info("QPIDD")
            return Target(column, info.url(), user=info.user, password=info.password, topic_prefix="topic/",
                          refused=QPIDD_REFUSED)
        if column == "router":
            # amqp10 on the edge router: queues are qpidd's, link-routed edge -> A -> B -> qpidd;
            # topics and routed addresses are the network's own (multicast/, closest/). TLS is
            # served by router A.
            info = peer_info("ROUTER_EDGE")
            tls_url = ca = None
            if tls:
                tls_info = peer_info("ROUTER_A_TLS")
                if tls_info.ca_file is None:
                    missing_peer("the router's TLS CA (AMQP10_PEER_ROUTER_A_TLS_CA)", HOWTO["ROUTER_A_TLS"])
                # The CI certificate names localhost, 127.0.0.1 and ::1.
                tls_url, ca = tls_info.url(tls=True), tls_info.ca_file
            return Target(column, info.url(), tls_url, ca, queue_prefix=ROUTER_BROKER_PREFIX,
                          topic_prefix="multicast/", routed_prefix="closest/",
                          refused=ROUTER_BROKER_PREFIX + QPIDD_REFUSED)
        raise ValueError(f"{column} is not a client-side column")

    def _listener_target(self, column: str, extra: tuple[str, ...], tls: bool) -> Target:
        kind = column.split("-")[0]
        flags: tuple[str, ...] = ("--refuse", REFUSED_ADDRESS, "--max-frame-size", str(FRAME_SIZE), "--events")
        user = password = None
        if kind == "rhea":
            # Only the rhea listener can serve PLAIN (python-qpid-proton lacks Cyrus SASL).
            flags += ("--sasl-mechs", "ANONYMOUS PLAIN", "--user", LISTENER_USER, "--password", LISTENER_PASSWORD)
            user, password = LISTENER_USER, LISTENER_PASSWORD
        if tls:
            flags += ("--tls-cert", self._certs.server_cert, "--tls-key", self._certs.server_key)
        flags += extra
        listener = self._listener(kind, flags)
        # The test certificate names localhost only.
        tls_url = f"amqps://localhost:{listener.port}" if tls else None
        return Target(column, listener.url(), tls_url, self._certs.ca if tls else None, user, password,
                      echo="echo", refused=REFUSED_ADDRESS, listener=listener)
