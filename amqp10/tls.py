"""TLS contexts for AMQP over TLS (spec 5.2: ``amqps://``, TLS straight after TCP connect).

Owns: the ``ssl.SSLContext`` factories both adapters use, with safe defaults (certificate and
host name verified, TLS 1.2 or newer), client certificates (which SASL EXTERNAL relies on), and
reading the identity out of a peer's certificate for EXTERNAL on the server side. Must never:
open sockets, or turn verification off unless the caller says so explicitly.

SNI: the adapters pass the URL's host as ``server_hostname`` when wrapping the socket, so the
server sees it in the ClientHello and verification checks the certificate against it.
"""

from __future__ import annotations

import ssl
from typing import Any

__all__ = ["client_context", "server_context", "certificate_identity", "handshake_failure"]


def client_context(
    *,
    cafile: str | None = None,
    capath: str | None = None,
    cadata: str | bytes | None = None,
    certfile: str | None = None,
    keyfile: str | None = None,
    password: str | None = None,
    verify: bool = True,
) -> ssl.SSLContext:
    """A client-side context: the server's certificate chain and host name are verified.

    Args:
        cafile, capath, cadata: trust these CAs instead of the system's default store.
        certfile, keyfile, password: our client certificate (PEM), for servers that ask for
            one and for SASL EXTERNAL.
        verify: ``False`` turns off certificate *and* host name checks. Only for tests against
            a throw-away peer: anyone on the path can then read and change the traffic.

    Returns:
        A new ``ssl.SSLContext`` (TLS 1.2 at least).
    """
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile, capath=capath, cadata=cadata)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if certfile is not None:
        context.load_cert_chain(certfile, keyfile, password)
    return context


def server_context(
    certfile: str,
    keyfile: str | None = None,
    *,
    password: str | None = None,
    cafile: str | None = None,
    capath: str | None = None,
    cadata: str | bytes | None = None,
    require_client_cert: bool = False,
) -> ssl.SSLContext:
    """A server-side context presenting ``certfile``.

    Client certificates are requested when CAs to verify them are given (``cafile`` /
    ``capath`` / ``cadata``), and then verified; they are optional unless
    ``require_client_cert``. A verified client certificate enables SASL EXTERNAL.

    Args:
        certfile, keyfile, password: our certificate chain and key (PEM).
        cafile, capath, cadata: CAs that sign acceptable client certificates.
        require_client_cert: refuse clients without a valid certificate.

    Returns:
        A new ``ssl.SSLContext`` (TLS 1.2 at least).

    Raises:
        ValueError: ``require_client_cert`` without any CA to verify client certificates.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(certfile, keyfile, password)
    has_ca = cafile is not None or capath is not None or cadata is not None
    if require_client_cert and not has_ca:
        raise ValueError("require_client_cert needs cafile, capath or cadata to verify client certificates")
    if has_ca:
        context.load_verify_locations(cafile, capath, cadata)
        context.verify_mode = ssl.CERT_REQUIRED if require_client_cert else ssl.CERT_OPTIONAL
    return context


# RFC 4514 section 3: the short names a distinguished name string uses.
_SHORT_NAMES = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}


def certificate_identity(cert: dict[str, Any] | None) -> str | None:
    """The subject of a verified peer certificate as an RFC 4514 string (``CN=app,O=Example``).

    This is the identity SASL EXTERNAL authenticates (the form brokers such as Artemis and
    qpidd match on).

    Args:
        cert: ``SSLSocket.getpeercert()`` / ``SSLObject.getpeercert()``: empty or ``None`` when
            the peer sent no certificate or it was not verified.

    Returns:
        The distinguished name, or ``None`` without a verified certificate.
    """
    if not cert or "subject" not in cert:
        return None
    parts = []
    # getpeercert() lists RDNs most significant first; RFC 4514 writes them in reverse.
    for rdn in reversed(cert["subject"]):
        parts.append("+".join(f"{_SHORT_NAMES.get(k, k)}={_escape(v)}" for k, v in rdn))
    return ",".join(parts) or None


def _escape(value: str) -> str:
    # RFC 4514 section 2.4: escape the specials, a leading '#' or space, and a trailing space.
    out = "".join("\\" + ch if ch in ',+"\\<>;=' else ch for ch in value)
    if out.startswith(("#", " ")):
        out = "\\" + out
    if out.endswith(" ") and not out.endswith("\\ "):
        out = out[:-1] + "\\ "
    return out


#: The first bytes a plain AMQP peer sends (spec 2.2 protocol header, 5.3.1 SASL header): a
#: TLS client that reads them was pointed at a port that does not speak TLS.
_AMQP_HEADER_START = b"AMQP"


def handshake_failure(error: BaseException | str, first_bytes: bytes | None) -> str:
    """Words for a TLS handshake that failed, saying what to try when the peer is likely
    not speaking TLS at all (``amqps://`` pointed at a plain port).

    Args:
        error: the ``ssl`` error (or the text of what went wrong).
        first_bytes: the first bytes the peer sent, if any were seen (``None``: not known).

    A plain AMQP port answers a ClientHello with its AMQP protocol header (``AMQP...``), or
    just closes, or sends bytes that are no TLS record ("wrong version number", "record layer
    failure"). Certificate verification failures are left alone: the peer spoke TLS.
    """
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed: {error.verify_message or error}"
    advice = "amqps:// needs a TLS listener (port 5671 by convention); use amqp:// for a plain port (5672)"
    if first_bytes is not None and first_bytes.startswith(_AMQP_HEADER_START):
        return f"TLS handshake failed: the peer answered with an AMQP protocol header, not TLS: the port is not a TLS port; {advice}"
    text = str(error)
    signs = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNEXPECTED_EOF", "EOF occurred", "closed the connection")
    if isinstance(error, str) or any(sign in text for sign in signs) or not first_bytes:
        return f"TLS handshake failed ({text}): is the port a plain (non-TLS) port? {advice}"
    return f"TLS handshake failed: {text}"
