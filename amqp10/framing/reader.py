"""Incremental reading of protocol headers and frames from a byte stream.

Owns: the receive buffer. Bytes go in with ``feed``; whole headers come out of
``read_header`` and whole frames out of ``read_frames``. A frame split across any number of
reads is returned once complete; many frames in one read come out together. Consumption is
commit-only (wsproto's receive buffer): nothing is removed until a whole header or frame is
taken, so a short read leaves no partial state to undo.

Must never: decode performatives, hold endpoint state, or buffer a frame whose size header
breaks the limit (the check happens in ``scan_frames`` as soon as the size is readable).
After a ``FramingError`` the reader is poisoned: every later call raises the same error. The
complete frames before a bad frame header are returned first (the error is raised by the next
call), so what comes out never depends on how the bytes were split into reads.
"""

from __future__ import annotations

from .. import codec as _codec
from ..errors import FramingError
from .frame import MIN_MAX_FRAME_SIZE, Frame, FrameType
from .headers import HEADER_SIZE, check_header_prefix
from .scan import ScannedFrame, scan_frames

# DESIGN rule 6: the frame scan is framing's one per-byte hot loop, so when the codec picked its
# compiled twin (amqp10.codec.IMPL, decided once from AMQP10_PURE) the compiled scan_frames is
# picked too, here, once. Both give the same frames and errors (tests/codec/test_differential.py);
# a build that has _codec but lacks _framing keeps the pure scan.
if _codec.IMPL == "cython":
    try:
        from .._speedups._framing import scan_frames as _compiled_scan_frames
    except ImportError:  # pragma: no cover - a partial speedups build
        pass
    else:
        scan_frames = _compiled_scan_frames

__all__ = ["FrameReader"]

# Compact the buffer once this much has been consumed (amortised O(1) per byte).
_COMPACT_AT = 1 << 16
# scan_frames refused any TYPE byte over 1; indexing is cheaper than an enum call per frame.
_FRAME_TYPES = (FrameType.AMQP, FrameType.SASL)


class FrameReader:
    """Split a byte stream into protocol headers and frames.

    Args:
        max_frame_size: the largest frame accepted (our advertised max-frame-size). It may be
            changed later through the attribute; it can never be set below 512
            (MIN-MAX-FRAME-SIZE, spec 2.7.1).
    """

    __slots__ = ("_buf", "_pos", "_max_frame_size", "_error")

    def __init__(self, max_frame_size: int = 1 << 32) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._error: FramingError | None = None
        self._max_frame_size = 0
        self.max_frame_size = max_frame_size

    @property
    def max_frame_size(self) -> int:
        """The largest frame accepted, header included."""
        return self._max_frame_size

    @max_frame_size.setter
    def max_frame_size(self, value: int) -> None:
        if value < MIN_MAX_FRAME_SIZE:
            raise ValueError(f"max_frame_size must be at least {MIN_MAX_FRAME_SIZE}")
        self._max_frame_size = min(value, (1 << 32) - 1)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a header or frame."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Append received bytes."""
        if data:
            self._buf += data

    def read_header(self) -> bytes | None:
        """Take the next 8 bytes as a protocol header, or return ``None`` if not all arrived.

        Raises:
            FramingError: the bytes so far cannot begin ``AMQP``.
        """
        self._raise_if_poisoned()
        avail = memoryview(self._buf)[self._pos : self._pos + HEADER_SIZE]
        try:
            check_header_prefix(avail)
        except FramingError as exc:
            self._error = exc
            raise
        finally:
            avail.release()
        if len(self._buf) - self._pos < HEADER_SIZE:
            return None
        header = bytes(self._buf[self._pos : self._pos + HEADER_SIZE])
        self._commit(self._pos + HEADER_SIZE)
        return header

    def read_frames(self, limit: int = -1) -> list[Frame]:
        """Take up to ``limit`` complete frames (``-1``: every complete frame).

        A caller that expects a protocol header after a particular frame (the SASL outcome is
        followed by the AMQP header) reads one frame at a time with ``limit=1``.

        Raises:
            FramingError: a frame header breaks the frame rules or the size limit.
        """
        self._raise_if_poisoned()
        try:
            found = scan_frames(self._buf, self._pos, self._max_frame_size, limit)
        except FramingError as exc:
            # The complete frames before the bad header are still the peer's frames: return
            # them now and raise on the next call, so the result does not depend on how the
            # bytes were split into reads (a CLOSE followed by garbage in one read is still a
            # CLOSE). Found by fuzz/fuzz_frame_reader.py.
            self._error = exc
            found = self._frames_before_error(limit)
            if not found:
                raise
        if not found:
            return []
        first = found[0][0]
        last_start, last_size = found[-1][0], found[-1][1]
        end = last_start + last_size
        # One copy for the whole batch into an immutable bytes object; each frame body is a
        # view of it, so nothing refers to the mutable buffer once we compact it.
        # One copy out of the receive buffer (slicing the bytearray first would make two);
        # the frames' payloads are views of it, so a large delivery's frames are not copied
        # again until the delivery joins them once (engine/delivery.py).
        with memoryview(self._buf) as whole:
            chunk = bytes(whole[first:end])
        view = memoryview(chunk)
        frames = [
            Frame(
                _FRAME_TYPES[ftype],
                channel,
                view[start - first + doff * 4 : start - first + size],
            )
            for start, size, doff, ftype, channel in found
        ]
        self._commit(end)
        return frames

    def _frames_before_error(self, limit: int) -> list[ScannedFrame]:
        """The complete, valid frames before the first bad frame header (slow path: only
        after ``scan_frames`` raised)."""
        good: list[ScannedFrame] = []
        pos = self._pos
        while limit < 0 or len(good) < limit:
            try:
                one = scan_frames(self._buf, pos, self._max_frame_size, 1)
            except FramingError:
                break
            if not one:
                break
            good += one
            pos = one[0][0] + one[0][1]
        return good

    def _commit(self, pos: int) -> None:
        if pos >= len(self._buf):
            self._buf.clear()
            self._pos = 0
        elif pos >= _COMPACT_AT:
            del self._buf[:pos]
            self._pos = 0
        else:
            self._pos = pos

    def _raise_if_poisoned(self) -> None:
        if self._error is not None:
            raise self._error
