"""asyncio's accepting listener: ``amqp10.asyncio.listen()`` hands out client-style connections.

Owns: running ``start_server`` with the shared ``AcceptingHandler`` for the block, and the
asyncio pieces (``_Async`` driver, ``asyncio.Lock``, a queue) the shared
``amqp10._async_accept`` classes need. Must never: do socket I/O itself.
"""

from __future__ import annotations

import asyncio
import ssl
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator, cast

from .._async_accept import AcceptedConnection, Listener, accepting_handler
from ._client import _Async
from ._driver import Pump
from ._server import Server, start_server

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ServerOptions

__all__ = ["listen"]


@asynccontextmanager
async def listen(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None, timeout: float | None = 30.0, **options: "Unpack[ServerOptions]"
) -> AsyncIterator[Listener]:
    """``async with amqp10.asyncio.listen(host, port) as listener:``: as
    ``amqp10.trio.listen`` (``async with listener.accept() as conn:``, then
    ``await conn.accept_receiver()``), on asyncio."""
    queue: asyncio.Queue[AcceptedConnection] = asyncio.Queue()
    server: list[Server] = []
    handler = accepting_handler(
        lambda: server[0] if server else None,
        timeout,
        asyncio.Lock,
        lambda core, pump, default: _Async(core, cast(Pump, pump), default),
        queue.put_nowait,
    )
    async with start_server(host, port, handler, ssl_context=ssl_context, **options) as running:
        server.append(running)
        yield Listener(running, queue.get)
