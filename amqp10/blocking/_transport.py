"""A non-blocking socket, with TLS done through memory BIOs, for the blocking adapter's reactor.

Owns: moving bytes between one socket and the engine's byte interface, with TLS in the middle
when asked (``ssl.SSLContext.wrap_bio``: the handshake and records are computed in memory and
the socket stays a plain non-blocking socket, so one selector loop serves plain and TLS
connections alike, client or server). Must never: block, hold protocol state, or call the
engine.

Why memory BIOs rather than a non-blocking ``SSLSocket``: an ``SSLSocket`` may want to *read*
in order to *write* (and the reverse) and hides decrypted bytes in ``pending()``; with BIOs
every byte on the wire goes through ``_raw_out`` / ``recv`` here, which the reactor can see.
"""

from __future__ import annotations

import socket
import ssl
from collections import deque
from typing import Any, Sequence

from ..errors import ConnectionClosedError
from ..tls import handshake_failure
from ..url import URL

__all__ = ["Transport", "TransportError", "READ_SIZE", "dial"]

#: Bytes asked of the socket per read: large enough for a 64 KiB frame in one go.
READ_SIZE = 1 << 16
#: A written buffer at least this long is sent from where it is rather than copied first.
_LARGE_WRITE = 1 << 12
#: Buffers handed to one ``sendmsg`` (well under any IOV_MAX).
_IOV = 512
_SENDMSG = hasattr(socket.socket, "sendmsg")


def dial(url: URL, ssl_context: ssl.SSLContext | None, timeout: float | None) -> "Transport":
    """A client ``Transport`` to ``url``: TCP (``timeout`` bounds the connect), then TLS when
    ``ssl_context`` is given, verifying ``url.host``. ``connect`` and every reconnect dial here.

    Raises:
        ConnectionClosedError: the TCP connection could not be made.
    """
    try:
        sock = socket.create_connection((url.host, url.port), timeout=timeout)
    except OSError as exc:
        raise ConnectionClosedError(f"could not connect to {url}: {exc}") from exc
    try:
        return Transport(sock, ssl_context, server_hostname=url.host if ssl_context else None)
    except Exception:
        sock.close()
        raise


class TransportError(Exception):
    """The socket or TLS failed; ``str()`` says how (the cause is chained)."""


