#!/usr/bin/env python3
"""Render the Qpid Dispatch configurations of the amqp10 interop network from the templates
beside this script (``router-a.conf.in``, ``router-b.conf.in``, ``edge.conf.in``; every router
includes ``addresses.conf.in``), so CI and the compose file run the same topology::

    edge --(edge)--> A <--(inter-router)-- B --(route-container)--> qpidd

    render.py --compose                       # rewrites interop/router/compose/*.conf
    render.py --out DIR KEY=VALUE ...         # what .ci/peers/start does, with loopback ports

Every ``@KEY@`` of a template must be given a value; ``@ADDRESSES@`` is the address block.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROUTERS = ("router-a", "router-b", "edge")

#: The compose file's values: service names on the compose network, the standard ports inside it.
COMPOSE = {
    "LISTEN_HOST": "0.0.0.0",
    "A_HOST": "router-a",
    "A_PORT": "5672",
    "A_INTER_ROUTER_PORT": "55672",
    "A_EDGE_PORT": "45672",
    "B_PORT": "5672",
    "EDGE_PORT": "5672",
    "QPIDD_HOST": "qpidd",
    "QPIDD_PORT": "5672",
}

_KEY = re.compile(r"@([A-Z_]+)@")


def render(name: str, values: dict[str, str]) -> str:
    """The configuration of router ``name`` with ``values`` filled in."""
    text = (HERE / f"{name}.conf.in").read_text()
    values = dict(values, ADDRESSES=(HERE / "addresses.conf.in").read_text())
    missing = sorted(set(_KEY.findall(text)) - set(values))
    if missing:
        raise SystemExit(f"{name}.conf.in: no value for {', '.join(missing)}")
    return _KEY.sub(lambda m: values[m[1]], text)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compose", action="store_true", help="render the compose file's configurations")
    parser.add_argument("--out", help="folder to write router-a.conf, router-b.conf, edge.conf into")
    parser.add_argument("values", nargs="*", metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    values = dict(COMPOSE) if args.compose else {}
    for item in args.values:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"{item!r} is not KEY=VALUE")
        values[key] = value
    out = Path(args.out) if args.out else (HERE / "compose" if args.compose else None)
    if out is None:
        parser.error("give --out DIR (or --compose)")
    out.mkdir(parents=True, exist_ok=True)
    for name in ROUTERS:
        (out / f"{name}.conf").write_text(render(name, values))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
