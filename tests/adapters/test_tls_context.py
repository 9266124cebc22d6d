"""amqp10.tls: contexts verify by default, present client certificates, and name the peer."""

from __future__ import annotations

import socket
import ssl
import threading

import pytest

from amqp10.tls import certificate_identity, client_context, server_context
from support.certs import CertificateSet


def _handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str | None):
    """One TLS handshake over a loopback socket pair; returns (client error, server's view of the client cert)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        sock, _ = listener.accept()
        sock.settimeout(5)
        try:
            with server_ctx.wrap_socket(sock, server_side=True) as tls:
                seen["cert"] = tls.getpeercert()
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    error: Exception | None = None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
                tls.sendall(b"x")
    except ssl.SSLError as exc:
        error = exc
    thread.join(5)
    listener.close()
    return error, seen.get("cert")


def test_client_context_accepts_the_server_when_ca_and_host_name_match(certs: CertificateSet) -> None:
    error, _ = _handshake(server_context(certs.server_cert, certs.server_key), client_context(cafile=certs.ca), "localhost")
    assert error is None


def test_client_context_refuses_the_server_when_the_host_name_differs(certs: CertificateSet) -> None:
    error, _ = _handshake(server_context(certs.server_cert, certs.server_key), client_context(cafile=certs.ca), "wrong.example")
    assert isinstance(error, ssl.SSLCertVerificationError)
    assert "wrong.example" in str(error)


def test_client_context_refuses_an_unknown_ca_when_verifying_by_default(certs: CertificateSet) -> None:
    error, _ = _handshake(server_context(certs.server_cert, certs.server_key), client_context(), "localhost")
    assert isinstance(error, ssl.SSLCertVerificationError)


def test_client_context_skips_checks_only_when_verify_is_false(certs: CertificateSet) -> None:
    error, _ = _handshake(server_context(certs.server_cert, certs.server_key), client_context(verify=False), "wrong.example")
    assert error is None


def test_server_context_sees_the_client_certificate_identity_when_one_is_presented(certs: CertificateSet) -> None:
    server = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    client = client_context(cafile=certs.ca, certfile=certs.client_cert, keyfile=certs.client_key)
    error, cert = _handshake(server, client, "localhost")
    assert error is None
    assert certificate_identity(cert) == certs.client_identity  # type: ignore[arg-type]


def test_certificate_identity_is_None_when_the_client_sent_no_certificate(certs: CertificateSet) -> None:
    server = server_context(certs.server_cert, certs.server_key, cafile=certs.ca)
    error, cert = _handshake(server, client_context(cafile=certs.ca), "localhost")
    assert error is None
    assert certificate_identity(cert) is None  # type: ignore[arg-type]


def test_certificate_identity_escapes_rfc4514_specials() -> None:
    cert = {"subject": ((("organizationName", "A, B"),), (("commonName", "#x "),))}
    assert certificate_identity(cert) == "CN=\\#x\\ ,O=A\\, B"


def test_server_context_refuses_require_client_cert_without_a_ca(certs: CertificateSet) -> None:
    with pytest.raises(ValueError, match="cafile"):
        server_context(certs.server_cert, certs.server_key, require_client_cert=True)
