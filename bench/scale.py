#!/usr/bin/env python3
"""How many connections one server process holds: ``amqp10 serve --trio`` against
python-qpid-proton's Container (``interop/proton/listener.py``), on loopback.

    python bench/scale.py [--sizes 100,1000,3000,10000] [--clients 4] [--idle 60] [--rpcs 2000]
                          [--servers amqp10,proton] [--idle-timeout 30]

For each size N and each server, in fresh processes:

1. the server starts alone (its baseline RSS and CPU are read from ``/proc/<pid>``);
2. ``--clients`` node processes open N connections between them: each node is one
   connection, one session, one receiver on its own address ``node-<i>`` and one anonymous
   sender (no target address: messages are routed by their ``to``) for replies. Clients
   advertise ``--idle-timeout`` and the server is started with it, so both sides heartbeat;
3. everything stays idle for ``--idle`` seconds;
4. a requester process makes ``--rpcs`` request/reply calls, one at a time, each to a random
   node, which answers through its anonymous sender (two routed messages per call).

Printed per N: the server's RSS per connection (growth over its baseline / N), idle CPU per
connection per second, CPU to connect all (per connection), RPC latency p50/p99, CPU per
routed message (the RPC phase's server CPU, less its idle share, / 2 per call), how many
connections were dropped, and, for amqp10, its garbage collection pauses (timed in the
server by a ``gc.callbacks`` hook): the longest of any generation and the number of full
collections after connecting (idle and RPC phases), and the longest while connecting.
``--servers amqp10-nofreeze`` serves with ``--no-gc-freeze`` to compare. CPU is the server process's utime+stime from ``/proc/<pid>/stat``,
so it is the server's own work even on a busy machine; latency is not (clients and server
share the cores).

The clients drive sans-IO engines (``amqp10.engine``) from one selector loop per process, so
they stay cheap whatever the server. Every process this script starts is stopped by its PID
(SIGTERM, then SIGKILL), and every wait is bounded. RLIMIT_NOFILE is raised to its hard limit
here and in each client; children inherit it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import selectors
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
CONNECT_BATCH = 200
# Runs `amqp10 serve` with a gc callback that logs each collection's pause (every generation)
# to stderr, so the report can say how long the server stopped for garbage collection.
GC_LOGGING_SERVER = """
import gc, runpy, sys, time
started = [0.0, 0.0]
def watch(phase, info):
    if phase == "start":
        started[0], started[1] = time.perf_counter(), time.thread_time()
    else:
        wall, cpu = (time.perf_counter() - started[0]) * 1e3, (time.thread_time() - started[1]) * 1e3
        print(f"gc{info['generation']} {wall:.2f} {cpu:.2f}", file=sys.stderr, flush=True)
gc.callbacks.append(watch)
freeze = gc.freeze
def logged_freeze():
    freeze()
    print(f"frozen {gc.get_freeze_count()}", file=sys.stderr, flush=True)
