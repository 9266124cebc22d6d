"""TLS through both async adapters (trio and asyncio): verification by default, SNI, wrong host name, EXTERNAL."""

from __future__ import annotations

import pytest

import amqp10
from amqp10 import Accepted, Message
from amqp10.engine.authenticators import SimpleAuthenticator
from amqp10.tls import client_context, server_context
from support.broker import QueueBroker
from support.certs import CertificateSet
from support.async_adapters import AsyncAdapter, each_async_adapter


def _server_context(certs: CertificateSet, names: list[str | None]) -> object:
    context = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    context.sni_callback = lambda sslobj, name, ctx: names.append(name)  # type: ignore[assignment,misc,func-returns-value]
    return context


@each_async_adapter
async def test_connect_over_tls_verifies_and_sends_SNI(adapter: AsyncAdapter, certs: CertificateSet, broker: QueueBroker) -> None:
    names: list[str | None] = []
    async with adapter.serving(broker, ssl_context=_server_context(certs, names)) as server:
        assert server.url.startswith("amqps://")
        url = f"amqps://localhost:{server.port}"
        async with adapter.connect(url, ssl_context=client_context(cafile=certs.ca), timeout=5) as conn:
            assert await (await conn.open_sender("q")).send(Message(body="over tls")) == Accepted()
    assert names == ["localhost"]


@each_async_adapter
async def test_connect_over_tls_fails_clearly_when_the_host_name_does_not_match(
    adapter: AsyncAdapter, certs: CertificateSet, broker: QueueBroker
) -> None:
    async with adapter.serving(broker, ssl_context=_server_context(certs, [])) as server:
        with pytest.raises(amqp10.ConnectionClosedError) as info:
            async with adapter.connect(
                f"amqps://127.0.0.1:{server.port}", ssl_context=client_context(cafile=certs.ca), timeout=5
            ):
                pass  # pragma: no cover
        assert "TLS certificate verification failed" in str(info.value)
        assert "127.0.0.1" in str(info.value)


@each_async_adapter
async def test_connect_over_tls_skips_verification_only_when_asked(adapter: AsyncAdapter, certs: CertificateSet, broker: QueueBroker) -> None:
    async with adapter.serving(broker, ssl_context=_server_context(certs, [])) as server:
        with pytest.raises(amqp10.ConnectionClosedError, match="certificate verif"):
            async with adapter.connect(f"amqps://localhost:{server.port}", timeout=5):
                pass  # pragma: no cover
        async with adapter.connect(
            f"amqps://127.0.0.1:{server.port}", ssl_context=client_context(verify=False), timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()


@each_async_adapter
async def test_connect_authenticates_with_EXTERNAL_and_a_client_certificate(adapter: AsyncAdapter, certs: CertificateSet, broker: QueueBroker) -> None:
    auth = SimpleAuthenticator({}, external_identities=[certs.client_identity])
    async with adapter.serving(broker, ssl_context=_server_context(certs, []), authenticator=auth, allow_anonymous=False) as server:
        context = client_context(cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
        async with adapter.connect(
            f"amqps://localhost:{server.port}", ssl_context=context, sasl_mechanisms=["EXTERNAL"], timeout=5
        ) as conn:
            assert await (await conn.open_sender("q")).send(Message(body=1)) == Accepted()
            assert server.connections[0].tls_identity == certs.client_identity
            assert server.connections[0].engine.user == certs.client_identity
