"""Soak test: an ``amqp10 serve`` process under mixed load, abrupt disconnects and slow consumers.

Not part of the test run (it takes minutes). Run from the repository with the package installed::

    python bench/soak.py --minutes 15            # the documented run (docs/soak.md)
    python bench/soak.py --minutes 1 --trio      # the same against the trio server adapter

What it does, for ``--minutes`` (default 15):

- starts ``amqp10 serve --port 0`` as a child process (loopback only) and reads its URL;
- puts a small TCP relay in front of it; every client connects through the relay, and a chaos
  thread kills a random relayed connection every few seconds (``SO_LINGER 0``: a reset, in the
  middle of whatever was in flight, both towards the client and the server);
- producers send at-least-once messages of mixed sizes (a few bytes to ~1 MiB), each with a
  unique ``message-id``, and record the ids whose ``send`` returned ``Accepted``; a ``send`` that
  fails (its connection was killed) leaves its id *in doubt* and the producer reconnects;
- consumers (some fast, some slow: a pause before each accept and a small credit) accept what
  they receive and record each id with the connection it came on;
- every ``--sample`` seconds it reads the server's ``VmRSS`` from ``/proc/<pid>/status``.

At the end it stops producers and chaos, drains every queue directly (not through the relay),
stops the server (by its PID) and checks:

- lost: an id the server accepted that no consumer ever received: must be 0;
- duplicated: an id received on two or more connections that were *not* killed afterwards:
  must be 0 (a copy received on a killed connection may legitimately come again, before or
  after it: its accept may never have reached the server);
- unknown: an id received that no producer sent: must be 0;
- RSS flat: the highest RSS in the second half of the run is at most 1.25 times the highest
  of the first half plus 16 MiB (queues hold up to their byte limit, so RSS moves with them).

Exit status 0 when every check passes, 1 otherwise. Prints a summary (and ``--json`` writes
it to a file).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import select
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import amqp10
from amqp10 import Accepted, Message, Properties

QUEUES = [f"soak/{i}" for i in range(4)]

#: (weight, low, high) in bytes: mostly small, some medium, a few near 1 MiB.
SIZES = [(70, 1, 4096), (20, 4096, 128 * 1024), (10, 128 * 1024, 1 << 20)]


def pick_size(rng: random.Random) -> int:
    total = sum(w for w, _, _ in SIZES)
    r = rng.uniform(0, total)
    for weight, low, high in SIZES:
        if r < weight:
            return rng.randint(low, high)
        r -= weight
    return SIZES[-1][2]


# -- the relay: where sockets get killed ---------------------------------------------------------


class Relay:
    """A TCP relay on 127.0.0.1 that can kill any of its connections with a reset."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.pairs: dict[int, tuple[socket.socket, socket.socket]] = {}
        self.lock = threading.Lock()
        self.closed = threading.Event()
        self.killed = 0
        self._next = 0
        threading.Thread(target=self._accept, daemon=True, name="relay-accept").start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                key = self._next
                self._next += 1
                self.pairs[key] = (client, upstream)
            threading.Thread(target=self._pump, args=(key, client, upstream), daemon=True).start()

    def _pump(self, key: int, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.closed.is_set():
                ready, _, _ = select.select([a, b], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(256 * 1024)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except OSError:
            pass
        finally:
            with self.lock:
                self.pairs.pop(key, None)
            for sock in (a, b):
                try:
                    sock.close()
                except OSError:
                    pass

    def kill_one(self, rng: random.Random) -> bool:
        """Reset a random live connection on both sides (mid-stream, whatever is in flight)."""
        with self.lock:
            if not self.pairs:
                return False
            key = rng.choice(list(self.pairs))
            pair = self.pairs.pop(key)
        for sock in pair:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.killed += 1
        return True

    def close(self) -> None:
        self.closed.set()
        self.listener.close()
        with self.lock:
            pairs = list(self.pairs.values())
            self.pairs.clear()
        for pair in pairs:
            for sock in pair:
                try:
                    sock.close()
                except OSError:
                    pass


# -- bookkeeping ---------------------------------------------------------------------------------


@dataclass
class Ledger:
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: set[str] = field(default_factory=set)  # every id a producer tried
    accepted: set[str] = field(default_factory=set)  # the server's outcome was Accepted
    in_doubt: set[str] = field(default_factory=set)  # send failed: may or may not be queued
    accepted_bytes: int = 0
    sizes: dict[str, int] = field(default_factory=dict)  # body size of each accepted id not yet received
    received: list[tuple[str, int]] = field(default_factory=list)  # (id, connection serial)
    dead_connections: set[int] = field(default_factory=set)  # serials whose connection broke
    reconnects: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    detail: defaultdict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    seen: set[str] = field(default_factory=set)

    def note_received(self, mid: str, serial: int) -> None:
        """Record one receipt (call with ``lock`` held)."""
        self.received.append((mid, serial))
        self.detail[mid].append((serial, time.monotonic()))
        self.seen.add(mid)
        self.sizes.pop(mid, None)

    def backlog_bytes(self) -> int:
        """Body bytes accepted by the server and not received yet (call with ``lock`` held)."""
        return sum(self.sizes.values())


def error_name(exc: BaseException) -> str:
    return type(exc).__name__


class Serial:
    def __init__(self) -> None:
        self._n = 0
        self._lock = threading.Lock()

    def next(self) -> int:
        with self._lock:
            self._n += 1
            return self._n


def producer(index: int, url: str, stop: threading.Event, ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        try:
            with amqp10.connect(url, timeout=10) as conn:
                sender = conn.open_sender(rng.choice(QUEUES))
                while not stop.is_set():
                    mid = f"p{index}-{uuid.uuid4().hex}"
                    body = rng.randbytes(pick_size(rng))
                    with ledger.lock:
                        ledger.sent.add(mid)
                    try:
                        outcome = sender.send(Message(body=body, properties=Properties(message_id=mid)), timeout=10)
                    except BaseException:
                        with ledger.lock:
                            ledger.in_doubt.add(mid)
                        raise
                    with ledger.lock:
                        if isinstance(outcome, Accepted):
                            ledger.accepted.add(mid)
                            ledger.accepted_bytes += len(body)
                            if mid not in ledger.seen:
                                ledger.sizes[mid] = len(body)
                        else:
                            ledger.errors[f"outcome {type(outcome).__name__}"] += 1
                    if rng.random() < 0.002:
                        break  # now and then a clean reconnect, too
        except amqp10.AMQPError as exc:
            with ledger.lock:
                ledger.reconnects[f"producer {error_name(exc)}"] += 1
        except OSError as exc:
            with ledger.lock:
                ledger.reconnects[f"producer {error_name(exc)}"] += 1
        if not stop.is_set():
            time.sleep(rng.uniform(0.05, 0.3))


def consumer(index: int, url: str, slow: bool, stop: threading.Event, ledger: Ledger, serials: Serial, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        serial = serials.next()
        try:
            with amqp10.connect(url, timeout=10) as conn:
                receiver = conn.open_receiver(rng.choice(QUEUES), credit=2 if slow else 50)
                while not stop.is_set():
                    try:
                        delivery = receiver.receive(timeout=1.0)
                    except amqp10.Timeout:
                        continue
                    mid = delivery.message.properties.message_id  # type: ignore[union-attr]
                    with ledger.lock:
                        ledger.note_received(str(mid), serial)
                    if slow:
                        time.sleep(rng.uniform(0.02, 0.3))
                    delivery.accept()
        except (amqp10.AMQPError, OSError) as exc:
            with ledger.lock:
                ledger.dead_connections.add(serial)
                ledger.reconnects[f"consumer {error_name(exc)}"] += 1
        except BaseException as exc:
            with ledger.lock:
                ledger.dead_connections.add(serial)
                ledger.errors[f"consumer crashed: {exc!r}"] += 1
            raise
        if not stop.is_set():
            time.sleep(rng.uniform(0.05, 0.3))


def drain(url: str, ledger: Ledger, serials: Serial, quiet_seconds: float = 5.0) -> int:
    """Receive what is left on every queue, directly from the server; returns the count."""
    count = 0
    with amqp10.connect(url, timeout=30) as conn:
        for queue in QUEUES:
            serial = serials.next()
            receiver = conn.open_receiver(queue, credit=100)
            while True:
                try:
                    delivery = receiver.receive(timeout=quiet_seconds)
                except amqp10.Timeout:
                    break
                mid = delivery.message.properties.message_id  # type: ignore[union-attr]
                with ledger.lock:
                    ledger.note_received(str(mid), serial)
                delivery.accept()
                count += 1
            receiver.close()
    return count


# -- the server process ---------------------------------------------------------------------------


def start_server(trio: bool) -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "amqp10", "serve", "--host", "127.0.0.1", "--port", "0"]
    if trio:
        command.append("--trio")
    # Run outside the checkout so the installed package is the one imported.
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=tempfile.gettempdir())
    assert proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        match = re.search(r"listening on (amqp://\S+)", line)
        if match:
            # Keep reading its output so the pipe never fills.
            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return proc, match.group(1)
    stop_server(proc)
    raise SystemExit("amqp10 serve did not report where it listens within 30 s")


def stop_server(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, 9)
            proc.wait(10)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


# -- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=15.0, help="how long to run the load (default 15)")
    parser.add_argument("--producers", type=int, default=4)
    parser.add_argument("--consumers", type=int, default=4, help="fast consumers")
    parser.add_argument("--slow-consumers", type=int, default=2)
    parser.add_argument("--kill-every", type=float, default=3.0, metavar="S", help="mean seconds between socket kills")
    parser.add_argument("--sample", type=float, default=10.0, metavar="S", help="seconds between RSS samples")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--trio", action="store_true", help="serve with the trio adapter")
    parser.add_argument("--json", metavar="FILE", help="also write the summary as JSON")
    args = parser.parse_args(argv)

    proc, url = start_server(args.trio)
    server_port = int(url.rsplit(":", 1)[1])
    relay = Relay(("127.0.0.1", server_port))
    relay_url = f"amqp://127.0.0.1:{relay.port}"
    print(f"soak: server pid {proc.pid} at {url}, relay at {relay_url}, {args.minutes} min", flush=True)

    ledger = Ledger()
    serials = Serial()
    stop = threading.Event()
    rng = random.Random(args.seed)
    threads = [
        threading.Thread(target=producer, args=(i, relay_url, stop, ledger, args.seed * 1000 + i), daemon=True)
        for i in range(args.producers)
    ]
    threads += [
        threading.Thread(
            target=consumer,
            args=(i, relay_url, i >= args.consumers, stop, ledger, serials, args.seed * 2000 + i),
            daemon=True,
        )
        for i in range(args.consumers + args.slow_consumers)
    ]
    samples: list[tuple[float, int]] = []
    backlog: list[int] = []  # body bytes held by the server's queues, at each sample
    started = time.monotonic()
    deadline = started + args.minutes * 60
    try:
        for thread in threads:
            thread.start()
        next_kill = started + rng.expovariate(1 / args.kill_every)
        next_sample = started
        while time.monotonic() < deadline:
            now = time.monotonic()
            if proc.poll() is not None:
                raise SystemExit(f"the server exited early with status {proc.returncode}")
            if now >= next_sample:
                samples.append((now - started, rss_kib(proc.pid)))
                with ledger.lock:
                    backlog.append(ledger.backlog_bytes())
                    print(
                        f"soak: t={now - started:6.0f}s rss={samples[-1][1] / 1024:6.1f} MiB "
                        f"queued={backlog[-1] / (1 << 20):6.1f} MiB "
                        f"accepted={len(ledger.accepted)} received={len(ledger.received)} "
                        f"killed={relay.killed}",
                        flush=True,
                    )
                next_sample = now + args.sample
            if now >= next_kill:
                relay.kill_one(rng)
                next_kill = now + rng.expovariate(1 / args.kill_every)
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(30)
        stuck = [t.name for t in threads if t.is_alive()]
        relay.close()
        drained = drain(url, ledger, serials)
        samples.append((time.monotonic() - started, rss_kib(proc.pid)))
    finally:
        stop.set()
        relay.close()
        stop_server(proc)

    # -- checks ----------------------------------------------------------------------------------
    copies: dict[str, list[int]] = defaultdict(list)
    for mid, serial in ledger.received:
        copies[mid].append(serial)
    received_ids = set(copies)
    lost = ledger.accepted - received_ids
    unknown = received_ids - ledger.sent
    # A copy received on a connection that was killed afterwards may come again (its accept may
    # never have reached the server), and the server may redeliver it while the dying
    # connection's buffer still hands its copy out: order says nothing. Only two copies taken
    # on connections that both lived on are a duplicate at-least-once forbids.
    bad_duplicates = [
        mid for mid, serials_seen in copies.items() if sum(s not in ledger.dead_connections for s in serials_seen) > 1
    ]
    redelivered = sum(len(s) - 1 for s in copies.values())
    in_doubt_arrived = len(ledger.in_doubt & received_ids)
    half = (args.minutes * 60) / 2
    first = [kib for t, kib in samples if t <= half]
    second = [kib for t, kib in samples if t > half]
    rss_first_max = max(first) if first else 0
    rss_second_max = max(second) if second else 0
    rss_ok = rss_second_max <= 1.25 * rss_first_max + 16 * 1024
    summary: dict[str, Any] = {
        "minutes": args.minutes,
        "adapter": "trio" if args.trio else "blocking",
        "codec": amqp10.codec.IMPL,
        "sent": len(ledger.sent),
        "accepted": len(ledger.accepted),
        "accepted_mib": round(ledger.accepted_bytes / (1 << 20), 1),
        "in_doubt": len(ledger.in_doubt),
        "in_doubt_arrived": in_doubt_arrived,
        "receipts": len(ledger.received),
        "distinct_received": len(received_ids),
        "drained_at_end": drained,
        "redelivered_after_kill": redelivered - len(bad_duplicates),
        "lost": len(lost),
        "bad_duplicates": len(bad_duplicates),
        "unknown": len(unknown),
        "sockets_killed": relay.killed,
        "reconnects": dict(ledger.reconnects),
        "other": dict(ledger.errors),
        "stuck_threads": stuck,
        "rss_mib_first": round(samples[0][1] / 1024, 1),
        "rss_mib_first_half_max": round(rss_first_max / 1024, 1),
        "rss_mib_second_half_max": round(rss_second_max / 1024, 1),
        "rss_mib_end": round(samples[-1][1] / 1024, 1),
        "rss_samples_mib": [round(kib / 1024, 1) for _, kib in samples],
        "queued_samples_mib": [round(b / (1 << 20), 1) for b in backlog],
    }
    ok = not lost and not bad_duplicates and not unknown and rss_ok and not stuck
    summary["ok"] = ok
    print(json.dumps(summary, indent=2), flush=True)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(summary, out, indent=2)
    if lost:
        print(f"soak: LOST {len(lost)} accepted messages, e.g. {sorted(lost)[:5]}", file=sys.stderr)
    if bad_duplicates:
        print(f"soak: DUPLICATED {len(bad_duplicates)}, e.g. {bad_duplicates[:5]}", file=sys.stderr)
        for mid in bad_duplicates[:5]:
            print(mid, ledger.detail[mid], copies[mid], [s in ledger.dead_connections for s in copies[mid]], file=sys.stderr)
    if not rss_ok:
        print("soak: RSS grew in the second half", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
