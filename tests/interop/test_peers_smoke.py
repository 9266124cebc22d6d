"""Each interop peer really runs: python-qpid-proton connects to it over a socket on loopback,
sends one message and receives it back.

This proves the peer set-up (``.ci/peers/install`` + ``start``, and the listener scripts), not
amqp10: if one of these fails, every interop test against that peer would fail for the same
reason. A peer that is not running is skipped with instructions, or fails under
``AMQP10_REQUIRE_PEERS=1`` (CI).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from support.peers import HOWTO, PeerInfo, missing_peer, peer_info, spawn_listener

proton = pytest.importorskip("proton")
from proton import Message, SSLDomain  # noqa: E402
from proton.utils import BlockingConnection  # noqa: E402

pytestmark = pytest.mark.interop

TIMEOUT = 15.0  # seconds, for connect and for each blocking step


def _round_trip(url: str, address: str, **connect_options: Any) -> Message:
    """Attach a receiver, then a sender, to ``address``; send one message; return what arrives."""
    body = f"smoke {uuid.uuid4()}"
    connection = BlockingConnection(url, timeout=TIMEOUT, **connect_options)
    try:
        # Distinct link names: rhea keys links by name alone, so a sender and a receiver that
        # share one (Proton's default: container-address) make it abort the connection.
        receiver = connection.create_receiver(address, credit=1, name=f"smoke-receiver-{address}")
        sender = connection.create_sender(address, name=f"smoke-sender-{address}")
        sender.send(Message(body=body, id="smoke-1"), timeout=TIMEOUT)
        received = receiver.receive(timeout=TIMEOUT)
        # The Proton C broker sends pre-settled (at-most-once) whatever the receiver asks, and
        # Proton's blocking receiver cannot accept a settled delivery.
        if receiver.fetcher is not None and receiver.fetcher.unsettled:
            receiver.accept()
    finally:
        connection.close()
    assert received.body == body
    assert received.id == "smoke-1"
    return received


def _tls(info: PeerInfo) -> dict[str, Any]:
    """Proton TLS options that verify the peer against the CA ``.ci/peers/start`` made."""
    if info.ca_file is None:
        missing_peer(f"the CA of peer {info.name} (AMQP10_PEER_{info.name}_CA)", HOWTO[info.name])
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    domain.set_trusted_ca_db(info.ca_file)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME)
    # Proton matches the peer name as a DNS name only; the test certificate also names localhost.
    return {"ssl_domain": domain, "sni": "localhost"}


def _queue(name: str) -> str:
    return f"amqp10-smoke-{name}-{uuid.uuid4()}"


def test_rabbitmq_returns_the_message_when_the_client_uses_sasl_anonymous() -> None:
    info = peer_info("RABBITMQ")
    _round_trip(info.url(), f"/queue/{_queue('anonymous')}", allowed_mechs="ANONYMOUS")


def test_rabbitmq_returns_the_message_when_the_client_uses_sasl_plain_with_the_test_user() -> None:
    info = peer_info("RABBITMQ")
    if info.user is None or info.password is None:
        missing_peer("a RabbitMQ user (AMQP10_PEER_RABBITMQ_USER/_PASSWORD)", HOWTO["RABBITMQ"])
    _round_trip(info.url(credentials=True), f"/queue/{_queue('plain')}", allowed_mechs="PLAIN")


def test_rabbitmq_returns_the_message_over_tls_when_the_client_trusts_the_test_ca() -> None:
    info = peer_info("RABBITMQ_TLS")
    _round_trip(info.url(tls=True), f"/queue/{_queue('tls')}", allowed_mechs="ANONYMOUS", **_tls(info))


def test_proton_c_broker_returns_the_message_from_a_plain_queue() -> None:
    info = peer_info("PROTON_C_BROKER")
    _round_trip(info.url(), _queue("c"), allowed_mechs="ANONYMOUS")


def test_proton_c_broker_returns_the_message_over_tls_when_the_client_trusts_the_test_ca() -> None:
    info = peer_info("PROTON_C_BROKER_TLS")
    _round_trip(info.url(tls=True), _queue("c-tls"), allowed_mechs="ANONYMOUS", **_tls(info))


def test_proton_cpp_broker_returns_the_message_from_a_plain_queue() -> None:
    info = peer_info("PROTON_CPP_BROKER")
    _round_trip(info.url(), _queue("cpp"), allowed_mechs="ANONYMOUS")


def test_qpidd_returns_the_message_from_a_queue_made_on_demand() -> None:
    info = peer_info("QPIDD")
    _round_trip(info.url(), _queue("qpidd"), allowed_mechs="ANONYMOUS")


def test_qpidd_returns_the_message_when_the_client_uses_sasl_plain_with_the_test_user() -> None:
    info = peer_info("QPIDD")
    if info.user is None or info.password is None:
        missing_peer("a qpidd user (AMQP10_PEER_QPIDD_USER/_PASSWORD)", HOWTO["QPIDD"])
    _round_trip(info.url(credentials=True), _queue("qpidd-plain"), allowed_mechs="PLAIN")


def test_router_network_link_routes_broker_addresses_from_the_edge_router_to_qpidd() -> None:
    # edge -> A -> B -> qpidd: the link ends on qpidd's queue, so the message waits there.
    _round_trip(peer_info("ROUTER_EDGE").url(), "broker/" + _queue("routed"), allowed_mechs="ANONYMOUS")


def test_router_a_returns_the_message_over_tls_when_the_client_trusts_the_test_ca() -> None:
    info = peer_info("ROUTER_A_TLS")
    _round_trip(info.url(tls=True), "broker/" + _queue("router-tls"), allowed_mechs="ANONYMOUS", **_tls(info))


def test_proton_listener_returns_the_message_and_reports_it_as_an_event() -> None:
    with spawn_listener("proton", "--events") as listener:
        address = _queue("proton-listener")
        _round_trip(listener.url(), address, allowed_mechs="ANONYMOUS")
        seen = listener.wait_for_event(lambda e: e["event"] == "message" and e["address"] == address)
    assert seen["id"] == "smoke-1"


def test_rhea_listener_returns_the_message_when_the_client_uses_sasl_plain() -> None:
    mechs = ("--sasl-mechs", "PLAIN", "--user", "smoke", "--password", "smoke-secret")
    with spawn_listener("rhea", *mechs, "--events") as listener:
        address = _queue("rhea-listener")
        _round_trip(listener.url(user="smoke", password="smoke-secret"), address, allowed_mechs="PLAIN")
        opened = listener.wait_for_event(lambda e: e["event"] == "connection-open")
    assert opened["user"] == "smoke"
