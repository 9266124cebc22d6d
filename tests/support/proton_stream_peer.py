"""A python-qpid-proton ``Container`` listening on loopback in a thread, as the independent
peer of the streaming tests: it sends a large message in several frames (optionally aborting
it half way, spec 2.6.14), or receives one and reports it. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

from contextlib import contextmanager
from proton import Message
from proton.handlers import MessagingHandler
from proton.reactor import Container

__all__ = ["ProtonPeer", "proton_peer"]

_LIMIT = 20.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ProtonPeer:
    """What the proton peer did: the URL to reach it, and what it received."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    got: threading.Event = field(default_factory=threading.Event)
    sent: threading.Event = field(default_factory=threading.Event)


class _Abort:
    def __init__(self, delivery: Any, peer: ProtonPeer) -> None:
        self.delivery, self.peer = delivery, peer

    def on_timer_task(self, event: Any) -> None:
        self.delivery.abort()
        self.peer.sent.set()


class _Handler(MessagingHandler):  # type: ignore[misc]
    def __init__(self, peer: ProtonPeer, port: int, mode: str, body: bytes, subject: str) -> None:
        super().__init__(auto_accept=False)
        self.peer, self.port, self.mode, self.body, self.subject = peer, port, mode, body, subject
        self.acceptor: Any = None
        self.done = False

    def on_start(self, event: Any) -> None:
        self.acceptor = event.container.listen(f"127.0.0.1:{self.port}")

    def on_sendable(self, event: Any) -> None:
        if self.done or self.mode not in ("send", "abort"):
            return
        self.done = True
        sender = event.sender
        # inferred: the bytes go out as a data section, not an amqp-value of binary.
        encoded = Message(body=self.body, subject=self.subject, inferred=True).encode()
        delivery = sender.delivery(b"big-1")
        if self.mode == "send":
            sender.stream(encoded)
            sender.advance()
        else:
            # Half the message now, the abort (aborted=true on the wire) a little later, so
            # the receiver has seen the first part by then.
            sender.stream(encoded[: len(encoded) // 2])
            event.container.schedule(0.5, _Abort(delivery, self.peer))
            return
        self.peer.sent.set()

    def on_delivery(self, event: Any) -> None:
        # Called besides MessagingHandler's own handling, which assembles whole messages.
        delivery = event.delivery
        if self.mode == "reject-early" and delivery.partial and not delivery.settled:
            # Refuse the message at its first frames, before the sender has finished it.
            delivery.local.condition = None
            delivery.update(delivery.REJECTED)
            delivery.settle()
            self.peer.got.set()

    def on_message(self, event: Any) -> None:
        message = event.message
        body = message.body
        data = bytes(body) if body is not None else b""
        self.peer.received.append(
            {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "subject": message.subject,
             "properties": dict(message.properties or {})}
        )
        self.accept(event.delivery)
        self.peer.got.set()


@contextmanager
def proton_peer(mode: str, body: bytes = b"", subject: str = "big") -> Iterator[ProtonPeer]:
    """A proton peer listening on a free loopback port for the block.

    Args:
        mode: ``"receive"`` (report and accept what arrives), ``"reject-early"`` (reject
            and settle a delivery at its first frames), ``"send"`` (send ``body``, as one
            data section, to the first receiver with credit) or ``"abort"`` (send half of it,
            then abort the delivery).
    """
    port = _free_port()
    peer = ProtonPeer(url=f"amqp://127.0.0.1:{port}/big")
    handler = _Handler(peer, port, mode, body, subject)
    container = Container(handler)
    container.container_id = "proton-stream-peer"
    thread = threading.Thread(target=container.run, daemon=True)
    thread.start()
    try:
        _wait_listening(port)
        yield peer
    finally:
        container.stop()
        thread.join(_LIMIT)


def _wait_listening(port: int) -> None:
    deadline = threading.Event()
    for _ in range(400):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            deadline.wait(0.05)
    raise AssertionError(f"the proton peer did not listen on {port}")
