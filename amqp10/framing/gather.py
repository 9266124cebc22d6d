"""Gathering a multi-frame delivery's payload into one buffer, and handing over its body.

Owns: ``Gather`` (chunks appended as frames arrive, then one read-only view of them all) and
``take_slice`` (turn a gathered buffer nobody else refers to into one of its slices, in
place). The engine gathers with the first; the client's ``Delivery.message`` uses the second
to give a large message's single data section to the application without copying it
(issue 9). Must never: allocate ahead of bytes that arrived (a size a peer claims decides
nothing), or change a buffer anyone else can see.

This is the pure path: a ``bytearray`` grows as chunks come (one copy of each), and
``take_slice`` never takes (a ``bytes`` body is a copy of the buffer). The compiled twin,
``amqp10._speedups._gather``, picked here once when ``amqp10.codec.IMPL`` is ``"cython"``,
gathers into a ``bytes`` object instead and can give its slice away in place.
"""

from __future__ import annotations

from typing import Any

from .. import codec as _codec

__all__ = ["Gather", "take_slice"]


class Gather:
    """Bytes appended one chunk at a time, then ``finish()`` as one read-only view."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def __len__(self) -> int:
        return len(self._buf)

    def append(self, chunk: bytes | bytearray | memoryview) -> None:
        """Add ``chunk`` at the end."""
        self._buf += chunk

    def finish(self) -> memoryview:
        """The gathered bytes as a read-only ``memoryview``; the ``Gather`` is empty after."""
        view = memoryview(self._buf).toreadonly()
        self._buf = bytearray()
        return view


def take_slice(holder: list[Any], start: int, end: int) -> tuple[bool, Any]:
    """Make ``holder``'s one ``bytes`` object into its ``[start:end)`` slice, in place, when
    nothing else refers to it: ``(True, the slice)``; else ``(False, the object)``. ``holder``
    is emptied. The pure path never can (Python has no way to shrink a ``bytes`` in place)."""
    return False, holder.pop()


if _codec.IMPL == "cython":
    try:
        from .._speedups._gather import Gather as _CompiledGather
        from .._speedups._gather import take_slice as _compiled_take_slice
    except ImportError:  # pragma: no cover - a partial speedups build
        pass
    else:
        Gather = _CompiledGather  # type: ignore[misc,assignment]
        take_slice = _compiled_take_slice
