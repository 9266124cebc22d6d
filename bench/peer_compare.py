#!/usr/bin/env python3
"""amqp10 (Cython and pure, each adapter) against python-qpid-proton and rhea, peer to peer on
loopback: messages/s at-least-once and at-most-once, and request/reply latency.

    python bench/peer_compare.py [--count 20000] [--calls 1000] [--window 100] [--repeat 1]
        [--adapters trio,asyncio,blocking] [--paths cython,pure] [--no-proton]

The same work for every client, each against its own kind of listener, in separate processes:

- **throughput**: one connection; a receiver (prefetch 1000, accepting each message) and a sender
  on one queue; ``--count`` small messages, at most ``--window`` unsettled at a time
  (at-least-once) or pre-settled (at-most-once). Timed from the first send until every message
  has arrived (and, at-least-once, every outcome is back); the client process's CPU time per
  message (sender and receiver together) is reported too.
- **request/reply**: a dynamic reply queue; ``--calls`` requests to an ``echo`` service, one
  at a time, each timed until its correlated reply arrives (50 warm-up calls first).

amqp10 runs in child processes with and without ``AMQP10_PURE=1``, against its embedded broker
(``amqp10.peer``, throughput) and the test handler's echo service (``tests/support/broker.py``,
request/reply), both served by ``amqp10.listen`` in one child on the same codec path.
python-qpid-proton and rhea run against ``interop/proton/listener.py`` and
``interop/rhea/listener.js``. Every listener gives a sending link the same credit
(``LISTENER_CREDIT``; amqp10's broker gave 200 before, against the others' 1000, which capped
its at-most-once senders). No targets yet: this prints the numbers and their ratios. On a
shared machine use ``--repeat 3``: each client's best run is kept.

``--pin same`` runs every listener and client on CPU 0: a request/reply then costs the sum of
both sides' CPU (theirs and the kernel's), without cross-CPU wake-ups, which makes it the
steadier measure of work per call on a VM; ``--pin split`` puts listeners on CPU 1 and clients
on CPU 0. The default leaves placement to the scheduler.

amqp10's sender uses ``Sender.send_many`` (one thread or task keeps up to ``--window``
messages in flight), as Proton and rhea keep their window from one event loop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WARMUP = 50
#: the credit every listener gives a client's sending link (``--credit`` of Proton's and rhea's
#: listeners, ``credit_window`` of amqp10's embedded broker): the same for all, so that no
#: client's throughput is capped by its listener's flow control and not the others'
LISTENER_CREDIT = 1000


# -- amqp10 -----------------------------------------------------------------------------------------

def serve_amqp10() -> None:
    """Child: the embedded broker and an echo service, each on a free port; prints both."""
    sys.path.insert(0, str(REPO / "tests"))
    import amqp10
    from amqp10.peer.server import start
    from support.broker import QueueBroker

    with start("127.0.0.1", 0, credit_window=LISTENER_CREDIT) as broker, amqp10.listen("127.0.0.1", 0, QueueBroker()) as echo:
        print(f"listening on {broker.port} {echo.port}", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


def _latencies(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {"median_ms": statistics.median(ordered) * 1000, "mean_ms": statistics.fmean(ordered) * 1000,
            "p99_ms": ordered[int(len(ordered) * 0.99) - 1] * 1000}


def amqp10_blocking(url: str, echo_url: str, count: int, calls: int, window: int) -> dict[str, Any]:
    """Child: the workloads with ``amqp10.connect``; one thread sends with ``send_many``
    (at most ``window`` unsettled at-least-once) while the main thread receives."""
    from concurrent.futures import ThreadPoolExecutor

    import amqp10
    from amqp10 import Message

    def throughput(settle_mode: str) -> tuple[float, float]:
        address = f"bench-{settle_mode}-{os.getpid()}"
        with amqp10.connect(url) as conn:
            receiver = conn.open_receiver(address, credit=1000, auto_accept=True, settle_mode=settle_mode)
            sender = conn.open_sender(address, settle_mode=settle_mode)
            messages = (Message(body=f"message-{i}") for i in range(count))
            started, cpu = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(1) as pool:
                sending = pool.submit(sender.send_many, messages, timeout=60,
                                      window=window if settle_mode == "at-least-once" else None)
                for _ in range(count):
                    receiver.receive(timeout=60)
                sending.result()
            return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6

    def request_reply() -> dict[str, float]:
        with amqp10.connect(echo_url) as conn, conn.open_requester("echo") as requester:
            samples = []
            for i in range(WARMUP + calls):
                started = time.perf_counter()
                requester.request(Message(body=f"request-{i}"), timeout=30)
                if i >= WARMUP:
                    samples.append(time.perf_counter() - started)
            return _latencies(samples)

    alo, alo_cpu = throughput("at-least-once")
    amo, amo_cpu = throughput("at-most-once")
    return {"at-least-once": alo, "at-most-once": amo, "alo-cpu-us": alo_cpu, "amo-cpu-us": amo_cpu,
            "request-reply": request_reply()}


def amqp10_trio(url: str, echo_url: str, count: int, calls: int, window: int) -> dict[str, Any]:
    """Child: the workloads with ``amqp10.trio``; one task sends with ``send_many`` (at most
    ``window`` unsettled at-least-once) while another receives."""
    import trio

    import amqp10.trio
    from amqp10 import Message

    async def throughput(settle_mode: str) -> tuple[float, float]:
        address = f"bench-{settle_mode}-{os.getpid()}"
        async with amqp10.trio.connect(url) as conn:
            receiver = await conn.open_receiver(address, credit=1000, auto_accept=True, settle_mode=settle_mode)
            sender = await conn.open_sender(address, settle_mode=settle_mode)
            messages = (Message(body=f"message-{i}") for i in range(count))

            async def send_all() -> None:
                await sender.send_many(messages, timeout=60, window=window if settle_mode == "at-least-once" else None)

            started, cpu = time.perf_counter(), time.process_time()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send_all)
                for _ in range(count):
                    await receiver.receive(timeout=60)
            return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6

    async def request_reply() -> dict[str, float]:
        async with amqp10.trio.connect(echo_url) as conn, conn.open_requester("echo") as requester:
            samples = []
            for i in range(WARMUP + calls):
                started = time.perf_counter()
                await requester.request(Message(body=f"request-{i}"), timeout=30)
                if i >= WARMUP:
                    samples.append(time.perf_counter() - started)
            return _latencies(samples)

    async def main() -> dict[str, Any]:
        alo, alo_cpu = await throughput("at-least-once")
        amo, amo_cpu = await throughput("at-most-once")
        return {"at-least-once": alo, "at-most-once": amo, "alo-cpu-us": alo_cpu, "amo-cpu-us": amo_cpu,
                "request-reply": await request_reply()}

    return trio.run(main)  # type: ignore[no-any-return]


def amqp10_asyncio(url: str, echo_url: str, count: int, calls: int, window: int) -> dict[str, Any]:
    """Child: the workloads with ``amqp10.asyncio``, as ``amqp10_trio`` does them."""
    import asyncio

    import amqp10.asyncio
    from amqp10 import Message

    async def throughput(settle_mode: str) -> tuple[float, float]:
        address = f"bench-{settle_mode}-{os.getpid()}"
        async with amqp10.asyncio.connect(url) as conn:
            receiver = await conn.open_receiver(address, credit=1000, auto_accept=True, settle_mode=settle_mode)
            sender = await conn.open_sender(address, settle_mode=settle_mode)
            messages = (Message(body=f"message-{i}") for i in range(count))
            started, cpu = time.perf_counter(), time.process_time()
            sending = asyncio.ensure_future(
                sender.send_many(messages, timeout=60, window=window if settle_mode == "at-least-once" else None))
            for _ in range(count):
                await receiver.receive(timeout=60)
            await sending
            return count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6

    async def request_reply() -> dict[str, float]:
        async with amqp10.asyncio.connect(echo_url) as conn, conn.open_requester("echo") as requester:
            samples = []
            for i in range(WARMUP + calls):
                started = time.perf_counter()
                await requester.request(Message(body=f"request-{i}"), timeout=30)
                if i >= WARMUP:
                    samples.append(time.perf_counter() - started)
            return _latencies(samples)

    async def main() -> dict[str, Any]:
        alo, alo_cpu = await throughput("at-least-once")
        amo, amo_cpu = await throughput("at-most-once")
        return {"at-least-once": alo, "at-most-once": amo, "alo-cpu-us": alo_cpu, "amo-cpu-us": amo_cpu,
                "request-reply": await request_reply()}

    return asyncio.run(main())


# -- python-qpid-proton -----------------------------------------------------------------------------

def proton_client(url: str, count: int, calls: int, window: int) -> dict[str, Any]:
    """Child: the workloads with python-qpid-proton's reactor (MessagingHandler)."""
    from proton import Message
    from proton.handlers import MessagingHandler
    from proton.reactor import AtMostOnce, Container, DynamicNodeProperties

    class Throughput(MessagingHandler):
        def __init__(self, presettled: bool) -> None:
            super().__init__(prefetch=1000, auto_accept=True, auto_settle=True)
            self.presettled = presettled
            self.sent = self.confirmed = self.received = 0
            self.started = self.elapsed = 0.0

        def on_start(self, event: Any) -> None:
            self.conn = event.container.connect(url, allowed_mechs="ANONYMOUS")
            address = f"bench-{'amo' if self.presettled else 'alo'}-{os.getpid()}"
            options = AtMostOnce() if self.presettled else None
            event.container.create_receiver(self.conn, address, name="bench-receiver", options=options)
            self.sender = event.container.create_sender(self.conn, address, name="bench-sender", options=options)

        def on_sendable(self, event: Any) -> None:
            self.pump()

        def pump(self) -> None:
            if not self.started:
                self.started = time.perf_counter()
            while self.sender.credit > 0 and self.sent < count and (self.presettled or self.sent - self.confirmed < window):
                delivery = self.sender.send(Message(body=f"message-{self.sent}"))
                if self.presettled:
                    delivery.settle()
                self.sent += 1

        def on_accepted(self, event: Any) -> None:
            self.confirmed += 1
            self.check_done()
            self.pump()

        def on_message(self, event: Any) -> None:
            self.received += 1
            self.check_done()

        def check_done(self) -> None:
            if self.received == count and (self.presettled or self.confirmed == count) and not self.elapsed:
                self.elapsed = time.perf_counter() - self.started
                self.conn.close()

    class RequestReply(MessagingHandler):
        def __init__(self) -> None:
            super().__init__(prefetch=10, auto_accept=True, auto_settle=True)
            self.samples: list[float] = []
            self.done = 0

        def on_start(self, event: Any) -> None:
            self.conn = event.container.connect(url, allowed_mechs="ANONYMOUS")
            self.sender = event.container.create_sender(self.conn, "echo", name="bench-requests")
            self.receiver = event.container.create_receiver(self.conn, None, dynamic=True, name="bench-replies",
                                                            options=DynamicNodeProperties({}))
            self.reply_to: str | None = None

        def on_link_opened(self, event: Any) -> None:
            if event.receiver == self.receiver:
                self.reply_to = self.receiver.remote_source.address
                self.request()

        def request(self) -> None:
            self.started = time.perf_counter()
            self.sender.send(Message(body=f"request-{self.done}", id=f"r{self.done}", reply_to=self.reply_to))

        def on_message(self, event: Any) -> None:
            if self.done >= WARMUP:
                self.samples.append(time.perf_counter() - self.started)
            self.done += 1
            if self.done < WARMUP + calls:
                self.request()
            else:
                self.conn.close()

    results: dict[str, Any] = {}
    for name, presettled in (("at-least-once", False), ("at-most-once", True)):
        handler = Throughput(presettled)
        cpu = time.process_time()
        Container(handler).run()
        results[name] = count / handler.elapsed
        results[{"at-least-once": "alo-cpu-us", "at-most-once": "amo-cpu-us"}[name]] = (time.process_time() - cpu) / count * 1e6
    rr = RequestReply()
    Container(rr).run()
    results["request-reply"] = _latencies(rr.samples)
    return results


