"""``amqp10 serve``: run the embedded peer in the foreground until interrupted.

Owns: the command's arguments and its start-up line. Must never: implement broker behaviour
(``amqp10.peer`` does).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import Any, Literal

from ..peer.server import PRODUCTION_NOTE

__all__ = ["configure", "run"]

#: How to get the trio adapter's dependency.
TRIO_EXTRA = "pip install 'amqp10[trio]'"

HELP = "run the embedded AMQP 1.0 peer (queues, topics, reply-to; for development and tests)"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``serve`` arguments."""
    about = (
        "Run an embedded AMQP 1.0 peer: a queue per address (each message to one receiver, "
        "balanced by credit), topics (every receiver gets a copy: an address starting "
        "topic:// or a terminus with the 'topic' capability), dynamic reply-to nodes, and "
        "the ANONYMOUS-RELAY (a sender with no target routes by each message's 'to'). "
        "Queues are bounded: a sender gets no credit while its queue is full."
    )
    # Wrapped here, not by argparse, which would split product names at their hyphens.
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = "\n\n".join(
        textwrap.fill(paragraph, 78, break_on_hyphens=False) for paragraph in (about, PRODUCTION_NOTE)
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5672, help="port (default 5672; 0 picks a free one)")
    parser.add_argument(
        "--queue-limit", type=int, default=10_000, metavar="N", help="messages one queue may hold (default 10000)"
    )
    parser.add_argument(
        "--queue-bytes", type=int, default=64 << 20, metavar="B", help="bytes one queue may hold (default 64 MiB)"
    )
    parser.add_argument(
        "--credit-window", type=int, default=200, metavar="N", help="credit given to a sender at a time (default 200)"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        metavar="S",
        help="close connections that send no frame for S seconds (default 60: reclaims clients that vanished; 0: never)",
    )
    # The limits most worth changing (docs/limits.md has every default and its reason).
    parser.add_argument(
        "--max-frame-size", type=int, default=None, metavar="B",
        help="largest frame accepted, advertised in OPEN (default 65536; at least 512)",
    )
    parser.add_argument(
        "--max-message-size", type=int, default=None, metavar="B",
        help="largest message accepted from a sender, advertised in ATTACH (default 100 MiB; never above --queue-bytes)",
    )
    parser.add_argument(
        "--incoming-window", type=int, default=None, metavar="N",
        help="transfer frames a client may send per session before the window reopens (default 2048)",
    )
    parser.add_argument(
        "--no-gc-freeze", action="store_true",
        help="never freeze long-held objects out of garbage collection (default: once 1,000 or more "
             "connections have come and stopped growing for 10 s; docs/scale.md)",
    )
    adapters = parser.add_mutually_exclusive_group()
    adapters.add_argument("--trio", action="store_true", help="serve with the trio adapter instead of the blocking one")
    adapters.add_argument("--asyncio", action="store_true", help="serve with the asyncio adapter instead of the blocking one")


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM. Prints ``listening on URL`` once ready."""
    from ..peer.nodes import NodeLimits
    from ..peer.server import run as serve

    if args.trio:
        try:
            import trio  # type: ignore[import-untyped,unused-ignore]  # noqa: F401  (only checks it is there)
        except ImportError:
            print(f"amqp10 serve: --trio needs trio, which is not installed: {TRIO_EXTRA}", file=sys.stderr)
            return 1

    try:
        limits = NodeLimits(max_messages=args.queue_limit, max_bytes=args.queue_bytes)
    except ValueError as exc:
        print(f"amqp10 serve: {exc}", file=sys.stderr)
        return 2

    adapter: Literal["blocking", "trio", "asyncio"] = "trio" if args.trio else "asyncio" if args.asyncio else "blocking"

    def ready(url: str) -> None:
        print(f"amqp10 serve: listening on {url} ({adapter} adapter; development peer, Ctrl-C to stop)", flush=True)

    options: dict[str, Any] = {}
    if args.idle_timeout is not None:
        # 0 turns it off; leaving it out keeps the listeners' default (_options.py).
        options["idle_timeout"] = args.idle_timeout or None
    if args.max_frame_size is not None:
        options["max_frame_size"] = args.max_frame_size
    if args.incoming_window is not None:
        options["incoming_window"] = args.incoming_window
    if args.max_message_size is not None:
        from ..codec.limits import Limits

        if not 0 <= args.max_message_size < 1 << 64:
            print("amqp10 serve: --max-message-size must be in [0, 2**64) (0: no limit)", file=sys.stderr)
            return 2
        # 0 means no limit on the wire (spec 2.7.3); the decoder needs a number.
        options["decoding_limits"] = Limits(max_message_size=args.max_message_size or (1 << 64) - 1)
    try:
        serve(
            args.host,
            args.port,
            adapter=adapter,
            limits=limits,
            credit_window=args.credit_window,
            on_ready=ready,
            gc_freeze=not args.no_gc_freeze,
            **options,
        )
    except OSError as exc:
        print(f"amqp10 serve: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:  # a limit out of range, checked before listening
        print(f"amqp10 serve: {exc}", file=sys.stderr)
        return 2
    print("amqp10 serve: stopped", flush=True)
    return 0
