"""Peak memory of streaming a large message: sender and receiver stay bounded, not O(size).

Usage::

    python bench/streaming_memory.py [--sizes-mib 128 1024] [--incoming-window 64] [--write-buffer-limit B]

For each size, an embedded peer (``amqp10 serve``, its own process) is started, then two more
processes: a sender that ``send_stream``s the body from a generator (1 MiB pieces, never the
whole body), and a receiver that ``receive_stream``s it and hashes the chunks as they arrive.
Each reports its peak resident set (``ru_maxrss``) and its RSS just after connecting (the
interpreter and amqp10 themselves), so the difference is what streaming cost. The receiver
checks the SHA-256 against the sender's.

What bounds them: the sender holds at most ``amqp10._streaming.STREAM_BUFFER`` (1 MiB)
unframed plus the connection's ``write_buffer_limit`` (16 MiB by default); the receiver at most
its session's incoming window of frames it has not read (``--incoming-window`` x 64 KiB).
The embedded peer stores each message whole (it is a store-and-forward queue), so its own
memory is O(size): that is reported too, and is the broker's, not the clients'.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

PIECE = 1 << 20


def _rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _peak_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _body(size: int):  # type: ignore[no-untyped-def]
    piece = bytes(range(256)) * (PIECE // 256)
    sent = 0
    while sent < size:
        n = min(PIECE, size - sent)
        yield piece[:n] if n < PIECE else piece
        sent += n


def run_sender(url: str, size: int, window: int, write_buffer: int) -> None:
    import amqp10

    digest = hashlib.sha256()

    def pieces():  # type: ignore[no-untyped-def]
        for piece in _body(size):
            digest.update(piece)
            yield piece

    with amqp10.connect(url, timeout=120, incoming_window=window, write_buffer_limit=write_buffer) as conn:
        sender = conn.open_sender("stream-bench")
        baseline = _rss_kib()
        started = time.monotonic()
        outcome = sender.send_stream(pieces(), length=size, timeout=120)
        elapsed = time.monotonic() - started
    print(json.dumps({"role": "sender", "baseline_kib": baseline, "peak_kib": _peak_kib(),
                      "outcome": repr(outcome), "sha256": digest.hexdigest(), "seconds": elapsed}))


def run_receiver(url: str, size: int, window: int) -> None:
    import amqp10

    digest = hashlib.sha256()
    got = 0
    with amqp10.connect(url, timeout=120, incoming_window=window) as conn:
        receiver = conn.open_receiver("stream-bench", streaming=True, credit=1)
        baseline = _rss_kib()
        started = time.monotonic()
        stream = receiver.receive_stream(timeout=300)
        for chunk in stream:
            digest.update(chunk)
            got += len(chunk)
        stream.accept()
        elapsed = time.monotonic() - started
    print(json.dumps({"role": "receiver", "baseline_kib": baseline, "peak_kib": _peak_kib(), "bytes": got,
                      "sha256": digest.hexdigest(), "seconds": elapsed}))


def _peer_peak(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def measure(size: int, window: int, write_buffer: int) -> None:
    port_probe = subprocess.run(
        [sys.executable, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"],
        capture_output=True, text=True, check=True,
    )
    port = int(port_probe.stdout)
    cap = str(size + (16 << 20))
    peer = subprocess.Popen(
        [sys.executable, "-m", "amqp10", "serve", "--port", str(port), "--queue-bytes", cap, "--max-message-size", cap],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        url = f"amqp://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        import socket

        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("the embedded peer did not start")
                time.sleep(0.1)
        me = [sys.executable, __file__, "--url", url, "--size", str(size), "--incoming-window", str(window),
              "--write-buffer-limit", str(write_buffer)]
        receiver = subprocess.Popen(me + ["--role", "receiver"], stdout=subprocess.PIPE, text=True)
        sender = subprocess.Popen(me + ["--role", "sender"], stdout=subprocess.PIPE, text=True)
        s_out, _ = sender.communicate(timeout=900)
        r_out, _ = receiver.communicate(timeout=900)
        peer_peak = _peer_peak(peer.pid)
    finally:
        peer.terminate()
        peer.wait(20)
    s, r = json.loads(s_out), json.loads(r_out)
    mib = size / (1 << 20)
    print(f"\n{mib:.0f} MiB streamed (receiver's incoming window {window} frames x 64 KiB = {window * 64 / 1024:.0f} MiB, "
          f"sender's write_buffer_limit {write_buffer / (1 << 20):.0f} MiB)")
    for report in (s, r):
        extra = report["peak_kib"] - report["baseline_kib"]
        print(f"  {report['role']:8s}: peak RSS {report['peak_kib'] / 1024:7.1f} MiB "
              f"(after connect {report['baseline_kib'] / 1024:.1f} MiB, streaming added {extra / 1024:.1f} MiB), "
              f"{report['seconds']:.1f} s, {mib / report['seconds']:.0f} MiB/s")
    print(f"  peer    : peak RSS {peer_peak / 1024:7.1f} MiB (stores the message whole)")
    print(f"  sender outcome {s['outcome']}; receiver got {r['bytes']} bytes; SHA-256 match: {s['sha256'] == r['sha256']}")
    if r["bytes"] != size or s["sha256"] != r["sha256"]:
        raise SystemExit("the message did not arrive intact")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes-mib", type=int, nargs="+", default=[128, 1024])
    parser.add_argument("--incoming-window", type=int, default=64)
    parser.add_argument("--write-buffer-limit", type=int, default=16 << 20,
                        help="the sender's write_buffer_limit in bytes (default 16 MiB, the connect default)")
    parser.add_argument("--role", choices=["sender", "receiver"])
    parser.add_argument("--url")
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.role == "sender":
        run_sender(args.url + "/", args.size, args.incoming_window, args.write_buffer_limit)
    elif args.role == "receiver":
        run_receiver(args.url + "/", args.size, args.incoming_window)
    else:
        for mib in args.sizes_mib:
            measure(mib << 20, args.incoming_window, args.write_buffer_limit)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
