"""A one-connection AMQP server on a thread that can stop reading its socket, for the adapter
tests of slow and unresponsive peers (an unanswered drain, a write buffer that fills up).

It accepts every session and link, grants client senders plenty of credit and settles what
they send, and sends what ``offer`` gives it to the client's receivers. ``stop_reading()``
leaves the client's bytes in the socket (so nothing it sends is answered and, once the
kernel's buffers are full, nothing more goes out); ``resume_reading()`` catches up.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque

from amqp10 import Message
from amqp10.engine import Config, Connection, ConnectionRole
from amqp10.engine.events import DeliveryReceived, Event, LinkRemotelyAttached, SessionRemotelyBegun
from amqp10.engine.link import Receiver, Sender
from amqp10.engine.sasl import SaslServer

__all__ = ["StallingPeer"]

#: The peer's socket receive buffer: small, so a peer that stops reading pushes back soon.
RECEIVE_BUFFER = 64 * 1024


class StallingPeer:
    """Serve one client connection on ``url`` until ``close()``; a context manager."""

    def __init__(self) -> None:
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # Before listen(), so the accepted socket inherits it (and TCP window scaling fits it).
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(1)
        self.url = f"amqp://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        self._reading = threading.Event()
        self._reading.set()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._outlets: dict[str, list[Sender]] = {}
        self._offers: dict[str, deque[bytes]] = {}
        self.received = 0  # messages the client sent us
        self._thread = threading.Thread(target=self._run, name="stalling peer", daemon=True)
        self._thread.start()

    def __enter__(self) -> "StallingPeer":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stop_reading(self) -> None:
        """Leave whatever the client sends in the socket from now on (returns once the peer
        has stopped: a read already under way has finished)."""
        self._paused.clear()
        self._reading.clear()
        if not self._paused.wait(5):
            raise RuntimeError("the stalling peer did not pause")

    def resume_reading(self) -> None:
        """Read (and answer) again."""
        self._reading.set()

    def offer(self, address: str, body: object) -> None:
        """Send a message to the client's receivers on ``address`` (once one has credit)."""
        with self._lock:
            self._offers.setdefault(address, deque()).append(Message(body=body).encode())
            self._pump(address)

    def close(self) -> None:
        """Stop serving and close the sockets."""
        self._stop.set()
        self._reading.set()
        self._thread.join(5)
        self._server.close()

    def _run(self) -> None:
        self._server.settimeout(5)
        try:
            sock, _ = self._server.accept()
        except OSError:
            return
        sock.settimeout(0.01)
        engine = Connection(Config(container_id="stalling", role=ConnectionRole.SERVER, sasl=lambda: SaslServer(allow_anonymous=True)))
        engine.open()
        with sock:
            while not self._stop.is_set():
                with self._lock:
                    engine.tick(time.monotonic())
                    self._handle(engine.take_events())
                    out = engine.data_to_send()
                try:
                    if out:
                        sock.sendall(out)
                    if not self._reading.is_set():
                        self._paused.set()
                        time.sleep(0.01)
                        continue
                    data = sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    return
                if not data:
                    return
                with self._lock:
                    self._handle(engine.receive_data(data))
                if engine.finished:
                    with self._lock:
                        out = engine.data_to_send()
                    if out:
                        sock.sendall(out)
                    return

    def _handle(self, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, SessionRemotelyBegun):
                event.session.begin()
            elif isinstance(event, LinkRemotelyAttached):
                link = event.link
                link.attach()
                if isinstance(link, Receiver):
                    link.flow(1_000_000)
                elif isinstance(link, Sender) and link.remote_source is not None:
                    address = str(link.remote_source.address)
                    self._outlets.setdefault(address, []).append(link)
            elif isinstance(event, DeliveryReceived):
                self.received += 1
                if not event.delivery.settled:
                    event.delivery.accept()
        for address in list(self._offers):
            self._pump(address)

    def _pump(self, address: str) -> None:
        offers = self._offers.get(address)
        for outlet in self._outlets.get(address, []):
            while offers and outlet.credit.link_credit - outlet.queued > 0:
                outlet.send(offers.popleft())
