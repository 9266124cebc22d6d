"""The async stream objects both async adapters share: ``OutgoingStream`` (from
``Sender.open_stream``) and ``IncomingStream`` (from ``Receiver.receive_stream``).

Owns: the async face of ``amqp10._streaming`` (``await``, ``async with``, ``async for``).
Must never: import trio or asyncio, or do socket I/O.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, AsyncIterable, AsyncIterator, Iterable

from . import _streaming
from ._outcomes import Outcome
from ._stream_views import IncomingStreamView, OutgoingStreamView

if TYPE_CHECKING:
    from ._async_client import AsyncDriver

__all__ = ["OutgoingStream", "IncomingStream", "send_chunks"]


class OutgoingStream(OutgoingStreamView):
    """A message being streamed out (see ``amqp10.blocking.OutgoingStream``): ``await
    write(...)``, then ``await aclose()`` for the outcome, or ``abort()``. ``async with``
    closes it on a normal exit and aborts it on an exception (or cancellation)."""

    __slots__ = ("_sync",)

    def __init__(self, sync: "AsyncDriver", state: _streaming.OutgoingState) -> None:
        super().__init__(state)
        self._sync = sync

    async def __aenter__(self) -> "OutgoingStream":
        return self

    async def __aexit__(self, exc_type: object, *rest: object) -> None:
        if exc_type is not None:
            self.abort()
        elif not self._state.finished:
            await self.aclose()

    async def write(self, data: bytes | bytearray | memoryview, *, timeout: float | None = None) -> None:
        """Add body bytes (see ``amqp10.blocking.OutgoingStream.write``). Cancellation-safe:
        a cancelled write has taken nothing."""
        await self._sync.drive(_streaming.write(self._sync.run, self._state, data, timeout))

    async def aclose(self, *, timeout: float | None = None) -> "Outcome | None":
        """Finish the message and wait for its outcome (see
        ``amqp10.blocking.OutgoingStream.close``)."""
        return await self._sync.drive(_streaming.finish(self._sync.run, self._state, timeout))

    def abort(self) -> None:
        """Abort the message (spec 2.6.14); nothing if it is closed already. Does not wait."""
        self._sync.run(self._state.abort)


async def send_chunks(stream: OutgoingStream, chunks: Any, timeout: float | None) -> "Outcome | None":
    """Write ``chunks`` (an async or plain iterable of bytes, or a binary file) to ``stream``
    and close it; abort it on any failure or cancellation. Stops reading once the receiver
    has given its outcome."""
    try:
        if hasattr(chunks, "__aiter__"):
            source: AsyncIterable[bytes] = chunks
            async for chunk in source:
                await stream.write(chunk, timeout=timeout)
                if stream._state.given_up:
                    break
        else:
            plain: Iterable[bytes | bytearray | memoryview] = _streaming.chunks_of(chunks)
            for item in plain:
                await stream.write(item, timeout=timeout)
                if stream._state.given_up:
                    break
        return await stream.aclose(timeout=timeout)
    except BaseException:
        stream.abort()
        raise


class IncomingStream(IncomingStreamView):
    """A message arriving as a stream (see ``IncomingStreamView``): ``async for chunk in
    stream`` for the body's bytes as they arrive, or ``await read()``."""

    __slots__ = ("_sync",)

    def __init__(self, sync: "AsyncDriver", state: _streaming.IncomingState) -> None:
        super().__init__(state, sync.run)
        self._sync = sync

    async def read_chunk(self, *, timeout: float | None = None) -> bytes | None:
        """The next piece of the body (``None``: it ended); see
        ``amqp10.blocking.IncomingStream.read_chunk``. Cancellation-safe."""
        return await self._sync.drive(_streaming.next_chunk(self._sync.run, self._state, timeout))

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            chunk = await self.read_chunk()
            if chunk is None:
                return
            yield chunk

    async def read(self, *, timeout: float | None = None) -> bytes:
        """The rest of the body, whole (held in memory: for small messages)."""
        parts: list[bytes] = []
        while True:
            chunk = await self.read_chunk(timeout=timeout)
            if chunk is None:
                return b"".join(parts)
            parts.append(chunk)
