"""Test-time X.509 material: a throw-away CA, a server certificate and a client certificate.

Made with the ``cryptography`` package in a temporary folder, so no key ever lives in the
repository. The server certificate names ``localhost`` only, so connecting to the same server
as ``127.0.0.1`` is the "wrong host name" case and must fail verification.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateSet", "make_certificates"]


@dataclass(frozen=True)
class CertificateSet:
    """Paths of the PEM files (keys unencrypted)."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    client_identity: str  # the client certificate's subject as certificate_identity() gives it


def _name(common_name: str, org: str = "amqp10 tests") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))


def make_certificates(folder: Path) -> CertificateSet:
    """Create a CA and a server and a client certificate it signs, valid for one day."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("amqp10 test CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )

    def leaf(common_name: str, usage: x509.ObjectIdentifier, san: list[x509.GeneralName] | None):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name)).issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return key, builder.sign(ca_key, hashes.SHA256())

    server_key, server = leaf(
        "localhost", ExtendedKeyUsageOID.SERVER_AUTH,
        [x509.DNSName("localhost")],
    )
    client_key, client = leaf("app-client", ExtendedKeyUsageOID.CLIENT_AUTH, None)

    paths = {name: folder / f"{name}.pem" for name in ("ca", "server", "server-key", "client", "client-key")}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["server"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["client"].write_bytes(client.public_bytes(serialization.Encoding.PEM))
    _write_key(paths["server-key"], server_key)
    _write_key(paths["client-key"], client_key)
    return CertificateSet(
        ca=str(paths["ca"]),
        server_cert=str(paths["server"]),
        server_key=str(paths["server-key"]),
        client_cert=str(paths["client"]),
        client_key=str(paths["client-key"]),
        client_identity="CN=app-client,O=amqp10 tests",
    )
