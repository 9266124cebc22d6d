#!/usr/bin/env python3
"""One large message end to end, amqp10 against rhea: time from send to receipt, and the
receiving process's peak memory growth, on loopback.

    python bench/large_message.py [--size 10485760] [--repeat 3] [--adapters blocking,trio]
        [--baseline PYTHON]

For each client, a receiver process attaches to the queue ``large`` of its own kind of
listener (amqp10's embedded peer, ``amqp10.peer.server.start``; rhea's
``interop/rhea/listener.js``) and says it is ready; then a sender process sends one message
with a ``--size``-byte binary body. The time is from just before the sender's send call to
just after the receiver holds the decoded message (both read ``CLOCK_MONOTONIC``: Python's
``time.monotonic_ns``, node's ``process.hrtime``), so it includes the listener's
store-and-forward hop. The receiver reports its peak RSS growth while receiving: its peak RSS
(``ru_maxrss``) after the message, less its RSS just before, divided by the message size
(the target is at most 2x). Each client's best of ``--repeat`` runs is kept; every process is
started and stopped by its PID and every wait is bounded. ``--baseline`` names a Python
whose ``amqp10`` is another build (a venv with ``main`` installed): its listener and clients
run too, as ``base ...`` rows, round-robin with the others in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ADDRESS = "large"
TIMEOUT = 120


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def receive(adapter: str, url: str, address: str) -> None:
    """Child: receive one message on ``address``; print the JSON result."""
    from amqp10 import Message

    def report(message: Message, before: int) -> None:
        done = time.monotonic_ns()
        size = len(message.body)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        print(json.dumps({"received_ns": done, "size": size, "peak_growth": max(0, peak - before)}), flush=True)

    if adapter == "trio":
        import trio

        import amqp10.trio

        async def main() -> None:
            async with amqp10.trio.connect(url, timeout=30) as conn:
                receiver = await conn.open_receiver(address, credit=1, auto_accept=True)
                before = _rss()
                print("ready", flush=True)
                delivery = await receiver.receive(timeout=TIMEOUT)
                report(delivery.message, before)

        trio.run(main)
        return
    import amqp10

    with amqp10.connect(url, timeout=30) as conn:
        receiver = conn.open_receiver(address, credit=1, auto_accept=True)
        before = _rss()
        print("ready", flush=True)
        delivery = receiver.receive(timeout=TIMEOUT)
        report(delivery.message, before)


def send(url: str, size: int, address: str) -> None:
    """Child: send one ``size``-byte message to ``address``; print when the send started."""
    import amqp10
    from amqp10 import Message

    body = os.urandom(size)
    with amqp10.connect(url, timeout=30) as conn:
        sender = conn.open_sender(address)
        message = Message(body=body)
        started = time.monotonic_ns()
        sender.send(message, timeout=TIMEOUT)
        print(json.dumps({"sent_ns": started}), flush=True)


class _Proc:
    """A child whose stdout lines are read with a bound; stopped by PID."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)

    def line(self, timeout: float = TIMEOUT) -> str:
        import selectors

        assert self.proc.stdout is not None
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            if not sel.select(timeout):
                raise TimeoutError(f"pid {self.proc.pid} said nothing within {timeout} s")
        finally:
            sel.close()
        text = self.proc.stdout.readline()
        if not text:
            err = self.proc.stderr.read() if self.proc.stderr else ""
            raise RuntimeError(f"pid {self.proc.pid} ended: {err[-2000:]}")
        return text.strip()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _port(line: str) -> int:
    match = re.search(r"listening on (\d+)", line)
    if match is None:
        raise RuntimeError(f"a listener said {line!r}")
    return int(match[1])


