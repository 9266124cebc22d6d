"""TLS through the asyncio adapter: verification by default, SNI, wrong host name, EXTERNAL."""

from __future__ import annotations

import pytest

import amqp10
import amqp10.asyncio
from amqp10 import Accepted, Message
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.tls import client_context, server_context
from support.broker import QueueBroker
from support.certs import CertificateSet
from support.asyncio_helpers import asyncio_test, serving


def _server_context(certs: CertificateSet, names: list[str | None]) -> object:
    context = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    context.sni_callback = lambda sslobj, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    return context


@asyncio_test
async def test_asyncio_connect_over_tls_verifies_and_sends_SNI(certs: CertificateSet, broker: QueueBroker) -> None:
    names: list[str | None] = []
    async with serving(broker, ssl_context=_server_context(certs, names)) as server:
        assert server.url.startswith("amqps://")
        url = f"amqps://localhost:{server.port}"
        async with amqp10.asyncio.connect(url, ssl_context=client_context(cafile=certs.ca), timeout=5) as conn:
            assert await (await conn.open_sender("q")).send(Message(body="over tls")) == Accepted()
    assert names == ["localhost"]


@asyncio_test
async def test_asyncio_connect_over_tls_fails_clearly_when_the_host_name_does_not_match(
    certs: CertificateSet, broker: QueueBroker
) -> None:
    async with serving(broker, ssl_context=_server_context(certs, [])) as server:
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            async with amqp10.asyncio.connect(
                f"amqps://127.0.0.1:{server.port}", ssl_context=client_context(cafile=certs.ca), timeout=5
            ):
                pass  # pragma: no cover
        assert "TLS certificate verification failed" in str(info.value)
        assert "127.0.0.1" in str(info.value)


@asyncio_test
async def test_asyncio_connect_over_tls_skips_verification_only_when_asked(certs: CertificateSet, broker: QueueBroker) -> None:
    async with serving(broker, ssl_context=_server_context(certs, [])) as server:
        with pytest.raises(amqp10.ConnectionClosedError, match="certificate verif"):
            async with amqp10.asyncio.connect(f"amqps://localhost:{server.port}", timeout=5):
                pass  # pragma: no cover
        async with amqp10.asyncio.connect(
            f"amqps://127.0.0.1:{server.port}", ssl_context=client_context(verify=False), timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()


@asyncio_test
async def test_asyncio_connect_authenticates_with_EXTERNAL_and_a_client_certificate(certs: CertificateSet, broker: QueueBroker) -> None:
    auth = SimpleAuthenticator({}, external_identities=[certs.client_identity])
    async with serving(broker, ssl_context=_server_context(certs, []), authenticator=auth, allow_anonymous=False) as server:
        context = client_context(cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
        async with amqp10.asyncio.connect(
            f"amqps://localhost:{server.port}", ssl_context=context, sasl_mechanisms=["EXTERNAL"], timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()
            assert server.connections[0].tls_identity == certs.client_identity
            assert server.connections[0].engine.user == certs.client_identity