# -- the run ----------------------------------------------------------------------------------------

_READY = re.compile(r"listening on ([\d ]+)")


#: ``--pin``: the CPU a listener and a client run on (``None``: wherever the scheduler likes)
_PINS: dict[str, tuple[int | None, int | None]] = {"none": (None, None), "same": (0, 0), "split": (1, 0)}
_pin = _PINS["none"]


def _on_cpu(cpu: int | None) -> Any:
    """A ``preexec_fn`` that keeps the child on ``cpu`` (``None``: no function)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


class Server:
    """A listener child, stopped by PID."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                        env=env, cwd=REPO, preexec_fn=_on_cpu(_pin[0]))
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = _READY.search(line)
        if match is None:
            self.stop()
            raise SystemExit(f"{' '.join(command)} did not start: {line!r}")
        self.ports = [int(p) for p in match[1].split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def _child(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
                          preexec_fn=_on_cpu(_pin[1]))
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best of repeated runs (a shared machine only ever makes a run slower)."""
    rr = min((r["request-reply"] for r in runs), key=lambda x: x["median_ms"])
    return {"at-least-once": max(r["at-least-once"] for r in runs), "at-most-once": max(r["at-most-once"] for r in runs),
            "alo-cpu-us": min(r["alo-cpu-us"] for r in runs), "amo-cpu-us": min(r["amo-cpu-us"] for r in runs),
            "request-reply": rr}


def run_all(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    """Start every listener, then run every client ``--repeat`` times, round-robin (so a
    burst of load elsewhere on the machine hits all of them alike), and keep each one's best."""
    me = [sys.executable, str(Path(__file__).resolve())]
    work = ["--count", str(args.count), "--calls", str(args.calls), "--window", str(args.window)]
    builds = [("amqp10", None)] + ([("amqp10-base", str(Path(args.baseline).resolve()))] if args.baseline else [])
    clients: list[tuple[str, list[str], dict[str, str] | None]] = []  # name, argv, env
    servers: list[Server] = []
    try:
        for path in args.paths:
            for build, source in builds:
                env = dict(os.environ)
                env.pop("AMQP10_PURE", None)
                if path == "pure":
                    env["AMQP10_PURE"] = "1"
                if source is not None:
                    env["PYTHONPATH"] = source + os.pathsep + env.get("PYTHONPATH", "")
                impl = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--impl"],
                                      capture_output=True, text=True, env=env, cwd=REPO).stdout.strip()
                if path == "cython" and impl != "cython":
                    print(f"{build} (cython): the speedups are not built there; skipped", file=sys.stderr)
                    continue
                server = Server(me + ["--serve-amqp10"], env)
                servers.append(server)
                broker, echo = server.ports
                for adapter in args.adapters:
                    clients.append((f"{build} {path}, {adapter}", me + [
                        "--client", f"amqp10-{adapter}", "--url", f"amqp://127.0.0.1:{broker}",
                        "--echo-url", f"amqp://127.0.0.1:{echo}", *work], env))
        if not args.no_proton:
            server = Server([sys.executable, str(REPO / "interop" / "proton" / "listener.py"), "--port", "0", "--credit", str(LISTENER_CREDIT)])
            servers.append(server)
            clients.append(("python-qpid-proton", me + ["--client", "proton", "--url", f"amqp://127.0.0.1:{server.ports[0]}", *work], None))
        server = Server(["node", str(REPO / "interop" / "rhea" / "listener.js"), "--port", "0", "--credit", str(LISTENER_CREDIT)])
        servers.append(server)
        clients.append(("rhea", ["node", str(REPO / "bench" / "rhea_bench.js"), f"amqp://127.0.0.1:{server.ports[0]}",
                                 str(args.count), str(args.calls), str(args.window)], None))
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in clients}
        for round_ in range(args.repeat):
            for name, argv, env in clients:
                print(f"{name} (run {round_ + 1} of {args.repeat}) ...", file=sys.stderr, flush=True)
                runs[name].append(_child(argv, env))
        return [(name, _best(runs[name])) for name, _, _ in clients]
    finally:
        for server in servers:
            server.stop()


