"""``amqp10 trace``: a logging proxy that prints every frame both ways, and a capture decoder.

Owns: the proxy's sockets (accept on ``--listen``, connect to ``--to`` for each client, two
threads per connection pumping bytes) and the command's arguments. Bytes pass through exactly
as they arrive, before they are decoded, so the proxy never changes or delays the protocol; the
decoding (``frames.FrameLog``) only watches. ``amqp10 trace FILE`` decodes a capture of one
direction's raw bytes (``--save PREFIX`` writes such captures while proxying).
Must never: keep engine state, answer the peers, or stop the traffic because it could not
decode something.
"""

from __future__ import annotations

import argparse
import itertools
import signal
import socket
import sys
import threading
from typing import BinaryIO, TextIO

from .frames import FrameLog

__all__ = ["configure", "run", "decode_capture", "Proxy"]

HELP = "print every AMQP frame between two peers (a logging proxy), or decode a capture file"

_CHUNK = 1 << 16


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``trace`` arguments."""
    parser.description = (
        "Run a proxy that accepts AMQP connections on --listen, opens a connection to --to for "
        "each, passes the bytes through untouched and prints every protocol header and frame "
        "of both directions, decoded. Or, given FILE, decode a capture of one direction's raw "
        "bytes (as written by --save)."
    )
    parser.add_argument("file", nargs="?", help="a capture of raw bytes to decode instead of proxying")
    parser.add_argument("--listen", metavar="HOST:PORT", help="where the proxy accepts clients (port 0: any free port)")
    parser.add_argument("--to", metavar="HOST:PORT", help="the peer the proxy connects each client to")
    parser.add_argument(
        "--save",
        metavar="PREFIX",
        help="also write each connection's raw bytes to PREFIX-<n>-client.bin / -server.bin",
    )


def run(args: argparse.Namespace) -> int:
    """Run the proxy until interrupted, or decode ``args.file``. Returns the exit status."""
    if args.file is not None:
        if args.listen or args.to:
            print("amqp10 trace: give either FILE or --listen/--to, not both", file=sys.stderr)
            return 2
        try:
            capture = open(args.file, "rb")
        except OSError as exc:
            print(f"amqp10 trace: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        with capture:
            decode_capture(capture, sys.stdout, label=args.file)
        return 0
    if not args.listen or not args.to:
        print("amqp10 trace: --listen HOST:PORT and --to HOST:PORT are required", file=sys.stderr)
        return 2
    try:
        listen = _host_port(args.listen)
        target = _host_port(args.to)
    except ValueError as exc:
        print(f"amqp10 trace: {exc}", file=sys.stderr)
        return 2
    proxy = Proxy(listen, target, sys.stdout, save_prefix=args.save)
    host, port = proxy.address
    print(f"amqp10 trace: listening on {host}:{port}, forwarding to {target[0]}:{target[1]}", flush=True)
    previous = signal.signal(signal.SIGTERM, _interrupt)  # stop on SIGTERM as on Ctrl-C
    try:
        proxy.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        proxy.close()
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def decode_capture(capture: BinaryIO, out: TextIO, *, label: str = "capture") -> None:
    """Print the headers and frames in a capture of one direction's raw bytes."""
    log = FrameLog(label)
    while True:
        chunk = capture.read(_CHUNK)
        if not chunk:
            break
        for line in log.feed(chunk):
            print(line, file=out)
    out.flush()


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]") or "127.0.0.1", int(port)


class Proxy:
    """A logging TCP proxy: one listening socket; per client, a connection to the target and
    two pumping threads. Lines go to ``out`` under a lock, so the two directions never
    interleave inside a line.

    Args:
        listen: where to accept (port 0 picks a free one; see ``address``).
        target: where to forward each connection.
        out: where to print.
        save_prefix: if set, each direction's raw bytes are also written to a file.
    """

    def __init__(
        self,
        listen: tuple[str, int],
        target: tuple[str, int],
        out: TextIO,
        *,
        save_prefix: str | None = None,
    ) -> None:
        self._server = socket.create_server(listen)
        self._target = target
        self._out = out
        self._lock = threading.Lock()
        self._save_prefix = save_prefix
        self._numbers = itertools.count(1)
        self._closed = threading.Event()

    @property
    def address(self) -> tuple[str, int]:
        """The host and port the proxy accepts on."""
        host, port = self._server.getsockname()[:2]
        return str(host), int(port)

    def serve_forever(self) -> None:
        """Accept and proxy connections until ``close()`` (or an interrupt)."""
        while not self._closed.is_set():
            try:
                client, peer = self._server.accept()
            except OSError:
                if self._closed.is_set():
                    return
                raise
            number = next(self._numbers)
            thread = threading.Thread(
                target=self._connect, args=(number, client, peer), daemon=True, name=f"trace-{number}"
            )
            thread.start()

    def close(self) -> None:
        """Stop accepting; connections already proxied end with their peers."""
        self._closed.set()
        self._server.close()

    def _print(self, line: str) -> None:
        with self._lock:
            print(line, file=self._out, flush=True)

    def _connect(self, number: int, client: socket.socket, peer: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(self._target, timeout=10)
            upstream.settimeout(None)
        except OSError as exc:
            self._print(f"[{number}] cannot connect to {self._target[0]}:{self._target[1]}: {exc}")
            client.close()
            return
        self._print(f"[{number}] {peer[0]}:{peer[1]} connected; forwarding to {self._target[0]}:{self._target[1]}")
        for sock in (client, upstream):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threads = [
            threading.Thread(target=self._pump, args=(number, "client -> server", client, upstream), daemon=True),
            threading.Thread(target=self._pump, args=(number, "server -> client", upstream, client), daemon=True),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        client.close()
        upstream.close()
        self._print(f"[{number}] connection closed")

    def _pump(self, number: int, direction: str, source: socket.socket, sink: socket.socket) -> None:
        log = FrameLog(f"[{number}] {direction}")
        capture: BinaryIO | None = None
        if self._save_prefix is not None:
            side = "client" if direction.startswith("client") else "server"
            capture = open(f"{self._save_prefix}-{number}-{side}.bin", "wb")
        try:
            while True:
                try:
                    data = source.recv(_CHUNK)
                except OSError:
                    data = b""
                if not data:
                    break
                try:
                    # Forward first: decoding must never delay or alter the traffic.
                    sink.sendall(data)
                except OSError:
                    break
                if capture is not None:
                    capture.write(data)
                for line in log.feed(data):
                    self._print(line)
        finally:
            if capture is not None:
                capture.close()
            try:
                sink.shutdown(socket.SHUT_WR)
            except OSError:
                pass
