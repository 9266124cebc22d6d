"""``amqp10 send URL``: send one or many messages, for scripting and debugging.

Owns: building the message from flags (text, JSON or binary body; properties, application
properties, annotations, header fields), sending it ``--count`` times with the chosen settle
mode, reporting outcomes other than accepted, and the throughput line. Uses only the public
blocking API. Must never: retry on its own (an outcome is reported, not hidden).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import Meter, parse_assignment, parse_scalar, properties_from_flags
from ._connect import add_connection_arguments, connect_options

__all__ = ["configure", "run", "build_message"]

HELP = "send messages to an address (amqp://host:port/address)"

#: at most this many non-accepted outcomes are printed one by one
_MAX_REPORTED = 10


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``send`` arguments."""
    parser.description = (
        "Send a message (or --count copies) to the address in URL and report each outcome "
        "that is not 'accepted'. Exit status 0 when every message was accepted (or sent "
        "at-most-once), 1 otherwise."
    )
    add_connection_arguments(parser)
    body = parser.add_mutually_exclusive_group()
    body.add_argument("-m", "--message", metavar="TEXT", help="a text body (an AMQP string value)")
    body.add_argument("--json", metavar="JSON", help="a JSON body, sent as the AMQP value it decodes to (map, list, ...)")
    body.add_argument("--file", metavar="FILE", help="a binary body (one data section) read from FILE ('-': stdin)")
    parser.add_argument("--count", type=int, default=1, metavar="N", help="send the message N times (default 1)")
    parser.add_argument(
        "--settle-mode",
        choices=["at-least-once", "at-most-once"],
        default="at-least-once",
        help="wait for each outcome (default), or send pre-settled",
    )
    parser.add_argument(
        "--property",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a properties field: message-id, subject, reply-to, correlation-id, content-type, to, ... (repeatable)",
    )
    parser.add_argument(
        "--app-property",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an application property; VALUE is a JSON scalar if it spells one (42, 1.5, true), else text (repeatable)",
    )
    parser.add_argument("--annotation", action="append", default=[], metavar="KEY=VALUE", help="a message annotation (repeatable)")
    parser.add_argument("--durable", action="store_true", help="set header.durable")
    parser.add_argument("--priority", type=int, default=None, metavar="P", help="set header.priority (0-255)")
    parser.add_argument("--ttl", type=int, default=None, metavar="MS", help="set header.ttl in milliseconds")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")


def build_message(args: argparse.Namespace) -> Any:
    """The ``Message`` the flags describe.

    Raises:
        ValueError: a bad flag value (JSON, property name, assignment).
        OSError: ``--file`` cannot be read.
    """
    from ..codec.message import Header, Message

    body: Any
    if args.json is not None:
        body = json.loads(args.json)
        if body is None:
            from ..codec.message import AmqpValue

            body = AmqpValue(None)
    elif args.file is not None:
        if args.file == "-":
            body = sys.stdin.buffer.read()
        else:
            with open(args.file, "rb") as handle:
                body = handle.read()
    elif args.message is not None:
        body = args.message
    else:
        body = ""
    header = None
    if args.durable or args.priority is not None or args.ttl is not None:
        header = Header(durable=True if args.durable else None, priority=args.priority, ttl=args.ttl)
    application_properties = None
    if args.app_property:
        application_properties = {}
        for text in args.app_property:
            key, value = parse_assignment(text)
            application_properties[key] = parse_scalar(value)
    annotations = None
    if args.annotation:
        annotations = {}
        for text in args.annotation:
            key, value = parse_assignment(text)
            annotations[key] = parse_scalar(value)
    return Message(
        body,
        header=header,
        properties=properties_from_flags(args.property),
        application_properties=application_properties,
        message_annotations=annotations,
    )


def _describe(outcome: Any) -> str:
    name = type(outcome).__name__.lower()
    error = getattr(outcome, "error", None)
    if error is not None:
        return f"{name} ({error.condition}: {error.description})"
    return name


def run(args: argparse.Namespace) -> int:
    """Send; returns 0 when everything was accepted, 1 on a failure, 2 on bad arguments."""
    if args.count < 1:
        print("amqp10 send: --count must be at least 1", file=sys.stderr)
        return 2
    try:
        address, options = connect_options(args)
        message = build_message(args)
        message.encode()  # fail on an unencodable flag value before connecting
    except (ValueError, OSError) as exc:
        print(f"amqp10 send: {exc}", file=sys.stderr)
        return 2

    import amqp10

    meter = Meter("sent", args.count, quiet=args.quiet)
    failures = 0
    try:
        with amqp10.connect(args.url, **options) as conn:
            with conn.open_sender(address, settle_mode=args.settle_mode, timeout=args.timeout) as sender:
                for number in range(1, args.count + 1):
                    outcome = sender.send(message, timeout=args.timeout)
                    meter.tick()
                    if outcome is not None and not isinstance(outcome, amqp10.Accepted):
                        failures += 1
                        if failures <= _MAX_REPORTED:
                            print(f"amqp10 send: message {number}: {_describe(outcome)}", file=sys.stderr)
    except amqp10.AMQPError as exc:
        meter.finish()
        print(f"amqp10 send: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    meter.finish()
    if failures:
        print(f"amqp10 send: {failures} of {args.count} messages were not accepted", file=sys.stderr)
        return 1
    return 0
