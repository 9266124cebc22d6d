"""``amqp10 receive URL``: receive messages and print them, readably or as JSON lines.

Owns: the receive loop (credit that never fetches more than ``--count`` messages, a quiet-time
``--timeout``), printing, accepting each message once printed, and the throughput line. Uses
only the public blocking API. Must never: accept a message it has not printed.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ._common import Meter, message_to_json, message_to_text
from ._connect import add_connection_arguments, connect_options

__all__ = ["configure", "run"]

HELP = "receive messages from an address and print them"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``receive`` arguments."""
    parser.description = (
        "Receive messages from the address in URL and print each (its body, then its "
        "properties and application properties), or one JSON object per line with --json. "
        "Each message is accepted once printed. Stops after --count messages, after --timeout "
        "seconds with nothing arriving, or on Ctrl-C."
    )
    add_connection_arguments(parser)
    parser.add_argument("--count", type=int, default=0, metavar="N", help="stop after N messages (default: no limit)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per message, per line")
    parser.add_argument("--credit", type=int, default=100, metavar="N", help="prefetch window (default 100)")
    parser.add_argument(
        "--settle-mode",
        choices=["at-least-once", "at-most-once"],
        default="at-least-once",
        help="accept each message (default), or ask the sender to pre-settle",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print no messages, only the final line")
    parser.epilog = (
        "--timeout S: stop when nothing arrives for S seconds (exit status 1 if --count was "
        "not reached). Without it, wait for ever."
    )


def _print(message: Any, as_json: bool, number: int) -> None:
    if as_json:
        print(json.dumps(message_to_json(message), ensure_ascii=False), flush=True)
    else:
        print(f"[{number}] {message_to_text(message)}", flush=True)


def run(args: argparse.Namespace) -> int:
    """Receive; returns 0 on success, 1 on an error or an unmet ``--count``, 2 on bad args."""
    if args.count < 0 or args.credit < 1:
        print("amqp10 receive: --count must be >= 0 and --credit >= 1", file=sys.stderr)
        return 2
    try:
        address, options = connect_options(args)
    except ValueError as exc:
        print(f"amqp10 receive: {exc}", file=sys.stderr)
        return 2

    import amqp10

    limit = args.count or None
    window = args.credit if limit is None else min(args.credit, limit)
    meter = Meter("received", limit)
    status = 0
    try:
        with amqp10.connect(args.url, **options) as conn:
            manual = limit is not None
            with conn.open_receiver(
                address,
                credit=0 if manual else window,
                settle_mode=args.settle_mode,
                timeout=args.timeout,
            ) as receiver:
                granted = 0  # credit given so far (manual mode: never past --count)
                if manual:
                    receiver.flow(window)
                    granted = window
                while limit is None or meter.count < limit:
                    try:
                        delivery = receiver.receive(timeout=args.timeout)
                    except amqp10.Timeout:
                        if limit is not None:
                            print(
                                f"amqp10 receive: nothing arrived for {args.timeout:g} s; "
                                f"got {meter.count} of {limit} messages",
                                file=sys.stderr,
                            )
                            status = 1
                        break
                    try:
                        message = delivery.message
                    except amqp10.DecodeError as exc:
                        print(f"amqp10 receive: rejecting an undecodable message: {exc}", file=sys.stderr)
                        delivery.reject("amqp:decode-error", str(exc))
                        continue
                    meter.tick()
                    if not args.quiet:
                        _print(message, args.json, meter.count)
                    delivery.accept()
                    if manual and limit is not None:
                        # Keep about a window outstanding, but never ask for more than --count.
                        outstanding = granted - meter.count
                        if outstanding <= window // 2 and granted < limit:
                            more = min(window - outstanding, limit - granted)
                            receiver.flow(more)
                            granted += more
    except amqp10.AMQPError as exc:
        meter.finish()
        print(f"amqp10 receive: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    meter.finish()
    return status
