"""A TCP relay on 127.0.0.1 that a test can hold and cut: the network failing mid-stream.

``CutProxy(upstream_port)`` listens on a free port and relays each accepted connection to the
upstream. ``hold("down")`` stops relaying the server's bytes to the client (they are dropped, as
on a dead path), ``hold("up")`` the client's, ``release()`` relays both again; ``cut()`` resets every relayed
connection at once (SO_LINGER 0: both ends see the TCP reset). One thread, one selector, bounded waits.
"""

from __future__ import annotations

import selectors
import socket
import struct
import threading

__all__ = ["CutProxy"]


class CutProxy:
    """A relay to ``127.0.0.1:upstream_port``; use as a context manager."""

    def __init__(self, upstream_port: int) -> None:
        self._upstream = ("127.0.0.1", upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.setblocking(False)
        self.port = self._listener.getsockname()[1]
        self.url = f"amqp://127.0.0.1:{self.port}"
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._listener, selectors.EVENT_READ, None)
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._held: set[str] = set()
        self._budget: dict[str, int] = {}  # direction -> bytes still to relay before holding
        self._relayed = {"up": 0, "down": 0}
        self._lock = threading.Lock()
        self._stop = False
        self._cut_requested = threading.Event()
        self._cut_done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def __enter__(self) -> "CutProxy":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def hold(self, direction: str) -> None:
        """Stop relaying ``"down"`` (server to client) or ``"up"`` bytes; they are dropped."""
        with self._lock:
            self._held.add(direction)

    def release(self) -> None:
        """Relay both directions again (connections made after a ``cut``)."""
        with self._lock:
            self._held.clear()
            self._budget.clear()

    def hold_after(self, direction: str, count: int) -> None:
        """Relay ``count`` more bytes in ``direction``, then hold it."""
        with self._lock:
            self._budget[direction] = count

    def relayed(self, direction: str) -> int:
        """Bytes relayed in ``direction`` so far."""
        with self._lock:
            return self._relayed[direction]

    def cut(self, timeout: float = 5.0) -> None:
        """Reset every relayed connection (both sides get a TCP RST)."""
        self._cut_done.clear()
        self._cut_requested.set()
        assert self._cut_done.wait(timeout), "the proxy did not cut in time"

    def close(self) -> None:
        """Stop the relay thread and close everything."""
        self._stop = True
        self._thread.join(5.0)
        self._reset_all()
        self._selector.close()
        self._listener.close()

    def _reset_all(self) -> None:
        for pair in self._pairs:
            for sock in pair:
                try:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
                try:
                    self._selector.unregister(sock)
                except (KeyError, ValueError):
                    pass
                sock.close()
        self._pairs.clear()

    def _run(self) -> None:
        while not self._stop:
            if self._cut_requested.is_set():
                self._cut_requested.clear()
                self._reset_all()
                self._cut_done.set()
            for key, _ in self._selector.select(timeout=0.05):
                if key.data is None:
                    self._accept()
                    continue
                source, dest, direction = key.data
                try:
                    data = source.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    self._close_pair(source)
                    continue
                with self._lock:
                    held = direction in self._held
                    budget = self._budget.get(direction)
                    if not held and budget is not None:
                        data = data[:budget]
                        self._budget[direction] = budget - len(data)
                        if budget - len(data) <= 0:
                            self._held.add(direction)
                    if not held:
                        self._relayed[direction] += len(data)
                if not held and data:
                    try:
                        dest.sendall(data)
                    except OSError:
                        self._close_pair(source)

    def _accept(self) -> None:
        try:
            client, _ = self._listener.accept()
        except BlockingIOError:
            return
        server = socket.create_connection(self._upstream, timeout=5.0)
        client.setblocking(True)
        server.setblocking(True)
        self._pairs.append((client, server))
        self._selector.register(client, selectors.EVENT_READ, (client, server, "up"))
        self._selector.register(server, selectors.EVENT_READ, (server, client, "down"))

    def _close_pair(self, sock: socket.socket) -> None:
        for pair in list(self._pairs):
            if sock in pair:
                self._pairs.remove(pair)
                for s in pair:
                    try:
                        self._selector.unregister(s)
                    except (KeyError, ValueError):
                        pass
                    s.close()
