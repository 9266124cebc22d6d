"""Running trio tests without a plugin, and serving a handler for the length of a block."""

from __future__ import annotations

import functools
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import trio

import amqp10.trio
from amqp10._handler import Handler

__all__ = ["trio_test", "serving"]

#: No trio test may run longer than this (the whole suite must stay fast).
TEST_TIME_LIMIT = 20.0


def trio_test(fn: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run an async test function under ``trio.run``, bounded in time; fixtures still work."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        async def main() -> None:
            with trio.fail_after(TEST_TIME_LIMIT):
                await fn(*args, **kwargs)

        trio.run(main)

    return wrapper


@asynccontextmanager
async def serving(handler: Handler, **options: Any) -> AsyncIterator[amqp10.trio.Server]:
    """``amqp10.trio.serve`` on a free loopback port for the block; cancelled on exit."""
    async with trio.open_nursery() as nursery:
        server = await nursery.start(functools.partial(amqp10.trio.serve, "127.0.0.1", 0, handler, **options))
        yield server
        nursery.cancel_scope.cancel()
