"""The ``amqp10`` command (also ``python -m amqp10``): one subcommand per module.

Owns: the top-level argument parser, ``--verbose`` logging set-up and dispatch to the
subcommand modules (``serve``, ``send``, ``receive``, ``trace``, ``demo``), each of which
provides ``HELP``, ``configure(parser)`` and ``run(args) -> exit status``. Must never: hold
protocol logic (the subcommands use the public API).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from typing import Sequence

__all__ = ["main", "build_parser"]

#: subcommand name -> module. Each module keeps its top level light (it imports the adapters
#: inside ``run``), so building the parser costs little.
SUBCOMMANDS = {
    "serve": "amqp10.cli.serve",
    "send": "amqp10.cli.send",
    "receive": "amqp10.cli.receive",
    "trace": "amqp10.cli.trace",
    "demo": "amqp10.cli.demo",
}

_SUMMARIES = {
    "serve": "run the embedded AMQP 1.0 peer (queues, topics, reply-to; for development and tests)",
    "send": "send messages to an address (amqp://host:port/address)",
    "receive": "receive messages from an address and print them",
    "trace": "print every AMQP frame between two peers (a logging proxy), or decode a capture",
    "demo": "start the embedded peer and show request/reply, cast, fanout, competing consumers",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand configured."""
    parser = argparse.ArgumentParser(
        prog="amqp10",
        description="AMQP 1.0 from the command line: an embedded peer, send, receive, trace, demo.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-v info, -vv debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=_SUMMARIES[name])
        module = importlib.import_module(module_name)
        module.configure(sub_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (the console script exits with it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 2
    level = logging.WARNING if args.verbose == 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    module = importlib.import_module(SUBCOMMANDS[args.command])
    try:
        status: int = module.run(args)
    except KeyboardInterrupt:
        return 130
    return status


if __name__ == "__main__":
    sys.exit(main())
