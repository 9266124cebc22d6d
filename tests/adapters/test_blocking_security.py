"""TLS and SASL through the blocking adapter: verification on by default, SNI, client
certificates for EXTERNAL, PLAIN refused over plain TCP unless allowed, credentials from the URL."""

from __future__ import annotations

import ssl
from typing import Iterator

import pytest

import amqp10
from amqp10 import Accepted, Message
from amqp10.blocking import Listener, connect, listen
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.tls import client_context, server_context
from support.broker import QueueBroker
from support.certs import CertificateSet


@pytest.fixture
def tls_listener(certs: CertificateSet, broker: QueueBroker) -> Iterator[tuple[Listener, list[str | None]]]:
    """A TLS listener that records the SNI names clients sent, and takes client certificates."""
    context = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    names: list[str | None] = []
    context.sni_callback = lambda sslobj, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    authenticator = SimpleAuthenticator({"alice": "wonder"}, external_identities=[certs.client_identity])
    with listen("127.0.0.1", 0, broker, ssl_context=context, authenticator=authenticator) as served:
        yield served, names


def test_connect_over_tls_verifies_the_server_and_sends_SNI_when_the_host_name_matches(
    tls_listener: tuple[Listener, list[str | None]], certs: CertificateSet
) -> None:
    served, names = tls_listener
    with connect(f"amqps://localhost:{served.port}", ssl_context=client_context(cafile=certs.ca), timeout=5) as conn:
        assert conn.open_sender("q").send(Message(body="secret")) == Accepted()
        assert conn.open_receiver("q").receive(timeout=5).message.body == "secret"
    assert names == ["localhost"]


def test_connect_over_tls_fails_clearly_when_the_host_name_does_not_match(
    tls_listener: tuple[Listener, list[str | None]], certs: CertificateSet
) -> None:
    served, _ = tls_listener
    with pytest.raises(amqp10.ConnectionClosedError) as info:
        connect(f"amqps://127.0.0.1:{served.port}", ssl_context=client_context(cafile=certs.ca), timeout=5)
    text = str(info.value)
    assert "TLS certificate verification failed" in text
    assert "127.0.0.1" in text and "mismatch" in text.lower()


def test_connect_over_tls_fails_when_the_CA_is_unknown(tls_listener: tuple[Listener, list[str | None]]) -> None:
    served, _ = tls_listener
    with pytest.raises(amqp10.ConnectionClosedError, match="certificate verif"):
        connect(f"amqps://localhost:{served.port}", timeout=5)  # amqps:// alone: system CAs


def test_connect_over_tls_skips_verification_only_when_the_context_says_so(
    tls_listener: tuple[Listener, list[str | None]],
) -> None:
    served, _ = tls_listener
    with connect(f"amqps://127.0.0.1:{served.port}", ssl_context=client_context(verify=False), timeout=5) as conn:
        assert conn.open_sender("q").send(Message(body=1)) == Accepted()


def test_connect_authenticates_with_EXTERNAL_when_a_client_certificate_is_presented(
    tls_listener: tuple[Listener, list[str | None]], certs: CertificateSet, broker: QueueBroker
) -> None:
    served, _ = tls_listener
    context = client_context(cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
    with connect(f"amqps://localhost:{served.port}", ssl_context=context, sasl_mechanisms=["EXTERNAL"], timeout=5) as conn:
        conn.open_sender("q").send(Message(body=1))
        conn_seen = served.call(lambda: broker.connections[0])
        assert conn_seen.tls_identity == certs.client_identity
        assert served.call(lambda: conn_seen.engine.user) == certs.client_identity


def test_connect_uses_PLAIN_over_tls_with_credentials_from_the_URL(
    tls_listener: tuple[Listener, list[str | None]], certs: CertificateSet, broker: QueueBroker
) -> None:
    served, _ = tls_listener
    with connect(f"amqps://alice:wonder@localhost:{served.port}", ssl_context=client_context(cafile=certs.ca), timeout=5) as conn:
        conn.open_sender("q").send(Message(body=1))
        assert served.call(lambda: broker.connections[0].engine.user) == "alice"


@pytest.fixture
def plain_listener(broker: QueueBroker) -> Iterator[Listener]:
    """Plain TCP, PLAIN allowed (a dev server), users alice/wonder, no anonymous access."""
    authenticator = SimpleAuthenticator({"alice": "wonder"})
    with listen(
        "127.0.0.1", 0, broker, authenticator=authenticator, sasl_mechanisms=["PLAIN"],
        allow_insecure_plain=True, allow_anonymous=False,
    ) as served:
        yield served


def test_connect_refuses_PLAIN_over_plain_tcp_unless_allowed(plain_listener: Listener) -> None:
    with pytest.raises(amqp10.SASLError) as info:
        connect(f"amqp://alice:wonder@127.0.0.1:{plain_listener.port}", timeout=5)
    assert "PLAIN" in str(info.value) and "allow_insecure_plain" in str(info.value)


def test_connect_uses_PLAIN_over_plain_tcp_when_allowed(plain_listener: Listener, broker: QueueBroker) -> None:
    with connect(f"amqp://127.0.0.1:{plain_listener.port}", username="alice", password="wonder", allow_insecure_plain=True, timeout=5) as conn:
        assert conn.open_sender("q").send(Message(body=1)) == Accepted()
        assert plain_listener.call(lambda: broker.connections[0].engine.user) == "alice"


def test_connect_raises_SASLError_with_the_condition_when_the_password_is_wrong(plain_listener: Listener) -> None:
    with pytest.raises(amqp10.SASLError) as info:
        connect(f"amqp://alice:nope@127.0.0.1:{plain_listener.port}", allow_insecure_plain=True, timeout=5)
    assert info.value.condition == "amqp:unauthorized-access"
    assert "authentication failed" in str(info.value)


def test_connect_authenticates_with_SCRAM_over_plain_tcp(broker: QueueBroker) -> None:
    authenticator = SimpleAuthenticator({"bob": "builder"}, iterations=4096)
    with listen("127.0.0.1", 0, broker, authenticator=authenticator, allow_anonymous=False) as served:
        with connect(f"amqp://bob:builder@127.0.0.1:{served.port}", sasl_mechanisms=["SCRAM-SHA-256"], timeout=5) as conn:
            assert conn.open_sender("q").send(Message(body=1)) == Accepted()


def test_listen_refuses_options_that_leave_no_SASL_mechanism(broker: QueueBroker) -> None:
    with pytest.raises(ValueError, match="no mechanism to offer"):
        listen("127.0.0.1", 0, broker, allow_anonymous=False)


def test_tls_server_closes_a_client_that_does_not_speak_tls(certs: CertificateSet, broker: QueueBroker) -> None:
    context = server_context(certs.server_cert, certs.server_key)
    with listen("127.0.0.1", 0, broker, ssl_context=context) as served:
        with pytest.raises((amqp10.ConnectionClosedError, amqp10.Timeout)):
            connect(f"amqp://127.0.0.1:{served.port}", timeout=2)
        # and keeps serving TLS clients
        with connect(f"amqps://localhost:{served.port}", ssl_context=client_context(cafile=certs.ca), timeout=5) as conn:
            assert conn.open_sender("q").send(Message(body=1)) == Accepted()
    assert isinstance(context, ssl.SSLContext)
