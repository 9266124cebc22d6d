"""Running asyncio tests with plain ``asyncio.run`` (no plugin), and serving a handler for the
length of a block with ``amqp10.asyncio``."""

from __future__ import annotations

import asyncio
import functools
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import amqp10.asyncio
from amqp10._handler import Handler

__all__ = ["asyncio_test", "serving", "eventually"]

#: No asyncio test may run longer than this (the whole suite must stay fast).
TEST_TIME_LIMIT = 20.0


def asyncio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test function under ``asyncio.run``, bounded in time; fixtures still work."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            async with asyncio.timeout(TEST_TIME_LIMIT):
                await fn(*args, **kwargs)

        asyncio.run(main())

    return wrapper


@asynccontextmanager
async def serving(handler: Handler, **options: Any) -> AsyncIterator[amqp10.asyncio.Server]:
    """``amqp10.asyncio.serve`` on a free loopback port for the block; cancelled on exit."""
    started: asyncio.Future[amqp10.asyncio.Server] = asyncio.get_running_loop().create_future()
    task = asyncio.ensure_future(amqp10.asyncio.serve("127.0.0.1", 0, handler, started=started, **options))
    await asyncio.wait((started, task), return_when=asyncio.FIRST_COMPLETED)
    if not started.done():
        await task  # it ended before listening: raise why
    try:
        yield started.result()
    finally:
        task.cancel()
        await asyncio.wait((task,))
        if not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


async def eventually(condition: Callable[[], object], limit: float = 5.0) -> None:
    """Wait (polling every 10 ms, at most ``limit`` seconds) until ``condition()`` is true."""
    async with asyncio.timeout(limit):
        while not condition():
            await asyncio.sleep(0.01)
