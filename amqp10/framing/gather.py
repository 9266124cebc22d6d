"""Gathering a multi-frame delivery's payload into one buffer, and handing over its body.

Owns: ``Gather`` (chunks appended as frames arrive, then one read-only view of them all) and
``take_slice`` (turn a gathered buffer nobody else refers to into one of its slices, in
place). The engine gathers with the first; the client's ``Delivery.message`` uses the second
to give a large message's single data section to the application without copying it
(issue 9). Must never: allocate ahead of bytes that arrived (a size a peer claims decides
nothing), or change a buffer anyone else can see.

This is the pure path. It gathers into an ``io.BytesIO``, whose buffer CPython keeps as a
``bytes`` object that grows by ``realloc`` (a large one by remapping pages) and that
``getvalue()`` hands out itself, not a copy, when nothing else holds it. ``take_slice`` gives
such a ``bytes`` object back to a ``BytesIO`` (which then shares it, again no copy), moves the
slice down through ``getbuffer()`` and truncates: the same in-place hand-over as the compiled
twin, ``amqp10._speedups._gather`` (picked here once when ``amqp10.codec.IMPL`` is
``"cython"``), in the standard library's terms. Where the interpreter cannot tell who refers to
an object (no ``sys.getrefcount``: not CPython), ``take_slice`` never takes.
"""

from __future__ import annotations

import io
import sys
from typing import Any

from .. import codec as _codec

__all__ = ["Gather", "take_slice"]

#: ``sys.getrefcount`` of an object only the caller's local name refers to (that name, and
#: the call's own argument); only CPython counts references this way
_ONLY_OURS = 2
_CAN_TAKE = sys.implementation.name == "cpython"


class Gather:
    """Bytes appended one chunk at a time, then ``finish()`` as one read-only view."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = io.BytesIO()

    def __len__(self) -> int:
        return self._buf.tell()  # only ever appended to: the position is the size

    def append(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk`` at the end."""
        self._buf.write(chunk)

    def finish(self) -> memoryview:
        """The gathered bytes as a read-only ``memoryview``; the ``Gather`` is empty after."""
        buf, self._buf = self._buf, io.BytesIO()
        data = buf.getvalue()  # the buffer itself (CPython), shrunk to its size in place
        del buf  # ``data`` is now its only holder, so ``take_slice`` can take it
        return memoryview(data)


def take_slice(holder: list[Any], start: int, end: int) -> tuple[bool, Any]:
    """Make ``holder``'s one ``bytes`` object into its ``[start:end)`` slice, in place, when
    nothing else refers to it: ``(True, the slice)``; else ``(False, the object)`` unchanged.
    ``holder`` is emptied."""
    data = holder.pop()
    if (not _CAN_TAKE or type(data) is not bytes or not 0 <= start <= end <= len(data)
            or sys.getrefcount(data) != _ONLY_OURS):
        return False, data
    size = end - start
    buf = io.BytesIO(data)  # shares the object (CPython: a bytes initial value is not copied)
    del data  # the BytesIO holds it alone now, so it writes into it rather than a copy
    if start:
        with buf.getbuffer() as view:
            view[:size] = view[start:end]  # overlapping: a memmove
    buf.truncate(size)
    # Shrunk in place and handed out itself; resizing a bytes object resets its cached hash.
    result = buf.getvalue()
    del buf
    return True, result


if _codec.IMPL == "cython":
    try:
        from .._speedups._gather import Gather as _CompiledGather
        from .._speedups._gather import take_slice as _compiled_take_slice
    except ImportError:  # pragma: no cover - a partial speedups build
        pass
    else:
        Gather = _CompiledGather  # type: ignore[misc,assignment]
        take_slice = _compiled_take_slice
