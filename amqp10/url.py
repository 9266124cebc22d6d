"""AMQP URLs: ``amqp[s]://[user[:password]@]host[:port][/address]`` into typed options.

Owns: the URL grammar both adapters and the command line accept (DESIGN.md "URL form"), its
percent-decoding, and the default ports (5672, and 5671 for TLS: spec 5.2 and IANA). Must
never: open sockets or hold connection state.

The address is the URL path without its leading slash, percent-decoded, so
``amqp://h/queue%2Fa`` names the node ``queue/a`` and ``amqp://h/topic://news`` names
``topic://news``. User name and password are percent-decoded too, so a password may contain
``@`` or ``:`` written as ``%40`` / ``%3A``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import unquote

__all__ = ["Scheme", "URL", "parse_url", "DEFAULT_PORTS"]


class Scheme(enum.Enum):
    """The transport a URL asks for."""

    AMQP = "amqp"
    AMQPS = "amqps"


#: Spec 5.2 / IANA: 5672 for AMQP, 5671 for AMQP over TLS.
DEFAULT_PORTS: dict[Scheme, int] = {Scheme.AMQP: 5672, Scheme.AMQPS: 5671}


@dataclass(frozen=True, slots=True, kw_only=True)
class URL:
    """A parsed AMQP URL.

    Attributes:
        scheme: ``Scheme.AMQP`` (plain TCP) or ``Scheme.AMQPS`` (TLS).
        host: host name or IP address (IPv6 without brackets).
        port: the port, defaulted per scheme.
        username: percent-decoded user name, or ``None``.
        password: percent-decoded password, or ``None``.
        address: the node address (path without the leading ``/``), or ``None``.
    """

    scheme: Scheme
    host: str
    port: int
    username: str | None = None
    password: str | None = None
    address: str | None = None

    @property
    def tls(self) -> bool:
        """True for ``amqps://``."""
        return self.scheme is Scheme.AMQPS

    def __str__(self) -> str:
        # Never print the password: URLs end up in logs and error messages.
        user = ""
        if self.username is not None:
            user = self.username + (":***" if self.password is not None else "") + "@"
        host = f"[{self.host}]" if ":" in self.host else self.host
        path = "/" + self.address if self.address else ""
        return f"{self.scheme.value}://{user}{host}:{self.port}{path}"


def parse_url(url: str) -> URL:
    """Parse ``amqp[s]://[user[:password]@]host[:port][/address]``.

    Args:
        url: the URL text.

    Returns:
        The parsed ``URL``.

    Raises:
        ValueError: not an ``amqp`` / ``amqps`` URL, no host, a bad port, or a query or
            fragment (which AMQP URLs do not have; silently ignoring one would hide a typo;
            an address containing ``?`` or ``#`` writes them as ``%3F`` / ``%23``).
    """
    scheme_text, sep, rest = url.partition("://")
    if not sep:
        raise ValueError(f"not an AMQP URL (expected amqp://host[:port]/address): {url!r}")
    try:
        scheme = Scheme(scheme_text.lower())
    except ValueError:
        raise ValueError(f"unsupported URL scheme {scheme_text!r} (use amqp:// or amqps://)") from None
    authority, slash, path = rest.partition("/")
    if not slash:
        path = ""
    if "?" in rest or "#" in rest:  # write them as %3F / %23 inside an address
        raise ValueError(f"AMQP URLs take no query or fragment: {url!r}")
    userinfo, at, hostport = authority.rpartition("@")
    username: str | None = None
    password: str | None = None
    if at:
        user_text, colon, password_text = userinfo.partition(":")
        username = unquote(user_text, errors="strict")
        password = unquote(password_text, errors="strict") if colon else None
    host, port = _split_host_port(hostport, scheme, url)
    address = unquote(path, errors="strict") if path else None
    return URL(scheme=scheme, host=host, port=port, username=username, password=password, address=address)


def _split_host_port(hostport: str, scheme: Scheme, url: str) -> tuple[str, int]:
    port_text = ""
    if hostport.startswith("["):  # RFC 3986: an IPv6 literal is bracketed
        end = hostport.find("]")
        if end < 0:
            raise ValueError(f"unterminated IPv6 address in {url!r}")
        host = hostport[1:end]
        tail = hostport[end + 1 :]
        if tail and not tail.startswith(":"):
            raise ValueError(f"unexpected text after the IPv6 address in {url!r}")
        port_text = tail[1:]
    else:
        host, _, port_text = hostport.partition(":")
    host = unquote(host)
    if not host:
        raise ValueError(f"no host in {url!r}")
    if not port_text:
        return host, DEFAULT_PORTS[scheme]
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"bad port {port_text!r} in {url!r} (expected 1-65535)")
    return host, int(port_text)
