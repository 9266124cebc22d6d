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
from typing import Any

from ..tls import handshake_failure

__all__ = ["Transport", "TransportError", "READ_SIZE"]

#: Bytes asked of the socket per read: large enough for a 64 KiB frame in one go.
READ_SIZE = 1 << 16
#: A write at least this long is sent from the caller's bytes rather than copied first.
_LARGE_WRITE = 1 << 16


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
        # A large write the socket has not taken yet, sent from where it is instead of being
        # copied into ``_raw_out`` (a 10 MiB message would be copied once more); it goes
        # before ``_raw_out``, which is empty when it is set.
        self._large_out: memoryview | None = None
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
        return bool(self._raw_out) or self._large_out is not None

    @property
    def buffered(self) -> int:
        """Bytes given to ``write`` (or made by TLS) that the socket has not taken yet."""
        large = 0 if self._large_out is None else len(self._large_out)
        return len(self._raw_out) + len(self._plain_out) + large

    def read(self) -> bytes:
        """Read what the socket has and return the application bytes (maybe none yet).

        Sets ``eof`` when the peer closed its side.

        Raises:
            TransportError: the socket failed, or the TLS handshake or a record failed (for
                example the certificate did not verify).
        """
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return b""
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
            if type(data) is bytes and len(data) >= _LARGE_WRITE and not self._raw_out and self._large_out is None:
                self._large_out = memoryview(data)  # ``data`` is immutable bytes: no copy
            else:
                self._raw_out += data
        elif not self.handshake_done:
            self._plain_out += data
        else:
            self._tls.write(data)
            self._pull_tls_output()

    def flush(self) -> None:
        """Send as much as the socket takes now.

        Raises:
            TransportError: the socket failed (e.g. the peer reset the connection).
        """
        large = self._large_out
        while large is not None:
            try:
                sent = self.sock.send(large)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                raise TransportError(f"socket error: {exc}") from exc
            large = large[sent:] if sent < len(large) else None
            self._large_out = large
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
