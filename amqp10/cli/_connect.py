"""Connection flags shared by ``amqp10 send`` and ``amqp10 receive``.

Owns: the URL argument, TLS and SASL flags, and turning them into ``amqp10.connect`` keyword
arguments plus the address from the URL. Must never: hold a connection open itself.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_connection_arguments", "connect_options"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Add URL, timeout, SASL and TLS flags."""
    parser.add_argument("url", help="amqp[s]://[user[:password]@]host[:port]/address")
    parser.add_argument("--timeout", type=float, default=None, metavar="S", help="seconds to wait (see each command)")
    parser.add_argument("--connect-timeout", type=float, default=30.0, metavar="S", help="seconds allowed to connect (default 30)")
    parser.add_argument("--sasl-mechanism", action="append", default=None, metavar="MECH", help="only this SASL mechanism (repeatable)")
    parser.add_argument(
        "--allow-insecure-plain",
        action="store_true",
        help="allow SASL PLAIN without TLS (sends the password in clear)",
    )
    parser.add_argument("--ca-file", metavar="PEM", help="trust these CA certificates for amqps://")
    parser.add_argument("--cert-file", metavar="PEM", help="client certificate (for SASL EXTERNAL)")
    parser.add_argument("--key-file", metavar="PEM", help="the client certificate's key")
    parser.add_argument("--insecure", action="store_true", help="amqps:// without verifying the server certificate")
    parser.add_argument(
        "--no-reconnect",
        action="store_true",
        help="fail when the connection is lost (default: reconnect with backoff for up to 60 s; docs/reconnect.md)",
    )
    parser.add_argument("--failover", action="append", default=[], metavar="URL", help="another peer to try when reconnecting (repeatable)")


def connect_options(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The address named by the URL and the keyword arguments for ``amqp10.connect``.

    Raises:
        ValueError: a malformed URL, or no address in it.
    """
    from ..url import parse_url

    url = parse_url(args.url)
    if not url.address:
        raise ValueError(f"the URL names no address: {args.url!r} (expected amqp://host:port/address)")
    options: dict[str, Any] = {"timeout": args.connect_timeout, "reconnect": not args.no_reconnect}
    if args.failover:
        options["failover"] = list(args.failover)
    if args.sasl_mechanism:
        options["sasl_mechanisms"] = args.sasl_mechanism
    if args.allow_insecure_plain:
        options["allow_insecure_plain"] = True
    if url.tls or args.ca_file or args.cert_file or args.insecure:
        from ..tls import client_context

        options["ssl_context"] = client_context(
            cafile=args.ca_file, certfile=args.cert_file, keyfile=args.key_file, verify=not args.insecure
        )
    return url.address, options
