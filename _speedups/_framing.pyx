# cython: language_level=3, boundscheck=False, wraparound=False
"""Compiled twin of the frame scanner (installed as ``amqp10._speedups._framing``).

Owns: ``scan_frames``, mirroring ``amqp10/framing/scan.py:scan_frames`` (same signature, same
results, same ``FramingError`` messages and condition). ``amqp10.framing.reader`` picks it once,
at import, when ``amqp10.codec.IMPL == "cython"``.

Not here: a compiled ``encode_transfer_frames``. The engine's transfer splitting
(``amqp10/engine/transfer.py``) is a stateful ``OutgoingTransfer.write_frame`` that writes one
frame per call as the session window allows, not one function with a byte loop of its own; its
per-frame work is a slice append and two small header writes, so there is nothing to mirror
without moving protocol state into C (which STYLE.md keeps out of Cython).

Must never: copy bytes, read past the buffer, or accept a frame the pure scanner refuses.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer

from amqp10.errors import FramingError
from amqp10.framing import scan as _pure_scan

__all__ = ["scan_frames"]

_FRAMING_ERROR = "amqp:connection:framing-error"
cdef long long _BIG = 1LL << 62


# mirrors amqp10/framing/scan.py:scan_frames
def scan_frames(buf, pos, max_frame_size, limit=-1):
    """Return the complete frames in ``buf[pos:]`` as ``(start, size, doff, type, channel)``,
    at most ``limit`` of them (``-1``: all); stop at the first incomplete frame.

    Raises:
        FramingError: (condition ``amqp:connection:framing-error``) a frame header whose size
            is below 8 or above ``max_frame_size``, whose doff is below 2 or points past the end
            of the frame, or whose type is neither 0 (AMQP) nor 1 (SASL).
    """
    cdef Py_buffer view
    cdef const unsigned char* b
    cdef Py_ssize_t p, end
    cdef long long size, mfs, lim
    cdef unsigned int doff, ftype
    cdef list frames = []
    if pos < 0:
        # A negative offset indexes from the end on the pure path; nothing in amqp10 passes
        # one, so let the pure function give it whatever meaning it has.
        return _pure_scan.scan_frames(buf, pos, max_frame_size, limit)
    end = len(buf)
    if pos >= end:
        return frames
    p = pos
    mfs = max_frame_size if max_frame_size < _BIG else _BIG
    lim = limit if limit < _BIG else _BIG
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        b = <const unsigned char*>view.buf
        while lim < 0 or len(frames) < lim:
            if end - p < 4:
                break
            size = (<long long>b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]
            if size > mfs:
                raise FramingError(
                    f"frame of {size} bytes exceeds max-frame-size {max_frame_size}",
                    condition=_FRAMING_ERROR,
                )
            if size < 8:
                raise FramingError(f"frame size {size} is below 8", condition=_FRAMING_ERROR)
            if end - p < 8:
                break
            doff = b[p + 4]
            ftype = b[p + 5]
            if doff < 2 or doff * 4 > size:
                raise FramingError(
                    f"bad data offset {doff} in a frame of {size} bytes", condition=_FRAMING_ERROR
                )
            if ftype > 1:
                raise FramingError(f"unknown frame type {ftype}", condition=_FRAMING_ERROR)
            if end - p < size:
                break
            frames.append((p, size, doff, ftype, (b[p + 6] << 8) | b[p + 7]))
            p += size
    finally:
        PyBuffer_Release(&view)
    return frames