gc.freeze = logged_freeze
sys.argv = ["amqp10"] + sys.argv[1:]
runpy.run_module("amqp10", run_name="__main__", alter_sys=True)
"""  # connections a client process has in progress (not yet attached) at once


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


# -- /proc ------------------------------------------------------------------------------------------

def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


# -- client side: nodes and the requester, on sans-IO engines ----------------------------------------

class Client:
    """One AMQP connection driven by a ``Loop``: a session, a receiver, an anonymous sender."""

    def __init__(self, loop: "Loop", url_port: int, name: str, address: str, idle_timeout: float) -> None:
        from amqp10._options import receiver_attach, sender_attach
        from amqp10.engine import Config, Connection, ConnectionRole
        from amqp10.engine.sasl import SaslClient

        self.loop = loop
        self.name = name
        self.engine = Connection(Config(role=ConnectionRole.CLIENT, container_id=name, idle_timeout=idle_timeout,
                                        sasl=lambda: SaslClient()))
        self.engine.on_output = lambda: loop.dirty.add(self)
        self.engine.open()
        session = self.engine.begin_session()
        self.receiver = session.attach_receiver(f"{name}-in", **receiver_attach(address))
        self.receiver.flow(20)
        self.sender = session.attach_sender(f"{name}-out", **sender_attach(None, settle_mode="at-most-once"))
        self.attached = 0
        self.closed: str | None = None
        self.out = bytearray()
        # Non-blocking connect: a busy server's full accept queue must not stall this whole
        # process (its other connections would look silent and time out).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connecting = True
        self.sock.connect_ex(("127.0.0.1", url_port))
        self.mask = selectors.EVENT_READ | selectors.EVENT_WRITE
        loop.selector.register(self.sock, self.mask, self)

    def on_readable(self) -> None:
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.lost(f"socket error: {exc}")
            return
        if not data:
            self.lost("the server closed the socket")
            return
        self.handle(self.engine.receive_data(data))
        self.loop.dirty.add(self)

    def handle(self, events: list[Any]) -> None:
        from amqp10.engine.events import ConnectionClosed, DeliveryReceived, LinkAttached

        for event in events:
            if isinstance(event, LinkAttached):
                self.attached += 1
            elif isinstance(event, DeliveryReceived):
                self.loop.on_message(self, event.delivery)
            elif isinstance(event, ConnectionClosed):
                self.lost(f"closed: {event.error}")

    def flush(self) -> None:
        if self.closed is None:
            self.out += self.engine.data_to_send()
        if self.connecting:
            return
        if self.out:
            try:
                sent = self.sock.send(self.out)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self.out.clear()
                self.lost(f"socket error: {exc}")
                return
            del self.out[:sent]
        mask = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if mask != self.mask and self.closed is None:
            self.mask = mask
            self.loop.selector.modify(self.sock, mask, self)

    def lost(self, reason: str) -> None:
        if self.closed is None:
            self.closed = reason
            try:
                self.loop.selector.unregister(self.sock)
            except (KeyError, ValueError):
                pass
            self.sock.close()


class Loop:
    """A selector loop over many ``Client``s: flushes the dirty ones, ticks all every second."""

    def __init__(self, on_message: Callable[[Client, Any], None]) -> None:
        self.selector = selectors.DefaultSelector()
        self.clients: list[Client] = []
        self.dirty: set[Client] = set()
        self.on_message = on_message
        self._next_tick = 0.0

    def turn(self, timeout: float) -> list[Any]:
        """One loop turn; returns the selector keys that are not clients (e.g. stdin). Reads
        come before ticks, so bytes that arrived while this process was busy count as read."""
        others = []
        for key, mask in self.selector.select(0 if self.dirty else timeout):
            client = key.data
            if not isinstance(client, Client):
                others.append(key)
                continue
            if mask & selectors.EVENT_WRITE:
                if client.connecting:
                    client.connecting = False
                    error = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if error:
                        client.lost(f"connect failed: {os.strerror(error)}")
                        continue
                self.dirty.add(client)
            if mask & selectors.EVENT_READ and client.closed is None:
                client.on_readable()
        now = time.monotonic()
        if now >= self._next_tick:
            self._next_tick = now + 1.0
            for client in self.clients:
                if client.closed is None:
                    client.engine.tick(now)
                    client.handle(client.engine.take_events())
                    self.dirty.add(client)
        while self.dirty:
            dirty, self.dirty = self.dirty, set()
            for client in dirty:
                client.flush()
        return others


def node_main(args: argparse.Namespace) -> None:
    """Child: nodes ``first .. first+count-1``; answers each request to its ``reply_to``.
    Prints ``ready`` once every link is attached; then ``report`` on stdin prints a JSON line
    and ``quit`` exits."""
    from amqp10 import Message, Properties

    raise_fd_limit()

    def answer(client: Client, delivery: Any) -> None:
        request = Message.decode(bytes(delivery.payload))
        delivery.accept()
        client.receiver.flow(20)
        props = request.properties
        if props is not None and props.reply_to:
            reply = Message(body=request.body, properties=Properties(to=props.reply_to, correlation_id=props.message_id))
            client.sender.send(reply.encode())

    loop = Loop(answer)
    stdin = sys.stdin.buffer.raw  # type: ignore[attr-defined]
    os.set_blocking(stdin.fileno(), False)
    loop.selector.register(stdin, selectors.EVENT_READ, "stdin")
    pending = list(range(args.first, args.first + args.count))
    pending.reverse()
    ready_said = False
    commands = b""
    deadline = time.monotonic() + args.connect_timeout
    while True:
        in_progress = sum(1 for c in loop.clients if c.attached < 2 and c.closed is None)
        while pending and in_progress < CONNECT_BATCH:
            i = pending.pop()
            loop.clients.append(Client(loop, args.port, f"node-{i}", f"node-{i}", args.idle_timeout))
            in_progress += 1
        if not ready_said and not pending and in_progress == 0:
            print("ready", flush=True)
            ready_said = True
        if not ready_said and time.monotonic() > deadline:
            print("ready (timed out)", flush=True)
            ready_said = True
        for _ in loop.turn(0.05 if not ready_said else 0.5):
            try:
                chunk = stdin.read(4096)
            except BlockingIOError:
                chunk = None
            if chunk == b"":
                return  # the parent went away
            commands += chunk or b""
        while b"\n" in commands:
            line, commands = commands.split(b"\n", 1)
            if line == b"report":
                closed = [c.closed for c in loop.clients if c.closed is not None]
                reasons: dict[str, int] = {}
                for reason in closed:
                    reasons[reason[:80]] = reasons.get(reason[:80], 0) + 1
                attached = sum(1 for c in loop.clients if c.attached >= 2)
                print(json.dumps({"connections": len(loop.clients), "attached": attached, "closed": len(closed),
                                  "reasons": reasons}), flush=True)
            elif line == b"quit":
                return


def rpc_main(args: argparse.Namespace) -> None:
    """Child: ``--rpcs`` calls to random nodes, one at a time; prints latencies (JSON)."""
    from amqp10 import Message, Properties

    raise_fd_limit()
    replies: dict[int, float] = {}

    def on_reply(client: Client, delivery: Any) -> None:
        reply = Message.decode(bytes(delivery.payload))
        delivery.accept()
        client.receiver.flow(20)
        assert reply.properties is not None
        replies[int(str(reply.properties.correlation_id))] = time.monotonic()

    loop = Loop(on_reply)
    me = f"rpc-{os.getpid()}"
    client = Client(loop, args.port, me, me, args.idle_timeout)
    loop.clients.append(client)
    end = time.monotonic() + 30
    while client.attached < 2 or client.sender.credit.link_credit == 0:
        if time.monotonic() > end or client.closed:
            print(json.dumps({"error": f"requester not attached: {client.closed}"}), flush=True)
            return
        loop.turn(0.05)
    rng = random.Random(args.seed)
    latencies: list[float] = []
    failures = 0
    total = args.rpcs + args.warmup
    for n in range(total):
        target = rng.randrange(args.nodes)
        request = Message(body=n, properties=Properties(message_id=str(n), to=f"node-{target}", reply_to=me))
        started = time.monotonic()
        client.sender.send(request.encode())
        limit = started + 2
        while n not in replies and time.monotonic() < limit and client.closed is None:
            loop.turn(limit - time.monotonic())
        if n not in replies:  # its node is gone (reported as dropped) or the server is stuck
            failures += 1
            if failures >= 20 or client.closed is not None:
                break  # bounded: a broken run must not take hours
            continue
        if n >= args.warmup:
            latencies.append(replies[n] - started)
    print(json.dumps({"latencies": latencies, "failures": failures}), flush=True)


# -- the parent -------------------------------------------------------------------------------------

class Processes:
    """Every process started here, stopped by PID at the end."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], **kw: Any) -> "subprocess.Popen[bytes]":
        kw.setdefault("cwd", REPO)
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, **kw)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        end = time.monotonic() + 10
        for proc in self.procs:
            try:
                proc.wait(max(0.1, end - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()


def read_line(proc: "subprocess.Popen[bytes]", timeout: float) -> str:
    """One line from ``proc``'s stdout within ``timeout`` seconds."""
    assert proc.stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise TimeoutError(f"no answer from pid {proc.pid} within {timeout:g} s")
    finally:
        sel.close()
    line = proc.stdout.readline().decode()
    if not line:
        raise RuntimeError(f"pid {proc.pid} ended (exit {proc.wait(5)})")
    return line.strip()


def start_server(kind: str, procs: Processes, idle_timeout: float, amqp10_path: str | None, gc_log: Any) -> tuple["subprocess.Popen[bytes]", int]:
    cwd: Any = REPO
    if kind.startswith("amqp10"):
        argv = [sys.executable, "-c", GC_LOGGING_SERVER, "serve", "--trio", "--port", "0", "--idle-timeout", str(idle_timeout)]
        if kind == "amqp10-nofreeze":
            argv.append("--no-gc-freeze")
        cwd = amqp10_path or REPO  # `python -c` finds the amqp10 package in its working directory first
    else:
        argv = [sys.executable, str(REPO / "interop/proton/listener.py"), "--port", "0",
                "--idle-timeout", str(idle_timeout / 2)]  # it drops a peer silent for twice this
    proc = procs.start(argv, cwd=cwd, stderr=gc_log)
    line = read_line(proc, 30)
    match = re.search(r":(\d+)\b|listening on (\d+)", line)
    if match is None:
        raise RuntimeError(f"unexpected first line from the {kind} server: {line!r}")
    return proc, int(match.group(1) or match.group(2))


def measure(kind: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    procs = Processes()
    gc_log = tempfile.TemporaryFile()
    try:
        server, port = start_server(kind, procs, args.idle_timeout, args.amqp10_path, gc_log)
        time.sleep(0.5)
        base_rss, base_cpu = rss_bytes(server.pid), cpu_seconds(server.pid)
        k = max(1, min(args.clients, n))
        nodes = []
        started = time.monotonic()
        for j in range(k):
            first, count = j * n // k, (j + 1) * n // k - j * n // k
            nodes.append(procs.start([sys.executable, __file__, "--role", "nodes", "--port", str(port),
                                      "--first", str(first), "--count", str(count),
                                      "--idle-timeout", str(args.idle_timeout),
                                      "--connect-timeout", str(args.connect_timeout)]))
        for proc in nodes:
            read_line(proc, args.connect_timeout + 30)
        connect_wall = time.monotonic() - started
        time.sleep(1.0)  # let the last handshakes settle
        connect_cpu = cpu_seconds(server.pid) - base_cpu
        connected_at = os.fstat(gc_log.fileno()).st_size  # GC pauses logged while connecting end here
        rss = rss_bytes(server.pid)
        idle_cpu0, idle_t0 = cpu_seconds(server.pid), time.monotonic()
        time.sleep(args.idle)
        idle_cpu = cpu_seconds(server.pid) - idle_cpu0
        idle_secs = time.monotonic() - idle_t0
        rpc_cpu0, rpc_t0 = cpu_seconds(server.pid), time.monotonic()
        requester = procs.start([sys.executable, __file__, "--role", "rpc", "--port", str(port), "--nodes", str(n),
                                 "--rpcs", str(args.rpcs), "--warmup", str(args.warmup),
                                 "--idle-timeout", str(args.idle_timeout), "--seed", str(args.seed)])
        result = json.loads(read_line(requester, 60 + args.rpcs * 2))
        rpc_cpu = cpu_seconds(server.pid) - rpc_cpu0
        rpc_secs = time.monotonic() - rpc_t0
        reports = []
        for proc in nodes:
            assert proc.stdin is not None
            proc.stdin.write(b"report\n")
            proc.stdin.flush()
            reports.append(json.loads(read_line(proc, 30)))
        dropped = sum(r["closed"] for r in reports)
        attached = sum(r["attached"] for r in reports)
        reasons: dict[str, int] = {}
        for r in reports:
            for reason, count in r["reasons"].items():
                reasons[reason] = reasons.get(reason, 0) + count
        gc_log.seek(0)
        logged = gc_log.read()
        # each line: generation, wall ms, the server thread's CPU ms (a busy machine stretches
        # the wall time of a pause, not its CPU time)
        pauses = [(int(g), float(ms), float(cpu)) for g, ms, cpu in re.findall(rb"^gc([012]) ([0-9.]+) ([0-9.]+)$", logged[connected_at:], re.M)]
        connecting = [float(ms) for ms in re.findall(rb"^gc[012] ([0-9.]+) ", logged[:connected_at], re.M)]
        frozen_at = logged.find(b"\nfrozen ")
        after_freeze = [(float(ms), float(cpu)) for ms, cpu in re.findall(rb"^gc[012] ([0-9.]+) ([0-9.]+)$", logged[frozen_at:], re.M)] if frozen_at >= 0 else []
        idle_rate = idle_cpu / idle_secs  # server CPU seconds per second while idle
        amqp10 = kind.startswith("amqp10")
        latencies = sorted(result.get("latencies", []))
        routed = 2 * len(latencies)
        return {
            "server": kind, "n": n, "attached": attached, "dropped": dropped, "reasons": reasons,
            "connect_wall_s": connect_wall,
            "connect_cpu_us_per_conn": connect_cpu / n * 1e6,
            "rss_kib_per_conn": (rss - base_rss) / n / 1024,
            "rss_mib": rss / (1 << 20),
            "idle_cpu_us_per_conn_s": idle_rate / n * 1e6,
            "rpc_p50_ms": statistics.median(latencies) * 1e3 if latencies else None,
            "rpc_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1e3 if latencies else None,
            "rpc_failures": result.get("failures", result.get("error")),
            "cpu_us_per_routed_msg": (rpc_cpu - idle_rate * rpc_secs) / routed * 1e6 if routed else None,
            # after connecting (idle and RPC phases): full collections and the longest pause
            # of any generation; and the longest pause while connecting
            "full_gc_count": sum(1 for g, _, _ in pauses if g == 2) if amqp10 else None,
            "full_gc_max_ms": max((ms for g, ms, _ in pauses if g == 2), default=0.0) if amqp10 else None,
            "gc_max_ms": max((ms for _, ms, _ in pauses), default=0.0) if amqp10 else None,
            "gc_max_cpu_ms": max((cpu for _, _, cpu in pauses), default=0.0) if amqp10 else None,
            "gc_max_ms_connecting": max(connecting, default=0.0) if amqp10 else None,
            "frozen_objects": [int(x) for x in re.findall(rb"^frozen ([0-9]+)$", logged, re.M)],
            "gc_max_ms_after_freeze": max((ms for ms, _ in after_freeze), default=0.0) if frozen_at >= 0 else None,
            "gc_max_cpu_ms_after_freeze": max((cpu for _, cpu in after_freeze), default=0.0) if frozen_at >= 0 else None,
            "full_gc_after_freeze": len(re.findall(rb"^gc2 ", logged[frozen_at:], re.M)) if frozen_at >= 0 else None,
        }
    finally:
        procs.stop_all()
        gc_log.close()


def fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--role", choices=("bench", "nodes", "rpc"), default="bench", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="100,1000,3000,10000", help="connection counts (comma-separated)")
    parser.add_argument("--servers", default="amqp10,proton",
                        help="amqp10, amqp10-nofreeze (served with --no-gc-freeze) and/or proton (comma-separated)")
    parser.add_argument("--clients", type=int, default=4, help="client processes holding the connections")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to stay idle before the RPC phase")
    parser.add_argument("--rpcs", type=int, default=2000, help="request/reply calls to random nodes")
    parser.add_argument("--warmup", type=int, default=50, help="calls made before timing")
    parser.add_argument("--idle-timeout", type=float, default=30.0, help="idle-time-out of both sides, seconds")
    parser.add_argument("--connect-timeout", type=float, default=600.0, help="bound on connecting all, seconds")
    parser.add_argument("--amqp10-path", metavar="DIR",
                        help="serve amqp10 from DIR/amqp10 (an assembled older tree) to compare builds")
    parser.add_argument("--json", action="store_true", help="also print each result as a JSON line")
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--nodes", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.role == "nodes":
        node_main(args)
        return
    if args.role == "rpc":
        rpc_main(args)
        return
    hard = raise_fd_limit()
    sizes = [int(s) for s in args.sizes.split(",")]
    if max(sizes) + 100 > hard:
        sys.exit(f"RLIMIT_NOFILE hard limit {hard} is too low for {max(sizes)} connections")
    print(f"# {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; idle {args.idle:g} s, "
          f"{args.rpcs} RPCs, {args.clients} client processes, idle-time-out {args.idle_timeout:g} s")
    header = (f"{'server':<15} {'N':>6} {'dropped':>7} {'RSS KiB/conn':>12} {'idle µs/conn/s':>14} "
              f"{'connect µs/conn':>15} {'RPC p50 ms':>10} {'p99 ms':>7} {'µs/msg':>7} "
              f"{'GC max ms':>9} {'(CPU ms)':>8} {'full GCs':>8} {'GC max ms connecting':>20}")
    print(header)
    for n in sizes:
        for kind in args.servers.split(","):
            try:
                r = measure(kind, n, args)
            except Exception as exc:  # report and go on with the next size
                print(f"{kind:<15} {n:>6} failed: {type(exc).__name__}: {exc}", flush=True)
                continue
            print(f"{kind:<15} {n:>6} {r['dropped']:>7} {r['rss_kib_per_conn']:>12.1f} "
                  f"{r['idle_cpu_us_per_conn_s']:>14.2f} {r['connect_cpu_us_per_conn']:>15.0f} "
                  f"{fmt(r['rpc_p50_ms'], '.2f'):>10} {fmt(r['rpc_p99_ms'], '.2f'):>7} "
                  f"{fmt(r['cpu_us_per_routed_msg'], '.0f'):>7} {fmt(r['gc_max_ms'], '.1f'):>9} {fmt(r['gc_max_cpu_ms'], '.1f'):>8} "
                  f"{fmt(r['full_gc_count'], 'd'):>8} {fmt(r['gc_max_ms_connecting'], '.1f'):>20}", flush=True)
            if r["frozen_objects"]:
                print(f"        froze {r['frozen_objects'][0]:,} objects, {len(r['frozen_objects'])} freezes; after the first "
                      f"{r['full_gc_after_freeze']} full GCs, longest pause {r['gc_max_ms_after_freeze']:.1f} ms "
                      f"({r['gc_max_cpu_ms_after_freeze']:.1f} ms CPU)", flush=True)
            if r["reasons"] or r["rpc_failures"]:
                print(f"        drop reasons {r['reasons']}; RPC failures {r['rpc_failures']}", flush=True)
            if args.json:
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