def one_run(receiver_argv: list[str], sender_argv: list[str], env: dict[str, str] | None, address: str) -> dict[str, Any]:
    # A queue of its own per run: a receiver stopped before its accept went out leaves its
    # message to be delivered again, which must not reach the next run.
    receiver_argv = [a.replace("{address}", address) for a in receiver_argv]
    sender_argv = [a.replace("{address}", address) for a in sender_argv]
    receiver = _Proc(receiver_argv, env)
    sender: _Proc | None = None
    try:
        if receiver.line() != "ready":
            raise RuntimeError("the receiver did not get ready")
        sender = _Proc(sender_argv, env)
        sent = json.loads(sender.line())
        got = json.loads(receiver.line())
        return {"seconds": (got["received_ns"] - sent["sent_ns"]) / 1e9, "peak_x": got["peak_growth"] / got["size"]}
    finally:
        receiver.stop()
        if sender is not None:
            sender.stop()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10 << 20, help="body size in bytes (default 10 MiB)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per client; the best is kept")
    parser.add_argument("--adapters", default="blocking,trio", help="amqp10 receiving adapters (comma-separated)")
    parser.add_argument("--paths", default="cython,pure", help="amqp10 codec paths (comma-separated)")
    parser.add_argument("--baseline", metavar="PYTHON", help="also run a Python whose amqp10 is the baseline build")
    parser.add_argument("--role", choices=("receive", "send", "serve"), help=argparse.SUPPRESS)
    parser.add_argument("--adapter", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--address", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.role == "receive":
        receive(args.adapter, args.url, args.address)
        return 0
    if args.role == "send":
        send(args.url, args.size, args.address)
        return 0
    if args.role == "serve":
        from amqp10.peer.server import start

        with start("127.0.0.1", 0) as peer:
            print(f"listening on {peer.port}", flush=True)
            time.sleep(3600)
        return 0

    script = str(Path(__file__).resolve())
    builds = [("amqp10", [sys.executable, script])]
    if args.baseline:
        builds.append(("base", [args.baseline, script]))
    clients: list[tuple[str, list[str], list[str], dict[str, str] | None]] = []
    servers: list[_Proc] = []
    try:
        for path in args.paths.split(","):
            for build, me in builds:
                env = dict(os.environ)
                env.pop("AMQP10_PURE", None)
                if path == "pure":
                    env["AMQP10_PURE"] = "1"
                server = _Proc(me + ["--role", "serve"], env)
                servers.append(server)
                port = _port(server.line(30))
                url = f"amqp://127.0.0.1:{port}"
                for adapter in args.adapters.split(","):
                    clients.append((f"{build} {path}, {adapter}", me + ["--role", "receive", "--adapter", adapter, "--url", url, "--address", "{address}"],
                                    me + ["--role", "send", "--url", url, "--size", str(args.size), "--address", "{address}"], env))
        server = _Proc(["node", str(REPO / "interop" / "rhea" / "listener.js"), "--port", "0"])
        servers.append(server)
        port = _port(server.line(30))
        rhea = ["node", str(REPO / "bench" / "rhea_large.js"), f"amqp://127.0.0.1:{port}", "{address}"]
        clients.append(("rhea", rhea + ["receive"], rhea + ["send", str(args.size)], None))
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in clients}
        for round_ in range(args.repeat):
            for name, receiver_argv, sender_argv, env in clients:
                print(f"{name} (run {round_ + 1} of {args.repeat}) ...", file=sys.stderr, flush=True)
                runs[name].append(one_run(receiver_argv, sender_argv, env, f"{ADDRESS}-{len(runs[name])}-{abs(hash(name))}"))
    finally:
        for server in servers:
            server.stop()
    print(f"one {args.size:,}-byte message, sender -> listener -> receiver, best of {args.repeat}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"{'receiver':<28}{'end to end ms':>14}{'receiver peak RSS / size':>26}")
    best = {name: (min(r["seconds"] for r in rs), min(r["peak_x"] for r in rs)) for name, rs in runs.items()}
    for name, (seconds, peak) in best.items():
        print(f"{name:<28}{seconds * 1e3:>14.1f}{peak:>25.2f}x")
    rhea_seconds = best["rhea"][0]
    for name, (seconds, _) in best.items():
        if name != "rhea":
            base = best.get(name.replace("amqp10 ", "base ", 1)) if name.startswith("amqp10 ") else None
            versus_base = f", vs base x{seconds / base[0]:.2f}" if base else ""
            print(f"  {name} vs rhea: time x{seconds / rhea_seconds:.2f}{versus_base}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