class Transport:
    """One non-blocking socket, plain or TLS.

    Args:
        sock: a connected socket (it is made non-blocking).
        ssl_context: wrap it in TLS with this context, or ``None`` for plain TCP.
        server_side: we are the TLS server.
        server_hostname: the name to send in SNI and verify the certificate against (client).
    """

    def __init__(
        self,
        sock: socket.socket,
        ssl_context: ssl.SSLContext | None = None,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        sock.setblocking(False)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # not TCP (a socketpair in tests)
            pass
        self.sock = sock
        self._raw_out = bytearray()  # bytes ready for the socket (ciphertext under TLS)
        # Buffers the socket has not taken yet, in order, sent before ``_raw_out``: large
        # ones as views of the bytes given to ``write``/``write_parts`` (issue 9: a 10 MiB
        # message is not copied once more here), small ones copied out of ``_raw_out``.
        self._views: deque[memoryview] = deque()
        self._plain_out = bytearray()  # application bytes waiting for the TLS handshake
        self._first_in: bytes | None = None  # the first bytes the peer sent (to explain a failed handshake)
        self.eof = False
        self._tls: ssl.SSLObject | None = None
        self._in_bio: ssl.MemoryBIO | None = None
        self._out_bio: ssl.MemoryBIO | None = None
        self.handshake_done = ssl_context is None
        if ssl_context is not None:
            self._in_bio = ssl.MemoryBIO()
            self._out_bio = ssl.MemoryBIO()
            self._tls = ssl_context.wrap_bio(
                self._in_bio, self._out_bio, server_side=server_side, server_hostname=server_hostname
            )
            self._handshake()  # a client's ClientHello goes out as soon as we can write

    @property
    def tls(self) -> bool:
        """TLS protects this transport."""
        return self._tls is not None

    def fileno(self) -> int:
        """The socket's file descriptor (for selectors)."""
        return self.sock.fileno()

    def peer_certificate(self) -> dict[str, Any] | None:
        """The peer's verified certificate (``getpeercert()``), or ``None``."""
        if self._tls is None or not self.handshake_done:
            return None
        return self._tls.getpeercert() or None

    @property
    def wants_write(self) -> bool:
        """Bytes are waiting for the socket to become writable."""
        return bool(self._raw_out) or bool(self._views)

    @property
    def buffered(self) -> int:
        """Bytes given to ``write`` (or made by TLS) that the socket has not taken yet."""
        return len(self._raw_out) + len(self._plain_out) + sum(map(len, self._views))

    def read(self) -> bytes | None:
        """Read what the socket has and return the application bytes (maybe none yet), or
        ``None`` when the socket had nothing at all: a wake-up whose bytes another thread
        read first (a leading wait, ``blocking._client``), after which nothing is to be done.

        Sets ``eof`` when the peer closed its side.

        Raises:
            TransportError: the socket failed, or the TLS handshake or a record failed (for
                example the certificate did not verify).
        """
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError as exc:
            raise TransportError(f"socket error: {exc}") from exc
        if self._tls is None:
            if not data:
                self.eof = True
            return data
        assert self._in_bio is not None
        if self._first_in is None and data:
            self._first_in = data[:8]
        if data:
            self._in_bio.write(data)
        else:
            self._in_bio.write_eof()
            self.eof = True
        if not self.handshake_done:
            self._handshake()
            if not self.handshake_done:
                return b""
        return self._read_records()

    def _read_records(self) -> bytes:
        assert self._tls is not None
        chunks = []
        while True:
            try:
                chunk = self._tls.read(READ_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:  # close_notify: a clean TLS end
                self.eof = True
                break
            except ssl.SSLError as exc:
                if self.eof:  # a TCP close without close_notify: treat as the end
                    break
                raise TransportError(f"TLS error: {exc}") from exc
            if not chunk:
                self.eof = True
                break
            chunks.append(chunk)
        self._pull_tls_output()
        return b"".join(chunks)

    def _handshake(self) -> None:
        assert self._tls is not None
        try:
            self._tls.do_handshake()
        except ssl.SSLWantReadError:
            pass
        except ssl.SSLError as exc:
            self._pull_tls_output()  # the alert tells the peer why
            raise TransportError(handshake_failure(exc, self._first_in)) from exc
        else:
            self.handshake_done = True
            if self._plain_out:
                pending = bytes(self._plain_out)
                self._plain_out.clear()
                self._tls.write(pending)
        if self.eof and not self.handshake_done:
            raise TransportError(handshake_failure("the peer closed the connection during the TLS handshake", self._first_in))
        self._pull_tls_output()

    def _pull_tls_output(self) -> None:
        assert self._out_bio is not None
        if self._out_bio.pending:
            self._raw_out += self._out_bio.read()

    def write(self, data: bytes) -> None:
        """Queue application bytes; ``flush`` sends them."""
        if not data:
            return
        if self._tls is None:
            if type(data) is bytes and len(data) >= _LARGE_WRITE:
                self._queue_view(memoryview(data))  # immutable bytes: no copy
            else:
                self._raw_out += data
        elif not self.handshake_done:
            self._plain_out += data
        else:
            self._tls.write(data)
            self._pull_tls_output()

    def write_parts(self, parts: Sequence[bytes | memoryview]) -> None:
        """Queue buffers to be sent in order (``Connection.data_to_send_parts``): large ones
        are sent from where they are, so they must not change until sent; ``flush`` sends.
        """
        if self._tls is not None:
            self.write(b"".join(parts))
            return
        for part in parts:
            if len(part) >= _LARGE_WRITE:
                self._queue_view(part if type(part) is memoryview else memoryview(part))
            elif part:
                self._raw_out += part

    def _queue_view(self, view: memoryview) -> None:
        if self._raw_out:  # what was written before it goes first
            self._views.append(memoryview(bytes(self._raw_out)))
            self._raw_out.clear()
        self._views.append(view)

    def flush(self) -> None:
        """Send as much as the socket takes now.

        Raises:
            TransportError: the socket failed (e.g. the peer reset the connection).
        """
        views = self._views
        while views:
            try:
                if _SENDMSG:  # one system call for many frames' headers and payloads
                    batch = list(views) if len(views) <= _IOV else [views[i] for i in range(_IOV)]
                    tail = memoryview(self._raw_out) if self._raw_out and len(batch) < _IOV else None
                    if tail is not None:
                        batch.append(tail)
                    try:
                        sent = self.sock.sendmsg(batch)
                    finally:
                        if tail is not None:
                            tail.release()  # before _raw_out is resized below
                else:
                    sent = self.sock.send(views[0])
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                raise TransportError(f"socket error: {exc}") from exc
            if not sent:
                return
            while views and sent >= len(views[0]):
                sent -= len(views.popleft())
            if views:
                if sent:
                    views[0] = views[0][sent:]
            elif sent:
                del self._raw_out[:sent]  # the rest of the batch came out of _raw_out
        while self._raw_out:
            try:
                sent = self.sock.send(self._raw_out)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                raise TransportError(f"socket error: {exc}") from exc
            del self._raw_out[:sent]

    def close(self) -> None:
        """Close the socket (no TLS close_notify: AMQP's CLOSE already ended the exchange)."""
        try:
            self.sock.close()
        except OSError:
            pass