def report(results: list[tuple[str, dict[str, Any]]], args: argparse.Namespace) -> str:
    lines = [
        f"{args.count:,} messages per throughput run (at most {args.window} unsettled), best of {args.repeat}, "
        f"{args.calls:,} request/reply calls; loopback, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, "
        f"pinned: {args.pin}",
        "",
        f"{'client':<32}{'at-least-once msg/s':>22}{'at-most-once msg/s':>21}{'req/reply median ms':>22}{'mean ms':>9}{'p99 ms':>9}"
        f"{'alo CPU us/msg':>16}{'amo CPU us/msg':>16}",
    ]
    for name, r in results:
        rr = r["request-reply"]
        lines.append(f"{name:<32}{r['at-least-once']:>22,.0f}{r['at-most-once']:>21,.0f}{rr['median_ms']:>22.3f}{rr['mean_ms']:>9.3f}{rr['p99_ms']:>9.3f}"
                     f"{r['alo-cpu-us']:>16.1f}{r['amo-cpu-us']:>16.1f}")
    by_name = dict(results)
    lines += ["", "ratios (amqp10 / other; throughput: higher is better for amqp10, latency: lower is)"]
    ours = [n for n, _ in results if n.startswith("amqp10 ")]
    others = [n for n, _ in results if not n.startswith("amqp10")]
    for mine in ours:
        for other in others:
            a, b = by_name[mine], by_name[other]
            lines.append(
                f"  {mine:<26} vs {other:<20} alo x{a['at-least-once'] / b['at-least-once']:.2f}  "
                f"amo x{a['at-most-once'] / b['at-most-once']:.2f}  "
                f"rr median x{a['request-reply']['median_ms'] / b['request-reply']['median_ms']:.2f}  "
                f"mean x{a['request-reply']['mean_ms'] / b['request-reply']['mean_ms']:.2f}  "
                f"p99 x{a['request-reply']['p99_ms'] / b['request-reply']['p99_ms']:.2f}  "
                f"alo CPU x{a['alo-cpu-us'] / b['alo-cpu-us']:.2f}"
            )
    for name, r in results:
        if name.startswith("amqp10-base "):
            mine = "amqp10 " + name[len("amqp10-base "):]
            a = by_name.get(mine)
            if a is not None:
                lines.append(
                    f"  {mine:<26} vs {name:<20} alo x{a['at-least-once'] / r['at-least-once']:.2f}  "
                    f"amo x{a['at-most-once'] / r['at-most-once']:.2f}  "
                    f"rr median x{a['request-reply']['median_ms'] / r['request-reply']['median_ms']:.2f}  "
                    f"alo CPU x{a['alo-cpu-us'] / r['alo-cpu-us']:.2f}"
                )
    for adapter in args.adapters:
        cy, pure = by_name.get(f"amqp10 cython, {adapter}"), by_name.get(f"amqp10 pure, {adapter}")
        if cy and pure:
            lines.append(
                f"  cython vs pure ({adapter}): alo x{cy['at-least-once'] / pure['at-least-once']:.2f}  "
                f"amo x{cy['at-most-once'] / pure['at-most-once']:.2f}  "
                f"rr median x{cy['request-reply']['median_ms'] / pure['request-reply']['median_ms']:.2f}"
            )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=20_000, help="messages per throughput run")
    parser.add_argument("--calls", type=int, default=1_000, help="request/reply calls (after 50 warm-up calls)")
    parser.add_argument("--window", type=int, default=100, help="most unsettled messages at-least-once")
    parser.add_argument("--repeat", type=int, default=1, help="run each client this many times and keep its best")
    parser.add_argument("--json", metavar="FILE", help="also write the raw results here")
    parser.add_argument("--adapters", type=lambda v: v.split(","), default=["trio", "asyncio", "blocking"],
                        help="amqp10 adapters to run, comma-separated (default: trio,asyncio,blocking)")
    parser.add_argument("--paths", type=lambda v: v.split(","), default=["cython", "pure"],
                        help="amqp10 codec paths to run, comma-separated (default: cython,pure)")
    parser.add_argument("--no-proton", action="store_true", help="leave python-qpid-proton out")
    parser.add_argument("--pin", choices=sorted(_PINS), default="none",
                        help="CPU placement: same (everything on CPU 0), split (listeners on 1, clients on 0)")
    parser.add_argument("--baseline", metavar="DIR",
                        help="also run amqp10 from DIR/amqp10 (an assembled older tree: amqp10/ with codec/ and "
                             "_speedups/ inside), as 'amqp10-base', for before/after ratios in one run")
    parser.add_argument("--impl", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-amqp10", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", choices=("amqp10-trio", "amqp10-asyncio", "amqp10-blocking", "proton"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--echo-url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.impl:
        import amqp10.codec

        print(amqp10.codec.IMPL)
        return 0
    if args.serve_amqp10:
        serve_amqp10()
        return 0
    if args.client == "amqp10-trio":
        print(json.dumps(amqp10_trio(args.url, args.echo_url, args.count, args.calls, args.window)))
        return 0
    if args.client == "amqp10-asyncio":
        print(json.dumps(amqp10_asyncio(args.url, args.echo_url, args.count, args.calls, args.window)))
        return 0
    if args.client == "amqp10-blocking":
        print(json.dumps(amqp10_blocking(args.url, args.echo_url, args.count, args.calls, args.window)))
        return 0
    if args.client == "proton":
        print(json.dumps(proton_client(args.url, args.count, args.calls, args.window)))
        return 0
    global _pin
    _pin = _PINS[args.pin]
    results = run_all(args)
    print(report(results, args))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(results), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
