"""The per-frame scan: find complete frames in a buffer and check each header.

Owns: ``scan_frames``, the one hot loop of frame reading, kept pure and tiny so that the
Cython twin (``amqp10._speedups._framing.scan_frames``) can mirror it line for line. Must never:
copy bytes, allocate per byte, or know anything about what the frames mean.

Every size is checked the moment its four bytes are present, before the rest of the frame is
waited for (spec 2.3.1 and DESIGN.md rule 5: limits before allocation), so a peer cannot make
us buffer a frame larger than the max-frame-size we advertised.
"""

from __future__ import annotations

from ..errors import FramingError

__all__ = ["scan_frames", "ScannedFrame"]

#: (start, size, doff, type, channel) of one complete frame in the buffer
ScannedFrame = tuple[int, int, int, int, int]

_FRAMING_ERROR = "amqp:connection:framing-error"


def scan_frames(
    buf: bytes | bytearray | memoryview, pos: int, max_frame_size: int, limit: int = -1
) -> list[ScannedFrame]:
    """Return the complete frames in ``buf[pos:]``, at most ``limit`` of them (``-1``: all).

    Stops at the first incomplete frame. ``max_frame_size`` is the largest frame we accept.

    Raises:
        FramingError: (condition ``amqp:connection:framing-error``) a frame header whose size is
            below 8 or above ``max_frame_size``, whose doff is below 2 or points past the end of
            the frame, or whose type is neither 0 (AMQP) nor 1 (SASL).
    """
    frames: list[ScannedFrame] = []
    end = len(buf)
    while limit < 0 or len(frames) < limit:
        if end - pos < 4:
            break
        size = (buf[pos] << 24) | (buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3]
        if size > max_frame_size:
            raise FramingError(
                f"frame of {size} bytes exceeds max-frame-size {max_frame_size}",
                condition=_FRAMING_ERROR,
            )
        if size < 8:
            raise FramingError(f"frame size {size} is below 8", condition=_FRAMING_ERROR)
        if end - pos < 8:
            break
        doff = buf[pos + 4]
        ftype = buf[pos + 5]
        if doff < 2 or doff * 4 > size:
            raise FramingError(
                f"bad data offset {doff} in a frame of {size} bytes", condition=_FRAMING_ERROR
            )
        if ftype > 1:
            raise FramingError(f"unknown frame type {ftype}", condition=_FRAMING_ERROR)
        if end - pos < size:
            break
        frames.append((pos, size, doff, ftype, (buf[pos + 6] << 8) | buf[pos + 7]))
        pos += size
    return frames
