"""trio's accepting listener: ``amqp10.trio.listen()`` hands out client-style connections.

Owns: running ``serve`` with the shared ``AcceptingHandler`` in a nursery for the block, and
the trio pieces (``_Async`` driver, ``trio.Lock``, a memory channel) the shared
``amqp10._async_accept`` classes need. Must never: do socket I/O itself.
"""

from __future__ import annotations

import functools
import math
import ssl
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, AsyncIterator, cast

import trio  # type: ignore[import-untyped,unused-ignore]  # trio < 0.23 ships no py.typed

from .._async_accept import AcceptedConnection, Listener, accepting_handler
from ._client import _Async
from ._driver import Pump
from ._server import Server, serve

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from .._options import ServerOptions

__all__ = ["listen"]


@asynccontextmanager
async def listen(
    host: str, port: int, *, ssl_context: ssl.SSLContext | None = None, timeout: float | None = 30.0, **options: "Unpack[ServerOptions]"
) -> AsyncIterator[Listener]:
    """``async with amqp10.trio.listen(host, port) as listener:``: listen for the block and
    hand each connection to you: ``async with listener.accept() as conn:`` gives an
    ``AcceptedConnection`` whose ``accept_receiver()`` / ``accept_sender()`` return the
    links the peer attaches as ``Receiver``/``Sender`` objects. ``timeout`` is the default
    time limit of its calls; ``ssl_context`` and ``**options`` are ``serve``'s. Leaving the
    block closes every connection (``amqp:connection:forced``).
    """
    send, receive = trio.open_memory_channel(math.inf)
    server: list[Server] = []
    handler = accepting_handler(
        lambda: server[0] if server else None,
        timeout,
        trio.Lock,
        lambda core, pump, default: _Async(core, cast(Pump, pump), default),
        send.send_nowait,
    )

    async def take() -> AcceptedConnection:
        conn: AcceptedConnection = await receive.receive()
        return conn

    async with trio.open_nursery() as nursery:
        server.append(await nursery.start(functools.partial(serve, host, port, handler, ssl_context=ssl_context, **options)))
        yield Listener(server[0], take)
        nursery.cancel_scope.cancel()
